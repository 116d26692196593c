//! The SQLite database: schema migrations and every query the core runs.

use crate::ids::{CollectionId, DocumentId};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

use crate::error::DbError;

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A handle on Lectern's database; cheap to clone.
#[derive(Debug, Clone)]
pub struct Db {
    pool: SqlitePool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collection {
    pub id: CollectionId,
    pub name: String,
    pub created_at: i64,
    pub n_documents: i64,
    pub n_chunks: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocFormat {
    Pdf,
    Markdown,
    Text,
}

impl DocFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pdf => "pdf",
            Self::Markdown => "markdown",
            Self::Text => "text",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "pdf" => Self::Pdf,
            "markdown" => Self::Markdown,
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
    pub embedding_model: String,
    pub added_at: i64,
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

/// A chunk with its document's name: what search returns.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct PassageRow {
    pub chunk_id: i64,
    pub document_id: DocumentId,
    pub document: String,
    pub first_page: Option<i64>,
    pub last_page: Option<i64>,
    pub text: String,
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
    pub embedding_model: String,
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
}

const DOCUMENT_COLUMNS: &str = "id, collection_id, name, source_path, format, content_hash, \
     byte_len, n_pages, n_chunks, embedding_model, added_at";

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
        embedding_model: row.try_get("embedding_model")?,
        added_at: row.try_get("added_at")?,
    })
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
        Ok(Self { pool })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    // --- collections ------------------------------------------------------------------------

    pub async fn create_collection(&self, name: &str) -> Result<Collection, DbError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(DbError::EmptyName);
        }
        let created_at = now_ms();
        let res = sqlx::query("INSERT INTO collections (name, created_at) VALUES (?, ?)")
            .bind(name)
            .bind(created_at)
            .execute(&self.pool)
            .await;
        match res {
            Ok(done) => Ok(Collection {
                id: CollectionId(done.last_insert_rowid()),
                name: name.to_owned(),
                created_at,
                n_documents: 0,
                n_chunks: 0,
            }),
            Err(e) if is_unique_violation(&e) => Err(DbError::CollectionExists(name.to_owned())),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn collections(&self) -> Result<Vec<Collection>, DbError> {
        self.collections_where("", None::<i64>).await
    }

    /// `filter` is a `WHERE` clause over `c` with at most one `?`, bound to `value`.
    async fn collections_where<T>(
        &self,
        filter: &str,
        value: Option<T>,
    ) -> Result<Vec<Collection>, DbError>
    where
        T: Send + for<'q> sqlx::Encode<'q, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
    {
        let sql = format!(
            "SELECT c.id, c.name, c.created_at, \
                    COUNT(d.id) AS n_documents, COALESCE(SUM(d.n_chunks), 0) AS n_chunks \
             FROM collections c LEFT JOIN documents d ON d.collection_id = c.id \
             {filter} GROUP BY c.id ORDER BY c.name"
        );
        let mut query = sqlx::query(&sql);
        if let Some(value) = value {
            query = query.bind(value);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(Collection {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    created_at: r.try_get("created_at")?,
                    n_documents: r.try_get("n_documents")?,
                    n_chunks: r.try_get("n_chunks")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// The collection a person named: how shells that take names find its id, once.
    pub async fn collection(&self, name: &str) -> Result<Collection, DbError> {
        self.collections_where("WHERE c.name = ?", Some(name.to_owned()))
            .await?
            .pop()
            .ok_or_else(|| DbError::NoSuchCollection(name.to_owned()))
    }

    pub async fn collection_by_id(&self, id: CollectionId) -> Result<Collection, DbError> {
        self.collections_where("WHERE c.id = ?", Some(id))
            .await?
            .pop()
            .ok_or(DbError::NoSuchCollectionId(id))
    }

    /// False once the collection is deleted (an ingest into it then stops).
    pub async fn collection_exists(&self, collection_id: CollectionId) -> Result<bool, DbError> {
        let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM collections WHERE id = ?")
            .bind(collection_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(found.is_some())
    }

    pub async fn rename_collection(&self, id: CollectionId, new: &str) -> Result<(), DbError> {
        let new = new.trim();
        if new.is_empty() {
            return Err(DbError::EmptyName);
        }
        let res = sqlx::query("UPDATE collections SET name = ? WHERE id = ?")
            .bind(new)
            .bind(id)
            .execute(&self.pool)
            .await;
        match res {
            Ok(done) if done.rows_affected() == 0 => Err(DbError::NoSuchCollectionId(id)),
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => Err(DbError::CollectionExists(new.to_owned())),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes a collection with all its documents and chunks, in one transaction.
    pub async fn delete_collection(&self, id: CollectionId) -> Result<(), DbError> {
        let done = sqlx::query("DELETE FROM collections WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(DbError::NoSuchCollectionId(id));
        }
        Ok(())
    }

    // --- documents --------------------------------------------------------------------------

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
             byte_len, n_pages, n_chunks, embedding_model, added_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(doc.collection_id)
        .bind(&doc.name)
        .bind(&doc.source_path)
        .bind(doc.format.as_str())
        .bind(&doc.content_hash)
        .bind(doc.byte_len)
        .bind(doc.n_pages)
        .bind(i64::try_from(doc.chunks.len()).unwrap_or(i64::MAX))
        .bind(&doc.embedding_model)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?
        .last_insert_rowid();
        let mut chunk_ids = Vec::with_capacity(doc.chunks.len());
        for (chunk_idx, chunk) in doc.chunks.iter().enumerate() {
            let chunk_id = sqlx::query(
                "INSERT INTO chunks (document_id, chunk_idx, first_page, last_page, char_start, \
                 char_end, n_tokens, text, embedding) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
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

    // --- chunks -----------------------------------------------------------------------------

    pub async fn chunks(&self, document_id: DocumentId) -> Result<Vec<StoredChunk>, DbError> {
        Ok(sqlx::query_as::<_, StoredChunk>(
            "SELECT id, document_id, chunk_idx, first_page, last_page, char_start, char_end, \
             n_tokens, text FROM chunks WHERE document_id = ? ORDER BY chunk_idx",
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

    /// Chunks by id, with their documents' names, in the order asked.
    pub async fn passages(&self, chunk_ids: &[i64]) -> Result<Vec<PassageRow>, DbError> {
        if chunk_ids.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders = vec!["?"; chunk_ids.len()].join(", ");
        let sql = format!(
            "SELECT c.id AS chunk_id, c.document_id, d.name AS document, c.first_page, \
             c.last_page, c.text FROM chunks c JOIN documents d ON d.id = c.document_id \
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

    // --- settings ---------------------------------------------------------------------------

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

    // --- embedding-model switch (src/reembed.rs) ----------------------------------------------

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
