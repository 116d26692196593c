//! The embedding model: the choices, and the switch to another as a job that reports
//! [`ReembedProgress`].

use std::time::Instant;

use lectern::Session;
use tauri::{AppHandle, State};
use tauri_specta::Event;

use super::forward_events;
use crate::ipc::{EmbeddingView, ErrorCode, IpcError, IpcResult, ReembedProgress, ReembedUpdate};

#[tauri::command]
#[specta::specta]
pub async fn embedding_models(app: State<'_, Session>) -> IpcResult<EmbeddingView> {
    let pending = app.library().pending_embedding_switch().await?;
    Ok(EmbeddingView {
        models: app
            .library()
            .embedding_choices()
            .into_iter()
            .map(Into::into)
            .collect(),
        pending: pending.map(Into::into),
        job_id: app.reembed_job(),
        n_chunks: u32::try_from(app.library().count_chunks().await?).unwrap_or(u32::MAX),
    })
}

/// Re-embeds every collection with `model` and then uses it, as a job; returns its id at
/// once. It waits for running ingests, and ingests started meanwhile wait for it. Questions
/// keep using the old model until the switch completes.
#[tauri::command]
#[specta::specta]
pub async fn start_embedding_switch(
    app: State<'_, Session>,
    handle: AppHandle,
    model: String,
) -> IpcResult<u32> {
    lectern::embed::embedding_model_spec(&model).map_err(lectern::Error::from)?;
    let (job_id, cancel) = app.start_reembed_job();
    let Some(cancel) = cancel else {
        return Ok(job_id);
    };
    let send = {
        let handle = handle.clone();
        move |update: ReembedUpdate| {
            let _ = ReembedProgress { job_id, update }.emit(&handle);
        }
    };
    tauri::async_runtime::spawn(async move {
        let app = tauri::Manager::state::<Session>(&handle);
        send(ReembedUpdate::Queued);
        let started = Instant::now();
        let (tx, forward) = forward_events({
            let send = send.clone();
            move |event| send(ReembedUpdate::from(event))
        });
        let result = app.switch_embedding_model(&model, Some(tx), &cancel).await;
        let _ = forward.await;
        send(match result {
            Ok(report) => ReembedUpdate::Finished {
                to: report.to,
                n_embedded: u32::try_from(report.n_embedded).unwrap_or(u32::MAX),
                seconds: started.elapsed().as_secs_f64(),
            },
            Err(lectern::Error::Cancelled) => ReembedUpdate::Cancelled,
            Err(e) => ReembedUpdate::Failed {
                error: IpcError::from(e),
            },
        });
        app.finish_job(job_id);
    });
    Ok(job_id)
}

/// Drops an unfinished switch and the vectors it had made.
#[tauri::command]
#[specta::specta]
pub async fn abandon_embedding_switch(app: State<'_, Session>) -> IpcResult<()> {
    if app.reembed_job().is_some() {
        return Err(IpcError::new(
            ErrorCode::InvalidInput,
            "a switch is running; cancel it first",
        ));
    }
    Ok(app.library().abandon_embedding_switch().await?)
}
