//! The server's one error shape, OpenAI's (`{"error": {"message", "type", "code", "param"}}`),
//! with Lectern's stable code in `code` and an HTTP status chosen by an exhaustive match on
//! the core's `ErrorCode`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use lectern::{Error, ErrorCode};
use serde::de::DeserializeOwned;

/// A failed request: what the client reads.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    /// Lectern's code (`ErrorCode::as_str`), or one of the server's own: `unauthorized`,
    /// `busy`, `no_such_route`, `too_large`.
    code: &'static str,
    message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidInput.as_str(),
            message,
        )
    }

    pub fn unauthorized(message: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// The answer queue is full: `in_flight` answers are being written or waiting.
    pub fn busy(in_flight: usize) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "busy",
            format!(
                "{in_flight} answers are being written or waiting for the model; try again shortly"
            ),
        )
    }

    /// OpenAI's error `type`, which its clients map to exception classes.
    fn kind(&self) -> &'static str {
        match self.status {
            StatusCode::UNAUTHORIZED => "authentication_error",
            StatusCode::NOT_FOUND => "not_found_error",
            StatusCode::TOO_MANY_REQUESTS => "rate_limit_error",
            s if s.is_server_error() => "server_error",
            _ => "invalid_request_error",
        }
    }

    /// The body as a JSON value: also sent as the last event of a stream that failed.
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({
            "error": {
                "message": self.message,
                "type": self.kind(),
                "code": self.code,
                "param": null,
            }
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body())).into_response();
        if self.status == StatusCode::TOO_MANY_REQUESTS {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
        }
        response
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let code = e.code();
        Self::new(status_of(code), code.as_str(), e.to_string())
    }
}

/// The HTTP status of a core failure: the client's fault (4xx) or the server's (5xx).
fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::InvalidInput
        | ErrorCode::UnsupportedFormat
        | ErrorCode::NotUtf8
        | ErrorCode::Empty
        | ErrorCode::TooMuchText
        | ErrorCode::PasswordRequired
        | ErrorCode::WrongPassword
        | ErrorCode::MalformedPdf
        | ErrorCode::MalformedDocument
        | ErrorCode::NoTextLayer
        | ErrorCode::GarbledText
        | ErrorCode::PromptTooLong => StatusCode::BAD_REQUEST,
        ErrorCode::NotFound | ErrorCode::CollectionDeleted => StatusCode::NOT_FOUND,
        ErrorCode::AlreadyExists | ErrorCode::EmbeddingModelChanged => StatusCode::CONFLICT,
        ErrorCode::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        // Nginx's "client closed request": only a client that left sees a cancelled answer.
        ErrorCode::Cancelled => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
        ErrorCode::Timeout => StatusCode::GATEWAY_TIMEOUT,
        ErrorCode::ModelMissing
        | ErrorCode::RuntimeMissing
        | ErrorCode::ModelInvalid
        | ErrorCode::UnsupportedCpu
        | ErrorCode::ExtractorUnavailable
        | ErrorCode::NewerDatabase => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Io
        | ErrorCode::ParserFailed
        | ErrorCode::ParserCrashed
        | ErrorCode::EmbedFailed
        | ErrorCode::StoreFailed
        | ErrorCode::Database
        | ErrorCode::Index
        | ErrorCode::GenerationFailed
        | ErrorCode::DownloadFailed
        | ErrorCode::ChecksumMismatch
        | ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A JSON body read into `T`, every failure (too large, not JSON, wrong fields) in the
/// server's error shape rather than axum's plain text.
pub fn parse_body<T: DeserializeOwned>(body: Result<Bytes, BytesRejection>) -> Result<T, ApiError> {
    let bytes = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::TooLarge.as_str(),
                format!(
                    "the request body is over {} KiB",
                    super::MAX_BODY_BYTES / 1024
                ),
            )
        } else {
            ApiError::invalid(format!(
                "cannot read the request body: {}",
                rejection.body_text()
            ))
        }
    })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::invalid(format!(
            "the request body is not what this endpoint takes: {e}"
        ))
    })
}

pub async fn no_such_route(uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no_such_route",
        format!("no endpoint {}", uri.path()),
    )
}
