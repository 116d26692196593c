//! Built-in answer evaluation: questions with their gold answers and pages (the layout of
//! `debian_faq.jsonl`) are asked of a real collection through the same [`Answerer`] as every
//! shell, and each answer is scored: gold page cited and retrieved, content words shared with
//! the gold answer, prompt text echoed, words at all, and timings. Off-topic questions (from
//! another subject) must get the "not in the documents" answer with no citation.

use std::collections::HashSet;
use std::path::Path;
use std::time::Instant;

use crate::answer::{Answer, Answerer, AskOptions};
use crate::error::{Error, Result};
use crate::job::CancelFlag;
use crate::store::AnswerFinish;

/// One labelled question.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct QaItem {
    #[serde(default)]
    pub id: String,
    pub question: String,
    /// The gold answer, whole.
    #[serde(default)]
    pub answer: String,
    /// Its first sentence: the short answer a person needs, which recall is measured on.
    #[serde(default)]
    pub answer_first_sentence: Option<String>,
    /// The 1-based page of the document that holds the answer.
    #[serde(default)]
    pub pdf_page: Option<i64>,
    /// False for entries whose "question" is a heading ("dpkg", "APT").
    #[serde(default = "yes")]
    pub is_question: bool,
}

fn yes() -> bool {
    true
}

/// Reads a JSON Lines file of [`QaItem`]s; a plain line is a question without gold answer.
pub fn load_qa(path: &Path) -> Result<Vec<QaItem>> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    let mut items = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let item = if line.starts_with('{') {
            serde_json::from_str(line).map_err(|e| Error::Io {
                path: path.to_owned(),
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("line {}: {e}", i + 1),
                ),
            })?
        } else {
            QaItem {
                id: String::new(),
                question: line.to_owned(),
                answer: String::new(),
                answer_first_sentence: None,
                pdf_page: None,
                is_question: true,
            }
        };
        items.push(item);
    }
    Ok(items)
}

/// Questions about statistics software, C++ and plotting: the subjects of other manuals in
/// the shared test data, asked of a collection about something else (the Debian FAQ), where
/// the right answer is "not in the documents".
pub const OFF_TOPIC_QUESTIONS: [&str; 10] = [
    "How do I fit a linear regression model in R and read its coefficients?",
    "What does drop = FALSE do when indexing a matrix in R?",
    "How do I declare a virtual destructor in C++ and why would I need one?",
    "What is the difference between a reference and a pointer in C++?",
    "How do I plot a function with gnuplot and save the plot as a PNG file?",
    "How do I compute the median of a numeric vector in R?",
    "What is a lambda expression in C++11?",
    "How do I change the axis labels of a gnuplot graph?",
    "What does the outer() function compute in R?",
    "How do I read a CSV file into a data frame in R?",
];

