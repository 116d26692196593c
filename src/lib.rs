//! Lectern's core: collections of documents, ingested, chunked, embedded and stored in
//! SQLite. The shells (the `lectern` CLI and the desktop app in `src-tauri/`) only parse, call
//! and present.

pub mod answer;
pub mod chunk;
pub mod embed;
pub mod error;
pub mod eval;
pub mod extract;
pub mod gguf;
pub mod ids;
pub mod index;
pub mod ingest;
pub mod job;
pub mod library;
pub mod llm;
pub mod models;
pub mod paths;
pub mod retrieve;
pub mod settings;
/// Storage is the core's own: shells reach it only through [`Library`] (a tidy test holds
/// them to that). It is public, hidden, for the integration tests and benchmarks that write
/// rows directly (migrations, crash recovery, scale).
#[doc(hidden)]
pub mod store;

pub use answer::{attribution, excerpt, prompt};
pub use error::{
    DbError, EmbedError, Error, ErrorCode, IndexError, IngestError, LlmError, ModelKind, Result,
};
pub use ids::{ChatId, CollectionId, DocumentId, FolderId, MessageId};
pub use library::{Library, Session, reembed};
pub use paths::Paths;
