//! Switching the embedding model with the real ONNX models: every collection re-embedded,
//! search working throughout, nothing lost on cancel, an interrupted switch resumed.

use lectern::embed::{
    DEFAULT_MODEL, EmbedWorker, MODEL_SETTING, ModelFiles, TARGET_SETTING, cosine,
};
use lectern::ingest::FileStatus;
use lectern::job::CancelFlag;
use lectern::reembed::ReembedEvent;
use lectern::retrieve::SearchMode;
use lectern::{Library, Paths};

use crate::cli::lectern;
use crate::support::{TestLibrary, asset, models_dir};

const SMALL_MODEL: &str = "paraphrase-MiniLM-L3-v2";

/// Two collections, one fixture each; returns their ids.
async fn two_collections(t: &TestLibrary) -> (lectern::CollectionId, lectern::CollectionId) {
    let guide = t.collection("guide").await;
    let notes = t.collection("notes").await;
    for (id, file) in [(guide, "guide.md"), (notes, "notes.txt")] {
        let report = t
            .ingest(id, &[asset(&format!("fixtures/{file}"))], None)
            .await;
        assert_eq!(report.count(FileStatus::Indexed), 1, "{file}");
    }
    (guide, notes)
}

async fn top_document(
    library: &Library,
    collection_id: lectern::CollectionId,
    query: &str,
) -> String {
    let retriever = library.retriever().expect("retriever");
    let hits = retriever
        .search(collection_id, query, 3, SearchMode::Vector)
        .await
        .expect("search");
    hits.first().expect("a hit").text.clone()
}

#[tokio::test]
async fn switching_reembeds_every_collection_then_searches_with_the_new_model() {
    let t = TestLibrary::new().await;
    let (guide, notes) = two_collections(&t).await;
    let db = t.library.db();
    let doc = db.documents(guide).await.expect("documents").remove(0);
    let old_vectors = db.chunk_embeddings(doc.id).await.expect("vectors");
    let lens_before = top_document(&t.library, guide, "Fresnel lens prisms").await;

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let report = t
        .library
        .switch_embedding_model(SMALL_MODEL, Some(tx), &CancelFlag::default())
        .await
        .expect("switch");
    let mut events = Vec::new();
    while let Some(e) = rx.recv().await {
        events.push(e);
    }
    let n_chunks = report.n_chunks;
    assert!(n_chunks >= 2);
    assert_eq!((report.n_embedded, report.n_collections), (n_chunks, 2));
    assert_eq!(
        events.first(),
        Some(&ReembedEvent::Started {
            target: SMALL_MODEL.into(),
            n_done: 0,
            n_total: n_chunks
        })
    );
    assert!(events.contains(&ReembedEvent::Embedded {
        n_done: n_chunks,
        n_total: n_chunks
    }));
    assert!(events.contains(&ReembedEvent::Switched { n_collections: 2 }));
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, ReembedEvent::Indexed { .. }))
            .count(),
        2
    );

    // The stored vectors are the new model's, for every document.
    assert_eq!(t.library.embedding().id(), SMALL_MODEL);
    for collection in [guide, notes] {
        for d in db.documents(collection).await.expect("documents") {
            assert_eq!(d.embedding_model, SMALL_MODEL);
        }
    }
    let new_vectors = db.chunk_embeddings(doc.id).await.expect("vectors");
    let chunks = db.chunks(doc.id).await.expect("chunks");
    let small = EmbedWorker::onnx(&ModelFiles::new(&models_dir(), SMALL_MODEL)).expect("load");
    let expected = small
        .embed(chunks.iter().map(|c| c.text.clone()).collect())
        .await
        .expect("embed");
    for ((new, old), want) in new_vectors.iter().zip(&old_vectors).zip(&expected) {
        assert!(cosine(new, want) > 0.999);
        assert!(cosine(new, old) < 0.99, "vectors unchanged");
    }
    // The indexes were rebuilt in the new model's folder; the old model's are gone.
    let index_root = t.dir.path().join("index");
    assert!(
        index_root
            .join(SMALL_MODEL)
            .join(guide.to_string())
            .is_dir()
    );
    assert!(!index_root.join(DEFAULT_MODEL).exists());
    assert_eq!(
        top_document(&t.library, guide, "Fresnel lens prisms").await,
        lens_before
    );

    // The choice survives a restart, with nothing pending.
    let reopened = Library::open(Paths {
        data_dir: t.dir.path().to_owned(),
        models_dir: models_dir(),
    })
    .await
    .expect("reopen");
    assert_eq!(reopened.embedding().id(), SMALL_MODEL);
    assert_eq!(
        reopened.pending_embedding_switch().await.expect("pending"),
        None
    );
    assert_eq!(
        db.setting(MODEL_SETTING).await.expect("setting").as_deref(),
        Some(SMALL_MODEL)
    );

    // An ingester still holding the old model cannot mix its vectors in.
    let stale = t.write(
        "late.md",
        "# Late\n\nA lighthouse keeper's log, written late.\n",
    );
    let report = t.ingest(notes, &[stale], None).await;
    let error = report.files[0].error.as_ref().expect("refused");
    assert_eq!(error.code(), "embedding_model_changed");
    assert!(error.to_string().contains("late.md"), "{error}");

    // And back again.
    let report = reopened
        .switch_embedding_model(DEFAULT_MODEL, None, &CancelFlag::default())
        .await
        .expect("switch back");
    assert_eq!(report.to, DEFAULT_MODEL);
    let restored = db.chunk_embeddings(doc.id).await.expect("vectors");
    for (now, before) in restored.iter().zip(&old_vectors) {
        assert!(cosine(now, before) > 0.999);
    }
}

