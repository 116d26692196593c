//! The OpenAI-compatible endpoints. `GET /v1/models` lists one model per collection
//! (`lectern/NAME`) and the embedding model; `POST /v1/chat/completions` answers the last user
//! message from the collection its `model` names, streamed (SSE) or whole, with `[n]` markers
//! in the text and the citations and sources in a `lectern` field; `POST /v1/embeddings`
//! embeds with the library's embedding model.

use std::convert::Infallible;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use lectern::answer::{Answer, AskEvent, AskOptions, GivenTurn};
use lectern::job::CancelFlag;
use lectern::library::AnswerFinish;
use lectern::{ChatId, ErrorCode, MessageId};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::UnboundedReceiverStream;

use super::error::{ApiError, parse_body};
use super::{AnswerSlot, Shared};
use crate::wire::PassageJson;

/// A collection `NAME` is the model `lectern/NAME`.
pub const MODEL_PREFIX: &str = "lectern/";
/// The most texts one embeddings request may hold.
const MAX_EMBEDDING_INPUTS: usize = 256;
/// The most tokens a client may ask an answer to have.
const MAX_ANSWER_TOKENS: usize = 4096;

pub fn model_name(collection: &str) -> String {
    format!("{MODEL_PREFIX}{collection}")
}

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

// --- models -------------------------------------------------------------------------------

pub async fn models(State(server): State<Shared>) -> Result<Json<Value>, ApiError> {
    let library = server.session.library();
    let mut data: Vec<Value> = library
        .collections()
        .await?
        .iter()
        .map(|c| {
            json!({
                "id": model_name(&c.name),
                "object": "model",
                "created": c.created_at / 1000,
                "owned_by": "lectern",
            })
        })
        .collect();
    data.push(json!({
        "id": library.embedding().id(),
        "object": "model",
        "created": 0,
        "owned_by": "lectern",
    }));
    Ok(Json(json!({ "object": "list", "data": data })))
}

// --- chat completions -----------------------------------------------------------------------

#[derive(Deserialize)]
struct ChatRequest {
    model: String,
    messages: Vec<InMessage>,
    #[serde(default)]
    stream: bool,
    max_tokens: Option<usize>,
    max_completion_tokens: Option<usize>,
    temperature: Option<f32>,
    top_p: Option<f32>,
    seed: Option<u32>,
    n: Option<usize>,
    #[serde(default)]
    lectern: LecternRequest,
}

/// Lectern's own request fields, under `lectern` (OpenAI clients send them as `extra_body`).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct LecternRequest {
    /// Continue this stored chat: its messages are the history, and the request's earlier
    /// messages are not used.
    chat_id: Option<ChatId>,
    /// Passages to retrieve (default: the `retrieval.k` setting).
    k: Option<usize>,
}

