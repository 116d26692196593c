//! What `lectern serve` adds over calling the core in-process: search latency and throughput
//! (one client, then four at once) and an answer's time to first token, on a real library.
//!
//! `cargo bench --bench serve -- DATA_DIR COLLECTION QUESTIONS [N_SEARCH] [N_ASK]`
//!   N_SEARCH questions (default 100) of QUESTIONS (JSON Lines with a "question" field, or one
//!   per line) searched in-process, then through the server over loopback (HTTP/1 keep-alive),
//!   then by 4 clients at once; N_ASK questions (default 5) answered in-process and through the
//!   server (streamed), greedily with at most 32 tokens.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use lectern::job::CancelFlag;
use lectern::retrieve::SearchMode;
use lectern::{Library, Paths};

type Failure = Box<dyn std::error::Error + Send + Sync>;

fn arg(i: usize) -> Option<String> {
    std::env::args().filter(|a| a != "--bench").nth(i)
}

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn questions(path: &str) -> Result<Vec<String>, Failure> {
    Ok(std::fs::read_to_string(path)?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .ok()
                .and_then(|v| v["question"].as_str().map(str::to_owned))
                .unwrap_or_else(|| l.to_owned())
        })
        .collect())
}

fn post(agent: &ureq::Agent, url: &str, body: &serde_json::Value) -> Result<String, Failure> {
    Ok(agent
        .post(url)
        .header("Content-Type", "application/json")
        .send(body.to_string())?
        .body_mut()
        .read_to_string()?)
}

