//! The models folder: listing, selecting, importing, and downloading a real GGUF from an HTTP
//! server on 127.0.0.1 that drops the first connection halfway (resume, SHA-256 check).

use lectern::job::CancelFlag;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use lectern::models;

use crate::cli::lectern_with_models;
use crate::llm::smollm2;

/// Serves one file at `/model.gguf` with range support. The first response is cut after
/// `cut_after` bytes. Returns the base URL and the Range header of each request.
fn serve(body: Arc<Vec<u8>>, cut_after: Option<usize>) -> (String, Arc<Mutex<Vec<Option<u64>>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let ranges = Arc::new(Mutex::new(Vec::new()));
    let seen = ranges.clone();
    std::thread::spawn(move || {
        let mut cut = cut_after;
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            let mut range = None;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("range: bytes=") {
                    range = v.trim().trim_end_matches('-').parse::<u64>().ok();
                }
            }
            seen.lock().expect("lock").push(range);
            if !request_line.contains("/model.gguf") {
                let _ = stream.write_all(
                    b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                );
                continue;
            }
            let start = range.unwrap_or(0) as usize;
            let head = match range {
                Some(_) => format!(
                    "HTTP/1.1 206 Partial Content\r\ncontent-length: {}\r\ncontent-range: bytes {}-{}/{}\r\nconnection: close\r\n\r\n",
                    body.len() - start,
                    start,
                    body.len() - 1,
                    body.len()
                ),
                None => format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                ),
            };
            let _ = stream.write_all(head.as_bytes());
            let end = match cut.take() {
                Some(n) => start + n,
                None => body.len(),
            };
            let _ = stream.write_all(&body[start..end]);
            // Dropping the stream closes the connection, mid-body for the cut response.
        }
    });
    (url, ranges)
}

#[test]
fn a_download_resumes_after_a_dropped_connection_and_checks_its_sha() {
    let bytes = Arc::new(std::fs::read(smollm2()).expect("read model"));
    let sha = models::sha256_file(&smollm2()).expect("sha");
    let (url, ranges) = serve(bytes.clone(), Some(10 << 20));
    let dir = tempfile::tempdir().expect("temp dir");
    let models_dir = dir.path();
    let model_url = format!("{url}/model.gguf?download=true");
    let cancel = CancelFlag::default();

    let err = models::download(models_dir, &model_url, Some(&sha), &cancel, |_| {})
        .expect_err("the first connection drops");
    assert_eq!(err.code(), "download_failed", "{err}");
    let part = models_dir.join("model.gguf.part");
    assert!(part.metadata().expect("part kept").len() >= 10 << 20);
    assert!(!models_dir.join("model.gguf").exists());

    let mut last = None;
    let entry = models::download(models_dir, &model_url, Some(&sha), &cancel, |p| {
        last = Some(p)
    })
    .expect("resumed download");
    let last = last.expect("progress");
    assert_eq!(last.done, bytes.len() as u64);
    assert_eq!(last.total, Some(bytes.len() as u64));
    assert!(last.resumed_from >= 10 << 20);
    let seen = ranges.lock().expect("lock").clone();
    assert_eq!(seen[0], None);
    assert_eq!(
        seen[1],
        Some(last.resumed_from),
        "the second request asks for the rest"
    );
    assert_eq!(entry.path, models_dir.join("model.gguf"));
    assert_eq!(models::sha256_file(&entry.path).expect("sha"), sha);
    assert!(!part.exists());
    assert_eq!(entry.info.expect("header").architecture, "llama");

    // A wrong checksum: the file is not kept.
    let other = tempfile::tempdir().expect("temp dir");
    let (url, _) = serve(bytes.clone(), None);
    let err = models::download(
        other.path(),
        &format!("{url}/model.gguf"),
        Some(&"0".repeat(64)),
        &cancel,
        |_| {},
    )
    .expect_err("checksum");
    assert_eq!(err.code(), "checksum_mismatch");
    assert!(
        std::fs::read_dir(other.path())
            .expect("dir")
            .next()
            .is_none()
    );

    // An HTTP error is reported as such.
    let err = models::download(
        other.path(),
        &format!("{url}/nothing.gguf"),
        None,
        &cancel,
        |_| {},
    )
    .expect_err("404");
    assert!(err.to_string().contains("404"), "{err}");
}

