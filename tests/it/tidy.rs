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
    // Nothing the core pulls in may bring it either, however indirectly (the app crate in
    // src-tauri/ shares the lock file but is a separate package).
    let blocks: Vec<(&str, Vec<&str>)> = lock
        .split("[[package]]")
        .filter_map(|block| {
            let name = block.lines().find_map(|l| l.strip_prefix("name = \""))?;
            let deps = block
                .split("dependencies = [")
                .nth(1)
                .map(|d| d.split(']').next().unwrap_or_default())
                .unwrap_or_default()
                .lines()
                .filter_map(|l| l.trim().strip_prefix('"'))
                .filter_map(|l| l.split([' ', '"']).next())
                .collect();
            Some((name.trim_end_matches('"'), deps))
        })
        .collect();
    let mut seen = vec!["lectern"];
    let mut idx = 0;
    while idx < seen.len() {
        let name = seen[idx];
        for (_, deps) in blocks.iter().filter(|(n, _)| *n == name) {
            for dep in deps {
                if !seen.contains(dep) {
                    seen.push(dep);
                }
            }
        }
        idx += 1;
    }
    assert!(
        seen.len() > 50,
        "the lock file was not understood: {seen:?}"
    );
    let tauri: Vec<_> = seen.iter().filter(|n| n.starts_with("tauri")).collect();
    assert!(tauri.is_empty(), "the core pulls in {tauri:?}");
}

#[test]
fn every_rust_file_opens_with_a_doc_line() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in [
        "src",
        "tests",
        "benches",
        "src-tauri/src",
        "src-tauri/tests",
    ] {
        if root.join(dir).exists() {
            rust_files(&root.join(dir), &mut files);
        }
    }
    for build in [root.join("build.rs"), root.join("src-tauri/build.rs")] {
        if build.exists() {
            files.push(build);
        }
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

/// The shells' one door into the core is `Library` (and `Session`): none of them reaches the
/// database, so no rule of the core lives in one shell only.
#[test]
fn shells_never_reach_the_database() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["src/bin", "src-tauri/src", "src-tauri/examples"] {
        if root.join(dir).exists() {
            rust_files(&root.join(dir), &mut files);
        }
    }
    assert!(files.len() > 5, "found only {files:?}");
    let mut reaching = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read");
        for (n, line) in text.lines().enumerate() {
            if [
                ".db()",
                "lectern::store",
                "store::",
                "Db::",
                "LlmSettings::load",
                "LlmSettings::set",
            ]
            .iter()
            .any(|pattern| line.contains(pattern))
            {
                reaching.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        reaching.is_empty(),
        "shells call the database directly (add a Library method instead):\n{}",
        reaching.join("\n")
    );
}
