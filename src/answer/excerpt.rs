//! Query-aware excerpts: the run of a passage's sentences that holds most of the question's
//! words, so the prompt spends its tokens on what bears on the question. On 2 cores every
//! prompt token costs the person ~14 ms of waiting for the first word (Qwen2.5 0.5B prefills
//! ~70 tokens/s), and a retrieved passage is ~250 tokens of which the answer is often two
//! sentences after a heading that repeats the question. The same window quotes a passage as
//! the answer when the model only pointed at it ([`quote`]).

use std::collections::HashSet;

use crate::attribution::{content_words, sentences};

/// Marks text left out at either end of an excerpt.
pub const ELLIPSIS: &str = "…";

fn n_words(text: &str) -> usize {
    text.split_whitespace().count()
}

/// At most about `max_words` words of `text`: whole sentences (or lines), the window that
/// holds the most distinct content words of `question`, the earliest on a tie (the
/// beginning when nothing matches). `text` itself when it is short enough or `max_words` is 0.
pub fn excerpt(text: &str, question: &str, max_words: usize) -> String {
    best_window(text, question, max_words).1
}

/// Words of a passage quoted as the answer when the model only pointed at it: about three
/// sentences, the length of the answers the prompt asks for.
pub const QUOTE_WORDS: usize = 60;

/// The answer for a model that wrote only citation markers (or nothing): of `candidates`
/// (1-based passage number and text, best first), the one whose best [`excerpt`] holds the
/// most of the question's words (the first on a tie), as `(n, "excerpt [n]")` on one line.
/// A window that is a table of contents is never quoted: it holds the question's words, as the
/// heading it lists, and answers nothing. `None` when no candidate is left.
pub fn quote(question: &str, candidates: &[(usize, &str)]) -> Option<(usize, String)> {
    let mut best: Option<(usize, usize, String)> = None;
    for &(n, text) in candidates {
        let (score, body) = best_window(text, question, QUOTE_WORDS);
        if is_table_of_contents(&body) || body.trim().is_empty() {
            continue;
        }
        if best.as_ref().is_none_or(|(top, _, _)| score > *top) {
            best = Some((score, n, body));
        }
    }
    let (_, n, body) = best?;
    // PDF text keeps the page's line breaks; the quote reads as one paragraph.
    let body = body.split_whitespace().collect::<Vec<_>>().join(" ");
    Some((n, format!("{body} [{n}]")))
}

/// Dot leaders (". . . . 14", "....... 14") mark the lines of a table of contents; prose
/// has at most an ellipsis ("...").
fn is_table_of_contents(text: &str) -> bool {
    text.contains(". . .") || text.contains(".....")
}

