//! The pure parts of search: keyword query building and rank fusion.

use lectern::retrieve::{fts_query, prune_terms, reciprocal_rank_fusion};

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

fn counted(terms: &[(&str, usize)]) -> Vec<(String, usize)> {
    terms.iter().map(|(t, n)| ((*t).to_owned(), *n)).collect()
}

#[test]
fn keyword_budget_leaves_out_the_commonest_words_first() {
    let terms = counted(&[
        ("linux", 9_000),
        ("kernel", 4_000),
        ("ext4", 300),
        ("the", 0),
    ]);
    // All fit: everything that matches stays, in query order.
    assert_eq!(
        prune_terms(terms.clone(), 20_000),
        ["linux", "kernel", "ext4"]
    );
    // 300 + 4,000 fit in 5,000; adding 9,000 would not.
    assert_eq!(prune_terms(terms.clone(), 5_000), ["kernel", "ext4"]);
    // The rarest word stays even when it alone is over budget.
    assert_eq!(prune_terms(terms.clone(), 100), ["ext4"]);
    // Nothing matches: nothing to search for.
    assert!(prune_terms(counted(&[("zzz", 0)]), 100).is_empty());
    assert!(prune_terms(Vec::new(), 100).is_empty());
}

#[test]
fn keyword_budget_holds_for_every_small_case() {
    // Exhaustive over small counts and budgets: the kept terms are the rarest ones, never
    // exceed the budget unless only the rarest is kept, and a term left out is never rarer
    // than one kept.
    let counts = [0usize, 1, 5, 10, 50];
    for a in counts {
        for b in counts {
            for c in counts {
                for budget in [0usize, 1, 10, 20, 60, 1_000] {
                    let terms = counted(&[("a", a), ("b", b), ("c", c)]);
                    let kept = prune_terms(terms.clone(), budget);
                    let count = |t: &str| terms.iter().find(|(x, _)| x == t).map_or(0, |x| x.1);
                    let total: usize = kept.iter().map(|t| count(t)).sum();
                    assert!(
                        kept.len() <= 1 || total <= budget,
                        "{terms:?} {budget} {kept:?}"
                    );
                    assert_eq!(kept.is_empty(), a + b + c == 0);
                    for (t, n) in &terms {
                        if *n > 0 && !kept.contains(t) {
                            assert!(kept.iter().all(|k| count(k) <= *n), "{terms:?} {kept:?}");
                        }
                    }
                }
            }
        }
    }
}
