//! Followed folders through the CLI: `lectern follow` and `lectern sync` with files created,
//! changed, moved, deleted; a folder that goes missing (or a mount point without its disk)
//! keeps its documents; `lectern sync --watch` batches a burst into one sync and reads a file
//! being written once it has stopped changing. The kill -9 mid-sync test is in `crash.rs`.

use std::io::{BufRead, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::cli::lectern;
use crate::support::models_dir;

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

/// Lines of a sync's output with this status.
fn with_status<'a>(out: &'a [Value], status: &str) -> Vec<&'a Value> {
    out.iter().filter(|l| l["status"] == status).collect()
}

fn file_name(line: &Value) -> String {
    Path::new(line["path"].as_str().expect("path"))
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned()
}

fn documents(data: &Path, collection: &str) -> Vec<Value> {
    let (rc, out) = lectern(data, &["documents", "-c", collection]);
    assert_eq!(rc, 0, "{out:?}");
    out
}

fn search_top(data: &Path, collection: &str, query: &str) -> String {
    let (rc, out) = lectern(data, &["search", "-c", collection, "--k", "1", query]);
    assert_eq!(rc, 0, "{out:?}");
    out[0]["hits"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn a_followed_folder_keeps_in_step_with_creates_changes_moves_and_deletes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (data, docs) = (dir.path().join("data"), dir.path().join("docs"));
    write(
        &docs.join("alpha.md"),
        "# Alpha\n\nThe aardvark eats termites at night.",
    );
    write(
        &docs.join("bravo.txt"),
        "Bravo: the blue whale sings in the deep ocean.",
    );
    write(
        &docs.join("sub/charlie.md"),
        "# Charlie\n\nCamels store fat in their humps.",
    );
    // Passed over: hidden files and folders, word processors' lock files, other formats.
    write(
        &docs.join(".hidden/secret.md"),
        "# Hidden\n\nNot for the index.",
    );
    write(&docs.join("~$alpha.docx"), "a lock file, not a document");
    write(&docs.join("photo.jpg"), "not a document either");

    let (rc, out) = lectern(
        &data,
        &["follow", "-c", "notes", docs.to_str().expect("utf-8")],
    );
    assert_eq!(rc, 0, "{out:?}");
    let mut indexed: Vec<String> = with_status(&out, "indexed")
        .into_iter()
        .map(file_name)
        .collect();
    indexed.sort();
    assert_eq!(indexed, ["alpha.md", "bravo.txt", "charlie.md"], "{out:?}");
    let (_, folders) = lectern(&data, &["folders"]);
    assert_eq!(folders.len(), 1, "{folders:?}");
    assert!(folders[0]["synced_at"].is_i64(), "{folders:?}");
    let bravo_id = documents(&data, "notes")
        .iter()
        .find(|d| d["name"] == "bravo.txt")
        .expect("bravo")["id"]
        .clone();

    // Nothing changed: nothing is read again.
    let (rc, out) = lectern(&data, &["sync"]);
    assert_eq!(rc, 0, "{out:?}");
    let summary = with_status(&out, "synced")[0];
    assert_eq!(summary["indexed"], 0, "{out:?}");

    // One of each change, and a file touched without a change.
    write(
        &docs.join("alpha.md"),
        "# Alpha\n\nThe aardvark now eats ants by the thousand.",
    );
    write(
        &docs.join("delta.md"),
        "# Delta\n\nDolphins sleep with one eye open.",
    );
    std::fs::rename(docs.join("bravo.txt"), docs.join("sub/bravo-moved.txt")).expect("mv");
    std::fs::remove_file(docs.join("sub/charlie.md")).expect("rm");
    let touched = std::fs::File::options()
        .append(true)
        .open(docs.join("alpha.md"))
        .expect("open");
    touched
        .set_modified(std::time::SystemTime::now() - Duration::from_secs(5))
        .expect("touch");
    drop(touched);
    let (rc, out) = lectern(&data, &["sync", "-c", "notes"]);
    assert_eq!(rc, 0, "{out:?}");
    let mut indexed: Vec<String> = with_status(&out, "indexed")
        .into_iter()
        .map(file_name)
        .collect();
    indexed.sort();
    assert_eq!(indexed, ["alpha.md", "delta.md"], "{out:?}");
    let moved = with_status(&out, "moved");
    assert_eq!(moved.len(), 1, "{out:?}");
    assert!(
        moved[0]["from"]
            .as_str()
            .expect("from")
            .ends_with("/bravo.txt")
    );
    assert_eq!(file_name(moved[0]), "bravo-moved.txt");
    let removed = with_status(&out, "removed");
    assert_eq!(
        removed.iter().map(|l| file_name(l)).collect::<Vec<_>>(),
        ["charlie.md"]
    );

    let after = documents(&data, "notes");
    let mut names: Vec<&str> = after
        .iter()
        .map(|d| d["name"].as_str().expect("name"))
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["alpha.md", "bravo-moved.txt", "delta.md"]);
    let moved_doc = after
        .iter()
        .find(|d| d["name"] == "bravo-moved.txt")
        .expect("moved");
    assert_eq!(
        moved_doc["id"], bravo_id,
        "a moved file keeps its document and chunks"
    );
    assert!(search_top(&data, "notes", "what does the aardvark eat").contains("ants"));
    assert!(!search_top(&data, "notes", "camels humps fat").contains("Camels"));

    // The folder goes (a disk unplugged): its documents stay, marked as missing their source.
    let away = dir.path().join("docs-away");
    std::fs::rename(&docs, &away).expect("mv folder");
    let (rc, out) = lectern(&data, &["sync"]);
    assert_eq!(rc, 0, "{out:?}");
    assert_eq!(with_status(&out, "missing").len(), 1, "{out:?}");
    assert!(with_status(&out, "removed").is_empty(), "{out:?}");
    let kept = documents(&data, "notes");
    assert_eq!(kept.len(), 3, "{kept:?}");
    assert!(kept.iter().all(|d| d["source_missing"] == true), "{kept:?}");
    let (_, folders) = lectern(&data, &["folders"]);
    assert_eq!(folders[0]["missing"], true);

    // It comes back: nothing to read again.
    std::fs::rename(&away, &docs).expect("mv back");
    let (rc, out) = lectern(&data, &["sync"]);
    assert_eq!(rc, 0, "{out:?}");
    assert_eq!(with_status(&out, "synced")[0]["indexed"], 0, "{out:?}");
    let (_, folders) = lectern(&data, &["folders"]);
    assert_eq!(folders[0]["missing"], false);

    // Unfollowed, the documents stay; followed again and unfollowed with them, they go.
    let docs_arg = docs.to_str().expect("utf-8");
    let (rc, _) = lectern(&data, &["unfollow", "-c", "notes", docs_arg]);
    assert_eq!(rc, 0);
    assert_eq!(documents(&data, "notes").len(), 3);
    let (rc, _) = lectern(&data, &["follow", "-c", "notes", docs_arg]);
    assert_eq!(rc, 0);
    let (rc, _) = lectern(
        &data,
        &["unfollow", "-c", "notes", docs_arg, "--remove-documents"],
    );
    assert_eq!(rc, 0);
    assert!(documents(&data, "notes").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mount_point_without_its_disk_keeps_its_documents() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (data, mount) = (dir.path().join("data"), dir.path().join("usb"));
    write(
        &mount.join("report.md"),
        "# Report\n\nThe harvest was late this year.",
    );
    let (rc, out) = lectern(
        &data,
        &["follow", "-c", "usb", mount.to_str().expect("utf-8")],
    );
    assert_eq!(rc, 0, "{out:?}");
    // A disk unmounted leaves an empty folder on the parent's file system: the same here,
    // with the device recorded when followed made another.
    let set_device = |device: i64| {
        let data = data.clone();
        async move {
            let library = lectern::Library::open(lectern::Paths {
                data_dir: data,
                models_dir: models_dir(),
            })
            .await
            .expect("open");
            sqlx::query("UPDATE folders SET device = ?")
                .bind(device)
                .execute(library.db().pool())
                .await
                .expect("update");
            library.db().close().await;
        }
    };
    set_device(-7).await;
    std::fs::remove_file(mount.join("report.md")).expect("rm");
    let (rc, out) = lectern(&data, &["sync"]);
    assert_eq!(rc, 0, "{out:?}");
    assert_eq!(with_status(&out, "missing").len(), 1, "{out:?}");
    assert_eq!(documents(&data, "usb").len(), 1);

    // The disk back under another device number: its files are there, so it is the folder.
    write(
        &mount.join("report.md"),
        "# Report\n\nThe harvest was late this year.",
    );
    let (rc, out) = lectern(&data, &["sync"]);
    assert_eq!(rc, 0, "{out:?}");
    assert!(with_status(&out, "missing").is_empty(), "{out:?}");
    // The same folder emptied on its own file system is the person deleting the files.
    std::fs::remove_file(mount.join("report.md")).expect("rm");
    let (rc, out) = lectern(&data, &["sync"]);
    assert_eq!(rc, 0, "{out:?}");
    assert_eq!(with_status(&out, "removed").len(), 1, "{out:?}");
    assert!(documents(&data, "usb").is_empty());
}

#[test]
fn following_refuses_files_overlaps_and_the_data_folder() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (data, docs) = (dir.path().join("data"), dir.path().join("docs"));
    write(&docs.join("inner/a.md"), "# A\n\nSome text.");
    let docs_arg = docs.to_str().expect("utf-8");
    let (rc, _) = lectern(&data, &["follow", "-c", "c", docs_arg]);
    assert_eq!(rc, 0);
    let refused = |args: &[&str], code: &str| {
        let (rc, out) = lectern(&data, args);
        assert_eq!(rc, 1, "{args:?}: {out:?}");
        assert_eq!(out[0]["error"]["code"], code, "{args:?}: {out:?}");
    };
    refused(&["follow", "-c", "c", docs_arg], "already_exists");
    let inner = docs.join("inner");
    refused(
        &["follow", "-c", "c", inner.to_str().expect("utf-8")],
        "invalid_input",
    );
    let file = inner.join("a.md");
    refused(
        &["follow", "-c", "c", file.to_str().expect("utf-8")],
        "invalid_input",
    );
    refused(
        &["follow", "-c", "c", data.to_str().expect("utf-8")],
        "invalid_input",
    );
    refused(
        &["follow", "-c", "c", dir.path().to_str().expect("utf-8")],
        "invalid_input",
    );
    let gone = dir.path().join("nowhere");
    refused(&["follow", "-c", "c", gone.to_str().expect("utf-8")], "io");
    refused(
        &["unfollow", "-c", "c", gone.to_str().expect("utf-8")],
        "not_found",
    );
}

