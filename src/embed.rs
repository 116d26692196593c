//! Text embeddings: the [`Embedder`] seam, the real ONNX model behind it, and the worker
//! thread that owns a model and serves requests over a channel.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use fastembed::{
    InitOptionsUserDefined, OutputKey, Pooling, TextEmbedding, TokenizerFiles,
    UserDefinedEmbeddingModel,
};
use tokenizers::Tokenizer;
use tokio::sync::{mpsc, oneshot};

use crate::error::EmbedError;

/// The default embedding model: its folder name under the models folder and its id in the
/// database (documents record which model embedded them).
pub const DEFAULT_MODEL: &str = "all-MiniLM-L6-v2";
/// The setting naming the embedding model every stored vector comes from.
pub const MODEL_SETTING: &str = "embedding.model";
/// The setting naming the model a switch is re-embedding into (absent when none is under way).
pub const TARGET_SETTING: &str = "embedding.target";
/// The model was trained on sequences of up to 256 tokens; longer input only costs time.
pub const MAX_SEQUENCE_TOKENS: usize = 256;
/// Batches of 16–32 are as fast as larger ones and keep memory low (256 took 8–21 GB here).
pub const BATCH_SIZE: usize = 32;

/// An embedding model Lectern can switch to; its folder under the models folder is its `id`.
/// Every model here shares all-MiniLM-L6-v2's tokenizer and has a window of at least
/// [`MAX_SEQUENCE_TOKENS`]: a switch re-embeds the stored passages but never re-chunks them,
/// because the files they came from may be gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbeddingModelSpec {
    pub id: &'static str,
    pub label: &'static str,
    /// What choosing it means, in a sentence for the settings screen.
    pub about: &'static str,
    pub dims: usize,
    /// The graph's output holding the token embeddings, when fastembed cannot tell.
    pub output: Option<&'static str>,
}

/// The embedding models `scripts/setup.sh` installs, the default first.
pub const EMBEDDING_MODELS: [EmbeddingModelSpec; 2] = [
    EmbeddingModelSpec {
        id: DEFAULT_MODEL,
        label: "all-MiniLM-L6-v2",
        about: "6 layers; the default, and the better retrieval of the two",
        dims: 384,
        output: None,
    },
    // Trained on 128-token inputs; its positions go to 512, so Lectern's 256-token chunks
    // need no re-chunking. Measured in docs/BENCHMARKS.md (Embedding models).
    EmbeddingModelSpec {
        id: "paraphrase-MiniLM-L3-v2",
        label: "paraphrase-MiniLM-L3-v2",
        about: "3 layers: indexes about 1.6× faster, but finds clearly fewer of the right passages",
        dims: 384,
        output: Some("onnx::Shape_422"),
    },
];

/// The known embedding model with this id.
pub fn embedding_model_spec(id: &str) -> Result<&'static EmbeddingModelSpec, EmbedError> {
    EMBEDDING_MODELS
        .iter()
        .find(|m| m.id == id)
        .ok_or_else(|| EmbedError::UnknownModel(id.to_owned()))
}

const MODEL_FILES: [&str; 5] = [
    "model.onnx",
    "tokenizer.json",
    "config.json",
    "special_tokens_map.json",
    "tokenizer_config.json",
];
const ORT_LIBRARY: &str = "onnxruntime/libonnxruntime.so.1.24.4";

/// Turns texts into L2-normalised vectors. Implementations block; run them on an
/// [`EmbedWorker`].
pub trait Embedder: Send {
    fn model_id(&self) -> &str;
    fn dims(&self) -> usize;
    fn embed(&mut self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError>;
}

/// The files of an embedding model in the models folder.
#[derive(Debug, Clone)]
pub struct ModelFiles {
    pub name: String,
    pub dir: PathBuf,
    pub runtime_library: PathBuf,
}

impl ModelFiles {
    pub fn new(models_dir: &Path, name: &str) -> Self {
        Self {
            name: name.to_owned(),
            dir: models_dir.join(name),
            runtime_library: models_dir.join(ORT_LIBRARY),
        }
    }

    pub fn default_in(models_dir: &Path) -> Self {
        Self::new(models_dir, DEFAULT_MODEL)
    }

