//! `lectern ask` and `lectern chat`: answers streamed as they are written, Ctrl-C stops one.

use std::io::{BufRead, Write};

use lectern::answer::{Answerer, AskEvent, AskOptions};
use lectern::{ChatId, Error, Library};

use super::cancel_on_ctrl_c;
use crate::output::Out;

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
pub async fn ask_options(
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
