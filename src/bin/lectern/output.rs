//! How the CLI presents core results: human text and progress bars, or JSON Lines. The JSON
//! shapes live here, at the boundary; core types carry no serialisation.

use std::path::Path;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use lectern::Error;
use lectern::eval::EvalReport;
use lectern::ingest::{FileOutcome, FileStatus, IngestEvent, IngestReport};
use lectern::library::{Collection, Document, StoredChunk};
use lectern::retrieve::Passage;
use serde::Serialize;
use tokio::sync::mpsc::UnboundedReceiver;

/// `println!` that ends the program quietly when stdout is closed (`lectern … | head`), where
/// `println!` would panic. The default SIGPIPE action would end it too, but would also kill it
/// when an extraction worker's pipe breaks, so the write is checked instead.
macro_rules! outln {
    () => {
        $crate::output::write_line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::output::write_line(format_args!($($arg)*))
    };
}

mod answer_eval;
mod answers;
mod embedding;
mod folders;

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
    id: lectern::CollectionId,
    name: &'a str,
    documents: i64,
    chunks: i64,
    created_at: i64,
    ocr_language: &'a str,
}

#[derive(Serialize)]
struct DocumentJson<'a> {
    id: lectern::DocumentId,
    name: &'a str,
    path: &'a str,
    format: &'a str,
    pages: Option<i64>,
    ocr_pages: i64,
    chunks: i64,
    bytes: i64,
    sha256: &'a str,
    embedding_model: &'a str,
    added_at: i64,
    /// Its file is no longer where it was read from (its text stays searchable).
    source_missing: bool,
}

#[derive(Serialize)]
struct ChunkJson<'a> {
    chunk_id: i64,
    document_id: lectern::DocumentId,
    document: &'a str,
    chunk_idx: i64,
    page: Option<i64>,
    last_page: Option<i64>,
    char_start: i64,
    char_end: i64,
    tokens: i64,
    text: &'a str,
    ocr: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    section: Option<&'a str>,
}

#[derive(Serialize)]
struct IngestJson<'a> {
    path: &'a Path,
    status: &'a str,
    document_id: Option<lectern::DocumentId>,
    pages: Option<usize>,
    chunks: usize,
    error: Option<ErrorJson<'a>>,
}

#[derive(Serialize)]
pub struct HitJson<'a> {
    rank: usize,
    score: f32,
    document: &'a str,
    document_id: lectern::DocumentId,
    page: Option<i64>,
    last_page: Option<i64>,
    chunk_id: i64,
    text: &'a str,
    /// Drawn from a page read by OCR.
    ocr: bool,
    /// Its section's title (Word, EPUB, HTML), in place of pages.
    #[serde(skip_serializing_if = "Option::is_none")]
    section: Option<&'a str>,
}

/// The shape of `lectern search --json`, which `lectern serve`'s search returns too.
#[derive(Serialize)]
pub struct SearchJson<'a> {
    query: &'a str,
    hits: Vec<HitJson<'a>>,
}

impl<'a> SearchJson<'a> {
    pub fn new(query: &'a str, hits: &'a [Passage]) -> Self {
        Self {
            query,
            hits: hits
                .iter()
                .enumerate()
                .map(|(i, p)| HitJson {
                    rank: i + 1,
                    score: p.score,
                    document: &p.document,
                    document_id: p.document_id,
                    page: p.first_page,
                    last_page: p.last_page,
                    chunk_id: p.chunk_id,
                    text: &p.text,
                    ocr: p.ocr,
                    section: p.section.as_deref(),
                })
                .collect(),
        }
    }
}

#[derive(Serialize)]
struct ModeJson {
    mode: &'static str,
    keyword_weight: Option<f32>,
    k: usize,
    queries: usize,
    recall_at_k: f64,
    success_at_k: f64,
    ndcg_at_10: f64,
    mrr_at_10: f64,
    search_ms_per_query: f64,
}

#[derive(Serialize)]
struct EvalJson {
    passages: usize,
    index_s: f64,
    query_embed_ms_per_query: f64,
    modes: Vec<ModeJson>,
}

/// Where a passage is: its section's title (Word, EPUB, HTML), or its pages.
fn place(first: Option<i64>, last: Option<i64>, section: Option<&str>) -> String {
    if let Some(section) = section {
        return format!("§ {section}");
    }
    match (first, last) {
        (Some(a), Some(b)) if a != b => format!("pages {a}-{b}"),
        (Some(a), _) => format!("page {a}"),
        _ => String::new(),
    }
}

