//! [`LlmWorker`]: the thread that owns a [`Generator`]; prompts are fitted and answered there,
//! one request at a time, with text streamed back over a channel.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::{EngineSettings, Generation, Generator, LlamaEngine, Progress};
use crate::error::LlmError;
use crate::job::CancelFlag;
use crate::llm::Sampling;
use crate::prompt::{self, FittedPrompt, Prompt, PromptDefaults};

/// A request to the model's thread.
enum Request {
    Fit {
        prompt: Box<Prompt>,
        reserve: usize,
        reply: oneshot::Sender<Result<FittedPrompt, LlmError>>,
    },
    /// Messages generated from as they are, without fitting (short prompts of Lectern's own).
    Complete {
        messages: Vec<super::ChatMessage>,
        sampling: Sampling,
        reply: oneshot::Sender<Result<Generation, LlmError>>,
    },
    Answer {
        prompt: Box<Prompt>,
        sampling: Sampling,
        cancel: CancelFlag,
        pieces: mpsc::UnboundedSender<Piece>,
        reply: oneshot::Sender<Result<(FittedPrompt, Generation), LlmError>>,
    },
    /// Fit the prompt as `Answer` would and read it into the cache without answering.
    Preread {
        prompt: Box<Prompt>,
        reserve: usize,
        threads: usize,
        cancel: CancelFlag,
        reply: oneshot::Sender<Result<Preread, LlmError>>,
    },
}

/// What a pre-read left in the model's cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preread {
    /// Passages of the prompt that fitted (and were read, unless cancelled).
    pub n_passages: usize,
    pub n_prompt_tokens: usize,
    /// Tokens now in the cache: the whole prompt, or less when the pre-read was cancelled.
    pub n_cached_tokens: usize,
}

/// What an answer's stream carries, owned ([`Progress`] borrowed across the channel).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Reading { done: usize, total: usize },
    Text(String),
}

/// A thread that owns a loaded model; cheap to clone. Requests run one at a time, in order.
#[derive(Clone)]
pub struct LlmWorker {
    requests: std::sync::mpsc::Sender<Request>,
    model_name: String,
    n_ctx: usize,
    model_template: bool,
    prompt_defaults: &'static PromptDefaults,
    /// The cancel flag of the latest pre-read: every other request sets it first, so a
    /// pre-read never delays a real question by more than one prefill step.
    preread_cancel: Arc<Mutex<CancelFlag>>,
    /// When the latest answer or pre-read started or ended, and on how many threads (the
    /// model thread stamps the end).
    last_decode: Arc<Mutex<Option<(Instant, usize)>>>,
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
    pub pieces: mpsc::UnboundedReceiver<Piece>,
    pub result: oneshot::Receiver<Result<(FittedPrompt, Generation), LlmError>>,
}

impl AnswerStream {
    /// Waits for the end of the answer, passing on the reading progress and each piece of
    /// text first.
    pub async fn finish(
        mut self,
        mut on_progress: impl FnMut(Progress<'_>),
    ) -> Result<(FittedPrompt, Generation), LlmError> {
        while let Some(piece) = self.pieces.recv().await {
            on_progress(match &piece {
                Piece::Reading { done, total } => Progress::Reading {
                    done: *done,
                    total: *total,
                },
                Piece::Text(text) => Progress::Text(text),
            });
        }
        self.result.await.map_err(|_| LlmError::WorkerGone)?
    }
}

impl LlmWorker {
    /// Loads a GGUF model with llama.cpp on a new thread; returns once it is loaded.
    pub fn llama(settings: EngineSettings) -> Result<Self, LlmError> {
        let EngineSettings {
            model_path: path,
            n_ctx,
        } = settings;
        // The header is read before llama.cpp loads the file, which has checked it already.
        let architecture = crate::gguf::read_info(&path)
            .map(|info| info.architecture)
            .unwrap_or_default();
        let worker = Self::start(move |ready| {
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
        })?;
        Ok(Self {
            prompt_defaults: prompt::defaults_for(&architecture),
            ..worker
        })
    }

