//! Tauri's build step (tauri.conf.json, capabilities, icons). Declaring the app's commands
//! here puts them under the capability system: the window may call only those its
//! capability allows (`capabilities/default.json`, checked by the security test).

const COMMANDS: &[&str] = &[
    "app_status",
    "list_collections",
    "create_collection",
    "rename_collection",
    "delete_collection",
    "list_documents",
    "remove_document",
    "list_ocr_languages",
    "set_ocr_language",
    "section_text",
    "list_folders",
    "follow_folder",
    "unfollow_folder",
    "sync_folders",
    "start_ingest",
    "reindex_collection",
    "cancel_job",
    "list_chats",
    "chat_messages",
    "delete_chat",
    "ask",
    "preread",
    "evaluate_answers",
    "stop_answer",
    "set_feedback",
    "list_models",
    "select_model",
    "import_model",
    "list_endpoints",
    "add_endpoint",
    "check_endpoint",
    "select_endpoint",
    "remove_endpoint",
    "get_settings",
    "set_setting",
    "get_prompt",
    "set_prompt",
    "embedding_models",
    "start_embedding_switch",
    "abandon_embedding_switch",
    "set_data_dir",
    "restart_app",
];

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri build step");
}
