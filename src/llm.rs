//! Text generation: the [`Generator`] seam, its llama.cpp implementation, and [`LlmWorker`], the
//! thread that owns a loaded model and streams answers back over channels.

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use tokio::sync::{mpsc, oneshot};

use crate::error::LlmError;
use crate::prompt::{self, FittedPrompt, Prompt};

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

/// Something that turns chat messages into text. Implemented by llama.cpp below; tests of the
/// answer pipeline may use a scripted one.
pub trait Generator {
    fn model_name(&self) -> &str;
    /// The context window in tokens: prompt and answer together must fit in it.
    fn n_ctx(&self) -> usize;
    /// Tokens the messages take once rendered with the chat template, the assistant's header
    /// included.
    fn count_tokens(&mut self, messages: &[ChatMessage]) -> Result<usize, LlmError>;
    /// Generates the assistant's reply, calling `on_text` with each piece of valid UTF-8 as it
    /// is decoded. Checks `cancel` between tokens.
    fn generate(
        &mut self,
        messages: &[ChatMessage],
        sampling: &Sampling,
        cancel: &AtomicBool,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<Generation, LlmError>;
}

// --- llama.cpp ---------------------------------------------------------------------------------

/// One llama.cpp backend per process; initialising it twice fails.
fn backend() -> Result<&'static LlamaBackend, LlmError> {
    static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            // llama.cpp writes its load log to stderr; keep the terminal for answers.
            llama_cpp_2::send_logs_to_tracing(
                llama_cpp_2::LogOptions::default().with_logs_enabled(false),
            );
            LlamaBackend::init().map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| LlmError::Backend(e.clone()))
}

/// The shipped build compiles ggml for x86-64-v3 (never `-march=native`); refuse older CPUs with
/// a message instead of dying on an illegal instruction.
fn check_cpu() -> Result<(), LlmError> {
    #[cfg(target_arch = "x86_64")]
    {
        let missing: Vec<&str> = [
            ("avx", std::arch::is_x86_feature_detected!("avx")),
            ("avx2", std::arch::is_x86_feature_detected!("avx2")),
            ("fma", std::arch::is_x86_feature_detected!("fma")),
            ("f16c", std::arch::is_x86_feature_detected!("f16c")),
        ]
        .into_iter()
        .filter(|(_, ok)| !ok)
        .map(|(name, _)| name)
        .collect();
        if !missing.is_empty() {
            return Err(LlmError::UnsupportedCpu(missing.join(", ")));
        }
    }
    Ok(())
}

/// How the worker loads a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineSettings {
    pub model_path: PathBuf,
    /// Context window; clamped to what the model was trained for.
    pub n_ctx: usize,
}

/// How prompts are rendered for a model without a usable chat template.
#[derive(Debug)]
enum Template {
    Model(LlamaChatTemplate),
    /// A plain transcript: works with base models, which continue text rather than chat.
    Fallback,
}

/// A model loaded in llama.cpp with one context, whose KV cache is kept between requests so a
/// follow-up that repeats the conversation so far only decodes what is new.
pub struct LlamaEngine<'m> {
    model: &'m LlamaModel,
    name: String,
    ctx: LlamaContext<'m>,
    n_ctx: usize,
    threads: usize,
    template: Template,
    /// Tokens whose keys and values are in the cache, in position order.
    cached: Vec<LlamaToken>,
}

impl LlamaEngine<'_> {
    pub fn load_model(path: &Path) -> Result<LlamaModel, LlmError> {
        check_cpu()?;
        if !path.is_file() {
            return Err(LlmError::ModelMissing(path.to_owned()));
        }
        crate::gguf::read_info(path).map_err(|source| LlmError::NotGguf {
            path: path.to_owned(),
            source,
        })?;
        LlamaModel::load_from_file(backend()?, path, &LlamaModelParams::default()).map_err(|e| {
            LlmError::Load {
                path: path.to_owned(),
                reason: e.to_string(),
            }
        })
    }
}

impl<'m> LlamaEngine<'m> {
    pub fn new(model: &'m LlamaModel, name: String, n_ctx: usize) -> Result<Self, LlmError> {
        let n_ctx = n_ctx.clamp(256, model.n_ctx_train().max(256) as usize);
        let threads = 1;
        let ctx = new_context(model, n_ctx, threads)?;
        let template = match model.chat_template(None) {
            Ok(t) => {
                // llama.cpp recognises the common template families; anything else (or a
                // template it cannot apply) gets the plain transcript.
                let probe = [LlamaChatMessage::new("user".into(), "hi".into())
                    .map_err(|e| LlmError::Template(e.to_string()))?];
                match model.apply_chat_template(&t, &probe, true) {
                    Ok(_) => Template::Model(t),
                    Err(_) => Template::Fallback,
                }
            }
            Err(_) => Template::Fallback,
        };
        Ok(Self {
            model,
            name,
            ctx,
            n_ctx,
            threads,
            template,
            cached: Vec::new(),
        })
    }

