//! The language models in the models folder: which one answers, importing and downloading.

use std::path::{Path, PathBuf};

use super::Library;
use crate::error::Result;
use crate::gguf::GgufInfo;
use crate::job::{CancelFlag, blocking};
use crate::models::{self, DownloadProgress, ModelEntry};

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
