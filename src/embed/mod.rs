//! Text embeddings: the [`Embedder`] seam, the models Lectern knows, and where the real
//! engine (`onnx`) and the thread that owns a model (`worker`) live.

mod onnx;
mod remote;
mod worker;

pub use onnx::{ModelFiles, OnnxEmbedder};
pub use remote::{RemoteEmbedder, endpoint_model_id};
pub use worker::EmbedWorker;

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

/// The embedding model stored vectors come from (or a switch goes to): one Lectern runs, or
/// an OpenAI-compatible endpoint of the config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmbeddingModel {
    Onnx(&'static EmbeddingModelSpec),
    /// `dims` is what the server returned when the vectors were made; 0 before that.
    Endpoint {
        name: String,
        dims: usize,
    },
}

impl EmbeddingModel {
    /// `id` as the settings and documents record it: a known model's id, or `endpoint:NAME`.
    /// An endpoint's vector size is not known here: see [`EmbeddingModel::with_dims`].
    pub fn parse(id: &str) -> Result<Self, EmbedError> {
        match id.strip_prefix(crate::library::ENDPOINT_PREFIX) {
            Some(name) if !name.is_empty() => Ok(Self::Endpoint {
                name: name.to_owned(),
                dims: 0,
            }),
            _ => embedding_model_spec(id).map(Self::Onnx),
        }
    }

    pub fn with_dims(self, dims: usize) -> Self {
        match self {
            Self::Endpoint { name, .. } => Self::Endpoint { name, dims },
            onnx => onnx,
        }
    }

    pub fn id(&self) -> String {
        match self {
            Self::Onnx(spec) => spec.id.to_owned(),
            Self::Endpoint { name, .. } => endpoint_model_id(name),
        }
    }

    pub fn dims(&self) -> usize {
        match self {
            Self::Onnx(spec) => spec.dims,
            Self::Endpoint { dims, .. } => *dims,
        }
    }

    /// Its folder under `index/`: a name any file system takes.
    pub fn index_folder(&self) -> String {
        match self {
            Self::Onnx(spec) => spec.id.to_owned(),
            Self::Endpoint { name, .. } => format!("endpoint-{name}"),
        }
    }

    /// The local model whose tokenizer the chunker counts with: the model itself, or for an
    /// endpoint the default model (chunks of its 256 tokens fit every embedding server's
    /// window, and the tokenizer is always installed).
    pub fn tokenizer_model(&self) -> &'static str {
        match self {
            Self::Onnx(spec) => spec.id,
            Self::Endpoint { .. } => DEFAULT_MODEL,
        }
    }
}

/// The setting recording the vector size of an endpoint's embeddings, per model id, so that
/// a library opens without asking the server.
pub fn dims_setting(model_id: &str) -> String {
    format!("embedding.dims.{model_id}")
}

/// Turns texts into L2-normalised vectors. Implementations block; run them on an
/// [`EmbedWorker`].
pub trait Embedder: Send {
    fn model_id(&self) -> &str;
    fn dims(&self) -> usize;
    fn embed(&mut self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError>;
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
