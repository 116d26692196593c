//! Ingest benchmark: end-to-end ingest of real PDFs against the embedding-only ceiling.
//!
//! `cargo bench --bench ingest [-- PDF...]` (default: long_R-intro.pdf and
//! long_debian-reference.en.pdf from ../shared/data/pdfs). Prints a Markdown table for
//! docs/BENCHMARKS.md. Not a test: nothing here asserts a time.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lectern::chunk::Chunker;
use lectern::embed::{BATCH_SIZE, EmbedWorker};
use lectern::extract::{ExtractorConfig, WORKER_ARG};
use lectern::ingest::{FileStatus, Ingester};
use lectern::job::CancelFlag;
use lectern::{Library, Paths};

fn proc_status_kib(pid: &str, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs the extraction worker alone on `pdf` and returns (wall time, its peak RSS in MiB).
fn extraction_alone(worker: &Path, pdf: &Path) -> (Duration, f64) {
    use std::io::Write;
    let started = Instant::now();
    let mut child = std::process::Command::new(worker)
        .arg(WORKER_ARG)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start worker");
    let request = serde_json::json!({ "path": pdf, "password": null, "memory_limit": 3u64 << 30 });
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(request.to_string().as_bytes())
        .expect("request");
    let pid = child.id().to_string();
    let mut peak = 0;
    while child.try_wait().expect("wait").is_none() {
        peak = peak.max(proc_status_kib(&pid, "VmHWM:").unwrap_or(0));
        std::thread::sleep(Duration::from_millis(5));
    }
    (started.elapsed(), peak as f64 / 1024.0)
}

fn main() {
    let args: Vec<PathBuf> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .map(PathBuf::from)
        .collect();
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/pdfs");
    let pdfs = if args.is_empty() {
        vec![
            shared.join("long_R-intro.pdf"),
            shared.join("long_debian-reference.en.pdf"),
        ]
    } else {
        args
    };
    let worker = PathBuf::from(env!("CARGO_BIN_EXE_lectern"));
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let models_dir = Paths::resolve(None).models_dir;
    let files = lectern::embed::ModelFiles::default_in(&models_dir);
    let embedder = EmbedWorker::onnx(&files).expect("embedding model (run scripts/setup.sh)");
    // Warm the model up so neither measurement pays for the first session run.
    embedder
        .embed_blocking(vec!["warm up".into(); BATCH_SIZE])
        .expect("warm-up");

    println!(
        "| document | pages | chunks | ingest s | pages/s | chunks/s | read | extract | chunk | embed | store | ceiling chunks/s | ingest / ceiling | peak RSS MiB (ingest process) | peak RSS MiB (extraction worker) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for pdf in &pdfs {
        let dir = tempfile::tempdir().expect("temp dir");
        let paths = Paths {
            data_dir: dir.path().to_owned(),
            models_dir: models_dir.clone(),
        };
        let (report, texts) = runtime.block_on(async {
            let library = Library::open(paths).await.expect("library");
            let col = library
                .db()
                .create_collection("bench")
                .await
                .expect("collection")
                .id;
            let chunker = Chunker::new(files.tokenizer().expect("tokenizer"));
            let ingester = Ingester::new(
                library.db().clone(),
                embedder.clone(),
                chunker,
                ExtractorConfig::new(worker.clone()),
            );
            let report = ingester
                .ingest(
                    col,
                    std::slice::from_ref(pdf),
                    None,
                    None,
                    &CancelFlag::default(),
                )
                .await;
            let doc_id = report.files[0].document_id.expect("document");
            let texts: Vec<String> = library
                .db()
                .chunks(doc_id)
                .await
                .expect("chunks")
                .into_iter()
                .map(|c| c.text)
                .collect();
            (report, texts)
        });
        let rss_ingest = proc_status_kib("self", "VmHWM:").unwrap_or(0) as f64 / 1024.0;
        let file = &report.files[0];
        assert_eq!(file.status, FileStatus::Indexed, "{:?}", file.error);

        // The ceiling: the same chunk texts through the same model, nothing else.
        let started = Instant::now();
        for batch in texts.chunks(BATCH_SIZE) {
            embedder.embed_blocking(batch.to_vec()).expect("embed");
        }
        let ceiling = texts.len() as f64 / started.elapsed().as_secs_f64();
        let (_, rss_worker) = extraction_alone(&worker, pdf);

        let t = report.timings;
        let total = t.total.as_secs_f64();
        let share = |d: Duration| format!("{:.0} %", 100.0 * d.as_secs_f64() / total);
        let n_pages = file.n_pages.unwrap_or(0);
        let chunks_per_s = file.n_chunks as f64 / total;
        println!(
            "| {} | {} | {} | {:.1} | {:.1} | {:.1} | {} | {} | {} | {} | {} | {:.1} | {:.2} | {:.0} | {:.0} |",
            pdf.file_name().expect("name").to_string_lossy(),
            n_pages,
            file.n_chunks,
            total,
            n_pages as f64 / total,
            chunks_per_s,
            share(t.read),
            share(t.extract),
            share(t.chunk),
            share(t.embed),
            share(t.store),
            ceiling,
            chunks_per_s / ceiling,
            rss_ingest,
            rss_worker,
        );
    }
}
