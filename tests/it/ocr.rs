//! OCR of scanned pages with Debian's Tesseract and Poppler: the shared scans become
//! searchable, only the pages without text are read, the passages say so, a document in a
//! language OCR cannot read is refused quickly, and a machine without OCR says what to
//! install.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use lectern::eval::metrics::character_error_rate;
use lectern::extract::{ExtractOptions, extract, ocr};
use lectern::ingest::FileStatus;
use lectern::store::DocFormat;

use crate::cli::lectern;
use crate::support::{TestLibrary, asset, extractor, shared_pdf};

#[test]
fn the_error_rate_counts_edits_over_the_reference() {
    assert_eq!(character_error_rate("lighthouse", "lighthouse"), 0.0);
    assert!((character_error_rate("lighthousc", "lighthouse") - 0.1).abs() < 1e-9);
    assert_eq!(character_error_rate("a\n  b", "a b"), 0.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_clean_scan_reads_within_five_percent_of_its_transcript() {
    let clock = Instant::now();
    let text = extract(
        &extractor(),
        &shared_pdf("scan_linn-2col.pdf"),
        DocFormat::Pdf,
        ExtractOptions::default(),
    )
    .await
    .expect("the scan is read by OCR");
    let seconds = clock.elapsed().as_secs_f64();
    assert_eq!(text.ocr, vec![true]);
    let transcript = std::fs::read_to_string(
        crate::support::shared_data().join("pdfs/groundtruth/scan_linn-2col.txt"),
    )
    .expect("groundtruth");
    let cer = character_error_rate(&text.pages[0], &transcript);
    eprintln!(
        "scan_linn-2col.pdf: CER {:.2} %, {seconds:.1} s",
        cer * 100.0
    );
    assert!(cer <= 0.05, "CER {:.2} %", cer * 100.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn scanned_pdfs_are_indexed_and_their_passages_say_they_were_read_by_ocr() {
    let t = TestLibrary::new().await;
    let col = t.collection("scans").await;
    let scans = [
        "scan_congress-message.pdf",
        "scan_huckfinn-c03-29.pdf",
        "scan_linn-2col.pdf",
        "scan_vicksburg-with-ocr-layer.pdf",
    ];
    let inputs: Vec<PathBuf> = scans.iter().map(|n| shared_pdf(n)).collect();
    let report = t.ingest(col, &inputs, None).await;
    for f in &report.files {
        assert_eq!(f.status, FileStatus::Indexed, "{:?}", f.error);
    }
    let db = t.library.db();
    for doc in db.documents(col).await.expect("documents") {
        // The Vicksburg scan carries its own OCR layer: good text is never read again.
        let want = i64::from(doc.name != "scan_vicksburg-with-ocr-layer.pdf");
        assert_eq!(doc.n_ocr_pages, want, "{}", doc.name);
        for chunk in db.chunks(doc.id).await.expect("chunks") {
            assert_eq!(
                chunk.ocr,
                want == 1,
                "{} chunk {}",
                doc.name,
                chunk.chunk_idx
            );
        }
    }
    for (query, document) in [
        ("LinnSequencer MIDI sequence recorder", "scan_linn-2col.pdf"),
        ("message to Congress", "scan_congress-message.pdf"),
    ] {
        let hits = t
            .retriever()
            .search(col, query, 3, lectern::retrieve::SearchMode::Hybrid)
            .await
            .expect("search");
        let top = hits.first().expect("a hit");
        assert_eq!(top.document, document, "{query}");
        assert!(top.ocr, "{query}: the passage is marked as read by OCR");
    }
}

/// Joins PDFs into one with Poppler's `pdfunite` (installed with the OCR programs).
fn pdfunite(parts: &[PathBuf], out: &Path) {
    let status = Command::new("pdfunite")
        .args(parts)
        .arg(out)
        .status()
        .expect("run pdfunite (Debian: poppler-utils)");
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn in_a_mixed_pdf_only_the_scanned_page_is_read_by_ocr() {
    let t = TestLibrary::new().await;
    let col = t.collection("mixed").await;
    let mixed = t.dir.path().join("mixed.pdf");
    // Three text pages, then a scanned one.
    pdfunite(
        &[
            asset("sample-lighthouses.pdf"),
            shared_pdf("scan_linn-2col.pdf"),
        ],
        &mixed,
    );
    let report = t.ingest(col, &[mixed], None).await;
    assert_eq!(
        report.files[0].status,
        FileStatus::Indexed,
        "{:?}",
        report.files[0].error
    );
    assert_eq!(report.files[0].n_pages, Some(4));
    let db = t.library.db();
    let doc = &db.documents(col).await.expect("documents")[0];
    assert_eq!(doc.n_ocr_pages, 1);
    let chunks = db.chunks(doc.id).await.expect("chunks");
    for chunk in &chunks {
        let on_scan = chunk.last_page == Some(4);
        assert_eq!(chunk.ocr, on_scan, "chunk {}", chunk.chunk_idx);
    }
    assert!(
        chunks
            .iter()
            .any(|c| c.first_page == Some(4) && c.text.contains("LinnSequencer"))
    );
    assert!(
        chunks
            .iter()
            .any(|c| c.first_page == Some(1) && !c.ocr && c.text.contains("lighthouse"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_garbled_document_ocr_cannot_read_either_is_refused_after_a_few_pages() {
    let t = TestLibrary::new().await;
    let col = t.collection("ru").await;
    let clock = Instant::now();
    let report = t
        .ingest(
            col,
            &[shared_pdf("robust_ru_lshortru_garbled-textlayer.pdf")],
            None,
        )
        .await;
    let error = report.files[0].error.as_ref().expect("refused");
    assert_eq!(error.code().as_str(), "garbled_text");
    let message = error.to_string();
    assert!(message.contains("OCR (eng)"), "{message}");
    assert!(message.contains("were not tried"), "{message}");
    eprintln!("garbled Russian refused in {:.1?}", clock.elapsed());
}

#[test]
fn the_ocr_language_is_a_collection_setting_among_those_installed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path();
    let (rc, _) = lectern(data, &["collection", "create", "Scans"]);
    assert_eq!(rc, 0);
    let (rc, out) = lectern(data, &["collection", "ocr", "Scans"]);
    assert_eq!(rc, 0);
    assert_eq!(out[0]["ocr_language"], "eng");
    let installed: Vec<String> = serde_json::from_value(out[0]["installed"].clone()).expect("list");
    assert_eq!(installed, ocr::installed_languages());
    assert!(installed.iter().any(|l| l == "eng"), "{installed:?}");

    let (rc, out) = lectern(data, &["collection", "ocr", "Scans", "xx-none"]);
    assert_ne!(rc, 0);
    let error = &out[0]["error"];
    assert_eq!(error["code"], "invalid_input", "{out:?}");
    let message = error["message"].as_str().expect("message");
    assert!(message.contains("tesseract-ocr-xx-none"), "{message}");
    assert!(message.contains("installed: "), "{message}");

    let (rc, _) = lectern(data, &["collection", "ocr", "Scans", "eng+eng"]);
    assert_eq!(rc, 0);
    let (_, out) = lectern(data, &["collection", "list"]);
    assert_eq!(out[0]["ocr_language"], "eng+eng");
}

#[test]
fn without_ocr_installed_a_scan_is_refused_naming_what_to_install() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path();
    // A PATH without Tesseract or Poppler: the worker's OCR programs are not found.
    let empty_bin = dir.path().join("bin");
    std::fs::create_dir_all(&empty_bin).expect("bin");
    let output = Command::new(env!("CARGO_BIN_EXE_lectern"))
        .arg("--data-dir")
        .arg(data)
        .args(["--json", "ingest", "-c", "Scans"])
        .arg(shared_pdf("scan_linn-2col.pdf"))
        .env("LECTERN_MODELS_DIR", crate::support::models_dir())
        .env("PATH", &empty_bin)
        .output()
        .expect("run lectern");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("no_text_layer"), "{stdout}");
    assert!(stdout.contains("OCR is not installed"), "{stdout}");
    assert!(stdout.contains("tesseract-ocr"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread")]
async fn cancelling_during_ocr_stops_the_file_within_seconds() {
    use lectern::ingest::IngestEvent;
    let t = TestLibrary::new().await;
    let col = t.collection("long scan").await;
    // Twenty scanned pages: about half a minute of OCR if nothing stopped it.
    let scan = shared_pdf("scan_linn-2col.pdf");
    let long = t.dir.path().join("long-scan.pdf");
    pdfunite(&vec![scan; 20], &long);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let cancel = lectern::job::CancelFlag::default();
    let canceller = {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            let mut pages = None;
            while let Some(event) = rx.recv().await {
                if let IngestEvent::Ocr {
                    n_done, n_pages, ..
                } = event
                {
                    pages = Some((n_done, n_pages));
                    cancel.cancel();
                    break;
                }
            }
            (pages, Instant::now())
        })
    };
    let report = t
        .ingester
        .ingest(col, &[long], None, Some(tx), &cancel)
        .await;
    let ended = Instant::now();
    let (pages, cancelled_at) = canceller.await.expect("canceller");
    let (n_done, n_pages) = pages.expect("OCR progress was reported");
    assert_eq!(n_pages, 20);
    assert!(n_done < n_pages);
    let error = report.files[0].error.as_ref().expect("cancelled");
    assert_eq!(error.code().as_str(), "cancelled", "{error}");
    let stop = ended.duration_since(cancelled_at);
    assert!(
        stop.as_secs_f64() < 5.0,
        "stopped {stop:?} after the cancel"
    );
    assert!(
        t.library
            .db()
            .documents(col)
            .await
            .expect("docs")
            .is_empty()
    );
}
