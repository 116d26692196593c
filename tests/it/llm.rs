//! The generation engine against the real SmolLM2-135M-Instruct GGUF: streaming, stopping,
//! fitting prompts into the context, reusing the cache across turns, and the GGUF reader.

use lectern::gguf;
use lectern::job::CancelFlag;
use lectern::llm::{EngineSettings, Finish, LlmWorker, Progress, Sampling, Utf8Stream};
use lectern::prompt::{self, Prompt, PromptPassage, Turn};

use crate::support::models_dir;

pub fn smollm2() -> std::path::PathBuf {
    let path = models_dir().join(lectern::models::SMALL_MODEL_FILE);
    assert!(
        path.is_file(),
        "{} missing: run scripts/setup.sh (the README's test command does)",
        path.display()
    );
    path
}

pub fn worker(n_ctx: usize) -> LlmWorker {
    LlmWorker::llama(EngineSettings {
        model_path: smollm2(),
        n_ctx,
    })
    .expect("load SmolLM2")
}

pub fn greedy(max_tokens: usize) -> Sampling {
    Sampling {
        max_tokens,
        temperature: 0.0,
        top_p: 1.0,
        seed: Some(7),
        threads: 1,
        stop: Vec::new(),
    }
}

fn passage(document: &str, page: i64, text: &str) -> PromptPassage {
    PromptPassage {
        document: document.into(),
        first_page: Some(page),
        last_page: Some(page),
        text: text.into(),
    }
}

