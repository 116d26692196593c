//! The cite stage of an answer: markers checked against the passages they name, markers
//! added to an answer that gave none, and a marker-only answer replaced by the sentences it
//! pointed at.

use super::attribution::CitationCheck;
use super::prompt;
use crate::llm::{Finish, Generation};

/// An answer after the cite stage.
pub(super) struct Cited {
    pub answer: String,
    /// The model wrote no `[n]`; the markers were added by matching sentences to passages.
    pub citations_matched: bool,
    /// The model wrote only markers: the answer is quoted from the passage they point at.
    pub quoted: bool,
    pub check: CitationCheck,
}

/// Cites `generation`'s answer to `question` against the `texts` the model read (of
/// `n_passages`, from `documents`); an `unrelated` answer (no passage was close) is left as is.
pub(super) fn cite(
    question: &str,
    generation: &Generation,
    documents: &[&str],
    texts: &[&str],
    n_passages: usize,
    unrelated: bool,
) -> Cited {
    let answer = prompt::strip_heading_echoes(&generation.text, documents);
    let mut answer = prompt::strip_invalid_markers(&answer, n_passages);
    let mut citations_matched = false;
    let mut quoted = false;
    let mut check = CitationCheck::default();
    if unrelated {
        // Nothing to cite: the sources are listed as what came closest.
    } else if generation.finish != Finish::Cancelled && !prompt::has_words(&answer) {
        // Qwen 0.5B answers about one question in six with markers only: it starts to copy
        // a passage's heading and meets the quote fence. A second generation in other words
        // was weak (docs/BENCHMARKS.md); the sentences of the passage it pointed at that
        // bear on the question are what it was about to copy. The passages it pointed at
        // come first; all it read when it pointed at none, or only at a table of contents.
        let pointed: Vec<(usize, &str)> = prompt::cited_numbers(&answer, n_passages)
            .into_iter()
            .map(|n| (n, texts[n - 1]))
            .collect();
        if let Some((_, text)) = super::excerpt::quote(question, &pointed).or_else(|| {
            let all_read: Vec<(usize, &str)> =
                texts.iter().enumerate().map(|(i, t)| (i + 1, *t)).collect();
            super::excerpt::quote(question, &all_read)
        }) {
            answer = text;
            quoted = true;
        }
    } else if prompt::cited_numbers(&answer, n_passages).is_empty() {
        if let Some(attributed) = super::attribution::attribute(&answer, texts) {
            answer = attributed;
            citations_matched = true;
        }
    } else {
        // The model's markers are checked against the passages they name.
        check = super::attribution::check_citations(&answer, texts);
        answer = std::mem::take(&mut check.text);
    }
    Cited {
        answer,
        citations_matched,
        quoted,
        check,
    }
}
