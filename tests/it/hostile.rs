//! Hostile documents through the real `lectern ingest`: files made to break parsers and to
//! exhaust memory are each refused with their own reason while the good file in the same
//! batch is stored, and the whole ingest (the process and its extraction workers) stays
//! under 2 GB of resident memory. Also: an extraction worker never outlives a killed ingest.
//!
//! `LECTERN_HOSTILE_ALL=1` adds every PDF in `../shared/data/pdfs` to the batch (minutes of
//! embedding; `scripts/reliability.sh` sets it).

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{
    asset, models_dir, noise, pdf_from_objects, shared_data, shared_pdf, text_pdf,
};

const GIB: u64 = 1 << 30;

/// A generated file and the reasons it may be refused with (empty: it must be stored).
struct Hostile {
    name: &'static str,
    reasons: &'static [&'static str],
}

const PARSER_REFUSALS: &[&str] = &["malformed_pdf", "parser_failed", "parser_crashed"];

fn write_hostile_files(dir: &Path) -> Vec<(PathBuf, Hostile)> {
    let mut out = Vec::new();
    let mut put = |name: &'static str, reasons: &'static [&'static str], bytes: &[u8]| {
        let path = dir.join(name);
        std::fs::write(&path, bytes).expect("write fixture");
        out.push((path, Hostile { name, reasons }));
    };
    put("zero-bytes.pdf", &["empty"], b"");
    put("zero-bytes.txt", &["empty"], b"");
    put("one-byte.pdf", &["malformed_pdf"], b"%");
    put("random-bytes.pdf", &["malformed_pdf"], &noise(1 << 20, 7));
    // A PDF header on 200 MB of noise: the parser must give up within its memory limit.
    let mut big = b"%PDF-1.7\n".to_vec();
    big.extend_from_slice(&noise(200_000_000, 11));
    put("noise-200mb.pdf", PARSER_REFUSALS, &big);
    drop(big);
    put(
        "empty-pages-20000.pdf",
        &["no_text_layer"],
        &text_pdf(&[""; 20_000]),
    );
    // An object of arrays nested a million deep, referenced from the page: recursion in a
    // parser overflows its stack unless it limits depth.
    let depth = 1_000_000;
    let mut nested = "[".repeat(depth).into_bytes();
    nested.extend_from_slice("]".repeat(depth).as_bytes());
    let objects = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Annots 4 0 R >>".to_vec(),
        nested,
    ];
    put(
        "nested-1m-deep.pdf",
        &[
            "malformed_pdf",
            "parser_failed",
            "parser_crashed",
            "no_text_layer",
        ],
        &pdf_from_objects(&objects),
    );
    // Ten million characters of words on one line: over the text limit, refused unread.
    let line: String = "lighthouse keeper lamp ".repeat(10_000_000 / 23 + 1);
    put("one-line-10mb.txt", &["too_large"], line.as_bytes());
    let mut latin1 = b"Caf\xe9 cr\xe8me, na\xefve fa\xe7ade: Latin-1, not UTF-8.\n".repeat(100);
    latin1.splice(0..0, b"This starts as ASCII. ".iter().copied());
    put("invalid-utf8.txt", &["not_utf8"], &latin1);
    put(
        "good-notes.txt",
        &[],
        &std::fs::read(asset("fixtures/notes.txt")).expect("asset"),
    );
    // 300 MiB that take no disk: refused by size before anything reads them.
    let sparse = dir.join("sparse-300mib.pdf");
    std::fs::File::create(&sparse)
        .and_then(|f| f.set_len(300 << 20))
        .expect("sparse file");
    out.push((
        sparse,
        Hostile {
            name: "sparse-300mib.pdf",
            reasons: &["too_large"],
        },
    ));
    out
}

/// Every PDF in `../shared/data/pdfs`, sorted.
fn shared_pdfs() -> Vec<PathBuf> {
    let mut pdfs: Vec<PathBuf> = std::fs::read_dir(shared_data().join("pdfs"))
        .expect("shared pdfs")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "pdf"))
        .collect();
    pdfs.sort();
    pdfs
}

/// Peak resident memory of a process tree, sampled from `/proc`.
#[derive(Debug, Default)]
struct Peak {
    /// The ingest process's own high-water mark (exact: the kernel keeps it).
    main_kib: u64,
    /// The largest high-water mark of any extraction worker seen.
    worker_kib: u64,
    /// The largest sum of the process's and its workers' resident memory at one sample.
    together_kib: u64,
    n_workers_seen: usize,
}

fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Processes whose parent is `pid`.
fn children_of(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|child| parent_of(*child) == Some(pid))
        .collect()
}

fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: fields follow the last ')'.
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(1)?.parse().ok()
}

/// Runs `lectern --json ingest` to the end, sampling memory every 20 ms.
fn ingest_measured(data: &Path, files: &[PathBuf]) -> (i32, Vec<Value>, Peak, Duration) {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_lectern"))
        .arg("--data-dir")
        .arg(data)
        .args(["--json", "ingest", "-c", "hostile"])
        .args(files)
        .env("LECTERN_MODELS_DIR", models_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start lectern ingest");
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let pid = child.id();
    let mut peak = Peak::default();
    let mut workers_seen = std::collections::HashSet::new();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        let main_rss = status_kib(pid, "VmRSS:").unwrap_or(0);
        peak.main_kib = peak.main_kib.max(status_kib(pid, "VmHWM:").unwrap_or(0));
        let mut together = main_rss;
        for worker in children_of(pid) {
            workers_seen.insert(worker);
            together += status_kib(worker, "VmRSS:").unwrap_or(0);
            peak.worker_kib = peak
                .worker_kib
                .max(status_kib(worker, "VmHWM:").unwrap_or(0));
        }
        peak.together_kib = peak.together_kib.max(together);
        std::thread::sleep(Duration::from_millis(20));
    };
    peak.n_workers_seen = workers_seen.len();
    let text = reader.join().expect("stdout reader");
    let lines = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    (status.code().unwrap_or(-1), lines, peak, started.elapsed())
}

/// Running (not a zombie waiting to be reaped, not gone).
fn is_running(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rsplit(')')
        .next()
        .and_then(|s| s.split_whitespace().next())
        .is_some_and(|state| state != "Z" && state != "X")
}

fn outcome_for<'a>(lines: &'a [Value], path: &Path) -> &'a Value {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .expect("file name");
    lines
        .iter()
        .find(|l| l["path"].as_str().is_some_and(|p| p.ends_with(name)))
        .unwrap_or_else(|| panic!("no outcome for {name}"))
}

#[test]
fn hostile_files_are_refused_with_their_reason_within_memory_limits() {
    let dir = tempfile::tempdir().expect("temp dir");
    let inputs = dir.path().join("inputs");
    std::fs::create_dir_all(&inputs).expect("mkdir");
    let hostile = write_hostile_files(&inputs);
    let mut files: Vec<PathBuf> = hostile.iter().map(|(p, _)| p.clone()).collect();
    // Bad PDFs written by others (truncated, cyclic outlines, no trailer, encrypted).
    let mut shared = shared_pdfs();
    if std::env::var_os("LECTERN_HOSTILE_ALL").is_none() {
        shared.retain(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.starts_with("bad_") || name.starts_with("enc_")
        });
    }
    files.extend(shared.iter().cloned());
    let data = dir.path().join("data");

    let (rc, lines, peak, took) = ingest_measured(&data, &files);
    eprintln!(
        "hostile ingest: {} files in {took:.1?}; peak RSS: ingest process {} MiB, largest \
         extraction worker {} MiB, both at once {} MiB ({} workers)",
        files.len(),
        peak.main_kib >> 10,
        peak.worker_kib >> 10,
        peak.together_kib >> 10,
        peak.n_workers_seen
    );
    assert_eq!(rc, 2, "some files failed, so the exit code is 2");
    assert_eq!(lines.len(), files.len(), "one outcome per file: {lines:?}");

    let mut by_reason: HashMap<String, usize> = HashMap::new();
    for (path, expected) in &hostile {
        let outcome = outcome_for(&lines, path);
        if expected.reasons.is_empty() {
            assert_eq!(outcome["status"], "indexed", "{}: {outcome}", expected.name);
            continue;
        }
        assert_eq!(outcome["status"], "failed", "{}: {outcome}", expected.name);
        let code = outcome["error"]["code"].as_str().unwrap_or_default();
        assert!(
            expected.reasons.contains(&code),
            "{}: refused as {code}, expected one of {:?}: {outcome}",
            expected.name,
            expected.reasons
        );
        let message = outcome["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(expected.name),
            "the reason names the file: {message}"
        );
        *by_reason.entry(code.to_owned()).or_default() += 1;
    }
    for path in &shared {
        let outcome = outcome_for(&lines, path);
        match outcome["status"].as_str() {
            Some("indexed") => assert!(outcome["chunks"].as_u64() > Some(0), "{outcome}"),
            Some("failed") => {
                let code = outcome["error"]["code"].as_str().unwrap_or_default();
                assert!(!code.is_empty() && code != "store_failed", "{outcome}");
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                let message = outcome["error"]["message"].as_str().unwrap_or_default();
                assert!(
                    message.contains(name),
                    "the reason names the file: {message}"
                );
            }
            other => panic!("{}: status {other:?}", path.display()),
        }
    }
    eprintln!("hostile ingest: generated files refused by reason: {by_reason:?}");
    assert!(
        (peak.main_kib + peak.worker_kib) << 10 < 2 * GIB,
        "the ingest and its largest worker stay under 2 GB together: {peak:?}"
    );

    // Nothing half-stored: the one good file is the only document.
    let (rc, docs) = crate::cli::lectern(&data, &["documents", "-c", "hostile"]);
    assert_eq!(rc, 0);
    let n_good_shared = lines.iter().filter(|l| l["status"] == "indexed").count();
    assert_eq!(docs.len(), n_good_shared, "{docs:?}");
}

