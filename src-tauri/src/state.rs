//! What the app holds between commands: the open library, the models loaded so far (each
//! loaded on first use, on its own thread) and the cancel flags of running jobs and answers.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use lectern::answer::Answerer;
use lectern::extract::ExtractorConfig;
use lectern::ingest::Ingester;
use lectern::job::CancelFlag;
use lectern::llm::LlmWorker;
use lectern::retrieve::Retriever;
use lectern::{Error, Library};

#[derive(Debug)]
pub struct App {
    pub library: Library,
    extractor: ExtractorConfig,
    /// The embedding model for ingest; questions use their own copy (`retriever`) so that a
    /// question asked during an ingest does not queue behind its batches. Both are reloaded
    /// when the library's embedding model has changed since they were loaded.
    ingester: tokio::sync::Mutex<Option<Ingester>>,
    retriever: tokio::sync::Mutex<Option<Retriever>>,
    /// Replaced when the user switches models or changes the context size.
    llm: tokio::sync::Mutex<Option<LlmWorker>>,
    /// One ingest at a time: two would fight over the two cores and the same rows.
    pub ingest_turn: tokio::sync::Mutex<()>,
    jobs: Mutex<HashMap<u32, CancelFlag>>,
    answers: Mutex<HashMap<u32, CancelFlag>>,
    /// The embedding-model switch running, if any: at most one.
    reembed_job: Mutex<Option<u32>>,
    next_id: AtomicU32,
}

impl App {
    /// `extractor` names the executable PDF extraction runs in: the app's own binary.
    pub fn new(library: Library, extractor: ExtractorConfig) -> Self {
        Self {
            library,
            extractor,
            ingester: tokio::sync::Mutex::default(),
            retriever: tokio::sync::Mutex::default(),
            llm: tokio::sync::Mutex::new(None),
            ingest_turn: tokio::sync::Mutex::new(()),
            jobs: Mutex::default(),
            answers: Mutex::default(),
            reembed_job: Mutex::default(),
            next_id: AtomicU32::new(1),
        }
    }

    pub fn next_id(&self) -> u32 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    pub async fn ingester(&self) -> Result<Ingester, Error> {
        let (library, extractor) = (self.library.clone(), self.extractor.clone());
        current(
            &self.ingester,
            &self.library,
            Ingester::embedder,
            move || library.ingester(extractor),
        )
        .await
    }

    pub async fn retriever(&self) -> Result<Retriever, Error> {
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
    pub async fn answerer(&self) -> Result<Answerer, Error> {
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
        Ok(Answerer::new(self.library.db().clone(), retriever, llm))
    }

    /// Loads the selected model now (so a bad choice is reported at once) in place of the
    /// current one.
    pub async fn reload_llm(&self) -> Result<(), Error> {
        let mut slot = self.llm.lock().await;
        *slot = None;
        *slot = Some(self.library.llm(None).await?);
        Ok(())
    }

    /// Forgets the loaded model; the next question loads it with the current settings.
    pub async fn unload_llm(&self) {
        *self.llm.lock().await = None;
    }

    pub fn register_job(&self, job_id: u32) -> CancelFlag {
        let flag = CancelFlag::default();
        lock(&self.jobs).insert(job_id, flag.clone());
        flag
    }

    pub fn finish_job(&self, job_id: u32) {
        lock(&self.jobs).remove(&job_id);
    }

    pub fn has_jobs(&self) -> bool {
        !lock(&self.jobs).is_empty()
    }

    /// False when the job has already finished.
    pub fn cancel_job(&self, job_id: u32) -> bool {
        lock(&self.jobs)
            .get(&job_id)
            .map(CancelFlag::cancel)
            .is_some()
    }

    pub fn reembed_job(&self) -> Option<u32> {
        *lock(&self.reembed_job)
    }

    pub fn set_reembed_job(&self, job_id: Option<u32>) {
        *lock(&self.reembed_job) = job_id;
    }

    pub fn register_answer(&self, ask_id: u32) -> CancelFlag {
        let flag = CancelFlag::default();
        lock(&self.answers).insert(ask_id, flag.clone());
        flag
    }

    pub fn finish_answer(&self, ask_id: u32) {
        lock(&self.answers).remove(&ask_id);
    }

    pub fn stop_answer(&self, ask_id: u32) -> bool {
        lock(&self.answers)
            .get(&ask_id)
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
    embedder: fn(&T) -> &lectern::embed::EmbedWorker,
    load: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    let mut slot = slot.lock().await;
    let model = library.embedding_spec().id;
    if let Some(loaded) = slot.as_ref().filter(|t| embedder(t).model_id() == model) {
        return Ok(loaded.clone());
    }
    *slot = None;
    let loaded = blocking(load).await?;
    *slot = Some(loaded.clone());
    Ok(loaded)
}

/// Model loading reads files and builds sessions: off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        Error::Embed(lectern::EmbedError::Load {
            model: "embedding model".into(),
            reason: format!("loading panicked: {e}"),
        })
    })?
}
