//! The database on real SQLite files: migrations, collections, settings.

use lectern::DbError;
use lectern::store::Db;

#[tokio::test]
async fn a_fresh_database_is_migrated_and_reopens() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("nested/folder/lectern.db");
    let db = Db::open(&path).await.expect("open fresh");
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type IN ('table') ORDER BY name")
            .fetch_all(db.pool())
            .await
            .expect("tables");
    for table in [
        "chunks",
        "chunks_fts",
        "collections",
        "documents",
        "settings",
    ] {
        assert!(
            tables.iter().any(|t| t == table),
            "missing table {table}: {tables:?}"
        );
    }
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(db.pool())
        .await
        .expect("pragma");
    assert_eq!(mode, "wal");
    assert!(db.integrity_check().await.expect("integrity"));
    db.create_collection("kept").await.expect("create");
    db.close().await;

    let db = Db::open(&path).await.expect("reopen");
    assert_eq!(db.collections().await.expect("list")[0].name, "kept");
}

#[tokio::test]
async fn collections_are_created_renamed_and_deleted_with_clear_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Db::open(&dir.path().join("lectern.db"))
        .await
        .expect("open");
    db.create_collection("Papers").await.expect("create");
    db.create_collection("Manuals").await.expect("create");
    assert!(matches!(
        db.create_collection("Papers").await,
        Err(DbError::CollectionExists(_))
    ));
    assert!(matches!(
        db.create_collection("   ").await,
        Err(DbError::EmptyName)
    ));

    let papers = db.collection("Papers").await.expect("papers").id;
    db.rename_collection(papers, "Articles")
        .await
        .expect("rename");
    assert!(matches!(
        db.collection("Papers").await,
        Err(DbError::NoSuchCollection(_))
    ));
    assert!(matches!(
        db.rename_collection(papers, "Manuals").await,
        Err(DbError::CollectionExists(_))
    ));
    let names: Vec<String> = db
        .collections()
        .await
        .expect("list")
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["Articles", "Manuals"]);

    db.delete_collection(papers).await.expect("delete");
    let err = db
        .delete_collection(papers)
        .await
        .expect_err("already gone");
    assert_eq!(err.code(), "not_found");
    let err = db.collection("Articles").await.expect_err("gone by name");
    assert_eq!(err.code(), "not_found");
    assert_eq!(err.to_string(), "no collection named \"Articles\"");
}

#[tokio::test]
async fn settings_round_trip() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Db::open(&dir.path().join("lectern.db"))
        .await
        .expect("open");
    assert_eq!(db.setting("k").await.expect("get"), None);
    db.set_setting("k", "1").await.expect("set");
    db.set_setting("k", "2").await.expect("overwrite");
    assert_eq!(db.setting("k").await.expect("get").as_deref(), Some("2"));
}

/// The migrations shipped in `migrations/`, in order.
fn migration_files() -> Vec<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("migrations dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    files
}

async fn raw_pool(path: &std::path::Path) -> sqlx::SqlitePool {
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .foreign_keys(true);
    sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .expect("raw pool")
}

