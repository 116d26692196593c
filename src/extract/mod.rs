//! Reading documents into normalised text, page by page (PDFs) or section by section (Word,
//! EPUB, HTML), through an isolated worker process; Markdown and plain text directly.

mod isolate;
pub mod markup;
pub mod ocr;
mod pdf;

use std::path::Path;

use unicode_normalization::UnicodeNormalization;

pub use isolate::{
    ExtractorConfig, PdfText, WORKER_ARG, extract_isolated, pages_needing_ocr, run_worker,
};
pub use pdf::{PdfFailure, PdfPages, extract_pages};

use crate::error::IngestError;
use crate::job::CancelFlag;
use crate::store::DocFormat;

/// A document's text. PDFs have one entry per page; Word, EPUB and HTML one per section, with
/// its title in `sections`; Markdown and text a single entry and no page numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentText {
    pub format: DocFormat,
    pub pages: Vec<String>,
    /// Each section's title (the headings above it), in `pages` order; empty for formats
    /// without sections.
    pub sections: Vec<String>,
    /// Which pages were read by OCR (a page past the end was not).
    pub ocr: Vec<bool>,
}

impl DocumentText {
    pub fn is_paged(&self) -> bool {
        self.format == DocFormat::Pdf
    }

    /// Whether page `page` (1-based) was read by OCR.
    pub fn is_ocr_page(&self, page: u32) -> bool {
        let i = usize::try_from(page).unwrap_or(usize::MAX);
        i > 0 && self.ocr.get(i - 1).copied().unwrap_or(false)
    }

    pub fn n_ocr_pages(&self) -> usize {
        self.ocr.iter().filter(|&&o| o).count()
    }

    pub fn n_chars(&self) -> usize {
        self.pages.iter().map(|p| p.chars().count()).sum()
    }
}

/// The format of a file, from its extension (and, for PDFs, nothing else: a `.pdf` that is
/// not one is reported by the parser).
pub fn detect_format(path: &Path) -> Result<DocFormat, IngestError> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match ext.as_str() {
        "pdf" => Ok(DocFormat::Pdf),
        "md" | "markdown" => Ok(DocFormat::Markdown),
        "txt" | "text" => Ok(DocFormat::Text),
        "html" | "htm" | "xhtml" => Ok(DocFormat::Html),
        "docx" => Ok(DocFormat::Docx),
        "odt" => Ok(DocFormat::Odt),
        "epub" => Ok(DocFormat::Epub),
        _ => Err(IngestError::UnsupportedFormat {
            path: path.to_owned(),
        }),
    }
}

/// The largest PDF Lectern opens: the extraction worker holds the whole file in memory.
pub const MAX_PDF_BYTES: u64 = 256 << 20;
/// The largest Markdown or text file: more text than a PDF of that size would carry, and it is
/// all chunked and embedded (8 MiB is about 8,000 passages, minutes of embedding).
pub const MAX_TEXT_FILE_BYTES: u64 = 8 << 20;
/// The largest HTML page: its markup is most of its bytes (a saved page of 16 MiB is a
/// book's text and more).
pub const MAX_HTML_BYTES: u64 = 16 << 20;
/// The most text one document may have once extracted (a PDF can inflate): as above.
pub const MAX_TEXT_CHARS: usize = 8 << 20;

/// Rejects a file by its size alone, before anything reads it.
pub fn check_size(path: &Path, format: DocFormat, n_bytes: u64) -> Result<(), IngestError> {
    let (kind, limit) = match format {
        DocFormat::Pdf => ("PDF", MAX_PDF_BYTES),
        DocFormat::Markdown | DocFormat::Text => ("text", MAX_TEXT_FILE_BYTES),
        DocFormat::Html => ("HTML", MAX_HTML_BYTES),
        // Archives are read member by member within their own limits (markup.rs); their
        // images, never unpacked, are most of their size.
        DocFormat::Docx => ("Word", MAX_PDF_BYTES),
        DocFormat::Odt => ("OpenDocument", MAX_PDF_BYTES),
        DocFormat::Epub => ("EPUB", MAX_PDF_BYTES),
    };
    if n_bytes == 0 {
        Err(IngestError::Empty {
            path: path.to_owned(),
        })
    } else if n_bytes > limit {
        Err(IngestError::TooLarge {
            path: path.to_owned(),
            kind,
            n_bytes,
            limit,
        })
    } else {
        Ok(())
    }
}

