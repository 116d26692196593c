//! [`FolderWatch`]: file-system notifications (inotify, through `notify`) on every followed
//! folder while a shell runs. It only says which collections to sync: a burst of changes is
//! one sync once the folder has been quiet for [`QUIET`], and the sync itself reads a file
//! only once it has stopped changing. A folder that cannot be watched (its disk is gone) is
//! tried again every [`RETRY`], and synced when it comes back.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use notify::event::{AccessKind, AccessMode, EventKind};
use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc::UnboundedReceiver;

use super::{Folder, Library};
use crate::error::{Error, Result};
use crate::ids::CollectionId;
use crate::ingest::is_ignored_name;

/// How long a collection's folders must be quiet before it is synced.
pub const QUIET: Duration = Duration::from_millis(1500);
/// How often folders that could not be watched are tried again.
pub const RETRY: Duration = Duration::from_secs(20);
const TICK: Duration = Duration::from_millis(250);

enum Message {
    Event(notify::Result<notify::Event>),
    /// The list of followed folders changed.
    Refresh,
    Stop,
}

/// Watches the library's followed folders on its own thread until dropped.
#[derive(Debug)]
pub struct FolderWatch {
    tx: mpsc::Sender<Message>,
}

impl FolderWatch {
    /// Starts watching every folder the library follows. The receiver yields a collection
    /// whenever its folders changed and have been quiet for [`QUIET`] (or came back after
    /// being missing): the shell then syncs it. Must be called within a tokio runtime.
    pub fn start(library: Library) -> Result<(Self, UnboundedReceiver<CollectionId>)> {
        let (tx, rx) = mpsc::channel();
        let (out_tx, out_rx) = tokio::sync::mpsc::unbounded_channel();
        let watcher = {
            let tx = tx.clone();
            notify::recommended_watcher(move |event| {
                let _ = tx.send(Message::Event(event));
            })
            .map_err(|e| Error::Internal(format!("file-system notifications: {e}")))?
        };
        let runtime = tokio::runtime::Handle::current();
        std::thread::Builder::new()
            .name("folder-watch".into())
            .spawn(move || {
                let mut state = State {
                    watcher,
                    watched: Vec::new(),
                    unwatched: Vec::new(),
                    pending: HashMap::new(),
                };
                let load = || runtime.block_on(library.folders(None)).unwrap_or_default();
                state.refresh(load());
                let mut last_retry = Instant::now();
                loop {
                    match rx.recv_timeout(TICK) {
                        Ok(Message::Event(event)) => state.on_event(event),
                        Ok(Message::Refresh) => state.refresh(load()),
                        Ok(Message::Stop) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
                        Err(mpsc::RecvTimeoutError::Timeout) => {}
                    }
                    if last_retry.elapsed() >= RETRY {
                        last_retry = Instant::now();
                        state.retry();
                    }
                    for collection_id in state.quiet() {
                        if out_tx.send(collection_id).is_err() {
                            return;
                        }
                    }
                }
            })
            .map_err(|e| Error::Internal(format!("folder watch thread: {e}")))?;
        Ok((Self { tx }, out_rx))
    }

    /// Reads the list of followed folders again (after a follow or an unfollow).
    pub fn refresh(&self) {
        let _ = self.tx.send(Message::Refresh);
    }
}

impl Drop for FolderWatch {
    fn drop(&mut self) {
        let _ = self.tx.send(Message::Stop);
    }
}

struct State {
    watcher: notify::RecommendedWatcher,
    watched: Vec<Folder>,
    unwatched: Vec<Folder>,
    /// Collections with changes, and when their last change was seen.
    pending: HashMap<CollectionId, Instant>,
}

impl State {
    fn refresh(&mut self, folders: Vec<Folder>) {
        for folder in self.watched.drain(..) {
            let _ = self.watcher.unwatch(Path::new(&folder.path));
        }
        self.unwatched.clear();
        for folder in folders {
            self.watch(folder);
        }
    }

    fn watch(&mut self, folder: Folder) -> bool {
        let path = PathBuf::from(&folder.path);
        if path.is_dir() && self.watcher.watch(&path, RecursiveMode::Recursive).is_ok() {
            self.watched.push(folder);
            true
        } else {
            self.unwatched.push(folder);
            false
        }
    }

    /// Folders that came back are watched and synced; watched ones that went are synced
    /// (which marks them missing) and tried again later.
    fn retry(&mut self) {
        let (gone, still): (Vec<Folder>, Vec<Folder>) = std::mem::take(&mut self.watched)
            .into_iter()
            .partition(|f| !Path::new(&f.path).is_dir());
        self.watched = still;
        for folder in gone {
            let _ = self.watcher.unwatch(Path::new(&folder.path));
            self.pending.insert(folder.collection_id, Instant::now());
            self.unwatched.push(folder);
        }
        for folder in std::mem::take(&mut self.unwatched) {
            let collection_id = folder.collection_id;
            if self.watch(folder) {
                self.pending.insert(collection_id, Instant::now());
            }
        }
    }

    fn on_event(&mut self, event: notify::Result<notify::Event>) {
        let Ok(event) = event else {
            return;
        };
        if event.need_rescan() {
            // The kernel dropped events: every collection is synced.
            for folder in &self.watched {
                self.pending.insert(folder.collection_id, Instant::now());
            }
            return;
        }
        match event.kind {
            // Reading a file (Lectern's own ingest among them) changes nothing; a writer
            // closing one has finished a change.
            EventKind::Access(AccessKind::Close(AccessMode::Write)) => {}
            EventKind::Access(_) => return,
            _ => {}
        }
        for path in &event.paths {
            for folder in &self.watched {
                let Ok(below) = path.strip_prefix(&folder.path) else {
                    continue;
                };
                if below.components().any(|c| is_ignored_name(c.as_os_str())) {
                    continue;
                }
                self.pending.insert(folder.collection_id, Instant::now());
            }
        }
    }

    /// Collections quiet for [`QUIET`] since their last change, now taken off the list.
    fn quiet(&mut self) -> Vec<CollectionId> {
        let ready: Vec<CollectionId> = self
            .pending
            .iter()
            .filter(|(_, last)| last.elapsed() >= QUIET)
            .map(|(id, _)| *id)
            .collect();
        for id in &ready {
            self.pending.remove(id);
        }
        ready
    }
}
