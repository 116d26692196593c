//! OCR of the pages a PDF's text layer leaves empty or unreadable, run inside the extraction
//! worker: Poppler's `pdftocairo` renders a page, Tesseract reads it. Both are Debian's
//! programs, started per page, so a crash or a runaway page costs that page within the worker's
//! limits, and nothing is linked into Lectern.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Render resolution: Tesseract is trained on text of about 20–30 px x-height, which 300 dpi
/// gives for body text; CER 0.96 % on the Linn scan (docs/BENCHMARKS.md).
pub const RENDER_DPI: u32 = 300;
/// The mean word confidence (0–100, weighted by letters) under which a page's OCR text is
/// taken for junk. The shared scans read at 90–95; Russian read as English at 28–72.
pub const MIN_CONFIDENCE: f32 = 75.0;
/// OCR stops after this many pages in a row came back as junk: a document in another
/// language, or photos, would otherwise cost seconds a page for nothing.
pub const GIVE_UP_AFTER: usize = 3;
/// The default OCR language, Tesseract's code for English.
pub const DEFAULT_LANGUAGE: &str = "eng";

/// A page read by OCR.
#[derive(Debug, Clone, PartialEq)]
pub struct OcrText {
    pub text: String,
    /// Mean word confidence, 0–100, weighted by the words' letters.
    pub confidence: f32,
}

/// Why OCR could not run at all (as opposed to a page it read badly).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum OcrUnavailable {
    /// A program is missing: the message names the Debian package.
    NotInstalled(String),
    /// The language's data is not installed.
    NoLanguage(String),
}

impl std::fmt::Display for OcrUnavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotInstalled(what) => write!(f, "OCR is not installed ({what})"),
            Self::NoLanguage(lang) => write!(
                f,
                "the OCR language \"{lang}\" is not installed (Debian: tesseract-ocr-{lang})"
            ),
        }
    }
}

/// The OCR languages Tesseract has data for (Tesseract's codes: `eng`, `deu`, ...), without
/// its script-detection data; empty when Tesseract is not installed.
pub fn installed_languages() -> Vec<String> {
    let Ok(output) = Command::new("tesseract")
        .arg("--list-langs")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
    else {
        return Vec::new();
    };
    let mut langs: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .skip(1) // "List of available languages in ...":
        .map(str::trim)
        .filter(|l| !l.is_empty() && *l != "osd" && *l != "equ")
        .map(str::to_owned)
        .collect();
    langs.sort();
    langs
}

/// Whether `language` can be used: one installed code or several joined by `+`.
pub fn check_language(language: &str, installed: &[String]) -> Result<(), OcrUnavailable> {
    if installed.is_empty() {
        return Err(OcrUnavailable::NotInstalled(
            "Debian: tesseract-ocr and poppler-utils".into(),
        ));
    }
    match language
        .split('+')
        .find(|code| !installed.iter().any(|l| l == code))
    {
        Some(missing) => Err(OcrUnavailable::NoLanguage(missing.to_owned())),
        None => Ok(()),
    }
}

/// What OCR made of one page.
#[derive(Debug, Clone, PartialEq)]
pub enum PageRead {
    Read(OcrText),
    /// Nothing, or text under [`MIN_CONFIDENCE`].
    Unreadable,
    /// Not tried: OCR gave up on the document first.
    Skipped,
}

/// OCRs the given pages (1-based) of a PDF on `threads` threads, reporting each page done.
/// After [`GIVE_UP_AFTER`] unreadable pages before any readable one, the rest are skipped.
pub fn ocr_pages(
    pdf: &Path,
    pages: &[u32],
    password: Option<&str>,
    language: &str,
    threads: usize,
    on_page_done: &(dyn Fn(usize) + Sync),
) -> Result<Vec<PageRead>, OcrUnavailable> {
    check_language(language, &installed_languages())?;
    let next = AtomicUsize::new(0);
    let n_done = AtomicUsize::new(0);
    let n_junk_before_good = AtomicUsize::new(0);
    let any_good = AtomicBool::new(false);
    let results: Mutex<Vec<PageRead>> = Mutex::new(vec![PageRead::Skipped; pages.len()]);
    let unavailable: Mutex<Option<OcrUnavailable>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, pages.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let given_up = !any_good.load(Ordering::Relaxed)
                        && n_junk_before_good.load(Ordering::Relaxed) >= GIVE_UP_AFTER;
                    if given_up || lock(&unavailable).is_some() {
                        return;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&page) = pages.get(i) else { return };
                    match ocr_page(pdf, page, password, language) {
                        Ok(Some(read)) if read.confidence >= MIN_CONFIDENCE => {
                            any_good.store(true, Ordering::Relaxed);
                            lock(&results)[i] = PageRead::Read(read);
                        }
                        Ok(_) => {
                            lock(&results)[i] = PageRead::Unreadable;
                            n_junk_before_good.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => {
                            *lock(&unavailable) = Some(e);
                            return;
                        }
                    }
                    on_page_done(n_done.fetch_add(1, Ordering::Relaxed) + 1);
                }
            });
        }
    });
    if let Some(e) = unavailable.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    Ok(results.into_inner().unwrap_or_else(|p| p.into_inner()))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Renders one page and reads it. `Ok(None)` when the page could not be rendered or read
