//! Generation speed of Lectern's engine, to compare with llama.cpp's own `llama-bench` on the
//! same GGUF and thread count (`benches/llama-bench.sh` builds and runs that), and time to first
//! token, whole answer time and answer length of a real `ask`.
//!
//! `cargo bench --bench llm -- engine [MODEL] [THREADS] [N_PROMPT] [N_GEN] [REPS]`
//!   prompt processing of ~N_PROMPT tokens (fresh cache each time) and generation of N_GEN
//!   tokens, through `Generator::generate` exactly as answers use it.
//! `cargo bench --bench llm -- ask DATA_DIR COLLECTION QUESTIONS [THREADS] [N]`
//!   retrieval + prompt + first token, and the whole answer, for N questions (evenly spaced) of
//!   QUESTIONS, one per line or JSON Lines with a "question" field
//!   (`../shared/data/qa/debian_faq.jsonl`), asked greedily of a real library.

use std::path::PathBuf;

use lectern::answer::{AskOptions, LlmSettings};
use lectern::job::CancelFlag;
use lectern::llm::{ChatMessage, Generator, LlamaEngine, Role, Sampling};
use lectern::{Library, Paths};

fn arg(i: usize) -> Option<String> {
    std::env::args().filter(|a| a != "--bench").nth(i)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn engine() -> Result<(), Box<dyn std::error::Error>> {
    let models_dir = Paths::resolve(None).models_dir;
    let model = arg(2).filter(|s| !s.is_empty()).map_or_else(
        || models_dir.join(lectern::models::DEFAULT_MODEL_FILE),
        PathBuf::from,
    );
    let threads: usize = arg(3).map_or(Ok(2), |s| s.parse())?;
    let n_prompt: usize = arg(4).map_or(Ok(1000), |s| s.parse())?;
    let n_gen: usize = arg(5).map_or(Ok(128), |s| s.parse())?;
    let reps: usize = arg(6).map_or(Ok(5), |s| s.parse())?;

    let loaded = LlamaEngine::load_model(&model)?;
    let mut engine = LlamaEngine::new(&loaded, model.display().to_string(), 4096)?;
    let sampling = |max_tokens| Sampling {
        max_tokens,
        temperature: 0.0,
        top_p: 1.0,
        seed: Some(1),
        threads,
        stop: Vec::new(),
    };
    let cancel = CancelFlag::default();

    // A prompt of about n_prompt tokens: filler text grown until the template says so.
    let filler =
        "The keeper trimmed the wick, wound the clockwork and wrote the weather in the log. ";
    let mut body = String::new();
    let prompt_for = |rep: usize, body: &str| {
        vec![ChatMessage::new(
            Role::User,
            format!("Run {rep}. {body} Summarise."),
        )]
    };
    while engine.count_tokens(&prompt_for(0, &body))? < n_prompt {
        body.push_str(filler);
    }
    let mut pp = Vec::new();
    let mut n_decoded = 0;
    for rep in 0..=reps {
        // Each run starts with a different word, so almost nothing is reused from the cache.
        let g = engine.generate(
            &prompt_for(rep + 1, &body),
            &sampling(1),
            &cancel,
            &mut |_| {},
        )?;
        n_decoded = g.n_prompt_tokens - g.n_reused_tokens;
        if rep > 0 {
            pp.push(n_decoded as f64 * 1000.0 / g.prompt_ms);
        }
    }
    let mut tg = Vec::new();
    let mut n_generated = 0;
    // A request every model answers at length: Qwen2.5 0.5B stopped counting after 13 tokens.
    let count = vec![ChatMessage::new(
        Role::User,
        "Write a long story, at least 400 words, about a lighthouse keeper and a storm.",
    )];
    for rep in 0..=reps {
        let g = engine.generate(&count, &sampling(n_gen), &cancel, &mut |_| {})?;
        n_generated = g.n_generated_tokens;
        if rep > 0 {
            // The first token comes from the prompt's logits; the rest each cost one decode.
            tg.push((g.n_generated_tokens - 1) as f64 * 1000.0 / g.generation_ms);
        }
    }
    println!(
        "lectern engine  model={} threads={threads} pp{n_decoded}={:.1} tok/s  tg{n_generated}={:.1} tok/s  (median of {reps})",
        model
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        median(pp),
        median(tg)
    );
    Ok(())
}

fn ask() -> Result<(), Box<dyn std::error::Error>> {
    let data_dir = PathBuf::from(arg(2).ok_or("DATA_DIR")?);
    let collection = arg(3).ok_or("COLLECTION")?;
    let questions = std::fs::read_to_string(arg(4).ok_or("QUESTIONS_FILE")?)?;
    let threads: usize = arg(5).map_or(Ok(2), |s| s.parse())?;
    let n_questions: usize = arg(6).map_or(Ok(10), |s| s.parse())?;
    // (question, the page that answers it where the file says so)
    let all: Vec<(String, Option<i64>)> = questions
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| match serde_json::from_str::<serde_json::Value>(l) {
            Ok(v) => (
                v["question"].as_str().unwrap_or_default().to_owned(),
                v["pdf_page"].as_i64(),
            ),
            Err(_) => (l.to_owned(), None),
        })
        .filter(|(q, _)| !q.is_empty())
        .collect();
    let step = (all.len() / n_questions.max(1)).max(1);
    let picked: Vec<&(String, Option<i64>)> = all.iter().step_by(step).take(n_questions).collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let library = Library::open(Paths::resolve(Some(data_dir))).await?;
        let answerer = library.answerer(None).await?;
        let collection_id = library.collection_named(&collection).await?.id;
        let mut settings = LlmSettings::load(library.db()).await?;
        settings.threads = Some(threads);
        settings.temperature = 0.0;
        let mut ttft = Vec::new();
        let mut retrieval = Vec::new();
        let mut prompt_tokens = Vec::new();
        let mut tps = Vec::new();
        let mut answer_s = Vec::new();
        let mut answer_tokens = Vec::new();
        let mut n_at_limit = 0;
        let (mut n_with_page, mut n_cite_page, mut n_without_words) = (0, 0, 0);
        for (q, page) in picked {
            let options = AskOptions {
                history_turns: 0,
                ..AskOptions::new(&settings, collection_id, None)
            };
            let started = std::time::Instant::now();
            let a = answerer
                .ask(&options, q, CancelFlag::default(), |_| {})
                .await?;
            answer_s.push(started.elapsed().as_secs_f64());
            let t = &a.message.timings;
            answer_tokens.push(t.answer_tokens as f64);
            n_at_limit += usize::from(a.message.finish == lectern::store::AnswerFinish::MaxTokens);
            // An answer of citation markers alone ("[1] [2]") says nothing in words.
            n_without_words += usize::from(!lectern::eval::answers::has_words(&a.message.answer));
            if let Some(page) = page {
                n_with_page += 1;
                let cites_page = a.message.citations().iter().any(|p| {
                    let first = p.first_page.unwrap_or(0);
                    (first..=p.last_page.unwrap_or(first)).contains(page)
                });
                n_cite_page += usize::from(cites_page);
            }
            // Time to first token as the user sees it: retrieval, prompt, first token.
            ttft.push(t.retrieval_ms + t.first_token_ms.unwrap_or(f64::NAN));
            retrieval.push(t.retrieval_ms);
            prompt_tokens.push(t.prompt_tokens as f64);
            tps.push(t.tokens_per_s);
        }
        let n = ttft.len();
        println!(
            "ask  questions={n} threads={threads}  time to first token p50 {:.0} ms (max {:.0})  retrieval p50 {:.0} ms  prompt tokens p50 {:.0}  generation p50 {:.1} tok/s",
            median(ttft.clone()),
            ttft.iter().copied().fold(0.0, f64::max),
            median(retrieval),
            median(prompt_tokens),
            median(tps)
        );
        println!(
            "ask  whole answer p50 {:.1} s (max {:.1})  answer tokens p50 {:.0} (max {:.0})  \
             {n_at_limit} of {n} answers ran to the {}-token limit",
            median(answer_s.clone()),
            answer_s.iter().copied().fold(0.0, f64::max),
            median(answer_tokens.clone()),
            answer_tokens.iter().copied().fold(0.0, f64::max),
            settings.max_tokens
        );
        println!(
            "ask  k={}  {n_cite_page} of {n_with_page} answers cite the page that answers the \
             question  {n_without_words} of {n} answers are citation markers without words",
            settings.k
        );
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    match arg(1).as_deref() {
        Some("engine") | None => engine(),
        Some("ask") => ask(),
        Some(other) => Err(format!("unknown mode {other:?} (engine | ask)").into()),
    }
}
