//! The chunker with the real tokenizer: snapshots of small fixtures, token limits, and page
//! numbers on paged text.

use lectern::chunk::{Chunk, Chunker, MAX_TOKENS};
use lectern::extract::{DocumentText, normalize};
use lectern::store::DocFormat;

use crate::support::{asset, chunker, model_files};

fn describe(chunks: &[Chunk]) -> String {
    chunks
        .iter()
        .map(|c| {
            format!(
                "[{}..{}] pages {:?}-{:?} tokens {}\n{}\n",
                c.char_start, c.char_end, c.first_page, c.last_page, c.n_tokens, c.text
            )
        })
        .collect::<Vec<_>>()
        .join("---\n")
}

fn fixture(name: &str, format: DocFormat) -> DocumentText {
    let raw = std::fs::read_to_string(asset(&format!("fixtures/{name}"))).expect("fixture");
    DocumentText {
        format,
        pages: vec![normalize(&raw)],
        ocr: Vec::new(),
        sections: Vec::new(),
    }
}

/// Small chunks, so that the fixtures show splits and overlap.
fn small_chunker() -> Chunker {
    Chunker::with_sizes(model_files().tokenizer().expect("tokenizer"), 40, 60, 8)
}

#[test]
fn markdown_fixture_chunks() {
    let chunker = small_chunker();
    let chunks = chunker.chunk(&fixture("guide.md", DocFormat::Markdown));
    insta::assert_snapshot!(describe(&chunks));
}

#[test]
fn text_fixture_chunks() {
    let chunker = small_chunker();
    let chunks = chunker.chunk(&fixture("notes.txt", DocFormat::Text));
    insta::assert_snapshot!(describe(&chunks));
}

#[test]
fn chunks_fit_the_model_and_know_their_pages() {
    let chunker = chunker();
    // 30 pages, each saying which page it is, in sentences long enough to cross pages.
    let pages: Vec<String> = (1..=30)
        .map(|p| {
            (0..30)
                .map(|s| {
                    format!("This is sentence {s} written on page marker P{p}X of the manual.")
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let doc = DocumentText {
        format: DocFormat::Pdf,
        pages,
        ocr: Vec::new(),
        sections: Vec::new(),
    };
    let full = doc.pages.join("\n\n");
    let chunks = chunker.chunk(&doc);
    assert!(chunks.len() > 10);
    for c in &chunks {
        assert!(c.n_tokens <= MAX_TOKENS, "chunk of {} tokens", c.n_tokens);
        let first = c.first_page.expect("paged") as usize;
        let last = c.last_page.expect("paged") as usize;
        assert!(first <= last);
        // Every page marker in the chunk lies within its page range.
        for p in 1..=30 {
            if c.text.contains(&format!("P{p}X")) {
                assert!(
                    (first..=last).contains(&p),
                    "P{p}X in chunk of pages {first}-{last}"
                );
            }
        }
        // Offsets point at the chunk's own text.
        let at: String = full
            .chars()
            .skip(c.char_start)
            .take(c.char_end - c.char_start)
            .collect();
        assert_eq!(at, c.text);
    }
    // Consecutive chunks overlap.
    // Consecutive chunks overlap, unless the cut falls on a paragraph break where no
    // sentence is split.
    let mut n_overlapping = 0;
    for w in chunks.windows(2) {
        if w[1].char_start < w[0].char_end {
            n_overlapping += 1;
        } else {
            let gap: String = full
                .chars()
                .skip(w[0].char_end)
                .take(w[1].char_start - w[0].char_end)
                .collect();
            assert_eq!(
                gap, "\n\n",
                "a cut outside a paragraph break without overlap"
            );
        }
    }
    assert!(n_overlapping > 0);
}

#[test]
fn normalisation_folds_compatibility_forms_and_blank_runs() {
    // Arabic presentation forms (as PDFs of Persian text produce) and a Latin ligature.
    let text = normalize("\u{fee3}\u{feae}\u{fea3}\u{e8}\u{fb01}n   de\tligne  \n\n\n\nsuite\u{0}");
    assert_eq!(text, "مرحèfin de ligne\n\nsuite");
}