/// [`excerpt`] with its score: the distinct question words it holds.
fn best_window(text: &str, question: &str, max_words: usize) -> (usize, String) {
    let text = text.trim();
    let wanted: HashSet<String> = content_words(question).into_iter().collect();
    if max_words == 0 || n_words(text) <= max_words {
        let held = content_words(text)
            .into_iter()
            .filter(|w| wanted.contains(w))
            .collect::<HashSet<_>>()
            .len();
        return (held, text.to_owned());
    }
    let pieces: Vec<&str> = sentences(text)
        .into_iter()
        .filter(|s| !s.trim().is_empty())
        .collect();
    let words: Vec<usize> = pieces.iter().map(|s| n_words(s)).collect();
    let held: Vec<HashSet<String>> = pieces
        .iter()
        .map(|s| {
            content_words(s)
                .into_iter()
                .filter(|w| wanted.contains(w))
                .collect()
        })
        .collect();

    // (score, whether the window opens on a sentence holding a question word, start, end):
    // of two windows holding as many, the one that opens on a match keeps more of what
    // follows it (the answer after a heading that repeats the question).
    let mut best: Option<((usize, bool), usize, usize)> = None;
    for start in 0..pieces.len() {
        let mut end = start;
        let mut total = 0;
        while end < pieces.len() && (end == start || total + words[end] <= max_words) {
            total += words[end];
            end += 1;
        }
        let score = held[start..end]
            .iter()
            .flatten()
            .collect::<HashSet<_>>()
            .len();
        let key = (score, !held[start].is_empty());
        if best.is_none_or(|(top, _, _)| key > top) {
            best = Some((key, start, end));
        }
    }
    let Some(((score, _), start, end)) = best else {
        return (0, text.to_owned());
    };
    let mut body: String = pieces[start..end].concat().trim().to_owned();
    // One sentence longer than the budget: its first max_words words.
    if n_words(&body) > max_words {
        body = body
            .split_whitespace()
            .take(max_words)
            .collect::<Vec<_>>()
            .join(" ");
        return (
            score,
            format!("{}{body}{ELLIPSIS}", if start > 0 { ELLIPSIS } else { "" }),
        );
    }
    (
        score,
        format!(
            "{}{body}{}",
            if start > 0 { ELLIPSIS } else { "" },
            if end < pieces.len() { ELLIPSIS } else { "" }
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAQ: &str = "4.1 What is Debian? Debian is a free operating system made by volunteers. \
        It ships thousands of packages. 4.2 How is Debian pronounced? It is pronounced \
        Deb-ee-en, after Debra and Ian Murdock. 4.3 Where do I get it? From the archive.";

    #[test]
    fn the_window_holding_the_question_words_is_kept() {
        let e = excerpt(FAQ, "How is Debian pronounced?", 16);
        assert!(e.contains("pronounced Deb-ee-en"), "{e}");
        assert!(e.starts_with(ELLIPSIS), "{e}");
        assert!(n_words(&e) <= 16, "{e}");
    }

    #[test]
    fn short_text_and_a_zero_budget_keep_everything() {
        assert_eq!(excerpt(FAQ, "anything", 0), FAQ);
        assert_eq!(excerpt("Two words.", "anything", 10), "Two words.");
    }

    #[test]
    fn nothing_matching_keeps_the_beginning_and_a_long_sentence_is_cut() {
        let e = excerpt(FAQ, "bananas", 12);
        assert!(e.starts_with("4.1 What is Debian?"), "{e}");
        assert!(e.ends_with(ELLIPSIS), "{e}");
        let long = "one two three four five six seven eight nine ten";
        assert_eq!(excerpt(long, "seven", 4), "one two three four…");
    }

    #[test]
    fn a_quote_takes_the_passage_that_answers_on_one_line_with_its_marker() {
        let other = "Ships carry cargo.\nPorts load them.";
        let faq = FAQ.replace(". ", ".\n");
        let (n, text) =
            quote("How is Debian pronounced?", &[(1, other), (3, &faq)]).expect("a quote");
        assert_eq!(n, 3);
        assert!(text.ends_with(" [3]"), "{text}");
        assert!(text.contains("pronounced Deb-ee-en"), "{text}");
        assert!(!text.contains('\n'), "{text}");
        // Nothing matching: the first candidate.
        assert_eq!(
            quote("bananas", &[(2, other), (1, "Fruit.")]),
            Some((2, "Ships carry cargo. Ports load them. [2]".into()))
        );
        assert_eq!(quote("anything", &[]), None);
        assert_eq!(quote("anything", &[(1, "  ")]), None);
        // A table of contents holds every heading's words and answers nothing.
        let contents =
            "4.2 How is Debian pronounced? . . . . . . . . 14\n4.3 Where do I get it? . . . 15";
        assert_eq!(
            quote("How is Debian pronounced?", &[(1, contents), (2, other)]),
            Some((2, "Ships carry cargo. Ports load them. [2]".into()))
        );
        assert_eq!(quote("How is Debian pronounced?", &[(1, contents)]), None);
        let dots = "Debian ....... 14";
        assert_eq!(quote("Debian", &[(1, dots)]), None);
        // An ellipsis in prose is not a table of contents.
        assert!(quote("Red Hat", &[(1, "Red Hat/Slackware/... systems.")]).is_some());
    }
}
