//! Built-in retrieval evaluation on a BEIR-layout dataset: each corpus entry becomes one
//! passage of a throwaway collection, every query is searched, and the ranked passages are
//! scored against the relevance judgements.

pub mod answers;
pub mod metrics;

use crate::ids::CollectionId;
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::embed::{BATCH_SIZE, EmbedWorker};
use crate::error::{Error, Result};
use crate::retrieve::{Retriever, SearchMode};
use crate::store::{Db, DocFormat, NewChunk, NewDocument};
use metrics::Judgements;

#[derive(Debug, Clone)]
pub struct CorpusEntry {
    pub id: String,
    pub title: String,
    pub text: String,
}

#[derive(Debug, Clone, Default)]
pub struct Dataset {
    pub corpus: Vec<CorpusEntry>,
    pub queries: Vec<(String, String)>,
    pub qrels: HashMap<String, Judgements>,
}

#[derive(serde::Deserialize)]
struct CorpusLine {
    #[serde(rename = "_id")]
    id: String,
    #[serde(default)]
    title: String,
    text: String,
}

#[derive(serde::Deserialize)]
struct QueryLine {
    #[serde(rename = "_id")]
    id: String,
    text: String,
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })
}

fn bad_line(path: &Path, line_idx: usize, reason: impl std::fmt::Display) -> Error {
    Error::Io {
        path: path.to_owned(),
        source: std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("line {}: {reason}", line_idx + 1),
        ),
    }
}

impl Dataset {
    /// Reads `corpus.jsonl`, `queries.jsonl` and `qrels/test.tsv` from a BEIR folder.
    pub fn load(dir: &Path) -> Result<Self> {
        let mut dataset = Self::default();
        let corpus_path = dir.join("corpus.jsonl");
        for (i, line) in read(&corpus_path)?
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let c: CorpusLine =
                serde_json::from_str(line).map_err(|e| bad_line(&corpus_path, i, e))?;
            dataset.corpus.push(CorpusEntry {
                id: c.id,
                title: c.title,
                text: c.text,
            });
        }
        let queries_path = dir.join("queries.jsonl");
        for (i, line) in read(&queries_path)?
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let q: QueryLine =
                serde_json::from_str(line).map_err(|e| bad_line(&queries_path, i, e))?;
            dataset.queries.push((q.id, q.text));
        }
        let qrels_path = dir.join("qrels/test.tsv");
        for (i, line) in read(&qrels_path)?.lines().enumerate() {
            let cols: Vec<&str> = line.split('\t').collect();
            if cols.len() < 3 || (i == 0 && cols[0] == "query-id") {
                continue;
            }
            let grade: u32 = cols[2]
                .trim()
                .parse()
                .map_err(|e| bad_line(&qrels_path, i, e))?;
            dataset
                .qrels
                .entry(cols[0].to_owned())
                .or_default()
                .insert(cols[1].to_owned(), grade);
        }
        // Queries without judgements cannot be scored.
        let qrels = &dataset.qrels;
        dataset.queries.retain(|(id, _)| qrels.contains_key(id));
        Ok(dataset)
    }
}

/// Mean scores of one search mode over a dataset's queries.
#[derive(Debug, Clone, PartialEq)]
pub struct ModeScores {
    pub mode: SearchMode,
    /// For hybrid mode: the keyword list's weight in the fusion.
    pub keyword_weight: Option<f32>,
    pub k: usize,
    pub n_queries: usize,
    pub recall_at_k: f64,
    pub success_at_k: f64,
    pub ndcg_at_10: f64,
    pub mrr_at_10: f64,
    /// Mean search time per query, query embedding excluded.
    pub search_time: Duration,
}

#[derive(Debug, Clone)]
pub struct EvalReport {
    pub n_passages: usize,
    pub index_time: Duration,
    pub query_embed_time: Duration,
    pub modes: Vec<ModeScores>,
}

