//! Followed folders: a collection keeps the supported files below each of its folders in
//! step. A sync (`Library::sync_folders`, run as an ingest job through the session) compares
//! what is on disk with what was ingested, by size and modification time, reading (hashing)
//! only the files where they differ: new files are ingested, changed ones replaced, moved ones
//! keep their chunks under the new path, and deleted ones are removed. A folder that is gone,
//! or a mount point whose disk is gone, keeps its documents ("source missing").
//!
//! Every change is one SQLite transaction, and deletions come last: a sync killed at any point
//! has lost nothing, and the next one finishes the work.

use std::collections::{HashMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc::UnboundedSender;

pub use crate::store::Folder;

use super::Library;
use crate::error::{DbError, Error, Result};
use crate::ids::{CollectionId, DocumentId};
use crate::ingest::{FileStatus, IngestEvent, IngestReport, Ingester, mtime_ns};
use crate::job::{CancelFlag, blocking};
use crate::models::sha256_file;
use crate::store::{Document, FolderFailure};

/// A file modified this recently may still be being written: it is read once it has stayed
/// the same this long.
pub const SETTLE: Duration = Duration::from_secs(1);
/// How long a sync waits for a file that keeps changing before leaving it to the next sync.
pub const SETTLE_WAIT_MAX: Duration = Duration::from_secs(30);

/// A file found below a followed folder.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FoundFile {
    path: PathBuf,
    size: u64,
    mtime_ns: Option<i64>,
}

/// What a folder's rescan found.
enum Scan {
    Files(Vec<FoundFile>),
    /// No folder there (or no disk under the mount point): its documents are kept.
    Missing,
}

impl Library {
    /// Makes the collection follow `dir`: its supported files are ingested by the next sync,
    /// and kept in step after. A folder inside or around one the collection already follows,
    /// or around the data folder, is refused.
    pub async fn follow_folder(&self, collection_id: CollectionId, dir: &Path) -> Result<Folder> {
        self.db.collection_by_id(collection_id).await?;
        let canonical = std::fs::canonicalize(dir).map_err(|source| Error::Io {
            path: dir.to_owned(),
            source,
        })?;
        let metadata = std::fs::metadata(&canonical).map_err(|source| Error::Io {
            path: canonical.clone(),
            source,
        })?;
        if !metadata.is_dir() {
            return Err(Error::InvalidInput(format!(
                "{} is not a folder (to add one file, ingest it)",
                canonical.display()
            )));
        }
        let data_dir = std::fs::canonicalize(&self.paths.data_dir)
            .unwrap_or_else(|_| self.paths.data_dir.clone());
        if data_dir.starts_with(&canonical) || canonical.starts_with(&data_dir) {
            return Err(Error::InvalidInput(format!(
                "{} holds Lectern's own data folder ({}); follow a folder of documents",
                canonical.display(),
                data_dir.display()
            )));
        }
        for followed in self.db.folders(Some(collection_id)).await? {
            let followed_path = Path::new(&followed.path);
            if followed_path == canonical {
                return Err(DbError::FolderFollowed(followed.path).into());
            }
            if canonical.starts_with(followed_path) || followed_path.starts_with(&canonical) {
                return Err(Error::InvalidInput(format!(
                    "{} overlaps {}, which this collection already follows; unfollow that one first",
                    canonical.display(),
                    followed.path
                )));
            }
        }
        let path = canonical.to_string_lossy().into_owned();
        Ok(self
            .db
            .add_folder(collection_id, &path, metadata.dev())
            .await?)
    }

    /// The folders a collection follows, or every collection's.
    pub async fn folders(&self, collection_id: Option<CollectionId>) -> Result<Vec<Folder>> {
        Ok(self.db.folders(collection_id).await?)
    }

    /// The followed folder named by id or path (as given, or canonical while it exists).
    pub async fn folder_named(&self, collection_id: CollectionId, key: &str) -> Result<Folder> {
        let folders = self.db.folders(Some(collection_id)).await?;
        let trimmed = key.trim_end_matches('/');
        let canonical = std::fs::canonicalize(key)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        folders
            .into_iter()
            .find(|f| {
                f.id.to_string() == key
                    || f.path == trimmed
                    || f.path == canonical
                    || std::path::absolute(trimmed).is_ok_and(|p| Path::new(&f.path) == p)
            })
            .ok_or_else(|| DbError::NoSuchFolder(key.to_owned()).into())
    }

