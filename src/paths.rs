//! Where Lectern keeps its data: the data folder (database) and the models folder.

use std::path::PathBuf;

/// The folders Lectern reads and writes. Resolved once by a shell and passed down.
#[derive(Debug, Clone)]
pub struct Paths {
    pub data_dir: PathBuf,
    pub models_dir: PathBuf,
}

impl Paths {
    /// `data_dir`: the given folder, else `$LECTERN_DATA_DIR`, else `$XDG_DATA_HOME/lectern`
    /// (`~/.local/share/lectern`). Models: `$LECTERN_MODELS_DIR`, else `<data_dir>/models`.
    /// `scripts/setup.sh` resolves the same way, so both agree without configuration.
    pub fn resolve(data_dir: Option<PathBuf>) -> Self {
        let data_dir = data_dir
            .or_else(|| env_path("LECTERN_DATA_DIR"))
            .unwrap_or_else(default_data_dir);
        let models_dir = env_path("LECTERN_MODELS_DIR").unwrap_or_else(|| data_dir.join("models"));
        Self {
            data_dir,
            models_dir,
        }
    }

    pub fn database(&self) -> PathBuf {
        self.data_dir.join("lectern.db")
    }
}

fn env_path(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn default_data_dir() -> PathBuf {
    let base = env_path("XDG_DATA_HOME").unwrap_or_else(|| {
        env_path("HOME")
            .unwrap_or_else(|| PathBuf::from("."))
            .join(".local/share")
    });
    base.join("lectern")
}
