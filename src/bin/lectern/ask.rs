//! The CLI's answer commands: `ask`, `chat`, `models` and `settings`, mapped onto core calls.

use std::io::{BufRead, Write};

use lectern::answer::{Answerer, AskEvent, AskOptions};
use lectern::models::DownloadProgress;
use lectern::settings::SETTINGS;
use lectern::{ChatId, Error, Library};

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
    chat_id: Option<ChatId>,
    k: Option<usize>,
    model: Option<&str>,
    question: &str,
    out: &Out,
) -> Result<(), Error> {
    let collection = library.collection_named(collection).await?;
    let answerer = library.answerer(model).await?;
    let options = ask_options(library, collection.id, chat_id, k).await?;
    let answer = ask_one(&answerer, &options, question, out).await?;
    out.answer(&answer);
    Ok(())
}

pub async fn chat(
    library: &Library,
    collection: &str,
    mut chat_id: Option<ChatId>,
    k: Option<usize>,
    model: Option<&str>,
    out: &Out,
) -> Result<(), Error> {
    let collection_id = library.collection_named(collection).await?.id;
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
        let options = ask_options(library, collection_id, chat_id, k).await?;
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

/// A question's options with the stored settings, `k` replaced when given.
async fn ask_options(
    library: &Library,
    collection_id: lectern::CollectionId,
    chat_id: Option<ChatId>,
    k: Option<usize>,
) -> Result<AskOptions, Error> {
    let options = library.ask_options(collection_id, chat_id).await?;
    Ok(AskOptions {
        k: k.unwrap_or(options.k),
        ..options
    })
}

pub async fn models(library: &Library, command: ModelsCommand, out: &Out) -> Result<(), Error> {
    match command {
        ModelsCommand::List => {
            for choice in library.models().await? {
                out.model_entry(&choice.entry, choice.selected);
            }
        }
        ModelsCommand::Use { model } => {
            let (path, info) = library.select_model(&model).await?;
            out.done(&format!(
                "answers now use {} ({})",
                info.name,
                path.display()
            ));
        }
        ModelsCommand::Import { path, select } => {
            let entry = library.import_model(&path, select).await?;
            out.model_entry(&entry, select);
        }
        ModelsCommand::Download {
            url,
            sha256,
            select,
        } => {
            let (cancel, watcher) = cancel_on_ctrl_c();
            let progress = out.download_progress();
            let entry = library
                .download_model(
                    &url,
                    sha256.as_deref(),
                    select,
                    &cancel,
                    move |p: DownloadProgress| progress.update(p),
                )
                .await;
            watcher.abort();
            out.model_entry(&entry?, select);
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
    let settings = match (&key, &value) {
        (Some(k), Some(v)) => library.set_setting(k, v).await?,
        _ => library.settings().await?,
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
    let collection = library.collection_named(e.collection).await?;
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
    let options = AskOptions {
        history_turns: 0,
        ..ask_options(library, collection.id, None, e.k).await?
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