    /// Every file loading the model reads, the runtime library first.
    pub fn required_files(&self) -> Vec<PathBuf> {
        let mut files = vec![self.runtime_library.clone()];
        files.extend(MODEL_FILES.iter().map(|f| self.dir.join(f)));
        files
    }

    fn read(&self, file: &str) -> Result<Vec<u8>, EmbedError> {
        let path = self.dir.join(file);
        std::fs::read(&path).map_err(|_| EmbedError::ModelMissing(path))
    }

    /// Reads a file that is parsed as code or data of the model (the graph, the tokenizer),
    /// checked against its recorded SHA-256 first.
    fn read_verified(&self, file: &str) -> Result<Vec<u8>, EmbedError> {
        let bytes = self.read(file)?;
        let path = self.dir.join(file);
        crate::models::verify_checksum(&path, Some(&bytes))?;
        Ok(bytes)
    }

    /// The model's tokenizer, set up to count tokens the way the chunker needs: no truncation
    /// and no padding.
    pub fn tokenizer(&self) -> Result<Tokenizer, EmbedError> {
        let path = self.dir.join("tokenizer.json");
        if !path.exists() {
            return Err(EmbedError::ModelMissing(path));
        }
        crate::models::verify_checksum(&path, None)?;
        let mut tokenizer = Tokenizer::from_file(&path).map_err(|e| EmbedError::Tokenizer {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        tokenizer
            .with_truncation(None)
            .map_err(|e| EmbedError::Tokenizer {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        tokenizer.with_padding(None);
        Ok(tokenizer)
    }
}

/// ONNX Runtime allows one environment per process, and its library can be loaded only once:
/// keep the first environment that was built and hand out clones.
static ORT_ENVIRONMENT: Mutex<Option<ort::environment::Environment>> = Mutex::new(None);

fn ort_environment(library: &Path) -> Result<ort::environment::Environment, EmbedError> {
    let mut slot = ORT_ENVIRONMENT.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(env) = slot.as_ref() {
        return Ok(env.clone());
    }
    let runtime_err = |reason: String| EmbedError::Runtime {
        path: library.to_owned(),
        reason,
    };
    if !library.exists() {
        return Err(runtime_err("file not found".into()));
    }
    let env = ort::init_from(library)
        .map_err(|e| runtime_err(e.to_string()))?
        .with_name("lectern")
        .build()
        .map_err(|e| runtime_err(e.to_string()))?;
    *slot = Some(env.clone());
    Ok(env)
}

/// all-MiniLM-L6-v2 (or a model of the same shape) run by ONNX Runtime through fastembed.
pub struct OnnxEmbedder {
    model_id: String,
    model: TextEmbedding,
}

impl OnnxEmbedder {
    pub fn load(files: &ModelFiles) -> Result<Self, EmbedError> {
        let onnx = files.read_verified("model.onnx")?;
        let tokenizer_files = TokenizerFiles {
            tokenizer_file: files.read_verified("tokenizer.json")?,
            config_file: files.read("config.json")?,
            special_tokens_map_file: files.read("special_tokens_map.json")?,
            tokenizer_config_file: files.read("tokenizer_config.json")?,
        };
        let env = ort_environment(&files.runtime_library)?;
        let mut model =
            UserDefinedEmbeddingModel::new(onnx, tokenizer_files).with_pooling(Pooling::Mean);
        model.output_key = embedding_model_spec(&files.name)
            .ok()
            .and_then(|spec| spec.output)
            .map(OutputKey::ByName);
        let options = InitOptionsUserDefined::new()
            .with_environment(env)
            .with_max_length(MAX_SEQUENCE_TOKENS);
        let model = TextEmbedding::try_new_from_user_defined(model, options).map_err(|e| {
            EmbedError::Load {
                model: files.name.clone(),
                reason: e.to_string(),
            }
        })?;
        Ok(Self {
            model_id: files.name.clone(),
            model,
        })
    }
}

impl Embedder for OnnxEmbedder {
    fn model_id(&self) -> &str {
        &self.model_id
    }

    fn dims(&self) -> usize {
        384
    }

    fn embed(&mut self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        self.model
            .embed(texts, Some(BATCH_SIZE))
            .map_err(|e| EmbedError::Inference(e.to_string()))
    }
}

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

/// Cosine similarity of two vectors (dot product when both are normalised).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}
