//! Fuzz target: the text_loader (properties in `fuzz/checks.rs`).
#![no_main]

#[allow(dead_code)]
#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::text_loader(data));
