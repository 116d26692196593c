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

/// A generator that answers each question with the reply whose key the question contains.
struct Keyed(Vec<(&'static str, &'static str)>);

impl lectern::llm::Generator for Keyed {
    fn model_name(&self) -> &str {
        "keyed"
    }

    fn n_ctx(&self) -> usize {
        4096
    }

    fn count_tokens(
        &mut self,
        messages: &[lectern::llm::ChatMessage],
    ) -> Result<usize, lectern::LlmError> {
        Ok(messages
            .iter()
            .map(|m| m.content.split_whitespace().count())
            .sum())
    }

    fn generate(
        &mut self,
        messages: &[lectern::llm::ChatMessage],
        _sampling: &lectern::llm::Sampling,
        _cancel: &lectern::job::CancelFlag,
        on_progress: &mut dyn FnMut(lectern::llm::Progress<'_>),
    ) -> Result<lectern::llm::Generation, lectern::LlmError> {
        let asked = messages.last().map_or("", |m| m.content.as_str());
        let question = asked
            .lines()
            .find_map(|l| l.strip_prefix("Question: "))
            .unwrap_or_default();
        let reply = self
            .0
            .iter()
            .find(|(key, _)| question.contains(key))
            .map_or("", |(_, reply)| reply);
        on_progress(lectern::llm::Progress::Text(reply));
        Ok(lectern::llm::Generation {
            text: reply.into(),
            finish: lectern::llm::Finish::EndOfText,
            n_prompt_tokens: 100,
            n_reused_tokens: 0,
            n_generated_tokens: reply.split_whitespace().count(),
            prompt_ms: 10.0,
            first_token_ms: Some(20.0),
            generation_ms: 30.0,
        })
    }
}

/// `eval --answers` scoring on a hand-made set whose every number is known: one answer that
/// repeats the answering page's words (its citation is matched, recall 1), one that writes out
/// the output indicator (an echo, recall 0, nothing cited), one off-topic question refused and
/// one answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answer_evaluation_scores_a_hand_made_set() {
    use lectern::answer::{Answerer, AskOptions, LlmSettings};
    use lectern::eval::answers::{QaItem, evaluate_answers};

    let t = crate::support::TestLibrary::new().await;
    let col = t.collection("Handbook").await;
    let pdf = t.write(
        "handbook.pdf",
        crate::support::text_pdf(&[
            "Lighthouse keepers trimmed the wicks every night and were called wickies.",
            "To install a package, run apt-get install followed by the package name.",
            "Debian is pronounced Deb-ee-en, after Debra and Ian Murdock who named it.",
        ]),
    );
    let report = t.ingest(col, &[pdf], None).await;
    assert_eq!(report.files[0].error.as_ref().map(|e| e.to_string()), None);
    let llm = lectern::llm::LlmWorker::spawn(|| {
        Ok(Box::new(Keyed(vec![
            (
                "pronounced",
                "Debian is pronounced Deb-ee-en, after Debra and Ian Murdock.",
            ),
            (
                "install",
                "First a short answer in one sentence, then the sentences that support it.",
            ),
            ("regression", "This is not in the documents."),
            (
                "lambda",
                "A lambda is an anonymous function object defined inline.",
            ),
        ])) as Box<dyn lectern::llm::Generator>)
    })
    .expect("spawn");
    let answerer = Answerer::new(t.library.db().clone(), t.retriever(), llm);
    let item = |question: &str, answer: &str, page: i64| QaItem {
        id: String::new(),
        question: question.into(),
        answer: answer.into(),
        answer_first_sentence: None,
        pdf_page: Some(page),
        is_question: true,
    };
    let items = [
        item(
            "How is Debian pronounced?",
            "Debian is pronounced Deb-ee-en, after Debra and Ian.",
            3,
        ),
        item(
            "How do I install a package?",
            "Run apt-get install followed by the package name.",
            2,
        ),
    ];
    let plan = lectern::eval::answers::EvalPlan {
        off_topic: vec![
            "How do I fit a regression in R?".to_owned(),
            "What is a lambda in C++?".to_owned(),
        ],
        ..Default::default()
    };
    // The scripted model answers every question: the relevance check would stand in for it.
    let options = AskOptions {
        k: 3,
        min_similarity: 0.0,
        ..AskOptions::new(&LlmSettings::default(), col, None)
    };
    let mut events = 0;
    let report = evaluate_answers(&answerer, &options, &items, &plan, |_| events += 1)
        .await
        .expect("evaluate");
    assert_eq!(events, 4);
    let (q1, q2) = (&report.questions[0], &report.questions[1]);
    assert_eq!(
        (q1.gold_page_cited, q1.gold_page_in_sources),
        (Some(true), Some(true))
    );
    assert!(q1.citations_matched && !q1.echoes_prompt && q1.has_words);
    assert_eq!(q1.recall, 1.0);
    assert_eq!(
        (q2.gold_page_cited, q2.gold_page_in_sources),
        (Some(false), Some(true))
    );
    assert!(q2.echoes_prompt && !q2.refused);
    assert_eq!(q2.recall, 0.0);
    assert!(report.off_topic[0].refused_cleanly());
    assert!(!report.off_topic[1].refused_cleanly());

    let totals = &report.totals;
    assert_eq!((totals.n_questions, totals.n_with_page), (2, 2));
    assert_eq!(totals.gold_page_cited, 0.5);
    assert_eq!(totals.gold_page_in_sources, 1.0);
    assert_eq!(totals.recall, 0.5);
    assert_eq!(
        (totals.n_echoes, totals.n_without_words, totals.n_refused),
        (1, 0, 0)
    );
    assert_eq!((totals.n_quoted, totals.recall_written), (0, 0.5));
    assert_eq!((totals.n_off_topic, totals.off_topic_refused), (2, 0.5));
    assert_eq!(totals.prompt_tokens_p50, 100.0);
    // The evaluation's chats are deleted: the collection's history is as it was.
    assert!(t.library.db().chats(col).await.expect("chats").is_empty());
    assert!(!report.cancelled);

    // A cancelled evaluation stops between questions and says so.
    let cancelled = lectern::eval::answers::EvalPlan {
        cancel: lectern::job::CancelFlag::default(),
        ..plan.clone()
    };
    cancelled.cancel.cancel();
    let report = evaluate_answers(&answerer, &options, &items, &cancelled, |_| {})
        .await
        .expect("evaluate");
    assert!(report.cancelled);
    assert!(report.questions.is_empty() && report.off_topic.is_empty());
}
