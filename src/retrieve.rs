//! Search over a collection: vector search (HNSW), keyword search (SQLite FTS5, BM25), and
//! their reciprocal-rank fusion, returning passages with document and page.

use crate::ids::{CollectionId, DocumentId};
use std::collections::HashMap;

use crate::embed::EmbedWorker;
use crate::error::Result;
use crate::index::IndexSet;
use crate::store::Db;

/// RRF's k: dampens the weight of the very first ranks so that agreement between the two
/// lists counts more than either list's top hit (the constant of Cormack et al.).
const RRF_K: f32 = 60.0;
/// Weight of the keyword ranking against the vector ranking in hybrid fusion. Keyword search
/// alone is much the weaker of the two on faq-dev; at equal weight its misses pulled hybrid
/// below vector search, while any weight from 0.1 to 0.3 lifted hybrid above both
/// (docs/BENCHMARKS.md). 0.2 is the middle of that range.
pub const KEYWORD_WEIGHT: f32 = 0.2;
/// Matching rows keyword search scores at most before it leaves out the query's commonest
/// words. 5,000 brought hybrid search under 50 ms p50 at 300k passages while keeping 90 % of
/// its exact-BM25 top 10; faq-dev (2.4k passages) scores the same with or without it
/// (docs/BENCHMARKS.md).
pub const KEYWORD_ROW_BUDGET: usize = 5_000;

/// Each ranked list is cut deeper than k so that fusion can lift a passage that one list
/// ranks low and the other high.
fn list_depth(k: usize) -> usize {
    (k * 5).max(50)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SearchMode {
    #[default]
    Hybrid,
    Vector,
    Keyword,
}

impl SearchMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hybrid => "hybrid",
            Self::Vector => "vector",
            Self::Keyword => "keyword",
        }
    }
}

/// One search result.
#[derive(Debug, Clone, PartialEq)]
pub struct Passage {
    pub chunk_id: i64,
    pub document_id: DocumentId,
    pub document: String,
    pub first_page: Option<i64>,
    pub last_page: Option<i64>,
    /// Cosine similarity (vector), negated BM25 (keyword) or fused RRF score (hybrid): higher
    /// is better, comparable only within one result list.
    pub score: f32,
    /// Cosine similarity to the query, where the vector search ranked this passage (not in
    /// keyword mode). Unlike `score`, it means the same in every search: the answer path
    /// reads the best one to tell a question the collection is about from one it is not.
    pub similarity: Option<f32>,
    pub text: String,
    /// Drawn from a page read by OCR: its words may be misread.
    pub ocr: bool,
    /// The title of its section (Word, EPUB, HTML), named in place of a page.
    pub section: Option<String>,
}

/// Finds passages in a library's collections.
#[derive(Debug, Clone)]
pub struct Retriever {
    db: Db,
    embedder: EmbedWorker,
    indexes: IndexSet,
    keyword_weight: f32,
    keyword_row_budget: usize,
}

impl Retriever {
    pub fn new(db: Db, embedder: EmbedWorker, indexes: IndexSet) -> Self {
        Self {
            db,
            embedder,
            indexes,
            keyword_weight: KEYWORD_WEIGHT,
            keyword_row_budget: KEYWORD_ROW_BUDGET,
        }
    }

    /// The weight of keyword results against vector results in hybrid mode (vector: 1).
    pub fn with_keyword_weight(mut self, weight: f32) -> Self {
        self.keyword_weight = weight;
        self
    }

    /// How many matching rows keyword search may score before it leaves out common words
    /// (`usize::MAX`: never; exact BM25 over all the query's words).
    pub fn with_keyword_row_budget(mut self, budget: usize) -> Self {
        self.keyword_row_budget = budget;
        self
    }

    pub fn embedder(&self) -> &EmbedWorker {
        &self.embedder
    }

    pub fn indexes(&self) -> &IndexSet {
        &self.indexes
    }

