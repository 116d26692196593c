//! How the CLI presents an answer evaluation: a line per question as it is scored, then the
//! totals (JSON Lines with `--json`: one object per question, then the report).

use lectern::eval::answers::{AnswerReport, OffTopicOutcome, QuestionOutcome};

use super::Out;

fn yes_no(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "yes",
        Some(false) => "no",
        None => "-",
    }
}

fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |t| format!("{:.1} s", t / 1000.0))
}

fn one_line(text: &str, max_chars: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max_chars {
        flat
    } else {
        format!("{}…", flat.chars().take(max_chars).collect::<String>())
    }
}

impl Out {
    pub fn eval_question(&self, done: usize, of: usize, q: &QuestionOutcome) {
        if self.is_json() {
            self.line(&serde_json::json!({ "question": q }));
            return;
        }
        let mut flags = Vec::new();
        if q.echoes_prompt {
            flags.push("ECHO");
        }
        if !q.has_words {
            flags.push("NO WORDS");
        }
        if q.quoted {
            flags.push("QUOTED");
        }
        if q.refused {
            flags.push("REFUSED");
        }
        eprintln!(
            "[{done}/{of}] page {} cited {} in sources {}  recall {:.2}  first token {}  {}\n    Q: {}\n    A: {}",
            q.gold_page.map_or_else(|| "-".into(), |p| p.to_string()),
            yes_no(q.gold_page_cited),
            yes_no(q.gold_page_in_sources),
            q.recall,
            ms(q.first_token_ms),
            flags.join(" "),
            one_line(&q.question, 100),
            one_line(&q.answer, 240),
        );
    }

    pub fn eval_off_topic(&self, done: usize, of: usize, o: &OffTopicOutcome) {
        if self.is_json() {
            self.line(&serde_json::json!({ "off_topic": o }));
            return;
        }
        eprintln!(
            "[off-topic {done}/{of}] {}\n    Q: {}\n    A: {}",
            if o.refused_cleanly() {
                "refused"
            } else {
                "ANSWERED"
            },
            one_line(&o.question, 100),
            one_line(&o.answer, 240),
        );
    }

    pub fn eval_answers_report(&self, r: &AnswerReport, k: usize) {
        let t = &r.totals;
        if self.is_json() {
            self.line(&serde_json::json!({ "model": r.model, "k": k, "totals": t }));
            return;
        }
        outln!("model {}  k = {k}  {} questions", r.model, t.n_questions);
        outln!(
            "  gold page cited        {:.3}  ({} questions with a page)",
            t.gold_page_cited,
            t.n_with_page
        );
        outln!("  gold page in sources   {:.3}", t.gold_page_in_sources);
        outln!(
            "  content-word recall    {:.3}  (of the gold answer's first sentence)",
            t.recall
        );
        outln!(
            "  content-word F1        {:.3}  (against the whole gold answer)",
            t.f1
        );
        outln!("  prompt echoes          {}", t.n_echoes);
        outln!("  answers without words  {}", t.n_without_words);
        outln!(
            "  quoted from a passage  {}  (the model wrote only markers; recall of the others {:.3})",
            t.n_quoted,
            t.recall_written
        );
        outln!("  answered \"not in the documents\"  {}", t.n_refused);
        outln!("  at the token limit     {}", t.n_at_token_limit);
        outln!(
            "  answers with a marker moved {}, dropped {}; with a sentence no passage supports {}",
            t.n_markers_moved,
            t.n_markers_dropped,
            t.n_with_unsupported
        );
        outln!(
            "  off-topic refused      {:.3}  (of {})",
            t.off_topic_refused,
            t.n_off_topic
        );
        outln!(
            "  first token p50 {:.1} s, p90 {:.1} s; whole answer p50 {:.1} s; prompt tokens p50 {:.0}; generation p50 {:.1} tok/s",
            t.first_token_p50_ms / 1000.0,
            t.first_token_p90_ms / 1000.0,
            t.answer_p50_ms / 1000.0,
            t.prompt_tokens_p50,
            t.tokens_per_s_p50
        );
        if t.n_mostly_reused > 0 {
            outln!(
                "  answers with at least 80 % of the prompt already read (pre-read)  {}",
                t.n_mostly_reused
            );
        }
    }
}
