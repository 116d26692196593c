//! `lectern prompt`: show or edit a collection's instruction and output indicator.

use lectern::{Error, Library};

use crate::output::Out;

/// Shows the parts in use after applying the changes asked for: `reset` first, then a new
/// instruction and output indicator. The core stores a part equal to the default as the
/// default.
pub async fn run(
    library: &Library,
    collection: &str,
    instruction: Option<String>,
    output_indicator: Option<String>,
    reset: bool,
    out: &Out,
) -> Result<(), Error> {
    let c = library.collection_named(collection).await?;
    let (mut parts, _) = library.prompt_parts(c.id).await?;
    if reset {
        parts = Default::default();
    }
    if instruction.is_some() {
        parts.instruction = instruction;
    }
    if output_indicator.is_some() {
        parts.output_indicator = output_indicator;
    }
    let (parts, defaults) = library.set_prompt_parts(c.id, parts).await?;
    out.prompt_parts(&parts, defaults);
    Ok(())
}