/// `lectern --json sync --watch` as a child whose output lines arrive on a channel.
struct Watch {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<Value>,
}

impl Watch {
    fn start(data: &Path, collection: &str) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lectern"))
            .arg("--data-dir")
            .arg(data)
            .args(["--json", "sync", "--watch", "-c", collection])
            .env("LECTERN_MODELS_DIR", models_dir())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start lectern sync --watch");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                let value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
                if tx.send(value).is_err() {
                    break;
                }
            }
        });
        Self { child, lines }
    }

    /// The lines of the next sync, through its summary line.
    fn next_sync(&self, within: Duration) -> Vec<Value> {
        let deadline = Instant::now() + within;
        let mut got = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line["status"] == "synced" => {
                    got.push(line);
                    return got;
                }
                Ok(line) => got.push(line),
                Err(_) => panic!("no sync within {within:?}; so far {got:?}"),
            }
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_watch_syncs_a_burst_once_and_a_file_being_written_when_it_is_done() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (data, docs) = (dir.path().join("data"), dir.path().join("docs"));
    write(
        &docs.join("first.md"),
        "# First\n\nThe first note is about otters.",
    );
    write(&docs.join("broken.pdf"), "%PDF-1.7 and nothing a PDF needs");
    let (rc, out) = lectern(&data, &["follow", "-c", "w", docs.to_str().expect("utf-8")]);
    assert_eq!(rc, 2, "the broken PDF fails: {out:?}");
    let watch = Watch::start(&data, "w");
    // The sync at start (asked for) finds nothing new and tries the broken file again.
    let start = watch.next_sync(Duration::from_secs(60));
    let summary = start.last().expect("summary");
    assert_eq!(summary["indexed"], 0, "{start:?}");
    assert_eq!(summary["failed"], 1, "{start:?}");
    std::thread::sleep(Duration::from_millis(500));

    // A burst: ten files at once, and one written slowly over four seconds.
    for i in 0..10 {
        write(
            &docs.join(format!("burst/note-{i}.md")),
            &format!("# Note {i}\n\nNote number {i} is about the number {i}."),
        );
    }
    let slow_path = docs.join("slow.md");
    let mut slow = std::fs::File::create(&slow_path).expect("create");
    for i in 0..6 {
        writeln!(slow, "Line {i} of a file still being written.").expect("write");
        slow.flush().expect("flush");
        std::thread::sleep(Duration::from_millis(700));
    }
    writeln!(slow, "The last line names the marmot.").expect("write");
    drop(slow);
    let burst = watch.next_sync(Duration::from_secs(120));
    let summary = burst.last().expect("summary");
    assert_eq!(
        summary["indexed"], 11,
        "one sync for the whole burst: {burst:?}"
    );
    // A sync on a change leaves a file that failed before, unchanged since, alone.
    assert_eq!(summary["failed"], 0, "{burst:?}");
    assert_eq!(summary["failed_before"], 1, "{burst:?}");
    let slow_doc = documents(&data, "w")
        .into_iter()
        .find(|d| d["name"] == "slow.md")
        .expect("slow.md");
    let (_, chunks) = lectern(
        &data,
        &["chunks", "-c", "w", slow_doc["id"].to_string().as_str()],
    );
    let text: String = chunks.iter().filter_map(|c| c["text"].as_str()).collect();
    assert!(text.contains("marmot"), "read once it was whole: {text:?}");

    // A deletion and a rename.
    std::fs::remove_file(docs.join("first.md")).expect("rm");
    std::fs::rename(docs.join("burst/note-0.md"), docs.join("note-zero.md")).expect("mv");
    let changes = watch.next_sync(Duration::from_secs(60));
    assert_eq!(with_status(&changes, "removed").len(), 1, "{changes:?}");
    assert_eq!(with_status(&changes, "moved").len(), 1, "{changes:?}");
    assert_eq!(documents(&data, "w").len(), 11);
}
