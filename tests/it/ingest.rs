//! Ingest against real files: pages, re-ingest, replacement, removal, and every bad PDF in
//! `../shared/data/pdfs` rejected with its own reason while the rest of the batch goes on.

use std::path::PathBuf;
use std::time::Duration;

use lectern::ingest::{FileOutcome, FileStatus};

use crate::support::{TestLibrary, asset, extractor, shared_pdf};

fn code(outcome: &FileOutcome) -> &'static str {
    outcome.error.as_ref().map_or("", |e| e.code().as_str())
}

#[tokio::test]
async fn sample_pdf_is_indexed_with_pages_and_searchable_words() {
    let t = TestLibrary::new().await;
    let col = t.collection("demo").await;
    let report = t
        .ingest(col, &[asset("sample-lighthouses.pdf")], None)
        .await;
    let file = &report.files[0];
    assert_eq!(file.status, FileStatus::Indexed, "{:?}", file.error);
    assert_eq!(file.n_pages, Some(3));
    let db = t.library.db();
    let doc = &db.documents(col).await.expect("documents")[0];
    assert_eq!(doc.name, "sample-lighthouses.pdf");
    assert_eq!(doc.n_pages, Some(3));
    assert_eq!(doc.embedding_model, "all-MiniLM-L6-v2");
    let chunks = db.chunks(doc.id).await.expect("chunks");
    assert_eq!(chunks.len() as i64, doc.n_chunks);
    let wickies = chunks
        .iter()
        .find(|c| c.text.contains("wickies"))
        .expect("page 2 text");
    assert!(wickies.first_page <= Some(2) && wickies.last_page >= Some(2));
    let embeddings = db.chunk_embeddings(doc.id).await.expect("vectors");
    assert!(embeddings.iter().all(|v| v.len() == 384));
    let hits = db.keyword_chunk_ids("wickies", 10).await.expect("fts");
    assert_eq!(hits, [wickies.id]);
}

#[tokio::test]
async fn reingest_skips_unchanged_and_replaces_changed_files() {
    let t = TestLibrary::new().await;
    let col = t.collection("notes").await;
    let path = t.write(
        "notes.txt",
        "The lantern room sits at the top of the tower.",
    );
    let first = t.ingest(col, std::slice::from_ref(&path), None).await;
    assert_eq!(first.files[0].status, FileStatus::Indexed);
    let old_id = first.files[0].document_id.expect("id");

    let again = t.ingest(col, std::slice::from_ref(&path), None).await;
    assert_eq!(again.files[0].status, FileStatus::Skipped);
    assert_eq!(again.files[0].document_id, Some(old_id));

    std::fs::write(&path, "The gallery runs around the outside of the lantern.").expect("rewrite");
    let changed = t.ingest(col, std::slice::from_ref(&path), None).await;
    assert_eq!(changed.files[0].status, FileStatus::Indexed);
    let db = t.library.db();
    let docs = db.documents(col).await.expect("documents");
    assert_eq!(docs.len(), 1, "the changed file replaces its old version");
    assert_ne!(docs[0].id, old_id);
    assert!(db.chunks(old_id).await.expect("old chunks").is_empty());
    assert!(
        db.keyword_chunk_ids("lantern AND room", 10)
            .await
            .expect("fts")
            .is_empty()
    );
    assert_eq!(
        db.keyword_chunk_ids("gallery", 10)
            .await
            .expect("fts")
            .len(),
        1
    );
    assert!(db.integrity_check().await.expect("integrity"));
}

#[tokio::test]
async fn removing_a_document_deletes_its_chunks_and_keyword_rows_only() {
    let t = TestLibrary::new().await;
    let col = t.collection("mixed").await;
    let md = asset("fixtures/guide.md");
    let txt = asset("fixtures/notes.txt");
    let report = t.ingest(col, &[md, txt], None).await;
    assert_eq!(report.count(FileStatus::Indexed), 2, "{:?}", report.files);
    let db = t.library.db();
    let guide = db.find_document(col, "guide.md").await.expect("by name");
    let notes = db
        .find_document(col, &report.files[1].path.to_string_lossy())
        .await
        .expect("by path");
    assert!(
        !db.keyword_chunk_ids("wickies", 10)
            .await
            .expect("fts")
            .is_empty()
    );

    db.delete_document(guide.id).await.expect("remove");
    assert!(db.chunks(guide.id).await.expect("chunks").is_empty());
    assert!(
        db.keyword_chunk_ids("wickies", 10)
            .await
            .expect("fts")
            .is_empty()
    );
    assert_eq!(
        db.chunks(notes.id).await.expect("chunks").len() as i64,
        notes.n_chunks
    );
    assert!(
        !db.keyword_chunk_ids("isophase", 10)
            .await
            .expect("fts")
            .is_empty()
    );
    let orphans: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM chunks WHERE document_id NOT IN (SELECT id FROM documents)",
    )
    .fetch_one(db.pool())
    .await
    .expect("count");
    assert_eq!(orphans, 0);
    assert!(db.integrity_check().await.expect("integrity"));
    assert_eq!(
        db.find_document(col, "guide.md")
            .await
            .expect_err("gone")
            .code(),
        "not_found"
    );
}

