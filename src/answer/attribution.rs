//! Citations for answers that give none: small models often answer from the passages without
//! writing `[n]`, so each sentence is matched to the passage whose words it repeats, and cited
//! only when it repeats most of them. Such answers are stored as `citations_matched`, so the UI
//! can say the citations were matched rather than written by the model.

use std::collections::HashSet;

/// Share of a sentence's content words that must appear in one passage for it to be cited.
pub const MIN_OVERLAP: f64 = 0.6;
/// Sentences with fewer content words say too little to attribute ("Yes.", "See below.").
pub const MIN_WORDS: usize = 4;

const STOPWORDS: &[&str] = &[
    "the", "and", "for", "are", "but", "not", "you", "all", "any", "can", "had", "her", "was",
    "one", "our", "out", "has", "have", "his", "how", "its", "may", "who", "did", "yes", "this",
    "that", "with", "from", "they", "will", "would", "there", "their", "what", "about", "which",
    "when", "were", "been", "into", "than", "then", "them", "these", "those", "some", "such",
    "also", "only", "other", "your", "more", "most", "very", "each", "does", "should", "could",
    "where", "while", "because", "being", "over", "under", "after", "before", "between",
];

/// Words of at least three letters or digits that are not stop words, lowercased.
pub(crate) fn content_words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 3)
        .map(str::to_lowercase)
        .filter(|w| !STOPWORDS.contains(&w.as_str()))
        .collect()
}

/// Splits after `.`, `!` or `?` followed by whitespace, and at line breaks; the pieces
/// concatenate back to `text`.
pub(crate) fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let next_is_space = chars.peek().is_some_and(|(_, n)| n.is_whitespace());
        if c == '\n' || (matches!(c, '.' | '!' | '?') && next_is_space) {
            let end = i + c.len_utf8();
            out.push(&text[start..end]);
            start = end;
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// `answer` with `[n]` (1-based passage numbers) after each sentence that repeats most of
/// one passage's words, or `None` when no sentence does. A sentence citing the same passage
/// as the one before it is left bare.
pub fn attribute(answer: &str, passages: &[&str]) -> Option<String> {
    let passage_words: Vec<HashSet<String>> = passages
        .iter()
        .map(|p| content_words(p).into_iter().collect())
        .collect();
    let mut out = String::with_capacity(answer.len() + 16);
    let mut previous: Option<usize> = None;
    let mut any = false;
    for sentence in sentences(answer) {
        let words = content_words(sentence);
        let best = (words.len() >= MIN_WORDS)
            .then(|| {
                passage_words
                    .iter()
                    .enumerate()
                    .map(|(idx, set)| {
                        let hits = words.iter().filter(|w| set.contains(*w)).count();
                        (idx, hits as f64 / words.len() as f64)
                    })
                    // The first (best-ranked) passage wins a tie.
                    .fold(
                        None,
                        |best: Option<(usize, f64)>, (idx, score)| match best {
                            Some((_, top)) if top >= score => best,
                            _ => Some((idx, score)),
                        },
                    )
            })
            .flatten()
            .filter(|&(_, score)| score >= MIN_OVERLAP);
        match best {
            Some((idx, _)) if previous != Some(idx) => {
                out.push_str(&with_marker(sentence, idx + 1));
                previous = Some(idx);
                any = true;
            }
            Some(_) => out.push_str(sentence),
            None => {
                out.push_str(sentence);
                previous = None;
            }
        }
    }
    any.then_some(out)
}

/// "It is X.\n" -> "It is X [2].\n": the marker goes before the closing punctuation.
fn with_marker(sentence: &str, n: usize) -> String {
    let trimmed = sentence.trim_end();
    let trailing = &sentence[trimmed.len()..];
    let body = trimmed.trim_end_matches(['.', '!', '?', ':', ';']);
    let punctuation = &trimmed[body.len()..];
    format!("{body} [{n}]{punctuation}{trailing}")
}

/// Share of a sentence's content words one passage must hold for the sentence to count as
/// supported by it (lower than [`MIN_OVERLAP`]: a model that cites may paraphrase).
pub const SUPPORTED: f64 = 0.5;

/// What checking an answer's citations against its passages changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CitationCheck {
    /// The answer with its markers checked.
    pub text: String,
    /// Markers whose passage did not support their sentence, moved to the one that does.
    pub moved: usize,
    /// Markers whose sentence no passage supports, removed.
    pub dropped: usize,
    /// Sentences with enough words to judge that no passage supports, as they read in `text`.
    pub unsupported: Vec<String>,
}

fn support(words: &[String], passage: &HashSet<String>) -> f64 {
    words.iter().filter(|w| passage.contains(*w)).count() as f64 / words.len().max(1) as f64
}

