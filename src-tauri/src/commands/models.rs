//! Language models: the list with the one selected, selecting (loaded at once) and importing.

use lectern::Session;
use tauri::State;

use crate::ipc::{IpcResult, ModelView};

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
