//! An OpenAI-compatible server as Lectern's language model: llama.cpp's own `llama-server`
//! (built by `scripts/llama-server.sh`) serving SmolLM2 on loopback, added with
//! `lectern models add-endpoint`, answering `lectern ask` with page sources; killed mid-answer,
//! then gone, each a clear error that leaves the library as it was; the answer evaluation
//! through it. The same server's `/v1/embeddings` as the embedding model, switched to and
//! away from; a server that stops answering, ended by the endpoint's timeout.

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{PAGE, PAPER, QUESTION, models_dir, shared_pdf};

fn llama_server_binary() -> PathBuf {
    let path = std::env::var_os("LECTERN_LLAMA_SERVER").map_or_else(
        || {
            let dir = std::env::var_os("LECTERN_LLAMA_SERVER_DIR").map_or_else(
                || {
                    std::env::var_os("XDG_CACHE_HOME")
                        .map_or_else(
                            || {
                                PathBuf::from(std::env::var_os("HOME").expect("HOME"))
                                    .join(".cache")
                            },
                            PathBuf::from,
                        )
                        .join("lectern/llama-server")
                },
                PathBuf::from,
            );
            dir.join("build/bin/llama-server")
        },
        PathBuf::from,
    );
    assert!(
        path.exists(),
        "{} is missing: run scripts/setup.sh --test-servers",
        path.display()
    );
    path
}

/// `llama-server` with SmolLM2 on a free loopback port; killed when dropped.
struct LlamaServer {
    child: Child,
    port: u16,
}

impl LlamaServer {
    fn start() -> Self {
        Self::start_with(&[])
    }

    /// With `extra` arguments to llama-server (such as `--embeddings`).
    fn start_with(extra: &[&str]) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(llama_server_binary())
            .arg("-m")
            .arg(models_dir().join("SmolLM2-135M-Instruct.Q4_1.gguf"))
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["-c", "4096", "-t", "2", "-np", "1", "--no-webui"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start llama-server");
        let server = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !server.healthy() {
            assert!(Instant::now() < deadline, "llama-server never became ready");
            std::thread::sleep(Duration::from_millis(200));
        }
        server
    }

