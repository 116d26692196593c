//! House rules checked mechanically: the core never depends on Tauri, and every Rust file
//! says what it is for in its first line.

use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir()
            && !matches!(
                name.as_str(),
                "target" | "node_modules" | ".git" | "snapshots"
            )
        {
            rust_files(&path, out);
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

#[test]
fn the_core_crate_does_not_depend_on_tauri() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("Cargo.toml");
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).expect("Cargo.lock");
    let deps_section = manifest
        .split("\n[")
        .filter(|s| s.starts_with("dependencies") || s.starts_with("dev-dependencies"))
        .collect::<String>();
    assert!(
        !deps_section.contains("tauri"),
        "the core must not depend on tauri"
    );
    // Nothing the core pulls in may bring it either (the app crate, when it exists, is a
    // separate package whose dependencies are not the core's).
    let core_block = lock
        .split("[[package]]")
        .find(|p| p.contains("name = \"lectern\"\n"))
        .expect("lectern in Cargo.lock");
    assert!(
        !core_block.contains("\"tauri"),
        "lectern's locked dependencies include tauri"
    );
}

#[test]
fn every_rust_file_opens_with_a_doc_line() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["src", "tests", "benches"] {
        if root.join(dir).exists() {
            rust_files(&root.join(dir), &mut files);
        }
    }
    let build = root.join("build.rs");
    if build.exists() {
        files.push(build);
    }
    let missing: Vec<_> = files
        .iter()
        .filter(|f| !std::fs::read_to_string(f).expect("read").starts_with("//!"))
        .collect();
    assert!(
        missing.is_empty(),
        "files without a //! first line: {missing:?}"
    );
}