#[derive(Deserialize)]
struct InMessage {
    role: Role,
    #[serde(default)]
    content: Option<Content>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Role {
    System,
    Developer,
    User,
    Assistant,
    Tool,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Content {
    Text(String),
    Parts(Vec<ContentPart>),
}

#[derive(Deserialize)]
struct ContentPart {
    #[serde(rename = "type")]
    kind: String,
    text: Option<String>,
}

impl Content {
    fn text(&self) -> Result<String, ApiError> {
        match self {
            Self::Text(text) => Ok(text.clone()),
            Self::Parts(parts) => parts
                .iter()
                .map(|part| match (part.kind.as_str(), &part.text) {
                    ("text", Some(text)) => Ok(text.as_str()),
                    (kind, _) => Err(ApiError::invalid(format!(
                        "message parts of type {kind:?} are not supported: only text"
                    ))),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(|texts| texts.join("\n")),
        }
    }
}

/// The question (the last user message) and the turns before it. System and developer
/// messages are left out: a collection's instruction is Lectern's to keep (`lectern prompt`).
struct Conversation {
    question: String,
    turns: Vec<GivenTurn>,
}

fn conversation(messages: &[InMessage]) -> Result<Conversation, ApiError> {
    let mut said: Vec<(Role, String)> = Vec::new();
    for message in messages {
        match message.role {
            Role::System | Role::Developer => continue,
            Role::Tool => {
                return Err(ApiError::invalid(
                    "tool messages are not supported: Lectern answers from its documents",
                ));
            }
            Role::User | Role::Assistant => {}
        }
        let text = match &message.content {
            Some(content) => content.text()?,
            None => String::new(),
        };
        match said.last_mut() {
            // Two messages of one side in a row read as one.
            Some((role, earlier)) if *role == message.role => {
                earlier.push('\n');
                earlier.push_str(&text);
            }
            _ => said.push((message.role, text)),
        }
    }
    let question = match said.pop() {
        Some((Role::User, question)) if !question.trim().is_empty() => question,
        _ => {
            return Err(ApiError::invalid(
                "the last message must be the user's question, and not empty",
            ));
        }
    };
    let mut turns = Vec::new();
    let mut said = said.into_iter().peekable();
    while let Some((role, text)) = said.next() {
        if role != Role::User {
            continue;
        }
        if let Some((Role::Assistant, answer)) = said.peek() {
            turns.push(GivenTurn::new(&text, answer));
            said.next();
        }
    }
    Ok(Conversation { question, turns })
}

/// The request's options over the collection's stored ones.
fn apply(request: &ChatRequest, mut options: AskOptions) -> Result<AskOptions, ApiError> {
    if request.n.is_some_and(|n| n != 1) {
        return Err(ApiError::invalid("n must be 1: one answer per request"));
    }
    if let Some(k) = request.lectern.k {
        if !(1..=50).contains(&k) {
            return Err(ApiError::invalid("lectern.k must be 1 to 50"));
        }
        options.k = k;
    }
    if let Some(max_tokens) = request.max_completion_tokens.or(request.max_tokens) {
        if !(1..=MAX_ANSWER_TOKENS).contains(&max_tokens) {
            return Err(ApiError::invalid(format!(
                "max_tokens must be 1 to {MAX_ANSWER_TOKENS}"
            )));
        }
        options.sampling.max_tokens = max_tokens;
    }
    if let Some(temperature) = request.temperature {
        if !(0.0..=2.0).contains(&temperature) {
            return Err(ApiError::invalid("temperature must be 0 to 2"));
        }
        options.sampling.temperature = temperature;
    }
    if let Some(top_p) = request.top_p {
        if !(top_p > 0.0 && top_p <= 1.0) {
            return Err(ApiError::invalid("top_p must be over 0 and at most 1"));
        }
        options.sampling.top_p = top_p;
    }
    if let Some(seed) = request.seed {
        options.sampling.seed = Some(seed);
    }
    Ok(options)
}

/// Cancels the answer when dropped: with the response (a client that went away) or its stream.
struct CancelOnDrop(CancelFlag);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

pub async fn chat_completions(
    State(server): State<Shared>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let request: ChatRequest = parse_body(body)?;
    let conversation = conversation(&request.messages)?;
    let library = server.session.library();
    let name = request
        .model
        .strip_prefix(MODEL_PREFIX)
        .unwrap_or(&request.model);
    let collection = library.collection_named(name).await.map_err(|e| {
        if e.code() == ErrorCode::NotFound {
            ApiError::new(
                StatusCode::NOT_FOUND,
                ErrorCode::NotFound.as_str(),
                format!(
                    "no collection named {name:?}: GET /v1/models lists them as {MODEL_PREFIX}NAME"
                ),
            )
        } else {
            e.into()
        }
    })?;
    let options = apply(
        &request,
        library
            .ask_options(collection.id, request.lectern.chat_id)
            .await?,
    )?;
    let slot = server.answer_slot()?;
    let answerer = server.session.answerer().await?;
    let model = model_name(&collection.name);
    let cancel = CancelFlag::default();
    let job = AnswerJob {
        answerer,
        options,
        conversation,
        cancel: cancel.clone(),
    };
    if request.stream {
        return Ok(stream(job, slot, model, cancel).into_response());
    }
    let _cancel_on_drop = CancelOnDrop(cancel);
    let _slot = slot;
    let answer = job.run(|_| {}).await?;
    Ok(Json(completion(&answer, &model)).into_response())
}

/// One answer to write, with what it needs.
struct AnswerJob {
    answerer: lectern::answer::Answerer,
    options: AskOptions,
    conversation: Conversation,
    cancel: CancelFlag,
}

impl AnswerJob {
    async fn run(self, on_event: impl FnMut(AskEvent<'_>)) -> Result<Answer, ApiError> {
        let Conversation { question, turns } = &self.conversation;
        let answer = if self.options.chat_id.is_some() || turns.is_empty() {
            self.answerer
                .ask(&self.options, question, self.cancel, on_event)
                .await?
        } else {
            self.answerer
                .ask_after_turns(&self.options, turns, question, self.cancel, on_event)
                .await?
        };
        Ok(answer)
    }
}

fn completion_id(message_id: Option<MessageId>) -> String {
    match message_id {
        Some(id) => format!("chatcmpl-lectern-{id}"),
        None => format!("chatcmpl-lectern-{}", now_s()),
    }
}

fn finish_reason(finish: AnswerFinish) -> &'static str {
    match finish {
        AnswerFinish::EndOfText | AnswerFinish::Cancelled => "stop",
        AnswerFinish::MaxTokens | AnswerFinish::ContextFull => "length",
    }
}

/// The `lectern` field of a finished answer: where it is stored, its text as stored (citations
/// checked; a marker-only answer replaced by a quote), what it cites and what it read.
fn answer_extension(answer: &Answer) -> Value {
    let message = &answer.message;
    json!({
        "chat_id": answer.chat.id,
        "message_id": message.id,
        "answer": message.answer,
        "citations": answer.citations().into_iter().map(PassageJson::stored).collect::<Vec<_>>(),
        "sources": message.passages.iter().map(PassageJson::stored).collect::<Vec<_>>(),
        "citations_matched": message.citations_matched,
        "quoted": message.quoted,
        "finish": message.finish.as_str(),
    })
}

fn usage(answer: &Answer) -> Value {
    let timings = &answer.message.timings;
    json!({
        "prompt_tokens": timings.prompt_tokens,
        "completion_tokens": timings.answer_tokens,
        "total_tokens": timings.prompt_tokens + timings.answer_tokens,
    })
}

fn completion(answer: &Answer, model: &str) -> Value {
    json!({
        "id": completion_id(Some(answer.message.id)),
        "object": "chat.completion",
        "created": now_s(),
        "model": model,
        "choices": [{
            "index": 0,
            "message": { "role": "assistant", "content": answer.message.answer },
            "finish_reason": finish_reason(answer.message.finish),
        }],
        "usage": usage(answer),
        "lectern": answer_extension(answer),
    })
}

/// The answer as server-sent events: a first chunk with the role and the retrieved sources,
/// one chunk per piece of text, a last chunk with the finish reason, usage and the `lectern`
/// field of the whole answer, then `[DONE]`. A failure after the first byte is sent as an
/// event holding the error. Dropping the stream (the client left) cancels the answer.
fn stream(
    job: AnswerJob,
    slot: AnswerSlot,
    model: String,
    cancel: CancelFlag,
) -> Sse<impl tokio_stream::Stream<Item = Result<Event, Infallible>>> {
    let (events, received) = mpsc::unbounded_channel::<Event>();
    tokio::spawn(async move {
        let _slot = slot;
        let id = completion_id(None);
        let created = now_s();
        // A chunk with Lectern's fields (`usage`, `lectern`) beside OpenAI's.
        let chunk = |delta: Value, finish: Option<&str>, extra: Vec<(&str, Value)>| {
            let mut value = json!({
                "id": id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }],
            });
            if let Some(object) = value.as_object_mut() {
                for (key, extra) in extra {
                    object.insert(key.to_owned(), extra);
                }
            }
            Event::default().data(value.to_string())
        };
        let result = job
            .run(|event| {
                let event = match event {
                    AskEvent::Sources(passages) => chunk(
                        json!({ "role": "assistant", "content": "" }),
                        None,
                        vec![(
                            "lectern",
                            json!({ "sources": PassageJson::retrieved(passages) }),
                        )],
                    ),
                    AskEvent::Text(text) => chunk(json!({ "content": text }), None, Vec::new()),
                    AskEvent::Reading { .. } => return,
                };
                let _ = events.send(event);
            })
            .await;
        let last = match result {
            Ok(answer) => chunk(
                json!({}),
                Some(finish_reason(answer.message.finish)),
                vec![
                    ("usage", usage(&answer)),
                    ("lectern", answer_extension(&answer)),
                ],
            ),
            Err(e) => Event::default().data(e.body().to_string()),
        };
        let _ = events.send(last);
        let _ = events.send(Event::default().data("[DONE]"));
    });
    let cancel_on_drop = CancelOnDrop(cancel);
    let stream = UnboundedReceiverStream::new(received).map(move |event| {
        let _held_until_the_stream_ends = &cancel_on_drop;
        Ok(event)
    });
    // Comments while the model reads the prompt: they keep proxies from closing a quiet
    // connection and let a client that left be noticed within a second or two.
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(1)))
}

