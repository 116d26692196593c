//! Runs PDF extraction in a child process with a time and memory limit, so that a parser
//! panic, abort or runaway allocation costs one file, never the app.
//!
//! The child is Lectern's own executable started with [`WORKER_ARG`]; it reads one
//! [`WorkerRequest`] as JSON on stdin and writes one [`WorkerResponse`] as JSON on stdout.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use super::pdf::{PdfFailure, extract_pages, panic_message};
use crate::error::IngestError;

/// The hidden first argument that turns the `lectern` executable into an extraction worker.
pub const WORKER_ARG: &str = "__extract-worker";

/// How to start the worker and what it may use.
#[derive(Debug, Clone)]
pub struct ExtractorConfig {
    /// An executable that runs [`run_worker`] when given [`WORKER_ARG`]: the `lectern` binary.
    pub worker_exe: PathBuf,
    pub timeout: Duration,
    /// Address-space limit of the worker process, in bytes.
    pub memory_limit: u64,
}

impl ExtractorConfig {
    pub fn new(worker_exe: PathBuf) -> Self {
        Self {
            worker_exe,
            timeout: Duration::from_secs(120),
            // With the ingest process's ~1.1 GB, under the 2 GB a whole ingest may use at most
            // only while a hostile file is being refused; real PDFs need tens of MB here.
            memory_limit: 1 << 30,
        }
    }
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct WorkerRequest {
    path: PathBuf,
    password: Option<String>,
    memory_limit: u64,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
enum WorkerResponse {
    Pages(Vec<String>),
    Failed(PdfFailure),
    Unreadable(String),
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
    let response = match std::fs::read(&request.path) {
        Err(e) => WorkerResponse::Unreadable(e.to_string()),
        Ok(bytes) => match std::panic::catch_unwind(|| {
            extract_pages(&bytes, request.password.as_deref())
        }) {
            Ok(Ok(pages)) => WorkerResponse::Pages(pages),
            Ok(Err(failure)) => WorkerResponse::Failed(failure),
            Err(panic) => WorkerResponse::Failed(PdfFailure::ParserFailed(panic_message(&*panic))),
        },
    };
    let Ok(json) = serde_json::to_vec(&response) else {
        return 3;
    };
    let mut stdout = std::io::stdout().lock();
    if stdout
        .write_all(&json)
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

/// Extracts a PDF's pages in a worker process.
pub async fn extract_pdf_isolated(
    config: &ExtractorConfig,
    path: &Path,
    password: Option<&str>,
) -> Result<Vec<String>, IngestError> {
    let unavailable = |reason: String| IngestError::ExtractorUnavailable {
        path: path.to_owned(),
        reason,
    };
    let request = serde_json::to_vec(&WorkerRequest {
        path: path.to_owned(),
        password: password.map(str::to_owned),
        memory_limit: config.memory_limit,
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
    // Dropping the future on timeout drops the child, and kill_on_drop ends it.
    let output = match tokio::time::timeout(config.timeout, child.wait_with_output()).await {
        Ok(Ok(output)) => output,
        Ok(Err(e)) => return Err(unavailable(e.to_string())),
        Err(_) => {
            return Err(IngestError::Timeout {
                path: path.to_owned(),
                secs: config.timeout.as_secs(),
            });
        }
    };
    let response = if output.status.success() {
        serde_json::from_slice::<WorkerResponse>(&output.stdout).ok()
    } else {
        None
    };
    let path = path.to_owned();
    match response {
        Some(WorkerResponse::Pages(pages)) => Ok(pages),
        Some(WorkerResponse::Unreadable(reason)) => Err(IngestError::Io {
            path,
            source: std::io::Error::other(reason),
        }),
        Some(WorkerResponse::Failed(PdfFailure::PasswordRequired)) => {
            Err(IngestError::PasswordRequired { path })
        }
        Some(WorkerResponse::Failed(PdfFailure::WrongPassword)) => {
            Err(IngestError::WrongPassword { path })
        }
        Some(WorkerResponse::Failed(PdfFailure::Malformed(reason))) => {
            Err(IngestError::MalformedPdf { path, reason })
        }
        Some(WorkerResponse::Failed(PdfFailure::ParserFailed(reason))) => {
            Err(IngestError::ParserFailed { path, reason })
        }
        None => Err(IngestError::ParserCrashed {
            path,
            reason: crash_reason(&output),
        }),
    }
}

fn crash_reason(output: &std::process::Output) -> String {
    use std::os::unix::process::ExitStatusExt;
    let status = match (output.status.code(), output.status.signal()) {
        (_, Some(6)) => "aborted".to_owned(),
        (_, Some(9)) => "killed".to_owned(),
        (_, Some(11)) => "segmentation fault".to_owned(),
        (_, Some(sig)) => format!("signal {sig}"),
        (Some(code), None) => format!("exit code {code}"),
        (None, None) => "unknown exit".to_owned(),
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    match stderr.lines().rev().find(|l| !l.trim().is_empty()) {
        Some(last) => format!("{status}: {}", last.trim()),
        None => status,
    }
}
