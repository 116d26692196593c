//! [`Library`]: the open data folder, the context every shell passes to core calls.

use crate::chunk::Chunker;
use crate::db::Db;
use crate::embed::{EmbedWorker, ModelFiles};
use crate::error::Result;
use crate::extract::ExtractorConfig;
use crate::ingest::Ingester;
use crate::paths::Paths;

#[derive(Debug, Clone)]
pub struct Library {
    paths: Paths,
    db: Db,
}

impl Library {
    /// Opens the data folder's database, creating and migrating it as needed. Loads no model.
    pub async fn open(paths: Paths) -> Result<Self> {
        let db = Db::open(&paths.database()).await?;
        Ok(Self { paths, db })
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
        Ok(Ingester::new(self.db.clone(), embedder, chunker, extractor))
    }
}
