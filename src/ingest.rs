//! The ingest job: files in, documents with embedded chunks out, one transaction per
//! document. Extraction and chunking of the next file overlap embedding of the current one.

use crate::ids::{CollectionId, DocumentId};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::chunk::{Chunk, Chunker};
use crate::embed::{BATCH_SIZE, EmbedWorker};
use crate::error::{DbError, IngestError};
use crate::extract::{self, ExtractorConfig};
use crate::index::IndexSet;
use crate::job::CancelFlag;
use crate::models::sha256_file;
use crate::store::{Db, DocFormat, NewChunk, NewDocument};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileStatus {
    Indexed,
    Skipped,
    Failed,
}

impl FileStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Indexed => "indexed",
            Self::Skipped => "skipped",
            Self::Failed => "failed",
        }
    }
}

/// What became of one input file.
#[derive(Debug)]
pub struct FileOutcome {
    pub path: PathBuf,
    pub status: FileStatus,
    pub document_id: Option<DocumentId>,
    pub n_pages: Option<usize>,
    pub n_chunks: usize,
    pub error: Option<IngestError>,
}

/// Progress of an ingest job, in the order it happens. `file_idx` indexes the file list
/// announced by [`IngestEvent::Planned`].
#[derive(Debug)]
pub enum IngestEvent {
    Planned {
        files: Vec<PathBuf>,
        /// Each file's size, in `files` order.
        file_bytes: Vec<u64>,
        total_bytes: u64,
    },
    Extracting {
        file_idx: usize,
    },
    /// Pages of a PDF read by OCR so far, of those without usable text.
    Ocr {
        file_idx: usize,
        n_done: usize,
        n_pages: usize,
    },
    Chunked {
        file_idx: usize,
        n_pages: Option<usize>,
        n_chunks: usize,
    },
    Embedded {
        file_idx: usize,
        n_done: usize,
        n_chunks: usize,
    },
    Finished {
        file_idx: usize,
        status: FileStatus,
        /// Why the file failed, so a shell can show it at once rather than at the end.
        error: Option<FileError>,
    },
}

/// A failed file's error as a shell shows it: [`IngestError::code`] and its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    pub code: crate::error::ErrorCode,
    pub message: String,
}

impl From<&IngestError> for FileError {
    fn from(e: &IngestError) -> Self {
        Self {
            code: e.code(),
            message: e.to_string(),
        }
    }
}

/// Wall time spent in each stage, summed over files. Stages overlap, so the sum can exceed
/// the total.
#[derive(Debug, Clone, Copy, Default)]
pub struct StageTimings {
    pub read: Duration,
    pub extract: Duration,
    pub chunk: Duration,
    pub embed: Duration,
    pub store: Duration,
    pub total: Duration,
}

#[derive(Debug, Default)]
pub struct IngestReport {
    pub files: Vec<FileOutcome>,
    pub timings: StageTimings,
    /// A followed folders' sync only: documents removed because their file was deleted
    /// (their source paths).
    pub removed: Vec<PathBuf>,
    /// Documents whose file moved with its bytes unchanged (from, to): kept, not read again.
    pub moved: Vec<(PathBuf, PathBuf)>,
    /// Followed folders that were not there (or a mount point without its disk): their
    /// documents were kept.
    pub missing_folders: Vec<PathBuf>,
    /// Files still being written when the sync gave up waiting: the next sync reads them.
    pub unsettled: Vec<PathBuf>,
    /// Files that could not be read before (a reason in their bytes) and have not changed
    /// since: left alone by an automatic sync.
    pub failed_before: Vec<PathBuf>,
}

impl IngestReport {
    pub fn count(&self, status: FileStatus) -> usize {
        self.files.iter().filter(|f| f.status == status).count()
    }
}

/// Everything an ingest needs: the database, a loaded embedding model and its chunker.
#[derive(Debug, Clone)]
pub struct Ingester {
    db: Db,
    embedder: EmbedWorker,
    chunker: Arc<Chunker>,
    extractor: ExtractorConfig,
    indexes: Option<IndexSet>,
}

