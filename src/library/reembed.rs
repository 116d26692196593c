//! Switching the embedding model: every stored passage is re-embedded in the background while
//! the old vectors and indexes keep serving searches, then the new ones replace them at once.

use tokio::sync::mpsc;

use crate::embed::{
    BATCH_SIZE, EMBEDDING_MODELS, EmbedWorker, EmbeddingModelSpec, ModelFiles, TARGET_SETTING,
    embedding_model_spec,
};
use crate::error::{EmbedError, IndexError, Result};
use crate::job::CancelFlag;
use crate::library::Library;

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

/// An embedding model as the settings screen lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddingChoice {
    pub spec: &'static EmbeddingModelSpec,
    /// All its files are in the models folder.
    pub installed: bool,
    pub active: bool,
}

impl Library {
    /// The embedding models Lectern knows, whether each is installed, and which is in use.
    pub fn embedding_choices(&self) -> Vec<EmbeddingChoice> {
        let active = self.embedding_spec().id;
        EMBEDDING_MODELS
            .iter()
            .map(|spec| EmbeddingChoice {
                spec,
                installed: ModelFiles::new(&self.paths().models_dir, spec.id)
                    .required_files()
                    .iter()
                    .all(|f| f.is_file()),
                active: spec.id == active,
            })
            .collect()
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
        let spec = embedding_model_spec(target)?;
        let from = self.embedding_spec();
        let emit = |event| {
            if let Some(tx) = &progress {
                let _ = tx.send(event);
            }
        };
        let db = self.db();
        if spec.id == from.id {
            self.abandon_embedding_switch().await?;
            return Ok(ReembedReport {
                from: from.id.to_owned(),
                to: from.id.to_owned(),
                n_embedded: 0,
                n_chunks: db.reembed_progress(from.id).await?.1,
                n_collections: 0,
            });
        }
        if spec.dims != from.dims {
            // Every model in EMBEDDING_MODELS has 384; a new one of another size needs the
            // index set to change size too.
            return Err(EmbedError::Load {
                model: spec.id.to_owned(),
                reason: format!(
                    "has {} dimensions, the stored vectors {}",
                    spec.dims, from.dims
                ),
            }
            .into());
        }
        let files = ModelFiles::new(&self.paths().models_dir, spec.id);
        let embedder = tokio::task::spawn_blocking(move || EmbedWorker::onnx(&files))
            .await
            .map_err(|e| EmbedError::Inference(format!("model loading panicked: {e}")))??;

        db.set_setting(TARGET_SETTING, spec.id).await?;
        db.reembed_keep_only(spec.id).await?;
        let (n_done_before, n_total) = db.reembed_progress(spec.id).await?;
        emit(ReembedEvent::Started {
            target: spec.id.to_owned(),
            n_done: n_done_before,
            n_total,
        });

        // An index folder of the target model can only be stale here (left by an earlier
        // switch away from it that was cut off before deleting it); the new one is built
        // after the swap, so none must be found then.
        let target_index = self.paths().data_dir.join("index").join(spec.id);
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
                db.reembed_stage(spec.id, &staged).await?;
                n_embedded += staged.len();
                let (n_done, n_total) = db.reembed_progress(spec.id).await?;
                emit(ReembedEvent::Embedded { n_done, n_total });
            }
            if db.reembed_commit(spec.id).await? {
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
        let _ = std::fs::remove_dir_all(self.paths().data_dir.join("index").join(from.id));
        Ok(ReembedReport {
            from: from.id.to_owned(),
            to: spec.id.to_owned(),
            n_embedded,
            n_chunks: db.reembed_progress(spec.id).await?.1,
            n_collections: collections.len(),
        })
    }

    /// Drops a pending switch and the vectors it had made.
    pub async fn abandon_embedding_switch(&self) -> Result<()> {
        let db = self.db();
        db.delete_setting(TARGET_SETTING).await?;
        db.reembed_keep_only(self.embedding_spec().id).await?;
        Ok(())
    }
}