/// `n` items picked at random (a fixed shuffle for a given `seed`), in their file order; all
/// of them when `n` is `None` or at least their number.
pub fn sample<T: Clone>(items: &[T], n: Option<usize>, seed: u64) -> Vec<T> {
    let Some(n) = n.filter(|&n| n < items.len()) else {
        return items.to_vec();
    };
    let mut order: Vec<usize> = (0..items.len()).collect();
    let mut state = seed;
    // Fisher-Yates with splitmix64: the same seed gives the same questions on every machine.
    for i in (1..order.len()).rev() {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        let j = (z % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    let mut picked: Vec<usize> = order.into_iter().take(n).collect();
    picked.sort_unstable();
    picked.into_iter().map(|i| items[i].clone()).collect()
}

/// Words that carry content: at least three letters or digits, not a stop word, lowercased.
fn content_set(text: &str) -> HashSet<String> {
    crate::attribution::content_words(text)
        .into_iter()
        .collect()
}

/// Share of the gold text's content words that the answer holds (1 when gold has none).
pub fn recall(answer: &str, gold: &str) -> f64 {
    let gold = content_set(gold);
    if gold.is_empty() {
        return 1.0;
    }
    let answer = content_set(answer);
    gold.intersection(&answer).count() as f64 / gold.len() as f64
}

/// F1 of the answer's content words against the gold text's (0 when either has none).
pub fn f1(answer: &str, gold: &str) -> f64 {
    let (gold, answer) = (content_set(gold), content_set(answer));
    let common = gold.intersection(&answer).count() as f64;
    if common == 0.0 {
        return 0.0;
    }
    let precision = common / answer.len() as f64;
    let recall = common / gold.len() as f64;
    2.0 * precision * recall / (precision + recall)
}

/// Consecutive words of the prompt an answer must repeat to count as echoing it.
pub const ECHO_WORDS: usize = 5;

/// Whether the answer repeats a run of [`ECHO_WORDS`] words of the instruction or the output
/// indicator (as small models do when a prompt invites it). The refusal sentence the
/// instruction asks for, and a bare label such as "Answer:", are not echoes.
pub fn echoes_prompt(answer: &str, instruction: &str, output_indicator: &str) -> bool {
    let words = |text: &str| -> Vec<String> {
        text.split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect()
    };
    let refusal = words(crate::prompt::NOT_IN_DOCUMENTS);
    let answer = words(answer);
    let answer_runs: HashSet<&[String]> = answer.windows(ECHO_WORDS).collect();
    [instruction, output_indicator].iter().any(|part| {
        words(part).windows(ECHO_WORDS).any(|run| {
            let inside_refusal = refusal.windows(ECHO_WORDS).any(|r| r == run);
            !inside_refusal && answer_runs.contains(run)
        })
    })
}

pub use crate::prompt::has_words;

/// Whether an answer says that the documents do not hold the answer.
pub fn is_refusal(answer: &str) -> bool {
    let lower = answer.to_lowercase();
    [
        "not in the documents",
        "not in the passages",
        "not in the provided",
    ]
    .iter()
    .any(|p| lower.contains(p))
}

/// One labelled question, asked and scored.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct QuestionOutcome {
    pub id: String,
    pub question: String,
    pub answer: String,
    pub gold_page: Option<i64>,
    /// Pages (first, last) of the passages the answer cites.
    pub cited_pages: Vec<(i64, i64)>,
    /// `None` without a gold page.
    pub gold_page_cited: Option<bool>,
    pub gold_page_in_sources: Option<bool>,
    pub recall: f64,
    pub f1: f64,
    pub echoes_prompt: bool,
    pub has_words: bool,
    pub refused: bool,
    pub citations_matched: bool,
    /// The model wrote only markers; the answer is quoted from the passage they point at.
    pub quoted: bool,
    /// Markers moved to the passage that supports their sentence, and markers dropped.
    pub markers_moved: usize,
    pub markers_dropped: usize,
    /// Sentences no passage supports.
    pub n_unsupported: usize,
    pub finish: AnswerFinish,
    pub prompt_tokens: i64,
    /// Prompt tokens already in the model's cache (a pre-read's, or an earlier prompt's).
    pub reused_tokens: i64,
    pub answer_tokens: i64,
    /// From the question to the first piece of text: retrieval, prompt, prefill, first token.
    pub first_token_ms: Option<f64>,
    pub answer_ms: f64,
    pub tokens_per_s: f64,
}

/// One off-topic question, asked: it should be refused, citing nothing.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct OffTopicOutcome {
    pub question: String,
    pub answer: String,
    pub refused: bool,
    pub n_cited: usize,
    pub first_token_ms: Option<f64>,
}

impl OffTopicOutcome {
    /// Refused and cited nothing: the only right answer.
    pub fn refused_cleanly(&self) -> bool {
        self.refused && self.n_cited == 0
    }
}