    /// Stops following a folder. Its documents stay unless `remove_documents`; returns how
    /// many were removed.
    pub async fn unfollow_folder(&self, folder: &Folder, remove_documents: bool) -> Result<usize> {
        self.db.remove_folder(folder.id).await?;
        if !remove_documents {
            return Ok(0);
        }
        let below: Vec<DocumentId> = self
            .db
            .documents(folder.collection_id)
            .await?
            .iter()
            .filter(|d| is_below(&d.source_path, &folder.path))
            .map(|d| d.id)
            .collect();
        self.remove_documents(folder.collection_id, &below).await?;
        Ok(below.len())
    }

    /// Deletes documents, each in its own transaction, then takes their chunks out of the
    /// vector index once (compacting it if the removals passed the threshold).
    pub(super) async fn remove_documents(
        &self,
        collection_id: CollectionId,
        documents: &[DocumentId],
    ) -> Result<()> {
        if documents.is_empty() {
            return Ok(());
        }
        let mut chunk_ids = Vec::new();
        for id in documents {
            match self.db.delete_document(*id).await {
                Ok(ids) => chunk_ids.extend(ids),
                Err(DbError::NoSuchDocument(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        // The index is a cache of SQLite: if this fails, the next open reconciles it.
        let index = self.indexes().get(&self.db, collection_id).await?;
        index.remove(chunk_ids).await?;
        index
            .compact_if_needed(&self.db, collection_id, true)
            .await?;
        index.save().await?;
        Ok(())
    }

    /// Brings the collection in step with the folders it follows (see the module's text).
    /// The returned report lists the files ingested (new or changed) and, beside them, the
    /// documents moved and removed, the folders found missing and the files still being
    /// written. A file that failed for a reason in its bytes is read again only once it has
    /// changed, or when `retry_failed` (a sync the person asked for). `ingester` loads the
    /// embedding model only when there is something to read: a sync that finds every file
    /// as it was (each start of the app) loads nothing.
    pub async fn sync_folders<F>(
        &self,
        ingester: impl FnOnce() -> F,
        collection_id: CollectionId,
        retry_failed: bool,
        progress: Option<UnboundedSender<IngestEvent>>,
        cancel: &CancelFlag,
    ) -> Result<IngestReport>
    where
        F: std::future::Future<Output = Result<Ingester>>,
    {
        let started = std::time::Instant::now();
        let folders = self.db.folders(Some(collection_id)).await?;
        let documents = self.db.documents(collection_id).await?;
        let by_path: HashMap<&str, &Document> = documents
            .iter()
            .map(|d| (d.source_path.as_str(), d))
            .collect();
        let mut missing_folders = Vec::new();
        let mut found = Vec::new();
        let mut present = Vec::new();
        for folder in &folders {
            let scanned = {
                let (folder, documents) = (folder.clone(), documents.clone());
                blocking("folder scan", move || Ok(scan(&folder, &documents))).await?
            };
            match scanned {
                (Scan::Missing, _) => {
                    self.db.set_folder_state(folder.id, true, false).await?;
                    missing_folders.push(PathBuf::from(&folder.path));
                }
                (Scan::Files(files), device) => {
                    if let Some(device) = device {
                        self.db.set_folder_device(folder.id, device).await?;
                    }
                    found.extend(files);
                    present.push(folder);
                }
            }
        }

        // Files whose size or mtime differ from their document's (or that have none): read
        // once they stop changing.
        let failures: HashMap<String, FolderFailure> = self
            .db
            .folder_failures(collection_id)
            .await?
            .into_iter()
            .map(|f| (f.path.clone(), f))
            .collect();
        let mut failed_before = Vec::new();
        let candidates: Vec<FoundFile> = found
            .iter()
            .filter(|f| {
                by_path
                    .get(f.path.to_string_lossy().as_ref())
                    .is_none_or(|d| {
                        d.source_mtime_ns.is_none()
                            || d.source_mtime_ns != f.mtime_ns
                            || u64::try_from(d.byte_len).ok() != Some(f.size)
                    })
            })
            .filter(|f| {
                let unchanged_failure = failures
                    .get(f.path.to_string_lossy().as_ref())
                    .is_some_and(|failure| {
                        u64::try_from(failure.byte_len).ok() == Some(f.size)
                            && failure.mtime_ns == f.mtime_ns
                    });
                if unchanged_failure && !retry_failed {
                    failed_before.push(f.path.clone());
                }
                !unchanged_failure || retry_failed
            })
            .cloned()
            .collect();
        let (settled, unsettled) = settle(candidates, cancel).await?;

        let mut changed: HashMap<PathBuf, DocumentId> = HashMap::new();
        let mut new_files: Vec<(FoundFile, String)> = Vec::new();
        for file in settled {
            if cancel.is_cancelled() {
                break;
            }
            let hash = {
                let path = file.path.clone();
                blocking("file hashing", move || {
                    sha256_file(&path).map_err(|source| Error::Io { path, source })
                })
                .await
            };
            // A file that cannot be read now is the ingest's to report.
            let hash = hash.unwrap_or_default();
            match by_path.get(file.path.to_string_lossy().as_ref()) {
                Some(doc) if doc.content_hash == hash => {
                    let size = i64::try_from(file.size).unwrap_or(i64::MAX);
                    if let Some(mtime) = file.mtime_ns {
                        self.db.touch_document(doc.id, size, mtime).await?;
                    }
                }
                Some(doc) => {
                    changed.insert(file.path.clone(), doc.id);
                }
                None => new_files.push((file, hash)),
            }
        }

        // Documents below a folder that is there whose file is not (checked on disk, not
        // against the walk: a document added from a hidden folder is no less there).
        let found_paths: HashSet<&Path> = found.iter().map(|f| f.path.as_path()).collect();
        let mut gone: Vec<&Document> = documents
            .iter()
            .filter(|d| present.iter().any(|f| is_below(&d.source_path, &f.path)))
            .filter(|d| {
                let path = Path::new(&d.source_path);
                !found_paths.contains(path) && !path.is_file()
            })
            .collect();

        // A new file with a gone document's bytes is that document moved or renamed.
        let mut moved = Vec::new();
        let mut to_ingest: Vec<PathBuf> = changed.keys().cloned().collect();
        for (file, hash) in new_files {
            let from = gone
                .iter()
                .position(|d| !hash.is_empty() && d.content_hash == hash);
            match from {
                Some(at) if !cancel.is_cancelled() => {
                    let doc = gone.swap_remove(at);
                    let name = file
                        .path
                        .file_name()
                        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
                    let path = file.path.to_string_lossy();
                    let mtime = file.mtime_ns.unwrap_or(0);
                    self.db.move_document(doc.id, &path, &name, mtime).await?;
                    moved.push((PathBuf::from(&doc.source_path), file.path));
                }
                _ => to_ingest.push(file.path),
            }
        }
        to_ingest.sort();

        let mut report = if to_ingest.is_empty() || cancel.is_cancelled() {
            IngestReport::default()
        } else {
            ingester()
                .await?
                .ingest(collection_id, &to_ingest, None, progress, cancel)
                .await
        };

        // Failures in a file's bytes are remembered with its size and mtime; a file read (or
        // found to be another's copy) is forgotten, and so is one no longer there.
        let found_by_path: HashMap<&Path, &FoundFile> =
            found.iter().map(|f| (f.path.as_path(), f)).collect();
        for outcome in &report.files {
            let path = outcome.path.to_string_lossy();
            match (&outcome.error, found_by_path.get(outcome.path.as_path())) {
                (Some(error), Some(file)) if error.is_in_the_file() => {
                    let failure = FolderFailure {
                        path: path.into_owned(),
                        byte_len: i64::try_from(file.size).unwrap_or(i64::MAX),
                        mtime_ns: file.mtime_ns,
                        code: error.code().as_str().to_owned(),
                        message: error.to_string(),
                    };
                    self.db.set_folder_failure(collection_id, &failure).await?;
                }
                (None, _) if failures.contains_key(path.as_ref()) => {
                    self.db.clear_folder_failure(collection_id, &path).await?;
                }
                _ => {}
            }
        }
        for path in failures.keys() {
            if present.iter().any(|f| is_below(path, &f.path))
                && !found_paths.contains(Path::new(path))
            {
                self.db.clear_folder_failure(collection_id, path).await?;
            }
        }

        // A changed file whose new bytes are another document's is that document now: the
        // old one at its path goes.
        let mut removed: Vec<&Document> = Vec::new();
        for outcome in &report.files {
            if let (FileStatus::Skipped, Some(old)) = (outcome.status, changed.get(&outcome.path))
                && outcome.document_id != Some(*old)
                && let Some(doc) = documents.iter().find(|d| d.id == *old)
            {
                removed.push(doc);
            }
        }
        if !cancel.is_cancelled() {
            removed.extend(gone);
        }
        let ids: Vec<DocumentId> = removed.iter().map(|d| d.id).collect();
        self.remove_documents(collection_id, &ids).await?;
        if !cancel.is_cancelled() {
            for folder in present {
                self.db.set_folder_state(folder.id, false, true).await?;
            }
        }
        report.removed = removed
            .iter()
            .map(|d| PathBuf::from(&d.source_path))
            .collect();
        report.moved = moved;
        report.missing_folders = missing_folders;
        report.unsettled = unsettled;
        report.failed_before = failed_before;
        report.timings.total = started.elapsed();
        Ok(report)
    }
}

/// Whether `path` lies below the folder `folder` (both absolute, canonical).
pub fn is_below(path: &str, folder: &str) -> bool {
    Path::new(path).starts_with(folder) && path.len() > folder.len()
}

/// Walks a followed folder for the supported files below it (hidden ones and lock files
/// passed over), with the device it is on now when that differs from the one recorded and
/// the folder is still taken to be there. A folder that is not there, or an empty folder on
/// another device where documents were (a mount point without its disk), is missing.
fn scan(folder: &Folder, documents: &[Document]) -> (Scan, Option<u64>) {
    let Ok(metadata) = std::fs::metadata(&folder.path) else {
        return (Scan::Missing, None);
    };
    if !metadata.is_dir() {
        return (Scan::Missing, None);
    }
    let mut paths = Vec::new();
    crate::ingest::walk(Path::new(&folder.path), &mut paths);
    paths.sort();
    let files: Vec<FoundFile> = paths
        .into_iter()
        .filter_map(|path| {
            let metadata = std::fs::metadata(&path).ok()?;
            Some(FoundFile {
                size: metadata.len(),
                mtime_ns: mtime_ns(&metadata),
                path,
            })
        })
        .collect();
    if metadata.dev() == folder.device {
        return (Scan::Files(files), None);
    }
    // Another file system at the path: the same disk mounted again under another device
    // number holds the documents' files; a bare mount point holds none of them.
    let had_documents = documents
        .iter()
        .any(|d| is_below(&d.source_path, &folder.path));
    let holds_one = files.iter().any(|f| {
        let path = f.path.to_string_lossy();
        documents.iter().any(|d| d.source_path == path)
    });
    if had_documents && !holds_one {
        return (Scan::Missing, None);
    }
    (Scan::Files(files), Some(metadata.dev()))
}

/// Splits files into those that have stopped changing (modified over [`SETTLE`] ago and the
/// same size and mtime when looked at again) and those still being written after
/// [`SETTLE_WAIT_MAX`].
async fn settle(
    mut files: Vec<FoundFile>,
    cancel: &CancelFlag,
) -> Result<(Vec<FoundFile>, Vec<PathBuf>)> {
    let waited_since = std::time::Instant::now();
    let mut settled = Vec::new();
    loop {
        let now = SystemTime::now();
        let mut waiting = Vec::new();
        for file in files {
            let recent = file
                .mtime_ns
                .and_then(|ns| u64::try_from(ns).ok())
                .map(|ns| SystemTime::UNIX_EPOCH + Duration::from_nanos(ns))
                .and_then(|modified| now.duration_since(modified).ok())
                // An mtime in the future (a clock set wrong) says nothing: the second look does.
                .is_some_and(|age| age < SETTLE);
            let again = std::fs::metadata(&file.path).ok().map(|m| FoundFile {
                path: file.path.clone(),
                size: m.len(),
                mtime_ns: mtime_ns(&m),
            });
            match again {
                // Gone meanwhile: its document (if any) is dealt with by the next sync.
                None => {}
                Some(again) if again == file && !recent => settled.push(file),
                Some(again) => waiting.push(again),
            }
        }
        if waiting.is_empty() {
            return Ok((settled, Vec::new()));
        }
        if cancel.is_cancelled() || waited_since.elapsed() >= SETTLE_WAIT_MAX {
            return Ok((settled, waiting.into_iter().map(|f| f.path).collect()));
        }
        files = waiting;
        tokio::time::sleep(SETTLE / 2).await;
    }
}

#[cfg(test)]
mod tests {
    use super::is_below;

    #[test]
    fn below_means_inside_not_beside() {
        assert!(is_below("/docs/a.pdf", "/docs"));
        assert!(is_below("/docs/sub/a.pdf", "/docs"));
        assert!(!is_below("/docs2/a.pdf", "/docs"));
        assert!(!is_below("/docs", "/docs"));
    }
}