#[tokio::test]
async fn every_bad_pdf_fails_with_its_own_reason_and_the_batch_goes_on() {
    let t = TestLibrary::new().await;
    let col = t.collection("bad").await;
    // Something already stored must survive the bad batch untouched.
    let kept = t.ingest(col, &[asset("fixtures/notes.txt")], None).await;
    let kept_id = kept.files[0].document_id.expect("kept");

    let cases = [
        ("bad_cyclic-toc.pdf", "malformed_pdf"),
        ("bad_fuzz-no-trailer.pdf", "malformed_pdf"),
        ("bad_invalid-header-eof.pdf", "malformed_pdf"),
        ("bad_truncated_R-intro_200k.pdf", "malformed_pdf"),
        ("enc_aes128_userpw_asdfzxcv.pdf", "password_required"),
        ("enc_aes256_userpw_user.pdf", "password_required"),
        ("enc_libreoffice_openpassword.pdf", "password_required"),
        ("enc_rc4-128_userpw_asdfzxcv.pdf", "password_required"),
        ("robust_ru_lshortru_garbled-textlayer.pdf", "garbled_text"),
    ];
    let mut inputs: Vec<PathBuf> = cases.iter().map(|(name, _)| shared_pdf(name)).collect();
    // Good files in the middle and at the end.
    inputs.insert(5, asset("sample-lighthouses.pdf"));
    inputs.push(shared_pdf("enc_aes256_owner-only.pdf"));
    inputs.push(shared_pdf("scan_vicksburg-with-ocr-layer.pdf"));
    // A scan is read by OCR (tests/it/ocr.rs).
    inputs.push(shared_pdf("scan_huckfinn-c03-29.pdf"));
    let report = t.ingest(col, &inputs, None).await;
    assert_eq!(report.files.len(), inputs.len());

    for (name, want) in cases {
        let outcome = report
            .files
            .iter()
            .find(|f| f.path.ends_with(name))
            .expect(name);
        assert_eq!(outcome.status, FileStatus::Failed, "{name}");
        assert_eq!(code(outcome), want, "{name}: {:?}", outcome.error);
        let message = outcome.error.as_ref().expect("error").to_string();
        assert!(
            message.contains(name),
            "message must name the file: {message}"
        );
    }
    for name in [
        "sample-lighthouses.pdf",
        "enc_aes256_owner-only.pdf",
        "scan_vicksburg-with-ocr-layer.pdf",
        "scan_huckfinn-c03-29.pdf",
    ] {
        let outcome = report
            .files
            .iter()
            .find(|f| f.path.ends_with(name))
            .expect(name);
        assert_eq!(
            outcome.status,
            FileStatus::Indexed,
            "{name}: {:?}",
            outcome.error
        );
    }
    let db = t.library.db();
    assert_eq!(
        db.chunks(kept_id).await.expect("kept chunks").len(),
        kept.files[0].n_chunks
    );
    assert_eq!(db.documents(col).await.expect("documents").len(), 5);
    assert!(db.integrity_check().await.expect("integrity"));
}

#[tokio::test]
async fn encrypted_pdfs_open_with_their_password_and_a_wrong_one_is_named() {
    let t = TestLibrary::new().await;
    let col = t.collection("locked").await;
    let pdfs = [
        shared_pdf("enc_aes128_userpw_asdfzxcv.pdf"),
        shared_pdf("enc_rc4-128_userpw_asdfzxcv.pdf"),
    ];
    let report = t.ingest(col, &pdfs, Some("asdfzxcv")).await;
    for f in &report.files {
        assert_eq!(f.status, FileStatus::Indexed, "{:?}", f.error);
    }
    let wrong = t
        .ingest(
            col,
            &[shared_pdf("enc_libreoffice_openpassword.pdf")],
            Some("nope"),
        )
        .await;
    assert_eq!(code(&wrong.files[0]), "wrong_password");
    let right = t
        .ingest(
            col,
            &[shared_pdf("enc_libreoffice_openpassword.pdf")],
            Some("openpassword"),
        )
        .await;
    assert_eq!(
        right.files[0].status,
        FileStatus::Indexed,
        "{:?}",
        right.files[0].error
    );
}

