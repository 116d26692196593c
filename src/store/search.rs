//! What search reads: passages by chunk id, and the FTS5 keyword index.

use sqlx::Row;

use super::Db;
use crate::error::DbError;
use crate::ids::{CollectionId, DocumentId};

/// A chunk with its document's name: what search returns.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct PassageRow {
    pub chunk_id: i64,
    pub document_id: DocumentId,
    pub document: String,
    pub first_page: Option<i64>,
    pub last_page: Option<i64>,
    pub text: String,
    pub ocr: bool,
    pub section: Option<String>,
}

impl Db {
    /// Chunks by id, with their documents' names, in the order asked.
    pub async fn passages(&self, chunk_ids: &[i64]) -> Result<Vec<PassageRow>, DbError> {
        if chunk_ids.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders = vec!["?"; chunk_ids.len()].join(", ");
        let sql = format!(
            "SELECT c.id AS chunk_id, c.document_id, d.name AS document, c.first_page, \
             c.last_page, c.text, c.ocr, c.section FROM chunks c JOIN documents d ON d.id = c.document_id \
             WHERE c.id IN ({placeholders})"
        );
        let mut query = sqlx::query_as::<_, PassageRow>(&sql);
        for id in chunk_ids {
            query = query.bind(id);
        }
        let rows = query.fetch_all(&self.pool).await?;
        let mut by_id: std::collections::HashMap<i64, PassageRow> =
            rows.into_iter().map(|r| (r.chunk_id, r)).collect();
        Ok(chunk_ids.iter().filter_map(|id| by_id.remove(id)).collect())
    }

    /// Chunks of a collection matching an FTS5 query, best first, with their BM25 score
    /// (higher is better).
    pub async fn keyword_search(
        &self,
        collection_id: CollectionId,
        fts_query: &str,
        limit: usize,
    ) -> Result<Vec<(i64, f32)>, DbError> {
        let rows = sqlx::query(
            "SELECT c.id, bm25(chunks_fts) AS score FROM chunks_fts \
             JOIN chunks c ON c.id = chunks_fts.rowid JOIN documents d ON d.id = c.document_id \
             WHERE chunks_fts MATCH ? AND d.collection_id = ? ORDER BY score LIMIT ?",
        )
        .bind(fts_query)
        .bind(collection_id)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get::<i64, _>(0)?, -(r.try_get::<f64, _>(1)? as f32))))
            .collect()
    }

    /// How many chunks (in all collections) match each FTS5 query, counting no further than
    /// `cap`: walking a term's row list is cheap next to scoring its rows with BM25.
    pub async fn keyword_match_counts(
        &self,
        fts_queries: &[String],
        cap: usize,
    ) -> Result<Vec<usize>, DbError> {
        let mut counts = Vec::with_capacity(fts_queries.len());
        for fts_query in fts_queries {
            let n: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM (SELECT 1 FROM chunks_fts WHERE chunks_fts MATCH ? LIMIT ?)",
            )
            .bind(fts_query)
            .bind(i64::try_from(cap).unwrap_or(i64::MAX))
            .fetch_one(&self.pool)
            .await?;
            counts.push(usize::try_from(n).unwrap_or(0));
        }
        Ok(counts)
    }

    /// Chunk ids whose text matches an FTS5 query, best first (BM25).
    pub async fn keyword_chunk_ids(
        &self,
        fts_query: &str,
        limit: i64,
    ) -> Result<Vec<i64>, DbError> {
        let rows = sqlx::query(
            "SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY rank LIMIT ?",
        )
        .bind(fts_query)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| r.try_get::<i64, _>(0).map_err(Into::into))
            .collect()
    }
}
