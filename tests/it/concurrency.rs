//! Work that overlaps: questions asked while an ingest runs are answered from what is already
//! indexed, without waiting for the ingest to end.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use lectern::embed::EmbedWorker;
use lectern::ingest::{CancelFlag, FileStatus, IngestEvent};
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