    /// True when the model's own chat template is used, false for the fallback transcript.
    pub fn has_chat_template(&self) -> bool {
        matches!(self.template, Template::Model(_))
    }

    fn render(&self, messages: &[ChatMessage]) -> Result<String, LlmError> {
        match &self.template {
            Template::Model(t) => {
                let chat = messages
                    .iter()
                    .map(|m| LlamaChatMessage::new(m.role.as_str().into(), m.content.clone()))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| LlmError::Template(e.to_string()))?;
                self.model
                    .apply_chat_template(t, &chat, true)
                    .map_err(|e| LlmError::Template(e.to_string()))
            }
            Template::Fallback => Ok(render_fallback(messages)),
        }
    }

    fn tokenize(&self, text: &str) -> Vec<LlamaToken> {
        self.model.vocab().tokenize(text.as_bytes(), true, true)
    }

    fn stop_strings(&self) -> &'static [&'static str] {
        match self.template {
            Template::Model(_) => &[],
            // A base model goes on writing the next turn of the transcript.
            Template::Fallback => &["\nUser:", "\nQuestion:", "\n### "],
        }
    }

    /// Decodes `tokens` after what the cache holds, in batches of at most `n_batch`
    /// (llama.cpp aborts the process on larger ones). Returns false when cancelled.
    fn prefill(&mut self, tokens: &[LlamaToken], cancel: &AtomicBool) -> Result<bool, LlmError> {
        let n_batch = self.ctx.n_batch() as usize;
        let mut batch = LlamaBatch::new(n_batch, 1);
        let n_chunks = tokens.len().div_ceil(n_batch);
        for (chunk_idx, chunk) in tokens.chunks(n_batch).enumerate() {
            if cancel.load(Ordering::Relaxed) {
                return Ok(false);
            }
            batch.clear();
            let last_chunk = chunk_idx + 1 == n_chunks;
            for (i, &tok) in chunk.iter().enumerate() {
                let pos = self.cached.len() + i;
                batch
                    .add(tok, pos as i32, &[0], last_chunk && i + 1 == chunk.len())
                    .map_err(|e| LlmError::Decode(e.to_string()))?;
            }
            self.ctx
                .decode(&mut batch)
                .map_err(|e| LlmError::Decode(e.to_string()))?;
            self.cached.extend_from_slice(chunk);
        }
        Ok(true)
    }

    fn ensure_threads(&mut self, threads: usize) -> Result<(), LlmError> {
        let threads = threads.max(1);
        if threads != self.threads {
            // Thread counts are fixed per llama.cpp context: a new one starts with an empty cache.
            self.ctx = new_context(self.model, self.n_ctx, threads)?;
            self.threads = threads;
            self.cached.clear();
        }
        Ok(())
    }
}

fn new_context(
    model: &LlamaModel,
    n_ctx: usize,
    threads: usize,
) -> Result<LlamaContext<'_>, LlmError> {
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(n_ctx as u32))
        .with_n_batch(512)
        .with_n_ubatch(512)
        .with_n_threads(threads as i32)
        .with_n_threads_batch(threads as i32);
    model
        .new_context(backend()?, params)
        .map_err(|e| LlmError::Backend(e.to_string()))
}

/// The transcript used when a model has no chat template of its own.
pub fn render_fallback(messages: &[ChatMessage]) -> String {
    let mut out = String::new();
    for m in messages {
        match m.role {
            Role::System => out.push_str(&m.content),
            Role::User => {
                out.push_str("User: ");
                out.push_str(&m.content);
            }
            Role::Assistant => {
                out.push_str("Assistant: ");
                out.push_str(&m.content);
            }
        }
        out.push_str("\n\n");
    }
    out.push_str("Assistant:");
    out
}