/// Milliseconds to the first streamed piece of text of a chat completion.
fn first_token_ms(
    agent: &ureq::Agent,
    url: &str,
    body: &serde_json::Value,
) -> Result<f64, Failure> {
    let started = Instant::now();
    let response = agent
        .post(url)
        .header("Content-Type", "application/json")
        .send(body.to_string())?;
    let mut first = None;
    for line in BufReader::new(response.into_body().into_reader()).lines() {
        let line = line?;
        let Some(data) = line.strip_prefix("data: ") else {
            continue;
        };
        if data == "[DONE]" {
            break;
        }
        let chunk: serde_json::Value = serde_json::from_str(data)?;
        let text = chunk["choices"][0]["delta"]["content"]
            .as_str()
            .unwrap_or("");
        if first.is_none() && !text.is_empty() {
            first = Some(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    first.ok_or_else(|| "no text streamed".into())
}

fn main() -> Result<(), Failure> {
    let (Some(data_dir), Some(collection), Some(qa)) = (arg(1), arg(2), arg(3)) else {
        return Err(
            "usage: cargo bench --bench serve -- DATA_DIR COLLECTION QUESTIONS [N_SEARCH] [N_ASK]"
                .into(),
        );
    };
    let n_search: usize = arg(4).map_or(Ok(100), |s| s.parse())?;
    let n_ask: usize = arg(5).map_or(Ok(5), |s| s.parse())?;
    let all = questions(&qa)?;
    let search_qs: Vec<String> = all.iter().cycle().take(n_search).cloned().collect();
    let ask_qs: Vec<String> = all
        .iter()
        .step_by((all.len() / n_ask.max(1)).max(1))
        .take(n_ask)
        .cloned()
        .collect();
    let runtime = tokio::runtime::Runtime::new()?;

    // In-process, as the CLI and the app call it.
    let (search_ms, ask_ms) = runtime.block_on(async {
        let library = Library::open(Paths::resolve(Some(PathBuf::from(&data_dir)))).await?;
        let id = library.collection_named(&collection).await?.id;
        let retriever = library.retriever()?;
        retriever
            .search(id, &search_qs[0], 8, SearchMode::Hybrid)
            .await?;
        let mut search_ms = Vec::new();
        for q in &search_qs {
            let started = Instant::now();
            retriever.search(id, q, 8, SearchMode::Hybrid).await?;
            search_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        let answerer = library.answerer(None).await?;
        let mut options = library.ask_options(id, None).await?;
        options.sampling.temperature = 0.0;
        options.sampling.max_tokens = 32;
        let mut ask_ms = Vec::new();
        for q in &ask_qs {
            let started = Instant::now();
            let mut first = None;
            answerer
                .ask(&options, q, CancelFlag::default(), |event| {
                    if let lectern::answer::AskEvent::Text(t) = event
                        && first.is_none()
                        && !t.is_empty()
                    {
                        first = Some(started.elapsed().as_secs_f64() * 1000.0);
                    }
                })
                .await?;
            ask_ms.push(first.unwrap_or(f64::NAN));
        }
        Ok::<_, Failure>((search_ms, ask_ms))
    })?;

    // The same through `lectern serve` on loopback.
    let mut server = Command::new(env!("CARGO_BIN_EXE_lectern"))
        .args([
            "--data-dir",
            &data_dir,
            "--json",
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--no-token",
        ])
        .stdout(Stdio::piped())
        .spawn()?;
    let mut line = String::new();
    BufReader::new(server.stdout.take().ok_or("no stdout")?).read_line(&mut line)?;
    let started: serde_json::Value = serde_json::from_str(&line)?;
    let base = started["listening"]
        .as_str()
        .ok_or("no address")?
        .to_owned();
    let result = (|| -> Result<(), Failure> {
        let agent = ureq::Agent::new_with_defaults();
        let collections: serde_json::Value = serde_json::from_str(
            &agent
                .get(format!("{base}/v1/collections"))
                .call()?
                .body_mut()
                .read_to_string()?,
        )?;
        let id = collections["data"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["name"] == collection.as_str()))
            .ok_or("no such collection")?["id"]
            .clone();
        let search_url = format!("{base}/v1/collections/{id}/search");
        let body = |q: &str| serde_json::json!({ "query": q, "k": 8 });
        post(&agent, &search_url, &body(&search_qs[0]))?;
        let mut http_ms = Vec::new();
        for q in &search_qs {
            let started = Instant::now();
            post(&agent, &search_url, &body(q))?;
            http_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        let started = Instant::now();
        std::thread::scope(|scope| {
            let workers: Vec<_> = (0..4)
                .map(|_| {
                    scope.spawn(|| -> Result<(), Failure> {
                        let agent = ureq::Agent::new_with_defaults();
                        for q in &search_qs {
                            post(&agent, &search_url, &body(q))?;
                        }
                        Ok(())
                    })
                })
                .collect();
            workers
                .into_iter()
                .try_for_each(|w| w.join().map_err(|_| Failure::from("a client panicked"))?)
        })?;
        let four_rps = (4 * search_qs.len()) as f64 / started.elapsed().as_secs_f64();

        let chat_url = format!("{base}/v1/chat/completions");
        let mut http_ask_ms = Vec::new();
        for q in &ask_qs {
            let request = serde_json::json!({
                "model": format!("lectern/{collection}"),
                "messages": [{ "role": "user", "content": q }],
                "stream": true, "temperature": 0, "max_tokens": 32,
            });
            http_ask_ms.push(first_token_ms(&agent, &chat_url, &request)?);
        }

        let p50 = |v: &Vec<f64>| percentile(v.clone(), 0.5);
        let p90 = |v: &Vec<f64>| percentile(v.clone(), 0.9);
        println!("search, {} queries, k 8, hybrid:", search_qs.len());
        println!(
            "  in-process   p50 {:.2} ms  p90 {:.2} ms  ({:.0} per s)",
            p50(&search_ms),
            p90(&search_ms),
            1000.0 / (search_ms.iter().sum::<f64>() / search_ms.len() as f64)
        );
        println!(
            "  lectern serve p50 {:.2} ms  p90 {:.2} ms  ({:.0} per s); added p50 {:.2} ms",
            p50(&http_ms),
            p90(&http_ms),
            1000.0 / (http_ms.iter().sum::<f64>() / http_ms.len() as f64),
            p50(&http_ms) - p50(&search_ms)
        );
        println!("  4 clients at once: {four_rps:.0} searches per s");
        println!(
            "time to first token, {} questions, max 32 tokens:",
            ask_qs.len()
        );
        println!(
            "  in-process    {:?}",
            ask_ms.iter().map(|m| m.round()).collect::<Vec<_>>()
        );
        println!(
            "  lectern serve {:?}",
            http_ask_ms.iter().map(|m| m.round()).collect::<Vec<_>>()
        );
        println!(
            "  p50 in-process {:.0} ms, through the server {:.0} ms",
            p50(&ask_ms),
            p50(&http_ask_ms)
        );
        Ok(())
    })();
    let _ = server.kill();
    let _ = server.wait();
    result
}
