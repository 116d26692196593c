//! `lectern search`: one query, or one per line of stdin.

use lectern::index::IndexOrigin;
use lectern::retrieve::SearchMode;
use lectern::{Error, Library};

use crate::output::Out;

pub async fn run(
    library: &Library,
    collection: &str,
    k: usize,
    mode: SearchMode,
    query: &[String],
    out: &Out,
) -> Result<(), Error> {
    let c = library.collection_named(collection).await?;
    let retriever = library.retriever()?;
    let queries: Vec<String> = if query == ["-"] {
        std::io::stdin()
            .lines()
            .map_while(Result::ok)
            .filter(|l| !l.trim().is_empty())
            .collect()
    } else {
        vec![query.join(" ")]
    };
    for q in queries {
        let hits = retriever.search(c.id, &q, k, mode).await?;
        out.search_hits(&q, &hits);
    }
    if let Some(IndexOrigin::Rebuilt { reason }) = library.indexes().origin(c.id).await
        && c.n_chunks > 0
    {
        out.note(&format!(
            "the vector index of {collection:?} was rebuilt from the database ({reason})"
        ));
    }
    Ok(())
}
