//! `lectern collection`: create, list, rename and delete collections.

use lectern::{Error, Library};

use crate::CollectionCommand;
use crate::output::Out;

pub async fn run(library: &Library, command: CollectionCommand, out: &Out) -> Result<(), Error> {
    match command {
        CollectionCommand::Create { name } => {
            out.collection(&library.create_collection(&name).await?);
        }
        CollectionCommand::List => {
            for c in library.collections().await? {
                out.collection(&c);
            }
        }
        CollectionCommand::Rename { old, new } => {
            let c = library.collection_named(&old).await?;
            library.rename_collection(c.id, &new).await?;
            out.done(&format!("renamed {old:?} to {new:?}"));
        }
        CollectionCommand::Delete { name } => {
            let c = library.collection_named(&name).await?;
            library.delete_collection(c.id).await?;
            out.done(&format!("deleted collection {name:?}"));
        }
    }
    Ok(())
}
