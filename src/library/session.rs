//! [`Session`]: what a long-running shell (the app, a server) holds between calls: the open
//! library, the models loaded so far (each on first use, on its own thread), the cancel
//! flags of running jobs and answers, and the rule of one ingest at a time.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use tokio::sync::mpsc::UnboundedSender;

use super::Library;
use super::reembed::{ReembedEvent, ReembedReport};
use crate::answer::Answerer;
use crate::embed::EmbedWorker;
use crate::error::Result;
use crate::extract::ExtractorConfig;
use crate::ids::CollectionId;
use crate::ingest::{IngestEvent, IngestReport, Ingester};
use crate::job::{CancelFlag, blocking};
use crate::llm::LlmWorker;
use crate::retrieve::Retriever;

/// A job's or an answer's id within a session, what a shell's "stop" names.
pub type JobId = u32;

/// What an ingest job reads: files the user gave, or the collection's own sources again
/// ([`Library::reindex`]).
#[derive(Debug, Clone)]
pub enum IngestWork {
    Files {
        paths: Vec<PathBuf>,
        password: Option<String>,
    },
    Reindex,
    /// The collection's followed folders brought in step ([`Library::sync_folders`]);
    /// `retry_failed` when the person asked for it (files that failed before are read again).
    SyncFolders {
        retry_failed: bool,
    },
}

#[derive(Debug)]
pub struct Session {
    library: Library,
    extractor: ExtractorConfig,
    /// The embedding model for ingest; questions use their own copy (`retriever`) so that a
    /// question asked during an ingest does not queue behind its batches. Both are reloaded
    /// when the library's embedding model has changed since they were loaded.
    ingester: tokio::sync::Mutex<Option<Ingester>>,
    retriever: tokio::sync::Mutex<Option<Retriever>>,
    /// Replaced when the user switches models or changes a setting the model loads with.
    llm: tokio::sync::Mutex<Option<LlmWorker>>,
    /// One ingest (or embedding-model switch) at a time: two would fight over the cores and
    /// the same rows.
    ingest_turn: tokio::sync::Mutex<()>,
    jobs: Mutex<HashMap<JobId, CancelFlag>>,
    answers: Mutex<HashMap<JobId, CancelFlag>>,
    /// The embedding-model switch running, if any: at most one.
    reembed_job: Mutex<Option<JobId>>,
    next_id: AtomicU32,
}

impl Session {
    /// `extractor` names the executable PDF extraction runs in (the shell's own binary).
    pub fn new(library: Library, extractor: ExtractorConfig) -> Self {
        Self {
            library,
            extractor,
            ingester: tokio::sync::Mutex::default(),
            retriever: tokio::sync::Mutex::default(),
            llm: tokio::sync::Mutex::default(),
            ingest_turn: tokio::sync::Mutex::default(),
            jobs: Mutex::default(),
            answers: Mutex::default(),
            reembed_job: Mutex::default(),
            next_id: AtomicU32::new(1),
        }
    }

    pub fn library(&self) -> &Library {
        &self.library
    }

    pub async fn ingester(&self) -> Result<Ingester> {
        let (library, extractor) = (self.library.clone(), self.extractor.clone());
        current(
            &self.ingester,
            &self.library,
            Ingester::embedder,
            move || library.ingester(extractor),
        )
        .await
    }

    pub async fn retriever(&self) -> Result<Retriever> {
        let library = self.library.clone();
        current(
            &self.retriever,
            &self.library,
            Retriever::embedder,
            move || library.retriever(),
        )
        .await
    }

    /// An answerer over the selected language model, loading it if needed.
    pub async fn answerer(&self) -> Result<Answerer> {
        let retriever = self.retriever().await?;
        let llm = {
            let mut slot = self.llm.lock().await;
            match slot.as_ref() {
                Some(llm) => llm.clone(),
                None => {
                    let llm = self.library.llm(None).await?;
                    *slot = Some(llm.clone());
                    llm
                }
            }
        };
        Ok(Answerer::new(self.library.db.clone(), retriever, llm))
    }

    /// Makes `file_name` the model answers use and loads it now, so that a model that cannot
    /// load is reported here rather than at the next question. On failure the model that
    /// worked (a file or an endpoint) stays selected.
    pub async fn select_model(&self, file_name: &str) -> Result<()> {
        let previous = self.library.model_choice().await?;
        self.library.select_model(file_name).await?;
        self.load_selected(previous).await
    }

    /// Makes the endpoint `name` the model answers use, once it answers; as
    /// [`Session::select_model`].
    pub async fn select_endpoint(&self, name: &str) -> Result<super::EndpointCheck> {
        let previous = self.library.model_choice().await?;
        let check = self.library.select_endpoint(name).await?;
        self.load_selected(previous).await?;
        Ok(check)
    }

    /// Removes an endpoint; when answers used it, the next one loads the default model.
    pub async fn remove_endpoint(&self, name: &str) -> Result<()> {
        let was_selected = self.library.selected_endpoint().await?.as_deref() == Some(name);
        self.library.remove_endpoint(name).await?;
        if was_selected {
            *self.llm.lock().await = None;
        }
        Ok(())
    }

