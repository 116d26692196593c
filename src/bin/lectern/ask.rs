//! The CLI's answer commands: `ask`, `chat`, `models` and `settings`, mapped onto core calls.

use std::io::{BufRead, Write};

use lectern::answer::{Answerer, AskEvent, AskOptions, LlmSettings};
use lectern::models::{self, DownloadProgress};
use lectern::settings::SETTINGS;
use lectern::{Error, Library, LlmError};

use crate::output::Out;
use crate::{ModelsCommand, cancel_on_ctrl_c};

async fn ask_one(
    answerer: &Answerer,
    options: &AskOptions,
    question: &str,
    out: &Out,
) -> Result<lectern::answer::Answer, Error> {
    let (cancel, watcher) = cancel_on_ctrl_c();
    let answer = answerer
        .ask(options, question, cancel, |event| match event {
            AskEvent::Sources(_) => {}
            AskEvent::Reading { done, total } => out.reading(done, total),
            AskEvent::Text(piece) => out.answer_piece(piece),
        })
        .await;
    watcher.abort();
    answer
}

pub async fn ask(
    library: &Library,
    collection: &str,
    chat_id: Option<i64>,
    k: Option<usize>,
    model: Option<&str>,
    question: &str,
    out: &Out,
) -> Result<(), Error> {
    library.db().collection(collection).await?;
    let answerer = library.answerer(model).await?;
    let settings = LlmSettings::load(library.db()).await?;
    let options = AskOptions {
        k: k.unwrap_or(settings.k),
        ..AskOptions::new(&settings, collection, chat_id)
    };
    let answer = ask_one(&answerer, &options, question, out).await?;
    out.answer(&answer);
    Ok(())
}

pub async fn chat(
    library: &Library,
    collection: &str,
    mut chat_id: Option<i64>,
    k: Option<usize>,
    model: Option<&str>,
    out: &Out,
) -> Result<(), Error> {
    library.db().collection(collection).await?;
    let answerer = library.answerer(model).await?;
    out.note(&format!(
        "chatting with {collection:?} through {}; an empty line quits",
        answerer.llm().model_name()
    ));
    let mut lines = std::io::stdin().lock().lines();
    loop {
        if !out.is_json() {
            eprint!("> ");
            let _ = std::io::stderr().flush();
        }
        let Some(Ok(line)) = lines.next() else { break };
        if line.trim().is_empty() {
            break;
        }
        let settings = LlmSettings::load(library.db()).await?;
        let options = AskOptions {
            k: k.unwrap_or(settings.k),
            ..AskOptions::new(&settings, collection, chat_id)
        };
        match ask_one(&answerer, &options, &line, out).await {
            Ok(answer) => {
                chat_id = Some(answer.chat.id);
                out.answer(&answer);
            }
            // One failed question does not end the chat.
            Err(e) => out.error(&e),
        }
    }
    Ok(())
}

pub async fn models(library: &Library, command: ModelsCommand, out: &Out) -> Result<(), Error> {
    let models_dir = library.paths().models_dir.clone();
    let db = library.db();
    match command {
        ModelsCommand::List => {
            let selected = models::selected(db, &models_dir).await.ok();
            for entry in models::list(&models_dir)? {
                out.model_entry(&entry, selected.as_deref() == Some(entry.path.as_path()));
            }
        }
        ModelsCommand::Use { model } => {
            let (path, info) = models::select(db, &models_dir, &model).await?;
            out.done(&format!(
                "answers now use {} ({})",
                info.name,
                path.display()
            ));
        }
        ModelsCommand::Import { path, select } => {
            let dir = models_dir.clone();
            let entry = tokio::task::spawn_blocking(move || models::import(&dir, &path))
                .await
                .map_err(|e| LlmError::Backend(e.to_string()))??;
            if select {
                models::select(db, &models_dir, &entry.file_name).await?;
            }
            out.model_entry(&entry, select);
        }
        ModelsCommand::Download {
            url,
            sha256,
            select,
        } => {
            let (cancel, watcher) = cancel_on_ctrl_c();
            let dir = models_dir.clone();
            let progress = out.download_progress();
            let entry = tokio::task::spawn_blocking(move || {
                models::download(
                    &dir,
                    &url,
                    sha256.as_deref(),
                    &cancel,
                    |p: DownloadProgress| progress.update(p),
                )
            })
            .await
            .map_err(|e| LlmError::Backend(e.to_string()))??;
            watcher.abort();
            if select {
                models::select(db, &models_dir, &entry.file_name).await?;
            }
            out.model_entry(&entry, select);
        }
    }
    Ok(())
}

pub async fn settings(
    library: &Library,
    key: Option<String>,
    value: Option<String>,
    out: &Out,
) -> Result<(), Error> {
    let db = library.db();
    let settings = match (&key, &value) {
        (Some(k), Some(v)) => LlmSettings::set(db, k, v).await?,
        _ => LlmSettings::load(db).await?,
    };
    let keys: Vec<&str> = match &key {
        Some(k) => vec![lectern::settings::spec(k)?.key],
        None => SETTINGS.map(|spec| spec.key).to_vec(),
    };
    for k in keys {
        out.setting(k, &settings.get(k).unwrap_or_default());
    }
    Ok(())
}

/// What `lectern eval --answers` was asked to do.
pub struct AnswerEval<'a> {
    pub qa: &'a std::path::Path,
    pub collection: &'a str,
    pub model: Option<&'a str>,
    pub n: Option<usize>,
    pub seed: u64,
    /// A file of off-topic questions, `none`, or `None` for the built-in ones.
    pub off_topic: Option<&'a str>,
    pub k: Option<usize>,
    /// Pre-read each question without its last N words before asking it.
    pub preread: Option<usize>,
}

pub async fn eval_answers(library: &Library, e: AnswerEval<'_>, out: &Out) -> Result<(), Error> {
    use lectern::eval::answers::{self, AnswerEvalEvent};
    library.db().collection(e.collection).await?;
    let items = answers::load_qa(e.qa)?;
    let items = answers::sample(&items, e.n, e.seed);
    let off_topic: Vec<String> = match e.off_topic {
        None => answers::OFF_TOPIC_QUESTIONS
            .iter()
            .map(|q| (*q).to_owned())
            .collect(),
        Some("none") => Vec::new(),
        Some(path) => answers::load_qa(std::path::Path::new(path))?
            .into_iter()
            .map(|item| item.question)
            .collect(),
    };
    let answerer = library.answerer(e.model).await?;
    let settings = LlmSettings::load(library.db()).await?;
    let options = AskOptions {
        k: e.k.unwrap_or(settings.k),
        history_turns: 0,
        ..AskOptions::new(&settings, e.collection, None)
    };
    out.note(&format!(
        "asking {} questions and {} off-topic ones of {:?} through {} (k = {})",
        items.len(),
        off_topic.len(),
        e.collection,
        answerer.llm().model_name(),
        options.k
    ));
    let report = answers::evaluate_answers(
        &answerer,
        &options,
        &items,
        &answers::EvalPlan {
            off_topic,
            preread: e.preread,
            ..Default::default()
        },
        |event| match event {
            AnswerEvalEvent::Question { done, of, outcome } => out.eval_question(done, of, outcome),
            AnswerEvalEvent::OffTopic { done, of, outcome } => {
                out.eval_off_topic(done, of, outcome)
            }
        },
    )
    .await?;
    out.eval_answers_report(&report, options.k);
    Ok(())
}
