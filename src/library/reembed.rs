//! Switching the embedding model: every stored passage is re-embedded in the background while
//! the old vectors and indexes keep serving searches, then the new ones replace them at once.

use tokio::sync::mpsc;

use crate::embed::{
    BATCH_SIZE, EMBEDDING_MODELS, EmbeddingModel, ModelFiles, TARGET_SETTING, dims_setting,
};
use crate::error::{EmbedError, IndexError, Result};
use crate::job::CancelFlag;
use crate::library::Library;
use crate::paths::Config;

/// Passages read, embedded and staged per step: a few embedding batches, so progress moves
/// often and a cancel is seen within a second or two.
const STEP: usize = BATCH_SIZE * 4;

/// Progress of a switch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReembedEvent {
    /// The target model is loaded; `n_done` passages already had its vectors (a switch that
    /// was cancelled or cut off resumes there).
    Started {
        target: String,
        n_done: usize,
        n_total: usize,
    },
    Embedded {
        n_done: usize,
        n_total: usize,
    },
    /// Every passage has its new vector and the database now uses the new model; the
    /// collections' indexes are being built.
    Switched {
        n_collections: usize,
    },
    Indexed {
        collection: String,
    },
}

/// What a finished switch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReembedReport {
    pub from: String,
    pub to: String,
    /// Passages embedded by this run (not counting those a previous run had done).
    pub n_embedded: usize,
    pub n_chunks: usize,
    pub n_collections: usize,
}

/// A switch that was started and neither finished nor cancelled (the app was closed or
/// crashed): its work so far is kept, and running the switch again resumes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingSwitch {
    pub target: String,
    pub n_done: usize,
    pub n_total: usize,
}

/// An embedding model as the settings screen lists it: one Lectern runs, or an endpoint of
/// the config file (which may or may not serve embeddings: switching to it asks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddingChoice {
    /// What a switch names: a model's id, or `endpoint:NAME`.
    pub id: String,
    pub label: String,
    /// What choosing it means, in a sentence.
    pub about: String,
    /// The vectors' size; `None` for an endpoint not in use (known once it has answered).
    pub dims: Option<usize>,
    /// All its files are in the models folder (an endpoint: always).
    pub installed: bool,
    pub active: bool,
}

impl Library {
    /// The embedding models Lectern knows, whether each is installed, and which is in use.
    pub fn embedding_choices(&self) -> Vec<EmbeddingChoice> {
        let active = self.embedding();
        let local = EMBEDDING_MODELS.iter().map(|spec| EmbeddingChoice {
            id: spec.id.to_owned(),
            label: spec.label.to_owned(),
            about: spec.about.to_owned(),
            dims: Some(spec.dims),
            installed: ModelFiles::new(&self.paths().models_dir, spec.id)
                .required_files()
                .iter()
                .all(|f| f.is_file()),
            active: active == EmbeddingModel::Onnx(spec),
        });
        let endpoints = Config::load(&Config::default_dir())
            .endpoints
            .into_iter()
            .map(|endpoint| {
                let model = EmbeddingModel::Endpoint {
                    name: endpoint.name.clone(),
                    dims: 0,
                };
                let is_active = model.id() == active.id();
                EmbeddingChoice {
                    id: model.id(),
                    label: format!("{} ({})", endpoint.model, endpoint.name),
                    about: format!(
                        "embedded by the server at {}, if it serves /v1/embeddings; \
                         questions and new documents need it to be up",
                        endpoint.base_url
                    ),
                    dims: is_active.then(|| active.dims()),
                    installed: true,
                    active: is_active,
                }
            });
        local.chain(endpoints).collect()
    }

    /// The switch under way or cut off, if any.
    pub async fn pending_embedding_switch(&self) -> Result<Option<PendingSwitch>> {
        let Some(target) = self.db().setting(TARGET_SETTING).await? else {
            return Ok(None);
        };
        let (n_done, n_total) = self.db().reembed_progress(&target).await?;
        Ok(Some(PendingSwitch {
            target,
            n_done,
            n_total,
        }))
    }

