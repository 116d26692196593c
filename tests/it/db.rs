//! The database on real SQLite files: migrations, collections, settings.

use lectern::DbError;
use lectern::db::Db;

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

    db.rename_collection("Papers", "Articles")
        .await
        .expect("rename");
    assert!(matches!(
        db.rename_collection("Papers", "X").await,
        Err(DbError::NoSuchCollection(_))
    ));
    assert!(matches!(
        db.rename_collection("Articles", "Manuals").await,
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

    db.delete_collection("Articles").await.expect("delete");
    let err = db
        .delete_collection("Articles")
        .await
        .expect_err("already gone");
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
