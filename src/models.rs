//! The language models folder: listing GGUF files with what their headers say, choosing one,
//! importing one from disk and downloading one from a URL (resumable, SHA-256 checked).

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::error::{LlmError, Result};
use crate::gguf::{self, GgufInfo};
use crate::job::CancelFlag;
use crate::store::Db;

/// The setting that names the selected model (a file name in the models folder, or a path).
pub const MODEL_SETTING: &str = "llm.model";
/// Shipped by `scripts/setup.sh`; used when nothing was chosen: Qwen2.5-Coder-0.5B-Instruct,
/// the smallest instruct model in the registries whose answers hold up (docs/BENCHMARKS.md).
pub const DEFAULT_MODEL_FILE: &str = "Qwen2.5-Coder-0.5B-Instruct-Q4_K_M.gguf";
/// Also shipped by `scripts/setup.sh`: SmolLM2-135M-Instruct, about 3x faster and far weaker;
/// the tests that check mechanics (streaming, stopping, templates) use it.
pub const SMALL_MODEL_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

/// A GGUF file in the models folder, with its header or the reason it could not be read.
#[derive(Debug)]
pub struct ModelEntry {
    pub file_name: String,
    pub path: PathBuf,
    pub info: std::result::Result<GgufInfo, gguf::GgufError>,
}

/// Every `*.gguf` file in the folder, by file name.
pub fn list(models_dir: &Path) -> Result<Vec<ModelEntry>, LlmError> {
    let read = match fs::read_dir(models_dir) {
        Ok(r) => r,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(LlmError::Io {
                path: models_dir.to_owned(),
                source,
            });
        }
    };
    let mut out: Vec<ModelEntry> = read
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .is_some_and(|x| x.eq_ignore_ascii_case("gguf"))
        })
        .map(|path| ModelEntry {
            file_name: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            info: gguf::read_info(&path),
            path,
        })
        .collect();
    out.sort_by(|a, b| a.file_name.cmp(&b.file_name));
    Ok(out)
}

/// A model named on the command line or in settings: a file in the models folder, else a path.
pub fn resolve(models_dir: &Path, spec: &str) -> PathBuf {
    let in_folder = models_dir.join(spec);
    if !spec.contains(std::path::MAIN_SEPARATOR) && in_folder.exists() {
        in_folder
    } else {
        PathBuf::from(spec)
    }
}

/// The model answers use: the setting if set, else the default model, else the first model in
/// the folder that carries a chat template.
pub async fn selected(db: &Db, models_dir: &Path) -> Result<PathBuf> {
    if let Some(spec) = db.setting(MODEL_SETTING).await? {
        let path = resolve(models_dir, &spec);
        if path.is_file() {
            return Ok(path);
        }
        return Err(LlmError::ModelMissing(path).into());
    }
    let default = models_dir.join(DEFAULT_MODEL_FILE);
    if default.is_file() {
        return Ok(default);
    }
    list(models_dir)?
        .into_iter()
        .find(|m| m.info.as_ref().is_ok_and(|i| i.chat_template.is_some()))
        .map(|m| m.path)
        .ok_or_else(|| LlmError::NoModel(models_dir.to_owned()).into())
}

/// Makes `spec` the selected model after checking it is a readable GGUF file.
pub async fn select(db: &Db, models_dir: &Path, spec: &str) -> Result<(PathBuf, GgufInfo)> {
    let path = resolve(models_dir, spec);
    if !path.is_file() {
        return Err(LlmError::ModelMissing(path).into());
    }
    let info = gguf::read_info(&path).map_err(|source| LlmError::NotGguf {
        path: path.clone(),
        source,
    })?;
    let stored = if path.parent() == Some(models_dir) {
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    } else {
        std::path::absolute(&path)
            .unwrap_or(path.clone())
            .display()
            .to_string()
    };
    db.set_setting(MODEL_SETTING, &stored).await?;
    Ok((path, info))
}

