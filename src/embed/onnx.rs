//! The real embedding engine: a model's files in the models folder, checked against their
//! recorded hashes, run by ONNX Runtime (loaded from the models folder) through fastembed.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use fastembed::{
    InitOptionsUserDefined, OutputKey, Pooling, TextEmbedding, TokenizerFiles,
    UserDefinedEmbeddingModel,
};
use tokenizers::Tokenizer;

use super::{BATCH_SIZE, DEFAULT_MODEL, Embedder, MAX_SEQUENCE_TOKENS, embedding_model_spec};
use crate::error::EmbedError;

const MODEL_FILES: [&str; 5] = [
    "model.onnx",
    "tokenizer.json",
    "config.json",
    "special_tokens_map.json",
    "tokenizer_config.json",
];
const ORT_LIBRARY: &str = "onnxruntime/libonnxruntime.so.1.24.4";

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
