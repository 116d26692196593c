//! The `lectern` binary end to end, through its JSON Lines output.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::{asset, models_dir, shared_pdf};

pub fn lectern(data_dir: &Path, args: &[&str]) -> (i32, Vec<Value>) {
    lectern_with_models(data_dir, &models_dir(), args)
}

/// `lectern --json` with its own data and models folders; its exit code and output lines.
pub fn lectern_with_models(data_dir: &Path, models_dir: &Path, args: &[&str]) -> (i32, Vec<Value>) {
    let output = Command::new(env!("CARGO_BIN_EXE_lectern"))
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--json")
        .args(args)
        .env("LECTERN_MODELS_DIR", models_dir)
        .output()
        .expect("run lectern");
    let stdout = String::from_utf8(output.stdout).expect("utf-8 output");
    let lines = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    (output.status.code().unwrap_or(-1), lines)
}

#[test]
fn collections_ingest_documents_chunks_and_remove_through_the_cli() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path();
    let (rc, out) = lectern(data, &["collection", "create", "Lights"]);
    assert_eq!(rc, 0);
    assert_eq!(out[0]["name"], "Lights");

    let sample = asset("sample-lighthouses.pdf");
    let bad = shared_pdf("bad_invalid-header-eof.pdf");
    let (rc, out) = lectern(
        data,
        &[
            "ingest",
            "--collection",
            "Lights",
            &sample.to_string_lossy(),
            &bad.to_string_lossy(),
        ],
    );
    assert_eq!(rc, 2, "a failed file makes the exit code 2");
    assert_eq!(out.len(), 2);
    assert_eq!(out[0]["status"], "indexed");
    assert_eq!(out[0]["pages"], 3);
    assert!(out[0]["document_id"].is_i64());
    assert!(out[0]["error"].is_null());
    assert_eq!(out[1]["status"], "failed");
    assert_eq!(out[1]["error"]["code"], "malformed_pdf");
    assert!(
        out[1]["error"]["message"]
            .as_str()
            .expect("message")
            .contains("bad_invalid-header-eof.pdf")
    );

    let (rc, out) = lectern(
        data,
        &[
            "ingest",
            "--collection",
            "Lights",
            &sample.to_string_lossy(),
        ],
    );
    assert_eq!((rc, out[0]["status"].as_str()), (0, Some("skipped")));

    let (_, docs) = lectern(data, &["documents", "--collection", "Lights"]);
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0]["name"], "sample-lighthouses.pdf");
    assert_eq!(docs[0]["format"], "pdf");

    let (_, chunks) = lectern(
        data,
        &["chunks", "--collection", "Lights", "sample-lighthouses.pdf"],
    );
    assert_eq!(chunks.len() as i64, docs[0]["chunks"].as_i64().expect("n"));
    assert_eq!(chunks[0]["page"], 1);

    let (_, list) = lectern(data, &["collection", "list"]);
    assert_eq!(list[0]["documents"], 1);

    let (rc, found) = lectern(
        data,
        &[
            "search",
            "--collection",
            "Lights",
            "--k",
            "2",
            "who",
            "trimmed",
            "the",
            "wick",
        ],
    );
    assert_eq!(rc, 0);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["query"], "who trimmed the wick");
    let hit = &found[0]["hits"][0];
    assert_eq!(hit["rank"], 1);
    assert_eq!(hit["document"], "sample-lighthouses.pdf");
    assert!(hit["page"].is_i64() && hit["last_page"].is_i64() && hit["chunk_id"].is_i64());
    assert!(hit["text"].as_str().expect("text").contains("wick"));

    // `-` answers one query per line of stdin, in every mode.
    for mode in ["hybrid", "vector", "keyword"] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lectern"))
            .args([
                "--data-dir",
                &data.to_string_lossy(),
                "--json",
                "search",
                "-c",
                "Lights",
                "--mode",
                mode,
                "-",
            ])
            .env("LECTERN_MODELS_DIR", models_dir())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("run lectern");
        use std::io::Write;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(b"Fresnel lens\n\ndaymarks on a tower\n")
            .expect("write queries");
        let output = child.wait_with_output().expect("wait");
        let lines: Vec<Value> = String::from_utf8(output.stdout)
            .expect("utf-8")
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON"))
            .collect();
        assert_eq!(lines.len(), 2, "{mode}");
        assert_eq!(lines[1]["query"], "daymarks on a tower");
        assert!(
            !lines[1]["hits"].as_array().expect("hits").is_empty(),
            "{mode}"
        );
    }

    let (rc, _) = lectern(
        data,
        &["remove", "--collection", "Lights", "sample-lighthouses.pdf"],
    );
    assert_eq!(rc, 0);
    let (_, docs) = lectern(data, &["documents", "--collection", "Lights"]);
    assert!(docs.is_empty());

    let (rc, _) = lectern(data, &["collection", "rename", "Lights", "Beacons"]);
    assert_eq!(rc, 0);
    let (rc, out) = lectern(data, &["documents", "--collection", "Lights"]);
    assert_eq!(rc, 1);
    assert_eq!(out[0]["error"]["code"], "not_found");
    let (rc, _) = lectern(data, &["collection", "delete", "Beacons"]);
    assert_eq!(rc, 0);
    let (_, list) = lectern(data, &["collection", "list"]);
    assert!(list.is_empty());
}

