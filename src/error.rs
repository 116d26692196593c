//! Error types: one enum per subsystem, joined into [`Error`], each with a stable `code`.

use std::path::{Path, PathBuf};

/// A failure's stable identifier, what shells branch on (never the message). Matched
/// exhaustively at the edges, so a new code cannot slip past a shell unnoticed; `as_str` is
/// the snake_case name the CLI's JSON prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    Io,
    InvalidInput,
    Cancelled,
    NotFound,
    AlreadyExists,
    UnsupportedFormat,
    NotUtf8,
    Empty,
    TooLarge,
    TooMuchText,
    CollectionDeleted,
    PasswordRequired,
    WrongPassword,
    MalformedPdf,
    MalformedDocument,
    ParserFailed,
    ParserCrashed,
    Timeout,
    NoTextLayer,
    GarbledText,
    ExtractorUnavailable,
    EmbedFailed,
    EmbeddingModelChanged,
    StoreFailed,
    ModelMissing,
    RuntimeMissing,
    ModelInvalid,
    Database,
    NewerDatabase,
    Index,
    UnsupportedCpu,
    GenerationFailed,
    PromptTooLong,
    DownloadFailed,
    ChecksumMismatch,
    Internal,
}

impl ErrorCode {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Io => "io",
            Self::InvalidInput => "invalid_input",
            Self::Cancelled => "cancelled",
            Self::NotFound => "not_found",
            Self::AlreadyExists => "already_exists",
            Self::UnsupportedFormat => "unsupported_format",
            Self::NotUtf8 => "not_utf8",
            Self::Empty => "empty",
            Self::TooLarge => "too_large",
            Self::TooMuchText => "too_much_text",
            Self::CollectionDeleted => "collection_deleted",
            Self::PasswordRequired => "password_required",
            Self::WrongPassword => "wrong_password",
            Self::MalformedPdf => "malformed_pdf",
            Self::MalformedDocument => "malformed_document",
            Self::ParserFailed => "parser_failed",
            Self::ParserCrashed => "parser_crashed",
            Self::Timeout => "timeout",
            Self::NoTextLayer => "no_text_layer",
            Self::GarbledText => "garbled_text",
            Self::ExtractorUnavailable => "extractor_unavailable",
            Self::EmbedFailed => "embed_failed",
            Self::EmbeddingModelChanged => "embedding_model_changed",
            Self::StoreFailed => "store_failed",
            Self::ModelMissing => "model_missing",
            Self::RuntimeMissing => "runtime_missing",
            Self::ModelInvalid => "model_invalid",
            Self::Database => "database",
            Self::NewerDatabase => "newer_database",
            Self::Index => "index",
            Self::UnsupportedCpu => "unsupported_cpu",
            Self::GenerationFailed => "generation_failed",
            Self::PromptTooLong => "prompt_too_long",
            Self::DownloadFailed => "download_failed",
            Self::ChecksumMismatch => "checksum_mismatch",
            Self::Internal => "internal",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// So tests and logs can compare with the printed name.
impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// A failure while reading one input file. Every variant names the file, so a message can be
/// shown as is next to that file in a batch.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: unsupported file type (Lectern reads .pdf, .md and .txt)", path.display())]
    UnsupportedFormat { path: PathBuf },
    #[error("{}: not UTF-8 text (invalid byte at offset {offset})", path.display())]
    NotUtf8 { path: PathBuf, offset: usize },
    #[error("{}: the file is empty", path.display())]
    Empty { path: PathBuf },
    #[error("{}: {} MiB is over the limit of {} MiB for a {kind} file", path.display(), n_bytes >> 20, limit >> 20)]
    TooLarge {
        path: PathBuf,
        kind: &'static str,
        n_bytes: u64,
        limit: u64,
    },
    #[error("{}: {n_chars} characters of text is over the limit of {limit} for one document; split it", path.display())]
    TooMuchText {
        path: PathBuf,
        n_chars: usize,
        limit: usize,
    },
    #[error("{}: not stored: its collection was deleted during the ingest", path.display())]
    CollectionDeleted { path: PathBuf },
    #[error("{}: encrypted, a password is needed", path.display())]
    PasswordRequired { path: PathBuf },
    #[error("{}: encrypted, and the password given does not open it", path.display())]
    WrongPassword { path: PathBuf },
    #[error("{}: not a readable PDF: {reason}", path.display())]
    MalformedPdf { path: PathBuf, reason: String },
    /// A Word, EPUB or HTML file that cannot be read: a broken archive, a part missing, an
    /// archive that unpacks to more than Lectern reads.
    #[error("{}: not a readable {kind}: {reason}", path.display())]
    MalformedDocument {
        path: PathBuf,
        kind: &'static str,
        reason: String,
    },
    #[error("{}: the PDF parser gave up: {reason}", path.display())]
    ParserFailed { path: PathBuf, reason: String },
    #[error("{}: the PDF parser crashed ({reason}); the file was skipped", path.display())]
    ParserCrashed { path: PathBuf, reason: String },
    #[error("{}: text extraction took longer than {secs} s and was stopped", path.display())]
    Timeout { path: PathBuf, secs: u64 },
    #[error("{}: no text in its {n_pages} pages: {ocr}", path.display())]
    NoTextLayer {
        path: PathBuf,
        n_pages: usize,
        /// Why OCR did not give it text.
        ocr: String,
    },
    #[error("{}: the text layer is unreadable ({reason}): {ocr}", path.display())]
    GarbledText {
        path: PathBuf,
        reason: String,
        /// Why OCR did not replace it.
        ocr: String,
    },
    #[error("{}: the text extractor could not be started: {reason}", path.display())]
    ExtractorUnavailable { path: PathBuf, reason: String },
    #[error("{}: {source}", path.display())]
    Embed { path: PathBuf, source: EmbedError },
    #[error("{}: not stored: {source}", path.display())]
    Store { path: PathBuf, source: DbError },
    #[error("{}: cancelled", path.display())]
    Cancelled { path: PathBuf },
}

