//! Followed folders: a collection's list of folders kept in step with it, and what a rescan
//! records of each (when it last completed, whether the folder was there).

use sqlx::Row;

use super::{Db, is_unique_violation, now_ms};
use crate::error::DbError;
use crate::ids::{CollectionId, DocumentId, FolderId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folder {
    pub id: FolderId,
    pub collection_id: CollectionId,
    /// Absolute and canonical, without a trailing slash.
    pub path: String,
    /// The file system it was on when followed (`st_dev`).
    pub device: u64,
    pub added_at: i64,
    /// When a rescan last completed; `None` before the first.
    pub synced_at: Option<i64>,
    /// The last rescan found no folder there, or one on another disk: its documents are kept.
    pub missing: bool,
}

fn folder_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<Folder, sqlx::Error> {
    Ok(Folder {
        id: row.try_get("id")?,
        collection_id: row.try_get("collection_id")?,
        path: row.try_get("path")?,
        // Stored as SQLite's signed integer; the bits are the device number.
        device: row.try_get::<i64, _>("device")?.cast_unsigned(),
        added_at: row.try_get("added_at")?,
        synced_at: row.try_get("synced_at")?,
        missing: row.try_get("missing")?,
    })
}

/// A file a sync could not read, remembered with the size and mtime it had then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderFailure {
    pub path: String,
    pub byte_len: i64,
    pub mtime_ns: Option<i64>,
    pub code: String,
    pub message: String,
}

impl Db {
    pub async fn folder_failures(
        &self,
        collection_id: CollectionId,
    ) -> Result<Vec<FolderFailure>, DbError> {
        let rows = sqlx::query(
            "SELECT path, byte_len, mtime_ns, code, message FROM folder_failures \
             WHERE collection_id = ? ORDER BY path",
        )
        .bind(collection_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(FolderFailure {
                    path: r.try_get("path")?,
                    byte_len: r.try_get("byte_len")?,
                    mtime_ns: r.try_get("mtime_ns")?,
                    code: r.try_get("code")?,
                    message: r.try_get("message")?,
                })
            })
            .collect()
    }

    pub async fn set_folder_failure(
        &self,
        collection_id: CollectionId,
        failure: &FolderFailure,
    ) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO folder_failures (collection_id, path, byte_len, mtime_ns, code, message) \
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (collection_id, path) DO UPDATE SET \
             byte_len = excluded.byte_len, mtime_ns = excluded.mtime_ns, code = excluded.code, \
             message = excluded.message",
        )
        .bind(collection_id)
        .bind(&failure.path)
        .bind(failure.byte_len)
        .bind(failure.mtime_ns)
        .bind(&failure.code)
        .bind(&failure.message)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn clear_folder_failure(
        &self,
        collection_id: CollectionId,
        path: &str,
    ) -> Result<(), DbError> {
        sqlx::query("DELETE FROM folder_failures WHERE collection_id = ? AND path = ?")
            .bind(collection_id)
            .bind(path)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn add_folder(
        &self,
        collection_id: CollectionId,
        path: &str,
        device: u64,
    ) -> Result<Folder, DbError> {
        let added_at = now_ms();
        let done = sqlx::query(
            "INSERT INTO folders (collection_id, path, device, added_at) VALUES (?, ?, ?, ?)",
        )
        .bind(collection_id)
        .bind(path)
        .bind(device.cast_signed())
        .bind(added_at)
        .execute(&self.pool)
        .await;
        match done {
            Ok(done) => Ok(Folder {
                id: FolderId(done.last_insert_rowid()),
                collection_id,
                path: path.to_owned(),
                device,
                added_at,
                synced_at: None,
                missing: false,
            }),
            Err(e) if is_unique_violation(&e) => Err(DbError::FolderFollowed(path.to_owned())),
            Err(e) => Err(e.into()),
        }
    }

    /// The folders `collection_id` follows, or every collection's.
    pub async fn folders(
        &self,
        collection_id: Option<CollectionId>,
    ) -> Result<Vec<Folder>, DbError> {
        let rows = sqlx::query(
            "SELECT id, collection_id, path, device, added_at, synced_at, missing FROM folders \
             WHERE ?1 IS NULL OR collection_id = ?1 ORDER BY collection_id, path",
        )
        .bind(collection_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(folder_from_row).collect::<Result<_, _>>()?)
    }

    pub async fn remove_folder(&self, folder_id: FolderId) -> Result<(), DbError> {
        let done = sqlx::query("DELETE FROM folders WHERE id = ?")
            .bind(folder_id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(DbError::NoSuchFolder(folder_id.to_string()));
        }
        Ok(())
    }

    /// Records a rescan's finding: the folder missing (nothing else changes), or there and
    /// gone through (`synced`).
    pub async fn set_folder_state(
        &self,
        folder_id: FolderId,
        missing: bool,
        synced: bool,
    ) -> Result<(), DbError> {
        sqlx::query(
            "UPDATE folders SET missing = ?, synced_at = CASE WHEN ? THEN ? ELSE synced_at END \
             WHERE id = ?",
        )
        .bind(missing)
        .bind(synced)
        .bind(now_ms())
        .bind(folder_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The folder's disk came back under another device number.
    pub async fn set_folder_device(&self, folder_id: FolderId, device: u64) -> Result<(), DbError> {
        sqlx::query("UPDATE folders SET device = ? WHERE id = ?")
            .bind(device.cast_signed())
            .bind(folder_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records that a document's file, unchanged in content, now has this size and mtime
    /// (touched, or ingested before mtimes were kept), so the next rescan does not read it.
    pub async fn touch_document(
        &self,
        document_id: DocumentId,
        byte_len: i64,
        mtime_ns: i64,
    ) -> Result<(), DbError> {
        sqlx::query("UPDATE documents SET byte_len = ?, source_mtime_ns = ? WHERE id = ?")
            .bind(byte_len)
            .bind(mtime_ns)
            .bind(document_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A document's file moved within the collection's folders with its bytes unchanged: its
    /// chunks and vectors stay, only where it lives changes. Fails (unique violation) when a
    /// document already has that path.
    pub async fn move_document(
        &self,
        document_id: DocumentId,
        source_path: &str,
        name: &str,
        mtime_ns: i64,
    ) -> Result<(), DbError> {
        let done = sqlx::query(
            "UPDATE documents SET source_path = ?, name = ?, source_mtime_ns = ? WHERE id = ?",
        )
        .bind(source_path)
        .bind(name)
        .bind(mtime_ns)
        .bind(document_id)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(DbError::NoSuchDocument(document_id.to_string()));
        }
        Ok(())
    }
}
