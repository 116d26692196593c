//! The server's bearer token: made at first start into a file only its owner can read, and
//! checked on every request.

use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use lectern::Error;

use super::Shared;
use super::error::ApiError;

/// The token's file in the data folder, unless `--token-file` says otherwise.
pub const TOKEN_FILE: &str = "server-token";

/// The token in `file`, made (32 random bytes, hex) when the file does not exist. A file that
/// others may read is refused: anyone who reads it can use the library.
pub fn load_or_create(file: &Path) -> Result<String, Error> {
    let io_err = |source| Error::Io {
        path: file.to_owned(),
        source,
    };
    match std::fs::metadata(file) {
        Ok(meta) => {
            if meta.permissions().mode() & 0o077 != 0 {
                return Err(Error::InvalidInput(format!(
                    "{}: the token file can be read by other users; make it private (chmod 600)",
                    file.display()
                )));
            }
            let token = std::fs::read_to_string(file).map_err(io_err)?;
            let token = token.trim();
            if token.len() < 16 {
                return Err(Error::InvalidInput(format!(
                    "{}: the token file holds no token of at least 16 characters",
                    file.display()
                )));
            }
            Ok(token.to_owned())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(parent) = file.parent() {
                std::fs::create_dir_all(parent).map_err(io_err)?;
            }
            let mut random = [0_u8; 32];
            std::fs::File::open("/dev/urandom")
                .and_then(|mut f| f.read_exact(&mut random))
                .map_err(io_err)?;
            let token: String = random.iter().map(|b| format!("{b:02x}")).collect();
            let mut out = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(file)
                .map_err(io_err)?;
            writeln!(out, "{token}").map_err(io_err)?;
            Ok(token)
        }
        Err(e) => Err(io_err(e)),
    }
}

/// Lets a request through only with `Authorization: Bearer <token>` (when the server has one).
pub async fn require_token(State(server): State<Shared>, request: Request, next: Next) -> Response {
    let Some(token) = &server.token else {
        return next.run(request).await;
    };
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(given) if same_secret(given.trim().as_bytes(), token.as_bytes()) => {
            next.run(request).await
        }
        Some(_) => ApiError::unauthorized("the bearer token is not this server's").into_response(),
        None => ApiError::unauthorized(
            "a bearer token is required (Authorization: Bearer <token>; the token is in the server's token file)",
        )
        .into_response(),
    }
}

/// Compares in time that depends on the length only, so the token cannot be guessed byte by
/// byte from response times.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0_u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