fn lighthouse_prompt(question: &str) -> Prompt {
    Prompt {
        instruction: prompt::DEFAULT_INSTRUCTION.into(),
        output_indicator: prompt::DEFAULT_OUTPUT_INDICATOR.into(),
        passages: vec![
            passage(
                "lighthouses.pdf",
                2,
                "Keepers trimmed the wick every four hours, which is why they were called wickies.",
            ),
            passage(
                "lighthouses.pdf",
                1,
                "The Fresnel lens was invented by Augustin-Jean Fresnel in 1822.",
            ),
        ],
        question: question.into(),
        history: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gguf_header_of_the_real_model() {
    let info = gguf::read_info(&smollm2()).expect("read header");
    assert_eq!(info.architecture, "llama");
    assert_eq!(info.quantization, "Q4_1");
    assert!(
        (130_000_000..140_000_000).contains(&info.n_params),
        "{} parameters",
        info.n_params
    );
    assert_eq!(info.context_length, Some(8192));
    assert!(
        info.chat_template
            .as_deref()
            .is_some_and(|t| t.contains("<|im_start|>"))
    );
    assert_eq!(gguf::human_params(info.n_params), "135M");

    let dir = tempfile::tempdir().expect("temp dir");
    let not_gguf = dir.path().join("notes.gguf");
    std::fs::write(&not_gguf, b"%PDF-1.7 definitely not a model").expect("write");
    let err = gguf::read_info(&not_gguf).expect_err("a PDF is not a GGUF");
    assert!(matches!(err, gguf::GgufError::NoMagic), "{err}");
    // A real header cut short fails cleanly instead of reading garbage.
    let bytes = std::fs::read(smollm2()).expect("read model");
    let cut = dir.path().join("cut.gguf");
    std::fs::write(&cut, &bytes[..100_000]).expect("write");
    let err = gguf::read_info(&cut).expect_err("truncated");
    assert!(matches!(err, gguf::GgufError::Truncated), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_stream_in_order_and_stop_within_one_token() {
    let llm = worker(2048);
    assert!(llm.model_name().contains("SmolLM2"), "{}", llm.model_name());

    let stream = llm
        .answer(
            lighthouse_prompt("Why were keepers called wickies?"),
            greedy(40),
            CancelFlag::default(),
        )
        .expect("start");
    let mut pieces = Vec::new();
    let mut reading = Vec::new();
    let (fitted, generation) = stream
        .finish(|p| match p {
            Progress::Reading { done, total } => {
                assert!(pieces.is_empty(), "reading is reported before the text");
                reading.push((done, total));
            }
            Progress::Text(text) => pieces.push(text.to_owned()),
        })
        .await
        .expect("answer");
    // The prompt's reading is reported from the cache's share up to the whole prompt.
    let total = generation.n_prompt_tokens;
    assert!(reading.len() >= 2, "{reading:?}");
    assert!(reading.iter().all(|&(_, t)| t == total), "{reading:?}");
    assert!(reading.windows(2).all(|w| w[0].0 < w[1].0), "{reading:?}");
    assert_eq!(reading.last(), Some(&(total, total)));
    assert_eq!(fitted.n_passages, 2);
    assert!(pieces.len() > 3, "{pieces:?}");
    assert_eq!(
        pieces.concat(),
        generation.text,
        "pieces arrive in order, none lost"
    );
    assert!(generation.n_generated_tokens <= 40);
    assert!(matches!(
        generation.finish,
        Finish::EndOfText | Finish::MaxTokens
    ));
    assert!(generation.first_token_ms.is_some());

    // Stop after the first piece: at most one more token is decoded.
    let cancel = CancelFlag::default();
    let stream = llm
        .answer(
            lighthouse_prompt("Who invented the Fresnel lens, and when?"),
            greedy(200),
            cancel.clone(),
        )
        .expect("start");
    let (_, stopped) = stream
        .finish(|p| {
            if let Progress::Text(_) = p {
                cancel.cancel()
            }
        })
        .await
        .expect("answer");
    assert_eq!(stopped.finish, Finish::Cancelled);
    assert!(stopped.n_generated_tokens <= 2, "{stopped:?}");
    assert!(!stopped.text.is_empty(), "the partial answer is kept");

    // Cancelled before it starts: nothing is generated, nothing fails.
    let cancel = CancelFlag::default();
    cancel.cancel();
    let stream = llm
        .answer(lighthouse_prompt("Anything?"), greedy(50), cancel)
        .expect("start");
    let (_, none) = stream.finish(|_| {}).await.expect("answer");
    assert_eq!(none.finish, Finish::Cancelled);
    assert_eq!(none.n_generated_tokens, 0);
}

/// The real model, asked to repeat itself, is stopped at its first repeat; the caller's stop
/// strings end an answer where they appear; the prompt's echo stops are its parts' openings.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_looping_answer_is_cut_at_its_first_repeat_and_stop_strings_end_it() {
    let llm = worker(2048);
    let sentence = "Keepers trimmed the wick every four hours.";
    let stream = llm
        .answer(
            lighthouse_prompt(&format!(
                "Write this sentence ten times, each time on a new line: {sentence}"
            )),
            greedy(300),
            CancelFlag::default(),
        )
        .expect("start");
    let (_, looped) = stream.finish(|_| {}).await.expect("answer");
    assert_eq!(looped.finish, Finish::Repeating, "{looped:?}");
    assert!(
        looped.n_generated_tokens < 100,
        "stopped soon after the first repeat: {looped:?}"
    );
    assert_eq!(
        lectern::llm::repeat_start(&format!("{}\n", looped.text.trim_end())),
        None,
        "what is kept has no repeat: {:?}",
        looped.text
    );

    let ask = |sampling| {
        llm.answer(
            lighthouse_prompt("Why were keepers called wickies?"),
            sampling,
            CancelFlag::default(),
        )
        .expect("start")
    };
    let (_, full) = ask(greedy(60)).finish(|_| {}).await.expect("answer");
    // A stop string from the second half of what the model writes unstopped.
    let cut = (full.text.len() / 2..full.text.len())
        .find(|&i| full.text.is_char_boundary(i) && full.text[i..].starts_with(' '))
        .unwrap_or_else(|| panic!("no second half to stop in: {:?}", full.text));
    let stop: String = full.text[cut..].chars().take(8).collect();
    let mut streamed = String::new();
    let (_, stopped) = ask(Sampling {
        stop: vec![stop.clone()],
        ..greedy(60)
    })
    .finish(|p| {
        if let Progress::Text(p) = p {
            streamed.push_str(p)
        }
    })
    .await
    .expect("answer");
    assert_eq!(stopped.finish, Finish::EndOfText, "{stopped:?}");
    assert!(
        !stopped.text.contains(&stop),
        "{stop:?} in {:?}",
        stopped.text
    );
    assert!(stopped.n_generated_tokens < full.n_generated_tokens);
    assert_eq!(streamed, stopped.text, "nothing past the stop was streamed");

    assert_eq!(
        prompt::echo_stops(&lighthouse_prompt("Anything?")),
        ["\nContext:", "\nQuestion:", "\n\"\"\"", "\nAnswer format:"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follow_up_reuses_the_cached_conversation() {
    let llm = worker(2048);
    let first = lighthouse_prompt("Why were keepers called wickies?");
    let (fitted, one) = llm
        .answer(first.clone(), greedy(24), CancelFlag::default())
        .expect("start")
        .finish(|_| {})
        .await
        .expect("first turn");
    let mut follow_up = lighthouse_prompt("And when was the lens invented?");
    follow_up.history = vec![Turn {
        user: fitted.user_message.clone(),
        assistant: one.text.clone(),
    }];
    let (fitted2, two) = llm
        .answer(follow_up, greedy(24), CancelFlag::default())
        .expect("start")
        .finish(|_| {})
        .await
        .expect("second turn");
    assert_eq!(fitted2.n_history, 1);
    // Everything up to the end of the first answer was already in the cache.
    assert!(
        two.n_reused_tokens >= one.n_prompt_tokens,
        "reused {} of {}, first prompt {}",
        two.n_reused_tokens,
        two.n_prompt_tokens,
        one.n_prompt_tokens
    );
    assert!(two.n_reused_tokens < two.n_prompt_tokens);
}

/// A small deterministic generator of test cases (no extra dependency for a property test).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const WORDS: &[&str] = &[
    "lighthouse",
    "keeper",
    "lens",
    "Fresnel",
    "ships",
    "night",
    "beam",
    "wick",
    "flash",
    "chart",
    "ångström",
    "naïve",
    "東京",
    "🙂",
    "α-β",
    "1822",
    "nautical",
    "miles",
    "—",
    "tower",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fitted_prompts_never_exceed_the_context_and_keep_whole_passages() {
    let n_ctx = 768;
    let llm = worker(n_ctx);
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    for case in 0..40 {
        let n_passages = rng.below(12) as usize;
        let passages: Vec<PromptPassage> = (0..n_passages)
            .map(|i| {
                let n_words = 1 + rng.below(220) as usize;
                let text = (0..n_words)
                    .map(|_| WORDS[rng.below(WORDS.len() as u64) as usize])
                    .collect::<Vec<_>>()
                    .join(" ");
                passage(&format!("doc-{i}.pdf"), 1 + rng.below(300) as i64, &text)
            })
            .collect();
        let history = (0..rng.below(3))
            .map(|_| Turn {
                user: "Earlier question with its context. ".repeat(1 + rng.below(30) as usize),
                assistant: "Earlier answer.".into(),
            })
            .collect();
        let prompt = Prompt {
            passages: passages.clone(),
            history,
            ..lighthouse_prompt("What does the lens do?")
        };
        let reserve = 64 + rng.below(200) as usize;
        let fitted = llm.fit(prompt.clone(), reserve).await.expect("fits");
        assert!(
            fitted.n_tokens + reserve <= n_ctx,
            "case {case}: {} prompt tokens + {reserve} reserved > {n_ctx}",
            fitted.n_tokens
        );
        // The kept passages are the best-ranked ones, each whole; the rest are absent.
        for (i, p) in passages.iter().enumerate() {
            let heading = prompt::passage_heading(i + 1, p);
            let fence = prompt::QUOTE_FENCE;
            let quoted = format!("{heading}\n{fence}\n{}\n{fence}", prompt::defuse(&p.text));
            let present = fitted.user_message.contains(&quoted);
            assert_eq!(
                present,
                i < fitted.n_passages,
                "case {case}, passage {}",
                i + 1
            );
        }
        // The model itself agrees with the count: the fitted prompt decodes, with room left
        // for the answer (checked on some cases; stopped after the first token to save time).
        if case % 8 == 0 {
            let cancel = CancelFlag::default();
            let (_, generation) = llm
                .answer(prompt, greedy(reserve), cancel.clone())
                .expect("start")
                .finish(|p| {
                    if let Progress::Text(_) = p {
                        cancel.cancel()
                    }
                })
                .await
                .expect("generation fits");
            assert!(generation.n_prompt_tokens + reserve <= n_ctx);
        }
    }
}

#[test]
fn split_utf8_is_held_until_complete() {
    let text = "naïve 東京 🙂";
    let bytes = text.as_bytes();
    // Every way of cutting the bytes into two pieces gives the same text.
    for cut in 0..=bytes.len() {
        let mut s = Utf8Stream::default();
        let mut out = s.push(&bytes[..cut]);
        out.push_str(&s.push(&bytes[cut..]));
        out.push_str(&s.finish());
        assert_eq!(out, text, "cut at {cut}");
    }
    // One byte at a time.
    let mut s = Utf8Stream::default();
    let out: String = bytes.iter().map(|b| s.push(&[*b])).collect();
    assert_eq!(out, text);
    // Invalid bytes become U+FFFD rather than stalling the stream.
    let mut s = Utf8Stream::default();
    assert_eq!(s.push(b"a\xffb"), "a\u{fffd}b");
    assert_eq!(s.push(b"\xe6\x9d"), "");
    assert_eq!(s.finish(), "\u{fffd}");
}

#[test]
fn default_threads_leave_room_for_indexing() {
    use lectern::llm::auto_threads;
    assert_eq!(auto_threads(2, false), 2);
    assert_eq!(auto_threads(2, true), 1);
    assert_eq!(auto_threads(1, true), 1);
    assert_eq!(auto_threads(8, true), 4);
    assert_eq!(auto_threads(64, false), 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_base_model_without_a_chat_template_gets_the_fallback_prompt() {
    let path = models_dir()
        .join("test-fixtures")
        .join("gemma-3-270m-q4_k_m.gguf");
    assert!(
        path.is_file(),
        "{} missing: run scripts/setup.sh --test-models (the README's test command does)",
        path.display()
    );
    let info = gguf::read_info(&path).expect("header");
    assert_eq!(info.architecture, "gemma3");
    assert_eq!(info.quantization, "Q4_K_M");
    assert_eq!(info.chat_template, None);

    let llm = LlmWorker::llama(EngineSettings {
        model_path: path,
        n_ctx: 2048,
    })
    .expect("load Gemma 3");
    assert!(!llm.uses_model_template());
    let (fitted, generation) = llm
        .answer(
            lighthouse_prompt("Why were keepers called wickies?"),
            greedy(48),
            CancelFlag::default(),
        )
        .expect("start")
        .finish(|_| {})
        .await
        .expect("answer");
    assert_eq!(fitted.n_passages, 2);
    assert!(generation.n_generated_tokens > 0);
    // A base model continues the transcript; the next turn's label ends the answer.
    assert!(!generation.text.contains("\nUser:"), "{}", generation.text);
    assert_eq!(
        lectern::llm::render_fallback(&fitted.messages)
            .matches("Assistant:")
            .count(),
        1
    );
}
