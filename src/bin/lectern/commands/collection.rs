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
        CollectionCommand::Ocr { name, language } => {
            let c = library.collection_named(&name).await?;
            match language {
                Some(language) => {
                    library.set_ocr_language(c.id, &language).await?;
                    out.done(&format!(
                        "{name:?} reads scanned pages in {language} from its next ingest on \
                         (re-index to read stored documents again)"
                    ));
                }
                None => {
                    let installed = library.ocr_languages().await?;
                    out.ocr_languages(&c.ocr_language, &installed);
                }
            }
        }
        CollectionCommand::Delete { name } => {
            let c = library.collection_named(&name).await?;
            library.delete_collection(c.id).await?;
            out.done(&format!("deleted collection {name:?}"));
        }
    }
    Ok(())
}