    /// Runs any [`Generator`] on a new thread (tests of the answer pipeline use scripted ones).
    pub fn spawn<F>(make: F) -> Result<Self, LlmError>
    where
        F: FnOnce() -> Result<Box<dyn Generator>, LlmError> + Send + 'static,
    {
        Self::start(move |ready| match make() {
            Ok(mut generator) => ready.serve(generator.as_mut(), true),
            Err(e) => ready.fail(e),
        })
    }

    /// Starts the model's thread, which runs `body`; returns once `body` has reported that
    /// its generator is ready to serve, or why it is not.
    fn start<F>(body: F) -> Result<Self, LlmError>
    where
        F: FnOnce(Ready) + Send + 'static,
    {
        let (tx, requests) = std::sync::mpsc::channel::<Request>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let last_decode: Arc<Mutex<Option<(Instant, usize)>>> = Arc::default();
        let model_thread_last_decode = Arc::clone(&last_decode);
        std::thread::Builder::new()
            .name("lectern-llm".into())
            .spawn(move || {
                body(Ready {
                    ready: ready_tx,
                    requests,
                    last_decode: model_thread_last_decode,
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
            prompt_defaults: &prompt::GENERIC_DEFAULTS,
            preread_cancel: Arc::default(),
            last_decode,
        })
    }

    /// Stops the running pre-read (if any) at its next prefill step.
    fn interrupt_preread(&self) {
        if let Ok(flag) = self.preread_cancel.lock() {
            flag.cancel();
        }
    }

    /// Sends a request other than a pre-read, which gives way to it.
    fn send(&self, request: Request) -> Result<(), LlmError> {
        self.interrupt_preread();
        self.requests
            .send(request)
            .map_err(|_| LlmError::WorkerGone)
    }

    /// Fits `prompt` as [`LlmWorker::answer`] would (leaving `reserve` tokens) and reads it
    /// into the model's cache on `threads` threads, so an answer whose prompt starts the same
    /// way only reads the rest. Replaces (cancels) the previous pre-read; any other request
    /// cancels this one, keeping what it read.
    pub async fn preread(
        &self,
        prompt: Prompt,
        reserve: usize,
        threads: usize,
    ) -> Result<Preread, LlmError> {
        self.note_decode(threads);
        let cancel = CancelFlag::default();
        if let Ok(mut slot) = self.preread_cancel.lock() {
            slot.cancel();
            *slot = cancel.clone();
        }
        let (reply, rx) = oneshot::channel();
        self.requests
            .send(Request::Preread {
                prompt: Box::new(prompt),
                reserve,
                threads,
                cancel,
                reply,
            })
            .map_err(|_| LlmError::WorkerGone)?;
        let result = rx.await.map_err(|_| LlmError::WorkerGone)?;
        self.note_decode(threads);
        result
    }

    fn note_decode(&self, threads: usize) {
        stamp(&self.last_decode, threads);
    }

    /// The threads of the latest decode (an answer or a pre-read), if it started or ended
    /// within `hold`: a request on other threads gets a new context with an empty cache, losing what
    /// was pre-read and the chat's earlier turns.
    pub fn recent_decode_threads(&self, hold: Duration) -> Option<usize> {
        let last = *self.last_decode.lock().ok()?;
        last.filter(|(at, _)| at.elapsed() < hold)
            .map(|(_, threads)| threads)
    }

    /// The instruction and output indicator a collection uses with this model unless it has
    /// its own.
    pub fn prompt_defaults(&self) -> &'static PromptDefaults {
        self.prompt_defaults
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

    /// Fits a prompt into the context, leaving `reserve` tokens for the answer.
    pub async fn fit(&self, prompt: Prompt, reserve: usize) -> Result<FittedPrompt, LlmError> {
        let (reply, rx) = oneshot::channel();
        self.send(Request::Fit {
            prompt: Box::new(prompt),
            reserve,
            reply,
        })?;
        rx.await.map_err(|_| LlmError::WorkerGone)?
    }

    /// Generates a reply to `messages` as they are (no fitting, no streaming, no cancel).
    pub async fn complete(
        &self,
        messages: Vec<super::ChatMessage>,
        sampling: Sampling,
    ) -> Result<Generation, LlmError> {
        let (reply, rx) = oneshot::channel();
        self.send(Request::Complete {
            messages,
            sampling,
            reply,
        })?;
        rx.await.map_err(|_| LlmError::WorkerGone)?
    }

    /// Fits the prompt (leaving `sampling.max_tokens` for the answer) and generates; text
    /// streams through the returned receiver. Setting `cancel` stops within one token.
    pub fn answer(
        &self,
        prompt: Prompt,
        sampling: Sampling,
        cancel: CancelFlag,
    ) -> Result<AnswerStream, LlmError> {
        let (pieces_tx, pieces) = mpsc::unbounded_channel();
        let (reply, result) = oneshot::channel();
        self.note_decode(sampling.threads);
        self.send(Request::Answer {
            prompt: Box::new(prompt),
            sampling,
            cancel,
            pieces: pieces_tx,
            reply,
        })?;
        Ok(AnswerStream { pieces, result })
    }
}

/// The model thread's side of start-up: report the loaded generator (then serve requests until
/// every handle is dropped) or the failure.
struct Ready {
    ready: std::sync::mpsc::Sender<Result<(String, usize, bool), LlmError>>,
    requests: std::sync::mpsc::Receiver<Request>,
    last_decode: Arc<Mutex<Option<(Instant, usize)>>>,
}

fn stamp(last_decode: &Mutex<Option<(Instant, usize)>>, threads: usize) {
    if let Ok(mut last) = last_decode.lock() {
        *last = Some((Instant::now(), threads));
    }
}

impl Ready {
    fn serve(self, generator: &mut dyn Generator, model_template: bool) {
        let meta = (
            generator.model_name().to_owned(),
            generator.n_ctx(),
            model_template,
        );
        if self.ready.send(Ok(meta)).is_ok() {
            serve(generator, self.requests, &self.last_decode);
        }
    }

    fn fail(self, error: LlmError) {
        let _ = self.ready.send(Err(error));
    }
}

fn serve(
    generator: &mut dyn Generator,
    requests: std::sync::mpsc::Receiver<Request>,
    last_decode: &Mutex<Option<(Instant, usize)>>,
) {
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
            Request::Complete {
                messages,
                sampling,
                reply,
            } => {
                let never = CancelFlag::default();
                let _ = reply.send(generator.generate(&messages, &sampling, &never, &mut |_| {}));
            }
            Request::Preread {
                prompt,
                reserve,
                threads,
                cancel,
                reply,
            } => {
                let budget = generator.n_ctx().saturating_sub(reserve);
                let result = prompt::fit(&prompt, budget, |m| generator.count_tokens(m)).and_then(
                    |fitted| {
                        let n_cached = generator.preread(&fitted.messages, threads, &cancel)?;
                        Ok(Preread {
                            n_passages: fitted.n_passages,
                            n_prompt_tokens: fitted.n_tokens,
                            n_cached_tokens: n_cached,
                        })
                    },
                );
                let _ = reply.send(result);
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
                            &mut |progress| {
                                let _ = pieces.send(match progress {
                                    Progress::Reading { done, total } => {
                                        Piece::Reading { done, total }
                                    }
                                    Progress::Text(text) => Piece::Text(text.to_owned()),
                                });
                            },
                        )?;
                        Ok((fitted, generation))
                    },
                );
                drop(pieces);
                // A long answer must not let the hold lapse before the follow-up it invites.
                stamp(last_decode, sampling.threads);
                let _ = reply.send(result);
            }
        }
    }
}