impl IngestError {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Io { .. } => ErrorCode::Io,
            Self::UnsupportedFormat { .. } => ErrorCode::UnsupportedFormat,
            Self::NotUtf8 { .. } => ErrorCode::NotUtf8,
            Self::Empty { .. } => ErrorCode::Empty,
            Self::TooLarge { .. } => ErrorCode::TooLarge,
            Self::TooMuchText { .. } => ErrorCode::TooMuchText,
            Self::CollectionDeleted { .. } => ErrorCode::CollectionDeleted,
            Self::PasswordRequired { .. } => ErrorCode::PasswordRequired,
            Self::WrongPassword { .. } => ErrorCode::WrongPassword,
            Self::MalformedPdf { .. } => ErrorCode::MalformedPdf,
            Self::MalformedDocument { .. } => ErrorCode::MalformedDocument,
            Self::ParserFailed { .. } => ErrorCode::ParserFailed,
            Self::ParserCrashed { .. } => ErrorCode::ParserCrashed,
            Self::Timeout { .. } => ErrorCode::Timeout,
            Self::NoTextLayer { .. } => ErrorCode::NoTextLayer,
            Self::GarbledText { .. } => ErrorCode::GarbledText,
            Self::ExtractorUnavailable { .. } => ErrorCode::ExtractorUnavailable,
            Self::Embed { .. } => ErrorCode::EmbedFailed,
            Self::Store {
                source: DbError::EmbeddingModelChanged { .. },
                ..
            } => ErrorCode::EmbeddingModelChanged,
            Self::Store { .. } => ErrorCode::StoreFailed,
            Self::Cancelled { .. } => ErrorCode::Cancelled,
        }
    }

    /// Whether the file's bytes themselves are the reason (reading them again gives the same
    /// error), rather than the moment (a model, the disk, a cancel): a followed folder's
    /// automatic syncs do not read such a file again until it changes.
    pub fn is_in_the_file(&self) -> bool {
        match self {
            Self::UnsupportedFormat { .. }
            | Self::NotUtf8 { .. }
            | Self::Empty { .. }
            | Self::TooLarge { .. }
            | Self::TooMuchText { .. }
            | Self::PasswordRequired { .. }
            | Self::WrongPassword { .. }
            | Self::MalformedPdf { .. }
            | Self::MalformedDocument { .. }
            | Self::ParserFailed { .. }
            | Self::ParserCrashed { .. }
            | Self::Timeout { .. }
            | Self::NoTextLayer { .. }
            | Self::GarbledText { .. } => true,
            Self::Io { .. }
            | Self::CollectionDeleted { .. }
            | Self::ExtractorUnavailable { .. }
            | Self::Embed { .. }
            | Self::Store { .. }
            | Self::Cancelled { .. } => false,
        }
    }

    pub fn path(&self) -> &Path {
        match self {
            Self::Io { path, .. }
            | Self::UnsupportedFormat { path }
            | Self::NotUtf8 { path, .. }
            | Self::Empty { path }
            | Self::TooLarge { path, .. }
            | Self::TooMuchText { path, .. }
            | Self::CollectionDeleted { path }
            | Self::PasswordRequired { path }
            | Self::WrongPassword { path }
            | Self::MalformedPdf { path, .. }
            | Self::MalformedDocument { path, .. }
            | Self::ParserFailed { path, .. }
            | Self::ParserCrashed { path, .. }
            | Self::Timeout { path, .. }
            | Self::NoTextLayer { path, .. }
            | Self::GarbledText { path, .. }
            | Self::ExtractorUnavailable { path, .. }
            | Self::Embed { path, .. }
            | Self::Store { path, .. }
            | Self::Cancelled { path } => path,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("embedding model file missing: {}", .0.display())]
    ModelMissing(PathBuf),
    #[error("ONNX Runtime could not be loaded from {}: {reason}", path.display())]
    Runtime { path: PathBuf, reason: String },
    #[error("embedding model {model} could not be loaded: {reason}")]
    Load { model: String, reason: String },
    #[error("embedding failed: {0}")]
    Inference(String),
    #[error("tokenizer {}: {reason}", path.display())]
    Tokenizer { path: PathBuf, reason: String },
    #[error(transparent)]
    Damaged(#[from] crate::models::DamagedModel),
    #[error("the embedding worker has stopped")]
    WorkerGone,
    #[error("no embedding model {0:?}; Lectern knows {known} and endpoint:NAME for an endpoint added with `lectern models add-endpoint`", known = crate::embed::EMBEDDING_MODELS.map(|m| m.id).join(", "))]
    UnknownModel(String),
    #[error("embedding endpoint {name} ({url}): {reason}")]
    Endpoint {
        name: String,
        url: String,
        reason: String,
    },
}

impl EmbedError {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::ModelMissing(_) => ErrorCode::ModelMissing,
            Self::Runtime { .. } => ErrorCode::RuntimeMissing,
            Self::Load { .. } | Self::Tokenizer { .. } | Self::Damaged(_) => {
                ErrorCode::ModelInvalid
            }
            Self::Inference(_) | Self::WorkerGone | Self::Endpoint { .. } => ErrorCode::EmbedFailed,
            Self::UnknownModel(_) => ErrorCode::InvalidInput,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database {}: {source}", path.display())]
    Open { path: PathBuf, source: sqlx::Error },
    #[error(
        "database {}: made by a newer Lectern (schema {found}; this version knows up to {supported}); it was left untouched: update Lectern to open it",
        path.display()
    )]
    NewerSchema {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("no collection named {0:?}")]
    NoSuchCollection(String),
    #[error("no collection with id {0}")]
    NoSuchCollectionId(crate::ids::CollectionId),
    #[error("a collection named {0:?} already exists")]
    CollectionExists(String),
    #[error("collection names must not be empty")]
    EmptyName,
    #[error("no document {0:?} in this collection")]
    NoSuchDocument(String),
    #[error("{0:?} matches several documents; use the document id")]
    AmbiguousDocument(String),
    #[error("no chat with id {0}")]
    NoSuchChat(crate::ids::ChatId),
    #[error("no answer with id {0}")]
    NoSuchMessage(crate::ids::MessageId),
    #[error("this collection does not follow {0:?}")]
    NoSuchFolder(String),
    #[error("this collection already follows {0:?}")]
    FolderFollowed(String),
    #[error("the embedding model is now {active}, but this was embedded with {used}; add it again")]
    EmbeddingModelChanged { used: String, active: String },
}

