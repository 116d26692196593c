//! How the CLI presents answers, chats, feedback, prompt parts and models: the answer JSON
//! shape, streamed text, sources, and the download progress bar.

use std::io::Write;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use lectern::answer::Answer;
use lectern::library::{Chat, Message, PromptParts, RatedMessage, StoredPassage};
use lectern::models::{DownloadProgress, ModelEntry};
use lectern::prompt::PromptDefaults;
use serde::Serialize;

use super::{Out, place};

#[derive(Serialize)]
struct PassageJson<'a> {
    n: i64,
    document: &'a str,
    page: Option<i64>,
    last_page: Option<i64>,
    chunk_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    cited: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
    /// Drawn from a page read by OCR.
    ocr: bool,
    /// Its section's title (Word, EPUB, HTML), in place of pages.
    #[serde(skip_serializing_if = "Option::is_none")]
    section: Option<&'a str>,
}

impl<'a> PassageJson<'a> {
    fn new(p: &'a StoredPassage, cited: Option<bool>, text: bool) -> Self {
        Self {
            n: p.n,
            document: &p.document,
            page: p.first_page,
            last_page: p.last_page,
            chunk_id: p.chunk_id,
            cited,
            text: text.then_some(p.text.as_str()),
            ocr: p.ocr,
            section: p.section.as_deref(),
        }
    }
}

#[derive(Serialize)]
struct TimingsJson {
    retrieval_ms: f64,
    prompt_tokens: i64,
    reused_prompt_tokens: i64,
    answer_tokens: i64,
    prompt_ms: f64,
    first_token_ms: Option<f64>,
    tokens_per_s: f64,
}

#[derive(Serialize)]
struct AnswerJson<'a> {
    chat_id: lectern::ChatId,
    message_id: lectern::MessageId,
    question: &'a str,
    answer: &'a str,
    stopped: bool,
    finish: lectern::library::AnswerFinish,
    citations: Vec<PassageJson<'a>>,
    /// True when the model wrote no [n] and the markers were matched from its wording.
    citations_matched: bool,
    /// Sentences no passage supports.
    unsupported: &'a [String],
    /// True when the model wrote only markers and the answer is quoted from their passage.
    quoted: bool,
    sources: Vec<PassageJson<'a>>,
    timings: TimingsJson,
    model: &'a str,
}