#[tokio::test]
async fn text_inputs_are_checked_and_folders_are_searched() {
    let t = TestLibrary::new().await;
    let col = t.collection("texts").await;
    let bad_utf8 = t.write("latin1.txt", b"caf\xe9 au lait");
    let empty = t.write("empty.md", b"");
    let blank = t.write("blank.txt", b" \n\n\t \n");
    let odd = t.write("table.csv", b"a,b\n1,2\n");
    let missing = t.dir.path().join("no-such-file");
    let report = t
        .ingest(col, &[bad_utf8, empty, blank, odd, missing], None)
        .await;
    let codes: Vec<&str> = report.files.iter().map(code).collect();
    assert_eq!(
        codes,
        ["not_utf8", "empty", "empty", "unsupported_format", "io"]
    );
    assert!(
        report.files[0]
            .error
            .as_ref()
            .expect("error")
            .to_string()
            .contains("offset 3")
    );

    // A folder: supported files below it are found, hidden files and other types skipped.
    let folder = t.dir.path().join("tree");
    std::fs::create_dir_all(folder.join("sub/.hidden")).expect("mkdir");
    std::fs::copy(asset("fixtures/guide.md"), folder.join("sub/guide.md")).expect("copy");
    std::fs::copy(asset("fixtures/notes.txt"), folder.join("notes.txt")).expect("copy");
    std::fs::write(folder.join("sub/.hidden/secret.txt"), "hidden").expect("write");
    std::fs::write(folder.join("image.png"), [0u8; 4]).expect("write");
    let report = t.ingest(col, &[folder], None).await;
    let names: Vec<String> = report
        .files
        .iter()
        .map(|f| {
            f.path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(names, ["notes.txt", "guide.md"]);
    assert_eq!(report.count(FileStatus::Indexed), 2);
}

#[cfg(unix)]
fn script(dir: &std::path::Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

#[cfg(unix)]
#[tokio::test]
async fn a_crashing_or_hanging_extractor_costs_one_file_not_the_process() {
    let scripts = tempfile::tempdir().expect("temp dir");
    let pdf = asset("sample-lighthouses.pdf");
    let txt = asset("fixtures/notes.txt");

    let mut aborting = extractor();
    aborting.worker_exe = script(
        scripts.path(),
        "abort.sh",
        "echo 'fatal runtime error: stack overflow' >&2; kill -ABRT $$",
    );
    let t = TestLibrary::with_extractor(aborting).await;
    let col = t.collection("c").await;
    let report = t.ingest(col, &[pdf.clone(), txt.clone()], None).await;
    assert_eq!(code(&report.files[0]), "parser_crashed");
    let message = report.files[0].error.as_ref().expect("error").to_string();
    assert!(
        message.contains("aborted") && message.contains("stack overflow"),
        "{message}"
    );
    assert_eq!(report.files[1].status, FileStatus::Indexed);

    let mut hanging = extractor();
    hanging.worker_exe = script(scripts.path(), "hang.sh", "sleep 30");
    hanging.timeout = Duration::from_secs(1);
    let t = TestLibrary::with_extractor(hanging).await;
    let col = t.collection("c").await;
    let started = std::time::Instant::now();
    let report = t.ingest(col, &[pdf, txt], None).await;
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(code(&report.files[0]), "timeout");
    assert_eq!(report.files[1].status, FileStatus::Indexed);
}

#[tokio::test]
async fn a_cancelled_ingest_stores_nothing_partial() {
    let t = TestLibrary::new().await;
    let col = t.collection("c").await;
    let cancel = lectern::job::CancelFlag::default();
    cancel.cancel();
    let report = t
        .ingester
        .ingest(col, &[asset("sample-lighthouses.pdf")], None, None, &cancel)
        .await;
    assert_eq!(code(&report.files[0]), "cancelled");
    assert!(
        t.library
            .db()
            .documents(col)
            .await
            .expect("documents")
            .is_empty()
    );
}
