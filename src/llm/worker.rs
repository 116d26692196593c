//! [`LlmWorker`]: the thread that owns a [`Generator`]; prompts are fitted and answered there,
//! one request at a time, with text streamed back over a channel.

use std::sync::atomic::AtomicBool;

use tokio::sync::{mpsc, oneshot};

use super::{EngineSettings, Generation, Generator, LlamaEngine};
use crate::error::LlmError;
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
    prompt_defaults: &'static PromptDefaults,
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
            prompt_defaults: &prompt::GENERIC_DEFAULTS,
        })
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
        self.requests
            .send(Request::Fit {
                prompt: Box::new(prompt),
                reserve,
                reply,
            })
            .map_err(|_| LlmError::WorkerGone)?;
        rx.await.map_err(|_| LlmError::WorkerGone)?
    }

    /// Generates a reply to `messages` as they are (no fitting, no streaming, no cancel).
    pub async fn complete(
        &self,
        messages: Vec<super::ChatMessage>,
        sampling: Sampling,
    ) -> Result<Generation, LlmError> {
        let (reply, rx) = oneshot::channel();
        self.requests
            .send(Request::Complete {
                messages,
                sampling,
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
            Request::Complete {
                messages,
                sampling,
                reply,
            } => {
                let never = AtomicBool::new(false);
                let _ = reply.send(generator.generate(&messages, &sampling, &never, &mut |_| {}));
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