impl Generator for LlamaEngine<'_> {
    fn model_name(&self) -> &str {
        &self.name
    }

    fn n_ctx(&self) -> usize {
        self.n_ctx
    }

    fn count_tokens(&mut self, messages: &[ChatMessage]) -> Result<usize, LlmError> {
        Ok(self.tokenize(&self.render(messages)?).len())
    }

    fn generate(
        &mut self,
        messages: &[ChatMessage],
        sampling: &Sampling,
        cancel: &AtomicBool,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<Generation, LlmError> {
        let started = Instant::now();
        self.ensure_threads(sampling.threads)?;
        let tokens = self.tokenize(&self.render(messages)?);
        if tokens.len() >= self.n_ctx {
            return Err(LlmError::PromptTooLong {
                n_tokens: tokens.len(),
                n_ctx: self.n_ctx,
            });
        }
        // Keep the longest common prefix of the cache; at least one token must be decoded
        // again to get logits for the first answer token.
        let mut n_keep = common_prefix(&self.cached, &tokens).min(tokens.len() - 1);
        if self
            .ctx
            .kv_cache_seq_rm(0, Some(n_keep as u32), None)
            .is_err()
        {
            self.ctx.clear_kv_cache();
            n_keep = 0;
        }
        self.cached.truncate(n_keep);
        let mut generation = Generation {
            text: String::new(),
            finish: Finish::Cancelled,
            n_prompt_tokens: tokens.len(),
            n_reused_tokens: n_keep,
            n_generated_tokens: 0,
            prompt_ms: 0.0,
            first_token_ms: None,
            generation_ms: 0.0,
        };
        let prefilled = self.prefill(&tokens[n_keep..], cancel);
        generation.prompt_ms = ms_since(started);
        if !prefilled.inspect_err(|_| self.cached.clear())? {
            return Ok(generation);
        }

        let mut sampler = if sampling.temperature <= 0.0 {
            LlamaSampler::greedy()
        } else {
            LlamaSampler::chain_simple([
                LlamaSampler::top_p(sampling.top_p.clamp(0.01, 1.0), 1),
                LlamaSampler::temp(sampling.temperature),
                LlamaSampler::dist(sampling.seed.unwrap_or(u32::MAX)),
            ])
        };
        let vocab = self.model.vocab();
        let stops = self.stop_strings();
        let mut utf8 = Utf8Stream::default();
        let mut held = String::new();
        let mut piece = Vec::new();
        let mut batch = LlamaBatch::new(1, 1);
        let mut logits_idx = ((tokens.len() - n_keep - 1) % self.ctx.n_batch() as usize) as i32;
        let gen_started = Instant::now();
        let mut emit = |text: &str, generation: &mut Generation| {
            if text.is_empty() {
                return;
            }
            generation
                .first_token_ms
                .get_or_insert_with(|| ms_since(started));
            generation.text.push_str(text);
            on_text(text);
        };
        generation.finish = loop {
            let tok = sampler.sample(&self.ctx, logits_idx);
            if vocab.is_eog(tok) {
                break Finish::EndOfText;
            }
            generation.n_generated_tokens += 1;
            piece.clear();
            vocab.token_to_piece_into(tok, &mut piece, false, None);
            held.push_str(&utf8.push(&piece));
            // Text that might be the start of a stop string is held back until it is clear.
            if let Some(cut) = stops.iter().filter_map(|s| held.find(s)).min() {
                held.truncate(cut);
                break Finish::EndOfText;
            }
            let keep = stop_prefix_len(&held, stops);
            let ready: String = held.drain(..held.len() - keep).collect();
            emit(&ready, &mut generation);
            if generation.n_generated_tokens >= sampling.max_tokens {
                break Finish::MaxTokens;
            }
            if self.cached.len() + 1 >= self.n_ctx {
                break Finish::ContextFull;
            }
            if cancel.load(Ordering::Relaxed) {
                break Finish::Cancelled;
            }
            batch.clear();
            batch
                .add(tok, self.cached.len() as i32, &[0], true)
                .map_err(|e| LlmError::Decode(e.to_string()))?;
            if let Err(e) = self.ctx.decode(&mut batch) {
                self.cached.clear();
                self.ctx.clear_kv_cache();
                return Err(LlmError::Decode(e.to_string()));
            }
            self.cached.push(tok);
            logits_idx = 0;
        };
        held.push_str(&utf8.finish());
        if let Some(cut) = stops.iter().filter_map(|s| held.find(s)).min() {
            held.truncate(cut);
        }
        emit(&held, &mut generation);
        generation.generation_ms = ms_since(gen_started);
        Ok(generation)
    }
}