/// Writes one line to stdout; see [`outln!`].
pub fn write_line(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let written = stdout
        .write_fmt(line)
        .and_then(|()| stdout.write_all(b"\n"));
    if let Err(e) = written {
        stop_on_closed_stdout(&e);
    }
}

/// The reader of stdout has gone: nothing more can be shown, so the program ends as
/// `Ctrl-C` would (what was stored stays stored). Other write errors are reported once.
fn stop_on_closed_stdout(e: &std::io::Error) {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("lectern: cannot write to stdout: {e}");
    std::process::exit(1);
}

/// Writes an answer's piece as it streams; see [`outln!`].
pub fn write_piece(piece: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(piece.as_bytes())
        .and_then(|()| stdout.flush())
    {
        stop_on_closed_stdout(&e);
    }
}

impl Out {
    pub fn new(json: bool) -> Self {
        Self { json }
    }

    fn line<T: Serialize>(&self, value: &T) {
        match serde_json::to_string(value) {
            Ok(s) => outln!("{s}"),
            Err(e) => eprintln!("lectern: cannot write JSON: {e}"),
        }
    }

    pub fn error(&self, e: &Error) {
        let message = match e.missing_model() {
            Some(lectern::ModelKind::Embedding) => {
                format!("{e} ({})", lectern::library::SETUP_HINT)
            }
            Some(lectern::ModelKind::Language) => {
                format!("{e} (run scripts/setup.sh, or `lectern models import FILE`)")
            }
            None => e.to_string(),
        };
        if self.json {
            self.line(
                &serde_json::json!({ "error": ErrorJson { code: e.code().as_str(), message } }),
            );
        } else {
            eprintln!("lectern: {message}");
        }
    }

    pub fn is_json(&self) -> bool {
        self.json
    }

    pub fn setting(&self, key: &str, value: &str) {
        if self.json {
            self.line(&serde_json::json!({ "key": key, "value": value }));
        } else {
            outln!("{key} = {value}");
        }
    }

    /// Where `lectern serve` listens: a JSON line, or a line for people, on stdout so a
    /// script can wait for it.
    pub fn serving(&self, address: std::net::SocketAddr, token_file: Option<&Path>) {
        if self.json {
            self.line(&serde_json::json!({
                "listening": format!("http://{address}"),
                "token_file": token_file,
            }));
        } else {
            match token_file {
                Some(file) => outln!(
                    "listening on http://{address} (bearer token in {})",
                    file.display()
                ),
                None => outln!("listening on http://{address} (no token)"),
            }
        }
        use std::io::Write;
        let _ = std::io::stdout().flush();
    }

