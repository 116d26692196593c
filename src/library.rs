//! [`Library`]: the open data folder, the context every shell passes to core calls.

use crate::answer::{Answerer, LlmSettings};
use crate::chunk::Chunker;
use crate::db::{Db, Document};
use crate::embed::{EmbedWorker, ModelFiles};
use crate::error::{LlmError, Result};
use crate::extract::ExtractorConfig;
use crate::index::{IndexParams, IndexSet};
use crate::ingest::Ingester;
use crate::llm::{EngineSettings, LlmWorker};
use crate::paths::Paths;
use crate::retrieve::Retriever;

/// Vector dimensions of the embedding model (all-MiniLM-L6-v2).
const DIMS: usize = 384;

#[derive(Debug, Clone)]
pub struct Library {
    paths: Paths,
    db: Db,
    indexes: IndexSet,
}

impl Library {
    /// Opens the data folder's database, creating and migrating it as needed. Loads no model.
    pub async fn open(paths: Paths) -> Result<Self> {
        let db = Db::open(&paths.database()).await?;
        let indexes = IndexSet::new(paths.data_dir.join("index"), IndexParams::default(), DIMS);
        Ok(Self { paths, db, indexes })
    }

    pub fn indexes(&self) -> &IndexSet {
        &self.indexes
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    /// The embedding model's files in the models folder.
    pub fn embedding_model(&self) -> ModelFiles {
        ModelFiles::default_in(&self.paths.models_dir)
    }

    /// Loads the embedding model on its own thread and makes an [`Ingester`] over it.
    pub fn ingester(&self, extractor: ExtractorConfig) -> Result<Ingester> {
        let files = self.embedding_model();
        let chunker = Chunker::new(files.tokenizer()?);
        let embedder = EmbedWorker::onnx(&files)?;
        Ok(Ingester::new(self.db.clone(), embedder, chunker, extractor)
            .with_indexes(self.indexes.clone()))
    }

    /// Loads the embedding model on its own thread and makes a [`Retriever`] over it.
    pub fn retriever(&self) -> Result<Retriever> {
        let embedder = EmbedWorker::onnx(&self.embedding_model())?;
        Ok(Retriever::new(
            self.db.clone(),
            embedder,
            self.indexes.clone(),
        ))
    }

    /// Loads the language model (`model` names one in the models folder or a path; `None` is
    /// the selected model) on its own thread with the stored settings.
    pub async fn llm(&self, model: Option<&str>) -> Result<LlmWorker> {
        let models_dir = &self.paths.models_dir;
        let model_path = match model {
            Some(spec) => crate::models::resolve(models_dir, spec),
            None => crate::models::selected(&self.db, models_dir).await?,
        };
        let settings = EngineSettings {
            model_path,
            n_ctx: LlmSettings::load(&self.db).await?.n_ctx,
        };
        let worker = tokio::task::spawn_blocking(move || LlmWorker::llama(settings))
            .await
            .map_err(|e| LlmError::Backend(format!("model loading panicked: {e}")))??;
        Ok(worker)
    }

    /// Loads the embedding and language models and makes an [`Answerer`] over them.
    pub async fn answerer(&self, model: Option<&str>) -> Result<Answerer> {
        let llm = self.llm(model).await?;
        Ok(Answerer::new(self.db.clone(), self.retriever()?, llm))
    }

    /// Removes a document (by id, name or path) from a collection: its rows in one
    /// transaction, then its points from the vector index.
    pub async fn remove_document(&self, collection: &str, key: &str) -> Result<Document> {
        let collection = self.db.collection(collection).await?;
        let doc = self.db.find_document(collection.id, key).await?;
        let chunk_ids = self.db.delete_document(doc.id).await?;
        let index = self.indexes.get(&self.db, collection.id).await?;
        index.remove(chunk_ids).await?;
        index
            .compact_if_needed(&self.db, collection.id, true)
            .await?;
        index.save().await?;
        Ok(doc)
    }

    /// Deletes a collection with its documents and its index files.
    pub async fn delete_collection(&self, name: &str) -> Result<()> {
        let collection = self.db.collection(name).await?;
        self.db.delete_collection(name).await?;
        self.indexes.drop_collection(collection.id).await;
        Ok(())
    }
}