/// Copies a GGUF file into the models folder. Anything that does not parse as GGUF is refused
/// before a byte is copied; the copy appears under its final name only once complete.
pub fn import(models_dir: &Path, source: &Path) -> Result<ModelEntry, LlmError> {
    let info = gguf::read_info(source).map_err(|e| LlmError::NotGguf {
        path: source.to_owned(),
        source: e,
    })?;
    let file_name = source
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model.gguf".into());
    let file_name = if file_name.to_ascii_lowercase().ends_with(".gguf") {
        file_name
    } else {
        format!("{file_name}.gguf")
    };
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| LlmError::Io { path, source }
    };
    fs::create_dir_all(models_dir).map_err(io(models_dir))?;
    let dest = models_dir.join(&file_name);
    if dest.exists() {
        if sha256_file(&dest).map_err(io(&dest))? == sha256_file(source).map_err(io(source))? {
            return Ok(ModelEntry {
                file_name,
                path: dest,
                info: Ok(info),
            });
        }
        return Err(LlmError::Io {
            path: dest,
            source: std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "a different model with this file name is already in the models folder",
            ),
        });
    }
    let part = models_dir.join(format!("{file_name}.part"));
    fs::copy(source, &part).map_err(io(&part))?;
    // The copy's own hash is recorded: what is checked before each load is what was copied.
    let sha256 = sha256_file(&part).map_err(io(&part))?;
    fs::rename(&part, &dest).map_err(io(&dest))?;
    record_checksum(&dest, &sha256);
    Ok(ModelEntry {
        file_name,
        path: dest,
        info: Ok(info),
    })
}

/// A model file whose SHA-256 is not the one recorded for it.
#[derive(Debug, thiserror::Error)]
#[error(
    "{}: damaged or replaced (SHA-256 {actual}, recorded {expected}); it was not loaded: reinstall it (scripts/setup.sh) or import it again",
    path.display()
)]
pub struct DamagedModel {
    pub path: PathBuf,
    pub expected: String,
    pub actual: String,
}

/// Where a model file's SHA-256 is recorded: `<file>.sha256`, one line of hex, written by
/// `scripts/setup.sh` from the published hashes, by an import or download, or else on the
/// file's first load.
pub fn checksum_path(model: &Path) -> PathBuf {
    let mut name = model.as_os_str().to_owned();
    name.push(".sha256");
    PathBuf::from(name)
}

/// Records `sha256` as the model file's checksum (best effort: a read-only folder keeps none).
/// Written beside and renamed into place, so a process reading it never sees half a line.
pub fn record_checksum(model: &Path, sha256: &str) {
    let path = checksum_path(model);
    let mut tmp = path.clone().into_os_string();
    tmp.push(format!(".{}.tmp", std::process::id()));
    if std::fs::write(&tmp, format!("{sha256}\n")).is_ok() && std::fs::rename(&tmp, &path).is_err()
    {
        let _ = std::fs::remove_file(&tmp);
    }
}

/// Checks a model file against its recorded SHA-256 before anything parses it; with no
/// record yet, this first load records it, so later damage is caught. `contents` saves a
/// second read when the caller already holds the bytes.
pub fn verify_checksum(model: &Path, contents: Option<&[u8]>) -> Result<(), VerifyError> {
    let actual = match contents {
        Some(bytes) => hex(&Sha256::digest(bytes)),
        None => sha256_file(model).map_err(|source| VerifyError::Io {
            path: model.to_owned(),
            source,
        })?,
    };
    let recorded = std::fs::read_to_string(checksum_path(model))
        .ok()
        .and_then(|r| r.split_whitespace().next().map(str::to_ascii_lowercase));
    match recorded {
        Some(expected) => {
            if expected == actual {
                Ok(())
            } else {
                Err(VerifyError::Damaged(DamagedModel {
                    path: model.to_owned(),
                    expected,
                    actual,
                }))
            }
        }
        None => {
            record_checksum(model, &actual);
            Ok(())
        }
    }
}

