//! Documents and their chunks: a document is written whole with its chunks and vectors in
//! one transaction, replacing the one ingested from the same path.

use std::path::Path;

use sqlx::Row;

use super::{Db, blob_to_embedding, embedding_to_blob, now_ms};
use crate::error::DbError;
use crate::ids::{CollectionId, DocumentId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocFormat {
    Pdf,
    Markdown,
    Text,
    Html,
    Docx,
    Odt,
    Epub,
}

impl DocFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pdf => "pdf",
            Self::Markdown => "markdown",
            Self::Text => "text",
            Self::Html => "html",
            Self::Docx => "docx",
            Self::Odt => "odt",
            Self::Epub => "epub",
        }
    }

    /// Whether its text is cut into sections under headings, which citations name in place
    /// of pages.
    pub fn has_sections(self) -> bool {
        matches!(self, Self::Html | Self::Docx | Self::Odt | Self::Epub)
    }

    fn parse(s: &str) -> Self {
        match s {
            "pdf" => Self::Pdf,
            "markdown" => Self::Markdown,
            "html" => Self::Html,
            "docx" => Self::Docx,
            "odt" => Self::Odt,
            "epub" => Self::Epub,
            _ => Self::Text,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub id: DocumentId,
    pub collection_id: CollectionId,
    pub name: String,
    pub source_path: String,
    pub format: DocFormat,
    pub content_hash: String,
    pub byte_len: i64,
    pub n_pages: Option<i64>,
    pub n_chunks: i64,
    /// Pages whose text came from OCR.
    pub n_ocr_pages: i64,
    pub embedding_model: String,
    pub added_at: i64,
    /// The file's modification time when it was read (nanoseconds since the epoch); `None`
    /// for documents stored before it was kept.
    pub source_mtime_ns: Option<i64>,
}

impl Document {
    /// The file is no longer where it was ingested from (its text stays searchable).
    pub fn source_missing(&self) -> bool {
        !Path::new(&self.source_path).is_file()
    }
}

/// What [`Db::replace_document`] wrote and what it replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDocument {
    pub document_id: DocumentId,
    /// In chunk order.
    pub chunk_ids: Vec<i64>,
    /// Chunks of the document previously ingested from the same path, now deleted.
    pub replaced_chunk_ids: Vec<i64>,
}

/// A chunk as stored, without its vector.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredChunk {
    pub id: i64,
    pub document_id: DocumentId,
    pub chunk_idx: i64,
    pub first_page: Option<i64>,
    pub last_page: Option<i64>,
    pub char_start: i64,
    pub char_end: i64,
    pub n_tokens: i64,
    pub text: String,
    /// Drawn from a page read by OCR.
    pub ocr: bool,
    /// The title of its section (Word, EPUB, HTML).
    pub section: Option<String>,
}

/// A document ready to be written, with all its chunks and their vectors.
#[derive(Debug, Clone)]
pub struct NewDocument {
    pub collection_id: CollectionId,
    pub name: String,
    pub source_path: String,
    pub format: DocFormat,
    pub content_hash: String,
    pub byte_len: i64,
    pub n_pages: Option<i64>,
    pub n_ocr_pages: i64,
    pub embedding_model: String,
    /// The file's modification time, taken before its bytes were read.
    pub source_mtime_ns: Option<i64>,
    pub chunks: Vec<NewChunk>,
}

#[derive(Debug, Clone)]
pub struct NewChunk {
    pub first_page: Option<i64>,
    pub last_page: Option<i64>,
    pub char_start: i64,
    pub char_end: i64,
    pub n_tokens: i64,
    pub text: String,
    pub embedding: Vec<f32>,
    pub ocr: bool,
    pub section: Option<String>,
}

const DOCUMENT_COLUMNS: &str = "id, collection_id, name, source_path, format, content_hash, \
     byte_len, n_pages, n_chunks, n_ocr_pages, embedding_model, added_at, source_mtime_ns";

fn document_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<Document, sqlx::Error> {
    Ok(Document {
        id: row.try_get("id")?,
        collection_id: row.try_get("collection_id")?,
        name: row.try_get("name")?,
        source_path: row.try_get("source_path")?,
        format: DocFormat::parse(row.try_get::<&str, _>("format")?),
        content_hash: row.try_get("content_hash")?,
        byte_len: row.try_get("byte_len")?,
        n_pages: row.try_get("n_pages")?,
        n_chunks: row.try_get("n_chunks")?,
        n_ocr_pages: row.try_get("n_ocr_pages")?,
        embedding_model: row.try_get("embedding_model")?,
        added_at: row.try_get("added_at")?,
        source_mtime_ns: row.try_get("source_mtime_ns")?,
    })
}

