//! The llama.cpp implementation of [`Generator`]: one backend per process, a model with one
//! context whose KV cache is kept between requests, the chat template or a fallback transcript,
//! and UTF-8 streaming.

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Instant;

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;

use super::{ChatMessage, Finish, Generation, Generator, Progress, Role, Sampling};

/// See [`LlamaEngine::prefill_step`]. Qwen 0.5B reads about 70 tokens/s on 2 cores, so a
/// step is under a second; smaller steps cost prefill speed (docs/BENCHMARKS.md).
const PREFILL_STEP: usize = 64;
use crate::error::LlmError;
use crate::job::CancelFlag;

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
        crate::models::verify_checksum(path, None)?;
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

    /// Decodes `tokens` after what the cache holds, [`PREFILL_STEP`] at a time, calling
    /// `on_read` with the number decoded so far after each step. Returns false when
    /// cancelled; what was decoded stays in the cache.
    fn prefill(
        &mut self,
        tokens: &[LlamaToken],
        cancel: &CancelFlag,
        on_read: &mut dyn FnMut(usize),
    ) -> Result<bool, LlmError> {
        let step = self.prefill_step();
        let mut batch = LlamaBatch::new(step, 1);
        let n_chunks = tokens.len().div_ceil(step);
        for (chunk_idx, chunk) in tokens.chunks(step).enumerate() {
            if cancel.is_cancelled() {
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
            on_read((chunk_idx * step + chunk.len()).min(tokens.len()));
        }
        Ok(true)
    }

    /// The rendered prompt's tokens, on a context with `threads` threads; a prompt that
    /// leaves no room in the context is refused.
    fn prompt_tokens(
        &mut self,
        messages: &[ChatMessage],
        threads: usize,
    ) -> Result<Vec<LlamaToken>, LlmError> {
        self.ensure_threads(threads)?;
        let tokens = self.tokenize(&self.render(messages)?);
        if tokens.len() >= self.n_ctx {
            return Err(LlmError::PromptTooLong {
                n_tokens: tokens.len(),
                n_ctx: self.n_ctx,
            });
        }
        Ok(tokens)
    }

    /// Tokens decoded per prefill batch: small enough that progress moves and a cancel (a
    /// pre-read giving way to a real question) lands within a fraction of a second, never more
    /// than the context's batch (llama.cpp aborts the process on larger ones).
    fn prefill_step(&self) -> usize {
        PREFILL_STEP.min(self.ctx.n_batch() as usize).max(1)
    }

    /// Drops from the cache whatever follows its longest common prefix with `tokens`, keeping
    /// at most `limit` tokens; returns how many were kept.
    fn keep_common_prefix(&mut self, tokens: &[LlamaToken], limit: usize) -> usize {
        let mut n_keep = common_prefix(&self.cached, tokens).min(limit);
        if self
            .ctx
            .kv_cache_seq_rm(0, Some(n_keep as u32), None)
            .is_err()
        {
            self.ctx.clear_kv_cache();
            n_keep = 0;
        }
        self.cached.truncate(n_keep);
        n_keep
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

    fn preread(
        &mut self,
        messages: &[ChatMessage],
        threads: usize,
        cancel: &CancelFlag,
    ) -> Result<usize, LlmError> {
        let tokens = self.prompt_tokens(messages, threads)?;
        let n_keep = self.keep_common_prefix(&tokens, tokens.len());
        self.prefill(&tokens[n_keep..], cancel, &mut |_| {})
            .inspect_err(|_| self.cached.clear())?;
        Ok(self.cached.len())
    }

    fn generate(
        &mut self,
        messages: &[ChatMessage],
        sampling: &Sampling,
        cancel: &CancelFlag,
        on_progress: &mut dyn FnMut(Progress<'_>),
    ) -> Result<Generation, LlmError> {
        let started = Instant::now();
        let tokens = self.prompt_tokens(messages, sampling.threads)?;
        // Keep the longest common prefix of the cache; at least one token must be decoded
        // again to get logits for the first answer token.
        let n_keep = self.keep_common_prefix(&tokens, tokens.len() - 1);
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
        let total = tokens.len();
        on_progress(Progress::Reading {
            done: n_keep,
            total,
        });
        let prefilled = self.prefill(&tokens[n_keep..], cancel, &mut |read| {
            on_progress(Progress::Reading {
                done: n_keep + read,
                total,
            })
        });
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
        let stops: Vec<&str> = self
            .stop_strings()
            .iter()
            .copied()
            .chain(
                sampling
                    .stop
                    .iter()
                    .map(String::as_str)
                    .filter(|s| !s.is_empty()),
            )
            .collect();
        let mut utf8 = Utf8Stream::default();
        let mut held = String::new();
        let mut piece = Vec::new();
        let mut batch = LlamaBatch::new(1, 1);
        let mut logits_idx = ((tokens.len() - n_keep - 1) % self.prefill_step()) as i32;
        let gen_started = Instant::now();
        let mut emit = |text: &str, generation: &mut Generation| {
            if text.is_empty() {
                return;
            }
            generation
                .first_token_ms
                .get_or_insert_with(|| ms_since(started));
            generation.text.push_str(text);
            on_progress(Progress::Text(text));
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
            let keep = stop_prefix_len(&held, &stops);
            let ready: String = held.drain(..held.len() - keep).collect();
            emit(&ready, &mut generation);
            // A line or sentence can only have been completed by text with white space in it.
            if ready.contains(char::is_whitespace)
                && let Some(cut) = super::repeat_start(&generation.text)
            {
                generation.text.truncate(cut);
                break Finish::Repeating;
            }
            if generation.n_generated_tokens >= sampling.max_tokens {
                break Finish::MaxTokens;
            }
            if self.cached.len() + 1 >= self.n_ctx {
                break Finish::ContextFull;
            }
            if cancel.is_cancelled() {
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
        if generation.finish != Finish::Repeating {
            held.push_str(&utf8.finish());
            if let Some(cut) = stops.iter().filter_map(|s| held.find(s)).min() {
                held.truncate(cut);
            }
            emit(&held, &mut generation);
        }
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
