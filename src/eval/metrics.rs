//! Retrieval metrics for one ranked list against graded relevance judgements: recall@k,
//! success@k, nDCG@k and MRR@k, as BEIR and TREC define them; and the character error rate
//! that OCR is measured by.

use std::collections::HashMap;

/// Relevance grades of the documents judged for one query (grade > 0 means relevant).
pub type Judgements = HashMap<String, u32>;

/// Share of the relevant documents that appear in the top `k`.
pub fn recall_at(ranked: &[String], relevant: &Judgements, k: usize) -> f64 {
    let n_relevant = relevant.values().filter(|&&g| g > 0).count();
    if n_relevant == 0 {
        return 0.0;
    }
    let found = ranked
        .iter()
        .take(k)
        .filter(|id| relevant.get(*id).is_some_and(|&g| g > 0))
        .count();
    found as f64 / n_relevant as f64
}

/// 1 when any relevant document is in the top `k`, else 0.
pub fn success_at(ranked: &[String], relevant: &Judgements, k: usize) -> f64 {
    let hit = ranked
        .iter()
        .take(k)
        .any(|id| relevant.get(id).is_some_and(|&g| g > 0));
    if hit { 1.0 } else { 0.0 }
}

/// Reciprocal rank of the first relevant document within the top `k`, else 0.
pub fn mrr_at(ranked: &[String], relevant: &Judgements, k: usize) -> f64 {
    ranked
        .iter()
        .take(k)
        .position(|id| relevant.get(id).is_some_and(|&g| g > 0))
        .map_or(0.0, |rank| 1.0 / (rank + 1) as f64)
}

/// Normalised discounted cumulative gain with linear gains (the grade itself), as in
/// BEIR's pytrec_eval `ndcg_cut`.
pub fn ndcg_at(ranked: &[String], relevant: &Judgements, k: usize) -> f64 {
    let dcg: f64 = ranked
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, id)| f64::from(relevant.get(id).copied().unwrap_or(0)) / ((i + 2) as f64).log2())
        .sum();
    let mut ideal: Vec<u32> = relevant.values().copied().filter(|&g| g > 0).collect();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    let idcg: f64 = ideal
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, &g)| f64::from(g) / ((i + 2) as f64).log2())
        .sum();
    if idcg == 0.0 { 0.0 } else { dcg / idcg }
}

/// Character error rate: the edits (Levenshtein) that turn `got` into `want`, over `want`'s
/// length, after folding runs of whitespace on both sides (line breaks are layout, not
/// characters read). How OCR is measured against a transcript.
pub fn character_error_rate(got: &str, want: &str) -> f64 {
    let fold = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let got: Vec<char> = fold(got).chars().collect();
    let want: Vec<char> = fold(want).chars().collect();
    let mut previous: Vec<usize> = (0..=want.len()).collect();
    let mut current = vec![0; want.len() + 1];
    for (i, g) in got.iter().enumerate() {
        current[0] = i + 1;
        for (j, w) in want.iter().enumerate() {
            let substitution = previous[j] + usize::from(g != w);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[want.len()] as f64 / want.len().max(1) as f64
}
