//! Where Lectern keeps its data: the data folder (database) and the models folder, and the
//! small config file outside the data folder that remembers a folder the user chose.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// The folders Lectern reads and writes. Resolved once by a shell and passed down.
#[derive(Debug, Clone)]
pub struct Paths {
    pub data_dir: PathBuf,
    pub models_dir: PathBuf,
}

/// `config.json` in the config folder: folders the user chose in the app's settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub models_dir: Option<PathBuf>,
    /// OpenAI-compatible servers that can be the language model; here and not in the
    /// database, because they may hold an API key (the file is readable by its owner only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<crate::llm::Endpoint>,
}

impl Config {
    /// The config folder: `$LECTERN_CONFIG_DIR`, else `$XDG_CONFIG_HOME/lectern`
    /// (`~/.config/lectern`). It lives outside the data folder because it says where that is.
    pub fn default_dir() -> PathBuf {
        env_path("LECTERN_CONFIG_DIR").unwrap_or_else(|| {
            env_path("XDG_CONFIG_HOME")
                .unwrap_or_else(|| home().join(".config"))
                .join("lectern")
        })
    }

    /// The config in `config_dir`; a missing or unreadable file is an empty config (the
    /// defaults apply), never an error that keeps Lectern from starting.
    pub fn load(config_dir: &Path) -> Self {
        std::fs::read(config_dir.join("config.json"))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    /// Writes the config atomically (a temporary file renamed over the old one).
    pub fn save(&self, config_dir: &Path) -> Result<(), Error> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| Error::Io { path, source }
        };
        std::fs::create_dir_all(config_dir).map_err(io(config_dir))?;
        let path = config_dir.join("config.json");
        let tmp = config_dir.join("config.json.tmp");
        let json = serde_json::to_vec_pretty(self).unwrap_or_default();
        {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            // Owner only: an endpoint's API key may be in it.
            let _ = std::fs::remove_file(&tmp);
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(io(&tmp))?;
            file.write_all(&json).map_err(io(&tmp))?;
        }
        std::fs::rename(&tmp, &path).map_err(io(&path))
    }
}

/// What choosing a data folder found there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDirChoice {
    pub data_dir: PathBuf,
    /// The folder already holds a Lectern library, which will be opened as it is.
    pub existing_library: bool,
    /// `$LECTERN_DATA_DIR` is set and wins over the choice until it is unset.
    pub overridden_by_env: bool,
}

impl Paths {
    /// `data_dir`: the given folder, else `$LECTERN_DATA_DIR`, else the folder chosen in the
    /// app (the config file), else `$XDG_DATA_HOME/lectern` (`~/.local/share/lectern`).
    /// Models: `$LECTERN_MODELS_DIR`, else the config's, else `<data_dir>/models`.
    /// `scripts/setup.sh` resolves the same way, but for the config file.
    pub fn resolve(data_dir: Option<PathBuf>) -> Self {
        Self::resolve_with(data_dir, &Config::load(&Config::default_dir()))
    }

    pub fn resolve_with(data_dir: Option<PathBuf>, config: &Config) -> Self {
        let data_dir = data_dir
            .or_else(|| env_path("LECTERN_DATA_DIR"))
            .or_else(|| config.data_dir.clone())
            .unwrap_or_else(default_data_dir);
        let models_dir = env_path("LECTERN_MODELS_DIR")
            .or_else(|| config.models_dir.clone())
            .unwrap_or_else(|| data_dir.join("models"));
        Self {
            data_dir,
            models_dir,
        }
    }

    pub fn database(&self) -> PathBuf {
        self.data_dir.join("lectern.db")
    }

    /// Makes `new_dir` the data folder from the next start on, by writing it to the config in
    /// `config_dir`. The folder must be absolute; it is created if missing and must be
    /// writable. The models folder stays where it is now (it is pinned in the config), so
    /// nothing has to be fetched again. The current library is neither moved nor changed:
    /// choosing its folder again brings it back.
    pub fn choose_data_dir(
        &self,
        new_dir: &Path,
        config_dir: &Path,
    ) -> Result<DataDirChoice, Error> {
        let invalid =
            |reason: &str| Error::InvalidInput(format!("{}: {reason}", new_dir.display()));
        if !new_dir.is_absolute() {
            return Err(invalid("not an absolute path"));
        }
        if new_dir.exists() && !new_dir.is_dir() {
            return Err(invalid("not a folder"));
        }
        std::fs::create_dir_all(new_dir).map_err(|source| Error::Io {
            path: new_dir.to_owned(),
            source,
        })?;
        let probe = new_dir.join(".lectern-write-test");
        std::fs::write(&probe, b"").map_err(|source| Error::Io {
            path: new_dir.to_owned(),
            source,
        })?;
        let _ = std::fs::remove_file(&probe);
        let mut config = Config::load(config_dir);
        config.data_dir = Some(new_dir.to_owned());
        config.models_dir = Some(self.models_dir.clone());
        config.save(config_dir)?;
        Ok(DataDirChoice {
            data_dir: new_dir.to_owned(),
            existing_library: new_dir.join("lectern.db").is_file(),
            overridden_by_env: env_path("LECTERN_DATA_DIR").is_some(),
        })
    }
}

/// A path that came from the UI (a drop, a file dialog), checked before anything opens it:
/// absolute (the webview has no working directory of its own to be relative to), without NUL,
/// and canonical (symbolic links and `..` resolved), so what is stored and shown is where the
/// file really is. A path that does not exist is an error naming it.
pub fn from_ui(raw: &str) -> Result<PathBuf, Error> {
    let invalid = |reason: &str| Error::InvalidInput(format!("{raw:?}: {reason}"));
    if raw.trim().is_empty() {
        return Err(invalid("an empty path"));
    }
    if raw.contains('\0') {
        return Err(invalid("a path with a NUL byte"));
    }
    let path = Path::new(raw);
    if !path.is_absolute() {
        return Err(invalid("not an absolute path"));
    }
    std::fs::canonicalize(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })
}

fn env_path(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn home() -> PathBuf {
    env_path("HOME").unwrap_or_else(|| PathBuf::from("."))
}

fn default_data_dir() -> PathBuf {
    env_path("XDG_DATA_HOME")
        .unwrap_or_else(|| home().join(".local/share"))
        .join("lectern")
}
