//! Work that overlaps: questions asked while an ingest runs are answered from what is already
//! indexed, without waiting for the ingest to end.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use lectern::embed::EmbedWorker;
use lectern::ingest::{FileStatus, IngestEvent};
use lectern::job::CancelFlag;
use lectern::retrieve::{Retriever, SearchMode};

use crate::support::{TestLibrary, asset, model_files, shared_pdf};

#[tokio::test(flavor = "multi_thread")]
async fn a_question_during_an_ingest_is_answered_from_what_is_indexed() {
    let t = TestLibrary::new().await;
    let notes = t.collection("notes").await;
    let report = t.ingest(notes, &[asset("fixtures/guide.md")], None).await;
    assert_eq!(report.count(FileStatus::Indexed), 1);
    let faq = t.collection("faq").await;

    // Questions get their own embedder, as in the app, so they never queue behind batches.
    let retriever = Retriever::new(
        t.library.db().clone(),
        EmbedWorker::onnx(&model_files()).expect("second embedder"),
        t.library.indexes(),
    );
    let ingest_done = Arc::new(AtomicBool::new(false));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let ingest = {
        let ingester = t.ingester.clone();
        let done = ingest_done.clone();
        tokio::spawn(async move {
            let report = ingester
                .ingest(
                    faq,
                    &[shared_pdf("long_debian-faq.en.pdf")],
                    None,
                    Some(tx),
                    &CancelFlag::default(),
                )
                .await;
            done.store(true, Ordering::SeqCst);
            report
        })
    };
    // Wait until the ingest is embedding, then ask both collections.
    while let Some(event) = rx.recv().await {
        if matches!(event, IngestEvent::Embedded { .. }) {
            break;
        }
    }
    let hits = retriever
        .search(
            notes,
            "who trimmed the wick of the lamp?",
            3,
            SearchMode::Hybrid,
        )
        .await
        .expect("search during the ingest");
    let faq_hits = retriever
        .search(faq, "how do I upgrade Debian", 3, SearchMode::Hybrid)
        .await
        .expect("search of the collection being filled");
    assert!(
        !ingest_done.load(Ordering::SeqCst),
        "the answer had to wait for the ingest"
    );
    assert!(hits[0].text.contains("wick"), "{:?}", hits[0].text);
    // The document being ingested is stored whole or not at all: nothing of it yet.
    assert!(faq_hits.is_empty(), "{faq_hits:?}");

    let report = ingest.await.expect("ingest task");
    assert_eq!(report.count(FileStatus::Indexed), 1);
    let faq_hits = retriever
        .search(faq, "how do I upgrade Debian", 3, SearchMode::Hybrid)
        .await
        .expect("search after the ingest");
    assert_eq!(faq_hits.len(), 3);
}

/// Deleting a collection while an ingest fills it ends the ingest at once: the file being
/// embedded and the ones after it are reported `collection_deleted` (none is even read), and
/// nothing of the collection is left behind, rows or index.
#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_collection_during_its_ingest_cancels_the_ingest_cleanly() {
    let t = TestLibrary::new().await;
    let doomed = t.collection("doomed").await;
    let files = [
        asset("fixtures/guide.md"),
        shared_pdf("long_debian-faq.en.pdf"),
        shared_pdf("paper_zoo_jss.pdf"),
        shared_pdf("paper_sandwich_jss.pdf"),
    ];
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let ingest = {
        let ingester = t.ingester.clone();
        let files = files.clone();
        tokio::spawn(async move {
            ingester
                .ingest(doomed, &files, None, Some(tx), &CancelFlag::default())
                .await
        })
    };
    // Once the first file is stored and the second is being embedded, delete.
    while let Some(event) = rx.recv().await {
        if matches!(event, IngestEvent::Embedded { file_idx: 1, .. }) {
            break;
        }
    }
    let deleted_at = std::time::Instant::now();
    t.library
        .delete_collection(doomed)
        .await
        .expect("delete during the ingest");
    let report = ingest.await.expect("ingest task");
    let stopped_after = deleted_at.elapsed();
    let codes: Vec<Option<&str>> = report
        .files
        .iter()
        .map(|f| f.error.as_ref().map(|e| e.code().as_str()))
        .collect();
    assert_eq!(report.files[0].status, FileStatus::Indexed, "{codes:?}");
    assert_eq!(
        codes[1..],
        [Some("collection_deleted"); 3],
        "the rest is reported as deleted, not as failures to store"
    );
    for outcome in &report.files[1..] {
        let message = outcome
            .error
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        assert!(message.contains("collection was deleted"), "{message}");
    }
    eprintln!("collection deleted mid-ingest: the ingest ended {stopped_after:.2?} later");

    let db = t.library.db();
    let count = |sql: &'static str| async move {
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(db.pool())
            .await
            .expect(sql)
    };
    assert_eq!(count("SELECT COUNT(*) FROM documents").await, 0);
    assert_eq!(count("SELECT COUNT(*) FROM chunks").await, 0);
    assert!(db.integrity_check().await.expect("integrity"));
    assert!(
        !t.library.indexes().dir(doomed).exists(),
        "no index is left for the deleted collection"
    );
}