#[test]
fn an_extraction_worker_does_not_outlive_a_killed_ingest() {
    let dir = tempfile::tempdir().expect("temp dir");
    // The longest extraction among the shared PDFs (2,415 pages): seconds of parsing.
    let pdf = shared_pdf("long_R-fullrefman.pdf");
    let mut child = Command::new(env!("CARGO_BIN_EXE_lectern"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["--json", "ingest", "-c", "orphans"])
        .arg(&pdf)
        .env("LECTERN_MODELS_DIR", models_dir())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start lectern ingest");
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(30);
    let worker = loop {
        if let Some(worker) = children_of(pid).into_iter().next() {
            break worker;
        }
        assert!(Instant::now() < deadline, "no extraction worker started");
        assert!(
            child.try_wait().expect("wait").is_none(),
            "ingest ended early"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    std::thread::sleep(Duration::from_millis(300));
    child.kill().expect("kill -9");
    let _ = child.wait();
    let killed_at = Instant::now();
    while is_running(worker) && killed_at.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let gone_after = killed_at.elapsed();
    assert!(
        !is_running(worker),
        "the worker {worker} still runs {gone_after:?} after its parent was killed"
    );
    eprintln!("orphan test: the worker ended {gone_after:.2?} after its parent was killed");
}

/// Every PDF in `../shared/data/pdfs` through the real extraction path (worker process, time
/// and memory limits, normalisation and checks): each one gives text or a reason naming it.
/// Embedding them all is the long run (`LECTERN_HOSTILE_ALL=1`, `scripts/reliability.sh`).
#[tokio::test(flavor = "multi_thread")]
async fn every_shared_pdf_is_extracted_or_refused_with_a_reason() {
    let extractor = crate::support::extractor();
    let pdfs = shared_pdfs();
    let started = Instant::now();
    let mut n_extracted = 0;
    for pdf in &pdfs {
        let name = pdf.file_name().and_then(|n| n.to_str()).expect("name");
        let clock = Instant::now();
        let options = lectern::extract::ExtractOptions::default();
        match lectern::extract::extract(&extractor, pdf, lectern::store::DocFormat::Pdf, options)
            .await
        {
            Ok(text) => {
                n_extracted += 1;
                eprintln!(
                    "{name}: {} pages, {} characters, {:.1?}",
                    text.pages.len(),
                    text.n_chars(),
                    clock.elapsed()
                );
                assert!(text.n_chars() > 0, "{name}");
            }
            Err(e) => {
                eprintln!("{name}: {} ({:.1?})", e.code(), clock.elapsed());
                assert!(
                    !["extractor_unavailable", "io"].contains(&e.code().as_str()),
                    "{name}: {e}"
                );
                assert!(
                    e.to_string().contains(name),
                    "the reason names the file: {e}"
                );
            }
        }
    }
    eprintln!(
        "{n_extracted} of {} shared PDFs extracted, the rest refused with a reason, in {:.1?}",
        pdfs.len(),
        started.elapsed()
    );
    assert!(
        n_extracted >= pdfs.len() / 2,
        "most of the shared PDFs have text"
    );
}
