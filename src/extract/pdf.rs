//! In-process PDF text extraction with pdf-extract, page by page. Only ever run inside the
//! extraction worker process (see `isolate`): pdf-extract panics on purpose on odd files and
//! can abort the whole process.

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;

use lopdf::{Dictionary, Document, LoadOptions, Object, ObjectId};
use pdf_extract::{MediaBox, OutputDev, OutputError, PlainTextOutput, Transform};

/// Why a PDF could not be read, before the parent process attaches the file's path.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", content = "reason", rename_all = "snake_case")]
pub enum PdfFailure {
    PasswordRequired,
    WrongPassword,
    Malformed(String),
    /// A Word, EPUB or HTML file that is not what it says (markup.rs).
    MalformedDocument(String),
    ParserFailed(String),
}

/// A PDF's pages as its text layer has them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PdfPages {
    pub texts: Vec<String>,
    /// Whether each page draws an image: only such a page can hold text that OCR would find.
    pub has_image: Vec<bool>,
}

/// Extracts the text of every page; a page the parser cannot read comes back empty rather
/// than losing the pages after it.
pub fn extract_pages(bytes: &[u8], password: Option<&str>) -> Result<PdfPages, PdfFailure> {
    if !bytes.starts_with(b"%PDF") && !bytes.windows(5).take(1024).any(|w| w == b"%PDF-") {
        return Err(PdfFailure::Malformed("no %PDF header".into()));
    }
    let options = LoadOptions {
        password: password.map(str::to_owned),
        ..LoadOptions::default()
    };
    let mut doc = match catch_unwind(|| Document::load_mem_with_options(bytes, options)) {
        Ok(Ok(doc)) => doc,
        Ok(Err(lopdf::Error::InvalidPassword)) => return Err(password_failure(password)),
        Ok(Err(e)) => return Err(PdfFailure::Malformed(e.to_string())),
        Err(panic) => return Err(PdfFailure::Malformed(panic_message(&*panic))),
    };
    if doc.is_encrypted() {
        // lopdf opens files whose user password is empty by itself; anything still
        // encrypted needs the user's password.
        match doc.decrypt(password.unwrap_or("")) {
            Ok(()) => {}
            Err(
                lopdf::Error::InvalidPassword
                | lopdf::Error::Decryption(lopdf::encryption::DecryptionError::IncorrectPassword),
            ) => return Err(password_failure(password)),
            Err(e) => return Err(PdfFailure::ParserFailed(format!("cannot decrypt: {e}"))),
        }
    }
    let page_ids = doc.get_pages();
    if page_ids.is_empty() {
        return Err(PdfFailure::Malformed("the document has no pages".into()));
    }
    let has_image = page_ids
        .values()
        .map(|&id| catch_unwind(AssertUnwindSafe(|| page_has_image(&doc, id))).unwrap_or(false))
        .collect();
    let texts = page_texts(&doc, page_ids.keys().copied().collect())?;
    Ok(PdfPages { texts, has_image })
}

fn page_texts(doc: &Document, page_numbers: Vec<u32>) -> Result<Vec<String>, PdfFailure> {
    if let Some(pages) = all_pages_in_one_pass(doc, page_numbers.len()) {
        return Ok(pages);
    }
    let mut pages = Vec::with_capacity(page_numbers.len());
    let mut first_failure = None;
    let mut n_failed = 0;
    for page_num in page_numbers {
        match catch_unwind(AssertUnwindSafe(|| page_text(doc, page_num))) {
            Ok(Ok(text)) => pages.push(text),
            Ok(Err(reason)) | Err(reason) => {
                let reason = match reason.downcast::<String>() {
                    Ok(s) => *s,
                    Err(panic) => panic_message(&*panic),
                };
                first_failure.get_or_insert(format!("page {page_num}: {reason}"));
                n_failed += 1;
                pages.push(String::new());
            }
        }
    }
    if n_failed == pages.len() {
        return Err(PdfFailure::ParserFailed(first_failure.unwrap_or_default()));
    }
    Ok(pages)
}

/// Whether a page draws an image XObject, directly or inside a form (scanners wrap pages in
/// forms). Inline images (`BI ... EI` in the content) are not looked for: scans do not use them.
fn page_has_image(doc: &Document, page_id: ObjectId) -> bool {
    let Ok((own, inherited)) = doc.get_page_resources(page_id) else {
        return false;
    };
    own.into_iter()
        .chain(
            inherited
                .iter()
                .filter_map(|&id| doc.get_dictionary(id).ok()),
        )
        .any(|resources| resources_have_image(doc, resources, 0))
}

