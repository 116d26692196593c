//! `lectern embedding`: list the embedding models and switch between them.

use lectern::reembed::ReembedEvent;
use lectern::{Error, Library};

use super::cancel_on_ctrl_c;
use crate::EmbeddingCommand;
use crate::output::Out;

pub async fn run(library: &Library, command: EmbeddingCommand, out: &Out) -> Result<(), Error> {
    match command {
        EmbeddingCommand::List => {
            let pending = library.pending_embedding_switch().await?;
            for choice in library.embedding_choices() {
                out.embedding_choice(&choice);
            }
            if let Some(p) = pending {
                out.pending_switch(&p);
            }
        }
        EmbeddingCommand::Use { model } => {
            let (cancel, _watcher) = cancel_on_ctrl_c();
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<ReembedEvent>();
            let printer = {
                let out = out.clone();
                tokio::spawn(async move {
                    while let Some(event) = rx.recv().await {
                        out.reembed_event(&event);
                    }
                })
            };
            let report = library
                .switch_embedding_model(&model, Some(tx), &cancel)
                .await;
            let _ = printer.await;
            out.reembed_report(&report?);
        }
        EmbeddingCommand::Abandon => {
            library.abandon_embedding_switch().await?;
            out.done("no embedding-model switch pending");
        }
    }
    Ok(())
}
