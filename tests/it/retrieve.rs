//! The pure parts of search: keyword query building and rank fusion.

use lectern::retrieve::{fts_query, reciprocal_rank_fusion};

#[test]
fn keyword_queries_drop_function_words_and_quote_everything() {
    assert_eq!(
        fts_query("What is the Debian FAQ?").as_deref(),
        Some("\"debian\" OR \"faq\"")
    );
    // Only function words: keep them rather than search for nothing.
    assert_eq!(
        fts_query("Who is it?").as_deref(),
        Some("\"who\" OR \"is\" OR \"it\"")
    );
    // FTS5 syntax in user text is taken literally, never as operators.
    assert_eq!(
        fts_query("NEAR(apt dpkg) OR \"x\" AND -y*").as_deref(),
        Some("\"near\" OR \"apt\" OR \"dpkg\" OR \"x\" OR \"y\"")
    );
    assert_eq!(fts_query("apt apt APT").as_deref(), Some("\"apt\""));
    assert_eq!(fts_query("  ?! ").as_deref(), None);
}

#[test]
fn rank_fusion_rewards_agreement_and_respects_weights() {
    let vector = [(1, 0.9), (2, 0.8), (3, 0.7)];
    let keyword = [(3, 9.0), (4, 8.0)];
    let fused = reciprocal_rank_fusion(&[(&vector, 1.0), (&keyword, 1.0)]);
    let ids: Vec<i64> = fused.iter().map(|(id, _)| *id).collect();
    // 3 is in both lists: 1/63 + 1/61 beats 1's 1/61.
    assert_eq!(ids, [3, 1, 2, 4]);
    assert!((fused[0].1 - (1.0 / 63.0 + 1.0 / 61.0)).abs() < 1e-6);
    // With the keyword list weighted far down, the vector list's order wins.
    let fused = reciprocal_rank_fusion(&[(&vector, 1.0), (&keyword, 0.01)]);
    let ids: Vec<i64> = fused.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, [1, 2, 3, 4]);
    assert!(reciprocal_rank_fusion(&[]).is_empty());
}
