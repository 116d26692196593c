//! `GET /v1/collections` and `POST /v1/collections/{id}/search` (the `lectern search --json`
//! shape). Documents are named, never located: no response holds a path on the server.

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
