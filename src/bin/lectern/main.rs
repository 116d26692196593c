//! The `lectern` command-line tool: a thin shell over the core for scripts, tests and
//! benchmarks. Human output by default, JSON Lines with `--json`.

mod ask;
mod embedding;
mod output;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use lectern::extract::{ExtractorConfig, WORKER_ARG, run_worker};
use lectern::index::IndexOrigin;
use lectern::ingest::FileStatus;
use lectern::job::CancelFlag;
use lectern::library::IngestWork;
use lectern::retrieve::SearchMode;
use lectern::{ChatId, Error, Library, MessageId, Paths, Session};

use output::Out;

#[derive(Debug, Parser)]
#[command(name = "lectern", version, about = "Chat with your documents, locally")]
struct Cli {
    /// Data folder (default: $LECTERN_DATA_DIR or ~/.local/share/lectern)
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Print JSON Lines (one object per line) instead of human output
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create, list, rename or delete collections
    #[command(subcommand)]
    Collection(CollectionCommand),
    /// Add files or folders (searched recursively for .pdf, .md, .txt) to a collection
    Ingest {
        #[arg(long, short)]
        collection: String,
        /// Password for encrypted PDFs (tried on every encrypted file of this batch)
        #[arg(long)]
        password: Option<String>,
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Re-index a collection: read every document again from its source file (changed files
    /// are embedded again, unchanged ones skipped, missing ones reported and kept), then
    /// rebuild its vector index
    Reindex {
        #[arg(long, short)]
        collection: String,
    },
    /// Remove one document (by id, name or path) and its chunks from a collection
    Remove {
        #[arg(long, short)]
        collection: String,
        document: String,
    },
    /// List the documents of a collection
    Documents {
        #[arg(long, short)]
        collection: String,
    },
    /// Search a collection; a query of `-` reads one query per line from stdin
    Search {
        #[arg(long, short)]
        collection: String,
        /// How many passages to return
        #[arg(long, default_value_t = 8)]
        k: usize,
        #[arg(long, value_enum, default_value_t = Mode::Hybrid)]
        mode: Mode,
        #[arg(required = true)]
        query: Vec<String>,
    },
    /// Evaluate retrieval on a BEIR-layout dataset (corpus.jsonl, queries.jsonl, qrels/test.tsv),
    /// or answers (`--answers QA.jsonl --collection NAME`): gold page cited, content words,
    /// prompt echoes, refusals of off-topic questions, time to first token
    Eval {
        #[arg(long, value_name = "DIR", required_unless_present = "answers")]
        dataset: Option<PathBuf>,
        /// Labelled questions, JSON Lines with question, answer, pdf_page (the layout of
        /// debian_faq.jsonl), asked of --collection; the answers are scored, their chats deleted
        #[arg(
            long,
            value_name = "QA.jsonl",
            conflicts_with = "dataset",
            requires = "collection"
        )]
        answers: Option<PathBuf>,
        #[arg(long, short)]
        collection: Option<String>,
        /// With --answers: the GGUF model (file in the models folder, or a path); default: the selected one
        #[arg(long, value_name = "FILE")]
        model: Option<String>,
        /// With --answers: ask N questions picked at random (fixed by --seed); default: all
        #[arg(long)]
        n: Option<usize>,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// With --answers: off-topic questions (one per line, or JSON Lines), which must be
        /// answered "not in the documents"; default: ten built-in questions on R, C++ and
        /// gnuplot; `none` skips them
        #[arg(long, value_name = "FILE")]
        off_topic: Option<String>,
        /// Passages to retrieve; default 10 for retrieval, the `retrieval.k` setting for answers
        #[arg(long)]
        k: Option<usize>,
        /// With --answers: pre-read each question as a draft without its last N words (as the
        /// app does while a question is typed), then ask it; first-token times are then those
        /// after Enter. 0 pre-reads the whole question
        #[arg(long, value_name = "N", requires = "answers")]
        preread: Option<usize>,
        /// Search mode; repeat it, or say `all`, to compare modes over one indexing
        #[arg(long, value_enum, default_values_t = [EvalMode::Hybrid])]
        mode: Vec<EvalMode>,
        /// Weights of the keyword ranking in hybrid fusion to compare (default: the built-in)
        #[arg(long, value_delimiter = ',')]
        keyword_weight: Vec<f32>,
        /// Embedding model to evaluate (default: the one in use; see `lectern embedding list`)
        #[arg(long, value_name = "MODEL")]
        embedding_model: Option<String>,
    },
    /// Ask a question about a collection; the answer streams, then its sources are listed.
    /// Ctrl-C stops the answer and keeps what was written.
    Ask {
        #[arg(long, short)]
        collection: String,
        /// Continue this chat (see `lectern chats`); default: a new chat
        #[arg(long)]
        chat: Option<ChatId>,
        /// Passages to retrieve; default: the `retrieval.k` setting (6)
        #[arg(long)]
        k: Option<usize>,
        /// GGUF model (file in the models folder, or a path); default: the selected model
        #[arg(long, value_name = "FILE")]
        model: Option<String>,
        #[arg(required = true)]
        question: Vec<String>,
    },
    /// Chat with a collection: one question per line, follow-ups see the earlier turns.
    /// An empty line or end of input quits; Ctrl-C stops the current answer
    Chat {
        #[arg(long, short)]
        collection: String,
        /// Continue this chat
        #[arg(long)]
        chat: Option<ChatId>,
        #[arg(long)]
        k: Option<usize>,
        #[arg(long, value_name = "FILE")]
        model: Option<String>,
    },
    /// List the chats of a collection
    Chats {
        #[arg(long, short)]
        collection: String,
    },
    /// Show a chat's questions and answers
    History { chat: ChatId },
    /// Rate answers and export the ratings
    #[command(subcommand)]
    Feedback(FeedbackCommand),
    /// List, choose, import or download GGUF language models
    #[command(subcommand)]
    Models(ModelsCommand),
    /// List the embedding models, or switch to another (re-embeds every collection)
    #[command(subcommand)]
    Embedding(EmbeddingCommand),
    /// Show or change the answer and retrieval settings (`lectern settings --help` lists them)
    #[command(long_about = settings_help())]
    Settings {
        key: Option<String>,
        /// New value (`auto` for threads, `random` for seed)
        value: Option<String>,
    },
    /// Show or edit a collection's instruction and output indicator (the editable prompt parts)
    Prompt {
        #[arg(long, short)]
        collection: String,
        #[arg(long)]
        instruction: Option<String>,
        #[arg(long)]
        output_indicator: Option<String>,
        /// Restore the defaults
        #[arg(long, conflicts_with_all = ["instruction", "output_indicator"])]
        reset: bool,
    },
    /// Show the chunks of one document
    Chunks {
        #[arg(long, short)]
        collection: String,
        document: String,
        /// Show at most this many chunks
        #[arg(long)]
        limit: Option<usize>,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Mode {
    Hybrid,
    Vector,
    Keyword,
}

impl From<Mode> for SearchMode {
    fn from(m: Mode) -> Self {
        match m {
            Mode::Hybrid => SearchMode::Hybrid,
            Mode::Vector => SearchMode::Vector,
            Mode::Keyword => SearchMode::Keyword,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum EvalMode {
    Hybrid,
    Vector,
    Keyword,
    All,
}

#[derive(Debug, Subcommand)]
enum FeedbackCommand {
    /// Rate an answer (its id is in `lectern ask --json` and `lectern history`)
    Add {
        message: MessageId,
        #[arg(value_enum)]
        rating: Rating,
        #[arg(long)]
        comment: Option<String>,
    },
    /// Write every rated answer with its question, passages and model, one JSON object a line
    Export,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Rating {
    Up,
    Down,
}

#[derive(Debug, Subcommand)]
enum ModelsCommand {
    /// The GGUF files in the models folder, with what their headers say
    List,
    /// Select the model answers use
    Use { model: String },
    /// Copy a GGUF file into the models folder (it must parse as GGUF)
    Import {
        path: PathBuf,
        /// Also select it
        #[arg(long = "use")]
        select: bool,
    },
    /// Download a GGUF file into the models folder; an interrupted download resumes
    Download {
        url: String,
        /// Expected SHA-256 (hex); the file is deleted if it differs
        #[arg(long)]
        sha256: Option<String>,
        #[arg(long = "use")]
        select: bool,
    },
}

#[derive(Debug, Subcommand)]
enum EmbeddingCommand {
    /// The embedding models, which is in use, and any switch left unfinished
    List,
    /// Re-embed every passage with MODEL, then use it (Ctrl-C stops; running it again resumes)
    Use { model: String },
    /// Drop an unfinished switch and the vectors it made
    Abandon,
}

#[derive(Debug, Subcommand)]
enum CollectionCommand {
    Create { name: String },
    List,
    Rename { old: String, new: String },
    Delete { name: String },
}

fn main() -> ExitCode {
    if std::env::args_os().nth(1).is_some_and(|a| a == WORKER_ARG) {
        return ExitCode::from(u8::try_from(run_worker()).unwrap_or(1));
    }
    let cli = Cli::parse();
    let out = Out::new(cli.json);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("lectern: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli, &out)) {
        Ok(code) => code,
        Err(e) => {
            out.error(&e);
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli, out: &Out) -> Result<ExitCode, Error> {
    let library = Library::open(Paths::resolve(cli.data_dir)).await?;
    match cli.command {
        Command::Collection(CollectionCommand::Create { name }) => {
            out.collection(&library.create_collection(&name).await?);
        }
        Command::Collection(CollectionCommand::List) => {
            for c in library.collections().await? {
                out.collection(&c);
            }
        }
        Command::Collection(CollectionCommand::Rename { old, new }) => {
            let c = library.collection_named(&old).await?;
            library.rename_collection(c.id, &new).await?;
            out.done(&format!("renamed {old:?} to {new:?}"));
        }
        Command::Collection(CollectionCommand::Delete { name }) => {
            let c = library.collection_named(&name).await?;
            library.delete_collection(c.id).await?;
            out.done(&format!("deleted collection {name:?}"));
        }
        Command::Ingest {
            collection,
            password,
            paths,
        } => {
            return ingest(&library, &collection, &paths, password.as_deref(), out).await;
        }
        Command::Reindex { collection } => {
            let collection = library.collection_named(&collection).await?;
            let session = session(library)?;
            return report_ingest(out, |tx, cancel| async move {
                session
                    .ingest(collection.id, IngestWork::Reindex, Some(tx), &cancel)
                    .await
            })
            .await;
        }
        Command::Remove {
            collection,
            document,
        } => {
            let c = library.collection_named(&collection).await?;
            let doc = library.find_document(c.id, &document).await?;
            let doc = library.remove_document(c.id, doc.id).await?;
            out.done(&format!(
                "removed {} ({} chunks) from {collection:?}",
                doc.name, doc.n_chunks
            ));
        }
        Command::Documents { collection } => {
            let c = library.collection_named(&collection).await?;
            for doc in library.documents(c.id).await? {
                out.document(&doc);
            }
        }
        Command::Search {
            collection,
            k,
            mode,
            query,
        } => {
            let c = library.collection_named(&collection).await?;
            let retriever = library.retriever()?;
            let queries: Vec<String> = if query == ["-"] {
                std::io::stdin()
                    .lines()
                    .map_while(Result::ok)
                    .filter(|l| !l.trim().is_empty())
                    .collect()
            } else {
                vec![query.join(" ")]
            };
            for q in queries {
                let hits = retriever.search(c.id, &q, k, mode.into()).await?;
                out.search_hits(&q, &hits);
            }
            if let Some(IndexOrigin::Rebuilt { reason }) = library.indexes().origin(c.id).await
                && c.n_chunks > 0
            {
                out.note(&format!(
                    "the vector index of {collection:?} was rebuilt from the database ({reason})"
                ));
            }
        }
        Command::Eval {
            answers: Some(qa),
            collection,
            model,
            n,
            seed,
            off_topic,
            k,
            preread,
            ..
        } => {
            let collection = collection.unwrap_or_default();
            ask::eval_answers(
                &library,
                ask::AnswerEval {
                    qa: &qa,
                    collection: &collection,
                    model: model.as_deref(),
                    n,
                    seed,
                    off_topic: off_topic.as_deref(),
                    k,
                    preread,
                },
                out,
            )
            .await?;
        }
        Command::Eval {
            dataset,
            k,
            mode,
            keyword_weight,
            embedding_model,
            ..
        } => {
            let dataset = dataset.unwrap_or_default();
            let k = k.unwrap_or(10);
            let modes: Vec<SearchMode> = if mode.contains(&EvalMode::All) {
                vec![SearchMode::Hybrid, SearchMode::Vector, SearchMode::Keyword]
            } else {
                mode.iter()
                    .map(|m| match m {
                        EvalMode::Vector => SearchMode::Vector,
                        EvalMode::Keyword => SearchMode::Keyword,
                        EvalMode::Hybrid | EvalMode::All => SearchMode::Hybrid,
                    })
                    .collect()
            };
            let data = lectern::eval::Dataset::load(&dataset)?;
            out.note(&format!(
                "indexing {} passages, then {} queries in {} mode(s)",
                data.corpus.len(),
                data.queries.len(),
                modes.len()
            ));
            // A throwaway library: the evaluation never touches the user's collections.
            let scratch = std::env::temp_dir().join(format!("lectern-eval-{}", std::process::id()));
            let paths = Paths {
                data_dir: scratch.clone(),
                models_dir: library.paths().models_dir.clone(),
            };
            let result = async {
                let model = embedding_model.unwrap_or_else(|| library.embedding_spec().id.into());
                lectern::embed::embedding_model_spec(&model)?;
                let throwaway = Library::open_with_embedding_model(paths, &model).await?;
                throwaway
                    .evaluate_retrieval(&data, k, &modes, &keyword_weight)
                    .await
            }
            .await;
            let _ = std::fs::remove_dir_all(&scratch);
            out.eval_report(&result?);
        }
        Command::Ask {
            collection,
            chat,
            k,
            model,
            question,
        } => {
            ask::ask(
                &library,
                &collection,
                chat,
                k,
                model.as_deref(),
                &question.join(" "),
                out,
            )
            .await?;
        }
        Command::Chat {
            collection,
            chat,
            k,
            model,
        } => ask::chat(&library, &collection, chat, k, model.as_deref(), out).await?,
        Command::Chats { collection } => {
            let c = library.collection_named(&collection).await?;
            for chat in library.chats(c.id).await? {
                out.chat(&chat);
            }
        }
        Command::History { chat } => {
            for m in library.chat_messages(chat).await? {
                out.history_message(&m.message);
            }
        }
        Command::Feedback(FeedbackCommand::Add {
            message,
            rating,
            comment,
        }) => {
            let rating = match rating {
                Rating::Up => 1,
                Rating::Down => -1,
            };
            library
                .set_feedback(message, rating, comment.as_deref())
                .await?;
            out.done(&format!("rated answer {message}"));
        }
        Command::Feedback(FeedbackCommand::Export) => {
            for rated in library.rated_messages().await? {
                out.rated(&rated);
            }
        }
        Command::Models(command) => ask::models(&library, command, out).await?,
        Command::Embedding(command) => embedding::run(&library, command, out).await?,
        Command::Settings { key, value } => ask::settings(&library, key, value, out).await?,
        Command::Prompt {
            collection,
            instruction,
            output_indicator,
            reset,
        } => {
            let c = library.collection_named(&collection).await?;
            let (mut parts, _) = library.prompt_parts(c.id).await?;
            if reset {
                parts = Default::default();
            }
            if instruction.is_some() {
                parts.instruction = instruction;
            }
            if output_indicator.is_some() {
                parts.output_indicator = output_indicator;
            }
            let (parts, defaults) = library.set_prompt_parts(c.id, parts).await?;
            out.prompt_parts(&parts, defaults);
        }
        Command::Chunks {
            collection,
            document,
            limit,
        } => {
            let c = library.collection_named(&collection).await?;
            let doc = library.find_document(c.id, &document).await?;
            for chunk in library
                .chunks(doc.id)
                .await?
                .iter()
                .take(limit.unwrap_or(usize::MAX))
            {
                out.chunk(&doc, chunk);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn ingest(
    library: &Library,
    collection: &str,
    inputs: &[PathBuf],
    password: Option<&str>,
    out: &Out,
) -> Result<ExitCode, Error> {
    let (collection, created) = library.collection_named_or_new(collection).await?;
    if created {
        out.note(&format!("created collection {:?}", collection.name));
    }
    let session = session(library.clone())?;
    let work = IngestWork::Files {
        paths: inputs.to_vec(),
        password: password.map(str::to_owned),
    };
    report_ingest(out, |tx, cancel| async move {
        session.ingest(collection.id, work, Some(tx), &cancel).await
    })
    .await
}

/// A session over the library whose PDF extraction runs in this binary's worker mode.
fn session(library: Library) -> Result<Session, Error> {
    let worker_exe = std::env::current_exe().map_err(|e| Error::Io {
        path: "lectern".into(),
        source: e,
    })?;
    Ok(Session::new(library, ExtractorConfig::new(worker_exe)))
}

/// Runs an ingest job (`run` gets its progress channel and a Ctrl-C cancel flag), printing
/// progress, each file's outcome and the summary. Exit code 2 when a file failed.
async fn report_ingest<F>(
    out: &Out,
    run: impl FnOnce(tokio::sync::mpsc::UnboundedSender<lectern::ingest::IngestEvent>, CancelFlag) -> F,
) -> Result<ExitCode, Error>
where
    F: std::future::Future<Output = Result<lectern::ingest::IngestReport, Error>>,
{
    let (cancel, _watcher) = cancel_on_ctrl_c();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let printer = tokio::spawn(output::ingest_progress(rx, out.clone()));
    let report = run(tx, cancel).await;
    let _ = printer.await;
    let report = report?;
    for outcome in &report.files {
        out.ingest_outcome(outcome);
    }
    out.ingest_summary(&report);
    Ok(if report.count(FileStatus::Failed) == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// `lectern settings --help`: every key with its range and default, from the core's table.
fn settings_help() -> String {
    let mut help = String::from("Show or change the answer and retrieval settings.\n\nSettings:");
    for spec in &lectern::settings::SETTINGS {
        help.push_str(&format!(
            "\n  {:<26} {} (default {})",
            spec.key, spec.help, spec.default
        ));
    }
    help
}

/// A cancel flag that the next Ctrl-C sets, so the work in hand stops and keeps what it
/// finished; abort the watcher when the work is done (a chat stays up for the next question).
fn cancel_on_ctrl_c() -> (CancelFlag, tokio::task::JoinHandle<()>) {
    let cancel = CancelFlag::default();
    let on_ctrl_c = cancel.clone();
    let watcher = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_ctrl_c.cancel();
        }
    });
    (cancel, watcher)
}