/// Why a model file could not be verified.
#[derive(Debug)]
pub enum VerifyError {
    Damaged(DamagedModel),
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl From<VerifyError> for LlmError {
    fn from(e: VerifyError) -> Self {
        match e {
            VerifyError::Damaged(d) => Self::Damaged(d),
            VerifyError::Io { path, source } => Self::Io { path, source },
        }
    }
}

impl From<VerifyError> for crate::error::EmbedError {
    fn from(e: VerifyError) -> Self {
        match e {
            VerifyError::Damaged(d) => Self::Damaged(d),
            // Unreadable is missing, as far as loading goes.
            VerifyError::Io { path, .. } => Self::ModelMissing(path),
        }
    }
}

/// SHA-256 of a file, lowercase hex.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    let mut file = File::open(path)?;
    std::io::copy(&mut file, &mut hasher)?;
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Progress of a download, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownloadProgress {
    pub done: u64,
    pub total: Option<u64>,
    /// Bytes that were already on disk from an interrupted attempt.
    pub resumed_from: u64,
}

/// Where a download of `url` is saved: the last path segment, without query.
pub fn download_file_name(url: &str) -> Option<String> {
    let path = url.split(['?', '#']).next()?;
    let name = path.rsplit('/').next()?.trim();
    (!name.is_empty()).then(|| name.to_owned())
}

/// Downloads a GGUF model into the models folder. An interrupted download leaves
/// `<name>.part`, which the next call resumes with an HTTP range request. With `sha256`, the
/// finished file must match or it is deleted; every file must parse as GGUF.
pub fn download(
    models_dir: &Path,
    url: &str,
    sha256: Option<&str>,
    cancel: &CancelFlag,
    mut on_progress: impl FnMut(DownloadProgress),
) -> Result<ModelEntry> {
    let fail = |reason: String| LlmError::Download {
        url: url.to_owned(),
        reason,
    };
    let file_name =
        download_file_name(url).ok_or_else(|| fail("no file name in the URL".into()))?;
    let dest = models_dir.join(&file_name);
    let part = models_dir.join(format!("{file_name}.part"));
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| LlmError::Io { path, source }
    };
    fs::create_dir_all(models_dir).map_err(io(models_dir))?;

    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_per_read(Some(Duration::from_secs(60)))
        .http_status_as_error(false)
        .build()
        .into();
    let mut resumed_from = fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
    let mut request = agent.get(url);
    if resumed_from > 0 {
        request = request.header("Range", format!("bytes={resumed_from}-"));
    }
    let response = request.call().map_err(|e| fail(e.to_string()))?;
    let status = response.status().as_u16();
    let content_length = response
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let total = match status {
        206 => content_length.map(|n| n + resumed_from),
        200 => {
            // The server ignored the range: start over.
            resumed_from = 0;
            content_length
        }
        416 if resumed_from > 0 => Some(resumed_from), // the part is already complete
        other => return Err(fail(format!("HTTP status {other}")).into()),
    };
    let mut hasher = Sha256::new();
    let mut out = if resumed_from > 0 {
        let mut existing = File::open(&part).map_err(io(&part))?;
        std::io::copy(&mut existing, &mut hasher).map_err(io(&part))?;
        OpenOptions::new()
            .append(true)
            .open(&part)
            .map_err(io(&part))?
    } else {
        File::create(&part).map_err(io(&part))?
    };
    let mut done = resumed_from;
    on_progress(DownloadProgress {
        done,
        total,
        resumed_from,
    });
    if status != 416 {
        let mut body = response.into_body().into_reader();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            if cancel.is_cancelled() {
                out.flush().map_err(io(&part))?;
                return Err(crate::Error::Cancelled);
            }
            let n = body.read(&mut buf).map_err(|e| fail(e.to_string()))?;
            if n == 0 {
                break;
            }
            out.write_all(&buf[..n]).map_err(io(&part))?;
            hasher.update(&buf[..n]);
            done += n as u64;
            on_progress(DownloadProgress {
                done,
                total,
                resumed_from,
            });
        }
    }
    out.sync_all().map_err(io(&part))?;
    drop(out);
    if let Some(total) = total
        && done != total
    {
        return Err(fail(format!(
            "the connection ended after {done} of {total} bytes; run again to resume"
        ))
        .into());
    }
    let actual = hex(&hasher.finalize());
    if let Some(expected) = sha256
        && !expected.eq_ignore_ascii_case(&actual)
    {
        let _ = fs::remove_file(&part);
        return Err(LlmError::Checksum {
            path: dest,
            expected: expected.to_ascii_lowercase(),
            actual,
        }
        .into());
    }
    let info = gguf::read_info(&part).map_err(|source| {
        let _ = fs::remove_file(&part);
        LlmError::NotGguf {
            path: dest.clone(),
            source,
        }
    })?;
    fs::rename(&part, &dest).map_err(io(&dest))?;
    record_checksum(&dest, &actual);
    Ok(ModelEntry {
        file_name,
        path: dest,
        info: Ok(info),
    })
}
