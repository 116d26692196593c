//! Integration tests of the Lectern core against real parts: SQLite files, the real
//! embedding model, real PDFs from `../shared/data`, and the `lectern` binary itself.

mod answer;
mod ask_cli;
mod chunk;
mod cli;
mod concurrency;
mod crash;
mod db;
mod debian_faq;
mod embed;
mod eval;
mod folders;
mod formats;
mod fuzz;
mod hostile;
mod index;
mod ingest;
mod llm;
mod models;
mod ocr;
mod paths;
mod prompt;
mod reembed;
mod reference_bert;
mod remote;
mod retrieve;
mod serve;
mod support;
mod tidy;