impl DbError {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Open { .. } | Self::Migrate(_) | Self::Sqlx(_) => ErrorCode::Database,
            Self::NewerSchema { .. } => ErrorCode::NewerDatabase,
            Self::NoSuchCollection(_)
            | Self::NoSuchCollectionId(_)
            | Self::NoSuchDocument(_)
            | Self::NoSuchChat(_)
            | Self::NoSuchMessage(_)
            | Self::NoSuchFolder(_) => ErrorCode::NotFound,
            Self::CollectionExists(_) | Self::FolderFollowed(_) => ErrorCode::AlreadyExists,
            Self::EmptyName | Self::AmbiguousDocument(_) => ErrorCode::InvalidInput,
            Self::EmbeddingModelChanged { .. } => ErrorCode::EmbeddingModelChanged,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("vector index {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("vector index could not be written: {0}")]
    Dump(String),
    #[error("vector index thread could not be started: {0}")]
    Thread(String),
    #[error("the vector index thread has stopped")]
    WorkerGone,
    #[error(transparent)]
    Db(Box<DbError>),
}

impl IndexError {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Db(e) => e.code(),
            _ => ErrorCode::Index,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("language model file missing: {}", .0.display())]
    ModelMissing(PathBuf),
    #[error("no language model in {}", .0.display())]
    NoModel(PathBuf),
    #[error("{}: not a usable GGUF model: {source}", path.display())]
    NotGguf {
        path: PathBuf,
        source: crate::gguf::GgufError,
    },
    #[error("{}: llama.cpp could not load the model: {reason}", path.display())]
    Load { path: PathBuf, reason: String },
    #[error(transparent)]
    Damaged(#[from] crate::models::DamagedModel),
    #[error("this CPU lacks {0}, which this build of Lectern's generation engine needs")]
    UnsupportedCpu(String),
    #[error("llama.cpp: {0}")]
    Backend(String),
    /// An OpenAI-compatible server used as the model failed: unreachable, refused, an error
    /// status, or an answer cut off. The chat is left as it was.
    #[error("language model endpoint {name} ({url}): {reason}")]
    Endpoint {
        name: String,
        url: String,
        reason: String,
    },
    /// The config file names no endpoint of this name.
    #[error("no language model endpoint named {0:?}")]
    NoEndpoint(String),
    #[error("chat template: {0}")]
    Template(String),
    #[error("generation failed: {0}")]
    Decode(String),
    #[error(
        "the prompt needs {n_tokens} tokens but only {n_ctx} are available; shorten the question or raise the context size"
    )]
    PromptTooLong { n_tokens: usize, n_ctx: usize },
    #[error("the model thread has stopped")]
    WorkerGone,
    #[error("{url}: download failed: {reason}")]
    Download { url: String, reason: String },
    #[error("{}: SHA-256 is {actual}, expected {expected}; the file was not kept", path.display())]
    Checksum {
        path: PathBuf,
        expected: String,
        actual: String,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl LlmError {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::ModelMissing(_) | Self::NoModel(_) => ErrorCode::ModelMissing,
            Self::NotGguf { .. } | Self::Load { .. } | Self::Damaged(_) => ErrorCode::ModelInvalid,
            Self::UnsupportedCpu(_) => ErrorCode::UnsupportedCpu,
            Self::Backend(_)
            | Self::Template(_)
            | Self::Decode(_)
            | Self::WorkerGone
            | Self::Endpoint { .. } => ErrorCode::GenerationFailed,
            Self::NoEndpoint(_) => ErrorCode::NotFound,
            Self::PromptTooLong { .. } => ErrorCode::PromptTooLong,
            Self::Download { .. } => ErrorCode::DownloadFailed,
            Self::Checksum { .. } => ErrorCode::ChecksumMismatch,
            Self::Io { .. } => ErrorCode::Io,
        }
    }
}