#[tokio::test]
async fn every_earlier_schema_is_migrated_without_losing_data() {
    let files = migration_files();
    assert!(files.len() >= 4, "{files:?}");
    for n_applied in 1..files.len() {
        let dir = tempfile::tempdir().expect("temp dir");
        // A database exactly as Lectern left it after the first `n_applied` migrations.
        let old = dir.path().join("old-migrations");
        std::fs::create_dir_all(&old).expect("mkdir");
        for file in &files[..n_applied] {
            std::fs::copy(file, old.join(file.file_name().expect("name"))).expect("copy");
        }
        let path = dir.path().join("lectern.db");
        let pool = raw_pool(&path).await;
        sqlx::migrate::Migrator::new(old.as_path())
            .await
            .expect("old migrator")
            .run(&pool)
            .await
            .expect("old schema");
        // Rows in the first schema's columns, which every later one keeps.
        for sql in [
            "INSERT INTO collections (id, name, created_at) VALUES (1, 'papers', 0)",
            "INSERT INTO documents (id, collection_id, name, source_path, format, content_hash, \
             byte_len, n_pages, n_chunks, embedding_model, added_at) \
             VALUES (1, 1, 'a.md', '/a.md', 'markdown', 'h', 5, NULL, 1, 'all-MiniLM-L6-v2', 0)",
            "INSERT INTO chunks (id, document_id, chunk_idx, char_start, char_end, n_tokens, text, \
             embedding) VALUES (1, 1, 0, 0, 5, 2, 'lighthouse keepers', x'0000803f')",
            // A deleted document: its id must never come back (migration 8 rebuilds the table).
            "INSERT INTO documents (id, collection_id, name, source_path, format, content_hash, \
             byte_len, n_pages, n_chunks, embedding_model, added_at) \
             VALUES (7, 1, 'b.md', '/b.md', 'markdown', 'h7', 5, NULL, 0, 'all-MiniLM-L6-v2', 0)",
            "DELETE FROM documents WHERE id = 7",
        ] {
            sqlx::query(sql).execute(&pool).await.expect(sql);
        }
        pool.close().await;

        let db = Db::open(&path)
            .await
            .unwrap_or_else(|e| panic!("from schema {n_applied}: {e}"));
        assert!(db.integrity_check().await.expect("integrity"));
        assert_eq!(
            db.collections().await.expect("collections")[0].name,
            "papers"
        );
        let chunks = db.chunks(lectern::DocumentId(1)).await.expect("chunks");
        assert_eq!(chunks[0].text, "lighthouse keepers");
        assert_eq!(
            db.keyword_search(lectern::CollectionId(1), "lighthouse", 5)
                .await
                .expect("fts")
                .len(),
            1,
            "keyword search after migrating from schema {n_applied}"
        );
        let stored = db
            .replace_document(&lectern::store::NewDocument {
                collection_id: lectern::CollectionId(1),
                name: "c.html".into(),
                source_path: "/c.html".into(),
                format: lectern::store::DocFormat::Html,
                content_hash: "h8".into(),
                byte_len: 5,
                n_pages: None,
                n_ocr_pages: 0,
                embedding_model: "all-MiniLM-L6-v2".into(),
                source_mtime_ns: None,
                chunks: Vec::new(),
            })
            .await
            .unwrap_or_else(|e| panic!("an HTML document after schema {n_applied}: {e}"));
        assert!(
            stored.document_id.0 > 7,
            "a deleted id came back: {stored:?}"
        );
        // Deleting a document still takes its chunks with it (the foreign key survived).
        db.delete_document(lectern::DocumentId(1))
            .await
            .expect("delete");
        assert!(
            db.chunks(lectern::DocumentId(1))
                .await
                .expect("chunks")
                .is_empty()
        );
        assert!(db.integrity_check().await.expect("integrity"));
        db.close().await;
    }
}

#[tokio::test]
async fn a_database_from_a_newer_lectern_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("lectern.db");
    let db = Db::open(&path).await.expect("open");
    db.create_collection("kept").await.expect("create");
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (9999, 'from the future', 1, x'00', 0)",
    )
    .execute(db.pool())
    .await
    .expect("future migration");
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(db.pool())
        .await
        .expect("checkpoint");
    db.close().await;
    let before = std::fs::read(&path).expect("read");

    let err = Db::open(&path).await.expect_err("refused");
    assert!(
        matches!(err, DbError::NewerSchema { found: 9999, .. }),
        "{err:?}"
    );
    assert_eq!(err.code(), "newer_database");
    let message = err.to_string();
    assert!(
        message.contains("lectern.db") && message.contains("newer Lectern"),
        "{message}"
    );
    assert_eq!(
        std::fs::read(&path).expect("read"),
        before,
        "the file was changed"
    );
}
