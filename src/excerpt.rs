//! Query-aware excerpts: the run of a passage's sentences that holds most of the question's
//! words, so the prompt spends its tokens on what bears on the question. On 2 cores every
//! prompt token costs the person ~14 ms of waiting for the first word (Qwen2.5 0.5B prefills
//! ~70 tokens/s), and a retrieved passage is ~250 tokens of which the answer is often two
//! sentences after a heading that repeats the question.

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
    let text = text.trim();
    if max_words == 0 || n_words(text) <= max_words {
        return text.to_owned();
    }
    let wanted: HashSet<String> = content_words(question).into_iter().collect();
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
    let Some((_, start, end)) = best else {
        return text.to_owned();
    };
    let mut body: String = pieces[start..end].concat().trim().to_owned();
    // One sentence longer than the budget: its first max_words words.
    if n_words(&body) > max_words {
        body = body
            .split_whitespace()
            .take(max_words)
            .collect::<Vec<_>>()
            .join(" ");
        return format!("{}{body}{ELLIPSIS}", if start > 0 { ELLIPSIS } else { "" });
    }
    format!(
        "{}{body}{}",
        if start > 0 { ELLIPSIS } else { "" },
        if end < pieces.len() { ELLIPSIS } else { "" }
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
}
