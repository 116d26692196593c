//! Adding files to a collection and re-indexing it, as jobs that report [`IngestProgress`].

use std::path::PathBuf;
use std::time::Instant;

use lectern::ingest::FileStatus;
use lectern::library::IngestWork;
use lectern::{CollectionId, Session};
use tauri::{AppHandle, State};
use tauri_specta::Event;

use super::forward_events;
use crate::ipc::{IngestProgress, IngestUpdate, IpcError, IpcResult};

/// Adds files and folders to a collection as a job; returns its id at once. Progress arrives
/// as [`IngestProgress`] events, the last one `finished`.
#[tauri::command]
#[specta::specta]
pub async fn start_ingest(
    app: State<'_, Session>,
    handle: AppHandle,
    collection_id: i64,
    paths: Vec<String>,
    password: Option<String>,
) -> IpcResult<u32> {
    let collection = app
        .library()
        .collection(CollectionId(collection_id))
        .await?;
    // A path that no longer exists is that file's failure in the batch, not the command's.
    let paths = paths
        .iter()
        .map(|raw| match lectern::paths::from_ui(raw) {
            Err(lectern::Error::Io { path, .. }) => Ok(path),
            checked => checked,
        })
        .collect::<Result<Vec<PathBuf>, _>>()?;
    Ok(spawn_ingest(
        &app,
        handle,
        collection,
        IngestWork::Files { paths, password },
    ))
}

/// Re-reads every document of a collection from its file (unchanged files are skipped,
/// changed ones replaced) and rebuilds the vector index from the database, as a job.
#[tauri::command]
#[specta::specta]
pub async fn reindex_collection(
    app: State<'_, Session>,
    handle: AppHandle,
    collection_id: i64,
) -> IpcResult<u32> {
    let collection = app
        .library()
        .collection(CollectionId(collection_id))
        .await?;
    Ok(spawn_ingest(&app, handle, collection, IngestWork::Reindex))
}

/// Runs an ingest, re-index or folder sync as a job reporting [`IngestProgress`] events.
pub(crate) fn spawn_ingest(
    app: &Session,
    handle: AppHandle,
    collection: lectern::library::Collection,
    work: IngestWork,
) -> u32 {
    let (job_id, cancel) = app.start_job();
    let collection_id = collection.id;
    let send = {
        let handle = handle.clone();
        move |update: IngestUpdate| {
            let _ = IngestProgress {
                job_id,
                collection_id: collection_id.0,
                collection: collection.name.clone(),
                update,
            }
            .emit(&handle);
        }
    };
    tauri::async_runtime::spawn(async move {
        let app = tauri::Manager::state::<Session>(&handle);
        send(IngestUpdate::Queued);
        let started = Instant::now();
        let (tx, forward) = forward_events({
            let send = send.clone();
            move |event| send(IngestUpdate::from_core(event))
        });
        let report = app.ingest(collection_id, work, Some(tx), &cancel).await;
        let _ = forward.await;
        let report = match report {
            Ok(report) => report,
            Err(e) => {
                send(IngestUpdate::Failed {
                    error: IpcError::from(e),
                });
                app.finish_job(job_id);
                return;
            }
        };
        let count = |status| u32::try_from(report.count(status)).unwrap_or(u32::MAX);
        let n = |len: usize| u32::try_from(len).unwrap_or(u32::MAX);
        send(IngestUpdate::Finished {
            n_indexed: count(FileStatus::Indexed),
            n_skipped: count(FileStatus::Skipped),
            n_failed: count(FileStatus::Failed),
            n_moved: n(report.moved.len()),
            n_removed: n(report.removed.len()),
            n_still_changing: n(report.unsettled.len()),
            missing_folders: report
                .missing_folders
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
            cancelled: cancel.is_cancelled(),
            seconds: started.elapsed().as_secs_f64(),
        });
        app.finish_job(job_id);
    });
    job_id
}

/// Asks a running job to stop after its current batch; false when it has already finished.
#[tauri::command]
#[specta::specta]
pub fn cancel_job(app: State<'_, Session>, job_id: u32) -> bool {
    app.cancel_job(job_id)
}