// --- embeddings ---------------------------------------------------------------------------------

#[derive(Deserialize)]
struct EmbeddingRequest {
    input: EmbeddingInput,
    model: String,
    #[serde(default)]
    encoding_format: EncodingFormat,
    dimensions: Option<usize>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum EmbeddingInput {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum EncodingFormat {
    #[default]
    Float,
    /// Little-endian f32s, base64: what the official Python client asks for by default.
    Base64,
}

pub async fn embeddings(
    State(server): State<Shared>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let request: EmbeddingRequest = parse_body(body)?;
    let library = server.session.library();
    let model = library.embedding();
    let model_id = model.id();
    if request.model != model_id {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound.as_str(),
            format!(
                "no embedding model {:?}: this library embeds with {}",
                request.model, model_id
            ),
        ));
    }
    if request.dimensions.is_some_and(|d| d != model.dims()) {
        return Err(ApiError::invalid(format!(
            "{model_id} gives {} dimensions; it cannot give others",
            model.dims()
        )));
    }
    let texts = match request.input {
        EmbeddingInput::One(text) => vec![text],
        EmbeddingInput::Many(texts) => texts,
    };
    if texts.is_empty() || texts.len() > MAX_EMBEDDING_INPUTS {
        return Err(ApiError::invalid(format!(
            "input must hold 1 to {MAX_EMBEDDING_INPUTS} texts"
        )));
    }
    if let Some(i) = texts.iter().position(|t| t.trim().is_empty()) {
        return Err(ApiError::invalid(format!("input {i} is empty")));
    }
    let retriever = server.session.retriever().await?;
    let n_tokens: usize = texts.iter().map(|t| t.split_whitespace().count()).sum();
    let vectors = retriever
        .embedder()
        .embed(texts)
        .await
        .map_err(lectern::Error::from)?;
    let data: Vec<Value> = vectors
        .iter()
        .enumerate()
        .map(|(index, vector)| {
            let embedding = match request.encoding_format {
                EncodingFormat::Float => json!(vector),
                EncodingFormat::Base64 => {
                    let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
                    json!(base64::engine::general_purpose::STANDARD.encode(bytes))
                }
            };
            json!({ "object": "embedding", "index": index, "embedding": embedding })
        })
        .collect();
    Ok(Json(json!({
        "object": "list",
        "data": data,
        "model": model_id,
        // Words, not tokens: counting tokens would load the tokenizer for a figure no client
        // bills by here.
        "usage": { "prompt_tokens": n_tokens, "total_tokens": n_tokens },
    })))
}