/// How to read one file beyond its path and format.
#[derive(Clone, Copy)]
pub struct ExtractOptions<'a> {
    pub password: Option<&'a str>,
    /// Tesseract's language code(s) for pages without usable text; `None`: no OCR.
    pub ocr_language: Option<&'a str>,
    /// Hears `(pages done, of)` as OCR goes.
    pub on_ocr: &'a (dyn Fn(usize, usize) + Sync),
    pub cancel: Option<&'a CancelFlag>,
}

impl Default for ExtractOptions<'_> {
    fn default() -> Self {
        Self {
            password: None,
            ocr_language: Some(ocr::DEFAULT_LANGUAGE),
            on_ocr: &|_, _| {},
            cancel: None,
        }
    }
}

/// Extracts and normalises a document's text, and rejects text that is empty, unusable or
/// too long. PDFs are read by the worker process, with OCR of the pages that need it; text
/// files here (their size was checked).
pub async fn extract(
    config: &ExtractorConfig,
    path: &Path,
    format: DocFormat,
    options: ExtractOptions<'_>,
) -> Result<DocumentText, IngestError> {
    match format {
        DocFormat::Pdf => {
            let never = CancelFlag::default();
            let text = extract_isolated(
                config,
                path,
                format,
                options.password,
                options.ocr_language,
                options.on_ocr,
                options.cancel.unwrap_or(&never),
            )
            .await?;
            let mut doc = finish_pages(path, format, text.pages, text.ocr_note.as_deref())?;
            doc.ocr = text.ocr;
            Ok(doc)
        }
        DocFormat::Html | DocFormat::Docx | DocFormat::Odt | DocFormat::Epub => {
            let never = CancelFlag::default();
            let text = extract_isolated(
                config,
                path,
                format,
                None,
                None,
                &|_, _| {},
                options.cancel.unwrap_or(&never),
            )
            .await?;
            let mut doc = finish_pages(path, format, text.pages, None)?;
            doc.sections = text.sections;
            Ok(doc)
        }
        DocFormat::Markdown | DocFormat::Text => {
            let bytes = tokio::fs::read(path)
                .await
                .map_err(|source| IngestError::Io {
                    path: path.to_owned(),
                    source,
                })?;
            load_text(path, format, bytes)
        }
    }
}

/// The Markdown and plain-text loader: UTF-8 only (the offset of the first invalid byte is
/// reported), normalised, checked like any document's text.
pub fn load_text(
    path: &Path,
    format: DocFormat,
    bytes: Vec<u8>,
) -> Result<DocumentText, IngestError> {
    if bytes.is_empty() {
        return Err(IngestError::Empty {
            path: path.to_owned(),
        });
    }
    let text = String::from_utf8(bytes).map_err(|e| IngestError::NotUtf8 {
        path: path.to_owned(),
        offset: e.utf8_error().valid_up_to(),
    })?;
    finish_pages(path, format, vec![text], None)
}

/// Pages as extracted, made into a document's text: limited, normalised, checked.
fn finish_pages(
    path: &Path,
    format: DocFormat,
    pages: Vec<String>,
    ocr_note: Option<&str>,
) -> Result<DocumentText, IngestError> {
    let n_bytes: usize = pages.iter().map(String::len).sum();
    // Bytes bound characters from above: only a long text pays for counting them.
    if n_bytes > MAX_TEXT_CHARS {
        let n_chars = pages.iter().map(|p| p.chars().count()).sum();
        if n_chars > MAX_TEXT_CHARS {
            return Err(IngestError::TooMuchText {
                path: path.to_owned(),
                n_chars,
                limit: MAX_TEXT_CHARS,
            });
        }
    }
    let mut pages: Vec<String> = pages.iter().map(|p| normalize(p)).collect();
    if format == DocFormat::Pdf {
        pages.iter_mut().for_each(strip_page_numbers);
    }
    check_text(path, format, &pages, ocr_note)?;
    Ok(DocumentText {
        format,
        pages,
        sections: Vec::new(),
        ocr: Vec::new(),
    })
}