    /// Re-embeds every passage of every collection with `target` and then makes it the
    /// embedding model. Until the last step, searches use the old vectors and indexes; the
    /// new vectors wait in their own table, so a cancelled or interrupted switch loses
    /// nothing and the next one resumes where it stopped. The last step is one transaction,
    /// after which each collection's index is rebuilt from the new vectors. The caller keeps
    /// ingests from running meanwhile (the app queues them behind this job); one that slips
    /// through is embedded here before the swap, or refused at commit if it ends after it.
    /// Switching to the model in use abandons any pending switch.
    pub async fn switch_embedding_model(
        &self,
        target: &str,
        progress: Option<mpsc::UnboundedSender<ReembedEvent>>,
        cancel: &CancelFlag,
    ) -> Result<ReembedReport> {
        let target = EmbeddingModel::parse(target)?;
        let from = self.embedding();
        let emit = |event| {
            if let Some(tx) = &progress {
                let _ = tx.send(event);
            }
        };
        let db = self.db();
        if target.id() == from.id() {
            self.abandon_embedding_switch().await?;
            return Ok(ReembedReport {
                from: from.id(),
                to: from.id(),
                n_embedded: 0,
                n_chunks: db.reembed_progress(&from.id()).await?.1,
                n_collections: 0,
            });
        }
        let library = self.clone();
        let loading = target.clone();
        let embedder = tokio::task::spawn_blocking(move || library.embed_worker(&loading))
            .await
            .map_err(|e| EmbedError::Inference(format!("model loading panicked: {e}")))??;
        // A model of another vector size gets an index set of that size after the swap.
        let spec = target.with_dims(embedder.dims());
        let target_id = spec.id();

        db.set_setting(TARGET_SETTING, &target_id).await?;
        db.set_setting(&dims_setting(&target_id), &spec.dims().to_string())
            .await?;
        db.reembed_keep_only(&target_id).await?;
        let (n_done_before, n_total) = db.reembed_progress(&target_id).await?;
        emit(ReembedEvent::Started {
            target: target_id.clone(),
            n_done: n_done_before,
            n_total,
        });

        // An index folder of the target model can only be stale here (left by an earlier
        // switch away from it that was cut off before deleting it); the new one is built
        // after the swap, so none must be found then.
        let target_index = self
            .paths()
            .data_dir
            .join("index")
            .join(spec.index_folder());
        if target_index.exists() {
            std::fs::remove_dir_all(&target_index).map_err(|source| IndexError::Io {
                path: target_index.clone(),
                source,
            })?;
        }

        let mut n_embedded = 0;
        loop {
            loop {
                if cancel.is_cancelled() {
                    // The staged vectors stay: switching to this model again reuses them.
                    db.delete_setting(TARGET_SETTING).await?;
                    return Err(crate::Error::Cancelled);
                }
                let todo = db.reembed_todo(STEP).await?;
                if todo.is_empty() {
                    break;
                }
                let (chunk_ids, texts): (Vec<i64>, Vec<String>) = todo.into_iter().unzip();
                let vectors = embedder.embed(texts).await?;
                let staged: Vec<(i64, Vec<f32>)> = chunk_ids.into_iter().zip(vectors).collect();
                db.reembed_stage(&target_id, &staged).await?;
                n_embedded += staged.len();
                let (n_done, n_total) = db.reembed_progress(&target_id).await?;
                emit(ReembedEvent::Embedded { n_done, n_total });
            }
            if db.reembed_commit(&target_id).await? {
                break;
            }
        }
        drop(embedder);

        let indexes = self.set_embedding_model(spec);
        let collections = db.collections().await?;
        emit(ReembedEvent::Switched {
            n_collections: collections.len(),
        });
        for collection in &collections {
            indexes.get(db, collection.id).await?;
            emit(ReembedEvent::Indexed {
                collection: collection.name.clone(),
            });
        }
        // Searches still running on the old model hold its indexes in memory; the files go.
        let _ = std::fs::remove_dir_all(
            self.paths()
                .data_dir
                .join("index")
                .join(from.index_folder()),
        );
        Ok(ReembedReport {
            from: from.id(),
            to: target_id.clone(),
            n_embedded,
            n_chunks: db.reembed_progress(&target_id).await?.1,
            n_collections: collections.len(),
        })
    }

    /// Drops a pending switch and the vectors it had made.
    pub async fn abandon_embedding_switch(&self) -> Result<()> {
        let db = self.db();
        db.delete_setting(TARGET_SETTING).await?;
        db.reembed_keep_only(&self.embedding().id()).await?;
        Ok(())
    }
}