/// Length of the longest end of `text` that begins one of `stops`.
fn stop_prefix_len(text: &str, stops: &[&str]) -> usize {
    let longest = stops.iter().map(|s| s.len()).max().unwrap_or(0);
    (1..=longest.min(text.len()))
        .rev()
        .find(|&k| {
            let start = text.len() - k;
            text.is_char_boundary(start) && stops.iter().any(|s| s.starts_with(&text[start..]))
        })
        .unwrap_or(0)
}

fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

fn common_prefix(a: &[LlamaToken], b: &[LlamaToken]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Turns a stream of byte pieces into text, holding back a multi-byte character split across
/// tokens until its last byte arrives. Bytes that can never be valid become U+FFFD.
#[derive(Debug, Default)]
pub struct Utf8Stream {
    pending: Vec<u8>,
}

impl Utf8Stream {
    pub fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let mut out = String::new();
        loop {
            match std::str::from_utf8(&self.pending) {
                Ok(s) => {
                    out.push_str(s);
                    self.pending.clear();
                    return out;
                }
                Err(e) => {
                    let valid = e.valid_up_to();
                    out.push_str(std::str::from_utf8(&self.pending[..valid]).unwrap_or_default());
                    match e.error_len() {
                        // An incomplete character at the end: wait for more bytes.
                        None => {
                            self.pending.drain(..valid);
                            return out;
                        }
                        Some(bad) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            self.pending.drain(..valid + bad);
                        }
                    }
                }
            }
        }
    }

    /// Whatever is left at the end of the stream.
    pub fn finish(&mut self) -> String {
        let rest = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        rest
    }
}

// --- the worker thread -------------------------------------------------------------------------

/// A request to the model's thread.
enum Request {
    Fit {
        prompt: Box<Prompt>,
        reserve: usize,
        reply: oneshot::Sender<Result<FittedPrompt, LlmError>>,
    },
    Answer {
        prompt: Box<Prompt>,
        sampling: Sampling,
        cancel: std::sync::Arc<AtomicBool>,
        pieces: mpsc::UnboundedSender<String>,
        reply: oneshot::Sender<Result<(FittedPrompt, Generation), LlmError>>,
    },
}

/// A thread that owns a loaded model; cheap to clone. Requests run one at a time, in order.
#[derive(Clone)]
pub struct LlmWorker {
    requests: std::sync::mpsc::Sender<Request>,
    model_name: String,
    n_ctx: usize,
    model_template: bool,
    settings: Option<EngineSettings>,
}

impl std::fmt::Debug for LlmWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmWorker")
            .field("model_name", &self.model_name)
            .field("n_ctx", &self.n_ctx)
            .finish()
    }
}

/// A streamed answer: pieces of text as they are decoded, then the result.
#[derive(Debug)]
pub struct AnswerStream {
    pub pieces: mpsc::UnboundedReceiver<String>,
    pub result: oneshot::Receiver<Result<(FittedPrompt, Generation), LlmError>>,
}

impl AnswerStream {
    /// Waits for the end of the answer, passing each piece to `on_piece` first.
    pub async fn finish(
        mut self,
        mut on_piece: impl FnMut(&str),
    ) -> Result<(FittedPrompt, Generation), LlmError> {
        while let Some(piece) = self.pieces.recv().await {
            on_piece(&piece);
        }
        self.result.await.map_err(|_| LlmError::WorkerGone)?
    }
}

