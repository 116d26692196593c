//! Runs extraction (PDFs, and Word, EPUB and HTML files) in a child process with a time and memory limit, so that a parser
//! panic, abort or runaway allocation costs one file, never the app.
//!
//! The child is Lectern's own executable started with [`WORKER_ARG`]; it reads one
//! [`WorkerRequest`] as JSON on stdin and writes [`WorkerMessage`]s as JSON lines on stdout:
//! OCR progress, then the pages or why there are none. Pages the text layer leaves empty or
//! unreadable are OCR'd here (`ocr`), so rendering and OCR run under the same limits.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

use super::markup;
use super::ocr;
use super::pdf::{PdfFailure, PdfPages, extract_pages, panic_message};
use crate::error::IngestError;
use crate::job::CancelFlag;
use crate::store::DocFormat;

/// The hidden first argument that turns the `lectern` executable into an extraction worker.
pub const WORKER_ARG: &str = "__extract-worker";

/// How to start the worker and what it may use.
#[derive(Debug, Clone)]
pub struct ExtractorConfig {
    /// An executable that runs [`run_worker`] when given [`WORKER_ARG`]: the `lectern` binary.
    pub worker_exe: PathBuf,
    /// The longest the worker may go without finishing a step: reading the text layer, or
    /// OCR of one page. A scanned book of hundreds of pages is many steps.
    pub timeout: Duration,
    /// Address-space limit of the worker process, in bytes (its OCR programs inherit it).
    pub memory_limit: u64,
    /// Pages OCR'd at once, each by one single-threaded Tesseract.
    pub ocr_threads: usize,
}

impl ExtractorConfig {
    pub fn new(worker_exe: PathBuf) -> Self {
        Self {
            worker_exe,
            timeout: Duration::from_secs(120),
            // With the ingest process's ~1.1 GB, under the 2 GB a whole ingest may use at most
            // only while a hostile file is being refused; real PDFs need tens of MB here.
            memory_limit: 1 << 30,
            ocr_threads: std::thread::available_parallelism().map_or(1, |n| n.get().min(4)),
        }
    }
}

/// A document's text as the worker read it: a PDF's pages after OCR of those that needed it,
/// or the sections of a Word, EPUB or HTML file.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PdfText {
    pub pages: Vec<String>,
    /// Each section's title, in `pages` order (no titles for a PDF).
    #[serde(default)]
    pub sections: Vec<String>,
    /// Which pages' text came from OCR.
    pub ocr: Vec<bool>,
    /// Why pages that needed OCR have none: OCR not installed, or it found nothing readable.
    pub ocr_note: Option<String>,
}

/// What the extraction worker is asked for. `ocr_language` `None` leaves pages unread.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct WorkerRequest {
    path: PathBuf,
    #[serde(default = "pdf")]
    format: DocFormat,
    password: Option<String>,
    memory_limit: u64,
    ocr_language: Option<String>,
    #[serde(default)]
    ocr_threads: usize,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
enum WorkerMessage {
    /// Pages OCR'd so far, of those that need it.
    OcrProgress {
        done: usize,
        of: usize,
    },
    Pages(PdfText),
    Failed(PdfFailure),
    Unreadable(String),
}

fn pdf() -> DocFormat {
    DocFormat::Pdf
}

/// The pages that need OCR (0-based): a page drawing an image with almost no text, or one
/// whose text layer is junk.
pub fn pages_needing_ocr(pages: &PdfPages) -> Vec<usize> {
    pages
        .texts
        .iter()
        .zip(&pages.has_image)
        .enumerate()
        .filter(|(_, (text, has_image))| {
            let n_visible = text.chars().filter(|c| !c.is_whitespace()).count();
            (**has_image && n_visible < 50)
                || (n_visible >= 20 && super::garbled_reason(std::slice::from_ref(*text)).is_some())
        })
        .map(|(i, _)| i)
        .collect()
}

/// OCRs the pages that need it, writing progress lines as pages are done.
fn with_ocr(request: &WorkerRequest, pages: PdfPages) -> PdfText {
    let wanted = pages_needing_ocr(&pages);
    let mut text = PdfText {
        ocr: vec![false; pages.texts.len()],
        pages: pages.texts,
        sections: Vec::new(),
        ocr_note: None,
    };
    let Some(language) = request
        .ocr_language
        .as_deref()
        .filter(|_| !wanted.is_empty())
    else {
        return text;
    };
    let page_numbers: Vec<u32> = wanted
        .iter()
        .map(|&i| u32::try_from(i + 1).unwrap_or(u32::MAX))
        .collect();
    let of = wanted.len();
    let report = |done: usize| {
        if let Ok(line) = serde_json::to_string(&WorkerMessage::OcrProgress { done, of }) {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}").and_then(|()| out.flush());
        }
    };
    match ocr::ocr_pages(
        &request.path,
        &page_numbers,
        request.password.as_deref(),
        language,
        request.ocr_threads,
        &report,
    ) {
        Err(unavailable) => text.ocr_note = Some(unavailable.to_string()),
        Ok(read) => {
            let (mut n_unreadable, mut n_skipped) = (0, 0);
            for (&i, page) in wanted.iter().zip(read) {
                match page {
                    ocr::PageRead::Read(page) => {
                        text.pages[i] = page.text;
                        text.ocr[i] = true;
                    }
                    ocr::PageRead::Unreadable => n_unreadable += 1,
                    ocr::PageRead::Skipped => n_skipped += 1,
                }
            }
            text.ocr_note = match (n_unreadable, n_skipped) {
                (0, _) => None,
                (n, 0) => Some(format!(
                    "OCR ({language}) found no readable text on {n} of the {of} pages it read"
                )),
                (n, skipped) => Some(format!(
                    "OCR ({language}) found no readable text on the first {n} pages it read, \
                     so the other {skipped} were not tried (is the collection's OCR language \
                     the document's?)"
                )),
            };
        }
    }
    text
}

