//! Collections: create, list with their counts, find by name or id, rename, delete.

use sqlx::Row;

use super::{Db, is_unique_violation, now_ms};
use crate::error::DbError;
use crate::ids::CollectionId;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collection {
    pub id: CollectionId,
    pub name: String,
    pub created_at: i64,
    pub n_documents: i64,
    pub n_chunks: i64,
    /// Tesseract's code(s) for pages read by OCR: `eng` unless set.
    pub ocr_language: String,
}

impl Db {
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
                ocr_language: crate::extract::ocr::DEFAULT_LANGUAGE.to_owned(),
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
            "SELECT c.id, c.name, c.created_at, c.ocr_language, \
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
                    ocr_language: r
                        .try_get::<Option<String>, _>("ocr_language")?
                        .unwrap_or_else(|| crate::extract::ocr::DEFAULT_LANGUAGE.to_owned()),
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

    /// Sets the OCR language of a collection's future ingests; `None` is the default.
    pub async fn set_ocr_language(
        &self,
        id: CollectionId,
        language: Option<&str>,
    ) -> Result<(), DbError> {
        let done = sqlx::query("UPDATE collections SET ocr_language = ? WHERE id = ?")
            .bind(language)
            .bind(id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(DbError::NoSuchCollectionId(id));
        }
        Ok(())
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
}
