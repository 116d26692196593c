//! Every setting a person can change, in one table: key, kind and range, default, label and
//! help, and whether a change needs the model loaded again. Validation, `lectern settings`
//! and its help, and the app's Settings page (sent over IPC) all read [`SETTINGS`].

use crate::error::{Error, Result};
use crate::llm::Sampling;
use crate::store::Db;

/// What values a setting takes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SettingKind {
    /// A whole number within `min..=max`, or `word` (when there is one) for "choose for me".
    Integer {
        min: i64,
        max: i64,
        word: Option<&'static str>,
    },
    /// A number within `min..=max`.
    Number { min: f64, max: f64 },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SettingSpec {
    pub key: &'static str,
    pub kind: SettingKind,
    /// As `lectern settings` prints it and a fresh library uses it.
    pub default: &'static str,
    /// A few words for the Settings page.
    pub label: &'static str,
    /// The range and what the value does, in words.
    pub help: &'static str,
    /// The value is used when the model loads (so a change unloads it).
    pub reloads_model: bool,
}

/// A checked value: a number, or the setting's word (`auto`, `random`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SettingValue {
    Number(f64),
    Word,
}

impl SettingSpec {
    /// Checks `value` against the kind and range; the error names the key and the range.
    pub fn parse(&self, value: &str) -> Result<SettingValue> {
        let value = value.trim();
        let bad = || {
            Error::InvalidInput(format!(
                "{}: {value:?} is not valid ({})",
                self.key, self.help
            ))
        };
        match self.kind {
            SettingKind::Integer { word, .. }
                if word == Some(value) || (word.is_some() && value.is_empty()) =>
            {
                Ok(SettingValue::Word)
            }
            SettingKind::Integer { min, max, .. } => value
                .parse::<i64>()
                .ok()
                .filter(|n| (min..=max).contains(n))
                // Every range here is far inside f64's exact integers.
                .map(|n| SettingValue::Number(n as f64))
                .ok_or_else(bad),
            SettingKind::Number { min, max } => value
                .parse::<f64>()
                .ok()
                .filter(|n| (min..=max).contains(n))
                .map(SettingValue::Number)
                .ok_or_else(bad),
        }
    }
}

/// The setting named `key`; the error lists the known keys.
pub fn spec(key: &str) -> Result<&'static SettingSpec> {
    SETTINGS.iter().find(|s| s.key == key).ok_or_else(|| {
        Error::InvalidInput(format!(
            "unknown setting {key:?} (known: {})",
            SETTINGS.map(|s| s.key).join(", ")
        ))
    })
}

