//! `lectern models`: list, select, import or download GGUF language models; add, check and
//! remove OpenAI-compatible endpoints.

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
            if let Some(name) = model.strip_prefix(lectern::library::ENDPOINT_PREFIX) {
                let check = library.select_endpoint(name).await?;
                out.done(&format!(
                    "answers now use the endpoint {name} (connected, {} models)",
                    check.models.len()
                ));
                return Ok(());
            }
            let (path, info) = library.select_model(&model).await?;
            out.done(&format!(
                "answers now use {} ({})",
                info.name,
                path.display()
            ));
        }
        ModelsCommand::AddEndpoint {
            name,
            url,
            model,
            api_key_env,
            n_ctx,
            timeout,
        } => {
            let api_key = match api_key_env {
                Some(var) => Some(std::env::var(&var).map_err(|_| {
                    Error::InvalidInput(format!("the environment variable {var} is not set"))
                })?),
                None => None,
            };
            library.add_endpoint(lectern::llm::Endpoint {
                name: name.clone(),
                base_url: url,
                model,
                api_key,
                n_ctx,
                timeout_s: timeout,
            })?;
            out.done(&format!(
                "added the endpoint {name}; `lectern models use endpoint:{name}` selects it"
            ));
        }
        ModelsCommand::Endpoints => {
            let (endpoints, selected) = library.endpoints().await?;
            for endpoint in endpoints {
                let check = library.check_endpoint(&endpoint.name).await;
                out.endpoint(
                    &endpoint,
                    selected.as_deref() == Some(&endpoint.name),
                    &check,
                );
            }
        }
        ModelsCommand::RemoveEndpoint { name } => {
            library.remove_endpoint(&name).await?;
            out.done(&format!("removed the endpoint {name}"));
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