/// The worker's side: answers one request read from stdin. Returns the process exit code.
pub fn run_worker() -> i32 {
    exit_with_parent();
    let mut input = String::new();
    if std::io::stdin().read_to_string(&mut input).is_err() {
        return 2;
    }
    let Ok(request) = serde_json::from_str::<WorkerRequest>(&input) else {
        return 2;
    };
    // A runaway allocation then fails inside this process instead of swapping the machine.
    let _ = rlimit::setrlimit(
        rlimit::Resource::AS,
        request.memory_limit,
        request.memory_limit,
    );
    // Panics are caught and reported in the response; the default hook would only add noise.
    std::panic::set_hook(Box::new(|_| {}));
    if request.format.has_sections() {
        return respond(&read_sections(&request));
    }
    let extracted = match std::fs::read(&request.path) {
        Err(e) => Err(WorkerMessage::Unreadable(e.to_string())),
        // The file's bytes go before OCR starts: the renderer reads the file itself.
        Ok(bytes) => {
            match std::panic::catch_unwind(|| extract_pages(&bytes, request.password.as_deref())) {
                Ok(Ok(pages)) => Ok(pages),
                Ok(Err(failure)) => Err(WorkerMessage::Failed(failure)),
                Err(panic) => Err(WorkerMessage::Failed(PdfFailure::ParserFailed(
                    panic_message(&*panic),
                ))),
            }
        }
    };
    let response = match extracted {
        Ok(pages) => WorkerMessage::Pages(with_ocr(&request, pages)),
        Err(failure) => failure,
    };
    respond(&response)
}

/// A Word, EPUB or HTML file's sections (its title and text each).
fn read_sections(request: &WorkerRequest) -> WorkerMessage {
    let read = || -> Result<Vec<markup::Section>, WorkerMessage> {
        let open = || {
            std::fs::File::open(&request.path)
                .map(std::io::BufReader::new)
                .map_err(|e| WorkerMessage::Unreadable(e.to_string()))
        };
        let malformed =
            |e: markup::MarkupFailure| WorkerMessage::Failed(PdfFailure::MalformedDocument(e.0));
        match request.format {
            DocFormat::Docx => markup::docx_sections(open()?).map_err(malformed),
            DocFormat::Odt => markup::odt_sections(open()?).map_err(malformed),
            DocFormat::Epub => markup::epub_sections(open()?).map_err(malformed),
            _ => {
                let bytes = std::fs::read(&request.path)
                    .map_err(|e| WorkerMessage::Unreadable(e.to_string()))?;
                Ok(markup::html_sections(&markup::decode_html(&bytes)))
            }
        }
    };
    match std::panic::catch_unwind(read) {
        Ok(Ok(sections)) => {
            let (sections, pages) = sections.into_iter().map(|s| (s.title, s.text)).unzip();
            WorkerMessage::Pages(PdfText {
                pages,
                sections,
                ..PdfText::default()
            })
        }
        Ok(Err(message)) => message,
        Err(panic) => WorkerMessage::Failed(PdfFailure::ParserFailed(panic_message(&*panic))),
    }
}

fn respond(response: &WorkerMessage) -> i32 {
    let Ok(json) = serde_json::to_vec(&response) else {
        return 3;
    };
    let mut stdout = std::io::stdout().lock();
    if stdout
        .write_all(&json)
        .and_then(|()| stdout.write_all(b"\n"))
        .and_then(|()| stdout.flush())
        .is_err()
    {
        return 3;
    }
    0
}

/// Ends the worker when the process that started it dies (kill -9 included), so an orphan
/// never goes on parsing a file nobody waits for. Polling the parent id is used rather than
/// a parent-death signal, which Linux sends when the spawning *thread* exits: a tokio
/// blocking-pool thread may exit while the parent lives on.
fn exit_with_parent() {
    let parent = std::os::unix::process::parent_id();
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(Duration::from_millis(200));
            if std::os::unix::process::parent_id() != parent {
                std::process::exit(4);
            }
        }
    });
}

