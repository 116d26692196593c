//! Regenerates the UI's TypeScript bindings from the app's commands and events.

fn main() -> std::process::ExitCode {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/lib/bindings.ts");
    match lectern_app::export_bindings(&path) {
        Ok(()) => {
            println!("wrote {}", path.display());
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("export-bindings: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
