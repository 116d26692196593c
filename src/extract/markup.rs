//! Word (DOCX), OpenDocument text (ODT), EPUB and HTML read into sections: a section is the text under one heading, and
//! its title is the heading's path ("Installing › From a CD"), which a citation names in place
//! of a page. Run inside the extraction worker, like PDFs: archives are unpacked within fixed
//! limits, so a zip bomb or a broken archive costs one file.

use std::cell::RefCell;
use std::io::{Read, Seek};

use html5ever::tendril::{SliceExt, StrTendril};
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{
    BufferQueue, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};
use quick_xml::events::Event;

/// The most bytes one archive member may unpack to: a book's chapter is well under 1 MiB.
pub const MAX_MEMBER_BYTES: u64 = 32 << 20;
/// The most bytes all members of one archive may unpack to, together.
pub const MAX_UNPACKED_BYTES: u64 = 64 << 20;
/// The most members an archive may list (an EPUB of 2,000 pages has a few hundred).
pub const MAX_MEMBERS: usize = 20_000;
/// Separates the headings of a section's title.
pub const TITLE_SEPARATOR: &str = " › ";

/// The text under one heading.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Section {
    /// The headings above the text, outermost first, joined by [`TITLE_SEPARATOR`]; empty for
    /// text before the first heading of a document without a title.
    pub title: String,
    pub text: String,
}

/// Why a Word, EPUB or HTML file could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkupFailure(pub String);

type Result<T> = std::result::Result<T, MarkupFailure>;

fn fail(reason: impl Into<String>) -> MarkupFailure {
    MarkupFailure(reason.into())
}

// ---- HTML ---------------------------------------------------------------------------------

/// Tags after which text goes on a new line.
const BLOCK_TAGS: &[&str] = &[
    "p",
    "div",
    "br",
    "li",
    "tr",
    "pre",
    "blockquote",
    "section",
    "article",
    "table",
    "ul",
    "ol",
    "dl",
    "dt",
    "dd",
    "hr",
    "header",
    "footer",
    "main",
    "nav",
    "aside",
    "figure",
    "figcaption",
    "caption",
    "address",
    "form",
    "fieldset",
    "legend",
    "details",
    "summary",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
];
/// Tags whose content is never text to read.
const SKIPPED_TAGS: &[&str] = &[
    "head", "script", "style", "noscript", "template", "svg", "math",
];

#[derive(Default)]
struct HtmlState {
    /// The document's `<title>`, the title of text before any heading.
    title: String,
    in_title: bool,
    /// Depth inside tags whose content is skipped.
    skipping: usize,
    /// Depth inside `<pre>`: whitespace kept.
    in_pre: usize,
    /// The open headings: (level, text).
    headings: Vec<(u8, String)>,
    /// The heading being read, with its level.
    heading: Option<(u8, String)>,
    text: String,
    sections: Vec<Section>,
}

impl HtmlState {
    fn section_title(&self) -> String {
        if self.headings.is_empty() {
            return self.title.trim().to_owned();
        }
        self.headings
            .iter()
            .map(|(_, t)| t.as_str())
            .collect::<Vec<_>>()
            .join(TITLE_SEPARATOR)
    }

    fn flush(&mut self) {
        let text = std::mem::take(&mut self.text);
        if !text.trim().is_empty() {
            self.sections.push(Section {
                title: self.section_title(),
                text,
            });
        }
    }

    fn push_text(&mut self, s: &str) {
        // The title lives in the skipped <head>.
        if self.in_title {
            self.title.push_str(s);
            return;
        }
        if self.skipping > 0 {
            return;
        }
        let folded;
        let s = if self.in_pre > 0 {
            s
        } else {
            folded = s.replace(['\n', '\r', '\t'], " ");
            &folded
        };
        if let Some((_, heading)) = &mut self.heading {
            heading.push_str(s);
        }
        self.text.push_str(s);
    }

    fn newline(&mut self) {
        if self.skipping == 0 && !self.text.ends_with('\n') && !self.text.is_empty() {
            self.text.push('\n');
        }
    }
}

struct HtmlSink(RefCell<HtmlState>);