/// In the order the Settings page and `lectern settings` show them.
pub const SETTINGS: [SettingSpec; 9] = [
    SettingSpec {
        key: "retrieval.k",
        kind: SettingKind::Integer {
            min: 1,
            max: 50,
            word: None,
        },
        // Measured with `lectern eval --answers` on the Debian FAQ, Qwen 0.5B: k = 3 against
        // 4 cites the gold page more often (0.79 against 0.74) with about 220 fewer prompt
        // tokens, first token 6.1 s against 8.5 s (docs/BENCHMARKS.md).
        default: "3",
        label: "Passages per question (top-k)",
        help: "1–50; fewer reach the prompt when they do not fit",
        reloads_model: false,
    },
    SettingSpec {
        key: "retrieval.excerpt_words",
        kind: SettingKind::Integer {
            min: 0,
            max: 1000,
            word: None,
        },
        default: "0",
        label: "Words quoted per passage",
        help: "0–1000: the part that bears on the question; 0 = whole passages",
        reloads_model: false,
    },
    SettingSpec {
        key: "retrieval.min_similarity",
        kind: SettingKind::Number { min: 0.0, max: 1.0 },
        // For all-MiniLM-L6-v2: on the Debian FAQ every one of its 145 questions has a
        // passage at 0.366 or more, and 9 of the 10 off-topic questions of the answer
        // evaluation stay under 0.30 (docs/BENCHMARKS.md).
        default: "0.3",
        label: "Least similarity to answer",
        help: "0–1; a question whose best passage is less similar gets “not in the documents”; 0 = off",
        reloads_model: false,
    },
    SettingSpec {
        key: "llm.n_ctx",
        kind: SettingKind::Integer {
            min: 512,
            max: 1 << 20,
            word: None,
        },
        default: "4096",
        label: "Context size (tokens)",
        help: "512 or more; reloads the model",
        reloads_model: true,
    },
    SettingSpec {
        key: "llm.max_tokens",
        kind: SettingKind::Integer {
            min: 1,
            max: 1 << 16,
            word: None,
        },
        default: "512",
        label: "Longest answer (tokens)",
        help: "1–65536",
        reloads_model: false,
    },
    SettingSpec {
        key: "llm.temperature",
        kind: SettingKind::Number { min: 0.0, max: 5.0 },
        // 0: always the likeliest token, so the same question over the same documents gets
        // the same answer, as the benchmarks and tests measure it. Sampling at 0.2 gave
        // SmolLM2-135M's answer to the E2E question no citation in 2 of 16 tries.
        default: "0",
        label: "Temperature",
        help: "0–5; 0 (default) = always the likeliest word: the same answer each time",
        reloads_model: false,
    },
    SettingSpec {
        key: "llm.top_p",
        // Top-p 0 would keep no token at all.
        kind: SettingKind::Number {
            min: f64::MIN_POSITIVE,
            max: 1.0,
        },
        default: "0.9",
        label: "Top-p",
        help: "above 0, up to 1",
        reloads_model: false,
    },
    SettingSpec {
        key: "llm.threads",
        kind: SettingKind::Integer {
            min: 1,
            max: 256,
            word: Some("auto"),
        },
        default: "auto",
        label: "Threads",
        help: "1–256, or auto (all cores, half when the machine is busy)",
        reloads_model: false,
    },
    SettingSpec {
        key: "llm.seed",
        kind: SettingKind::Integer {
            min: 0,
            max: u32::MAX as i64,
            word: Some("random"),
        },
        default: "random",
        label: "Seed",
        help: "a number, or random (a new seed per answer)",
        reloads_model: false,
    },
];

/// Generation settings stored in the database (`lectern settings`), with their defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct LlmSettings {
    /// `None`: chosen per answer from the cores and how busy the machine is.
    pub threads: Option<usize>,
    pub n_ctx: usize,
    pub max_tokens: usize,
    /// 0 by default (always the likeliest token): the same question over the same documents
    /// gets the same answer, as the benchmarks and tests measure it. Sampling at 0.2 gave
    /// SmolLM2-135M's answer to the E2E question no citation in 2 of 16 tries.
    pub temperature: f32,
    pub top_p: f32,
    /// `None`: a random seed per answer.
    pub seed: Option<u32>,
    /// Passages retrieved per question (fewer reach the prompt when they do not fit).
    pub k: usize,
    /// Words of each passage the prompt quotes: the part that bears on the question
    /// ([`crate::excerpt`]); 0 quotes passages whole.
    pub excerpt_words: usize,
    /// Below this cosine similarity between the question and its best passage the collection
    /// is taken not to be about the question: the answer is [`prompt::NOT_IN_DOCUMENTS`]
    /// without asking the model, which otherwise answers from what it knows (Qwen 0.5B did
    /// for all ten off-topic questions of `lectern eval --answers`). 0 turns it off.
    pub min_similarity: f32,
}

/// [`LlmSettings::min_similarity`]'s default (see [`crate::settings::SETTINGS`]).
pub const MIN_SIMILARITY: f32 = 0.30;

impl Default for LlmSettings {
    /// The defaults of [`crate::settings::SETTINGS`], where each is explained.
    fn default() -> Self {
        let mut s = Self {
            threads: None,
            n_ctx: 0,
            max_tokens: 0,
            temperature: 0.0,
            top_p: 0.0,
            seed: None,
            k: 0,
            excerpt_words: 0,
            min_similarity: 0.0,
        };
        for spec in &SETTINGS {
            s.apply(spec.key, spec.default)
                .expect("the settings table's defaults are valid (a unit test checks)");
        }
        s
    }
}

