//! Lectern's desktop app: a Tauri window over the core. Commands and events only map onto
//! core calls (`commands`), converting to boundary types (`ipc`); documents reach the PDF
//! viewer through the `lectern-doc` protocol, by document id only.

mod commands;
pub mod ipc;

use std::path::Path;
use std::process::ExitCode;

use lectern::extract::{ExtractorConfig, WORKER_ARG, run_worker};
use lectern::{Library, Paths};
use tauri::http::{Response, StatusCode, header};
use tauri_specta::{collect_commands, collect_events};

use lectern::Session;

/// The scheme the viewer loads documents from: `lectern-doc://localhost/<document id>`.
pub const DOCUMENT_SCHEME: &str = "lectern-doc";

/// Every command and event the UI may use, with their types.
pub fn bindings() -> tauri_specta::Builder<tauri::Wry> {
    use commands::{chats, collections, embedding, folders, ingest, models, settings};
    tauri_specta::Builder::<tauri::Wry>::new()
        .commands(collect_commands![
            settings::app_status,
            collections::list_collections,
            collections::create_collection,
            collections::rename_collection,
            collections::delete_collection,
            collections::list_documents,
            collections::remove_document,
            collections::list_ocr_languages,
            collections::set_ocr_language,
            collections::section_text,
            folders::list_folders,
            folders::follow_folder,
            folders::unfollow_folder,
            folders::sync_folders,
            ingest::start_ingest,
            ingest::reindex_collection,
            ingest::cancel_job,
            chats::list_chats,
            chats::chat_messages,
            chats::delete_chat,
            chats::ask,
            chats::preread,
            chats::evaluate_answers,
            chats::stop_answer,
            chats::set_feedback,
            models::list_models,
            models::select_model,
            models::import_model,
            models::list_endpoints,
            models::add_endpoint,
            models::check_endpoint,
            models::select_endpoint,
            models::remove_endpoint,
            settings::get_settings,
            settings::set_setting,
            settings::get_prompt,
            settings::set_prompt,
            embedding::embedding_models,
            embedding::start_embedding_switch,
            embedding::abandon_embedding_switch,
            settings::set_data_dir,
            settings::restart_app,
        ])
        .events(collect_events![ipc::IngestProgress, ipc::ReembedProgress])
        // Ids and counts stay far below 2^53.
        .dangerously_cast_bigints_to_number()
        // One type per struct: the UI only reads what commands return.
        .disable_serde_phases()
}

/// Writes the UI's TypeScript bindings (`ui/src/lib/bindings.ts`).
pub fn export_bindings(path: &Path) -> Result<(), String> {
    bindings()
        .export(
            specta_typescript::Typescript::default()
                .header("// Generated from src-tauri by `cargo run -p lectern-app --example export-bindings`; do not edit."),
            path,
        )
        .map_err(|e| e.to_string())
}

pub fn main() -> ExitCode {
    if std::env::args_os().nth(1).is_some_and(|a| a == WORKER_ARG) {
        return ExitCode::from(u8::try_from(run_worker()).unwrap_or(1));
    }
    let paths = Paths::resolve(None);
    let library = match tauri::async_runtime::block_on(Library::open(paths.clone())) {
        Ok(library) => library,
        Err(e) => {
            eprintln!(
                "lectern: cannot open the data folder {}: {e}",
                paths.data_dir.display()
            );
            return ExitCode::FAILURE;
        }
    };
    let worker_exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("lectern: cannot find the app's own executable: {e}");
            return ExitCode::FAILURE;
        }
    };
    let builder = bindings();
    let result = tauri::Builder::default()
        .invoke_handler(builder.invoke_handler())
        .manage(Session::new(library, ExtractorConfig::new(worker_exe)))
        .manage(commands::folders::FolderWatchState::default())
        .register_asynchronous_uri_scheme_protocol(DOCUMENT_SCHEME, |ctx, request, responder| {
            let handle = ctx.app_handle().clone();
            let id = request
                .uri()
                .path()
                .trim_start_matches('/')
                .parse::<lectern::DocumentId>();
            tauri::async_runtime::spawn(async move {
                let app = tauri::Manager::state::<Session>(&handle);
                responder.respond(document_response(&app, id.ok()).await);
            });
        })
        .setup(move |app| {
            builder.mount_events(app);
            commands::folders::start_folder_sync(app.handle().clone());
            Ok(())
        })
        .run(tauri::generate_context!());
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lectern: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A stored document's file, found by id: the webview never names a path.
async fn document_response(
    app: &Session,
    document_id: Option<lectern::DocumentId>,
) -> Response<Vec<u8>> {
    let reply = |status: StatusCode, mime: &str, body: Vec<u8>| {
        Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, mime)
            .header(header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")
            .body(body)
            .unwrap_or_default()
    };
    let Some(document_id) = document_id else {
        return reply(
            StatusCode::BAD_REQUEST,
            "text/plain",
            b"no document id".to_vec(),
        );
    };
    let doc = match app.library().document(document_id).await {
        Ok(doc) => doc,
        Err(e) => {
            return reply(
                StatusCode::NOT_FOUND,
                "text/plain",
                e.to_string().into_bytes(),
            );
        }
    };
    match tokio::fs::read(&doc.source_path).await {
        Ok(bytes) => {
            let mime = match doc.format {
                lectern::library::DocFormat::Pdf => "application/pdf",
                lectern::library::DocFormat::Markdown => "text/markdown; charset=utf-8",
                lectern::library::DocFormat::Text => "text/plain; charset=utf-8",
                // Never rendered by the webview (a page's scripts would run in the app): the
                // viewer shows these documents' passages, not their files.
                lectern::library::DocFormat::Html
                | lectern::library::DocFormat::Docx
                | lectern::library::DocFormat::Odt
                | lectern::library::DocFormat::Epub => "application/octet-stream",
            };
            reply(StatusCode::OK, mime, bytes)
        }
        Err(e) => reply(
            StatusCode::NOT_FOUND,
            "text/plain",
            format!("{}: {e}", doc.source_path).into_bytes(),
        ),
    }
}
