//! The SQLite store: the database handle, schema migrations and settings; the queries live
//! with their table group (collections, documents and chunks, keyword search, chats, the
//! embedding switch's staging). Only the core queries it: shells go through
//! [`crate::Library`], which re-exports the row types they show.

mod chats;
mod collections;
mod documents;
mod folders;
mod reembed;
mod search;

pub use chats::{
    AnswerFinish, Chat, Feedback, Message, PromptParts, RatedMessage, StoredPassage, Timings,
};
pub use collections::Collection;
pub use documents::{DocFormat, Document, NewChunk, NewDocument, StoredChunk, StoredDocument};
pub use folders::{Folder, FolderFailure};
pub use search::PassageRow;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::error::DbError;

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A handle on Lectern's database; cheap to clone.
#[derive(Debug, Clone)]
pub struct Db {
    pool: SqlitePool,
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

pub fn embedding_to_blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub fn blob_to_embedding(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

impl Db {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<Self, DbError> {
        let open_err = |source| DbError::Open {
            path: path.to_owned(),
            source,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| open_err(sqlx::Error::Io(e)))?;
        }
        let options = SqliteConnectOptions::from_str("sqlite:")
            .map_err(open_err)?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL with NORMAL keeps committed transactions across a process crash; only an OS
            // crash can lose the last ones, never corrupt the file.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(open_err)?;
        refuse_newer_schema(&pool, path).await?;
        MIGRATIONS.run(&pool).await?;
        admit_sectioned_formats(&pool).await?;
        Ok(Self { pool })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub async fn setting(&self, key: &str) -> Result<Option<String>, DbError> {
        Ok(
            sqlx::query_scalar("SELECT value FROM settings WHERE key = ?")
                .bind(key)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    pub async fn set_setting(&self, key: &str, value: &str) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES (?, ?) \
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn delete_setting(&self, key: &str) -> Result<(), DbError> {
        sqlx::query("DELETE FROM settings WHERE key = ?")
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Runs SQLite's own consistency checks of the file and of the keyword index.
    pub async fn integrity_check(&self) -> Result<bool, DbError> {
        let verdict: String = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&self.pool)
            .await?;
        sqlx::query("INSERT INTO chunks_fts(chunks_fts, rank) VALUES ('integrity-check', 1)")
            .execute(&self.pool)
            .await?;
        Ok(verdict == "ok")
    }
}

/// Widens `documents.format`'s CHECK to the Word, ODT, EPUB and HTML formats (migration 8
/// says why this is not a migration): the table is rebuilt from its own definition with the
/// new CHECK, its rows and its id sequence (ids are never reused) copied, in one transaction
/// with foreign keys off on that connection, so a crash leaves the old table and the next open
/// tries again. Nothing to do once the CHECK is `FORMATS_CHECK`.
async fn admit_sectioned_formats(pool: &SqlitePool) -> Result<(), DbError> {
    const FORMATS_CHECK: &str =
        "CHECK (format IN ('pdf', 'markdown', 'text', 'html', 'docx', 'odt', 'epub'))";
    let sql: String = sqlx::query_scalar(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'documents'",
    )
    .fetch_one(pool)
    .await?;
    let Some(start) = sql.find("CHECK (format IN (") else {
        return Ok(());
    };
    let Some(len) = sql[start..].find("))").map(|at| at + 2) else {
        return Ok(());
    };
    if &sql[start..start + len] == FORMATS_CHECK {
        return Ok(());
    }
    let create = format!("{}{FORMATS_CHECK}{}", &sql[..start], &sql[start + len..]).replacen(
        "CREATE TABLE documents",
        "CREATE TABLE documents_new",
        1,
    );
    let mut conn = pool.acquire().await?;
    sqlx::query("PRAGMA foreign_keys = OFF")
        .execute(&mut *conn)
        .await?;
    let rebuilt = async {
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        for statement in [
            "DROP TABLE IF EXISTS documents_new",
            create.as_str(),
            "INSERT INTO documents_new SELECT * FROM documents",
            "INSERT INTO sqlite_sequence (name, seq) \
             SELECT 'documents_new', seq FROM sqlite_sequence WHERE name = 'documents' \
             AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'documents_new')",
            "UPDATE sqlite_sequence SET seq = max(seq, \
             (SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'documents')) \
             WHERE name = 'documents_new'",
            "DROP TABLE documents",
            "ALTER TABLE documents_new RENAME TO documents",
        ] {
            sqlx::query(statement).execute(&mut *tx).await?;
        }
        let broken: Vec<sqlx::sqlite::SqliteRow> = sqlx::query("PRAGMA foreign_key_check")
            .fetch_all(&mut *tx)
            .await?;
        if !broken.is_empty() {
            return Err(sqlx::Error::Protocol(format!(
                "{} rows lost their document while widening documents.format",
                broken.len()
            )));
        }
        tx.commit().await
    }
    .await;
    sqlx::query("PRAGMA foreign_keys = ON")
        .execute(&mut *conn)
        .await?;
    Ok(rebuilt?)
}

/// A database that a newer Lectern has migrated past what this one knows is left exactly as
/// it is: running this version's queries on it could damage what the newer one wrote.
async fn refuse_newer_schema(pool: &SqlitePool, path: &Path) -> Result<(), DbError> {
    let has_history: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations')",
    )
    .fetch_one(pool)
    .await?;
    if !has_history {
        return Ok(());
    }
    let found: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
        .fetch_one(pool)
        .await?;
    let supported = MIGRATIONS.iter().map(|m| m.version).max().unwrap_or(0);
    match found {
        Some(found) if found > supported => {
            pool.close().await;
            Err(DbError::NewerSchema {
                path: path.to_owned(),
                found,
                supported,
            })
        }
        _ => Ok(()),
    }
}

pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}
