//! Splitting a document's text into overlapping chunks sized in tokens of the embedding
//! model, each knowing the pages it came from.

use std::sync::Arc;

use text_splitter::{ChunkConfig, MarkdownSplitter, TextSplitter};
use tokenizers::Tokenizer;

use crate::extract::DocumentText;
use crate::store::DocFormat;

/// Chunks aim for this many tokens and never exceed the maximum: with [CLS] and [SEP] the
/// maximum is exactly the embedding model's 256-token window, so nothing is cut off.
pub const TARGET_TOKENS: usize = 200;
pub const MAX_TOKENS: usize = 254;
/// About 15 % of a chunk is repeated at the start of the next, so a sentence cut by a chunk
/// boundary is still whole in one of the two.
pub const OVERLAP_TOKENS: usize = 32;

/// Pages are joined with a blank line, which the splitters treat as a paragraph break.
const PAGE_SEPARATOR: &str = "\n\n";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub text: String,
    /// Offsets in characters into the document's text (pages joined by a blank line).
    pub char_start: usize,
    pub char_end: usize,
    pub first_page: Option<u32>,
    pub last_page: Option<u32>,
    pub n_tokens: usize,
    /// The title of the section it lies in (Word, EPUB, HTML): a chunk never spans two.
    pub section: Option<String>,
}

/// Splits documents; cheap to share between threads.
pub struct Chunker {
    tokenizer: Arc<Tokenizer>,
    text: TextSplitter<Arc<Tokenizer>>,
    markdown: MarkdownSplitter<Arc<Tokenizer>>,
}

impl std::fmt::Debug for Chunker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chunker").finish_non_exhaustive()
    }
}

impl Chunker {
    /// `tokenizer` must not truncate or pad (see `ModelFiles::tokenizer`).
    pub fn new(tokenizer: Tokenizer) -> Self {
        Self::with_sizes(tokenizer, TARGET_TOKENS, MAX_TOKENS, OVERLAP_TOKENS)
    }

    pub fn with_sizes(tokenizer: Tokenizer, target: usize, max: usize, overlap: usize) -> Self {
        let tokenizer = Arc::new(tokenizer);
        let config = || {
            ChunkConfig::new(target..max)
                .with_sizer(Arc::clone(&tokenizer))
                .with_overlap(overlap.min(target.saturating_sub(1)))
                .expect("overlap is clamped below the chunk size")
        };
        Self {
            text: TextSplitter::new(config()),
            markdown: MarkdownSplitter::new(config()),
            tokenizer,
        }
    }

    pub fn count_tokens(&self, text: &str) -> usize {
        self.tokenizer
            .encode_fast(text, false)
            .map_or(0, |e| e.get_ids().len())
    }

    pub fn chunk(&self, doc: &DocumentText) -> Vec<Chunk> {
        if doc.format.has_sections() {
            return self.chunk_sections(doc);
        }
        let mut full = String::new();
        // Byte offset at which each page starts in `full`.
        let mut page_starts = Vec::with_capacity(doc.pages.len());
        for (page_idx, page) in doc.pages.iter().enumerate() {
            if page_idx > 0 {
                full.push_str(PAGE_SEPARATOR);
            }
            page_starts.push(full.len());
            full.push_str(page);
        }
        let page_of = |byte: usize| -> Option<u32> {
            if !doc.is_paged() {
                return None;
            }
            let idx = page_starts.partition_point(|&start| start <= byte).max(1) - 1;
            u32::try_from(idx + 1).ok()
        };
        let pieces: Vec<_> = match doc.format {
            DocFormat::Markdown => self.markdown.chunk_char_indices(&full).collect(),
            DocFormat::Pdf
            | DocFormat::Text
            | DocFormat::Html
            | DocFormat::Docx
            | DocFormat::Odt
            | DocFormat::Epub => self.text.chunk_char_indices(&full).collect(),
        };
        pieces
            .into_iter()
            .filter(|p| !p.chunk.trim().is_empty())
            .map(|p| {
                let last_byte = p.byte_offset + p.chunk.len().saturating_sub(1);
                Chunk {
                    text: p.chunk.to_owned(),
                    char_start: p.char_offset,
                    char_end: p.char_offset + p.chunk.chars().count(),
                    first_page: page_of(p.byte_offset),
                    last_page: page_of(last_byte),
                    n_tokens: self.count_tokens(p.chunk),
                    section: None,
                }
            })
            .collect()
    }

    /// Each section split on its own, so that a chunk belongs to one section and a citation
    /// names it; offsets still count in the sections joined by a blank line.
    fn chunk_sections(&self, doc: &DocumentText) -> Vec<Chunk> {
        let mut chunks = Vec::new();
        let mut section_start = 0;
        for (idx, text) in doc.pages.iter().enumerate() {
            if idx > 0 {
                section_start += PAGE_SEPARATOR.chars().count();
            }
            let title = doc.sections.get(idx).cloned().unwrap_or_default();
            for piece in self.text.chunk_char_indices(text) {
                if piece.chunk.trim().is_empty() {
                    continue;
                }
                chunks.push(Chunk {
                    text: piece.chunk.to_owned(),
                    char_start: section_start + piece.char_offset,
                    char_end: section_start + piece.char_offset + piece.chunk.chars().count(),
                    first_page: None,
                    last_page: None,
                    n_tokens: self.count_tokens(piece.chunk),
                    section: (!title.is_empty()).then(|| title.clone()),
                });
            }
            section_start += text.chars().count();
        }
        chunks
    }
}
