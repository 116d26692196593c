//! Fuzz target: the chunker with the real all-MiniLM-L6-v2 tokenizer (properties in
//! `fuzz/checks.rs`). Needs the models that `scripts/setup.sh` installs.
#![no_main]

use std::sync::OnceLock;

use lectern::chunk::Chunker;
use lectern::embed::ModelFiles;

#[allow(dead_code)]
#[path = "../checks.rs"]
mod checks;

fn chunker() -> &'static Chunker {
    static CHUNKER: OnceLock<Chunker> = OnceLock::new();
    CHUNKER.get_or_init(|| {
        let models = lectern::Paths::resolve(None).models_dir;
        let tokenizer = ModelFiles::default_in(&models)
            .tokenizer()
            .expect("tokenizer: run scripts/setup.sh");
        Chunker::new(tokenizer)
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::chunker(chunker(), data));