    fn healthy(&self) -> bool {
        use std::io::Write;
        let Ok(mut socket) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let request = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
        let mut response = String::new();
        socket.write_all(request.as_bytes()).is_ok()
            && socket.read_to_string(&mut response).is_ok()
            && response.starts_with("HTTP/1.1 200")
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for LlamaServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `lectern --json` with its own config folder, so no test touches the user's endpoints.
fn lectern(data: &Path, config: &Path, args: &[&str]) -> (i32, Vec<serde_json::Value>) {
    let output = lectern_command(data, config, true, args)
        .output()
        .expect("run lectern");
    let stdout = String::from_utf8(output.stdout).expect("utf-8");
    let lines = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    (output.status.code().unwrap_or(-1), lines)
}

fn lectern_command(data: &Path, config: &Path, json: bool, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lectern"));
    command
        .arg("--data-dir")
        .arg(data)
        .args(if json { &["--json"][..] } else { &[][..] })
        .args(args)
        .env("LECTERN_MODELS_DIR", models_dir())
        .env("LECTERN_CONFIG_DIR", config);
    command
}

/// A fresh library (data and config folders in a temporary folder) with the paper in
/// collection "Papers".
fn library_with_paper() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (data, config) = (dir.path().join("data"), dir.path().join("config"));
    let paper = shared_pdf(PAPER);
    let (rc, _) = lectern(
        &data,
        &config,
        &["ingest", "-c", "Papers", &paper.to_string_lossy()],
    );
    assert_eq!(rc, 0);
    (dir, data, config)
}

#[test]
fn a_llama_server_answers_with_page_sources_and_its_failures_are_clear() {
    let (dir, data, config) = library_with_paper();

    let mut server = LlamaServer::start();
    let url = server.url();
    let (rc, out) = lectern(
        &data,
        &config,
        &[
            "models",
            "add-endpoint",
            "local",
            "--url",
            &url,
            "--model",
            "smollm2",
        ],
    );
    assert_eq!(rc, 0, "{out:?}");
    let config_file = config.join("config.json");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&config_file)
            .expect("config")
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "the config file may hold an API key");
    let (rc, out) = lectern(&data, &config, &["models", "endpoints"]);
    assert_eq!(rc, 0);
    assert_eq!(out[0]["name"], "local");
    assert_eq!(out[0]["connected"], true, "{out:?}");
    let (rc, out) = lectern(&data, &config, &["models", "use", "endpoint:local"]);
    assert_eq!(rc, 0, "{out:?}");
    lectern(&data, &config, &["settings", "llm.max_tokens", "48"]);

    // An answer through the server: Lectern's prompt, sources and citations as with a GGUF.
    let (rc, out) = lectern(
        &data,
        &config,
        &["ask", "-c", "Papers", "--k", "3", QUESTION],
    );
    assert_eq!(rc, 0, "{out:?}");
    let answer = &out[0];
    assert!(
        !answer["answer"].as_str().expect("answer").trim().is_empty(),
        "{answer}"
    );
    assert!(
        answer["model"].as_str().expect("model").contains("local"),
        "{answer}"
    );
    let sources = answer["sources"].as_array().expect("sources");
    assert_eq!(sources[0]["document"], PAPER);
    assert!(sources.iter().any(|s| s["page"] == PAGE), "{sources:?}");
    assert!(
        answer["timings"]["prompt_tokens"]
            .as_i64()
            .expect("prompt tokens")
            > 50
    );
    let first_chat = answer["chat_id"].as_i64().expect("chat").to_string();

    // The answer evaluation goes through the same engine.
    let qa = dir.path().join("qa.jsonl");
    let labelled = serde_json::json!({
        "question": QUESTION,
        "answer": "The bandwidth is chosen by Andrews' plug-in method from an approximating AR(1) model.",
        "pdf_page": PAGE,
        "is_question": true,
    });
    std::fs::write(&qa, format!("{labelled}\n")).expect("write qa");
    let (rc, out) = lectern(
        &data,
        &config,
        &[
            "eval",
            "--answers",
            &qa.to_string_lossy(),
            "-c",
            "Papers",
            "--off-topic",
            "none",
        ],
    );
    assert_eq!(rc, 0, "{out:?}");
    let report = out.last().expect("report");
    assert!(
        report["model"].as_str().expect("model").contains("local"),
        "{report}"
    );
    assert_eq!(report["totals"]["n_questions"], 1, "{report}");

    // The server killed while it writes: a clear error, nothing half-stored.
    lectern(&data, &config, &["settings", "llm.max_tokens", "1500"]);
    let long =
        format!("{QUESTION} Explain it at length, step by step, with an example of each step.");
    let mut asking = lectern_command(&data, &config, false, &["ask", "-c", "Papers", &long])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ask");
    let mut stdout = asking.stdout.take().expect("stdout");
    let mut first = [0_u8; 1];
    stdout.read_exact(&mut first).expect("the answer starts");
    server.kill();
    let output = asking.wait_with_output().expect("ask ends");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("endpoint local"), "{stderr}");

    // Gone altogether: refused at once, named; the earlier chat is as it was.
    let started = Instant::now();
    let (rc, out) = lectern(&data, &config, &["ask", "-c", "Papers", QUESTION]);
    assert_eq!(rc, 1);
    assert_eq!(out[0]["error"]["code"], "generation_failed", "{out:?}");
    let message = out[0]["error"]["message"].as_str().expect("message");
    assert!(
        message.contains("endpoint local") && message.contains(&url),
        "{message}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "a refused connection is not a wait"
    );
    let (rc, history) = lectern(&data, &config, &["history", &first_chat]);
    assert_eq!((rc, history.len()), (0, 1));
    assert_eq!(history[0]["question"], QUESTION);
    let (_, endpoints) = lectern(&data, &config, &["models", "endpoints"]);
    assert_eq!(endpoints[0]["connected"], false);
    assert!(
        !std::fs::read_to_string(&config_file)
            .expect("config")
            .contains("api_key"),
        "no key was given, none is stored"
    );
}

fn error_of(out: &[serde_json::Value]) -> (String, String) {
    let error = &out.last().expect("an error line")["error"];
    (
        error["code"].as_str().expect("code").to_owned(),
        error["message"].as_str().expect("message").to_owned(),
    )
}

fn search(data: &Path, config: &Path, query: &str) -> (i32, Vec<serde_json::Value>) {
    lectern(data, config, &["search", "-c", "Papers", "--k", "3", query])
}

