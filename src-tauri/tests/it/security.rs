//! The window may use Lectern's own commands and events and nothing else: no file system,
//! shell, HTTP or other plugin permission, and a strict content security policy.

use std::path::Path;

fn read_json(relative: &str) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    let text = std::fs::read_to_string(&path).expect("read config");
    serde_json::from_str(&text).expect("parse config")
}

#[test]
fn capabilities_grant_only_events_and_lecterns_commands() {
    let capability = read_json("capabilities/default.json");
    assert_eq!(capability["windows"], serde_json::json!(["main"]));
    let permissions: Vec<&str> = capability["permissions"]
        .as_array()
        .expect("permissions")
        .iter()
        .map(|p| p.as_str().expect("permission names only"))
        .collect();
    // Every command the UI's bindings invoke, and nothing more, is allowed by name.
    let bindings = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/lib/bindings.ts"),
    )
    .expect("read bindings");
    let mut invoked: Vec<String> = bindings
        .split("__TAURI_INVOKE")
        .skip(1)
        .filter(|rest| rest.starts_with(['(', '<']))
        .filter_map(|rest| rest.split_once("(\"").map(|(_, name)| name))
        .filter_map(|rest| rest.split('"').next())
        .map(|command| format!("allow-{}", command.replace('_', "-")))
        .collect();
    invoked.sort();
    let mut allowed: Vec<String> = permissions
        .iter()
        .filter(|p| p.starts_with("allow-"))
        .map(|p| (*p).to_owned())
        .collect();
    allowed.sort();
    assert!(!invoked.is_empty(), "no commands found in the bindings");
    assert_eq!(allowed, invoked);
    let others: Vec<&&str> = permissions
        .iter()
        .filter(|p| !p.starts_with("allow-"))
        .collect();
    assert_eq!(
        others,
        [&"core:event:default"],
        "only event listening beyond the commands"
    );
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("capabilities");
    let n_files = std::fs::read_dir(dir).expect("capabilities dir").count();
    assert_eq!(n_files, 1, "one capability file, reviewed here");
}

#[test]
fn content_security_policy_is_strict() {
    let config = read_json("tauri.conf.json");
    let csp = &config["app"]["security"]["csp"];
    assert_eq!(csp["default-src"], "'self'");
    assert_eq!(csp["script-src"], "'self'", "no inline or eval'd scripts");
    assert_eq!(csp["object-src"], "'none'");
    let connect = csp["connect-src"].as_str().expect("connect-src");
    for source in connect.split_whitespace() {
        assert!(
            [
                "ipc:",
                "http://ipc.localhost",
                "lectern-doc:",
                "http://lectern-doc.localhost"
            ]
            .contains(&source),
            "the webview may not connect to {source}"
        );
    }
    assert!(
        config["app"]["security"]
            .get("dangerousDisableAssetCspModification")
            .is_none()
    );
    assert_eq!(config["app"]["withGlobalTauri"], serde_json::Value::Null);
}