#[test]
fn models_are_listed_imported_and_selected_through_the_cli() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let models_dir = dir.path().join("models");
    std::fs::create_dir_all(&models_dir).expect("mkdir");
    let run = |args: &[&str]| lectern_with_models(&data, &models_dir, args);
    let (rc, out) = run(&["models", "list"]);
    assert_eq!((rc, out.len()), (0, 0));

    // Not a GGUF: refused, nothing copied.
    let fake = dir.path().join("fake.gguf");
    std::fs::write(&fake, b"<html>404</html>").expect("write");
    let (rc, out) = run(&["models", "import", &fake.to_string_lossy()]);
    assert_eq!(rc, 1);
    assert_eq!(out[0]["error"]["code"], "model_invalid");
    assert!(
        out[0]["error"]["message"]
            .as_str()
            .expect("msg")
            .contains("fake.gguf")
    );
    assert!(!models_dir.join("fake.gguf").exists());

    let (rc, out) = run(&["models", "import", "--use", &smollm2().to_string_lossy()]);
    assert_eq!(rc, 0, "{out:?}");
    assert_eq!(out[0]["architecture"], "llama");
    assert_eq!(out[0]["quantization"], "Q4_1");
    assert_eq!(out[0]["chat_template"], true);
    assert_eq!(out[0]["context_length"], 8192);
    assert_eq!(out[0]["selected"], true);
    let (rc, out) = run(&["models", "list"]);
    assert_eq!(rc, 0);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0]["file"], lectern::models::SMALL_MODEL_FILE);
    assert_eq!(out[0]["selected"], true);
    let (rc, out) = run(&["models", "use", "nothing-here.gguf"]);
    assert_eq!(
        (rc, &out[0]["error"]["code"]),
        (1, &serde_json::json!("model_missing"))
    );
}

/// A model file changed after it was installed (one byte of its weights, which llama.cpp would
/// load without noticing) is refused before it is parsed, naming the file; the embedding
/// model's graph too.
#[test]
fn a_damaged_model_file_is_refused_before_it_is_loaded() {
    let dir = tempfile::tempdir().expect("temp dir");
    let gguf = dir.path().join("smol.gguf");
    std::fs::copy(smollm2(), &gguf).expect("copy the model");
    let published = std::fs::read_to_string(models::checksum_path(&smollm2()))
        .expect("scripts/setup.sh records the published SHA-256 beside each model");
    models::record_checksum(&gguf, published.trim());
    models::verify_checksum(&gguf, None).expect("the copy matches the published hash");

    let flip_last_byte = |path: &std::path::Path| {
        let mut bytes = std::fs::read(path).expect("read");
        let last = bytes.len() - 1;
        bytes[last] ^= 0x55;
        std::fs::write(path, bytes).expect("write");
    };
    flip_last_byte(&gguf);
    let Err(e) = lectern::llm::LlamaEngine::load_model(&gguf) else {
        panic!("a damaged model was loaded");
    };
    assert_eq!(e.code(), "model_invalid");
    let message = e.to_string();
    assert!(
        message.contains("smol.gguf") && message.contains("damaged"),
        "{message}"
    );

    // The embedding model: a copy of its folder, its graph damaged after the first load
    // recorded the hash.
    let source = lectern::embed::ModelFiles::default_in(&crate::support::models_dir());
    let copy = dir.path().join("embedding");
    std::fs::create_dir_all(&copy).expect("mkdir");
    for f in [
        "model.onnx",
        "tokenizer.json",
        "config.json",
        "special_tokens_map.json",
        "tokenizer_config.json",
    ] {
        std::fs::copy(source.dir.join(f), copy.join(f)).expect("copy");
    }
    models::verify_checksum(&copy.join("model.onnx"), None).expect("first use records the hash");
    flip_last_byte(&copy.join("model.onnx"));
    let files = lectern::embed::ModelFiles {
        dir: copy,
        ..source
    };
    let Err(e) = lectern::embed::EmbedWorker::onnx(&files) else {
        panic!("a damaged embedding model was loaded");
    };
    assert_eq!(e.code(), "model_invalid", "{e}");
    assert!(e.to_string().contains("model.onnx"), "{e}");
}
