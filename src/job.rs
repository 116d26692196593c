//! Long work's one cancel flag: ingest, answers, pre-reads, re-embedding, evaluations and
//! downloads all check the same type, so a shell needs one way to stop any of them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, Result};

/// Set once by whoever wants the work stopped; the work checks it between steps (a file, a
/// batch, a token) and keeps what it finished. Clones share the flag.
#[derive(Debug, Clone, Default)]
pub struct CancelFlag(Arc<AtomicBool>);

impl CancelFlag {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Runs blocking work (a file copy, a model load) off the async threads. A panic in it is a
/// bug, reported as [`Error::Internal`] rather than dressed up as a domain error.
pub async fn blocking<T: Send + 'static>(
    what: &str,
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::Internal(format!("{what} panicked: {e}")))?
}