/// Totals over an evaluation; rates are shares of the questions they apply to.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AnswerTotals {
    pub n_questions: usize,
    pub n_with_page: usize,
    pub gold_page_cited: f64,
    pub gold_page_in_sources: f64,
    pub recall: f64,
    pub f1: f64,
    pub n_echoes: usize,
    pub n_without_words: usize,
    /// Answers quoted from a passage because the model wrote only markers, and the recall of
    /// the others, the answers the model wrote itself.
    pub n_quoted: usize,
    pub recall_written: f64,
    /// On-topic questions answered "not in the documents".
    pub n_refused: usize,
    pub n_at_token_limit: usize,
    /// Answers with a marker moved, answers with a marker dropped, answers with an
    /// unsupported sentence.
    pub n_markers_moved: usize,
    pub n_markers_dropped: usize,
    pub n_with_unsupported: usize,
    pub n_off_topic: usize,
    pub off_topic_refused: f64,
    pub first_token_p50_ms: f64,
    pub first_token_p90_ms: f64,
    pub answer_p50_ms: f64,
    pub prompt_tokens_p50: f64,
    /// Answers that found at least 80 % of their prompt already read (pre-read).
    pub n_mostly_reused: usize,
    pub tokens_per_s_p50: f64,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AnswerReport {
    pub model: String,
    pub questions: Vec<QuestionOutcome>,
    pub off_topic: Vec<OffTopicOutcome>,
    pub totals: AnswerTotals,
    /// Stopped before the end: the totals are of the questions asked.
    pub cancelled: bool,
}

/// Progress of an evaluation: each outcome as it is scored.
#[derive(Debug, Clone)]
pub enum AnswerEvalEvent<'a> {
    Question {
        done: usize,
        of: usize,
        outcome: &'a QuestionOutcome,
    },
    OffTopic {
        done: usize,
        of: usize,
        outcome: &'a OffTopicOutcome,
    },
}

fn pages(p: &crate::store::StoredPassage) -> Option<(i64, i64)> {
    let first = p.first_page?;
    Some((first, p.last_page.unwrap_or(first)))
}

fn covers(pages: (i64, i64), page: i64) -> bool {
    (pages.0..=pages.1).contains(&page)
}

/// What an evaluation asks besides the labelled questions, and how.
#[derive(Debug, Clone, Default)]
pub struct EvalPlan {
    /// Questions the collection is not about, which must be refused.
    pub off_topic: Vec<String>,
    /// Pre-read each question first as a draft without its last `n` words
    /// ([`Answerer::preread`], to the end), as if typed up to there and then finished and
    /// sent: first-token times are then those after Enter. `Some(0)` pre-reads it whole.
    pub preread: Option<usize>,
    /// Checked between questions: a cancelled evaluation reports what it has scored.
    pub cancel: CancelFlag,
}