    /// The `k` best passages of the collection for `query`. In hybrid mode the keyword search
    /// runs while the query is embedded and the vector index searched.
    pub async fn search(
        &self,
        collection_id: CollectionId,
        query: &str,
        k: usize,
        mode: SearchMode,
    ) -> Result<Vec<Passage>> {
        let query_vector = async {
            if mode == SearchMode::Keyword {
                return Ok(None);
            }
            Ok(Some(
                self.embedder.embed(vec![query.to_owned()]).await?.remove(0),
            ))
        };
        self.search_both(collection_id, query, query_vector, k, mode)
            .await
    }

    /// As [`Retriever::search`], with the query already embedded (`None` for keyword mode).
    pub async fn search_with_vector(
        &self,
        collection_id: CollectionId,
        query: &str,
        query_vector: Option<Vec<f32>>,
        k: usize,
        mode: SearchMode,
    ) -> Result<Vec<Passage>> {
        self.search_both(collection_id, query, async { Ok(query_vector) }, k, mode)
            .await
    }

    /// Runs the vector leg (once its query vector is ready) and the keyword leg together,
    /// then fuses them as `mode` says.
    async fn search_both(
        &self,
        collection_id: CollectionId,
        query: &str,
        query_vector: impl Future<Output = Result<Option<Vec<f32>>>>,
        k: usize,
        mode: SearchMode,
    ) -> Result<Vec<Passage>> {
        let depth = list_depth(k);
        let vector_leg = async {
            match (mode, query_vector.await?) {
                (SearchMode::Keyword, _) | (_, None) => Ok(Vec::new()),
                (_, Some(v)) => self.vector_hits(collection_id, v, depth).await,
            }
        };
        let (vector_hits, keyword_hits) = tokio::try_join!(
            vector_leg,
            self.keyword_hits(collection_id, query, depth, mode)
        )?;
        self.fuse(vector_hits, keyword_hits, k, mode).await
    }

    async fn vector_hits(
        &self,
        collection_id: CollectionId,
        query_vector: Vec<f32>,
        depth: usize,
    ) -> Result<Vec<(i64, f32)>> {
        let index = self.indexes.get(&self.db, collection_id).await?;
        let ef = self.indexes.params().ef_search.max(depth);
        Ok(index.search(query_vector, depth, ef).await?)
    }

    /// BM25 over the query's words. In a big collection, words found in many passages are
    /// left out, commonest first, until the rest match at most `keyword_row_budget` rows:
    /// FTS5 scores every matching row before it can sort, so one common word would cost a
    /// scan of most of the collection, while its low inverse document frequency makes it
    /// count for little in the ranking anyway.
    async fn keyword_hits(
        &self,
        collection_id: CollectionId,
        query: &str,
        depth: usize,
        mode: SearchMode,
    ) -> Result<Vec<(i64, f32)>> {
        let terms = query_terms(query);
        if mode == SearchMode::Vector || terms.is_empty() {
            return Ok(Vec::new());
        }
        let terms = if terms.len() > 1 && self.keyword_row_budget < usize::MAX {
            let counts = self
                .db
                .keyword_match_counts(&terms, self.keyword_row_budget + 1)
                .await?;
            prune_terms(
                terms.into_iter().zip(counts).collect(),
                self.keyword_row_budget,
            )
        } else {
            terms
        };
        if terms.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self
            .db
            .keyword_search(collection_id, &any_of(&terms), depth)
            .await?)
    }

    async fn fuse(
        &self,
        vector_hits: Vec<(i64, f32)>,
        keyword_hits: Vec<(i64, f32)>,
        k: usize,
        mode: SearchMode,
    ) -> Result<Vec<Passage>> {
        let similarities: HashMap<i64, f32> = vector_hits.iter().copied().collect();
        let ranked: Vec<(i64, f32)> = match mode {
            SearchMode::Vector => vector_hits,
            SearchMode::Keyword => keyword_hits,
            SearchMode::Hybrid => {
                reciprocal_rank_fusion(&[(&vector_hits, 1.0), (&keyword_hits, self.keyword_weight)])
            }
        };
        let ranked: Vec<(i64, f32)> = ranked.into_iter().take(k).collect();
        let ids: Vec<i64> = ranked.iter().map(|(id, _)| *id).collect();
        let scores: HashMap<i64, f32> = ranked.into_iter().collect();
        Ok(self
            .db
            .passages(&ids)
            .await?
            .into_iter()
            .map(|p| Passage {
                score: scores.get(&p.chunk_id).copied().unwrap_or(0.0),
                similarity: similarities.get(&p.chunk_id).copied(),
                chunk_id: p.chunk_id,
                document_id: p.document_id,
                document: p.document,
                first_page: p.first_page,
                last_page: p.last_page,
                text: p.text,
                ocr: p.ocr,
                section: p.section,
            })
            .collect())
    }
}

