//! `lectern ask` and `lectern chat` end to end with the real models and real PDFs: page
//! sources, follow-ups that reuse the cache, Ctrl-C, and the default model's citations.

use crate::cli::lectern;
use crate::support::{PAGE, PAPER, QUESTION, models_dir, shared_pdf};

#[test]
fn lectern_ask_answers_a_pdf_with_page_sources_through_the_cli() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path();
    let paper = shared_pdf(PAPER);
    let (rc, _) = lectern(data, &["ingest", "-c", "Papers", &paper.to_string_lossy()]);
    assert_eq!(rc, 0);
    let (rc, out) = lectern(data, &["settings", "llm.temperature", "0"]);
    assert_eq!((rc, out[0]["value"].as_str()), (0, Some("0")));
    lectern(data, &["settings", "llm.max_tokens", "48"]);

    let (rc, out) = lectern(data, &["ask", "-c", "Papers", "--k", "3", QUESTION]);
    assert_eq!(rc, 0, "{out:?}");
    let a = &out[0];
    assert!(!a["answer"].as_str().expect("answer").is_empty());
    assert_eq!(a["stopped"], false);
    assert_eq!(a["model"], lectern::models::DEFAULT_MODEL_FILE);
    let sources = a["sources"].as_array().expect("sources");
    assert_eq!(sources.len(), 3);
    assert_eq!(sources[0]["n"], 1);
    assert_eq!(sources[0]["document"], PAPER);
    assert_eq!(sources[0]["page"], PAGE);
    // Every source carries its chunk's pages as ingested.
    let (_, chunks) = lectern(data, &["chunks", "-c", "Papers", PAPER]);
    for s in sources {
        let chunk = chunks
            .iter()
            .find(|c| c["chunk_id"] == s["chunk_id"])
            .expect("source is a chunk of the paper");
        assert_eq!(
            (&s["page"], &s["last_page"]),
            (&chunk["page"], &chunk["last_page"])
        );
        assert!(s["cited"].is_boolean());
    }
    // Every citation is one of the sources, marked cited there.
    for c in a["citations"].as_array().expect("citations") {
        let n = c["n"].as_i64().expect("n") as usize;
        assert_eq!(sources[n - 1]["cited"], true);
        assert_eq!(sources[n - 1]["page"], c["page"]);
    }
    let t = &a["timings"];
    assert!(t["prompt_tokens"].as_i64().expect("prompt tokens") > 50);
    assert!(t["first_token_ms"].as_f64().is_some());
    assert!(t["tokens_per_s"].as_f64().expect("tokens/s") > 0.0);

    // A follow-up in the same chat, then feedback and its export.
    let chat = a["chat_id"].as_i64().expect("chat").to_string();
    let (rc, out) = lectern(
        data,
        &[
            "ask",
            "-c",
            "Papers",
            "--chat",
            &chat,
            "Which function estimates it?",
        ],
    );
    assert_eq!(rc, 0, "{out:?}");
    assert_eq!(
        out[0]["chat_id"].as_i64().map(|c| c.to_string()),
        Some(chat.clone())
    );
    assert!(out[0]["timings"]["reused_prompt_tokens"].as_i64().is_some());
    let message = a["message_id"].as_i64().expect("message").to_string();
    let (rc, _) = lectern(
        data,
        &["feedback", "add", &message, "up", "--comment", "right page"],
    );
    assert_eq!(rc, 0);
    let (rc, out) = lectern(data, &["feedback", "export"]);
    assert_eq!(rc, 0);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0]["rating"], "up");
    assert_eq!(out[0]["comment"], "right page");
    assert_eq!(out[0]["collection"], "Papers");
    assert_eq!(out[0]["message"]["question"], QUESTION);
    assert!(
        out[0]["message"]["sources"][0]["text"]
            .as_str()
            .is_some_and(|t| t.contains("kernHAC"))
    );
    let (rc, out) = lectern(data, &["history", &chat]);
    assert_eq!((rc, out.len()), (0, 2));

    // Bad input: a clear error with a code, nothing stored.
    let (rc, out) = lectern(data, &["ask", "-c", "Nope", "Anything?"]);
    assert_eq!(rc, 1);
    assert_eq!(out[0]["error"]["code"], "not_found");
    let (rc, out) = lectern(
        data,
        &[
            "ask",
            "-c",
            "Papers",
            "--model",
            "missing.gguf",
            "Anything?",
        ],
    );
    assert_eq!(rc, 1);
    assert_eq!(out[0]["error"]["code"], "model_missing");
    // The core names what is missing; the CLI adds its own way to get it.
    let message = out[0]["error"]["message"].as_str().expect("message");
    assert!(
        message.contains("missing.gguf") && message.contains("lectern models import"),
        "{message}"
    );
}