#[test]
fn a_servers_embeddings_replace_the_local_model_and_can_be_left_again() {
    let (dir, data, config) = library_with_paper();

    // SmolLM2's mean-pooled states: 576 numbers, not MiniLM's 384, so the indexes change size.
    let mut server = LlamaServer::start_with(&[
        "--embeddings",
        "--pooling",
        "mean",
        "-b",
        "1024",
        "-ub",
        "1024",
    ]);
    let url = server.url();
    let (rc, out) = lectern(
        &data,
        &config,
        &[
            "models",
            "add-endpoint",
            "vectors",
            "--url",
            &url,
            "--model",
            "smollm2",
        ],
    );
    assert_eq!(rc, 0, "{out:?}");
    let (rc, out) = lectern(&data, &config, &["embedding", "use", "endpoint:vectors"]);
    assert_eq!(rc, 0, "{out:?}");
    let report = out.last().expect("report");
    assert_eq!(report["to"], "endpoint:vectors", "{report}");
    assert!(report["n_embedded"].as_u64().expect("n") > 10, "{report}");
    let (_, choices) = lectern(&data, &config, &["embedding", "list"]);
    let remote = choices
        .iter()
        .find(|c| c["id"] == "endpoint:vectors")
        .expect("the endpoint is listed");
    assert_eq!(
        (&remote["active"], &remote["dims"]),
        (&true.into(), &576.into())
    );

    // Questions and new documents are embedded by the server.
    let (rc, found) = search(&data, &config, QUESTION);
    assert_eq!(rc, 0, "{found:?}");
    assert_eq!(found[0]["hits"][0]["document"], PAPER, "{found:?}");
    let note = dir.path().join("harbour-note.md");
    std::fs::write(
        &note,
        "# Harbour note\n\nThe quartermaster keeps the brass sextant in the chart room.\n",
    )
    .expect("write note");
    let (rc, out) = lectern(
        &data,
        &config,
        &["ingest", "-c", "Papers", &note.to_string_lossy()],
    );
    assert_eq!(rc, 0, "{out:?}");
    let (rc, found) = search(&data, &config, "where is the brass sextant kept");
    assert_eq!(rc, 0, "{found:?}");
    assert_eq!(
        found[0]["hits"][0]["document"], "harbour-note.md",
        "{found:?}"
    );

    // The server gone: a search says which endpoint failed; nothing stored is touched, and
    // switching back to the local model needs no server.
    server.kill();
    let (rc, out) = search(&data, &config, QUESTION);
    assert_eq!(rc, 1);
    let (code, message) = error_of(&out);
    assert_eq!(code, "embed_failed", "{message}");
    assert!(message.contains("embedding endpoint vectors"), "{message}");
    let (rc, out) = lectern(&data, &config, &["embedding", "use", "all-MiniLM-L6-v2"]);
    assert_eq!(rc, 0, "{out:?}");
    let (rc, found) = search(&data, &config, "where is the brass sextant kept");
    assert_eq!(rc, 0, "{found:?}");
    assert_eq!(
        found[0]["hits"][0]["document"], "harbour-note.md",
        "{found:?}"
    );
    let (rc, found) = search(&data, &config, QUESTION);
    assert_eq!(rc, 0);
    assert_eq!(found[0]["hits"][0]["document"], PAPER, "{found:?}");
}

/// A server that lists its models and then never answers anything else, holding the
/// connection open: the shape of a stuck or overloaded server.
fn silent_server() -> u16 {
    use std::io::{BufRead, BufReader, Write};
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut request_line = String::new();
                let mut reader = BufReader::new(&stream);
                if reader.read_line(&mut request_line).is_err() {
                    return;
                }
                if request_line.contains("/models ") {
                    let body = r#"{"object":"list","data":[{"id":"stuck"}]}"#;
                    let _ = write!(
                        &stream,
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                } else {
                    std::thread::sleep(Duration::from_secs(120));
                }
            });
        }
    });
    port
}

#[test]
fn a_server_that_stops_answering_ends_at_the_endpoints_timeout() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (data, config) = (dir.path().join("data"), dir.path().join("config"));
    let note = dir.path().join("note.md");
    std::fs::write(
        &note,
        "# Note\n\nThe lighthouse keeper trims the wick at dusk.\n",
    )
    .expect("write note");
    let (rc, _) = lectern(
        &data,
        &config,
        &["ingest", "-c", "Papers", &note.to_string_lossy()],
    );
    assert_eq!(rc, 0);
    let url = format!("http://127.0.0.1:{}/v1", silent_server());
    let (rc, out) = lectern(
        &data,
        &config,
        &[
            "models",
            "add-endpoint",
            "stuck",
            "--url",
            &url,
            "--model",
            "stuck",
            "--timeout",
            "2",
        ],
    );
    assert_eq!(rc, 0, "{out:?}");
    let (rc, out) = lectern(&data, &config, &["models", "use", "endpoint:stuck"]);
    assert_eq!(rc, 0, "it lists its models: {out:?}");

    let started = Instant::now();
    let (rc, out) = lectern(
        &data,
        &config,
        &["ask", "-c", "Papers", "Who trims the wick?"],
    );
    assert_eq!(rc, 1, "{out:?}");
    let (code, message) = error_of(&out);
    assert_eq!(code, "generation_failed", "{message}");
    assert!(
        message.contains("endpoint stuck") && message.contains("no reply within 2 s"),
        "{message}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "the timeout ends the wait: {:?}",
        started.elapsed()
    );

    // As an embedding model: the switch fails the same way and the local model stays.
    let (rc, out) = lectern(&data, &config, &["embedding", "use", "endpoint:stuck"]);
    assert_eq!(rc, 1, "{out:?}");
    let (code, message) = error_of(&out);
    assert_eq!(code, "embed_failed", "{message}");
    assert!(message.contains("no reply within 2 s"), "{message}");
    let (_, choices) = lectern(&data, &config, &["embedding", "list"]);
    let active: Vec<_> = choices.iter().filter(|c| c["active"] == true).collect();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0]["id"], "all-MiniLM-L6-v2");
    let (rc, found) = search(&data, &config, "who trims the wick");
    assert_eq!(rc, 0);
    assert_eq!(found[0]["hits"][0]["document"], "note.md");
}
