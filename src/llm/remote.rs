//! An OpenAI-compatible server as the language model: llama.cpp's `llama-server`, vLLM,
//! Ollama or LM Studio, all of which speak `/v1/chat/completions`. Lectern keeps the prompt,
//! citations and history; only generation (and, where the server offers `/tokenize`, token
//! counting) goes over the wire. It runs on the model thread like `LlamaEngine`, so the
//! blocking HTTP client is in its place there.

use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{ChatMessage, Finish, Generation, Generator, Progress, Sampling};
use crate::error::LlmError;
use crate::job::CancelFlag;

/// The context window assumed when an endpoint's is not given.
pub const DEFAULT_ENDPOINT_CTX: usize = 4096;

/// A language model behind an OpenAI-compatible server, as the config file keeps it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// What Lectern calls it; selected as the model `endpoint:NAME`.
    pub name: String,
    /// The server's OpenAI API root, such as `http://gpu-box:8080/v1`.
    pub base_url: String,
    /// The model the server is asked for (`model` in each request).
    pub model: String,
    /// Sent as a bearer token; kept only in the config file, which only its owner can read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    /// The server's context window in tokens.
    #[serde(default = "default_n_ctx")]
    pub n_ctx: usize,
    /// Seconds to wait for the server's first byte, and then between any two: past it the
    /// answer ends with an error naming the endpoint.
    #[serde(default = "default_timeout_s")]
    pub timeout_s: u64,
}

fn default_n_ctx() -> usize {
    DEFAULT_ENDPOINT_CTX
}

/// Reading a 4,000-token prompt on a CPU-only server takes about a minute; three leave room.
pub const DEFAULT_ENDPOINT_TIMEOUT_S: u64 = 180;

fn default_timeout_s() -> u64 {
    DEFAULT_ENDPOINT_TIMEOUT_S
}

/// Never prints the key: endpoints end up in logs and error reports.
impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("name", &self.name)
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "(set)"))
            .field("n_ctx", &self.n_ctx)
            .field("timeout_s", &self.timeout_s)
            .finish()
    }
}

impl Endpoint {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.base_url.trim_end_matches('/'))
    }

    /// The server's root, where llama-server and vLLM answer `/tokenize`.
    fn root_url(&self, path: &str) -> String {
        let base = self.base_url.trim_end_matches('/');
        format!("{}/{path}", base.strip_suffix("/v1").unwrap_or(base))
    }

    /// Why a request got no reply, in words: a timeout says how long it waited.
    pub(crate) fn unreachable(&self, e: &ureq::Error) -> String {
        match e {
            ureq::Error::Timeout(_) => format!(
                "no reply within {} s (the endpoint's timeout); the server may be busy or stuck",
                self.timeout_s
            ),
            e => e.to_string(),
        }
    }

    fn fail(&self, reason: impl Into<String>) -> LlmError {
        LlmError::Endpoint {
            name: self.name.clone(),
            url: self.base_url.clone(),
            reason: reason.into(),
        }
    }
}

/// The HTTP client for an endpoint: status codes are read, not raised, so a server's own
/// error message reaches the user.
pub(crate) fn http_agent(endpoint: &Endpoint) -> ureq::Agent {
    let wait = Some(Duration::from_secs(endpoint.timeout_s.max(1)));
    ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(10)))
        // Reading a long prompt on a busy server comes before the first byte.
        .timeout_recv_response(wait)
        .timeout_per_read(wait)
        .http_status_as_error(false)
        .build()
        .into()
}

/// Generation through an [`Endpoint`].
pub struct RemoteEngine {
    endpoint: Endpoint,
    agent: ureq::Agent,
    display_name: String,
    /// Whether the server answered `/tokenize`; `None` until asked.
    tokenizes: Option<bool>,
}

