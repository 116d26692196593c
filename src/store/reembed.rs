//! The embedding-model switch's staging table: new vectors are staged chunk by chunk, then
//! swapped in for every chunk in one transaction ([`crate::reembed`] runs the switch).

use super::{Db, embedding_to_blob};
use crate::error::DbError;

impl Db {
    /// Chunks in all collections.
    pub async fn count_chunks(&self) -> Result<usize, DbError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM chunks")
            .fetch_one(&self.pool)
            .await?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Forgets vectors staged for any model but `model`.
    pub async fn reembed_keep_only(&self, model: &str) -> Result<(), DbError> {
        sqlx::query("DELETE FROM reembed_vectors WHERE model != ?")
            .bind(model)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Chunks with a vector staged for `model`, and chunks in all.
    pub async fn reembed_progress(&self, model: &str) -> Result<(usize, usize), DbError> {
        let (n_done, n_total): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM reembed_vectors WHERE model = ?),              (SELECT COUNT(*) FROM chunks)",
        )
        .bind(model)
        .fetch_one(&self.pool)
        .await?;
        Ok((
            usize::try_from(n_done).unwrap_or(0),
            usize::try_from(n_total).unwrap_or(0),
        ))
    }

    /// Up to `limit` chunks (id, text) with no vector staged yet, oldest first.
    pub async fn reembed_todo(&self, limit: usize) -> Result<Vec<(i64, String)>, DbError> {
        Ok(sqlx::query_as(
            "SELECT c.id, c.text FROM chunks c WHERE NOT EXISTS \
             (SELECT 1 FROM reembed_vectors r WHERE r.chunk_id = c.id) ORDER BY c.id LIMIT ?",
        )
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?)
    }

    /// Stages new vectors in one transaction, skipping chunks deleted since they were read.
    pub async fn reembed_stage(
        &self,
        model: &str,
        vectors: &[(i64, Vec<f32>)],
    ) -> Result<(), DbError> {
        let mut tx = self.pool.begin().await?;
        for (chunk_id, vector) in vectors {
            sqlx::query(
                "INSERT OR REPLACE INTO reembed_vectors (chunk_id, model, embedding) \
                 SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM chunks WHERE id = ?)",
            )
            .bind(chunk_id)
            .bind(model)
            .bind(embedding_to_blob(vector))
            .bind(chunk_id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Makes `model` the embedding model in one transaction: every chunk takes its staged
    /// vector, every document is marked, the staging table is emptied and the settings say
    /// so. Returns false, changing nothing, when some chunk has no staged vector yet (one
    /// added meanwhile).
    pub async fn reembed_commit(&self, model: &str) -> Result<bool, DbError> {
        // Immediate for the same reason as `delete_document`: it counts, then writes.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let n_missing: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM chunks c WHERE NOT EXISTS \
             (SELECT 1 FROM reembed_vectors r WHERE r.chunk_id = c.id AND r.model = ?)",
        )
        .bind(model)
        .fetch_one(&mut *tx)
        .await?;
        if n_missing > 0 {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE chunks SET embedding = \
             (SELECT r.embedding FROM reembed_vectors r WHERE r.chunk_id = chunks.id)",
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE documents SET embedding_model = ?")
            .bind(model)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM reembed_vectors")
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES (?, ?) \
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        )
        .bind(crate::embed::MODEL_SETTING)
        .bind(model)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM settings WHERE key = ?")
            .bind(crate::embed::TARGET_SETTING)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }
}
