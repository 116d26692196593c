//! The commands the UI calls: each parses its arguments, calls the core and converts the
//! result to boundary types. Long work (ingest, re-index, embedding-model switch) runs as a
//! job that reports through events ([`IngestProgress`], [`ReembedProgress`]) and can be
//! cancelled.

use std::path::PathBuf;
use std::time::Instant;

use lectern::answer::{AskEvent, AskOptions};
use lectern::history::PromptParts;
use lectern::ingest::FileStatus;
use lectern::paths::Config;
use lectern::prompt::PromptDefaults;
use lectern::settings::SETTINGS;
use tauri::ipc::Channel;
use tauri::{AppHandle, State};
use tauri_specta::Event;

use crate::ipc::{
    AnswerEvalView, AnswerEvent, AppStatus, ChatView, CollectionView, DataDirView, DocumentView,
    EmbeddingView, ErrorCode, EvalEvent, IngestProgress, IngestUpdate, IpcError, IpcResult,
    MessageView, ModelView, PassageView, PromptView, ReembedProgress, ReembedUpdate, SettingValue,
    SettingsView,
};
use lectern::library::IngestWork;
use lectern::{ChatId, CollectionId, DocumentId, MessageId, Session};

#[tauri::command]
#[specta::specta]
pub async fn app_status(app: State<'_, Session>) -> IpcResult<AppStatus> {
    let paths = app.library().paths();
    Ok(AppStatus {
        data_dir: paths.data_dir.display().to_string(),
        models_dir: paths.models_dir.display().to_string(),
        missing: app
            .library()
            .missing_parts()
            .await
            .into_iter()
            .map(Into::into)
            .collect(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}

// --- collections and documents ---------------------------------------------------------------

#[tauri::command]
#[specta::specta]
pub async fn list_collections(app: State<'_, Session>) -> IpcResult<Vec<CollectionView>> {
    let collections = app.library().collections().await?;
    Ok(collections.into_iter().map(Into::into).collect())
}

#[tauri::command]
#[specta::specta]
pub async fn create_collection(app: State<'_, Session>, name: String) -> IpcResult<CollectionView> {
    Ok(app.library().create_collection(&name).await?.into())
}

#[tauri::command]
#[specta::specta]
pub async fn rename_collection(
    app: State<'_, Session>,
    name: String,
    new_name: String,
) -> IpcResult<()> {
    let library = app.library();
    let collection = library.collection_named(&name).await?;
    Ok(library.rename_collection(collection.id, &new_name).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn delete_collection(app: State<'_, Session>, name: String) -> IpcResult<()> {
    let library = app.library();
    let collection = library.collection_named(&name).await?;
    Ok(library.delete_collection(collection.id).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn list_documents(
    app: State<'_, Session>,
    collection: String,
) -> IpcResult<Vec<DocumentView>> {
    let library = app.library();
    let collection = library.collection_named(&collection).await?;
    let documents = library.documents(collection.id).await?;
    Ok(documents.into_iter().map(Into::into).collect())
}

#[tauri::command]
#[specta::specta]
pub async fn remove_document(
    app: State<'_, Session>,
    collection: String,
    document_id: i64,
) -> IpcResult<DocumentView> {
    let library = app.library();
    let collection = library.collection_named(&collection).await?;
    let doc = library
        .remove_document(collection.id, DocumentId(document_id))
        .await?;
    Ok(doc.into())
}

/// Adds files and folders to a collection as a job; returns its id at once. Progress arrives
/// as [`IngestProgress`] events, the last one `finished`.
#[tauri::command]
#[specta::specta]
pub async fn start_ingest(
    app: State<'_, Session>,
    handle: AppHandle,
    collection: String,
    paths: Vec<String>,
    password: Option<String>,
) -> IpcResult<u32> {
    let collection_id = app.library().collection_named(&collection).await?.id;
    // A path that no longer exists is that file's failure in the batch, not the command's.
    let paths = paths
        .iter()
        .map(|raw| match lectern::paths::from_ui(raw) {
            Err(lectern::Error::Io { path, .. }) => Ok(path),
            checked => checked,
        })
        .collect::<Result<Vec<PathBuf>, _>>()?;
    Ok(spawn_ingest(
        &app,
        handle,
        collection,
        collection_id,
        IngestWork::Files { paths, password },
    ))
}

/// Re-reads every document of a collection from its file (unchanged files are skipped,
/// changed ones replaced) and rebuilds the vector index from the database, as a job.
#[tauri::command]
#[specta::specta]
pub async fn reindex_collection(
    app: State<'_, Session>,
    handle: AppHandle,
    collection: String,
) -> IpcResult<u32> {
    let collection_id = app.library().collection_named(&collection).await?.id;
    Ok(spawn_ingest(
        &app,
        handle,
        collection,
        collection_id,
        IngestWork::Reindex,
    ))
}

fn spawn_ingest(
    app: &Session,
    handle: AppHandle,
    collection: String,
    collection_id: CollectionId,
    work: IngestWork,
) -> u32 {
    let (job_id, cancel) = app.start_job();
    let send = {
        let handle = handle.clone();
        let collection = collection.clone();
        move |update: IngestUpdate| {
            let _ = IngestProgress {
                job_id,
                collection: collection.clone(),
                update,
            }
            .emit(&handle);
        }
    };
    tauri::async_runtime::spawn(async move {
        let app = tauri::Manager::state::<Session>(&handle);
        send(IngestUpdate::Queued);
        let started = Instant::now();
        let (tx, forward) = forward_events({
            let send = send.clone();
            move |event| send(IngestUpdate::from_core(event))
        });
        let report = app.ingest(collection_id, work, Some(tx), &cancel).await;
        let _ = forward.await;
        let report = match report {
            Ok(report) => report,
            Err(e) => {
                send(IngestUpdate::Failed {
                    error: IpcError::from(e),
                });
                app.finish_job(job_id);
                return;
            }
        };
        let count = |status| u32::try_from(report.count(status)).unwrap_or(u32::MAX);
        send(IngestUpdate::Finished {
            n_indexed: count(FileStatus::Indexed),
            n_skipped: count(FileStatus::Skipped),
            n_failed: count(FileStatus::Failed),
            cancelled: cancel.is_cancelled(),
            seconds: started.elapsed().as_secs_f64(),
        });
        app.finish_job(job_id);
    });
    job_id
}

/// A channel for a core job's progress events, and the task that hands each to `send` (which
/// converts and emits it) until the job drops its end.
fn forward_events<E: Send + 'static>(
    send: impl Fn(E) + Send + 'static,
) -> (
    tokio::sync::mpsc::UnboundedSender<E>,
    tauri::async_runtime::JoinHandle<()>,
) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let task = tauri::async_runtime::spawn(async move {
        while let Some(event) = rx.recv().await {
            send(event);
        }
    });
    (tx, task)
}

/// Asks a running job to stop after its current batch; false when it has already finished.
#[tauri::command]
#[specta::specta]
pub fn cancel_job(app: State<'_, Session>, job_id: u32) -> bool {
    app.cancel_job(job_id)
}

// --- embedding model -------------------------------------------------------------------------

#[tauri::command]
#[specta::specta]
pub async fn embedding_models(app: State<'_, Session>) -> IpcResult<EmbeddingView> {
    let pending = app.library().pending_embedding_switch().await?;
    Ok(EmbeddingView {
        models: app
            .library()
            .embedding_choices()
            .into_iter()
            .map(Into::into)
            .collect(),
        pending: pending.map(Into::into),
        job_id: app.reembed_job(),
        n_chunks: u32::try_from(app.library().count_chunks().await?).unwrap_or(u32::MAX),
    })
}

/// Re-embeds every collection with `model` and then uses it, as a job; returns its id at
/// once. It waits for running ingests, and ingests started meanwhile wait for it. Questions
/// keep using the old model until the switch completes.
#[tauri::command]
#[specta::specta]
pub async fn start_embedding_switch(
    app: State<'_, Session>,
    handle: AppHandle,
    model: String,
) -> IpcResult<u32> {
    lectern::embed::embedding_model_spec(&model).map_err(lectern::Error::from)?;
    let (job_id, cancel) = app.start_reembed_job();
    let Some(cancel) = cancel else {
        return Ok(job_id);
    };
    let send = {
        let handle = handle.clone();
        move |update: ReembedUpdate| {
            let _ = ReembedProgress { job_id, update }.emit(&handle);
        }
    };
    tauri::async_runtime::spawn(async move {
        let app = tauri::Manager::state::<Session>(&handle);
        send(ReembedUpdate::Queued);
        let started = Instant::now();
        let (tx, forward) = forward_events({
            let send = send.clone();
            move |event| send(ReembedUpdate::from(event))
        });
        let result = app.switch_embedding_model(&model, Some(tx), &cancel).await;
        let _ = forward.await;
        send(match result {
            Ok(report) => ReembedUpdate::Finished {
                to: report.to,
                n_embedded: u32::try_from(report.n_embedded).unwrap_or(u32::MAX),
                seconds: started.elapsed().as_secs_f64(),
            },
            Err(lectern::Error::Cancelled) => ReembedUpdate::Cancelled,
            Err(e) => ReembedUpdate::Failed {
                error: IpcError::from(e),
            },
        });
        app.finish_job(job_id);
    });
    Ok(job_id)
}

/// Drops an unfinished switch and the vectors it had made.
#[tauri::command]
#[specta::specta]
pub async fn abandon_embedding_switch(app: State<'_, Session>) -> IpcResult<()> {
    if app.reembed_job().is_some() {
        return Err(IpcError::new(
            ErrorCode::InvalidInput,
            "a switch is running; cancel it first",
        ));
    }
    Ok(app.library().abandon_embedding_switch().await?)
}

// --- chats -----------------------------------------------------------------------------------

#[tauri::command]
#[specta::specta]
pub async fn list_chats(app: State<'_, Session>, collection: String) -> IpcResult<Vec<ChatView>> {
    let library = app.library();
    let collection = library.collection_named(&collection).await?;
    Ok(library
        .chats(collection.id)
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
    collection: String,
    chat_id: Option<i64>,
    question: String,
    on_event: Channel<AnswerEvent>,
) -> IpcResult<MessageView> {
    let (ask_id, cancel) = app.start_answer();
    let _ = on_event.send(AnswerEvent::Started { ask_id });
    let result = async {
        let answerer = app.answerer().await?;
        let options = ask_options(&app, &collection, chat_id).await?;
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
    collection: String,
    chat_id: Option<i64>,
    draft: String,
) -> IpcResult<bool> {
    let answerer = app.answerer().await?;
    let options = ask_options(&app, &collection, chat_id).await?;
    Ok(answerer.preread(&options, &draft).await?.is_some())
}

/// Asks a collection the questions of a labelled set (JSON Lines with question, answer and
/// pdf_page: the layout `lectern eval --answers` reads), `n` of them picked at random (fixed
/// seed; all when `null`), then the built-in off-topic questions, and scores the answers with
/// the settings in use. Progress streams through `on_event` (first [`EvalEvent::Started`]
/// with the id [`cancel_job`] takes, which stops it between questions with the figures so
/// far). The evaluation's chats are deleted.
#[tauri::command]
#[specta::specta]
pub async fn evaluate_answers(
    app: State<'_, Session>,
    collection: String,
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
        ..ask_options(&app, &collection, None).await?
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

// --- models and settings ---------------------------------------------------------------------

#[tauri::command]
#[specta::specta]
pub async fn list_models(app: State<'_, Session>) -> IpcResult<Vec<ModelView>> {
    Ok(app
        .library()
        .models()
        .await?
        .iter()
        .map(|m| ModelView::new(&m.entry, m.selected))
        .collect())
}

/// Makes `file_name` (in the models folder) the model answers use and loads it now, so a
/// model that cannot load is reported here rather than at the next question.
#[tauri::command]
#[specta::specta]
pub async fn select_model(app: State<'_, Session>, file_name: String) -> IpcResult<()> {
    Ok(app.select_model(&file_name).await?)
}

/// Copies a GGUF file into the models folder after checking its header.
#[tauri::command]
#[specta::specta]
pub async fn import_model(app: State<'_, Session>, path: String) -> IpcResult<ModelView> {
    let source = lectern::paths::from_ui(&path)?;
    let entry = app.library().import_model(&source, false).await?;
    Ok(ModelView::new(&entry, false))
}

#[tauri::command]
#[specta::specta]
pub async fn get_settings(app: State<'_, Session>) -> IpcResult<SettingsView> {
    settings_view(&app).await
}

/// Checks and stores one setting (see [`SettingValue::key`]); returns them all.
#[tauri::command]
#[specta::specta]
pub async fn set_setting(
    app: State<'_, Session>,
    key: String,
    value: String,
) -> IpcResult<SettingsView> {
    app.set_setting(&key, &value).await?;
    settings_view(&app).await
}

async fn settings_view(app: &Session) -> IpcResult<SettingsView> {
    let settings = app.library().settings().await?;
    let paths = app.library().paths();
    Ok(SettingsView {
        values: SETTINGS
            .iter()
            .map(|spec| SettingValue {
                key: spec.key.into(),
                value: settings.get(spec.key).unwrap_or_default(),
                default_value: spec.default.into(),
                label: spec.label.into(),
                help: spec.help.into(),
                reloads_model: spec.reloads_model,
            })
            .collect(),
        data_dir: paths.data_dir.display().to_string(),
        models_dir: paths.models_dir.display().to_string(),
        embedding_model: app.library().embedding_model().name,
    })
}

/// Makes `path` the data folder from the next start (Lectern remembers it in its config file,
/// outside any data folder). The current library stays where it is.
#[tauri::command]
#[specta::specta]
pub async fn set_data_dir(app: State<'_, Session>, path: String) -> IpcResult<DataDirView> {
    let choice = app
        .library()
        .paths()
        .choose_data_dir(std::path::Path::new(path.trim()), &Config::default_dir())?;
    Ok(choice.into())
}

/// Restarts the app (after choosing another data folder). Refused while a job runs, so no
/// ingest or switch is cut off.
#[tauri::command]
#[specta::specta]
pub async fn restart_app(app: State<'_, Session>, handle: AppHandle) -> IpcResult<()> {
    if app.has_jobs() {
        return Err(IpcError::new(
            ErrorCode::InvalidInput,
            "a job is running; wait for it or cancel it first",
        ));
    }
    handle.restart()
}

#[tauri::command]
#[specta::specta]
pub async fn get_prompt(app: State<'_, Session>, collection: String) -> IpcResult<PromptView> {
    let library = app.library();
    let collection = library.collection_named(&collection).await?;
    Ok(prompt_view(library.prompt_parts(collection.id).await?))
}

fn prompt_view((parts, defaults): (PromptParts, &PromptDefaults)) -> PromptView {
    PromptView {
        instruction: parts.instruction_in_use(defaults).into(),
        output_indicator: parts.output_indicator_in_use(defaults).into(),
        default_instruction: defaults.instruction.into(),
        default_output_indicator: defaults.output_indicator.into(),
    }
}

/// Sets a collection's instruction and output indicator; `null` (or blank) restores the
/// default.
#[tauri::command]
#[specta::specta]
pub async fn set_prompt(
    app: State<'_, Session>,
    collection: String,
    instruction: Option<String>,
    output_indicator: Option<String>,
) -> IpcResult<PromptView> {
    let library = app.library();
    let collection = library.collection_named(&collection).await?;
    let parts = PromptParts {
        instruction,
        output_indicator,
    };
    Ok(prompt_view(
        library.set_prompt_parts(collection.id, parts).await?,
    ))
}

/// A question's options in the collection named `collection`, with the stored settings.
async fn ask_options(
    app: &Session,
    collection: &str,
    chat_id: Option<i64>,
) -> Result<AskOptions, lectern::Error> {
    let library = app.library();
    let collection = library.collection_named(collection).await?;
    library
        .ask_options(collection.id, chat_id.map(ChatId))
        .await
}
