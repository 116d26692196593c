//! The commands the UI calls, one file per feature: each parses its arguments, calls the core
//! (through [`lectern::Session`] and its `Library`) and converts the result to boundary types
//! (`crate::ipc`). Collections, documents and chats are named by id. Long work (ingest,
//! re-index, embedding-model switch, answer evaluation) runs as a job that reports through
//! events or a channel and can be cancelled.

pub mod chats;
pub mod collections;
pub mod embedding;
pub mod folders;
pub mod ingest;
pub mod models;
pub mod settings;

/// A channel for a core job's progress events, and the task that hands each to `send` (which
/// converts and emits it) until the job drops its end.
fn forward_events<E: Send + 'static>(
    send: impl Fn(E) + Send + 'static,
) -> (
    tokio::sync::mpsc::UnboundedSender<E>,
    tauri::async_runtime::JoinHandle<()>,
) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let task = tauri::async_runtime::spawn(async move {
        while let Some(event) = rx.recv().await {
            send(event);
        }
    });
    (tx, task)
}
