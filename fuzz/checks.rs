//! The properties each fuzz target checks, written once: the fuzz targets call them on
//! libFuzzer's inputs and the regression tests (`tests/it/fuzz.rs`) on every input kept in
//! `fuzz/regressions/`. Each function panics when its property breaks.

use std::path::Path;

use lectern::chunk::{Chunker, MAX_TOKENS};
use lectern::extract::{self, DocumentText};
use lectern::prompt::{self, Prompt, PromptPassage, Turn};
use lectern::store::DocFormat;

/// The format an input is read as: its first byte picks one, so one corpus covers all three.
fn format_of(data: &[u8]) -> (DocFormat, &[u8]) {
    match data.split_first() {
        Some((b, rest)) if b % 3 == 0 => (DocFormat::Pdf, rest),
        Some((b, rest)) if b % 3 == 1 => (DocFormat::Markdown, rest),
        Some((_, rest)) => (DocFormat::Text, rest),
        None => (DocFormat::Text, data),
    }
}

/// Chunks cover the text they claim (their character range holds exactly their text), stay
/// within the embedding window unless one character alone is larger, and know their pages.
/// Form feeds separate pages.
pub fn chunker(chunker: &Chunker, data: &[u8]) {
    let (format, rest) = format_of(data);
    let text = String::from_utf8_lossy(rest);
    let pages: Vec<String> = text.split('\u{c}').map(str::to_owned).collect();
    let doc = DocumentText {
        format,
        pages,
        ocr: Vec::new(),
        sections: Vec::new(),
    };
    let full: Vec<char> = doc.pages.join("\n\n").chars().collect();
    let n_pages = doc.pages.len() as u32;
    for chunk in chunker.chunk(&doc) {
        assert!(!chunk.text.trim().is_empty(), "blank chunk");
        assert!(chunk.char_start < chunk.char_end && chunk.char_end <= full.len());
        let covered: String = full[chunk.char_start..chunk.char_end].iter().collect();
        assert_eq!(covered, chunk.text, "the range holds the chunk's text");
        assert!(
            chunk.n_tokens <= MAX_TOKENS || chunk.text.chars().count() <= 1,
            "{} tokens",
            chunk.n_tokens
        );
        match (format, chunk.first_page, chunk.last_page) {
            (DocFormat::Pdf, Some(first), Some(last)) => {
                assert!(1 <= first && first <= last && last <= n_pages);
            }
            (DocFormat::Pdf, ..) => panic!("a PDF chunk without pages"),
            (_, None, None) => {}
            _ => panic!("pages on a format without pages"),
        }
    }
}

/// The Markdown and text loader takes any bytes: UTF-8 text comes back normalised (and
/// normalising again changes nothing), anything else is refused with a reason naming the file.
pub fn text_loader(data: &[u8]) {
    for (format, name) in [
        (DocFormat::Markdown, "fuzz.md"),
        (DocFormat::Text, "fuzz.txt"),
    ] {
        match extract::load_text(Path::new(name), format, data.to_vec()) {
            Ok(doc) => {
                assert_eq!(doc.pages.len(), 1);
                let page = &doc.pages[0];
                assert!(!page.trim().is_empty());
                assert!(!page.chars().any(|c| c.is_control() && c != '\n'));
                assert_eq!(&extract::normalize(page), page, "normalising is idempotent");
            }
            Err(e) => {
                assert!(
                    ["empty", "not_utf8", "too_much_text"].contains(&e.code().as_str()),
                    "{e}"
                );
                assert!(e.to_string().contains(name), "{e}");
            }
        }
    }
}

/// The prompt builder: the instruction part is the instruction whatever the documents say,
/// every passage's text sits between a pair of quote fences, and fitting never exceeds the
/// budget nor cuts a piece short. Fields are separated by NUL bytes.
pub fn prompt(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut fields = text.split('\0');
    let mut next = || fields.next().unwrap_or("").to_owned();
    let instruction = next();
    let output_indicator = next();
    let question = next();
    let history = vec![Turn {
        user: next(),
        assistant: next(),
    }];
    let passages: Vec<PromptPassage> = fields
        .by_ref()
        .take(8)
        .enumerate()
        .map(|(i, t)| PromptPassage {
            document: format!("doc{i}.pdf"),
            first_page: Some(i as i64 + 1),
            last_page: Some(i as i64 + 1 + (t.len() % 2) as i64),
            text: t.to_owned(),
        })
        .collect();
    let p = Prompt {
        instruction,
        output_indicator,
        passages,
        question,
        history,
    };
    for n_passages in 0..=p.passages.len() {
        let messages = prompt::build(&p, n_passages, 1);
        assert_eq!(messages[0].content, p.instruction.trim());
        let context = prompt::render_context(&p.passages[..n_passages]);
        let n_fences = context
            .lines()
            .filter(|l| *l == prompt::QUOTE_FENCE)
            .count();
        assert_eq!(n_fences, 2 * n_passages, "fences pair up: {context:?}");
        for passage in &p.passages[..n_passages] {
            assert!(context.contains(&prompt::defuse(passage.text.trim())));
        }
    }
    let count = |m: &[lectern::llm::ChatMessage]| -> Result<usize, lectern::LlmError> {
        Ok(m.iter().map(|m| m.content.len() / 4 + 4).sum())
    };
    let budget = data.len() % 4096;
    if let Ok(fitted) = prompt::fit(&p, budget, count) {
        assert!(fitted.n_tokens <= budget);
        assert!(fitted.n_passages <= p.passages.len());
        assert_eq!(
            fitted.messages,
            prompt::build(&p, fitted.n_passages, fitted.n_history)
        );
    }
}

/// The citation parser: cited numbers are in range and unique, and removing invalid markers
/// leaves no marker that points nowhere (removing again changes nothing). The repetition check
/// reads the same answer text: where it cuts is a character boundary with text after it.
pub fn citations(data: &[u8]) {
    let answer = String::from_utf8_lossy(data);
    let n_passages = data.len() % 12;
    let cited = prompt::cited_numbers(&answer, n_passages);
    let mut seen = std::collections::HashSet::new();
    for n in &cited {
        assert!((1..=n_passages).contains(n));
        assert!(seen.insert(*n), "{n} repeated");
    }
    let stripped = prompt::strip_invalid_markers(&answer, n_passages);
    assert_eq!(
        prompt::strip_invalid_markers(&stripped, n_passages),
        stripped,
        "stripping is idempotent"
    );
    for n in prompt::cited_numbers(&stripped, usize::MAX) {
        assert!(n <= n_passages, "marker [{n}] survived: {stripped:?}");
    }
    if let Some(cut) = lectern::llm::repeat_start(&answer) {
        assert!(
            answer.is_char_boundary(cut) && cut < answer.len(),
            "cut at {cut}: {answer:?}"
        );
    }
}