/// Extracts a PDF's pages in a worker process, OCR'ing those that need it in `ocr_language`
/// (none: not at all). `on_ocr(done, of)` hears of each page OCR'd; `cancel` ends the worker.
#[allow(clippy::too_many_arguments)]
pub async fn extract_isolated(
    config: &ExtractorConfig,
    path: &Path,
    format: DocFormat,
    password: Option<&str>,
    ocr_language: Option<&str>,
    on_ocr: &(dyn Fn(usize, usize) + Sync),
    cancel: &CancelFlag,
) -> Result<PdfText, IngestError> {
    let unavailable = |reason: String| IngestError::ExtractorUnavailable {
        path: path.to_owned(),
        reason,
    };
    let request = serde_json::to_vec(&WorkerRequest {
        path: path.to_owned(),
        format,
        password: password.map(str::to_owned),
        memory_limit: config.memory_limit,
        ocr_language: ocr_language.map(str::to_owned),
        ocr_threads: config.ocr_threads,
    })
    .map_err(|e| unavailable(e.to_string()))?;
    let mut child = tokio::process::Command::new(&config.worker_exe)
        .arg(WORKER_ARG)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| unavailable(format!("{}: {e}", config.worker_exe.display())))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A worker that dies at once closes its end before the request is written; its exit
        // status, read below, says why, so a broken pipe here is not the error to report.
        if let Err(e) = stdin.write_all(&request).await
            && e.kind() != std::io::ErrorKind::BrokenPipe
        {
            return Err(unavailable(e.to_string()));
        }
    }
    let mut stderr = child.stderr.take().map(|mut pipe| {
        tokio::spawn(async move {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes).await;
            bytes
        })
    });
    let Some(stdout) = child.stdout.take() else {
        return Err(unavailable("no output pipe".into()));
    };
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let mut response = None;
    loop {
        // Returning drops the child, and kill_on_drop ends it (and with it its OCR programs,
        // which watch nothing but finish their page and find no one to write to).
        let line = tokio::select! {
            line = tokio::time::timeout(config.timeout, lines.next_line()) => line,
            () = cancelled(cancel) => return Err(IngestError::Cancelled { path: path.to_owned() }),
        };
        match line {
            Err(_) => {
                return Err(IngestError::Timeout {
                    path: path.to_owned(),
                    secs: config.timeout.as_secs(),
                });
            }
            Ok(Err(e)) => return Err(unavailable(e.to_string())),
            Ok(Ok(None)) => break,
            Ok(Ok(Some(line))) => match serde_json::from_str::<WorkerMessage>(&line) {
                Ok(WorkerMessage::OcrProgress { done, of }) => on_ocr(done, of),
                Ok(message) => response = Some(message),
                Err(_) => response = None,
            },
        }
    }
    let status = child.wait().await.map_err(|e| unavailable(e.to_string()))?;
    let stderr = match stderr.take() {
        Some(task) => task.await.unwrap_or_default(),
        None => Vec::new(),
    };
    let path = path.to_owned();
    match response.filter(|_| status.success()) {
        Some(WorkerMessage::Pages(text)) => Ok(text),
        Some(WorkerMessage::Unreadable(reason)) => Err(IngestError::Io {
            path,
            source: std::io::Error::other(reason),
        }),
        Some(WorkerMessage::Failed(PdfFailure::PasswordRequired)) => {
            Err(IngestError::PasswordRequired { path })
        }
        Some(WorkerMessage::Failed(PdfFailure::WrongPassword)) => {
            Err(IngestError::WrongPassword { path })
        }
        Some(WorkerMessage::Failed(PdfFailure::Malformed(reason))) => {
            Err(IngestError::MalformedPdf { path, reason })
        }
        Some(WorkerMessage::Failed(PdfFailure::MalformedDocument(reason))) => {
            Err(IngestError::MalformedDocument {
                path,
                kind: match format {
                    DocFormat::Docx => "Word document",
                    DocFormat::Odt => "OpenDocument text",
                    DocFormat::Epub => "EPUB",
                    DocFormat::Html => "HTML page",
                    DocFormat::Pdf | DocFormat::Markdown | DocFormat::Text => "document",
                },
                reason,
            })
        }
        Some(WorkerMessage::Failed(PdfFailure::ParserFailed(reason))) => {
            Err(IngestError::ParserFailed { path, reason })
        }
        Some(WorkerMessage::OcrProgress { .. }) | None => Err(IngestError::ParserCrashed {
            path,
            reason: crash_reason(status, &stderr),
        }),
    }
}

/// Resolves once the flag is set; the flag is polled, being a plain atomic.
async fn cancelled(cancel: &CancelFlag) {
    while !cancel.is_cancelled() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn crash_reason(status: std::process::ExitStatus, stderr: &[u8]) -> String {
    use std::os::unix::process::ExitStatusExt;
    let status = match (status.code(), status.signal()) {
        (_, Some(6)) => "aborted".to_owned(),
        (_, Some(9)) => "killed".to_owned(),
        (_, Some(11)) => "segmentation fault".to_owned(),
        (_, Some(sig)) => format!("signal {sig}"),
        (Some(code), None) => format!("exit code {code}"),
        (None, None) => "unknown exit".to_owned(),
    };
    let stderr = String::from_utf8_lossy(stderr);
    match stderr.lines().rev().find(|l| !l.trim().is_empty()) {
        Some(last) => format!("{status}: {}", last.trim()),
        None => status,
    }
}
