//! Every input the fuzzers ever broke Lectern with (and a few seeds) is run again through the
//! same property checks as the fuzz targets (`fuzz/checks.rs`, `scripts/fuzz.sh`), so a fix
//! that regresses fails here, on stable Rust and in CI.

use std::path::{Path, PathBuf};

use crate::support::chunker;

#[allow(dead_code)]
#[path = "../../fuzz/checks.rs"]
mod checks;

fn kept_inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no inputs kept in {}", dir.display());
    files
        .into_iter()
        .map(|f| {
            let bytes = std::fs::read(&f).expect("read kept input");
            (f, bytes)
        })
        .collect()
}

fn replay(target: &str, check: impl Fn(&[u8])) {
    for (path, bytes) in kept_inputs(target) {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&bytes)));
        assert!(outcome.is_ok(), "{target}: {} fails again", path.display());
    }
}

#[test]
fn kept_fuzz_inputs_pass_the_chunker_checks() {
    let chunker = chunker();
    replay("chunker", |data| checks::chunker(&chunker, data));
}

#[test]
fn kept_fuzz_inputs_pass_the_text_loader_checks() {
    replay("text_loader", checks::text_loader);
}

#[test]
fn kept_fuzz_inputs_pass_the_prompt_checks() {
    replay("prompt", checks::prompt);
}

#[test]
fn kept_fuzz_inputs_pass_the_citation_checks() {
    replay("citations", checks::citations);
}
