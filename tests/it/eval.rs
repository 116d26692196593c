//! Retrieval metrics on hand-made rankings with known answers, and the BEIR loader.

use std::collections::HashMap;

use lectern::eval::Dataset;
use lectern::eval::metrics::{mrr_at, ndcg_at, recall_at, success_at};

fn ranked(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn metrics_match_hand_computed_values() {
    let judged: HashMap<String, u32> = [
        ("a".to_owned(), 1),
        ("b".to_owned(), 1),
        ("c".to_owned(), 2),
    ]
    .into();
    let run = ranked(&["x", "a", "y", "c", "z"]);
    assert_eq!(recall_at(&run, &judged, 2), 1.0 / 3.0);
    assert_eq!(recall_at(&run, &judged, 5), 2.0 / 3.0);
    assert_eq!(success_at(&run, &judged, 1), 0.0);
    assert_eq!(success_at(&run, &judged, 2), 1.0);
    assert_eq!(mrr_at(&run, &judged, 10), 0.5);
    assert_eq!(mrr_at(&run, &judged, 1), 0.0);
    // DCG = 1/log2(3) + 2/log2(5); ideal = 2/log2(2) + 1/log2(3) + 1/log2(4).
    let dcg = 1.0 / 3f64.log2() + 2.0 / 5f64.log2();
    let idcg = 2.0 + 1.0 / 3f64.log2() + 0.5;
    assert!((ndcg_at(&run, &judged, 10) - dcg / idcg).abs() < 1e-12);
    assert_eq!(ndcg_at(&ranked(&["c", "a", "b"]), &judged, 10), 1.0);
    assert_eq!(ndcg_at(&ranked(&["x"]), &judged, 10), 0.0);
    assert_eq!(recall_at(&run, &HashMap::new(), 5), 0.0);
}

#[test]
fn beir_folders_are_read_and_unjudged_queries_dropped() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("corpus.jsonl"),
        "{\"_id\": \"d1\", \"title\": \"T\", \"text\": \"one\"}\n{\"_id\": \"d2\", \"text\": \"two\"}\n",
    )
    .expect("corpus");
    std::fs::write(
        dir.path().join("queries.jsonl"),
        "{\"_id\": \"q1\", \"text\": \"first?\"}\n{\"_id\": \"q2\", \"text\": \"unjudged\"}\n",
    )
    .expect("queries");
    std::fs::create_dir(dir.path().join("qrels")).expect("mkdir");
    std::fs::write(
        dir.path().join("qrels/test.tsv"),
        "query-id\tcorpus-id\tscore\nq1\td2\t1\n",
    )
    .expect("qrels");
    let data = Dataset::load(dir.path()).expect("load");
    assert_eq!(data.corpus.len(), 2);
    assert_eq!(data.corpus[0].title, "T");
    assert_eq!(data.queries, [("q1".to_owned(), "first?".to_owned())]);
    assert_eq!(data.qrels["q1"]["d2"], 1);

    std::fs::write(dir.path().join("corpus.jsonl"), "{not json}\n").expect("corpus");
    let err = Dataset::load(dir.path()).expect_err("bad corpus");
    assert!(
        err.to_string().contains("corpus.jsonl") && err.to_string().contains("line 1"),
        "{err}"
    );
}
