//! Reads a GGUF file's header (metadata and tensor shapes) in pure Rust, without loading the
//! model: what `lectern models list` shows, and the check that an imported file is a GGUF at all
//! before llama.cpp (C code) ever sees it.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

/// Sanity limits: a header beyond these is not a model but garbage or an attack.
const MAX_STRING_BYTES: u64 = 64 << 20;
const MAX_ENTRIES: u64 = 1 << 24;
const MAX_DIMS: u32 = 8;

/// Why a file is not a usable GGUF model.
#[derive(Debug, thiserror::Error)]
pub enum GgufError {
    #[error("cannot read: {0}")]
    Io(#[from] std::io::Error),
    #[error("not a GGUF file (no GGUF magic at the start)")]
    NoMagic,
    #[error("GGUF version {0} is not supported (2 or 3)")]
    Version(u32),
    #[error("truncated or corrupt GGUF header")]
    Truncated,
    #[error("corrupt GGUF header ({0})")]
    Corrupt(&'static str),
    #[error("unknown GGUF value type {0}")]
    ValueType(u32),
    #[error("no general.architecture in the header")]
    NoArchitecture,
}

/// What the header says about a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GgufInfo {
    /// `general.name`, else the file name without extension.
    pub name: String,
    /// `general.architecture` (`llama`, `gemma3`, ...).
    pub architecture: String,
    /// Sum of the element counts of all tensors.
    pub n_params: u64,
    /// From `general.file_type` (`Q4_1`, `Q4_K_M`, ...).
    pub quantization: String,
    /// `<arch>.context_length`: the context the model was trained for.
    pub context_length: Option<u32>,
    /// `tokenizer.chat_template` (Jinja source), when the model carries one.
    pub chat_template: Option<String>,
    pub file_size: u64,
}

#[derive(Debug, Clone, PartialEq)]
enum Value {
    Int(i128),
    Str(String),
    /// Floats, booleans and arrays: nothing shown needs them (arrays, such as tokenizer
    /// vocabularies, are skipped unread).
    Other,
}

/// Reads the header of a GGUF file; any file that is not one gives an error saying why.
pub fn read_info(path: &Path) -> Result<GgufInfo, GgufError> {
    let file = File::open(path)?;
    let file_size = file.metadata()?.len();
    let mut r = BufReader::with_capacity(1 << 16, file);
    let mut magic = [0u8; 4];
    if r.read_exact(&mut magic).is_err() || &magic != b"GGUF" {
        return Err(GgufError::NoMagic);
    }
    let version = read_u32(&mut r)?;
    if !(2..=3).contains(&version) {
        return Err(GgufError::Version(version));
    }
    let n_tensors = read_u64(&mut r)?;
    let n_kv = read_u64(&mut r)?;
    if n_tensors > MAX_ENTRIES || n_kv > MAX_ENTRIES {
        return Err(GgufError::Corrupt("absurd entry counts"));
    }
    let mut meta = HashMap::new();
    for _ in 0..n_kv {
        let key = read_string(&mut r)?;
        let ty = read_u32(&mut r)?;
        let value = read_value(&mut r, ty)?;
        meta.insert(key, value);
    }
    let mut n_params: u64 = 0;
    for _ in 0..n_tensors {
        let _name = read_string(&mut r)?;
        let n_dims = read_u32(&mut r)?;
        if n_dims > MAX_DIMS {
            return Err(GgufError::Corrupt("tensor with too many dimensions"));
        }
        let mut n_elements: u64 = 1;
        for _ in 0..n_dims {
            n_elements = n_elements.saturating_mul(read_u64(&mut r)?);
        }
        let _ty = read_u32(&mut r)?;
        let offset = read_u64(&mut r)?;
        if offset > file_size {
            return Err(GgufError::Truncated);
        }
        n_params = n_params.saturating_add(n_elements);
    }
    let text = |key: &str| match meta.get(key) {
        Some(Value::Str(s)) => Some(s.clone()),
        _ => None,
    };
    let int = |key: &str| match meta.get(key) {
        Some(Value::Int(i)) => Some(*i),
        _ => None,
    };
    let architecture = text("general.architecture").ok_or(GgufError::NoArchitecture)?;
    let name = text("general.name").unwrap_or_else(|| {
        path.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    let quantization = int("general.file_type")
        .map(|t| file_type_name(t).to_owned())
        .unwrap_or_else(|| "unknown".into());
    let context_length =
        int(&format!("{architecture}.context_length")).and_then(|n| u32::try_from(n).ok());
    Ok(GgufInfo {
        name,
        architecture,
        n_params,
        quantization,
        context_length,
        chat_template: text("tokenizer.chat_template").filter(|t| !t.trim().is_empty()),
        file_size,
    })
}

/// llama.cpp's `llama_ftype` names.
fn file_type_name(t: i128) -> &'static str {
    match t {
        0 => "F32",
        1 => "F16",
        2 => "Q4_0",
        3 => "Q4_1",
        7 => "Q8_0",
        8 => "Q5_0",
        9 => "Q5_1",
        10 => "Q2_K",
        11 => "Q3_K_S",
        12 => "Q3_K_M",
        13 => "Q3_K_L",
        14 => "Q4_K_S",
        15 => "Q4_K_M",
        16 => "Q5_K_S",
        17 => "Q5_K_M",
        18 => "Q6_K",
        19 => "IQ2_XXS",
        20 => "IQ2_XS",
        21 => "Q2_K_S",
        22 => "IQ3_XS",
        23 => "IQ3_XXS",
        24 => "IQ1_S",
        25 => "IQ4_NL",
        26 => "IQ3_S",
        27 => "IQ3_M",
        28 => "IQ2_S",
        29 => "IQ2_M",
        30 => "IQ4_XS",
        31 => "IQ1_M",
        32 => "BF16",
        36 => "TQ1_0",
        37 => "TQ2_0",
        38 => "MXFP4_MOE",
        _ => "unknown",
    }
}

fn truncated<E>(_: E) -> GgufError {
    GgufError::Truncated
}

fn read_u32(r: &mut impl Read) -> Result<u32, GgufError> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b).map_err(truncated)?;
    Ok(u32::from_le_bytes(b))
}

