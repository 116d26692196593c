//! The language models: the GGUFs in the models folder (which one answers, importing and
//! downloading) and the OpenAI-compatible servers of the config file (`endpoint:NAME`).

use std::path::{Path, PathBuf};

use super::Library;
use crate::error::{Error, LlmError, Result};
use crate::gguf::GgufInfo;
use crate::job::{CancelFlag, blocking};
use crate::llm::{Endpoint, Generator, LlmWorker, RemoteEngine};
use crate::models::{self, DownloadProgress, ModelEntry};
use crate::paths::Config;

/// A GGUF in the models folder, and whether answers use it.
#[derive(Debug)]
pub struct ModelChoice {
    pub entry: ModelEntry,
    pub selected: bool,
}

impl Library {
    /// Every GGUF in the models folder, by file name, the selected one marked.
    pub async fn models(&self) -> Result<Vec<ModelChoice>> {
        let selected = self.selected_model().await.ok();
        Ok(models::list(&self.paths.models_dir)?
            .into_iter()
            .map(|entry| ModelChoice {
                selected: selected.as_deref() == Some(entry.path.as_path()),
                entry,
            })
            .collect())
    }

    /// The model answers use: the one chosen, else the default, else the only one.
    pub async fn selected_model(&self) -> Result<PathBuf> {
        models::selected(&self.db, &self.paths.models_dir).await
    }

    /// The stored choice of language model (a file, a path or `endpoint:NAME`), as it is.
    pub(super) async fn model_choice(&self) -> Result<Option<String>> {
        Ok(self.db.setting(models::MODEL_SETTING).await?)
    }

    /// Puts back a choice read by [`Library::model_choice`].
    pub(super) async fn restore_model_choice(&self, choice: Option<String>) -> Result<()> {
        match choice {
            Some(choice) => self.db.set_setting(models::MODEL_SETTING, &choice).await?,
            None => self.db.delete_setting(models::MODEL_SETTING).await?,
        }
        Ok(())
    }

    /// Makes `model` (a file in the models folder, or a path) the one answers use, after
    /// reading its header. It is not loaded here: see [`super::Session::select_model`].
    pub async fn select_model(&self, model: &str) -> Result<(PathBuf, GgufInfo)> {
        models::select(&self.db, &self.paths.models_dir, model).await
    }

    /// Copies a GGUF file into the models folder after checking its header; with `select`
    /// answers use it from now on.
    pub async fn import_model(&self, source: &Path, select: bool) -> Result<ModelEntry> {
        let (dir, source) = (self.paths.models_dir.clone(), source.to_owned());
        let entry = blocking("model import", move || Ok(models::import(&dir, &source)?)).await?;
        if select {
            self.select_model(&entry.file_name).await?;
        }
        Ok(entry)
    }

    /// Downloads a GGUF into the models folder ([`models::download`]: resumable, checked
    /// against `sha256` when given); with `select` answers use it from now on.
    pub async fn download_model(
        &self,
        url: &str,
        sha256: Option<&str>,
        select: bool,
        cancel: &CancelFlag,
        on_progress: impl FnMut(DownloadProgress) + Send + 'static,
    ) -> Result<ModelEntry> {
        let dir = self.paths.models_dir.clone();
        let (url, sha256, cancel) = (url.to_owned(), sha256.map(str::to_owned), cancel.clone());
        let entry = blocking("model download", move || {
            models::download(&dir, &url, sha256.as_deref(), &cancel, on_progress)
        })
        .await?;
        if select {
            self.select_model(&entry.file_name).await?;
        }
        Ok(entry)
    }
}

/// The selected model `endpoint:NAME` is the endpoint `NAME` of the config file.
pub const ENDPOINT_PREFIX: &str = "endpoint:";

/// An endpoint answered: the models it lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointCheck {
    pub models: Vec<String>,
}

impl Library {
    /// The OpenAI-compatible servers the config file names, with the selected one's name.
    pub async fn endpoints(&self) -> Result<(Vec<Endpoint>, Option<String>)> {
        let selected = self.selected_endpoint().await?;
        Ok((Config::load(&Config::default_dir()).endpoints, selected))
    }

    /// Adds an endpoint to the config file, or replaces the one of the same name.
    pub fn add_endpoint(&self, endpoint: Endpoint) -> Result<()> {
        let name = endpoint.name.trim();
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(Error::InvalidInput(format!(
                "{:?}: an endpoint's name must be one word",
                endpoint.name
            )));
        }
        let url = endpoint.base_url.as_str();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(Error::InvalidInput(format!(
                "{url:?}: an endpoint's URL starts with http:// or https://"
            )));
        }
        if endpoint.n_ctx < 512 {
            return Err(Error::InvalidInput(
                "an endpoint's context must be at least 512 tokens".into(),
            ));
        }
        let dir = Config::default_dir();
        let mut config = Config::load(&dir);
        config.endpoints.retain(|e| e.name != endpoint.name);
        config.endpoints.push(endpoint);
        config.save(&dir)
    }

    /// Removes an endpoint from the config file; a library that used it goes back to the
    /// default model.
    pub async fn remove_endpoint(&self, name: &str) -> Result<()> {
        let dir = Config::default_dir();
        let mut config = Config::load(&dir);
        let before = config.endpoints.len();
        config.endpoints.retain(|e| e.name != name);
        if config.endpoints.len() == before {
            return Err(LlmError::NoEndpoint(name.to_owned()).into());
        }
        config.save(&dir)?;
        if self.selected_endpoint().await?.as_deref() == Some(name) {
            self.db.delete_setting(models::MODEL_SETTING).await?;
        }
        Ok(())
    }

    pub(super) fn endpoint(name: &str) -> Result<Endpoint> {
        Config::load(&Config::default_dir())
            .endpoints
            .into_iter()
            .find(|e| e.name == name)
            .ok_or_else(|| LlmError::NoEndpoint(name.to_owned()).into())
    }

    /// Asks the endpoint for its models: "connected, 3 models", or why not.
    pub async fn check_endpoint(&self, name: &str) -> Result<EndpointCheck> {
        let endpoint = Self::endpoint(name)?;
        blocking("endpoint check", move || {
            Ok(EndpointCheck {
                models: RemoteEngine::connect(endpoint)?.models()?,
            })
        })
        .await
    }

    /// Makes the endpoint the model answers use, once it answers.
    pub async fn select_endpoint(&self, name: &str) -> Result<EndpointCheck> {
        let check = self.check_endpoint(name).await?;
        self.db
            .set_setting(models::MODEL_SETTING, &format!("{ENDPOINT_PREFIX}{name}"))
            .await?;
        Ok(check)
    }

    /// The selected endpoint's name, when answers use one.
    pub async fn selected_endpoint(&self) -> Result<Option<String>> {
        Ok(self
            .db
            .setting(models::MODEL_SETTING)
            .await?
            .and_then(|spec| spec.strip_prefix(ENDPOINT_PREFIX).map(str::to_owned)))
    }

    /// The endpoint named `name` on its own model thread.
    pub(super) async fn endpoint_worker(&self, name: &str) -> Result<LlmWorker> {
        let endpoint = Self::endpoint(name)?;
        blocking("endpoint connection", move || {
            Ok(LlmWorker::spawn(move || {
                Ok(Box::new(RemoteEngine::connect(endpoint)?) as Box<dyn Generator>)
            })?)
        })
        .await
    }
}
