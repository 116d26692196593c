//! How the CLI presents core results: human text and progress bars, or JSON Lines. The JSON
//! shapes live here, at the boundary; core types carry no serialisation.

use std::path::Path;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use lectern::Error;
use lectern::db::{Collection, Document, StoredChunk};
use lectern::ingest::{FileOutcome, FileStatus, IngestEvent, IngestReport};
use serde::Serialize;
use tokio::sync::mpsc::UnboundedReceiver;

#[derive(Debug, Clone)]
pub struct Out {
    json: bool,
}

#[derive(Serialize)]
struct ErrorJson<'a> {
    code: &'a str,
    message: String,
}

#[derive(Serialize)]
struct CollectionJson<'a> {
    id: i64,
    name: &'a str,
    documents: i64,
    chunks: i64,
    created_at: i64,
}

#[derive(Serialize)]
struct DocumentJson<'a> {
    id: i64,
    name: &'a str,
    path: &'a str,
    format: &'a str,
    pages: Option<i64>,
    chunks: i64,
    bytes: i64,
    sha256: &'a str,
    embedding_model: &'a str,
    added_at: i64,
}

#[derive(Serialize)]
struct ChunkJson<'a> {
    chunk_id: i64,
    document_id: i64,
    document: &'a str,
    chunk_idx: i64,
    page: Option<i64>,
    last_page: Option<i64>,
    char_start: i64,
    char_end: i64,
    tokens: i64,
    text: &'a str,
}

#[derive(Serialize)]
struct IngestJson<'a> {
    path: &'a Path,
    status: &'a str,
    document_id: Option<i64>,
    pages: Option<usize>,
    chunks: usize,
    error: Option<ErrorJson<'a>>,
}

impl Out {
    pub fn new(json: bool) -> Self {
        Self { json }
    }

    fn line<T: Serialize>(&self, value: &T) {
        match serde_json::to_string(value) {
            Ok(s) => println!("{s}"),
            Err(e) => eprintln!("lectern: cannot write JSON: {e}"),
        }
    }

    pub fn error(&self, e: &Error) {
        if self.json {
            self.line(&serde_json::json!({ "error": ErrorJson { code: e.code(), message: e.to_string() } }));
        } else {
            eprintln!("lectern: {e}");
        }
    }

    pub fn note(&self, message: &str) {
        if !self.json {
            eprintln!("{message}");
        }
    }

    pub fn done(&self, message: &str) {
        if self.json {
            self.line(&serde_json::json!({ "ok": true, "message": message }));
        } else {
            println!("{message}");
        }
    }

    pub fn collection(&self, c: &Collection) {
        if self.json {
            self.line(&CollectionJson {
                id: c.id,
                name: &c.name,
                documents: c.n_documents,
                chunks: c.n_chunks,
                created_at: c.created_at,
            });
        } else {
            println!(
                "{:<24} {:>5} documents {:>7} chunks",
                c.name, c.n_documents, c.n_chunks
            );
        }
    }

    pub fn document(&self, d: &Document) {
        if self.json {
            self.line(&DocumentJson {
                id: d.id,
                name: &d.name,
                path: &d.source_path,
                format: d.format.as_str(),
                pages: d.n_pages,
                chunks: d.n_chunks,
                bytes: d.byte_len,
                sha256: &d.content_hash,
                embedding_model: &d.embedding_model,
                added_at: d.added_at,
            });
        } else {
            let pages = d.n_pages.map_or_else(|| "-".to_owned(), |n| n.to_string());
            println!(
                "{:>5}  {:<40} {:>5} pages {:>6} chunks",
                d.id, d.name, pages, d.n_chunks
            );
        }
    }

    pub fn chunk(&self, d: &Document, c: &StoredChunk) {
        if self.json {
            self.line(&ChunkJson {
                chunk_id: c.id,
                document_id: d.id,
                document: &d.name,
                chunk_idx: c.chunk_idx,
                page: c.first_page,
                last_page: c.last_page,
                char_start: c.char_start,
                char_end: c.char_end,
                tokens: c.n_tokens,
                text: &c.text,
            });
        } else {
            let pages = match (c.first_page, c.last_page) {
                (Some(a), Some(b)) if a != b => format!("pages {a}-{b}"),
                (Some(a), _) => format!("page {a}"),
                _ => String::new(),
            };
            println!(
                "── chunk {} · {} · {} tokens",
                c.chunk_idx, pages, c.n_tokens
            );
            println!("{}\n", c.text);
        }
    }

