//! Language models: the GGUF list with the one selected, selecting (loaded at once) and
//! importing; and OpenAI-compatible endpoints: listing, adding, testing, selecting, removing.

use lectern::Session;
use tauri::State;

use crate::ipc::{EndpointCheckView, EndpointView, IpcResult, ModelView, NewEndpoint};

#[tauri::command]
#[specta::specta]
pub async fn list_models(app: State<'_, Session>) -> IpcResult<Vec<ModelView>> {
    Ok(app
        .library()
        .models()
        .await?
        .iter()
        .map(|m| ModelView::new(&m.entry, m.selected))
        .collect())
}

/// Makes `file_name` (in the models folder) the model answers use and loads it now, so a
/// model that cannot load is reported here rather than at the next question.
#[tauri::command]
#[specta::specta]
pub async fn select_model(app: State<'_, Session>, file_name: String) -> IpcResult<()> {
    Ok(app.select_model(&file_name).await?)
}

/// Copies a GGUF file into the models folder after checking its header.
#[tauri::command]
#[specta::specta]
pub async fn import_model(app: State<'_, Session>, path: String) -> IpcResult<ModelView> {
    let source = lectern::paths::from_ui(&path)?;
    let entry = app.library().import_model(&source, false).await?;
    Ok(ModelView::new(&entry, false))
}

#[tauri::command]
#[specta::specta]
pub async fn list_endpoints(app: State<'_, Session>) -> IpcResult<Vec<EndpointView>> {
    endpoint_views(&app).await
}

async fn endpoint_views(app: &Session) -> IpcResult<Vec<EndpointView>> {
    let (endpoints, selected) = app.library().endpoints().await?;
    Ok(endpoints
        .iter()
        .map(|e| EndpointView::new(e, selected.as_deref() == Some(&e.name)))
        .collect())
}

/// Adds an endpoint (or replaces the one of the same name) to the config file, which only
/// the user can read; returns them all.
#[tauri::command]
#[specta::specta]
pub async fn add_endpoint(
    app: State<'_, Session>,
    endpoint: NewEndpoint,
) -> IpcResult<Vec<EndpointView>> {
    let blank_to_none =
        |s: Option<String>| s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    app.library().add_endpoint(lectern::llm::Endpoint {
        name: endpoint.name.trim().to_owned(),
        base_url: endpoint.base_url.trim().to_owned(),
        model: endpoint.model.trim().to_owned(),
        api_key: blank_to_none(endpoint.api_key),
        n_ctx: endpoint
            .n_ctx
            .map_or(lectern::llm::DEFAULT_ENDPOINT_CTX, |n| n as usize),
        timeout_s: endpoint
            .timeout_s
            .map_or(lectern::llm::DEFAULT_ENDPOINT_TIMEOUT_S, u64::from),
    })?;
    endpoint_views(&app).await
}

/// Asks the endpoint for its models: "connected, 3 models", or why not.
#[tauri::command]
#[specta::specta]
pub async fn check_endpoint(app: State<'_, Session>, name: String) -> IpcResult<EndpointCheckView> {
    let check = app.library().check_endpoint(&name).await?;
    Ok(EndpointCheckView {
        models: check.models,
    })
}

/// Makes the endpoint the model answers use, once it answers.
#[tauri::command]
#[specta::specta]
pub async fn select_endpoint(
    app: State<'_, Session>,
    name: String,
) -> IpcResult<EndpointCheckView> {
    let check = app.select_endpoint(&name).await?;
    Ok(EndpointCheckView {
        models: check.models,
    })
}

/// Removes an endpoint; answers that used it go back to the default model.
#[tauri::command]
#[specta::specta]
pub async fn remove_endpoint(
    app: State<'_, Session>,
    name: String,
) -> IpcResult<Vec<EndpointView>> {
    app.remove_endpoint(&name).await?;
    endpoint_views(&app).await
}