impl LlmWorker {
    /// Loads a GGUF model with llama.cpp on a new thread; returns once it is loaded.
    pub fn llama(settings: EngineSettings) -> Result<Self, LlmError> {
        let path = settings.model_path.clone();
        let n_ctx = settings.n_ctx;
        Self::start(Some(settings), move |ready| {
            // Answers name the file: GGUF `general.name` is often a training-run label.
            let name = path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            );
            let model = match LlamaEngine::load_model(&path) {
                Ok(m) => m,
                Err(e) => return ready.fail(e),
            };
            match LlamaEngine::new(&model, name, n_ctx) {
                Ok(mut engine) => {
                    let model_template = engine.has_chat_template();
                    ready.serve(&mut engine, model_template);
                }
                Err(e) => ready.fail(e),
            }
        })
    }

    /// Runs any [`Generator`] on a new thread (tests of the answer pipeline use scripted ones).
    pub fn spawn<F>(make: F) -> Result<Self, LlmError>
    where
        F: FnOnce() -> Result<Box<dyn Generator>, LlmError> + Send + 'static,
    {
        Self::start(None, move |ready| match make() {
            Ok(mut generator) => ready.serve(generator.as_mut(), true),
            Err(e) => ready.fail(e),
        })
    }

    /// Starts the model's thread, which runs `body`; returns once `body` has reported that
    /// its generator is ready to serve, or why it is not.
    fn start<F>(settings: Option<EngineSettings>, body: F) -> Result<Self, LlmError>
    where
        F: FnOnce(Ready) + Send + 'static,
    {
        let (tx, requests) = std::sync::mpsc::channel::<Request>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("lectern-llm".into())
            .spawn(move || {
                body(Ready {
                    ready: ready_tx,
                    requests,
                })
            })
            .map_err(|e| LlmError::Backend(format!("cannot start the model thread: {e}")))?;
        let (model_name, n_ctx, model_template) =
            ready_rx.recv().map_err(|_| LlmError::WorkerGone)??;
        Ok(Self {
            requests: tx,
            model_name,
            n_ctx,
            model_template,
            settings,
        })
    }

    pub fn model_name(&self) -> &str {
        &self.model_name
    }

    pub fn n_ctx(&self) -> usize {
        self.n_ctx
    }

    /// False when the model has no chat template llama.cpp can apply and prompts use the
    /// plain fallback transcript.
    pub fn uses_model_template(&self) -> bool {
        self.model_template
    }

    /// What the worker was loaded with (`None` for scripted generators).
    pub fn settings(&self) -> Option<&EngineSettings> {
        self.settings.as_ref()
    }

    /// Fits a prompt into the context, leaving `reserve` tokens for the answer.
    pub async fn fit(&self, prompt: Prompt, reserve: usize) -> Result<FittedPrompt, LlmError> {
        let (reply, rx) = oneshot::channel();
        self.requests
            .send(Request::Fit {
                prompt: Box::new(prompt),
                reserve,
                reply,
            })
            .map_err(|_| LlmError::WorkerGone)?;
        rx.await.map_err(|_| LlmError::WorkerGone)?
    }

    /// Fits the prompt (leaving `sampling.max_tokens` for the answer) and generates; text
    /// streams through the returned receiver. Setting `cancel` stops within one token.
    pub fn answer(
        &self,
        prompt: Prompt,
        sampling: Sampling,
        cancel: std::sync::Arc<AtomicBool>,
    ) -> Result<AnswerStream, LlmError> {
        let (pieces_tx, pieces) = mpsc::unbounded_channel();
        let (reply, result) = oneshot::channel();
        self.requests
            .send(Request::Answer {
                prompt: Box::new(prompt),
                sampling,
                cancel,
                pieces: pieces_tx,
                reply,
            })
            .map_err(|_| LlmError::WorkerGone)?;
        Ok(AnswerStream { pieces, result })
    }
}

/// The model thread's side of start-up: report the loaded generator (then serve requests until
/// every handle is dropped) or the failure.
struct Ready {
    ready: std::sync::mpsc::Sender<Result<(String, usize, bool), LlmError>>,
    requests: std::sync::mpsc::Receiver<Request>,
}

impl Ready {
    fn serve(self, generator: &mut dyn Generator, model_template: bool) {
        let meta = (
            generator.model_name().to_owned(),
            generator.n_ctx(),
            model_template,
        );
        if self.ready.send(Ok(meta)).is_ok() {
            serve(generator, self.requests);
        }
    }

    fn fail(self, error: LlmError) {
        let _ = self.ready.send(Err(error));
    }
}

fn serve(generator: &mut dyn Generator, requests: std::sync::mpsc::Receiver<Request>) {
    while let Ok(request) = requests.recv() {
        match request {
            Request::Fit {
                prompt,
                reserve,
                reply,
            } => {
                let budget = generator.n_ctx().saturating_sub(reserve);
                let fitted = prompt::fit(&prompt, budget, |m| generator.count_tokens(m));
                let _ = reply.send(fitted);
            }
            Request::Answer {
                prompt,
                sampling,
                cancel,
                pieces,
                reply,
            } => {
                let budget = generator.n_ctx().saturating_sub(sampling.max_tokens);
                let result = prompt::fit(&prompt, budget, |m| generator.count_tokens(m)).and_then(
                    |fitted| {
                        let generation = generator.generate(
                            &fitted.messages,
                            &sampling,
                            &cancel,
                            &mut |piece| {
                                let _ = pieces.send(piece.to_owned());
                            },
                        )?;
                        Ok((fitted, generation))
                    },
                );
                drop(pieces);
                let _ = reply.send(result);
            }
        }
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

/// Whether the machine is busy: the one-minute load average (Linux) against the core count.
pub fn machine_busy(n_cores: usize) -> bool {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .is_some_and(|load| load >= n_cores as f64 * 0.5)
}