    pub fn ingest_outcome(&self, o: &FileOutcome) {
        if self.json {
            self.line(&IngestJson {
                path: &o.path,
                status: o.status.as_str(),
                document_id: o.document_id,
                pages: o.n_pages,
                chunks: o.n_chunks,
                error: o.error.as_ref().map(|e| ErrorJson {
                    code: e.code(),
                    message: e.to_string(),
                }),
            });
            return;
        }
        let name = o
            .path
            .file_name()
            .map_or_else(|| o.path.to_string_lossy(), |n| n.to_string_lossy());
        let pages = o
            .n_pages
            .map(|n| format!("{n} pages, "))
            .unwrap_or_default();
        match (&o.status, &o.error) {
            (FileStatus::Indexed, _) => println!("indexed  {name} ({pages}{} chunks)", o.n_chunks),
            (FileStatus::Skipped, _) => println!("skipped  {name} (already in the collection)"),
            (FileStatus::Failed, Some(e)) => println!("failed   {e} [{}]", e.code()),
            (FileStatus::Failed, None) => println!("failed   {name}"),
        }
    }

    pub fn ingest_summary(&self, report: &IngestReport) {
        if self.json {
            return;
        }
        let n_chunks: usize = report
            .files
            .iter()
            .filter(|f| f.status == FileStatus::Indexed)
            .map(|f| f.n_chunks)
            .sum();
        eprintln!(
            "{} indexed, {} skipped, {} failed; {n_chunks} chunks in {:.1} s",
            report.count(FileStatus::Indexed),
            report.count(FileStatus::Skipped),
            report.count(FileStatus::Failed),
            report.timings.total.as_secs_f64()
        );
    }
}

/// Draws ingest progress on stderr (nothing in JSON mode or when stderr is not a terminal).
pub async fn ingest_progress(mut rx: UnboundedReceiver<IngestEvent>, out: Out) {
    let multi = MultiProgress::with_draw_target(if out.json {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    });
    let files_bar = multi.add(ProgressBar::new(0));
    files_bar.set_style(
        ProgressStyle::with_template(
            "{prefix:>9} [{bar:30}] {pos}/{len} files, {elapsed} (ETA {eta}) {wide_msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    files_bar.set_prefix("ingesting");
    let chunks_bar = multi.add(ProgressBar::new(0));
    chunks_bar.set_style(
        ProgressStyle::with_template("{prefix:>9} [{bar:30}] {pos}/{len} chunks {per_sec}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    chunks_bar.set_prefix("embedding");
    files_bar.enable_steady_tick(Duration::from_millis(200));
    let mut files = Vec::new();
    while let Some(event) = rx.recv().await {
        match event {
            IngestEvent::Planned { files: planned, .. } => {
                files_bar.set_length(planned.len() as u64);
                files = planned;
            }
            IngestEvent::Extracting { file_idx } => {
                if let Some(path) = files.get(file_idx) {
                    files_bar.set_message(format!("reading {}", short(path)));
                }
            }
            IngestEvent::Chunked { .. } => {}
            IngestEvent::Embedded {
                file_idx,
                n_done,
                n_chunks,
            } => {
                if let Some(path) = files.get(file_idx) {
                    files_bar.set_message(format!("embedding {}", short(path)));
                }
                if n_done <= crate_batch() {
                    chunks_bar.reset();
                }
                chunks_bar.set_length(n_chunks as u64);
                chunks_bar.set_position(n_done as u64);
            }
            IngestEvent::Finished { .. } => files_bar.inc(1),
        }
    }
    files_bar.finish_and_clear();
    chunks_bar.finish_and_clear();
}

fn crate_batch() -> usize {
    lectern::embed::BATCH_SIZE
}

fn short(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}