/// Which of the two models (with its runtime) a message is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    /// The embedding model or ONNX Runtime: only `scripts/setup.sh` installs them.
    Embedding,
    /// A GGUF: installed by `scripts/setup.sh`, or imported by the user.
    Language,
}

/// Any failure of the core.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error(transparent)]
    Embed(#[from] EmbedError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Llm(#[from] LlmError),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A value from the user (a setting, a rating, a question, a path) that cannot be used;
    /// the message names it and why.
    #[error("{0}")]
    InvalidInput(String),
    /// The user stopped the work; what it finished is kept.
    #[error("cancelled")]
    Cancelled,
    /// A bug, not the user's input: a worker thread panicked.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// What is missing when the models folder lacks a model this needs: each shell words
    /// its own way to get one (a command, a button).
    pub fn missing_model(&self) -> Option<ModelKind> {
        match self {
            Self::Embed(EmbedError::ModelMissing(_) | EmbedError::Runtime { .. }) => {
                Some(ModelKind::Embedding)
            }
            Self::Llm(LlmError::ModelMissing(_) | LlmError::NoModel(_)) => {
                Some(ModelKind::Language)
            }
            _ => None,
        }
    }

    /// A short, stable identifier that shells may branch on; never match on messages.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Ingest(e) => e.code(),
            Self::Embed(e) => e.code(),
            Self::Db(e) => e.code(),
            Self::Index(e) => e.code(),
            Self::Llm(e) => e.code(),
            Self::Io { .. } => ErrorCode::Io,
            Self::InvalidInput(_) => ErrorCode::InvalidInput,
            Self::Cancelled => ErrorCode::Cancelled,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Self::Db(DbError::Sqlx(e))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