fn read_u64(r: &mut impl Read) -> Result<u64, GgufError> {
    let mut b = [0u8; 8];
    r.read_exact(&mut b).map_err(truncated)?;
    Ok(u64::from_le_bytes(b))
}

fn read_string(r: &mut impl Read) -> Result<String, GgufError> {
    let len = read_u64(r)?;
    if len > MAX_STRING_BYTES {
        return Err(GgufError::Corrupt("string too long"));
    }
    let mut buf = Vec::new();
    r.take(len).read_to_end(&mut buf).map_err(truncated)?;
    if buf.len() as u64 != len {
        return Err(GgufError::Truncated);
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// Size in bytes of a fixed-size value type, `None` for strings and arrays.
fn scalar_size(ty: u32) -> Option<u64> {
    match ty {
        0 | 1 | 7 => Some(1),
        2 | 3 => Some(2),
        4..=6 => Some(4),
        10..=12 => Some(8),
        _ => None,
    }
}

fn read_fixed<const N: usize>(r: &mut impl Read) -> Result<[u8; N], GgufError> {
    let mut b = [0u8; N];
    r.read_exact(&mut b).map_err(truncated)?;
    Ok(b)
}

fn read_value(r: &mut BufReader<File>, ty: u32) -> Result<Value, GgufError> {
    Ok(match ty {
        0 => Value::Int(u8::from_le_bytes(read_fixed(r)?).into()),
        1 => Value::Int(i8::from_le_bytes(read_fixed(r)?).into()),
        2 => Value::Int(u16::from_le_bytes(read_fixed(r)?).into()),
        3 => Value::Int(i16::from_le_bytes(read_fixed(r)?).into()),
        4 => Value::Int(u32::from_le_bytes(read_fixed(r)?).into()),
        5 => Value::Int(i32::from_le_bytes(read_fixed(r)?).into()),
        6 => {
            read_fixed::<4>(r)?;
            Value::Other
        }
        7 => {
            read_fixed::<1>(r)?;
            Value::Other
        }
        8 => Value::Str(read_string(r)?),
        9 => {
            let elem_ty = read_u32(r)?;
            let n = read_u64(r)?;
            if n > MAX_ENTRIES * 4 {
                return Err(GgufError::Corrupt("array too long"));
            }
            // seek_relative keeps BufReader's buffer: vocabularies are 10^5 short strings.
            match scalar_size(elem_ty) {
                Some(size) => {
                    let skip = i64::try_from(n * size).map_err(truncated)?;
                    r.seek_relative(skip).map_err(truncated)?;
                }
                None if elem_ty == 8 => {
                    for _ in 0..n {
                        let len = read_u64(r)?;
                        if len > MAX_STRING_BYTES {
                            return Err(GgufError::Corrupt("string too long"));
                        }
                        r.seek_relative(len as i64).map_err(truncated)?;
                    }
                }
                None => return Err(GgufError::ValueType(elem_ty)),
            }
            Value::Other
        }
        10 => Value::Int(u64::from_le_bytes(read_fixed(r)?).into()),
        11 => Value::Int(i64::from_le_bytes(read_fixed(r)?).into()),
        12 => {
            read_fixed::<8>(r)?;
            Value::Other
        }
        other => return Err(GgufError::ValueType(other)),
    })
}

/// "135M", "1.2B": a parameter count as people write it.
pub fn human_params(n: u64) -> String {
    let n = n as f64;
    if n >= 1e9 {
        format!("{:.1}B", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.0}M", n / 1e6)
    } else {
        format!("{:.0}K", n / 1e3)
    }
}
