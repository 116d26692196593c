//! What the app needs to start, the settings (from the core's one table), a collection's
//! prompt parts, and the data folder.

use lectern::library::PromptParts;
use lectern::paths::Config;
use lectern::prompt::PromptDefaults;
use lectern::settings::SETTINGS;
use lectern::{CollectionId, Session};
use tauri::{AppHandle, State};

use crate::ipc::{
    AppStatus, DataDirView, ErrorCode, IpcError, IpcResult, PromptView, SettingValue, SettingsView,
};

#[tauri::command]
#[specta::specta]
pub async fn app_status(app: State<'_, Session>) -> IpcResult<AppStatus> {
    let paths = app.library().paths();
    Ok(AppStatus {
        data_dir: paths.data_dir.display().to_string(),
        models_dir: paths.models_dir.display().to_string(),
        missing: app
            .library()
            .missing_parts()
            .await
            .into_iter()
            .map(Into::into)
            .collect(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}

#[tauri::command]
#[specta::specta]
pub async fn get_settings(app: State<'_, Session>) -> IpcResult<SettingsView> {
    settings_view(&app).await
}

/// Checks and stores one setting (see [`SettingValue::key`]); returns them all.
#[tauri::command]
#[specta::specta]
pub async fn set_setting(
    app: State<'_, Session>,
    key: String,
    value: String,
) -> IpcResult<SettingsView> {
    app.set_setting(&key, &value).await?;
    settings_view(&app).await
}

async fn settings_view(app: &Session) -> IpcResult<SettingsView> {
    let settings = app.library().settings().await?;
    let paths = app.library().paths();
    Ok(SettingsView {
        values: SETTINGS
            .iter()
            .map(|spec| SettingValue {
                key: spec.key.into(),
                value: settings.get(spec.key).unwrap_or_default(),
                default_value: spec.default.into(),
                label: spec.label.into(),
                help: spec.help.into(),
                reloads_model: spec.reloads_model,
            })
            .collect(),
        data_dir: paths.data_dir.display().to_string(),
        models_dir: paths.models_dir.display().to_string(),
        embedding_model: app.library().embedding().id(),
    })
}

/// Makes `path` the data folder from the next start (Lectern remembers it in its config file,
/// outside any data folder). The current library stays where it is.
#[tauri::command]
#[specta::specta]
pub async fn set_data_dir(app: State<'_, Session>, path: String) -> IpcResult<DataDirView> {
    let choice = app
        .library()
        .paths()
        .choose_data_dir(std::path::Path::new(path.trim()), &Config::default_dir())?;
    Ok(choice.into())
}

/// Restarts the app (after choosing another data folder). Refused while a job runs, so no
/// ingest or switch is cut off.
#[tauri::command]
#[specta::specta]
pub async fn restart_app(app: State<'_, Session>, handle: AppHandle) -> IpcResult<()> {
    if app.has_jobs() {
        return Err(IpcError::new(
            ErrorCode::InvalidInput,
            "a job is running; wait for it or cancel it first",
        ));
    }
    handle.restart()
}

#[tauri::command]
#[specta::specta]
pub async fn get_prompt(app: State<'_, Session>, collection_id: i64) -> IpcResult<PromptView> {
    let parts = app
        .library()
        .prompt_parts(CollectionId(collection_id))
        .await?;
    Ok(prompt_view(parts))
}

/// Sets a collection's instruction and output indicator; `null` (or blank) restores the
/// default.
#[tauri::command]
#[specta::specta]
pub async fn set_prompt(
    app: State<'_, Session>,
    collection_id: i64,
    instruction: Option<String>,
    output_indicator: Option<String>,
) -> IpcResult<PromptView> {
    let parts = PromptParts {
        instruction,
        output_indicator,
    };
    Ok(prompt_view(
        app.library()
            .set_prompt_parts(CollectionId(collection_id), parts)
            .await?,
    ))
}

fn prompt_view((parts, defaults): (PromptParts, &PromptDefaults)) -> PromptView {
    PromptView {
        instruction: parts.instruction_in_use(defaults).into(),
        output_indicator: parts.output_indicator_in_use(defaults).into(),
        default_instruction: defaults.instruction.into(),
        default_output_indicator: defaults.output_indicator.into(),
    }
}