/// NFKC (PDFs of Arabic-script text come out in presentation forms otherwise, and ligatures
/// such as "ﬁ" would not match a typed "fi"), no control characters, no trailing blanks,
/// runs of spaces folded and at most one blank line in a row.
pub fn normalize(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut blank_lines = 0;
    // Control characters go before NFKC, not after: removing one from between two combining
    // marks would leave them out of canonical order (found by fuzzing).
    let kept = raw
        .chars()
        .filter(|&c| (!c.is_control() || matches!(c, '\n' | '\r' | '\t')) && c != '\u{feff}');
    for line in kept
        .nfkc()
        .collect::<String>()
        .replace("\r\n", "\n")
        .split(['\n', '\r'])
    {
        let mut folded = String::with_capacity(line.len());
        let mut last_space = true;
        for c in line.chars() {
            let c = if c == '\t' || c == '\u{a0}' { ' ' } else { c };
            if c.is_control() || c == '\u{feff}' {
                continue;
            }
            if c == ' ' {
                if !last_space {
                    folded.push(' ');
                }
                last_space = true;
            } else {
                folded.push(c);
                last_space = false;
            }
        }
        let folded = folded.trim_end();
        if folded.is_empty() {
            blank_lines += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank_lines > 0 { "\n\n" } else { "\n" });
        }
        blank_lines = 0;
        out.push_str(folded);
    }
    out
}

/// Drops a bare page number ("12", "xiv") standing alone on a page's first or last line: it
/// would otherwise end up as a chunk of its own or as noise in the chunk it joins.
fn strip_page_numbers(page: &mut String) {
    fn is_folio(line: &str) -> bool {
        let line = line.trim();
        !line.is_empty()
            && line.len() <= 6
            && (line.chars().all(|c| c.is_ascii_digit())
                || line
                    .chars()
                    .all(|c| "ivxlcdm".contains(c.to_ascii_lowercase())))
    }
    let lines: Vec<&str> = page.lines().collect();
    let mut start = 0;
    let mut end = lines.len();
    if end > 1 && is_folio(lines[end - 1]) {
        end -= 1;
    }
    if end > start + 1 && is_folio(lines[start]) {
        start += 1;
    }
    if (start, end) != (0, lines.len()) {
        *page = lines[start..end].join("\n").trim().to_owned();
    }
}

fn check_text(
    path: &Path,
    format: DocFormat,
    pages: &[String],
    ocr_note: Option<&str>,
) -> Result<(), IngestError> {
    let n_visible: usize = pages
        .iter()
        .map(|p| p.chars().filter(|c| !c.is_whitespace()).count())
        .sum();
    if format != DocFormat::Pdf {
        return if n_visible == 0 {
            Err(IngestError::Empty {
                path: path.to_owned(),
            })
        } else {
            Ok(())
        };
    }
    // A scan may carry a page number or a stray mark; less than a line of text per page is
    // not a text layer worth indexing.
    if n_visible < 20 * pages.len().min(10) {
        return Err(IngestError::NoTextLayer {
            path: path.to_owned(),
            n_pages: pages.len(),
            ocr: ocr_note
                .unwrap_or("none of its pages has an image to read")
                .to_owned(),
        });
    }
    if let Some(reason) = garbled_reason(pages) {
        return Err(IngestError::GarbledText {
            path: path.to_owned(),
            reason,
            ocr: ocr_note.unwrap_or("OCR was not tried").to_owned(),
        });
    }
    Ok(())
}

/// Detects text layers that decode to junk: fonts without a usable Unicode mapping come out
/// as private-use code points or replacement characters, and text in a legacy 8-bit code
/// page (Cyrillic in CP1251, say) read as Latin-1 comes out as runs of accented Latin
/// letters ("Ýòî íóæíî çíàòü"). Real French or German text has a few percent of those.
pub fn garbled_reason(pages: &[String]) -> Option<String> {
    let mut n_visible = 0usize;
    let mut n_junk = 0usize;
    let mut n_letters = 0usize;
    let mut n_latin1_letters = 0usize;
    for c in pages
        .iter()
        .flat_map(|p| p.chars())
        .filter(|c| !c.is_whitespace())
    {
        n_visible += 1;
        if c == '\u{fffd}' || ('\u{e000}'..='\u{f8ff}').contains(&c) || c.is_control() {
            n_junk += 1;
        } else if c.is_alphabetic() {
            n_letters += 1;
            if ('\u{c0}'..='\u{ff}').contains(&c) {
                n_latin1_letters += 1;
            }
        }
    }
    let share = |n: usize, of: usize| if of == 0 { 0.0 } else { n as f64 / of as f64 };
    let junk_share = share(n_junk, n_visible);
    if junk_share > 0.2 {
        return Some(format!(
            "{:.0} % of its characters have no Unicode meaning",
            junk_share * 100.0
        ));
    }
    let latin1_share = share(n_latin1_letters, n_letters);
    if latin1_share > 0.3 {
        return Some(format!(
            "{:.0} % of its letters are accented Latin letters: a legacy 8-bit encoding read wrongly",
            latin1_share * 100.0
        ));
    }
    None
}
