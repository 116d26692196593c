//! Chats: their messages, asking (streamed through a channel), pre-reading a draft,
//! stopping, rating, and the answer evaluation that asks a labelled set.

use lectern::answer::{AskEvent, AskOptions};
use lectern::{ChatId, CollectionId, MessageId, Session};
use tauri::State;
use tauri::ipc::Channel;

use crate::ipc::{
    AnswerEvalView, AnswerEvent, ChatView, EvalEvent, IpcResult, MessageView, PassageView,
};

#[tauri::command]
#[specta::specta]
pub async fn list_chats(app: State<'_, Session>, collection_id: i64) -> IpcResult<Vec<ChatView>> {
    Ok(app
        .library()
        .chats(CollectionId(collection_id))
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

#[tauri::command]
#[specta::specta]
pub async fn chat_messages(app: State<'_, Session>, chat_id: i64) -> IpcResult<Vec<MessageView>> {
    let messages = app.library().chat_messages(ChatId(chat_id)).await?;
    Ok(messages
        .iter()
        .map(|m| MessageView::new(&m.message, m.feedback.as_ref()))
        .collect())
}

#[tauri::command]
#[specta::specta]
pub async fn delete_chat(app: State<'_, Session>, chat_id: i64) -> IpcResult<()> {
    Ok(app.library().delete_chat(ChatId(chat_id)).await?)
}

/// Answers a question about a collection, in a new chat or `chat_id`'s. Text streams through
/// `on_event` (first [`AnswerEvent::Started`] with the id [`stop_answer`] takes); the stored
/// answer with its passages is returned at the end, also when stopped.
#[tauri::command]
#[specta::specta]
pub async fn ask(
    app: State<'_, Session>,
    collection_id: i64,
    chat_id: Option<i64>,
    question: String,
    on_event: Channel<AnswerEvent>,
) -> IpcResult<MessageView> {
    let (ask_id, cancel) = app.start_answer();
    let _ = on_event.send(AnswerEvent::Started { ask_id });
    let result = async {
        let answerer = app.answerer().await?;
        let options = ask_options(&app, collection_id, chat_id).await?;
        answerer
            .ask(&options, &question, cancel, |event| {
                let _ = on_event.send(match event {
                    AskEvent::Sources(passages) => AnswerEvent::Sources {
                        passages: passages
                            .iter()
                            .enumerate()
                            .map(|(i, p)| PassageView::retrieved(i + 1, p))
                            .collect(),
                    },
                    AskEvent::Reading { done, total } => AnswerEvent::Reading {
                        done: done as u32,
                        total: total as u32,
                    },
                    AskEvent::Text(piece) => AnswerEvent::Piece { text: piece.into() },
                });
            })
            .await
    }
    .await;
    app.finish_answer(ask_id);
    Ok(MessageView::new(&result?.message, None))
}

/// Reads the prompt of a question still being typed (`draft`) into the model's cache, so
/// that the answer starts sooner if the question sent retrieves the same passages. Returns
/// whether anything was read (false for a draft no passage is close to). The first pre-read
/// loads the models, which the first answer would otherwise wait for.
#[tauri::command]
#[specta::specta]
pub async fn preread(
    app: State<'_, Session>,
    collection_id: i64,
    chat_id: Option<i64>,
    draft: String,
) -> IpcResult<bool> {
    let answerer = app.answerer().await?;
    let options = ask_options(&app, collection_id, chat_id).await?;
    Ok(answerer.preread(&options, &draft).await?.is_some())
}

/// Stops an answer within one token; false when it has already finished.
#[tauri::command]
#[specta::specta]
pub fn stop_answer(app: State<'_, Session>, ask_id: u32) -> bool {
    app.stop_answer(ask_id)
}

/// Rates an answer +1 or -1, with an optional comment; rating again replaces.
#[tauri::command]
#[specta::specta]
pub async fn set_feedback(
    app: State<'_, Session>,
    message_id: i64,
    rating: i32,
    comment: Option<String>,
) -> IpcResult<()> {
    app.library()
        .set_feedback(MessageId(message_id), rating.into(), comment.as_deref())
        .await?;
    Ok(())
}

/// Asks a collection the questions of a labelled set (JSON Lines with question, answer and
/// pdf_page: the layout `lectern eval --answers` reads), `n` of them picked at random (fixed
/// seed; all when `null`), then the built-in off-topic questions, and scores the answers with
/// the settings in use. Progress streams through `on_event` (first [`EvalEvent::Started`]
/// with the id `cancel_job` takes, which stops it between questions with the figures so
/// far). The evaluation's chats are deleted.
#[tauri::command]
#[specta::specta]
pub async fn evaluate_answers(
    app: State<'_, Session>,
    collection_id: i64,
    qa_path: String,
    n: Option<u32>,
    on_event: Channel<EvalEvent>,
) -> IpcResult<AnswerEvalView> {
    use lectern::eval::answers::{self, AnswerEvalEvent, EvalPlan};
    let path = lectern::paths::from_ui(&qa_path)?;
    let items = answers::load_qa(&path)?;
    let items = answers::sample(&items, n.map(|n| n as usize), 1);
    let options = AskOptions {
        history_turns: 0,
        ..ask_options(&app, collection_id, None).await?
    };
    let answerer = app.answerer().await?;
    let (job_id, cancel) = app.start_job();
    let plan = EvalPlan {
        off_topic: answers::OFF_TOPIC_QUESTIONS
            .iter()
            .map(|q| (*q).to_owned())
            .collect(),
        preread: None,
        cancel,
    };
    let _ = on_event.send(EvalEvent::Started {
        job_id,
        n_questions: items.len() as u32,
        n_off_topic: plan.off_topic.len() as u32,
    });
    let report = answers::evaluate_answers(&answerer, &options, &items, &plan, |event| {
        let _ = on_event.send(match event {
            AnswerEvalEvent::Question { done, of, outcome } => EvalEvent::Question {
                done: done as u32,
                of: of as u32,
                question: outcome.question.clone(),
                gold_page_cited: outcome.gold_page_cited,
            },
            AnswerEvalEvent::OffTopic { done, of, outcome } => EvalEvent::OffTopic {
                done: done as u32,
                of: of as u32,
                question: outcome.question.clone(),
                refused: outcome.refused_cleanly(),
            },
        });
    })
    .await;
    app.finish_job(job_id);
    Ok(AnswerEvalView::new(&report?, options.k))
}

/// A question's options in a collection, with the stored settings.
async fn ask_options(
    app: &Session,
    collection_id: i64,
    chat_id: Option<i64>,
) -> Result<AskOptions, lectern::Error> {
    app.library()
        .ask_options(CollectionId(collection_id), chat_id.map(ChatId))
        .await
}
