//! `lectern documents`, `lectern remove` and `lectern chunks`: a collection's documents.

use lectern::{Error, Library};

use crate::output::Out;

pub async fn list(library: &Library, collection: &str, out: &Out) -> Result<(), Error> {
    let c = library.collection_named(collection).await?;
    for doc in library.documents(c.id).await? {
        out.document(&doc);
    }
    Ok(())
}

/// Removes one document, named by id, name or path.
pub async fn remove(
    library: &Library,
    collection: &str,
    document: &str,
    out: &Out,
) -> Result<(), Error> {
    let c = library.collection_named(collection).await?;
    let doc = library.find_document(c.id, document).await?;
    let doc = library.remove_document(c.id, doc.id).await?;
    out.done(&format!(
        "removed {} ({} chunks) from {collection:?}",
        doc.name, doc.n_chunks
    ));
    Ok(())
}

pub async fn chunks(
    library: &Library,
    collection: &str,
    document: &str,
    limit: Option<usize>,
    out: &Out,
) -> Result<(), Error> {
    let c = library.collection_named(collection).await?;
    let doc = library.find_document(c.id, document).await?;
    for chunk in library
        .chunks(doc.id)
        .await?
        .iter()
        .take(limit.unwrap_or(usize::MAX))
    {
        out.chunk(&doc, chunk);
    }
    Ok(())
}
