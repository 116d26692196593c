//! `lectern ingest` and `lectern reindex`: ingest jobs through the session, with progress,
//! each file's outcome and a summary.

use std::path::PathBuf;
use std::process::ExitCode;

use lectern::extract::ExtractorConfig;
use lectern::ingest::FileStatus;
use lectern::job::CancelFlag;
use lectern::library::IngestWork;
use lectern::{Error, Library, Session};

use super::cancel_on_ctrl_c;
use crate::output::{self, Out};

pub async fn ingest(
    library: &Library,
    collection: &str,
    inputs: &[PathBuf],
    password: Option<&str>,
    out: &Out,
) -> Result<ExitCode, Error> {
    let (collection, created) = library.collection_named_or_new(collection).await?;
    if created {
        out.note(&format!("created collection {:?}", collection.name));
    }
    let session = session(library.clone())?;
    let work = IngestWork::Files {
        paths: inputs.to_vec(),
        password: password.map(str::to_owned),
    };
    report_ingest(out, |tx, cancel| async move {
        session.ingest(collection.id, work, Some(tx), &cancel).await
    })
    .await
}

/// A session over the library whose PDF extraction runs in this binary's worker mode.
pub fn session(library: Library) -> Result<Session, Error> {
    let worker_exe = std::env::current_exe().map_err(|e| Error::Io {
        path: "lectern".into(),
        source: e,
    })?;
    Ok(Session::new(library, ExtractorConfig::new(worker_exe)))
}

/// Runs an ingest job (`run` gets its progress channel and a Ctrl-C cancel flag), printing
/// progress, each file's outcome and the summary. Exit code 2 when a file failed.
async fn report_ingest<F>(
    out: &Out,
    run: impl FnOnce(tokio::sync::mpsc::UnboundedSender<lectern::ingest::IngestEvent>, CancelFlag) -> F,
) -> Result<ExitCode, Error>
where
    F: std::future::Future<Output = Result<lectern::ingest::IngestReport, Error>>,
{
    let (cancel, watcher) = cancel_on_ctrl_c();
    let reported = report_ingest_with(out, cancel, false, run).await;
    watcher.abort();
    reported
}

/// [`report_ingest`] with the caller's cancel flag; a sync's report ends with a summary line
/// in JSON too (a watch prints one report per sync).
pub async fn report_ingest_with<F>(
    out: &Out,
    cancel: CancelFlag,
    sync: bool,
    run: impl FnOnce(tokio::sync::mpsc::UnboundedSender<lectern::ingest::IngestEvent>, CancelFlag) -> F,
) -> Result<ExitCode, Error>
where
    F: std::future::Future<Output = Result<lectern::ingest::IngestReport, Error>>,
{
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let printer = tokio::spawn(output::ingest_progress(rx, out.clone()));
    let report = run(tx, cancel).await;
    let _ = printer.await;
    let report = report?;
    for outcome in &report.files {
        out.ingest_outcome(outcome);
    }
    out.sync_changes(&report);
    if sync {
        out.sync_summary(&report);
    }
    out.ingest_summary(&report);
    Ok(if report.count(FileStatus::Failed) == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// Reads every document of the collection again from its source file, then rebuilds its
/// vector index.
pub async fn reindex(library: Library, collection: &str, out: &Out) -> Result<ExitCode, Error> {
    let collection = library.collection_named(collection).await?;
    let session = session(library)?;
    report_ingest(out, |tx, cancel| async move {
        session
            .ingest(collection.id, IngestWork::Reindex, Some(tx), &cancel)
            .await
    })
    .await
}