impl RemoteEngine {
    /// Connects to the endpoint and checks that it answers `/models`.
    pub fn connect(endpoint: Endpoint) -> Result<Self, LlmError> {
        let agent = http_agent(&endpoint);
        let engine = Self {
            display_name: format!("{} ({})", endpoint.model, endpoint.name),
            endpoint,
            agent,
            tokenizes: None,
        };
        engine.models()?;
        Ok(engine)
    }

    /// The models the server lists (`GET /models`).
    pub fn models(&self) -> Result<Vec<String>, LlmError> {
        let mut request = self.agent.get(self.endpoint.url("models"));
        if let Some(key) = &self.endpoint.api_key {
            request = request.header("Authorization", format!("Bearer {key}"));
        }
        let mut response = request
            .call()
            .map_err(|e| self.endpoint.fail(self.endpoint.unreachable(&e)))?;
        let status = response.status().as_u16();
        let body = response.body_mut().read_to_string().unwrap_or_default();
        if status != 200 {
            return Err(self.endpoint.fail(server_error(status, &body)));
        }
        let listed: Value = serde_json::from_str(&body)
            .map_err(|e| self.endpoint.fail(format!("/models is not JSON: {e}")))?;
        Ok(listed["data"]
            .as_array()
            .map(|models| {
                models
                    .iter()
                    .filter_map(|m| m["id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default())
    }

    fn post(
        &self,
        url: String,
        body: &Value,
    ) -> Result<ureq::http::Response<ureq::Body>, LlmError> {
        let mut request = self
            .agent
            .post(url)
            .header("Content-Type", "application/json");
        if let Some(key) = &self.endpoint.api_key {
            request = request.header("Authorization", format!("Bearer {key}"));
        }
        request
            .send(body.to_string())
            .map_err(|e| self.endpoint.fail(self.endpoint.unreachable(&e)))
    }

    /// Tokens of `text` by the server's own tokenizer, when it has `/tokenize`.
    fn server_count(&mut self, text: &str) -> Option<usize> {
        if self.tokenizes == Some(false) {
            return None;
        }
        let body = json!({ "content": text, "prompt": text, "model": self.endpoint.model });
        let counted = self
            .post(self.endpoint.root_url("tokenize"), &body)
            .ok()
            .filter(|r| r.status().as_u16() == 200)
            .and_then(|mut r| r.body_mut().read_to_string().ok())
            .and_then(|b| serde_json::from_str::<Value>(&b).ok())
            .and_then(|v| {
                v["tokens"]
                    .as_array()
                    .map(Vec::len)
                    .or_else(|| v["count"].as_u64().map(|n| n as usize))
            });
        self.tokenizes = Some(counted.is_some());
        counted
    }
}

/// Tokens a chat template adds around each message (role markers, separators), generously.
const TEMPLATE_TOKENS_PER_MESSAGE: usize = 8;

pub(crate) fn server_error(status: u16, body: &str) -> String {
    let message = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| body.chars().take(200).collect());
    format!("the server answered {status}: {message}")
}

impl Generator for RemoteEngine {
    fn model_name(&self) -> &str {
        &self.display_name
    }

    fn n_ctx(&self) -> usize {
        self.endpoint.n_ctx
    }

    /// The server's count of the messages' text where it has `/tokenize`, else an estimate
    /// that errs high (a character a token would be exact only for the worst text; English
    /// runs about four to a token): a prompt fitted to it never overflows the server.
    fn count_tokens(&mut self, messages: &[ChatMessage]) -> Result<usize, LlmError> {
        let text: String = messages
            .iter()
            .map(|m| m.content.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        let overhead = TEMPLATE_TOKENS_PER_MESSAGE * (messages.len() + 1);
        Ok(match self.server_count(&text) {
            Some(n) => n + overhead,
            None => text.chars().count().div_ceil(3) + overhead,
        })
    }

    fn generate(
        &mut self,
        messages: &[ChatMessage],
        sampling: &Sampling,
        cancel: &CancelFlag,
        on_progress: &mut dyn FnMut(Progress<'_>),
    ) -> Result<Generation, LlmError> {
        let started = Instant::now();
        let n_prompt_estimate = self.count_tokens(messages)?;
        on_progress(Progress::Reading {
            done: 0,
            total: n_prompt_estimate,
        });
        let mut body = json!({
            "model": self.endpoint.model,
            "messages": messages
                .iter()
                .map(|m| json!({ "role": m.role.as_str(), "content": m.content }))
                .collect::<Vec<_>>(),
            "stream": true,
            "stream_options": { "include_usage": true },
            "max_tokens": sampling.max_tokens,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
        });
        if let Some(seed) = sampling.seed {
            body["seed"] = json!(seed);
        }
        if !sampling.stop.is_empty() {
            body["stop"] = json!(sampling.stop);
        }
        let mut response = self.post(self.endpoint.url("chat/completions"), &body)?;
        let status = response.status().as_u16();
        if status != 200 {
            let body = response.body_mut().read_to_string().unwrap_or_default();
            return Err(self.endpoint.fail(server_error(status, &body)));
        }
        let mut text = String::new();
        let mut finish = None;
        let mut first_token_ms = None;
        let mut first_token_at = None;
        // Prompt, answer and cached prompt tokens, as the server counts them.
        let mut usage = (None, None, None);
        let mut n_pieces = 0;
        let lines = BufReader::new(response.into_body().into_reader()).lines();
        for line in lines {
            if cancel.is_cancelled() {
                // Dropping the stream closes the connection, which stops the server too.
                finish = Some(Finish::Cancelled);
                break;
            }
            let line =
                line.map_err(|e| self.endpoint.fail(format!("the answer broke off: {e}")))?;
            let Some(data) = line.strip_prefix("data:").map(str::trim) else {
                continue;
            };
            if data == "[DONE]" {
                break;
            }
            let chunk: Value = serde_json::from_str(data).map_err(|e| {
                self.endpoint
                    .fail(format!("a streamed piece is not JSON: {e}"))
            })?;
            if chunk.get("error").is_some() {
                return Err(self.endpoint.fail(server_error(200, data)));
            }
            if let Some(u) = chunk.get("usage").filter(|u| u.is_object()) {
                usage = (
                    u["prompt_tokens"].as_u64(),
                    u["completion_tokens"].as_u64(),
                    u["prompt_tokens_details"]["cached_tokens"].as_u64(),
                );
            }
            let Some(choice) = chunk["choices"].get(0) else {
                continue;
            };
            if let Some(piece) = choice["delta"]["content"]
                .as_str()
                .filter(|p| !p.is_empty())
            {
                if first_token_ms.is_none() {
                    first_token_ms = Some(started.elapsed().as_secs_f64() * 1000.0);
                    first_token_at = Some(Instant::now());
                    on_progress(Progress::Reading {
                        done: n_prompt_estimate,
                        total: n_prompt_estimate,
                    });
                }
                n_pieces += 1;
                text.push_str(piece);
                on_progress(Progress::Text(piece));
            }
            match choice["finish_reason"].as_str() {
                Some("length") => finish = Some(Finish::MaxTokens),
                Some(_) => finish = Some(Finish::EndOfText),
                None => {}
            }
        }
        let finish = finish.ok_or_else(|| {
            self.endpoint
                .fail("the server closed the answer before its end")
        })?;
        let usize_of = |n: Option<u64>| n.and_then(|n| usize::try_from(n).ok());
        Ok(Generation {
            text,
            finish,
            n_prompt_tokens: usize_of(usage.0).unwrap_or(n_prompt_estimate),
            n_reused_tokens: usize_of(usage.2).unwrap_or(0),
            n_generated_tokens: usize_of(usage.1).unwrap_or(n_pieces),
            prompt_ms: first_token_ms.unwrap_or_default(),
            first_token_ms,
            generation_ms: first_token_at.map_or(0.0, |at| at.elapsed().as_secs_f64() * 1000.0),
        })
    }
}