/// Asks every question (each in a chat of its own, deleted afterwards, so the collection's
/// history is left as it was) and scores the answers, then the plan's off-topic questions.
/// `options.chat_id` is ignored.
pub async fn evaluate_answers(
    answerer: &Answerer,
    options: &AskOptions,
    items: &[QaItem],
    plan: &EvalPlan,
    mut on_event: impl FnMut(AnswerEvalEvent<'_>),
) -> Result<AnswerReport> {
    let options = AskOptions {
        chat_id: None,
        ..options.clone()
    };
    let defaults = answerer.llm().prompt_defaults();
    let parts = answerer.prompt_parts(options.collection_id).await?;
    let instruction = parts.instruction_in_use(defaults).to_owned();
    let indicator = parts.output_indicator_in_use(defaults).to_owned();

    let mut questions = Vec::with_capacity(items.len());
    for item in items {
        if plan.cancel.is_cancelled() {
            break;
        }
        if let Some(n_words) = plan.preread {
            answerer
                .preread(&options, &draft_of(&item.question, n_words))
                .await?;
        }
        let (answer, answer_ms) = ask_once(answerer, &options, &item.question).await?;
        let m = &answer.message;
        let cited: Vec<(i64, i64)> = m.citations().into_iter().filter_map(pages).collect();
        let sources: Vec<(i64, i64)> = m.passages.iter().filter_map(pages).collect();
        let gold_short = item
            .answer_first_sentence
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or(&item.answer);
        let outcome = QuestionOutcome {
            id: item.id.clone(),
            question: item.question.clone(),
            answer: m.answer.clone(),
            gold_page: item.pdf_page,
            gold_page_cited: item
                .pdf_page
                .map(|page| cited.iter().any(|&c| covers(c, page))),
            gold_page_in_sources: item
                .pdf_page
                .map(|page| sources.iter().any(|&s| covers(s, page))),
            cited_pages: cited,
            recall: recall(&m.answer, gold_short),
            f1: f1(&m.answer, &item.answer),
            echoes_prompt: echoes_prompt(&m.answer, &instruction, &indicator),
            has_words: has_words(&m.answer),
            refused: is_refusal(&m.answer),
            citations_matched: m.citations_matched,
            quoted: m.quoted,
            markers_moved: answer.markers_moved,
            markers_dropped: answer.markers_dropped,
            n_unsupported: m.unsupported.len(),
            finish: m.finish,
            prompt_tokens: m.timings.prompt_tokens,
            reused_tokens: m.timings.reused_tokens,
            answer_tokens: m.timings.answer_tokens,
            first_token_ms: m.timings.first_token_ms.map(|t| t + m.timings.retrieval_ms),
            answer_ms,
            tokens_per_s: m.timings.tokens_per_s,
        };
        questions.push(outcome);
        on_event(AnswerEvalEvent::Question {
            done: questions.len(),
            of: items.len(),
            outcome: questions.last().expect("just pushed"),
        });
    }

    let off_topic = &plan.off_topic;
    let mut off = Vec::with_capacity(off_topic.len());
    for question in off_topic {
        if plan.cancel.is_cancelled() {
            break;
        }
        let (answer, _) = ask_once(answerer, &options, question).await?;
        let m = &answer.message;
        off.push(OffTopicOutcome {
            question: question.clone(),
            answer: m.answer.clone(),
            refused: is_refusal(&m.answer),
            n_cited: m.citations().len(),
            first_token_ms: m.timings.first_token_ms.map(|t| t + m.timings.retrieval_ms),
        });
        on_event(AnswerEvalEvent::OffTopic {
            done: off.len(),
            of: off_topic.len(),
            outcome: off.last().expect("just pushed"),
        });
    }

    let totals = totals(&questions, &off, options.sampling.max_tokens);
    Ok(AnswerReport {
        model: answerer.llm().model_name().to_owned(),
        questions,
        off_topic: off,
        totals,
        cancelled: plan.cancel.is_cancelled(),
    })
}

/// `question` as typed up to its last `n_words` words (all of it when that would leave fewer
/// than two).
pub fn draft_of(question: &str, n_words: usize) -> String {
    let words: Vec<&str> = question.split_whitespace().collect();
    if words.len() < n_words + 2 {
        return question.trim().to_owned();
    }
    words[..words.len() - n_words].join(" ")
}

async fn ask_once(
    answerer: &Answerer,
    options: &AskOptions,
    question: &str,
) -> Result<(Answer, f64)> {
    let started = Instant::now();
    let answer = answerer
        .ask(options, question, CancelFlag::default(), |_| {})
        .await?;
    let answer_ms = started.elapsed().as_secs_f64() * 1000.0;
    answerer.delete_chat(answer.chat.id).await?;
    Ok((answer, answer_ms))
}

fn percentile(mut values: Vec<f64>, q: f64) -> f64 {
    values.retain(|v| v.is_finite());
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let idx = ((values.len() - 1) as f64 * q).round() as usize;
    values[idx]
}

/// The mean, NaN for no values.
fn average(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(sum, n), v| (sum + v, n + 1));
    if n == 0 { f64::NAN } else { sum / n as f64 }
}

fn share(hits: usize, of: usize) -> f64 {
    if of == 0 {
        f64::NAN
    } else {
        hits as f64 / of as f64
    }
}