    /// An endpoint (never its key) and whether it answered.
    pub fn endpoint(
        &self,
        endpoint: &lectern::llm::Endpoint,
        selected: bool,
        check: &Result<lectern::library::EndpointCheck, Error>,
    ) {
        let status = match check {
            Ok(check) => format!("connected, {} models", check.models.len()),
            Err(e) => e.to_string(),
        };
        if self.json {
            self.line(&serde_json::json!({
                "name": endpoint.name,
                "url": endpoint.base_url,
                "model": endpoint.model,
                "n_ctx": endpoint.n_ctx,
                "api_key": endpoint.api_key.is_some(),
                "selected": selected,
                "connected": check.is_ok(),
                "models": check.as_ref().map(|c| c.models.clone()).unwrap_or_default(),
                "status": status,
            }));
        } else {
            outln!(
                "{} endpoint:{} {} at {} ({status})",
                if selected { "*" } else { " " },
                endpoint.name,
                endpoint.model,
                endpoint.base_url
            );
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
            outln!("{message}");
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
                ocr_language: &c.ocr_language,
            });
        } else {
            outln!(
                "{:<24} {:>5} documents {:>7} chunks   OCR: {}",
                c.name,
                c.n_documents,
                c.n_chunks,
                c.ocr_language
            );
        }
    }

    pub fn ocr_languages(&self, current: &str, installed: &[String]) {
        if self.json {
            self.line(&serde_json::json!({ "ocr_language": current, "installed": installed }));
        } else if installed.is_empty() {
            outln!(
                "OCR language: {current} (OCR is not installed: Debian's tesseract-ocr and poppler-utils)"
            );
        } else {
            outln!(
                "OCR language: {current}; installed: {}",
                installed.join(", ")
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
                ocr_pages: d.n_ocr_pages,
                chunks: d.n_chunks,
                bytes: d.byte_len,
                sha256: &d.content_hash,
                embedding_model: &d.embedding_model,
                added_at: d.added_at,
                source_missing: d.source_missing(),
            });
        } else {
            let pages = d.n_pages.map_or_else(|| "-".to_owned(), |n| n.to_string());
            outln!(
                "{:>5}  {:<40} {:>5} pages {:>6} chunks{}",
                d.id,
                d.name,
                pages,
                d.n_chunks,
                match d.n_ocr_pages {
                    0 => String::new(),
                    1 => "  (1 page read by OCR)".to_owned(),
                    n => format!("  ({n} pages read by OCR)"),
                }
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
                ocr: c.ocr,
                section: c.section.as_deref(),
            });
        } else {
            let pages = place(c.first_page, c.last_page, c.section.as_deref());
            outln!(
                "── chunk {} · {} · {} tokens{}",
                c.chunk_idx,
                pages,
                c.n_tokens,
                if c.ocr { " · read by OCR" } else { "" }
            );
            outln!("{}\n", c.text);
        }
    }

    pub fn search_hits(&self, query: &str, hits: &[Passage]) {
        if self.json {
            self.line(&SearchJson::new(query, hits));
            return;
        }
        outln!("? {query}");
        if hits.is_empty() {
            outln!("  (nothing found)");
        }
        for (i, p) in hits.iter().enumerate() {
            let snippet: String = p
                .text
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .chars()
                .take(240)
                .collect();
            outln!(
                "{:>3}. {} {}{} (score {:.4})",
                i + 1,
                p.document,
                place(p.first_page, p.last_page, p.section.as_deref()),
                if p.ocr { ", read by OCR" } else { "" },
                p.score
            );
            outln!("     {snippet}");
        }
        outln!();
    }

    pub fn eval_report(&self, r: &EvalReport) {
        let n_queries = r.modes.first().map_or(0, |m| m.n_queries).max(1);
        if self.json {
            self.line(&EvalJson {
                passages: r.n_passages,
                index_s: r.index_time.as_secs_f64(),
                query_embed_ms_per_query: r.query_embed_time.as_secs_f64() * 1000.0
                    / n_queries as f64,
                modes: r
                    .modes
                    .iter()
                    .map(|m| ModeJson {
                        mode: m.mode.as_str(),
                        keyword_weight: m.keyword_weight,
                        k: m.k,
                        queries: m.n_queries,
                        recall_at_k: m.recall_at_k,
                        success_at_k: m.success_at_k,
                        ndcg_at_10: m.ndcg_at_10,
                        mrr_at_10: m.mrr_at_10,
                        search_ms_per_query: m.search_time.as_secs_f64() * 1000.0,
                    })
                    .collect(),
            });
            return;
        }
        outln!(
            "{} passages indexed in {:.1} s; query embedding {:.1} ms per query",
            r.n_passages,
            r.index_time.as_secs_f64(),
            r.query_embed_time.as_secs_f64() * 1000.0 / n_queries as f64
        );
        for m in &r.modes {
            let label = match m.keyword_weight {
                Some(w) => format!("{} (keyword weight {w})", m.mode.as_str()),
                None => m.mode.as_str().to_owned(),
            };
            outln!(
                "{:<8} queries {:>4}  recall@{k} {:.3}  success@{k} {:.3}  nDCG@10 {:.3}  MRR@10 {:.3}  search {:.1} ms",
                label,
                m.n_queries,
                m.recall_at_k,
                m.success_at_k,
                m.ndcg_at_10,
                m.mrr_at_10,
                m.search_time.as_secs_f64() * 1000.0,
                k = m.k
            );
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
                    code: e.code().as_str(),
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
            (FileStatus::Indexed, _) => outln!("indexed  {name} ({pages}{} chunks)", o.n_chunks),
            (FileStatus::Skipped, _) => outln!("skipped  {name} (already in the collection)"),
            (FileStatus::Failed, Some(e)) => outln!("failed   {e} [{}]", e.code()),
            (FileStatus::Failed, None) => outln!("failed   {name}"),
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
        let mut changes = String::new();
        for (n, what) in [
            (report.moved.len(), "moved"),
            (report.removed.len(), "removed"),
            (report.unsettled.len(), "still being written"),
            (report.missing_folders.len(), "folders missing"),
        ] {
            if n > 0 {
                changes.push_str(&format!(", {n} {what}"));
            }
        }
        eprintln!(
            "{} indexed, {} skipped, {} failed{changes}; {n_chunks} chunks in {:.1} s",
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
            IngestEvent::Ocr {
                file_idx,
                n_done,
                n_pages,
            } => {
                if let Some(path) = files.get(file_idx) {
                    files_bar.set_message(format!(
                        "reading {} by OCR: page {n_done} of {n_pages}",
                        short(path)
                    ));
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
                if n_done <= lectern::embed::BATCH_SIZE {
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

fn short(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}