#[test]
fn chat_follow_ups_reuse_the_cache_and_ctrl_c_keeps_a_partial_answer() {
    use std::io::{Read, Write};
    use std::process::{Command, Stdio};

    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path();
    let paper = shared_pdf(PAPER);
    let (rc, _) = lectern(data, &["ingest", "-c", "Papers", &paper.to_string_lossy()]);
    assert_eq!(rc, 0);
    lectern(data, &["settings", "llm.temperature", "0"]);
    lectern(data, &["settings", "llm.max_tokens", "24"]);
    // An edited instruction reaches the prompt; reset restores the default.
    let (rc, out) = lectern(
        data,
        &["prompt", "-c", "Papers", "--instruction", "Be brief."],
    );
    assert_eq!(
        (rc, &out[0]["instruction"]),
        (0, &serde_json::json!("Be brief."))
    );
    assert_eq!(out[0]["output_indicator_is_default"], true);

    let mut child = Command::new(env!("CARGO_BIN_EXE_lectern"))
        .arg("--data-dir")
        .arg(data)
        .args(["--json", "chat", "-c", "Papers", "--k", "2"])
        .env("LECTERN_MODELS_DIR", models_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start chat");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{QUESTION}\nWhich function estimates it?\n\n").as_bytes())
        .expect("write questions");
    let output = child.wait_with_output().expect("chat");
    assert!(output.status.success());
    let answers: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(answers.len(), 2, "{answers:?}");
    assert_eq!(answers[0]["chat_id"], answers[1]["chat_id"]);
    // The second turn's prompt starts with the whole first turn, already in the model's cache.
    let first_prompt = answers[0]["timings"]["prompt_tokens"]
        .as_i64()
        .expect("tokens");
    let reused = answers[1]["timings"]["reused_prompt_tokens"]
        .as_i64()
        .expect("reused");
    assert!(
        reused >= first_prompt,
        "reused {reused}, first prompt {first_prompt}"
    );

    lectern(data, &["prompt", "-c", "Papers", "--reset"]);
    lectern(data, &["settings", "llm.max_tokens", "400"]);
    // Ctrl-C while the answer streams: the process stays up, keeps and stores what came.
    let mut child = Command::new(env!("CARGO_BIN_EXE_lectern"))
        .arg("--data-dir")
        .arg(data)
        .args(["ask", "-c", "Papers", "Write a long summary of the paper."])
        .env("LECTERN_MODELS_DIR", models_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start ask");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut first = [0u8; 1];
    stdout.read_exact(&mut first).expect("the answer starts");
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).expect("read the rest");
    assert!(child.wait().expect("wait").success());
    assert!(rest.contains("(stopped)"), "{rest}");
    let (_, chats) = lectern(data, &["chats", "-c", "Papers"]);
    let newest = chats[0]["id"].as_i64().expect("chat").to_string();
    let (_, history) = lectern(data, &["history", &newest]);
    assert_eq!(history[0]["stopped"], true);
    assert!(history[0]["timings"]["answer_tokens"].as_i64().expect("n") < 400);
}

/// The default model with its family's default prompt, on a real manual: the answer to a FAQ
/// question cites the page that answers it and repeats none of the prompt, and a follow-up
/// that names nothing ("Where do they come from?") is searched with what it refers to and
/// finds its page.
#[test]
fn the_default_model_cites_the_answering_page_and_follow_ups_find_theirs() {
    use lectern::eval::answers::echoes_prompt;

    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path();
    let faq = shared_pdf("long_debian-faq.en.pdf");
    let (rc, _) = lectern(data, &["ingest", "-c", "faq", &faq.to_string_lossy()]);
    assert_eq!(rc, 0);
    let (rc, prompt) = lectern(data, &["prompt", "-c", "faq"]);
    assert_eq!(rc, 0);
    let instruction = prompt[0]["instruction"].as_str().expect("instruction");
    let indicator = prompt[0]["output_indicator"].as_str().expect("indicator");
    let on_page = |source: &serde_json::Value, page: i64| {
        let first = source["page"].as_i64().unwrap_or(-1);
        let last = source["last_page"].as_i64().unwrap_or(first);
        (first..=last).contains(&page)
    };

    // debfaq-1.7, answered on page 11.
    let (rc, out) = lectern(
        data,
        &[
            "ask",
            "-c",
            "faq",
            "How does one pronounce Debian and what does this word mean?",
        ],
    );
    assert_eq!(rc, 0, "{out:?}");
    let a = &out[0];
    assert_eq!(a["model"], lectern::models::DEFAULT_MODEL_FILE);
    let answer = a["answer"].as_str().expect("answer");
    assert!(
        !echoes_prompt(answer, instruction, indicator),
        "the answer repeats the prompt: {answer}"
    );
    let citations = a["citations"].as_array().expect("citations");
    assert!(
        citations.iter().any(|c| c["page"] == 11),
        "page 11 is not cited: {answer} {citations:?}"
    );

    // debfaq-6.2 then 6.2.2, both on page 29.
    let (rc, out) = lectern(
        data,
        &[
            "ask",
            "-c",
            "faq",
            "What are all those names like etch, lenny, etc.?",
        ],
    );
    assert_eq!(rc, 0, "{out:?}");
    let chat = out[0]["chat_id"].as_i64().expect("chat").to_string();
    let follow_up = "Where do they come from?";
    let (rc, out) = lectern(data, &["ask", "-c", "faq", "--chat", &chat, follow_up]);
    assert_eq!(rc, 0, "{out:?}");
    let query = out[0]["search_query"].as_str().expect("search query");
    assert_ne!(query, follow_up, "the follow-up was searched as it stands");
    let sources = out[0]["sources"].as_array().expect("sources");
    assert!(
        sources.iter().any(|s| on_page(s, 29)),
        "searched as {query:?}, found no passage on page 29: {sources:?}"
    );
}
