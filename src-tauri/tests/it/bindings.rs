//! The UI's TypeScript bindings must match the commands and events they were generated from.

use std::path::Path;

#[test]
fn committed_bindings_match_the_commands_and_events() {
    let committed_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/lib/bindings.ts");
    let dir = tempfile::tempdir().expect("temp dir");
    let fresh_path = dir.path().join("bindings.ts");
    lectern_app::export_bindings(&fresh_path).expect("export bindings");
    let fresh = std::fs::read_to_string(&fresh_path).expect("read fresh bindings");
    let committed = std::fs::read_to_string(&committed_path).unwrap_or_default();
    assert!(
        fresh == committed,
        "{} is stale: run `cargo run -p lectern-app --example export-bindings` and commit the result",
        committed_path.display()
    );
}
