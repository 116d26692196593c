//! `lectern models`: list, select, import or download GGUF language models.

use lectern::models::DownloadProgress;
use lectern::{Error, Library};

use super::cancel_on_ctrl_c;
use crate::ModelsCommand;
use crate::output::Out;

pub async fn run(library: &Library, command: ModelsCommand, out: &Out) -> Result<(), Error> {
    match command {
        ModelsCommand::List => {
            for choice in library.models().await? {
                out.model_entry(&choice.entry, choice.selected);
            }
        }
        ModelsCommand::Use { model } => {
            let (path, info) = library.select_model(&model).await?;
            out.done(&format!(
                "answers now use {} ({})",
                info.name,
                path.display()
            ));
        }
        ModelsCommand::Import { path, select } => {
            let entry = library.import_model(&path, select).await?;
            out.model_entry(&entry, select);
        }
        ModelsCommand::Download {
            url,
            sha256,
            select,
        } => {
            let (cancel, watcher) = cancel_on_ctrl_c();
            let progress = out.download_progress();
            let entry = library
                .download_model(
                    &url,
                    sha256.as_deref(),
                    select,
                    &cancel,
                    move |p: DownloadProgress| progress.update(p),
                )
                .await;
            watcher.abort();
            out.model_entry(&entry?, select);
        }
    }
    Ok(())
}