/// Checks each `[n]` against the sentence it ends: a marker whose passage does not hold most
/// of the sentence's words is moved to the passage that does, or dropped when none does.
/// Sentences too short to judge keep their markers. Markers written after a sentence's full
/// stop (". [2]") count for the sentence before them.
pub fn check_citations(answer: &str, passages: &[&str]) -> CitationCheck {
    let passage_words: Vec<HashSet<String>> = passages
        .iter()
        .map(|p| content_words(p).into_iter().collect())
        .collect();
    let mut check = CitationCheck::default();
    let mut previous_words: Vec<String> = Vec::new();
    for sentence in sentences(answer) {
        let found = crate::prompt::markers(sentence);
        let mut bare = String::with_capacity(sentence.len());
        let mut at = 0;
        for (range, _) in &found {
            bare.push_str(&sentence[at..range.start]);
            at = range.end;
        }
        bare.push_str(&sentence[at..]);
        let own_words = content_words(&bare);
        // A piece of markers alone belongs to the sentence before it.
        let words = if own_words.is_empty() {
            previous_words.clone()
        } else {
            own_words.clone()
        };
        let judged = words.len() >= MIN_WORDS;
        let best = judged
            .then(|| {
                passage_words
                    .iter()
                    .enumerate()
                    .map(|(i, set)| (i + 1, support(&words, set)))
                    .fold(None, |best: Option<(usize, f64)>, (n, s)| match best {
                        Some((_, top)) if top >= s => best,
                        _ => Some((n, s)),
                    })
            })
            .flatten()
            .filter(|&(_, s)| s >= SUPPORTED)
            .map(|(n, _)| n);

        let mut rebuilt = String::with_capacity(sentence.len());
        let mut at = 0;
        for (range, numbers) in &found {
            rebuilt.push_str(&sentence[at..range.start]);
            at = range.end;
            let mut kept: Vec<usize> = Vec::new();
            for &n in numbers {
                let supports = !judged
                    || passage_words
                        .get(n.wrapping_sub(1))
                        .is_some_and(|set| support(&words, set) >= SUPPORTED);
                let new = if supports {
                    Some(n)
                } else if let Some(b) = best {
                    check.moved += 1;
                    Some(b)
                } else {
                    check.dropped += 1;
                    None
                };
                if let Some(n) = new
                    && !kept.contains(&n)
                {
                    kept.push(n);
                }
            }
            if kept.is_empty() {
                // "text [9]." -> "text."
                if rebuilt.ends_with(' ') {
                    rebuilt.pop();
                }
            } else {
                let list: Vec<String> = kept.iter().map(ToString::to_string).collect();
                rebuilt.push_str(&format!("[{}]", list.join(", ")));
            }
        }
        rebuilt.push_str(&sentence[at..]);
        if judged && best.is_none() && !own_words.is_empty() {
            check.unsupported.push(rebuilt.trim().to_owned());
        }
        check.text.push_str(&rebuilt);
        if !own_words.is_empty() {
            previous_words = own_words;
        }
    }
    check
}

#[cfg(test)]
mod tests {
    use super::*;

    const APT: &str = "To install a package, run apt-get install followed by the package name; \
        apt fetches it and its dependencies from the archive.";
    const NAME: &str = "Debian is pronounced Deb-ee-en; the name comes from Debra and Ian Murdock.";

    #[test]
    fn a_sentence_that_repeats_a_passage_cites_it() {
        let answer =
            "Debian is always pronounced Deb-ee-en. The name comes from Debra and Ian Murdock.";
        let cited = attribute(answer, &[APT, NAME]).expect("attributed");
        // The second sentence cites the same passage: left bare.
        assert_eq!(
            cited,
            "Debian is always pronounced Deb-ee-en [2]. The name comes from Debra and Ian Murdock."
        );
    }

    #[test]
    fn sentences_that_repeat_nothing_stay_uncited() {
        assert_eq!(
            attribute("I do not know what you mean by that at all.", &[APT, NAME]),
            None
        );
        assert_eq!(attribute("Yes.", &[APT]), None);
        assert_eq!(attribute("", &[APT]), None);
        assert_eq!(attribute("Anything goes here really.", &[]), None);
    }

    #[test]
    fn markers_go_before_closing_punctuation_and_text_is_kept() {
        let answer = "Intro line\nrun apt-get install followed by the package name!\n";
        let cited = attribute(answer, &[APT]).expect("attributed");
        assert_eq!(
            cited,
            "Intro line\nrun apt-get install followed by the package name [1]!\n"
        );
    }

    #[test]
    fn a_marker_on_the_wrong_passage_moves_and_one_on_none_goes() {
        let answer = "Debian is pronounced Deb-ee-en after Debra and Ian [1]. \
            Run apt-get install followed by the package name [2].";
        let checked = check_citations(answer, &[APT, NAME]);
        assert_eq!(
            checked.text,
            "Debian is pronounced Deb-ee-en after Debra and Ian [2]. \
            Run apt-get install followed by the package name [1]."
        );
        assert_eq!((checked.moved, checked.dropped), (2, 0));
        assert!(checked.unsupported.is_empty());

        let answer = "Bananas grow quickly in warm tropical climates [1].";
        let checked = check_citations(answer, &[APT, NAME]);
        assert_eq!(
            checked.text,
            "Bananas grow quickly in warm tropical climates."
        );
        assert_eq!((checked.moved, checked.dropped), (0, 1));
        assert_eq!(
            checked.unsupported,
            ["Bananas grow quickly in warm tropical climates."]
        );
    }

    #[test]
    fn right_markers_short_sentences_and_trailing_markers_stay() {
        let answer = "Yes [1]. Debian is pronounced Deb-ee-en after Debra and Ian. [2]";
        let checked = check_citations(answer, &[APT, NAME]);
        assert_eq!(checked.text, answer);
        assert_eq!((checked.moved, checked.dropped), (0, 0));
        assert!(checked.unsupported.is_empty());
    }

    #[test]
    fn sentence_pieces_rebuild_the_text() {
        for text in [
            "a. b! c? d",
            "one\ntwo\n",
            "no end",
            "3.14 is pi. Done.",
            "é. ü\n",
        ] {
            assert_eq!(sentences(text).concat(), text);
        }
    }
}