fn heading_level(name: &str) -> Option<u8> {
    match name {
        "h1" => Some(1),
        "h2" => Some(2),
        "h3" => Some(3),
        "h4" => Some(4),
        "h5" => Some(5),
        "h6" => Some(6),
        _ => None,
    }
}

impl TokenSink for HtmlSink {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        let mut state = self.0.borrow_mut();
        match token {
            Token::CharacterTokens(text) => state.push_text(&text),
            Token::TagToken(tag) => {
                let name: &str = &tag.name;
                let start = tag.kind == TagKind::StartTag;
                if SKIPPED_TAGS.contains(&name) {
                    if start && !tag.self_closing {
                        state.skipping += 1;
                    } else if !start {
                        state.skipping = state.skipping.saturating_sub(1);
                    }
                    // Script and style hold text that looks like markup: read it as raw text.
                    return match (start, name) {
                        (true, "script") => TokenSinkResult::RawData(RawKind::ScriptData),
                        (true, "style" | "noscript") => TokenSinkResult::RawData(RawKind::Rawtext),
                        _ => TokenSinkResult::Continue,
                    };
                }
                if name == "title" {
                    state.in_title = start;
                    return if start {
                        TokenSinkResult::RawData(RawKind::Rcdata)
                    } else {
                        TokenSinkResult::Continue
                    };
                }
                if state.skipping > 0 {
                    return TokenSinkResult::Continue;
                }
                if let Some(level) = heading_level(name) {
                    if start {
                        state.flush();
                        state.heading = Some((level, String::new()));
                    } else if let Some((level, text)) = state.heading.take() {
                        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
                        state.headings.retain(|(l, _)| *l < level);
                        if !text.is_empty() {
                            state.headings.push((level, text));
                        }
                    }
                }
                match name {
                    "pre" if start => state.in_pre += 1,
                    "pre" => state.in_pre = state.in_pre.saturating_sub(1),
                    "td" | "th" if start => state.push_text(" "),
                    "img" if start => {
                        // An image's text alternative is what a reader of the page hears.
                        if let Some(alt) = tag.attrs.iter().find(|a| &*a.name.local == "alt") {
                            let alt = alt.value.trim().to_owned();
                            if !alt.is_empty() {
                                state.push_text(&format!(" {alt} "));
                            }
                        }
                    }
                    _ => {}
                }
                if BLOCK_TAGS.contains(&name) {
                    state.newline();
                }
            }
            _ => {}
        }
        TokenSinkResult::Continue
    }
}

/// An HTML (or XHTML) page's sections. Text before the first heading is titled with the
/// page's `<title>`.
pub fn html_sections(html: &str) -> Vec<Section> {
    let sink = HtmlSink(RefCell::new(HtmlState::default()));
    let tokenizer = Tokenizer::new(sink, TokenizerOpts::default());
    let input = BufferQueue::default();
    input.push_back(StrTendril::from(html.to_tendril()));
    let _ = tokenizer.feed(&input);
    tokenizer.end();
    let mut state = tokenizer.sink.0.into_inner();
    state.flush();
    state.sections
}

/// HTML bytes as text: UTF-8, or Latin-1 when the bytes are not UTF-8 (old pages that say
/// so in a `<meta>` Lectern does not read); a byte-order mark is dropped.
pub fn decode_html(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    }
}

// ---- archives -----------------------------------------------------------------------------

/// A zip archive read within the limits above.
struct Archive<R: Read + Seek> {
    zip: zip::ZipArchive<R>,
    unpacked: u64,
}

impl<R: Read + Seek> Archive<R> {
    fn open(reader: R) -> Result<Self> {
        let zip = zip::ZipArchive::new(reader).map_err(|e| fail(format!("broken zip: {e}")))?;
        if zip.len() > MAX_MEMBERS {
            return Err(fail(format!(
                "the archive lists {} members, over the limit of {MAX_MEMBERS}",
                zip.len()
            )));
        }
        Ok(Self { zip, unpacked: 0 })
    }

