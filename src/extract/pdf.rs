//! In-process PDF text extraction with pdf-extract, page by page. Only ever run inside the
//! extraction worker process (see `isolate`): pdf-extract panics on purpose on odd files and
//! can abort the whole process.

use std::panic::{AssertUnwindSafe, catch_unwind};

use lopdf::{Document, LoadOptions};

/// Why a PDF could not be read, before the parent process attaches the file's path.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", content = "reason", rename_all = "snake_case")]
pub enum PdfFailure {
    PasswordRequired,
    WrongPassword,
    Malformed(String),
    ParserFailed(String),
}

/// Extracts the text of every page; a page the parser cannot read comes back empty rather
/// than losing the pages after it.
pub fn extract_pages(bytes: &[u8], password: Option<&str>) -> Result<Vec<String>, PdfFailure> {
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
    let page_numbers: Vec<u32> = doc.get_pages().keys().copied().collect();
    if page_numbers.is_empty() {
        return Err(PdfFailure::Malformed("the document has no pages".into()));
    }
    let mut pages = Vec::with_capacity(page_numbers.len());
    let mut first_failure = None;
    let mut n_failed = 0;
    for page_num in page_numbers {
        match catch_unwind(AssertUnwindSafe(|| page_text(&doc, page_num))) {
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