/// Stores every corpus entry as one passage (never re-chunked) of the collection.
pub async fn ingest_corpus(
    db: &Db,
    embedder: &EmbedWorker,
    collection_id: CollectionId,
    corpus: &[CorpusEntry],
) -> Result<()> {
    for batch in corpus.chunks(BATCH_SIZE) {
        // As in BEIR's own protocol, a passage is searched as its title and text together.
        let texts: Vec<String> = batch
            .iter()
            .map(|c| {
                if c.title.is_empty() {
                    c.text.clone()
                } else {
                    format!("{}\n{}", c.title, c.text)
                }
            })
            .collect();
        let vectors = embedder.embed(texts.clone()).await?;
        for ((entry, text), embedding) in batch.iter().zip(texts).zip(vectors) {
            let n_chars = i64::try_from(text.chars().count()).unwrap_or(i64::MAX);
            db.replace_document(&NewDocument {
                collection_id,
                name: entry.id.clone(),
                source_path: format!("beir:{}", entry.id),
                format: DocFormat::Text,
                content_hash: format!(
                    "{:x}",
                    Sha256::digest(format!("{}\0{}", entry.id, entry.text))
                ),
                byte_len: i64::try_from(entry.text.len()).unwrap_or(i64::MAX),
                n_pages: None,
                n_ocr_pages: 0,
                embedding_model: embedder.model_id().to_owned(),
                source_mtime_ns: None,
                chunks: vec![NewChunk {
                    first_page: None,
                    last_page: None,
                    char_start: 0,
                    char_end: n_chars,
                    n_tokens: 0,
                    text,
                    embedding,
                    ocr: false,
                    section: None,
                }],
            })
            .await?;
        }
    }
    Ok(())
}

/// Indexes the dataset into `collection_id` (which must be empty) and scores each mode.
pub async fn evaluate(
    retriever: &Retriever,
    db: &Db,
    collection_id: CollectionId,
    dataset: &Dataset,
    k: usize,
    modes: &[SearchMode],
    keyword_weights: &[f32],
) -> Result<EvalReport> {
    let started = Instant::now();
    ingest_corpus(db, retriever.embedder(), collection_id, &dataset.corpus).await?;
    // Opening the index builds it from the stored vectors.
    retriever.indexes().get(db, collection_id).await?;
    let index_time = started.elapsed();

    let started = Instant::now();
    let mut query_vectors = Vec::with_capacity(dataset.queries.len());
    for batch in dataset.queries.chunks(BATCH_SIZE) {
        query_vectors.extend(
            retriever
                .embedder()
                .embed(batch.iter().map(|(_, t)| t.clone()).collect())
                .await?,
        );
    }
    let query_embed_time = started.elapsed();

    let depth = k.max(10);
    let mut scores = Vec::new();
    let runs: Vec<(SearchMode, Option<f32>)> = modes
        .iter()
        .flat_map(|&mode| match mode {
            SearchMode::Hybrid if !keyword_weights.is_empty() => keyword_weights
                .iter()
                .map(|&w| (mode, Some(w)))
                .collect::<Vec<_>>(),
            SearchMode::Hybrid => vec![(mode, Some(crate::retrieve::KEYWORD_WEIGHT))],
            _ => vec![(mode, None)],
        })
        .collect();
    for (mode, keyword_weight) in runs {
        let retriever = retriever
            .clone()
            .with_keyword_weight(keyword_weight.unwrap_or(crate::retrieve::KEYWORD_WEIGHT));
        let (mut recall, mut success, mut ndcg, mut mrr) = (0.0, 0.0, 0.0, 0.0);
        let started = Instant::now();
        for ((query_id, text), vector) in dataset.queries.iter().zip(&query_vectors) {
            let vector = (mode != SearchMode::Keyword).then(|| vector.clone());
            let hits = retriever
                .search_with_vector(collection_id, text, vector, depth, mode)
                .await?;
            let ranked: Vec<String> = hits.into_iter().map(|p| p.document).collect();
            let judged = &dataset.qrels[query_id];
            recall += metrics::recall_at(&ranked, judged, k);
            success += metrics::success_at(&ranked, judged, k);
            ndcg += metrics::ndcg_at(&ranked, judged, 10);
            mrr += metrics::mrr_at(&ranked, judged, 10);
        }
        let n = dataset.queries.len().max(1) as f64;
        scores.push(ModeScores {
            mode,
            keyword_weight,
            k,
            n_queries: dataset.queries.len(),
            recall_at_k: recall / n,
            success_at_k: success / n,
            ndcg_at_10: ndcg / n,
            mrr_at_10: mrr / n,
            search_time: started.elapsed()
                / u32::try_from(dataset.queries.len().max(1)).unwrap_or(1),
        });
    }
    Ok(EvalReport {
        n_passages: dataset.corpus.len(),
        index_time,
        query_embed_time,
        modes: scores,
    })
}
