//! The CLI's commands, one file each (or one per group of subcommands): each resolves the
//! names it was given once, calls the core through `Library` or `Session`, and prints through
//! `Out`.

pub mod ask;
pub mod chats;
pub mod collection;
pub mod documents;
pub mod embedding;
pub mod eval;
pub mod feedback;
pub mod folders;
pub mod ingest;
pub mod models;
pub mod prompt;
pub mod search;
pub mod settings;

use lectern::job::CancelFlag;

/// A cancel flag that the next Ctrl-C sets, so the work in hand stops and keeps what it
/// finished; abort the watcher when the work is done (a chat stays up for the next question).
pub fn cancel_on_ctrl_c() -> (CancelFlag, tokio::task::JoinHandle<()>) {
    let cancel = CancelFlag::default();
    let on_ctrl_c = cancel.clone();
    let watcher = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_ctrl_c.cancel();
        }
    });
    (cancel, watcher)
}