impl LlmSettings {
    pub async fn load(db: &Db) -> Result<Self> {
        let mut s = Self::default();
        for key in SETTINGS.map(|spec| spec.key) {
            if let Some(value) = db.setting(key).await? {
                // A value that no longer parses (hand-edited database) falls back to the default.
                let _ = s.apply(key, &value);
            }
        }
        Ok(s)
    }

    /// Sets one key from text, checked against [`crate::settings::SETTINGS`].
    pub fn apply(&mut self, key: &str, value: &str) -> Result<()> {
        let parsed = spec(key)?.parse(value)?;
        let (number, word) = match parsed {
            SettingValue::Number(n) => (n, false),
            SettingValue::Word => (0.0, true),
        };
        // The table has checked the range, so these casts cannot truncate.
        let whole = number as usize;
        match key {
            "llm.threads" => self.threads = (!word).then_some(whole),
            "llm.n_ctx" => self.n_ctx = whole,
            "llm.max_tokens" => self.max_tokens = whole,
            "llm.temperature" => self.temperature = number as f32,
            "llm.top_p" => self.top_p = number as f32,
            "llm.seed" => self.seed = (!word).then_some(number as u32),
            "retrieval.k" => self.k = whole,
            "retrieval.excerpt_words" => self.excerpt_words = whole,
            "retrieval.min_similarity" => self.min_similarity = number as f32,
            _ => unreachable!("every key of the settings table is stored here: {key}"),
        }
        Ok(())
    }

    /// Checks and stores one key.
    pub async fn set(db: &Db, key: &str, value: &str) -> Result<Self> {
        let mut s = Self::load(db).await?;
        s.apply(key, value)?;
        db.set_setting(key, value).await?;
        Ok(s)
    }

    /// The value of a key as text.
    pub fn get(&self, key: &str) -> Option<String> {
        Some(match key {
            "llm.threads" => self
                .threads
                .map_or_else(|| "auto".into(), |n| n.to_string()),
            "llm.n_ctx" => self.n_ctx.to_string(),
            "llm.max_tokens" => self.max_tokens.to_string(),
            "llm.temperature" => self.temperature.to_string(),
            "llm.top_p" => self.top_p.to_string(),
            "llm.seed" => self.seed.map_or_else(|| "random".into(), |n| n.to_string()),
            "retrieval.k" => self.k.to_string(),
            "retrieval.excerpt_words" => self.excerpt_words.to_string(),
            "retrieval.min_similarity" => self.min_similarity.to_string(),
            _ => return None,
        })
    }

    /// Sampling for one answer. Threads left to `auto` are all cores here; [`crate::answer::Answerer::ask`]
    /// halves them when the machine is busy at the moment the decode starts.
    pub fn sampling(&self) -> Sampling {
        let n_cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Sampling {
            max_tokens: self.max_tokens,
            temperature: self.temperature,
            top_p: self.top_p,
            seed: self.seed,
            threads: self
                .threads
                .unwrap_or_else(|| crate::llm::auto_threads(n_cores, false)),
            stop: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_is_valid_and_keys_are_unique() {
        for (i, s) in SETTINGS.iter().enumerate() {
            s.parse(s.default)
                .unwrap_or_else(|e| panic!("{}: {e}", s.key));
            assert!(SETTINGS[..i].iter().all(|t| t.key != s.key), "{}", s.key);
        }
    }

    #[test]
    fn values_outside_the_range_name_the_key_and_the_range() {
        let k = spec("retrieval.k").expect("known");
        assert_eq!(k.parse("7").expect("valid"), SettingValue::Number(7.0));
        let e = k.parse("51").expect_err("over");
        assert!(
            e.to_string().contains("retrieval.k") && e.to_string().contains("1–50"),
            "{e}"
        );
        assert_eq!(
            spec("llm.threads")
                .expect("known")
                .parse("auto")
                .expect("word"),
            SettingValue::Word
        );
        assert!(spec("llm.top_p").expect("known").parse("0").is_err());
        assert!(
            spec("llm.nope")
                .expect_err("unknown")
                .to_string()
                .contains("retrieval.k")
        );
    }
}