/// A file read, extracted and chunked, waiting to be embedded.
struct Prepared {
    file_idx: usize,
    path: PathBuf,
    format: DocFormat,
    content_hash: String,
    byte_len: usize,
    mtime_ns: Option<i64>,
    n_pages: Option<usize>,
    n_ocr_pages: usize,
    chunks: Vec<Chunk>,
    /// Each chunk's pages include one read by OCR.
    chunk_ocr: Vec<bool>,
}

enum Stage1 {
    Ready(Prepared),
    Done(usize, FileOutcome),
}

impl Ingester {
    pub fn new(
        db: Db,
        embedder: EmbedWorker,
        chunker: Chunker,
        extractor: ExtractorConfig,
    ) -> Self {
        Self {
            db,
            embedder,
            chunker: Arc::new(chunker),
            extractor,
            indexes: None,
        }
    }

    /// Keeps the collections' vector indexes up to date as documents are stored.
    pub fn with_indexes(mut self, indexes: IndexSet) -> Self {
        self.indexes = Some(indexes);
        self
    }

    pub fn chunker(&self) -> &Chunker {
        &self.chunker
    }

    pub fn embedder(&self) -> &EmbedWorker {
        &self.embedder
    }

    /// Ingests `inputs` (files, or folders searched recursively for .pdf, .md and .txt) into
    /// the collection. A file that fails is reported and the others go on; a document is
    /// stored whole or not at all.
    pub async fn ingest(
        &self,
        collection_id: CollectionId,
        inputs: &[PathBuf],
        password: Option<&str>,
        progress: Option<mpsc::UnboundedSender<IngestEvent>>,
        cancel: &CancelFlag,
    ) -> IngestReport {
        let started = Instant::now();
        let emit = |event| {
            if let Some(tx) = &progress {
                let _ = tx.send(event);
            }
        };
        let files = expand_inputs(inputs);
        // Sizes let a shell weigh each file's share of the work (0 for an unreadable one).
        let file_bytes: Vec<u64> = files
            .iter()
            .map(|f| std::fs::metadata(f).map_or(0, |m| m.len()))
            .collect();
        emit(IngestEvent::Planned {
            files: files.clone(),
            total_bytes: file_bytes.iter().sum(),
            file_bytes,
        });

        let mut timings = StageTimings::default();
        let mut outcomes: Vec<Option<FileOutcome>> = files.iter().map(|_| None).collect();
        // One file waits while another is embedded: enough to hide extraction, little memory.
        let (ready_tx, mut ready_rx) = mpsc::channel::<Stage1>(1);

        let producer = async {
            let mut t = StageTimings::default();
            let mut collection_deleted = false;
            for (file_idx, path) in files.iter().enumerate() {
                // Deleting the collection ends the ingest: the files left are not even read.
                collection_deleted =
                    collection_deleted || !self.collection_exists(collection_id).await;
                let item = if collection_deleted {
                    Stage1::Done(
                        file_idx,
                        failed(path, IngestError::CollectionDeleted { path: path.clone() }),
                    )
                } else if cancel.is_cancelled() {
                    Stage1::Done(
                        file_idx,
                        failed(path, IngestError::Cancelled { path: path.clone() }),
                    )
                } else {
                    emit(IngestEvent::Extracting { file_idx });
                    match self
                        .prepare(
                            file_idx,
                            path,
                            collection_id,
                            password,
                            &emit,
                            cancel,
                            &mut t,
                        )
                        .await
                    {
                        Ok(Stage1::Ready(p)) => {
                            emit(IngestEvent::Chunked {
                                file_idx,
                                n_pages: p.n_pages,
                                n_chunks: p.chunks.len(),
                            });
                            Stage1::Ready(p)
                        }
                        Ok(done) => done,
                        Err(e) => Stage1::Done(file_idx, failed(path, e)),
                    }
                };
                if ready_tx.send(item).await.is_err() {
                    break;
                }
            }
            drop(ready_tx);
            t
        };
        let consumer = async {
            let mut t = StageTimings::default();
            let mut done = Vec::new();
            while let Some(item) = ready_rx.recv().await {
                let (file_idx, outcome) = match item {
                    Stage1::Done(file_idx, outcome) => (file_idx, outcome),
                    Stage1::Ready(p) => {
                        let file_idx = p.file_idx;
                        let path = p.path.clone();
                        match self
                            .embed_and_store(p, collection_id, &emit, cancel, &mut t)
                            .await
                        {
                            Ok(outcome) => (file_idx, outcome),
                            Err(e) => (file_idx, failed(&path, e)),
                        }
                    }
                };
                emit(IngestEvent::Finished {
                    file_idx,
                    status: outcome.status,
                    error: outcome.error.as_ref().map(FileError::from),
                });
                done.push((file_idx, outcome));
            }
            (t, done)
        };
        let (t1, (t2, done)) = tokio::join!(producer, consumer);
        if let Some(indexes) = &self.indexes
            && done.iter().any(|(_, o)| o.status == FileStatus::Indexed)
            && self.collection_exists(collection_id).await
        {
            // The index is a cache of SQLite: if any of this fails, the next open reconciles.
            if let Ok(index) = indexes.get(&self.db, collection_id).await {
                let _ = index.compact_if_needed(&self.db, collection_id, true).await;
                let _ = index.save().await;
            }
        }
        for (file_idx, outcome) in done {
            outcomes[file_idx] = Some(outcome);
        }
        timings.read = t1.read;
        timings.extract = t1.extract;
        timings.chunk = t1.chunk;
        timings.embed = t2.embed;
        timings.store = t2.store;
        timings.total = started.elapsed();
        IngestReport {
            files: outcomes.into_iter().flatten().collect(),
            timings,
            ..IngestReport::default()
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn prepare(
        &self,
        file_idx: usize,
        path: &Path,
        collection_id: CollectionId,
        password: Option<&str>,
        emit: &(impl Fn(IngestEvent) + Sync),
        cancel: &CancelFlag,
        t: &mut StageTimings,
    ) -> Result<Stage1, IngestError> {
        let io_err = |source| IngestError::Io {
            path: path.to_owned(),
            source,
        };
        // A missing file is "cannot read", whatever its name says its format is.
        // The mtime is taken before the bytes are read: a write in between leaves a stored
        // mtime older than the file's, so the next rescan of a followed folder reads it again.
        let metadata = tokio::fs::metadata(path).await.map_err(io_err)?;
        let (n_bytes, mtime_ns) = (metadata.len(), mtime_ns(&metadata));
        let format = extract::detect_format(path)?;
        extract::check_size(path, format, n_bytes)?;
        let clock = Instant::now();
        // Hashed in blocks: a PDF's bytes are only ever held whole by the extraction worker.
        let hashed_path = path.to_owned();
        let content_hash = tokio::task::spawn_blocking(move || sha256_file(&hashed_path))
            .await
            .map_err(|e| io_err(std::io::Error::other(e)))?
            .map_err(io_err)?;
        let byte_len = usize::try_from(n_bytes).unwrap_or(usize::MAX);
        t.read += clock.elapsed();
        let store_err = |source| IngestError::Store {
            path: path.to_owned(),
            source,
        };
        if let Some(existing) = self
            .db
            .document_by_hash(collection_id, &content_hash)
            .await
            .map_err(store_err)?
        {
            return Ok(Stage1::Done(
                file_idx,
                skipped(path, Some(existing.id), existing.n_pages, existing.n_chunks),
            ));
        }

        let clock = Instant::now();
        let ocr_language = self
            .db
            .collection_by_id(collection_id)
            .await
            .map_err(store_err)?
            .ocr_language;
        let on_ocr = |n_done, n_pages| {
            emit(IngestEvent::Ocr {
                file_idx,
                n_done,
                n_pages,
            });
        };
        let options = extract::ExtractOptions {
            password,
            ocr_language: Some(&ocr_language),
            on_ocr: &on_ocr,
            cancel: Some(cancel),
        };
        let text = extract::extract(&self.extractor, path, format, options).await?;
        t.extract += clock.elapsed();

        let clock = Instant::now();
        let chunker = Arc::clone(&self.chunker);
        let n_pages = text.is_paged().then_some(text.pages.len());
        let n_ocr_pages = text.n_ocr_pages();
        let (chunks, chunk_ocr) = tokio::task::spawn_blocking(move || {
            let chunks = chunker.chunk(&text);
            let chunk_ocr = chunks
                .iter()
                .map(|c| match (c.first_page, c.last_page) {
                    (Some(first), Some(last)) => (first..=last).any(|p| text.is_ocr_page(p)),
                    _ => false,
                })
                .collect::<Vec<bool>>();
            (chunks, chunk_ocr)
        })
        .await
        .map_err(|e| io_err(std::io::Error::other(e)))?;
        t.chunk += clock.elapsed();
        if chunks.is_empty() {
            return Err(IngestError::Empty {
                path: path.to_owned(),
            });
        }
        Ok(Stage1::Ready(Prepared {
            file_idx,
            path: path.to_owned(),
            format,
            content_hash,
            byte_len,
            mtime_ns,
            n_pages,
            n_ocr_pages,
            chunks,
            chunk_ocr,
        }))
    }

    async fn embed_and_store(
        &self,
        p: Prepared,
        collection_id: CollectionId,
        emit: &(impl Fn(IngestEvent) + Sync),
        cancel: &CancelFlag,
        t: &mut StageTimings,
    ) -> Result<FileOutcome, IngestError> {
        let n_chunks = p.chunks.len();
        let mut vectors = Vec::with_capacity(n_chunks);
        let clock = Instant::now();
        for batch in p.chunks.chunks(BATCH_SIZE) {
            if cancel.is_cancelled() {
                return Err(IngestError::Cancelled { path: p.path });
            }
            // One indexed lookup per batch is nothing beside a second of embedding.
            if !self.collection_exists(collection_id).await {
                return Err(IngestError::CollectionDeleted { path: p.path });
            }
            let texts = batch.iter().map(|c| c.text.clone()).collect();
            let embedded =
                self.embedder
                    .embed(texts)
                    .await
                    .map_err(|source| IngestError::Embed {
                        path: p.path.clone(),
                        source,
                    })?;
            vectors.extend(embedded);
            emit(IngestEvent::Embedded {
                file_idx: p.file_idx,
                n_done: vectors.len(),
                n_chunks,
            });
        }
        t.embed += clock.elapsed();

        let clock = Instant::now();
        let to_i64 = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        let doc = NewDocument {
            collection_id,
            name: p
                .path
                .file_name()
                .map_or_else(|| p.path.to_string_lossy(), |n| n.to_string_lossy())
                .into_owned(),
            source_path: p.path.to_string_lossy().into_owned(),
            format: p.format,
            content_hash: p.content_hash.clone(),
            byte_len: to_i64(p.byte_len),
            n_pages: p.n_pages.map(to_i64),
            n_ocr_pages: to_i64(p.n_ocr_pages),
            embedding_model: self.embedder.model_id().to_owned(),
            source_mtime_ns: p.mtime_ns,
            chunks: p
                .chunks
                .into_iter()
                .zip(vectors)
                .zip(p.chunk_ocr)
                .map(|((c, embedding), ocr)| NewChunk {
                    first_page: c.first_page.map(i64::from),
                    last_page: c.last_page.map(i64::from),
                    char_start: to_i64(c.char_start),
                    char_end: to_i64(c.char_end),
                    n_tokens: to_i64(c.n_tokens),
                    text: c.text,
                    embedding,
                    ocr,
                    section: c.section,
                })
                .collect(),
        };
        let stored = self.db.replace_document(&doc).await;
        t.store += clock.elapsed();
        if let (Ok(stored), Some(indexes)) = (&stored, &self.indexes)
            && let Ok(index) = indexes.get(&self.db, collection_id).await
        {
            let items = stored
                .chunk_ids
                .iter()
                .zip(doc.chunks)
                .map(|(id, c)| (*id, c.embedding))
                .collect();
            let _ = index.insert(items).await;
            let _ = index.remove(stored.replaced_chunk_ids.clone()).await;
        }
        match stored.map(|s| s.document_id) {
            Ok(document_id) => Ok(FileOutcome {
                path: p.path,
                status: FileStatus::Indexed,
                document_id: Some(document_id),
                n_pages: p.n_pages,
                n_chunks,
                error: None,
            }),
            // Another ingest stored the same bytes meanwhile.
            Err(DbError::Sqlx(e)) if crate::store::is_unique_violation(&e) => {
                let existing = self
                    .db
                    .document_by_hash(collection_id, &p.content_hash)
                    .await
                    .ok()
                    .flatten();
                Ok(skipped(
                    &p.path,
                    existing.as_ref().map(|d| d.id),
                    existing.as_ref().and_then(|d| d.n_pages),
                    existing.map_or(0, |d| d.n_chunks),
                ))
            }
            Err(_) if !self.collection_exists(collection_id).await => {
                Err(IngestError::CollectionDeleted { path: p.path })
            }
            Err(source) => Err(IngestError::Store {
                path: p.path,
                source,
            }),
        }
    }

    /// A failed query counts as "exists": storing then reports the real error.
    async fn collection_exists(&self, collection_id: CollectionId) -> bool {
        self.db
            .collection_exists(collection_id)
            .await
            .unwrap_or(true)
    }
}

fn failed(path: &Path, error: IngestError) -> FileOutcome {
    FileOutcome {
        path: path.to_owned(),
        status: FileStatus::Failed,
        document_id: None,
        n_pages: None,
        n_chunks: 0,
        error: Some(error),
    }
}

fn skipped(
    path: &Path,
    document_id: Option<DocumentId>,
    n_pages: Option<i64>,
    n_chunks: i64,
) -> FileOutcome {
    FileOutcome {
        path: path.to_owned(),
        status: FileStatus::Skipped,
        document_id,
        n_pages: n_pages.and_then(|n| usize::try_from(n).ok()),
        n_chunks: usize::try_from(n_chunks).unwrap_or(0),
        error: None,
    }
}

/// Files to ingest, in a stable order: each file named, and every supported file below each
/// folder named (hidden entries skipped). Paths are made absolute so a document keeps one
/// identity however it was named.
pub fn expand_inputs(inputs: &[PathBuf]) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for input in inputs {
        let abs = std::fs::canonicalize(input).unwrap_or_else(|_| input.clone());
        if abs.is_dir() {
            let mut found = Vec::new();
            walk(&abs, &mut found);
            found.sort();
            files.extend(found);
        } else {
            files.push(abs);
        }
    }
    let mut seen = std::collections::HashSet::new();
    files.retain(|f| seen.insert(f.clone()));
    files
}

/// A file's modification time in nanoseconds since the epoch, as a followed folder's rescan
/// compares it; `None` where the file system keeps none.
pub fn mtime_ns(metadata: &std::fs::Metadata) -> Option<i64> {
    let since = metadata
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH);
    since.ok().and_then(|d| i64::try_from(d.as_nanos()).ok())
}

/// Names a folder's walk passes over: hidden files and folders, and the lock files word
/// processors leave beside an open document (`~$report.docx`, `.~lock.report.odt#`).
pub fn is_ignored_name(name: &std::ffi::OsStr) -> bool {
    let name = name.to_string_lossy();
    name.starts_with('.') || name.starts_with("~$")
}

pub(crate) fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if is_ignored_name(&entry.file_name()) {
            continue;
        }
        match entry.file_type() {
            Ok(t) if t.is_dir() => walk(&path, found),
            Ok(t) if t.is_file() && extract::detect_format(&path).is_ok() => found.push(path),
            _ => {}
        }
    }
}