/// Fuses ranked lists: each id scores Σ weight / (RRF_K + rank) over the lists it appears
/// in. Ties keep the order of first appearance, so the result is deterministic.
pub fn reciprocal_rank_fusion(lists: &[(&[(i64, f32)], f32)]) -> Vec<(i64, f32)> {
    let mut fused: Vec<(i64, f32)> = Vec::new();
    let mut at: HashMap<i64, usize> = HashMap::new();
    for (list, weight) in lists {
        for (rank, (id, _)) in list.iter().enumerate() {
            let add = weight / (RRF_K + rank as f32 + 1.0);
            match at.get(id) {
                Some(&i) => fused[i].1 += add,
                None => {
                    at.insert(*id, fused.len());
                    fused.push((*id, add));
                }
            }
        }
    }
    fused.sort_by(|a, b| b.1.total_cmp(&a.1));
    fused
}

/// English function words: in an OR query they match nearly every passage and only add noise
/// to BM25's ranking. A query made of nothing else keeps them.
const STOPWORDS: &[&str] = &[
    "a", "about", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from",
    "how", "i", "if", "in", "into", "is", "it", "its", "me", "my", "of", "on", "or", "should",
    "so", "that", "the", "their", "there", "this", "to", "was", "we", "what", "when", "where",
    "which", "who", "why", "will", "with", "you", "your",
];

/// The query's words as quoted FTS5 phrases (FTS5 syntax in user text is taken literally),
/// without repeats and without English function words unless there is nothing else.
pub fn query_terms(text: &str) -> Vec<String> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let content: Vec<&String> = words
        .iter()
        .filter(|w| !STOPWORDS.contains(&w.as_str()))
        .collect();
    let terms: Vec<&String> = if content.is_empty() {
        words.iter().collect()
    } else {
        content
    };
    let mut seen = std::collections::HashSet::new();
    terms
        .into_iter()
        .filter(|t| seen.insert(t.as_str()))
        .map(|t| format!("\"{t}\""))
        .collect()
}

/// An FTS5 query matching any of the query's words (BM25 ranks passages with more and rarer
/// words first).
pub fn fts_query(text: &str) -> Option<String> {
    let terms = query_terms(text);
    (!terms.is_empty()).then(|| any_of(&terms))
}

fn any_of(terms: &[String]) -> String {
    terms.join(" OR ")
}

/// Keeps the rarest terms whose match counts add up to at most `budget`, in query order;
/// the rarest term stays even when it alone is over, and terms matching nothing go.
pub fn prune_terms(terms: Vec<(String, usize)>, budget: usize) -> Vec<String> {
    let mut by_count: Vec<(usize, usize)> = terms
        .iter()
        .enumerate()
        .filter(|(_, (_, n))| *n > 0)
        .map(|(at, (_, n))| (*n, at))
        .collect();
    by_count.sort_unstable();
    let mut kept = Vec::new();
    let mut total = 0usize;
    for (n, at) in by_count {
        if !kept.is_empty() && total.saturating_add(n) > budget {
            break;
        }
        total = total.saturating_add(n);
        kept.push(at);
    }
    kept.sort_unstable();
    kept.into_iter().map(|at| terms[at].0.clone()).collect()
}
