//! `GET /v1/collections`, `POST /v1/collections/{id}/search` (the `lectern search --json`
//! shape) and `POST /v1/collections/{id}/documents` (multipart files, ingested through the
//! isolated extraction like a drop on the app). Documents are named, never located: no
//! request can name a path on the server and no response holds one.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use lectern::CollectionId;
use lectern::retrieve::SearchMode;
use serde::{Deserialize, Serialize};

use super::Shared;
use super::error::{ApiError, parse_body};
use crate::output::SearchJson;

/// The most passages one search returns.
const MAX_K: usize = 100;

#[derive(Serialize)]
pub struct CollectionJson {
    id: CollectionId,
    name: String,
    /// The name to give as `model` in chat completions.
    model: String,
    documents: i64,
    passages: i64,
    created_at: i64,
}

#[derive(Serialize)]
pub struct CollectionList {
    object: &'static str,
    data: Vec<CollectionJson>,
}

pub async fn list(State(server): State<Shared>) -> Result<Json<CollectionList>, ApiError> {
    let collections = server.session.library().collections().await?;
    Ok(Json(CollectionList {
        object: "list",
        data: collections
            .into_iter()
            .map(|c| CollectionJson {
                id: c.id,
                model: super::openai::model_name(&c.name),
                name: c.name,
                documents: c.n_documents,
                passages: c.n_chunks,
                created_at: c.created_at,
            })
            .collect(),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchRequest {
    query: String,
    #[serde(default = "default_k")]
    k: usize,
    #[serde(default)]
    mode: Mode,
}

fn default_k() -> usize {
    8
}

#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum Mode {
    #[default]
    Hybrid,
    Vector,
    Keyword,
}

impl From<Mode> for SearchMode {
    fn from(mode: Mode) -> Self {
        match mode {
            Mode::Hybrid => Self::Hybrid,
            Mode::Vector => Self::Vector,
            Mode::Keyword => Self::Keyword,
        }
    }
}

pub async fn search(
    State(server): State<Shared>,
    Path(id): Path<i64>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let request: SearchRequest = parse_body(body)?;
    if request.query.trim().is_empty() {
        return Err(ApiError::invalid("the query is empty"));
    }
    if !(1..=MAX_K).contains(&request.k) {
        return Err(ApiError::invalid(format!("k must be 1 to {MAX_K}")));
    }
    let collection = server
        .session
        .library()
        .collection(CollectionId(id))
        .await?;
    let retriever = server.session.retriever().await?;
    let hits = retriever
        .search(
            collection.id,
            &request.query,
            request.k,
            request.mode.into(),
        )
        .await?;
    let json = serde_json::to_value(SearchJson::new(&request.query, &hits))
        .map_err(|e| ApiError::invalid(format!("cannot write the result: {e}")))?;
    Ok(Json(json))
}

/// What one sent file became.
#[derive(Serialize)]
struct UploadOutcome {
    name: String,
    /// `indexed`, `skipped` (the same bytes are already in the collection) or `failed`.
    status: &'static str,
    document_id: Option<lectern::DocumentId>,
    pages: Option<usize>,
    passages: usize,
    error: Option<serde_json::Value>,
}

/// Takes the files of a `multipart/form-data` body (every part with a file name), keeps each
/// in the library's uploads folder and ingests them in one job; one outcome per file. A file
/// that cannot be read fails alone, with its reason.
pub async fn upload(
    State(server): State<Shared>,
    Path(id): Path<i64>,
    multipart: Result<axum::extract::Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let mut multipart =
        multipart.map_err(|e| ApiError::invalid(format!("expected multipart/form-data: {e}")))?;
    let library = server.session.library();
    let collection = library.collection(CollectionId(id)).await?;
    let mut names = Vec::new();
    let mut paths = Vec::new();
    let mut password = None;
    while let Some(mut field) = multipart.next_field().await.map_err(upload_error)? {
        if field.name() == Some("password") && field.file_name().is_none() {
            password = Some(field.text().await.map_err(upload_error)?);
            continue;
        }
        let Some(name) = field.file_name().map(str::to_owned) else {
            continue;
        };
        let path = library.upload_path(collection.id, &name)?;
        let io_err = |source| lectern::Error::Io {
            path: std::path::PathBuf::from(&name),
            source,
        };
        if let Some(folder) = path.parent() {
            tokio::fs::create_dir_all(folder).await.map_err(io_err)?;
        }
        // Written beside, then renamed: a half-sent file never replaces a whole one.
        let partial = path.with_extension("part-upload");
        let mut file = tokio::fs::File::create(&partial).await.map_err(io_err)?;
        while let Some(bytes) = field.chunk().await.map_err(upload_error)? {
            tokio::io::AsyncWriteExt::write_all(&mut file, &bytes)
                .await
                .map_err(io_err)?;
        }
        tokio::io::AsyncWriteExt::flush(&mut file)
            .await
            .map_err(io_err)?;
        drop(file);
        tokio::fs::rename(&partial, &path).await.map_err(io_err)?;
        names.push(name);
        paths.push(path);
    }
    if paths.is_empty() {
        return Err(ApiError::invalid(
            "no files: send each as a multipart part with a file name",
        ));
    }
    let work = lectern::library::IngestWork::Files {
        paths: paths.clone(),
        password,
    };
    let report = server
        .session
        .ingest(
            collection.id,
            work,
            None,
            &lectern::job::CancelFlag::default(),
        )
        .await?;
    let files: Vec<UploadOutcome> = report
        .files
        .iter()
        .map(|outcome| {
            // Named as the client sent it: the outcome's path is the server's, and so is the
            // one its error message starts with.
            let name = paths
                .iter()
                .position(|p| *p == outcome.path)
                .map_or_else(|| String::from("?"), |i| names[i].clone());
            let error = outcome.error.as_ref().map(|e| {
                let message = e
                    .to_string()
                    .replace(&*outcome.path.to_string_lossy(), &name);
                serde_json::json!({ "code": e.code().as_str(), "message": message })
            });
            UploadOutcome {
                name,
                status: outcome.status.as_str(),
                document_id: outcome.document_id,
                pages: outcome.n_pages,
                passages: outcome.n_chunks,
                error,
            }
        })
        .collect();
    Ok(Json(serde_json::json!({ "files": files })))
}

fn upload_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    ApiError::new(
        e.status(),
        lectern::ErrorCode::InvalidInput.as_str(),
        format!("cannot read the upload: {}", e.body_text()),
    )
}
