//! `lectern serve`: the library over HTTP for other programs. OpenAI-compatible chat
//! completions (a collection is a model, answers carry their citations), embeddings, the
//! collections with their search, and the MCP tools of `lectern mcp` at `/mcp` (streamable
//! HTTP). Loopback and a bearer token by default; every request goes
//! through the same `Session` the app holds, so the core's rules (one model thread, one ingest
//! at a time) hold here too. Answers use the library's selected model, as in the app.

mod auth;
mod collections;
mod error;
mod openai;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use lectern::{Error, Library, Session};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};

use crate::output::Out;
use error::ApiError;

/// Largest request body: a question with its conversation, or a batch of texts to embed.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Largest upload: the largest PDF Lectern reads, with room for the multipart framing.
pub const MAX_UPLOAD_BYTES: usize = lectern::extract::MAX_PDF_BYTES as usize + (1 << 20);
/// Answers waiting for the model thread behind the one it is writing; one more is refused with
/// 429 at once rather than left to hang.
pub const DEFAULT_MAX_WAITING: usize = 4;

/// How `lectern serve` was asked to run.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub bind: SocketAddr,
    /// Where the bearer token is kept (default: `server-token` in the data folder).
    pub token_file: Option<PathBuf>,
    /// Serve without a token: refused for anything but a loopback address.
    pub no_token: bool,
    pub max_waiting: usize,
}

/// What every request handler shares.
struct Server {
    session: Arc<Session>,
    token: Option<String>,
    /// Answers being written or waiting for the model thread.
    answers_in_flight: AtomicUsize,
    max_answers: usize,
}

type Shared = Arc<Server>;

impl Server {
    /// A place among the answers in flight, or 429 when the queue is full.
    fn answer_slot(self: &Arc<Self>) -> Result<AnswerSlot, ApiError> {
        let before = self.answers_in_flight.fetch_add(1, Ordering::SeqCst);
        let slot = AnswerSlot(Arc::clone(self));
        if before >= self.max_answers {
            return Err(ApiError::busy(before));
        }
        Ok(slot)
    }
}

/// Held while an answer is written or waits; gives its place back when dropped.
struct AnswerSlot(Shared);

impl Drop for AnswerSlot {
    fn drop(&mut self) {
        self.0.answers_in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

pub async fn run(library: Library, options: ServeOptions, out: &Out) -> Result<(), Error> {
    let token = if options.no_token {
        if !options.bind.ip().is_loopback() {
            return Err(Error::InvalidInput(format!(
                "refusing to serve {} without a token: only a loopback address may go without one",
                options.bind
            )));
        }
        None
    } else {
        let file = options
            .token_file
            .clone()
            .unwrap_or_else(|| library.paths().data_dir.join(auth::TOKEN_FILE));
        Some((auth::load_or_create(&file)?, file))
    };
    let session = Arc::new(crate::commands::ingest::session(library)?);
    let server = Arc::new(Server {
        session,
        token: token.as_ref().map(|(token, _)| token.clone()),
        answers_in_flight: AtomicUsize::new(0),
        max_answers: 1 + options.max_waiting,
    });
    let socket_err = |source| Error::Io {
        path: options.bind.to_string().into(),
        source,
    };
    let listener = tokio::net::TcpListener::bind(options.bind)
        .await
        .map_err(socket_err)?;
    let address = listener.local_addr().map_err(socket_err)?;
    out.serving(address, token.as_ref().map(|(_, file)| file.as_path()));
    axum::serve(listener, router(server, options.bind.ip().is_loopback()))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|source| Error::Io {
            path: address.to_string().into(),
            source,
        })
}

fn router(server: Shared, loopback: bool) -> Router {
    let mcp_config =
        StreamableHttpServerConfig::default().with_max_request_body_bytes(MAX_BODY_BYTES);
    // The default allows loopback host names only, against DNS rebinding of a local server;
    // a server on another address always has a token, which a rebinding page cannot send.
    let mcp_config = if loopback {
        mcp_config
    } else {
        mcp_config.disable_allowed_hosts()
    };
    let session = Arc::clone(&server.session);
    let mcp = StreamableHttpService::new(
        move || Ok(crate::mcp::Tools::new(Arc::clone(&session))),
        Arc::new(LocalSessionManager::default()),
        mcp_config,
    );
    Router::new()
        .nest_service("/mcp", mcp)
        .route("/v1/models", get(openai::models))
        .route("/v1/chat/completions", post(openai::chat_completions))
        .route("/v1/embeddings", post(openai::embeddings))
        .route("/v1/collections", get(collections::list))
        .route("/v1/collections/{id}/search", post(collections::search))
        .route(
            "/v1/collections/{id}/documents",
            post(collections::upload).layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES)),
        )
        .fallback(error::no_such_route)
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&server),
            auth::require_token,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(server)
}
