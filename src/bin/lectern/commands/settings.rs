//! `lectern settings`: show or change the answer and retrieval settings, from the core's one
//! table.

use lectern::settings::SETTINGS;
use lectern::{Error, Library};

use crate::output::Out;

pub async fn run(
    library: &Library,
    key: Option<String>,
    value: Option<String>,
    out: &Out,
) -> Result<(), Error> {
    let settings = match (&key, &value) {
        (Some(k), Some(v)) => library.set_setting(k, v).await?,
        _ => library.settings().await?,
    };
    let keys: Vec<&str> = match &key {
        Some(k) => vec![lectern::settings::spec(k)?.key],
        None => SETTINGS.map(|spec| spec.key).to_vec(),
    };
    for k in keys {
        out.setting(k, &settings.get(k).unwrap_or_default());
    }
    Ok(())
}

/// `lectern settings --help`: every key with its range and default, from the core's table.
pub fn help() -> String {
    let mut help = String::from("Show or change the answer and retrieval settings.\n\nSettings:");
    for spec in &SETTINGS {
        help.push_str(&format!(
            "\n  {:<26} {} (default {})",
            spec.key, spec.help, spec.default
        ));
    }
    help
}