/// (the page keeps what its text layer had); an error only when a program is missing.
fn ocr_page(
    pdf: &Path,
    page: u32,
    password: Option<&str>,
    language: &str,
) -> Result<Option<OcrText>, OcrUnavailable> {
    let mut render = Command::new("pdftocairo");
    render
        .args(["-png", "-gray", "-singlefile", "-r"])
        .arg(RENDER_DPI.to_string())
        .arg("-f")
        .arg(page.to_string())
        .arg("-l")
        .arg(page.to_string());
    if let Some(password) = password {
        render.arg("-upw").arg(password);
    }
    let image = match render
        .arg(pdf)
        .arg("-")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
    {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(OcrUnavailable::NotInstalled(
                "pdftocairo; Debian: poppler-utils".into(),
            ));
        }
        Err(_) => return Ok(None),
        Ok(out) if !out.status.success() || out.stdout.is_empty() => return Ok(None),
        Ok(out) => out.stdout,
    };
    let child = Command::new("tesseract")
        .args(["stdin", "stdout", "-l", language, "tsv"])
        // Tesseract's own threads fight the page-level threads for two cores: one thread each
        // read a page in 2.8 s, the default took 12.9–15.8 s (docs/BENCHMARKS.md).
        .env("OMP_THREAD_LIMIT", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let mut child = match child {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(OcrUnavailable::NotInstalled(
                "tesseract; Debian: tesseract-ocr".into(),
            ));
        }
        Err(_) => return Ok(None),
        Ok(child) => child,
    };
    if let Some(mut stdin) = child.stdin.take() {
        // Tesseract reads the whole image before it writes, so writing first cannot block
        // on a full stdout pipe; a broken pipe means it failed, which its status says.
        let _ = stdin.write_all(&image);
    }
    match child.wait_with_output() {
        Ok(out) if out.status.success() => Ok(from_tsv(&String::from_utf8_lossy(&out.stdout))),
        _ => Ok(None),
    }
}

/// Tesseract's TSV output made into text (lines as it found them, a blank line between
/// paragraphs) and its mean word confidence. `None` when it found no words.
pub fn from_tsv(tsv: &str) -> Option<OcrText> {
    let mut text = String::new();
    let mut last_line: Option<(&str, &str, &str)> = None;
    let mut weighted = 0.0f64;
    let mut n_letters = 0usize;
    for row in tsv.lines().skip(1) {
        let cols: Vec<&str> = row.split('\t').collect();
        // level page block par line word left top width height conf text
        if cols.len() < 12 || cols[0] != "5" {
            continue;
        }
        let word = cols[11].trim();
        let Ok(conf) = cols[10].parse::<f64>() else {
            continue;
        };
        if word.is_empty() || conf < 0.0 {
            continue;
        }
        let line = (cols[2], cols[3], cols[4]);
        match last_line {
            Some(last) if last == line => text.push(' '),
            Some((block, par, _)) if (block, par) == (line.0, line.1) => text.push('\n'),
            Some(_) => text.push_str("\n\n"),
            None => {}
        }
        last_line = Some(line);
        text.push_str(word);
        let letters = word.chars().filter(|c| c.is_alphanumeric()).count().max(1);
        weighted += conf * letters as f64;
        n_letters += letters;
    }
    (n_letters > 0).then(|| OcrText {
        text,
        confidence: (weighted / n_letters as f64) as f32,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsv_words_become_lines_and_paragraphs_with_a_letter_weighted_confidence() {
        let tsv = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n\
            1\t1\t0\t0\t0\t0\t0\t0\t100\t100\t-1\t\n\
            5\t1\t1\t1\t1\t1\t0\t0\t1\t1\t90\tLighthouse\n\
            5\t1\t1\t1\t1\t2\t0\t0\t1\t1\t90\tkeepers\n\
            5\t1\t1\t1\t2\t1\t0\t0\t1\t1\t60\tlit\n\
            5\t1\t2\t1\t1\t1\t0\t0\t1\t1\t95\tlamps.\n";
        let read = from_tsv(tsv).expect("words");
        assert_eq!(read.text, "Lighthouse keepers\nlit\n\nlamps.");
        let want = (90.0 * 17.0 + 60.0 * 3.0 + 95.0 * 5.0) / 25.0;
        assert!((read.confidence - want).abs() < 1e-3, "{}", read.confidence);
        assert_eq!(
            from_tsv("level\n1\t1\t0\t0\t0\t0\t0\t0\t1\t1\t-1\t\n"),
            None
        );
    }

    #[test]
    fn a_language_must_be_installed_and_several_join_with_plus() {
        let installed = vec!["deu".to_owned(), "eng".to_owned()];
        assert_eq!(check_language("eng", &installed), Ok(()));
        assert_eq!(check_language("eng+deu", &installed), Ok(()));
        assert_eq!(
            check_language("eng+fra", &installed),
            Err(OcrUnavailable::NoLanguage("fra".into()))
        );
        assert!(matches!(
            check_language("eng", &[]),
            Err(OcrUnavailable::NotInstalled(_))
        ));
    }
}