    /// One member's bytes, `None` when there is no such member. Sizes are counted as the
    /// bytes come out, not as the archive declares them (a zip bomb lies).
    fn read(&mut self, name: &str) -> Result<Option<Vec<u8>>> {
        let mut member = match self.zip.by_name(name) {
            Ok(m) => m,
            Err(zip::result::ZipError::FileNotFound) => return Ok(None),
            Err(e) => return Err(fail(format!("{name}: {e}"))),
        };
        let budget = MAX_MEMBER_BYTES.min(MAX_UNPACKED_BYTES.saturating_sub(self.unpacked));
        let mut bytes = Vec::new();
        (&mut member)
            .take(budget + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| fail(format!("{name}: {e}")))?;
        let n = bytes.len() as u64;
        if n > budget {
            return Err(fail(format!(
                "{name} unpacks to more than {} MiB (a zip bomb?)",
                budget >> 20
            )));
        }
        self.unpacked += n;
        Ok(Some(bytes))
    }

    fn read_required(&mut self, name: &str) -> Result<Vec<u8>> {
        self.read(name)?
            .ok_or_else(|| fail(format!("{name} is missing")))
    }
}

fn xml_reader(bytes: &[u8]) -> quick_xml::Reader<&[u8]> {
    let mut reader = quick_xml::Reader::from_reader(bytes);
    reader.config_mut().trim_text(false);
    reader
}

fn attr(e: &quick_xml::events::BytesStart<'_>, local: &str) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == local)
        .and_then(|a| {
            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .ok()
                .map(|v| v.into_owned())
        })
}

/// An entity or character reference as text: quick-xml hands them over apart from the text
/// around them. Others (a DTD's own entities) are dropped.
fn push_reference(text: &mut String, reference: &quick_xml::events::BytesRef<'_>) {
    let name: &str = reference.as_ref();
    if let Some(c) = quick_xml::escape::resolve_predefined_entity(name) {
        text.push_str(c);
    } else if let Ok(Some(c)) = reference.resolve_char_ref() {
        text.push(c);
    }
}

// ---- DOCX ---------------------------------------------------------------------------------

/// Heading levels of a Word document's paragraph styles, by style id: "heading N" (Word's
/// built-in names, whatever the id is in a translated Word) and "Title".
fn docx_heading_styles(styles: &[u8]) -> Result<std::collections::HashMap<String, u8>> {
    let mut levels = std::collections::HashMap::new();
    let mut reader = xml_reader(styles);
    let mut style_id: Option<String> = None;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) if e.local_name().as_ref() == "style" => {
                style_id = attr(&e, "styleId");
            }
            Ok(Event::Empty(e) | Event::Start(e)) if e.local_name().as_ref() == "name" => {
                if let (Some(id), Some(name)) = (&style_id, attr(&e, "val")) {
                    let name = name.to_ascii_lowercase();
                    let level = if name == "title" {
                        Some(1)
                    } else {
                        name.strip_prefix("heading ")
                            .and_then(|n| n.trim().parse::<u8>().ok())
                            .map(|n| n.clamp(1, 9))
                    };
                    if let Some(level) = level {
                        levels.insert(id.clone(), level);
                    }
                }
            }
            Ok(Event::End(e)) if e.local_name().as_ref() == "style" => style_id = None,
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => return Err(fail(format!("word/styles.xml: {e}"))),
        }
    }
    Ok(levels)
}

/// A Word document's sections, split at its heading paragraphs.
pub fn docx_sections(reader: impl Read + Seek) -> Result<Vec<Section>> {
    let mut archive = Archive::open(reader)?;
    let document = archive.read_required("word/document.xml")?;
    let styles = match archive.read("word/styles.xml")? {
        Some(bytes) => docx_heading_styles(&bytes)?,
        None => Default::default(),
    };
    let mut state = HtmlState::default();
    let mut reader = xml_reader(&document);
    let mut paragraph = String::new();
    let mut level: Option<u8> = None;
    let mut in_text = false;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => match e.local_name().as_ref() {
                "p" => {
                    paragraph.clear();
                    level = None;
                }
                "t" => in_text = true,
                _ => {}
            },
            Ok(Event::Empty(e)) => match e.local_name().as_ref() {
                "pStyle" => level = attr(&e, "val").and_then(|id| styles.get(&id).copied()),
                "outlineLvl" => {
                    level = level.or_else(|| {
                        attr(&e, "val")
                            .and_then(|v| v.parse::<u8>().ok())
                            .filter(|&l| l < 9)
                            .map(|l| l + 1)
                    });
                }
                "tab" => paragraph.push('\t'),
                "br" | "cr" => paragraph.push('\n'),
                _ => {}
            },
            Ok(Event::Text(t)) if in_text => {
                paragraph.push_str(&t.xml10_content());
            }
            Ok(Event::GeneralRef(r)) if in_text => push_reference(&mut paragraph, &r),
            Ok(Event::End(e)) => match e.local_name().as_ref() {
                "t" => in_text = false,
                "p" => {
                    end_paragraph(&mut state, &paragraph, level);
                    paragraph.clear();
                    level = None;
                }
                _ => {}
            },
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => return Err(fail(format!("word/document.xml: {e}"))),
        }
    }
    state.flush();
    Ok(state.sections)
}

