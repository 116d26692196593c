//! Long work's one cancel flag: ingest, answers, pre-reads, re-embedding, evaluations and
//! downloads all check the same type, so a shell needs one way to stop any of them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

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
