//! Shared set-up for the integration tests: paths to models and data, a temporary library,
//! and one embedding model loaded once for the whole test binary.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use lectern::chunk::Chunker;
use lectern::embed::{EmbedWorker, ModelFiles};
use lectern::extract::ExtractorConfig;
use lectern::ingest::{CancelFlag, IngestReport, Ingester};
use lectern::retrieve::Retriever;
use lectern::{Library, Paths};

/// The models folder that `scripts/setup.sh` filled (the README's test command runs it).
pub fn models_dir() -> PathBuf {
    Paths::resolve(None).models_dir
}

pub fn model_files() -> ModelFiles {
    let files = ModelFiles::default_in(&models_dir());
    assert!(
        files.dir.join("model.onnx").exists(),
        "no embedding model in {}: run scripts/setup.sh (the README's test command does)",
        files.dir.display()
    );
    files
}

/// `../shared/data`, beside the checkout.
pub fn shared_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data")
}

pub fn shared_pdf(name: &str) -> PathBuf {
    shared_data().join("pdfs").join(name)
}

pub fn asset(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets")
        .join(name)
}

pub fn embedder() -> EmbedWorker {
    static WORKER: OnceLock<EmbedWorker> = OnceLock::new();
    WORKER
        .get_or_init(|| EmbedWorker::onnx(&model_files()).expect("load the embedding model"))
        .clone()
}

pub fn chunker() -> Chunker {
    Chunker::new(model_files().tokenizer().expect("tokenizer"))
}

pub fn extractor() -> ExtractorConfig {
    ExtractorConfig::new(PathBuf::from(env!("CARGO_BIN_EXE_lectern")))
}

pub struct TestLibrary {
    pub dir: tempfile::TempDir,
    pub library: Library,
    pub ingester: Ingester,
}

impl TestLibrary {
    pub async fn new() -> Self {
        Self::with_extractor(extractor()).await
    }

    pub async fn with_extractor(extractor: ExtractorConfig) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let paths = Paths {
            data_dir: dir.path().to_owned(),
            models_dir: models_dir(),
        };
        let library = Library::open(paths).await.expect("open library");
        let ingester = Ingester::new(library.db().clone(), embedder(), chunker(), extractor)
            .with_indexes(library.indexes().clone());
        Self {
            dir,
            library,
            ingester,
        }
    }

    pub fn retriever(&self) -> Retriever {
        Retriever::new(
            self.library.db().clone(),
            embedder(),
            self.library.indexes().clone(),
        )
    }

    pub async fn collection(&self, name: &str) -> i64 {
        self.library
            .db()
            .create_collection(name)
            .await
            .expect("create collection")
            .id
    }

    pub async fn ingest(
        &self,
        collection_id: i64,
        paths: &[PathBuf],
        password: Option<&str>,
    ) -> IngestReport {
        self.ingester
            .ingest(collection_id, paths, password, None, &CancelFlag::default())
            .await
    }

    /// Writes a file into the library's temporary folder and returns its path.
    pub fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir.path().join("inputs").join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, bytes).expect("write input");
        path
    }
}

/// Lower-case words of letters and digits only, for matching text across extraction quirks
/// (line breaks, hyphenation, typographic quotes).
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}
