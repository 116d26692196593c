//! `lectern serve` against real clients on loopback: the official `openai` Python package
//! (`tests/serve/openai_client.py`) asks a real PDF through the real models, and the stored
//! chats are read back through the CLI.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::cli::lectern;
use crate::support::{PAGE, PAPER, QUESTION, asset, models_dir, shared_pdf};

/// The Python with the pinned client packages, made by `scripts/setup.sh --test-clients`.
fn client_python() -> PathBuf {
    let python = std::env::var_os("LECTERN_TEST_PYTHON").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("target/pyclients/bin/python"),
        PathBuf::from,
    );
    assert!(
        python.exists(),
        "{} is missing: run scripts/setup.sh --test-clients",
        python.display()
    );
    python
}

/// A running `lectern serve`; killed when dropped.
struct Server {
    child: Child,
    url: String,
    token_file: PathBuf,
}

impl Server {
    fn start(data: &Path, extra: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lectern"))
            .arg("--data-dir")
            .arg(data)
            .args(["--json", "serve", "--bind", "127.0.0.1:0"])
            .args(extra)
            .env("LECTERN_MODELS_DIR", models_dir())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start lectern serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the address");
        let started: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
        Self {
            child,
            url: started["listening"].as_str().expect("address").to_owned(),
            token_file: PathBuf::from(started["token_file"].as_str().expect("token file")),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A library with the paper in collection "Papers", answering through SmolLM2: these tests
/// are about the servers' mechanics, not the answers' quality.
fn papers_library() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let paper = shared_pdf(PAPER);
    let (rc, _) = lectern(
        dir.path(),
        &["ingest", "-c", "Papers", &paper.to_string_lossy()],
    );
    assert_eq!(rc, 0);
    let (rc, out) = lectern(
        dir.path(),
        &["models", "use", "SmolLM2-135M-Instruct.Q4_1.gguf"],
    );
    assert_eq!(rc, 0, "{out:?}");
    dir
}

/// Runs a client script of `tests/serve/` with the pinned clients' Python; its summary line.
fn run_client(script: &str, args: &[&str]) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/serve")
        .join(script);
    let output = Command::new(client_python())
        .arg(&script)
        .args(args)
        .output()
        .expect("run the client");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{} failed:\n{stdout}\n{}",
        script.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.lines().last().expect("summary"))
        .unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// The status of a POST without a token, over a plain socket.
fn status_of_post(url: &str, path: &str, body: &str) -> u16 {
    use std::io::{Read, Write};
    let address = url.trim_start_matches("http://");
    let mut socket = std::net::TcpStream::connect(address).expect("connect");
    write!(
        socket,
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut response = String::new();
    socket.read_to_string(&mut response).expect("read");
    response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {response:?}"))
}

#[test]
fn the_openai_client_gets_cited_answers_embeddings_and_clear_errors() {
    let dir = papers_library();
    let data = dir.path();

    let server = Server::start(data, &["--max-waiting", "0"]);
    let token_mode = std::fs::metadata(&server.token_file)
        .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()))
        .expect("token file");
    assert_eq!(token_mode & 0o777, 0o600, "the token file is private");

    let page = PAGE.to_string();
    let token_file = server.token_file.to_string_lossy();
    let summary = run_client(
        "openai_client.py",
        &[
            &server.url,
            &token_file,
            "Papers",
            QUESTION,
            PAPER,
            &page,
            &asset("sample-lighthouses.pdf").to_string_lossy(),
            &shared_pdf("bad_fuzz-no-trailer.pdf").to_string_lossy(),
        ],
    );

    // What the API answered is stored like any answer.
    let chat = summary["whole_chat_id"]
        .as_i64()
        .expect("chat id")
        .to_string();
    let (rc, history) = lectern(data, &["history", &chat]);
    assert_eq!(rc, 0);
    assert_eq!(
        history.len(),
        2,
        "the answer and its continuation: {history:?}"
    );
    assert_eq!(history[0]["question"], QUESTION);

    // The answer whose client went away was stopped, not written to its 1,500 tokens; what it
    // wrote is kept, marked as stopped.
    let deadline = Instant::now() + Duration::from_secs(60);
    let stopped = loop {
        let (_, chats) = lectern(data, &["chats", "-c", "Papers"]);
        let newest = chats[0]["id"].as_i64().expect("chat id").to_string();
        let (_, messages) = lectern(data, &["history", &newest]);
        if let Some(message) = messages.first()
            && message["question"] == summary["cut_question"]
        {
            break message.clone();
        }
        assert!(Instant::now() < deadline, "the cut answer was never stored");
        std::thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(stopped["finish"], "cancelled", "{stopped}");
    assert_eq!(stopped["stopped"], true);
}

#[test]
fn the_mcp_client_lists_searches_and_asks_with_pages_on_stdio_and_http() {
    let dir = papers_library();
    let data = dir.path();
    let page = PAGE.to_string();
    let models = models_dir();
    let summary = run_client(
        "mcp_client.py",
        &[
            "stdio",
            env!("CARGO_BIN_EXE_lectern"),
            &data.to_string_lossy(),
            &models.to_string_lossy(),
            "Papers",
            QUESTION,
            PAPER,
            &page,
        ],
    );
    // The tool's answer is stored like any other.
    let chat = summary["chat_id"].as_i64().expect("chat id").to_string();
    let (rc, history) = lectern(data, &["history", &chat]);
    assert_eq!((rc, history.len()), (0, 1), "{history:?}");
    assert_eq!(history[0]["question"], QUESTION);

    // The same tools at `lectern serve`'s /mcp, behind its token.
    let server = Server::start(data, &[]);
    let token_file = server.token_file.to_string_lossy();
    run_client(
        "mcp_client.py",
        &[
            "http",
            &server.url,
            &token_file,
            "Papers",
            QUESTION,
            PAPER,
            &page,
        ],
    );
    assert_eq!(
        status_of_post(&server.url, "/mcp", "{}"),
        401,
        "/mcp needs the token"
    );
}

#[test]
fn serving_a_non_loopback_address_without_a_token_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (rc, out) = lectern(dir.path(), &["serve", "--bind", "0.0.0.0:0", "--no-token"]);
    assert_eq!(rc, 1);
    assert_eq!(out[0]["error"]["code"], "invalid_input", "{out:?}");
    let message = out[0]["error"]["message"].as_str().expect("message");
    assert!(message.contains("without a token"), "{message}");

    // Nor is a token file that other users can read.
    let token_file = dir.path().join("shared-token");
    std::fs::write(&token_file, "0123456789abcdef0123456789abcdef\n").expect("write token");
    std::fs::set_permissions(
        &token_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .expect("chmod");
    let (rc, out) = lectern(
        dir.path(),
        &[
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--token-file",
            &token_file.to_string_lossy(),
        ],
    );
    assert_eq!(rc, 1);
    let message = out[0]["error"]["message"].as_str().expect("message");
    assert!(message.contains("read by other users"), "{message}");
}
