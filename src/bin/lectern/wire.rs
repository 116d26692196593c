//! The JSON shape `lectern serve` and `lectern mcp` both give a passage: where it is (document
//! and pages) and its number in an answer's `[n]` markers. One type, so the HTTP API and the
//! MCP tools never drift apart.

use lectern::library::StoredPassage;
use lectern::retrieve::Passage;
use rmcp::schemars::JsonSchema;
use serde::Serialize;

/// A passage with where it is: its document and pages.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct PassageJson {
    /// Its number: an answer's `[n]` markers refer to it.
    pub n: i64,
    pub document: String,
    pub document_id: i64,
    /// The page it starts on (PDFs), none for text files.
    pub page: Option<i64>,
    pub last_page: Option<i64>,
    pub chunk_id: i64,
    pub text: String,
    /// In an answer's sources: whether the answer cites it (absent in search results).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cited: Option<bool>,
    /// Drawn from a page read by OCR: its words may be misread.
    pub ocr: bool,
    /// Its section's title (Word, EPUB, HTML), in place of pages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub section: Option<String>,
}

impl PassageJson {
    /// A passage as an answer stored it.
    pub fn stored(p: &StoredPassage) -> Self {
        Self {
            n: p.n,
            document: p.document.clone(),
            document_id: p.document_id.0,
            page: p.first_page,
            last_page: p.last_page,
            chunk_id: p.chunk_id,
            text: p.text.clone(),
            cited: Some(p.cited),
            ocr: p.ocr,
            section: p.section.clone(),
        }
    }

    /// Passages as search returned them, numbered from 1.
    pub fn retrieved(passages: &[Passage]) -> Vec<Self> {
        passages
            .iter()
            .enumerate()
            .map(|(i, p)| Self {
                n: i as i64 + 1,
                document: p.document.clone(),
                document_id: p.document_id.0,
                page: p.first_page,
                last_page: p.last_page,
                chunk_id: p.chunk_id,
                text: p.text.clone(),
                cited: None,
                ocr: p.ocr,
                section: p.section.clone(),
            })
            .collect()
    }
}
