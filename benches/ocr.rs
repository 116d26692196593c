//! OCR benchmark: the shared scans read by Tesseract through Lectern's OCR path (Poppler's
//! pdftocairo at 300 dpi, one single-threaded Tesseract per page). Character error rate
//! against `groundtruth/scan_linn-2col.txt` and against the hidden text layer of the Vicksburg
//! scan, seconds per page with one and two pages at a time, and the OCR programs' peak RSS.
//!
//! `cargo bench --bench ocr`. Prints a Markdown table for docs/BENCHMARKS.md. Not a test:
//! nothing here asserts a figure.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use lectern::eval::metrics::character_error_rate;
use lectern::extract::ocr::{self, PageRead};

fn shared_pdf(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/pdfs")
        .join(name)
}

/// Samples the peak RSS (VmHWM) of this process's pdftocairo and tesseract children until
/// stopped; returns KiB.
fn watch_children(stop: Arc<AtomicBool>, peak: Arc<AtomicU64>) -> std::thread::JoinHandle<()> {
    let me = std::process::id().to_string();
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
                let dir = entry.path();
                let Ok(stat) = std::fs::read_to_string(dir.join("stat")) else {
                    continue;
                };
                // pid (comm) state ppid ...
                let Some((comm, rest)) = stat.split_once(") ") else {
                    continue;
                };
                let ppid = rest.split_whitespace().nth(1).unwrap_or("");
                if ppid != me || !(comm.ends_with("(tesseract") || comm.ends_with("(pdftocairo")) {
                    continue;
                }
                let status = std::fs::read_to_string(dir.join("status")).unwrap_or_default();
                if let Some(kib) = status
                    .lines()
                    .find(|l| l.starts_with("VmHWM:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse::<u64>().ok())
                {
                    peak.fetch_max(kib, Ordering::Relaxed);
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    })
}

struct Case {
    file: &'static str,
    pages: Vec<u32>,
    /// The reference text of all pages, joined; `None`: no reference.
    reference: Option<String>,
    reference_name: &'static str,
}

fn main() {
    let installed = ocr::installed_languages();
    assert!(
        installed.iter().any(|l| l == "eng"),
        "Tesseract with English is needed (scripts/setup.sh installs it)"
    );
    let linn_truth = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/data/pdfs/groundtruth/scan_linn-2col.txt"),
    )
    .expect("groundtruth");
    let vicksburg = shared_pdf("scan_vicksburg-with-ocr-layer.pdf");
    let layer = lectern::extract::extract_pages(&std::fs::read(&vicksburg).expect("pdf"), None)
        .expect("Vicksburg's text layer")
        .texts
        .join("\n");
    let cases = [
        Case {
            file: "scan_linn-2col.pdf",
            pages: vec![1],
            reference: Some(linn_truth),
            reference_name: "groundtruth transcript",
        },
        Case {
            file: "scan_vicksburg-with-ocr-layer.pdf",
            pages: (1..=6).collect(),
            reference: Some(layer),
            reference_name: "its hidden OCR layer",
        },
        Case {
            file: "scan_congress-message.pdf",
            pages: vec![1],
            reference: None,
            reference_name: "–",
        },
        Case {
            file: "scan_huckfinn-c03-29.pdf",
            pages: vec![1],
            reference: None,
            reference_name: "–",
        },
    ];
    println!(
        "| scan | pages | reference | CER | confidence | s/page, 1 at a time | s/page, 2 at a time | peak RSS of an OCR program |"
    );
    println!("|---|---:|---|---:|---:|---:|---:|---:|");
    for case in cases {
        let path = shared_pdf(case.file);
        let mut seconds = Vec::new();
        let mut text = String::new();
        let mut confidence = 0.0f32;
        let peak = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let watcher = watch_children(Arc::clone(&stop), Arc::clone(&peak));
        for threads in [1, 2] {
            let clock = Instant::now();
            let read = ocr::ocr_pages(&path, &case.pages, None, "eng", threads, &|_| {})
                .expect("OCR runs");
            seconds.push(clock.elapsed().as_secs_f64() / case.pages.len() as f64);
            let texts: Vec<(String, f32)> = read
                .into_iter()
                .map(|r| match r {
                    PageRead::Read(t) => (t.text, t.confidence),
                    PageRead::Unreadable | PageRead::Skipped => (String::new(), 0.0),
                })
                .collect();
            confidence = texts.iter().map(|(_, c)| c).sum::<f32>() / texts.len() as f32;
            text = texts
                .into_iter()
                .map(|(t, _)| t)
                .collect::<Vec<_>>()
                .join("\n");
        }
        stop.store(true, Ordering::Relaxed);
        let _ = watcher.join();
        let cer = case.reference.as_deref().map_or_else(
            || "–".to_owned(),
            |r| format!("{:.2} %", character_error_rate(&text, r) * 100.0),
        );
        println!(
            "| {} | {} | {} | {cer} | {confidence:.1} | {:.2} | {:.2} | {:.0} MiB |",
            case.file,
            case.pages.len(),
            case.reference_name,
            seconds[0],
            seconds[1],
            peak.load(Ordering::Relaxed) as f64 / 1024.0
        );
    }
}
