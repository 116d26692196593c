//! Text generation: the [`Generator`] seam and the types it speaks, its llama.cpp
//! implementation (`llama`), an OpenAI-compatible server as the model (`remote`), and [`LlmWorker`], the thread that owns a loaded model and streams
//! answers back over channels (`worker`).

mod llama;
pub(crate) mod remote;
mod repetition;
mod worker;

pub use llama::{EngineSettings, LlamaEngine, Utf8Stream, render_fallback};
pub use remote::{DEFAULT_ENDPOINT_CTX, DEFAULT_ENDPOINT_TIMEOUT_S, Endpoint, RemoteEngine};
pub use repetition::repeat_start;
pub use worker::{AnswerStream, LlmWorker, Piece, Preread};

use crate::error::LlmError;
use crate::job::CancelFlag;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    System,
    User,
    Assistant,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::User => "user",
            Self::Assistant => "assistant",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
}

impl ChatMessage {
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
        }
    }
}

/// How one answer is sampled.
#[derive(Debug, Clone, PartialEq)]
pub struct Sampling {
    pub max_tokens: usize,
    /// 0 means greedy (deterministic).
    pub temperature: f32,
    pub top_p: f32,
    /// `None`: a fresh random seed per answer.
    pub seed: Option<u32>,
    /// Decoding threads for this answer.
    pub threads: usize,
    /// Text that ends the answer where it appears (not included), besides the model's own end:
    /// the caller knows what its prompt looks like when a model starts writing it out again.
    pub stop: Vec<String>,
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// The model ended its answer.
    EndOfText,
    MaxTokens,
    /// The context window is full.
    ContextFull,
    /// The caller's cancel flag was set; the text so far is kept.
    Cancelled,
    /// The answer began repeating itself ([`repeat_start`]); the repeat is cut.
    Repeating,
}

/// A finished (or stopped) generation with its measurements.
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    pub text: String,
    pub finish: Finish,
    pub n_prompt_tokens: usize,
    /// Prompt tokens whose keys and values were already in the cache from an earlier turn.
    pub n_reused_tokens: usize,
    pub n_generated_tokens: usize,
    pub prompt_ms: f64,
    /// From the start of the request to the first piece of text.
    pub first_token_ms: Option<f64>,
    pub generation_ms: f64,
}

impl Generation {
    pub fn tokens_per_s(&self) -> f64 {
        if self.generation_ms > 0.0 {
            self.n_generated_tokens as f64 * 1000.0 / self.generation_ms
        } else {
            0.0
        }
    }
}

/// What a generation reports while it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress<'a> {
    /// `done` of the prompt's `total` tokens have been read; tokens whose keys and values were
    /// already in the cache count as read at once. Sent before the first text.
    Reading { done: usize, total: usize },
    /// The next piece of the answer, valid UTF-8.
    Text(&'a str),
}

/// Something that turns chat messages into text. Implemented by llama.cpp below; tests of the
/// answer pipeline may use a scripted one.
pub trait Generator {
    fn model_name(&self) -> &str;
    /// The context window in tokens: prompt and answer together must fit in it.
    fn n_ctx(&self) -> usize;
    /// Tokens the messages take once rendered with the chat template, the assistant's header
    /// included.
    fn count_tokens(&mut self, messages: &[ChatMessage]) -> Result<usize, LlmError>;
    /// Generates the assistant's reply, reporting how far the prompt has been read and then
    /// each piece of text as it is decoded. Checks `cancel` between tokens.
    fn generate(
        &mut self,
        messages: &[ChatMessage],
        sampling: &Sampling,
        cancel: &CancelFlag,
        on_progress: &mut dyn FnMut(Progress<'_>),
    ) -> Result<Generation, LlmError>;

    /// Reads `messages` into the model's cache without answering, so that a prompt starting
    /// with the same tokens later only reads what differs (the pre-read while a question is
    /// typed). Stops between batches when `cancel` is set, keeping what was read. Returns the
    /// prompt tokens now in the cache. Generators without a cache read nothing.
    fn preread(
        &mut self,
        messages: &[ChatMessage],
        threads: usize,
        cancel: &CancelFlag,
    ) -> Result<usize, LlmError> {
        let _ = (messages, threads, cancel);
        Ok(0)
    }
}

/// Decoding threads when the user has not chosen: all cores when the machine is quiet, half
/// when something else (indexing) keeps it busy. Measured on 2 cores: with an ingest running,
/// 2 decoding threads fell to 3–7 tokens/s while 1 thread held 30–40, because llama.cpp's
/// threads wait on each other and one descheduled thread stalls every token.
pub fn auto_threads(n_cores: usize, busy: bool) -> usize {
    let n_cores = n_cores.max(1);
    let n = if busy { n_cores / 2 } else { n_cores };
    // Past 8 threads a CPU decode is bound by memory bandwidth, not cores.
    n.clamp(1, 8)
}

/// Whether the machine is busy right now: at least half of its CPU time went to work over
/// the last 100 ms (Linux `/proc/stat`; elsewhere never). Sampled just before a decode, it
/// sees an indexing job or another program but not this process's previous answer. The
/// one-minute load average it replaces still counted the last answer's threads, so a second
/// question asked within a minute was decoded on one thread at half the speed.
pub fn machine_busy() -> bool {
    /// (busy, total) CPU time of all cores, in clock ticks.
    fn cpu_ticks() -> Option<(u64, u64)> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let line = stat.lines().next()?.strip_prefix("cpu ")?;
        // user nice system idle iowait irq softirq steal (guest time is inside user).
        let ticks: Vec<u64> = line
            .split_whitespace()
            .take(8)
            .filter_map(|t| t.parse().ok())
            .collect();
        let idle = ticks.get(3)? + ticks.get(4).copied().unwrap_or(0);
        let total: u64 = ticks.iter().sum();
        Some((total.saturating_sub(idle), total))
    }
    let Some((busy_before, total_before)) = cpu_ticks() else {
        return false;
    };
    std::thread::sleep(std::time::Duration::from_millis(100));
    let Some((busy_after, total_after)) = cpu_ticks() else {
        return false;
    };
    let total = total_after.saturating_sub(total_before);
    total > 0 && busy_after.saturating_sub(busy_before) * 2 >= total
}