#[tokio::test]
async fn a_cancelled_switch_changes_nothing_and_an_interrupted_one_resumes() {
    let t = TestLibrary::new().await;
    let (guide, _) = two_collections(&t).await;
    let db = t.library.db();
    let doc = db.documents(guide).await.expect("documents").remove(0);
    let old_vectors = db.chunk_embeddings(doc.id).await.expect("vectors");

    let cancel = CancelFlag::default();
    cancel.cancel();
    let err = t
        .library
        .switch_embedding_model(SMALL_MODEL, None, &cancel)
        .await
        .expect_err("cancelled");
    assert_eq!(err.code(), "cancelled");
    assert_eq!(t.library.embedding().id(), DEFAULT_MODEL);
    assert_eq!(
        t.library.pending_embedding_switch().await.expect("pending"),
        None
    );
    assert_eq!(
        db.chunk_embeddings(doc.id).await.expect("vectors"),
        old_vectors
    );
    let hits = t
        .library
        .retriever()
        .expect("retriever")
        .search(guide, "Fresnel lens", 2, SearchMode::Hybrid)
        .await
        .expect("search");
    assert!(!hits.is_empty());

    // A switch cut off after staging one chunk's vector (the app closed): it is reported as
    // pending, and running it again embeds only the rest.
    let chunks = db.chunks(doc.id).await.expect("chunks");
    let small = EmbedWorker::onnx(&ModelFiles::new(&models_dir(), SMALL_MODEL)).expect("load");
    let first = small
        .embed(vec![chunks[0].text.clone()])
        .await
        .expect("embed")
        .remove(0);
    db.set_setting(TARGET_SETTING, SMALL_MODEL)
        .await
        .expect("set");
    db.reembed_stage(SMALL_MODEL, &[(chunks[0].id, first)])
        .await
        .expect("stage");
    let pending = t
        .library
        .pending_embedding_switch()
        .await
        .expect("pending")
        .expect("a pending switch");
    assert_eq!((pending.target.as_str(), pending.n_done), (SMALL_MODEL, 1));
    let report = t
        .library
        .switch_embedding_model(SMALL_MODEL, None, &CancelFlag::default())
        .await
        .expect("resume");
    assert_eq!(report.n_embedded, pending.n_total - 1);
    assert_eq!(
        t.library.pending_embedding_switch().await.expect("pending"),
        None
    );

    // Unknown models are refused by name.
    let err = t
        .library
        .switch_embedding_model("bge-huge", None, &CancelFlag::default())
        .await
        .expect_err("unknown");
    assert_eq!(err.code(), "invalid_input");
    assert!(err.to_string().contains("bge-huge"));
}

/// Kill -9 in the middle of re-embedding: the old model keeps serving, the switch is pending
/// with its progress kept, and running it again finishes it without redoing that work.
#[test]
fn a_switch_killed_mid_way_leaves_the_old_model_serving_and_resumes() {
    use std::io::BufRead;

    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path();
    let faq = crate::support::shared_pdf("long_debian-faq.en.pdf");
    let (rc, _) = lectern(data, &["ingest", "-c", "faq", &faq.to_string_lossy()]);
    assert_eq!(rc, 0);

    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_lectern"))
        .arg("--data-dir")
        .arg(data)
        .args(["--json", "embedding", "use", SMALL_MODEL])
        .env("LECTERN_MODELS_DIR", models_dir())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start the switch");
    let stdout = child.stdout.take().expect("stdout");
    let mut n_total = 0;
    for line in std::io::BufReader::new(stdout).lines() {
        let event: serde_json::Value = serde_json::from_str(&line.expect("line")).expect("JSON");
        if event["event"] == "embedded" {
            n_total = event["n_total"].as_u64().expect("n_total");
            break;
        }
    }
    child.kill().expect("kill -9");
    let _ = child.wait();
    assert!(n_total > 0, "no progress before the kill");

    let (rc, out) = lectern(data, &["embedding", "list"]);
    assert_eq!(rc, 0);
    let active: Vec<&str> = out
        .iter()
        .filter(|l| l["active"] == true)
        .filter_map(|l| l["id"].as_str())
        .collect();
    assert_eq!(active, [DEFAULT_MODEL], "the old model stays in use");
    let pending = out
        .iter()
        .find_map(|l| l.get("pending"))
        .expect("the killed switch is pending");
    let n_done = pending["n_done"].as_u64().expect("n_done");
    assert_eq!(pending["target"], SMALL_MODEL);
    assert!(n_done > 0 && n_done < n_total, "{pending}");
    let (rc, out) = lectern(
        data,
        &["search", "-c", "faq", "--k", "3", "how do I upgrade Debian"],
    );
    assert_eq!(rc, 0);
    assert_eq!(out[0]["hits"].as_array().map(Vec::len), Some(3));

    let (rc, out) = lectern(data, &["embedding", "use", SMALL_MODEL]);
    assert_eq!(rc, 0);
    let report = out.last().expect("report");
    assert_eq!(report["to"], SMALL_MODEL);
    assert_eq!(report["n_embedded"].as_u64(), Some(n_total - n_done));
    let (_, out) = lectern(data, &["embedding", "list"]);
    assert!(
        out.iter()
            .any(|l| l["id"] == SMALL_MODEL && l["active"] == true)
    );
    assert!(out.iter().all(|l| l.get("pending").is_none()));
    let (rc, out) = lectern(
        data,
        &["search", "-c", "faq", "--k", "3", "how do I upgrade Debian"],
    );
    assert_eq!(rc, 0);
    assert_eq!(out[0]["hits"].as_array().map(Vec::len), Some(3));
}