/// Sums up scored outcomes.
pub fn totals(
    questions: &[QuestionOutcome],
    off_topic: &[OffTopicOutcome],
    max_tokens: usize,
) -> AnswerTotals {
    let n = questions.len();
    let with_page: Vec<&QuestionOutcome> =
        questions.iter().filter(|q| q.gold_page.is_some()).collect();
    let count = |f: &dyn Fn(&QuestionOutcome) -> bool| questions.iter().filter(|q| f(q)).count();
    let mean = |f: &dyn Fn(&QuestionOutcome) -> f64| average(questions.iter().map(f));
    let first_tokens: Vec<f64> = questions
        .iter()
        .map(|q| q.first_token_ms.unwrap_or(f64::NAN))
        .collect();
    AnswerTotals {
        n_questions: n,
        n_with_page: with_page.len(),
        gold_page_cited: share(
            with_page
                .iter()
                .filter(|q| q.gold_page_cited == Some(true))
                .count(),
            with_page.len(),
        ),
        gold_page_in_sources: share(
            with_page
                .iter()
                .filter(|q| q.gold_page_in_sources == Some(true))
                .count(),
            with_page.len(),
        ),
        recall: mean(&|q| q.recall),
        f1: mean(&|q| q.f1),
        n_echoes: count(&|q| q.echoes_prompt),
        n_without_words: count(&|q| !q.has_words),
        n_quoted: count(&|q| q.quoted),
        recall_written: average(questions.iter().filter(|q| !q.quoted).map(|q| q.recall)),
        n_refused: count(&|q| q.refused),
        n_at_token_limit: count(&|q| {
            q.finish == AnswerFinish::MaxTokens || q.answer_tokens >= max_tokens as i64
        }),
        n_markers_moved: count(&|q| q.markers_moved > 0),
        n_markers_dropped: count(&|q| q.markers_dropped > 0),
        n_with_unsupported: count(&|q| q.n_unsupported > 0),
        n_off_topic: off_topic.len(),
        off_topic_refused: share(
            off_topic.iter().filter(|o| o.refused_cleanly()).count(),
            off_topic.len(),
        ),
        first_token_p50_ms: percentile(first_tokens.clone(), 0.5),
        first_token_p90_ms: percentile(first_tokens, 0.9),
        answer_p50_ms: percentile(questions.iter().map(|q| q.answer_ms).collect(), 0.5),
        prompt_tokens_p50: percentile(
            questions.iter().map(|q| q.prompt_tokens as f64).collect(),
            0.5,
        ),
        n_mostly_reused: count(&|q| {
            q.prompt_tokens > 0 && q.reused_tokens * 5 >= q.prompt_tokens * 4
        }),
        tokens_per_s_p50: percentile(questions.iter().map(|q| q.tokens_per_s).collect(), 0.5),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_scores_count_shared_content_words() {
        // gold content words: debian, pronounced, deb, ian (4); answer holds 3 of them
        let gold = "Debian is pronounced Deb Ian";
        assert!((recall("It is pronounced Deb-ee-an, after Ian.", gold) - 0.75).abs() < 1e-9);
        assert_eq!(recall("", gold), 0.0);
        assert_eq!(recall("anything", ""), 1.0);
        // answer words: pronounced, deb, ian ("after" is a stop word): precision 1, recall 3/4
        assert!((f1("It is pronounced Deb-ee-an, after Ian.", gold) - 6.0 / 7.0).abs() < 1e-9);
        assert_eq!(f1("nothing shared here", gold), 0.0);
    }

    #[test]
    fn echoes_are_runs_of_prompt_words_but_not_the_refusal() {
        let instruction = "Answer using only the numbered passages. If none answers, write only: \
            This is not in the documents.";
        let indicator = "Answer format: first a short answer in one sentence";
        assert!(echoes_prompt(
            "First a short answer in one sentence: Debian is an OS [1].",
            instruction,
            indicator
        ));
        assert!(echoes_prompt(
            "I answer using only the numbered passages here.",
            instruction,
            indicator
        ));
        assert!(!echoes_prompt(
            "This is not in the documents.",
            instruction,
            indicator
        ));
        assert!(!echoes_prompt(
            "Answer: Debian [1].",
            instruction,
            "Answer:"
        ));
    }

    #[test]
    fn refusals_and_answers_without_words_are_recognised() {
        assert!(is_refusal("This is not in the documents."));
        assert!(!is_refusal("Debian is an operating system [1]."));
        assert!(!has_words("[1] [2] [3]"));
        assert!(!has_words(""));
        assert!(has_words("Debian is a free operating system [1]."));
    }

    #[test]
    fn a_sample_is_fixed_by_its_seed_and_keeps_file_order() {
        let items: Vec<usize> = (0..100).collect();
        let a = sample(&items, Some(10), 7);
        assert_eq!(a, sample(&items, Some(10), 7));
        assert_ne!(a, sample(&items, Some(10), 8));
        assert_eq!(a.len(), 10);
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(sample(&items, None, 7), items);
        assert_eq!(sample(&items, Some(500), 7), items);
    }
}