/// A finished paragraph of a Word or OpenDocument file: a heading (with its level) starts a
/// section, other text goes into the current one.
fn end_paragraph(state: &mut HtmlState, paragraph: &str, level: Option<u8>) {
    let text = paragraph.trim();
    if let Some(level) = level.filter(|_| !text.is_empty()) {
        state.flush();
        let heading = text.split_whitespace().collect::<Vec<_>>().join(" ");
        state.headings.retain(|(l, _)| *l < level);
        state.headings.push((level, heading));
    }
    state.text.push_str(text);
    state.text.push('\n');
}

// ---- ODT ----------------------------------------------------------------------------------

/// An OpenDocument text's sections (LibreOffice's .odt), split at its headings (`text:h` with
/// their outline level). Notes and comments are left out: they interrupt a paragraph's text.
pub fn odt_sections(reader: impl Read + Seek) -> Result<Vec<Section>> {
    let mut archive = Archive::open(reader)?;
    let content = archive.read_required("content.xml")?;
    let mut state = HtmlState::default();
    let mut xml = xml_reader(&content);
    let mut paragraph = String::new();
    let mut in_paragraph = false;
    let mut level: Option<u8> = None;
    let mut skipping = 0usize;
    loop {
        match xml.read_event() {
            Ok(Event::Start(e)) => match e.local_name().as_ref() {
                "note" | "annotation" => skipping += 1,
                "h" if !in_paragraph => {
                    in_paragraph = true;
                    paragraph.clear();
                    level = Some(
                        attr(&e, "outline-level")
                            .and_then(|l| l.parse::<u8>().ok())
                            .map_or(1, |l| l.clamp(1, 9)),
                    );
                }
                "p" if !in_paragraph => {
                    in_paragraph = true;
                    paragraph.clear();
                    level = None;
                }
                _ => {}
            },
            Ok(Event::Empty(e)) if in_paragraph && skipping == 0 => match e.local_name().as_ref() {
                "s" => {
                    let n = attr(&e, "c")
                        .and_then(|c| c.parse::<usize>().ok())
                        .unwrap_or(1);
                    paragraph.push_str(&" ".repeat(n.min(64)));
                }
                "tab" => paragraph.push('\t'),
                "line-break" => paragraph.push('\n'),
                _ => {}
            },
            Ok(Event::Text(t)) if in_paragraph && skipping == 0 => {
                paragraph.push_str(&t.xml10_content());
            }
            Ok(Event::GeneralRef(r)) if in_paragraph && skipping == 0 => {
                push_reference(&mut paragraph, &r);
            }
            Ok(Event::End(e)) => match e.local_name().as_ref() {
                "note" | "annotation" => skipping = skipping.saturating_sub(1),
                "h" | "p" if in_paragraph && skipping == 0 => {
                    end_paragraph(&mut state, &paragraph, level);
                    in_paragraph = false;
                    level = None;
                }
                _ => {}
            },
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => return Err(fail(format!("content.xml: {e}"))),
        }
    }
    state.flush();
    Ok(state.sections)
}

// ---- EPUB ---------------------------------------------------------------------------------

/// Resolves `href` (percent-encoded, relative to the folder of `base`) to a member name.
fn resolve(base: &str, href: &str) -> String {
    let href = href.split('#').next().unwrap_or("");
    let mut decoded = Vec::with_capacity(href.len());
    let bytes = href.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&href[i + 1..i + 3], 16)
        {
            decoded.push(b);
            i += 3;
            continue;
        }
        decoded.push(bytes[i]);
        i += 1;
    }
    let href = String::from_utf8_lossy(&decoded);
    let mut parts: Vec<&str> = base.rsplit_once('/').map_or(vec![], |(dir, _)| {
        dir.split('/').filter(|p| !p.is_empty()).collect()
    });
    for part in href.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