fn resources_have_image(doc: &Document, resources: &Dictionary, depth: usize) -> bool {
    let Ok(xobjects) = doc.get_dict_in_dict(resources, b"XObject") else {
        return false;
    };
    xobjects.iter().any(|(_, object)| {
        let Ok(stream) = object
            .as_reference()
            .and_then(|id| doc.get_object(id))
            .and_then(Object::as_stream)
        else {
            return false;
        };
        match stream.dict.get(b"Subtype").and_then(Object::as_name) {
            Ok(b"Image") => true,
            Ok(b"Form") if depth < 3 => doc
                .get_dict_in_dict(&stream.dict, b"Resources")
                .is_ok_and(|inner| resources_have_image(doc, inner, depth + 1)),
            _ => false,
        }
    })
}

/// Every page's text from one pass of pdf-extract over the document. Its per-page entry point
/// walks the whole page tree for each page, which made a 20,000-page PDF take minutes; one
/// pass does not. `None` when anything fails: the caller then goes page by page, so that one
/// bad page costs only itself.
fn all_pages_in_one_pass(doc: &Document, n_pages: usize) -> Option<Vec<String>> {
    let buffer = Rc::new(RefCell::new(Vec::new()));
    let mut sink = SharedBuffer(Rc::clone(&buffer));
    let pages = catch_unwind(AssertUnwindSafe(|| {
        let mut plain = PlainTextOutput::new(&mut sink as &mut dyn std::io::Write);
        let mut splitter = PageSplitter {
            inner: &mut plain,
            buffer: &buffer,
            pages: Vec::with_capacity(n_pages),
        };
        pdf_extract::output_doc(doc, &mut splitter).ok()?;
        Some(splitter.pages)
    }))
    .ok()??;
    (pages.len() == n_pages).then_some(pages)
}

/// Where the plain-text output writes; the splitter takes each page's text out at its end.
struct SharedBuffer(Rc<RefCell<Vec<u8>>>);

impl std::io::Write for SharedBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// pdf-extract's plain-text layout, cut into one string per page.
struct PageSplitter<'a, 'w> {
    inner: &'a mut PlainTextOutput<&'w mut dyn std::io::Write>,
    buffer: &'a Rc<RefCell<Vec<u8>>>,
    pages: Vec<String>,
}

impl OutputDev for PageSplitter<'_, '_> {
    fn begin_page(
        &mut self,
        page_num: u32,
        media_box: &MediaBox,
        art_box: Option<(f64, f64, f64, f64)>,
    ) -> Result<(), OutputError> {
        self.buffer.borrow_mut().clear();
        self.inner.begin_page(page_num, media_box, art_box)
    }

    fn end_page(&mut self) -> Result<(), OutputError> {
        self.inner.end_page()?;
        let bytes = std::mem::take(&mut *self.buffer.borrow_mut());
        self.pages
            .push(String::from_utf8_lossy(&bytes).into_owned());
        Ok(())
    }

    fn output_character(
        &mut self,
        trm: &Transform,
        width: f64,
        spacing: f64,
        font_size: f64,
        char: &str,
    ) -> Result<(), OutputError> {
        self.inner
            .output_character(trm, width, spacing, font_size, char)
    }

    fn begin_word(&mut self) -> Result<(), OutputError> {
        self.inner.begin_word()
    }

    fn end_word(&mut self) -> Result<(), OutputError> {
        self.inner.end_word()
    }

    fn end_line(&mut self) -> Result<(), OutputError> {
        self.inner.end_line()
    }
}

fn page_text(doc: &Document, page_num: u32) -> Result<String, Box<dyn std::any::Any + Send>> {
    let mut text = String::new();
    let mut output = pdf_extract::PlainTextOutput::new(&mut text);
    pdf_extract::output_doc_page(doc, &mut output, page_num)
        .map_err(|e| Box::new(e.to_string()) as Box<dyn std::any::Any + Send>)?;
    Ok(text)
}

fn password_failure(password: Option<&str>) -> PdfFailure {
    match password {
        Some(p) if !p.is_empty() => PdfFailure::WrongPassword,
        _ => PdfFailure::PasswordRequired,
    }
}

pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_owned()
    }
}