#[test]
fn reindex_reads_changed_sources_again_and_keeps_missing_ones() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let notes = dir.path().join("notes.md");
    let gone = dir.path().join("gone.md");
    std::fs::write(
        &notes,
        "# Tides\n\nThe harbour floods at the spring tide.\n",
    )
    .expect("write");
    std::fs::write(&gone, "# Bells\n\nThe fog bell rings every ten seconds.\n").expect("write");
    let (rc, _) = lectern(
        &data,
        &[
            "ingest",
            "-c",
            "Notes",
            &notes.to_string_lossy(),
            &gone.to_string_lossy(),
        ],
    );
    assert_eq!(rc, 0);

    std::fs::write(
        &notes,
        "# Tides\n\nThe lighthouse keeper logs the neap tide.\n",
    )
    .expect("write");
    std::fs::remove_file(&gone).expect("remove");
    let (rc, out) = lectern(&data, &["reindex", "--collection", "Notes"]);
    assert_eq!(rc, 2, "the missing source is a failed file: {out:?}");
    let status = |name: &str| {
        out.iter()
            .find(|o| o["path"].as_str().is_some_and(|p| p.ends_with(name)))
            .map(|o| o["status"].as_str().unwrap_or_default().to_owned())
    };
    assert_eq!(status("notes.md").as_deref(), Some("indexed"), "{out:?}");
    assert_eq!(status("gone.md").as_deref(), Some("failed"), "{out:?}");

    // The changed text is what is stored and found; the missing file's document is kept.
    let (_, docs) = lectern(&data, &["documents", "-c", "Notes"]);
    assert_eq!(docs.len(), 2, "{docs:?}");
    let (_, found) = lectern(
        &data,
        &[
            "search",
            "-c",
            "Notes",
            "--mode",
            "vector",
            "neap tide keeper",
        ],
    );
    let top = &found[0]["hits"][0];
    assert!(
        top["text"].as_str().expect("text").contains("neap"),
        "{top}"
    );

    // Unchanged sources are skipped the second time.
    std::fs::write(&gone, "# Bells\n\nThe fog bell rings every ten seconds.\n").expect("write");
    let (rc, out) = lectern(&data, &["reindex", "-c", "Notes"]);
    assert_eq!(rc, 0, "{out:?}");
    assert!(
        out.iter()
            .filter(|o| o["path"].is_string())
            .all(|o| o["status"] == "skipped"),
        "{out:?}"
    );

    let (rc, out) = lectern(&data, &["reindex", "-c", "Nowhere"]);
    assert_eq!(
        (rc, out[0]["error"]["code"].as_str()),
        (1, Some("not_found"))
    );
}

/// `lectern … | head`: the reader goes before the output is written, and the program ends
/// quietly with success, where `println!` used to panic ("failed printing to stdout").
#[test]
fn a_closed_stdout_ends_the_program_quietly() {
    let dir = tempfile::tempdir().expect("temp dir");
    for json in [true, false] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lectern"))
            .args(["--data-dir", &dir.path().to_string_lossy()])
            .args(if json { &["--json"][..] } else { &[][..] })
            .arg("settings")
            .env("LECTERN_MODELS_DIR", models_dir())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run lectern");
        drop(child.stdout.take());
        let output = child.wait_with_output().expect("lectern ends");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert_eq!(output.status.code(), Some(0), "{stderr}");
    }
}