/// An EPUB's sections, chapter by chapter in reading order (the spine).
pub fn epub_sections(reader: impl Read + Seek) -> Result<Vec<Section>> {
    let mut archive = Archive::open(reader)?;
    let container = archive.read_required("META-INF/container.xml")?;
    let mut opf_path = None;
    let mut xml = xml_reader(&container);
    loop {
        match xml.read_event() {
            Ok(Event::Empty(e) | Event::Start(e)) if e.local_name().as_ref() == "rootfile" => {
                opf_path = attr(&e, "full-path");
                break;
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => return Err(fail(format!("META-INF/container.xml: {e}"))),
        }
    }
    let opf_path = opf_path.ok_or_else(|| fail("META-INF/container.xml names no package"))?;
    let opf = archive.read_required(&opf_path)?;
    let mut manifest = std::collections::HashMap::new();
    let mut spine = Vec::new();
    let mut xml = xml_reader(&opf);
    loop {
        match xml.read_event() {
            Ok(Event::Empty(e) | Event::Start(e)) => match e.local_name().as_ref() {
                "item" => {
                    if let (Some(id), Some(href)) = (attr(&e, "id"), attr(&e, "href")) {
                        manifest.insert(id, href);
                    }
                }
                "itemref" => {
                    if attr(&e, "linear").as_deref() != Some("no")
                        && let Some(id) = attr(&e, "idref")
                    {
                        spine.push(id);
                    }
                }
                _ => {}
            },
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => return Err(fail(format!("{opf_path}: {e}"))),
        }
    }
    if spine.is_empty() {
        return Err(fail(format!("{opf_path} lists no chapters")));
    }
    let mut sections = Vec::new();
    // Spines list one file many times when their items name places in it (`ch1.xhtml#s2`,
    // seen in Debian's Live Systems Manual): the file is read once, where it first comes.
    let mut read = std::collections::HashSet::new();
    for id in spine {
        let Some(href) = manifest.get(&id) else {
            continue;
        };
        let member = resolve(&opf_path, href);
        if !read.insert(member.clone()) {
            continue;
        }
        let Some(bytes) = archive.read(&member)? else {
            continue;
        };
        sections.extend(html_sections(&decode_html(&bytes)));
    }
    Ok(sections)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_headings_make_sections_titled_by_their_path() {
        let html = "<html><head><title>Guide</title><style>p{color:red}</style>\
            <script>if (a < b) { document.write('<h1>no</h1>') }</script></head><body>\
            <p>Intro &amp; welcome.</p>\
            <h1>Lights</h1><p>Lamps\nburn <b>oil</b>.</p>\
            <h2>Lenses</h2><p>Fresnel<br>lenses.</p><img alt='A lens' src='x.png'>\
            <h1>Keepers</h1><pre>  log\n  book</pre></body></html>";
        let sections = html_sections(html);
        let titles: Vec<&str> = sections.iter().map(|s| s.title.as_str()).collect();
        assert_eq!(titles, ["Guide", "Lights", "Lights › Lenses", "Keepers"]);
        assert_eq!(sections[0].text.trim(), "Intro & welcome.");
        assert_eq!(sections[1].text, "Lights\nLamps burn oil.\n");
        assert!(sections[2].text.contains("Fresnel\nlenses."));
        assert!(sections[2].text.contains("A lens"));
        assert!(sections[3].text.contains("  log\n  book"));
        assert!(
            !sections
                .iter()
                .any(|s| s.text.contains("no") && s.text.contains("write"))
        );
    }

    #[test]
    fn epub_links_resolve_against_the_package_folder() {
        assert_eq!(
            resolve("OEBPS/content.opf", "text/ch%201.xhtml#p3"),
            "OEBPS/text/ch 1.xhtml"
        );
        assert_eq!(resolve("content.opf", "../x.html"), "x.html");
        assert_eq!(resolve("a/b/c.opf", "../d.html"), "a/d.html");
    }
}
