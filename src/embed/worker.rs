//! The thread that owns an [`Embedder`] and serves embedding requests over a channel, so
//! ONNX work never runs on an async runtime's threads.

use tokio::sync::{mpsc, oneshot};

use super::{Embedder, ModelFiles, OnnxEmbedder, RemoteEmbedder};
use crate::error::EmbedError;

type EmbedReply = oneshot::Sender<Result<Vec<Vec<f32>>, EmbedError>>;

/// A thread that owns an [`Embedder`]; cheap to clone, and every clone talks to the same model.
/// The thread ends when the last handle is dropped.
#[derive(Clone)]
pub struct EmbedWorker {
    requests: mpsc::Sender<(Vec<String>, EmbedReply)>,
    model_id: String,
    dims: usize,
}

impl std::fmt::Debug for EmbedWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbedWorker")
            .field("model_id", &self.model_id)
            .finish()
    }
}

impl EmbedWorker {
    /// Starts the thread and builds the embedder on it; returns once the model is loaded.
    pub fn spawn<F>(make: F) -> Result<Self, EmbedError>
    where
        F: FnOnce() -> Result<Box<dyn Embedder>, EmbedError> + Send + 'static,
    {
        // A short queue: producers wait rather than pile up texts in memory.
        let (tx, mut rx) = mpsc::channel::<(Vec<String>, EmbedReply)>(4);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("lectern-embed".into())
            .spawn(move || {
                let mut embedder = match make() {
                    Ok(e) => {
                        let _ = ready_tx.send(Ok((e.model_id().to_owned(), e.dims())));
                        e
                    }
                    Err(err) => {
                        let _ = ready_tx.send(Err(err));
                        return;
                    }
                };
                while let Some((texts, reply)) = rx.blocking_recv() {
                    let _ = reply.send(embedder.embed(&texts));
                }
            })
            .map_err(|e| {
                EmbedError::Inference(format!("cannot start the embedding thread: {e}"))
            })?;
        let (model_id, dims) = ready_rx.recv().map_err(|_| EmbedError::WorkerGone)??;
        Ok(Self {
            requests: tx,
            model_id,
            dims,
        })
    }

    /// Loads the real ONNX model from the models folder on a new worker thread.
    pub fn onnx(files: &ModelFiles) -> Result<Self, EmbedError> {
        let files = files.clone();
        Self::spawn(move || Ok(Box::new(OnnxEmbedder::load(&files)?) as Box<dyn Embedder>))
    }

    /// Connects to an OpenAI-compatible server's `/v1/embeddings` on a new worker thread,
    /// where its blocking HTTP calls belong; see [`RemoteEmbedder::connect`] for `stored_dims`.
    pub fn remote(
        endpoint: crate::llm::Endpoint,
        stored_dims: Option<usize>,
    ) -> Result<Self, EmbedError> {
        Self::spawn(move || {
            Ok(Box::new(RemoteEmbedder::connect(endpoint, stored_dims)?) as Box<dyn Embedder>)
        })
    }

    pub fn model_id(&self) -> &str {
        &self.model_id
    }

    pub fn dims(&self) -> usize {
        self.dims
    }

    pub async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, EmbedError> {
        let (reply_tx, reply_rx) = oneshot::channel();
        self.requests
            .send((texts, reply_tx))
            .await
            .map_err(|_| EmbedError::WorkerGone)?;
        reply_rx.await.map_err(|_| EmbedError::WorkerGone)?
    }

    /// For callers outside an async runtime (benchmarks, the extraction of a single query).
    pub fn embed_blocking(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, EmbedError> {
        let (reply_tx, reply_rx) = oneshot::channel();
        self.requests
            .blocking_send((texts, reply_tx))
            .map_err(|_| EmbedError::WorkerGone)?;
        reply_rx
            .blocking_recv()
            .map_err(|_| EmbedError::WorkerGone)?
    }
}