    /// Loads the model just selected in place of the loaded one; when it cannot load, puts
    /// `previous` (the choice as stored before) back.
    async fn load_selected(&self, previous: Option<String>) -> Result<()> {
        let mut slot = self.llm.lock().await;
        *slot = None;
        match self.library.llm(None).await {
            Ok(llm) => {
                *slot = Some(llm);
                Ok(())
            }
            Err(e) => {
                let _ = self.library.restore_model_choice(previous).await;
                Err(e)
            }
        }
    }

    /// Checks and stores one setting; the next answer loads the model again when the
    /// setting is one the model loads with.
    pub async fn set_setting(&self, key: &str, value: &str) -> Result<crate::answer::LlmSettings> {
        let settings = self.library.set_setting(key, value).await?;
        if crate::settings::spec(key)?.reloads_model {
            *self.llm.lock().await = None;
        }
        Ok(settings)
    }

    /// Runs an ingest in its turn (after any running ingest or switch), with the session's
    /// embedding model.
    pub async fn ingest(
        &self,
        collection_id: CollectionId,
        work: IngestWork,
        progress: Option<UnboundedSender<IngestEvent>>,
        cancel: &CancelFlag,
    ) -> Result<IngestReport> {
        let _turn = self.ingest_turn.lock().await;
        match work {
            IngestWork::Files { paths, password } => Ok(self
                .ingester()
                .await?
                .ingest(collection_id, &paths, password.as_deref(), progress, cancel)
                .await),
            IngestWork::Reindex => {
                let ingester = self.ingester().await?;
                self.library
                    .reindex(&ingester, collection_id, progress, cancel)
                    .await
            }
            IngestWork::SyncFolders { retry_failed } => {
                self.library
                    .sync_folders(
                        || self.ingester(),
                        collection_id,
                        retry_failed,
                        progress,
                        cancel,
                    )
                    .await
            }
        }
    }

    /// Re-embeds every collection with `model` in the ingest turn, then uses it. Questions
    /// keep the old model until the switch completes.
    pub async fn switch_embedding_model(
        &self,
        model: &str,
        progress: Option<UnboundedSender<ReembedEvent>>,
        cancel: &CancelFlag,
    ) -> Result<ReembedReport> {
        let _turn = self.ingest_turn.lock().await;
        self.library
            .switch_embedding_model(model, progress, cancel)
            .await
    }

    fn next_id(&self) -> JobId {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// A new job's id and the flag that [`Self::cancel_job`] sets.
    pub fn start_job(&self) -> (JobId, CancelFlag) {
        let (id, flag) = (self.next_id(), CancelFlag::default());
        lock(&self.jobs).insert(id, flag.clone());
        (id, flag)
    }

    pub fn finish_job(&self, id: JobId) {
        lock(&self.jobs).remove(&id);
        let mut reembed = lock(&self.reembed_job);
        if *reembed == Some(id) {
            *reembed = None;
        }
    }

    pub fn has_jobs(&self) -> bool {
        !lock(&self.jobs).is_empty()
    }

    /// Asks a job to stop after its current step; false when it has already finished.
    pub fn cancel_job(&self, id: JobId) -> bool {
        lock(&self.jobs).get(&id).map(CancelFlag::cancel).is_some()
    }

    /// The running embedding-model switch, if any.
    pub fn reembed_job(&self) -> Option<JobId> {
        *lock(&self.reembed_job)
    }

    /// Starts the embedding-model switch's job (its id and cancel flag), or gives the running
    /// switch's id and no flag.
    pub fn start_reembed_job(&self) -> (JobId, Option<CancelFlag>) {
        let mut reembed = lock(&self.reembed_job);
        if let Some(id) = *reembed {
            return (id, None);
        }
        let (id, flag) = self.start_job();
        *reembed = Some(id);
        (id, Some(flag))
    }

    /// A new answer's id and the flag that [`Self::stop_answer`] sets.
    pub fn start_answer(&self) -> (JobId, CancelFlag) {
        let (id, flag) = (self.next_id(), CancelFlag::default());
        lock(&self.answers).insert(id, flag.clone());
        (id, flag)
    }

    pub fn finish_answer(&self, id: JobId) {
        lock(&self.answers).remove(&id);
    }

    /// Stops an answer within one token; false when it has already finished.
    pub fn stop_answer(&self, id: JobId) -> bool {
        lock(&self.answers)
            .get(&id)
            .map(CancelFlag::cancel)
            .is_some()
    }
}

/// The maps hold only flags, so a panic elsewhere cannot leave them inconsistent.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The loaded ingester or retriever in `slot`, loaded (again) when there is none or its
/// embedding model is no longer the library's.
async fn current<T: Clone + Send + 'static>(
    slot: &tokio::sync::Mutex<Option<T>>,
    library: &Library,
    embedder: fn(&T) -> &EmbedWorker,
    load: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    let mut slot = slot.lock().await;
    let model = library.embedding().id();
    if let Some(loaded) = slot.as_ref().filter(|t| embedder(t).model_id() == model) {
        return Ok(loaded.clone());
    }
    *slot = None;
    let loaded = blocking("embedding model loading", load).await?;
    *slot = Some(loaded.clone());
    Ok(loaded)
}