fn answer_json<'a>(
    m: &'a Message,
    citations: Vec<&'a StoredPassage>,
    text: bool,
) -> AnswerJson<'a> {
    let t = &m.timings;
    AnswerJson {
        chat_id: m.chat_id,
        message_id: m.id,
        question: &m.question,
        answer: &m.answer,
        stopped: m.stopped(),
        finish: m.finish,
        citations: citations
            .into_iter()
            .map(|p| PassageJson::new(p, None, false))
            .collect(),
        citations_matched: m.citations_matched,
        unsupported: &m.unsupported,
        quoted: m.quoted,
        sources: m
            .passages
            .iter()
            .map(|p| PassageJson::new(p, Some(p.cited), text))
            .collect(),
        timings: TimingsJson {
            retrieval_ms: round1(t.retrieval_ms),
            prompt_tokens: t.prompt_tokens,
            reused_prompt_tokens: t.reused_tokens,
            answer_tokens: t.answer_tokens,
            prompt_ms: round1(t.prompt_ms),
            first_token_ms: t.first_token_ms.map(round1),
            tokens_per_s: round1(t.tokens_per_s),
        },
        model: &m.model,
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Prints download progress on stderr (nothing in JSON mode).
#[derive(Debug)]
pub struct DownloadBar {
    bar: Option<ProgressBar>,
}

impl DownloadBar {
    pub fn update(&self, p: DownloadProgress) {
        if let Some(bar) = &self.bar {
            if let Some(total) = p.total {
                bar.set_length(total);
            }
            bar.set_position(p.done);
        }
    }
}

impl Drop for DownloadBar {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Out {
    /// A piece of an answer as it streams (human output only).
    /// How far the model has read the prompt, as a line on a terminal's stderr that the
    /// answer's first text clears; nothing when stderr is not a terminal or in JSON.
    pub fn reading(&self, done: usize, total: usize) {
        use std::io::IsTerminal;
        if self.json || !std::io::stderr().is_terminal() {
            return;
        }
        let mut stderr = std::io::stderr().lock();
        if done >= total {
            let _ = write!(stderr, "\r\x1b[K");
        } else {
            let _ = write!(
                stderr,
                "\rreading the passages: {done} of {total} tokens ({}%)",
                done * 100 / total.max(1)
            );
        }
        let _ = stderr.flush();
    }

    pub fn answer_piece(&self, piece: &str) {
        if !self.json {
            super::write_piece(piece);
        }
    }

    /// The end of an answer: its sources (human), or the whole answer as one object (JSON).
    pub fn answer(&self, a: &Answer) {
        let m = &a.message;
        if self.json {
            let mut json =
                serde_json::to_value(answer_json(m, a.citations(), false)).unwrap_or_default();
            if let Some(object) = json.as_object_mut() {
                object.insert("search_query".into(), a.search_query.clone().into());
                object.insert("markers_moved".into(), a.markers_moved.into());
                object.insert("markers_dropped".into(), a.markers_dropped.into());
            }
            self.line(&json);
            return;
        }
        outln!();
        if m.stopped() {
            outln!("(stopped)");
        }
        if m.passages.is_empty() {
            outln!("\nNo passages were found in this collection.");
        } else {
            if m.citations_matched {
                outln!("\nWith citations matched from its wording:\n{}", m.answer);
            }
            if m.quoted {
                outln!(
                    "\nThe model only pointed to a passage; quoted from it:\n{}",
                    m.answer
                );
            }
            outln!("\nSources:");
            for p in &m.passages {
                outln!(
                    "  [{}] {}{}{}{}",
                    p.n,
                    p.document,
                    match place(p.first_page, p.last_page, p.section.as_deref()).as_str() {
                        "" => String::new(),
                        pg => format!(", {pg}"),
                    },
                    if p.ocr { ", read by OCR" } else { "" },
                    if p.cited { "  (cited)" } else { "" },
                );
            }
        }
        let t = &m.timings;
        eprintln!(
            "chat {} · answer {} · {} · first token {:.0} ms · {:.1} tokens/s",
            a.chat.id,
            m.id,
            m.model,
            t.first_token_ms.unwrap_or(0.0),
            t.tokens_per_s
        );
    }

    pub fn chat(&self, c: &Chat) {
        if self.json {
            self.line(&serde_json::json!({
                "id": c.id, "collection_id": c.collection_id, "title": c.title, "created_at": c.created_at
            }));
        } else {
            outln!("{:>5}  {}", c.id, c.title);
        }
    }

    pub fn history_message(&self, m: &Message) {
        if self.json {
            self.line(&answer_json(m, m.citations(), false));
        } else {
            outln!("#{} Q: {}", m.id, m.question);
            outln!(
                "A: {}{}",
                m.answer,
                if m.stopped() { " (stopped)" } else { "" }
            );
            for p in m.citations() {
                outln!(
                    "   [{}] {}, {}{}",
                    p.n,
                    p.document,
                    place(p.first_page, p.last_page, p.section.as_deref()),
                    if p.ocr { ", read by OCR" } else { "" }
                );
            }
            outln!();
        }
    }

    /// One rated answer, always as a JSON line: the export is for tools.
    pub fn rated(&self, r: &RatedMessage) {
        self.line(&serde_json::json!({
            "collection": r.collection,
            "rating": if r.feedback.rating > 0 { "up" } else { "down" },
            "comment": r.feedback.comment,
            "rated_at": r.feedback.created_at,
            "message": answer_json(&r.message, r.message.citations(), true),
        }));
    }

    pub fn prompt_parts(&self, parts: &PromptParts, defaults: &PromptDefaults) {
        let instruction = parts.instruction_in_use(defaults);
        let indicator = parts.output_indicator_in_use(defaults);
        if self.json {
            self.line(&serde_json::json!({
                "instruction": instruction,
                "instruction_is_default": parts.instruction.is_none(),
                "output_indicator": indicator,
                "output_indicator_is_default": parts.output_indicator.is_none(),
            }));
        } else {
            let tag = |d: bool| if d { " (default)" } else { "" };
            outln!(
                "instruction{}:\n  {instruction}",
                tag(parts.instruction.is_none())
            );
            outln!(
                "output indicator{}:\n  {indicator}",
                tag(parts.output_indicator.is_none())
            );
        }
    }

    pub fn model_entry(&self, e: &ModelEntry, selected: bool) {
        match (&e.info, self.json) {
            (Ok(i), true) => self.line(&serde_json::json!({
                "file": e.file_name,
                "path": e.path,
                "name": i.name,
                "architecture": i.architecture,
                "parameters": i.n_params,
                "quantization": i.quantization,
                "context_length": i.context_length,
                "chat_template": i.chat_template.is_some(),
                "bytes": i.file_size,
                "selected": selected,
            })),
            (Err(reason), true) => self.line(&serde_json::json!({
                "file": e.file_name, "path": e.path, "error": reason.to_string(), "selected": selected,
            })),
            (Ok(i), false) => outln!(
                "{} {}  {} · {} · {} params · {} · ctx {} · {}",
                if selected { "*" } else { " " },
                e.file_name,
                i.name,
                i.architecture,
                lectern::gguf::human_params(i.n_params),
                i.quantization,
                i.context_length.map_or("?".into(), |n| n.to_string()),
                if i.chat_template.is_some() {
                    "chat template"
                } else {
                    "no chat template (fallback prompt)"
                }
            ),
            (Err(reason), false) => outln!("  {}  unreadable: {reason}", e.file_name),
        }
    }

    pub fn download_progress(&self) -> DownloadBar {
        if self.json {
            return DownloadBar { bar: None };
        }
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(
            "{bytes}/{total_bytes} {wide_bar} {bytes_per_sec} eta {eta}",
        ) {
            bar.set_style(style);
        }
        DownloadBar { bar: Some(bar) }
    }
}
