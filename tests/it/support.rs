//! Shared set-up for the integration tests: paths to models and data, a temporary library,
//! and one embedding model loaded once for the whole test binary.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use lectern::chunk::Chunker;
use lectern::embed::{EmbedWorker, ModelFiles};
use lectern::extract::ExtractorConfig;
use lectern::ingest::{IngestReport, Ingester};
use lectern::job::CancelFlag;
use lectern::retrieve::Retriever;
use lectern::{CollectionId, Library, Paths};

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

    pub async fn collection(&self, name: &str) -> CollectionId {
        self.library
            .db()
            .create_collection(name)
            .await
            .expect("create collection")
            .id
    }

    pub async fn ingest(
        &self,
        collection_id: CollectionId,
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

/// A PDF written by hand from object bodies (object `n` is `objects[n - 1]`; object 1 is the
/// catalog), with a correct cross-reference table: fixtures that no PDF library would produce.
pub fn pdf_from_objects(objects: &[Vec<u8>]) -> Vec<u8> {
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    let n = objects.len() + 1;
    out.extend_from_slice(format!("xref\n0 {n}\n0000000000 65535 f \n").as_bytes());
    for offset in offsets {
        out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!("trailer\n<< /Size {n} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n").as_bytes(),
    );
    out
}

/// A PDF with one page per entry of `pages`, each line of it set in Helvetica; an empty entry
/// is a page without content.
pub fn text_pdf(pages: &[&str]) -> Vec<u8> {
    let page_obj = |i: usize| 4 + 2 * i;
    let kids: Vec<String> = (0..pages.len())
        .map(|i| format!("{} 0 R", page_obj(i)))
        .collect();
    let mut objects = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        format!(
            "<< /Type /Pages /Kids [{}] /Count {} >>",
            kids.join(" "),
            pages.len()
        )
        .into_bytes(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
            .to_vec(),
    ];
    for (i, text) in pages.iter().enumerate() {
        let mut content = String::from("BT /F1 11 Tf 14 TL 72 740 Td");
        for line in text.lines() {
            let escaped = line
                .replace('\\', "\\\\")
                .replace('(', "\\(")
                .replace(')', "\\)");
            content.push_str(&format!(" ({escaped}) Tj T*"));
        }
        content.push_str(" ET");
        objects.push(
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] \
                 /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>",
                page_obj(i) + 1
            )
            .into_bytes(),
        );
        objects.push(
            format!(
                "<< /Length {} >>\nstream\n{content}\nendstream",
                content.len()
            )
            .into_bytes(),
        );
    }
    pdf_from_objects(&objects)
}

/// Deterministic pseudo-random bytes (xorshift64*), for files of noise.
pub fn noise(n_bytes: usize, mut state: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(n_bytes + 8);
    while out.len() < n_bytes {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        out.extend_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(n_bytes);
    out
}

/// A real paper (Zeileis, "Econometric Computing with HC and HAC Covariance Matrix
/// Estimators", JSS, 21 pages) and a question whose best passages are on page 8.
pub const PAPER: &str = "paper_sandwich_jss.pdf";
pub const QUESTION: &str =
    "How is the bandwidth of the quadratic spectral kernel chosen automatically?";
pub const PAGE: i64 = 8;

/// Counts a token per 4 bytes, like a rough tokenizer.
pub fn rough_count(messages: &[lectern::llm::ChatMessage]) -> Result<usize, lectern::LlmError> {
    Ok(messages
        .iter()
        .map(|m| m.content.len().div_ceil(4) + 4)
        .sum())
}