impl Db {
    pub async fn documents(&self, collection_id: CollectionId) -> Result<Vec<Document>, DbError> {
        let sql = format!(
            "SELECT {DOCUMENT_COLUMNS} FROM documents WHERE collection_id = ? ORDER BY name, id"
        );
        let rows = sqlx::query(&sql)
            .bind(collection_id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(document_from_row)
            .collect::<Result<_, _>>()?)
    }

    pub async fn document(&self, document_id: DocumentId) -> Result<Document, DbError> {
        let sql = format!("SELECT {DOCUMENT_COLUMNS} FROM documents WHERE id = ?");
        let row = sqlx::query(&sql)
            .bind(document_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| DbError::NoSuchDocument(document_id.to_string()))?;
        Ok(document_from_row(&row)?)
    }

    /// The document of this collection with these bytes, if any.
    pub async fn document_by_hash(
        &self,
        collection_id: CollectionId,
        content_hash: &str,
    ) -> Result<Option<Document>, DbError> {
        let sql = format!(
            "SELECT {DOCUMENT_COLUMNS} FROM documents WHERE collection_id = ? AND content_hash = ?"
        );
        let row = sqlx::query(&sql)
            .bind(collection_id)
            .bind(content_hash)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(document_from_row).transpose()?)
    }

    /// Finds a document by id, source path or file name.
    pub async fn find_document(
        &self,
        collection_id: CollectionId,
        key: &str,
    ) -> Result<Document, DbError> {
        let docs = self.documents(collection_id).await?;
        if let Ok(id) = key.parse::<DocumentId>()
            && let Some(doc) = docs.iter().find(|d| d.id == id)
        {
            return Ok(doc.clone());
        }
        let abs = std::fs::canonicalize(key)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut hits = docs
            .into_iter()
            .filter(|d| d.source_path == key || d.source_path == abs || d.name == key);
        match (hits.next(), hits.next()) {
            (Some(doc), None) => Ok(doc),
            (Some(_), Some(_)) => Err(DbError::AmbiguousDocument(key.to_owned())),
            (None, _) => Err(DbError::NoSuchDocument(key.to_owned())),
        }
    }

    /// Writes a document and all its chunks in one transaction, replacing any document that
    /// was ingested from the same path.
    pub async fn replace_document(&self, doc: &NewDocument) -> Result<StoredDocument, DbError> {
        // IMMEDIATE takes the write lock first, waiting out `busy_timeout`: a deferred
        // transaction that reads, then writes, fails at once with "database is locked" when
        // another process wrote in between (seen with two ingests of one file at once).
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        // An ingest that began before an embedding-model switch finished must not mix its
        // vectors into the new model's space. (The setting exists once a switch has run;
        // before that, tests store vectors from stand-in embedders under their own names.)
        let active: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE key = ?")
            .bind(crate::embed::MODEL_SETTING)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(active) = active.filter(|active| *active != doc.embedding_model) {
            return Err(DbError::EmbeddingModelChanged {
                used: doc.embedding_model.clone(),
                active,
            });
        }
        let replaced_chunk_ids: Vec<i64> = sqlx::query_scalar(
            "SELECT c.id FROM chunks c JOIN documents d ON d.id = c.document_id \
             WHERE d.collection_id = ? AND d.source_path = ?",
        )
        .bind(doc.collection_id)
        .bind(&doc.source_path)
        .fetch_all(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM documents WHERE collection_id = ? AND source_path = ?")
            .bind(doc.collection_id)
            .bind(&doc.source_path)
            .execute(&mut *tx)
            .await?;
        let document_id = sqlx::query(
            "INSERT INTO documents (collection_id, name, source_path, format, content_hash, \
             byte_len, n_pages, n_chunks, n_ocr_pages, embedding_model, added_at, \
             source_mtime_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(doc.collection_id)
        .bind(&doc.name)
        .bind(&doc.source_path)
        .bind(doc.format.as_str())
        .bind(&doc.content_hash)
        .bind(doc.byte_len)
        .bind(doc.n_pages)
        .bind(i64::try_from(doc.chunks.len()).unwrap_or(i64::MAX))
        .bind(doc.n_ocr_pages)
        .bind(&doc.embedding_model)
        .bind(now_ms())
        .bind(doc.source_mtime_ns)
        .execute(&mut *tx)
        .await?
        .last_insert_rowid();
        let mut chunk_ids = Vec::with_capacity(doc.chunks.len());
        for (chunk_idx, chunk) in doc.chunks.iter().enumerate() {
            let chunk_id = sqlx::query(
                "INSERT INTO chunks (document_id, chunk_idx, first_page, last_page, char_start, \
                 char_end, n_tokens, text, embedding, ocr, section) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(document_id)
            .bind(i64::try_from(chunk_idx).unwrap_or(i64::MAX))
            .bind(chunk.first_page)
            .bind(chunk.last_page)
            .bind(chunk.char_start)
            .bind(chunk.char_end)
            .bind(chunk.n_tokens)
            .bind(&chunk.text)
            .bind(embedding_to_blob(&chunk.embedding))
            .bind(chunk.ocr)
            .bind(&chunk.section)
            .execute(&mut *tx)
            .await?
            .last_insert_rowid();
            chunk_ids.push(chunk_id);
        }
        tx.commit().await?;
        Ok(StoredDocument {
            document_id: DocumentId(document_id),
            chunk_ids,
            replaced_chunk_ids,
        })
    }

    /// Deletes a document; its chunks and their keyword-index rows go with it. Returns the
    /// ids of the chunks removed.
    pub async fn delete_document(&self, document_id: DocumentId) -> Result<Vec<i64>, DbError> {
        // Immediate: it reads the chunk ids, then deletes; a deferred transaction's upgrade to
        // a writer fails at once ("database is locked") when another process wrote meanwhile.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let chunk_ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM chunks WHERE document_id = ?")
            .bind(document_id)
            .fetch_all(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM documents WHERE id = ?")
            .bind(document_id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(DbError::NoSuchDocument(document_id.to_string()));
        }
        tx.commit().await?;
        Ok(chunk_ids)
    }

    pub async fn chunks(&self, document_id: DocumentId) -> Result<Vec<StoredChunk>, DbError> {
        Ok(sqlx::query_as::<_, StoredChunk>(
            "SELECT id, document_id, chunk_idx, first_page, last_page, char_start, char_end, \
             n_tokens, text, ocr, section FROM chunks WHERE document_id = ? ORDER BY chunk_idx",
        )
        .bind(document_id)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn chunk_embeddings(
        &self,
        document_id: DocumentId,
    ) -> Result<Vec<Vec<f32>>, DbError> {
        let rows =
            sqlx::query("SELECT embedding FROM chunks WHERE document_id = ? ORDER BY chunk_idx")
                .bind(document_id)
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| Ok(blob_to_embedding(r.try_get::<&[u8], _>("embedding")?)))
            .collect()
    }

    /// Ids of every chunk of a collection.
    pub async fn chunk_ids(&self, collection_id: CollectionId) -> Result<Vec<i64>, DbError> {
        Ok(sqlx::query_scalar(
            "SELECT c.id FROM chunks c JOIN documents d ON d.id = c.document_id \
             WHERE d.collection_id = ?",
        )
        .bind(collection_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// (chunk id, vector) of a collection's chunks: all of them, or those listed.
    pub async fn chunk_vectors(
        &self,
        collection_id: CollectionId,
        only: Option<&[i64]>,
    ) -> Result<Vec<(i64, Vec<f32>)>, DbError> {
        let rows = sqlx::query(
            "SELECT c.id, c.embedding FROM chunks c JOIN documents d ON d.id = c.document_id \
             WHERE d.collection_id = ? ORDER BY c.id",
        )
        .bind(collection_id)
        .fetch_all(&self.pool)
        .await?;
        let wanted: Option<std::collections::HashSet<i64>> =
            only.map(|ids| ids.iter().copied().collect());
        let mut out = Vec::with_capacity(wanted.as_ref().map_or(rows.len(), |w| w.len()));
        for row in &rows {
            let id: i64 = row.try_get(0)?;
            if wanted.as_ref().is_none_or(|w| w.contains(&id)) {
                out.push((id, blob_to_embedding(row.try_get::<&[u8], _>(1)?)));
            }
        }
        Ok(out)
    }
}
