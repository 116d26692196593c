//! The `lectern` command-line tool: a thin shell over the core for scripts, tests and
//! benchmarks. Human output by default, JSON Lines with `--json`.

mod commands;
mod mcp;
mod output;
mod serve;
mod wire;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use lectern::extract::{WORKER_ARG, run_worker};
use lectern::retrieve::SearchMode;
use lectern::{ChatId, Error, Library, MessageId, Paths};

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
    /// Make a collection follow a folder: its supported files are added now, then kept in step
    /// by `lectern sync` and by the app while it runs (new files added, changed ones replaced,
    /// deleted ones removed; a folder whose disk is gone keeps its documents)
    Follow {
        #[arg(long, short)]
        collection: String,
        dir: PathBuf,
    },
    /// Stop following a folder (by path or id); its documents stay unless --remove-documents
    Unfollow {
        #[arg(long, short)]
        collection: String,
        dir: String,
        #[arg(long)]
        remove_documents: bool,
    },
    /// List the folders collections follow
    Folders {
        #[arg(long, short)]
        collection: Option<String>,
    },
    /// Bring collections in step with the folders they follow (all, or --collection's);
    /// --watch stays up and syncs whenever a followed folder changes, until Ctrl-C
    Sync {
        #[arg(long, short)]
        collection: Option<String>,
        #[arg(long)]
        watch: bool,
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
    /// Serve the library over HTTP: OpenAI-compatible chat completions (the model
    /// `lectern/NAME` answers from collection NAME, with citations), embeddings, collections
    /// and search. Every request needs the bearer token kept in the token file
    Serve {
        /// Address to listen on (port 0 picks a free one; the address is printed)
        #[arg(long, default_value = "127.0.0.1:8765")]
        bind: std::net::SocketAddr,
        /// The bearer token's file, made at first start if missing (default: server-token in
        /// the data folder)
        #[arg(long, value_name = "FILE")]
        token_file: Option<PathBuf>,
        /// Serve without a token (loopback addresses only)
        #[arg(long, conflicts_with = "token_file")]
        no_token: bool,
        /// Answers that may wait for the model behind the one being written; more are refused
        /// with 429
        #[arg(long, default_value_t = serve::DEFAULT_MAX_WAITING)]
        max_waiting: usize,
    },
    /// Serve the library to an agent as a Model Context Protocol server on stdin and stdout:
    /// tools list_collections, search and ask, with document and page on every passage
    Mcp,
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
    #[command(long_about = commands::settings::help())]
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
    /// Select the model answers use: a GGUF file, or `endpoint:NAME` for a server added with
    /// add-endpoint (checked first: it must answer)
    Use { model: String },
    /// Add (or replace) an OpenAI-compatible server as a language model (or, with `lectern
    /// embedding switch endpoint:NAME`, an embedding model): llama.cpp's llama-server, vLLM,
    /// Ollama, LM Studio. Kept in the config file, readable by you only
    AddEndpoint {
        name: String,
        /// The server's OpenAI API root, such as http://gpu-box:8080/v1
        #[arg(long)]
        url: String,
        /// The model to ask the server for
        #[arg(long)]
        model: String,
        /// The environment variable holding the API key, if the server needs one (the key is
        /// copied into the config file, never into the library)
        #[arg(long, value_name = "VAR")]
        api_key_env: Option<String>,
        /// The server's context window in tokens
        #[arg(long, default_value_t = lectern::llm::DEFAULT_ENDPOINT_CTX)]
        n_ctx: usize,
        /// Seconds to wait for the server to start answering, and between any two pieces
        #[arg(long, default_value_t = lectern::llm::DEFAULT_ENDPOINT_TIMEOUT_S)]
        timeout: u64,
    },
    /// The endpoints, each asked for its models (connected, or why not)
    Endpoints,
    /// Remove an endpoint (a library that used it goes back to the default model)
    RemoveEndpoint { name: String },
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
    /// Re-embed every passage with MODEL (a model `list` shows, or `endpoint:NAME` for a
    /// server added with `lectern models add-endpoint` that serves /v1/embeddings), then use
    /// it (Ctrl-C stops; running it again resumes)
    Use { model: String },
    /// Drop an unfinished switch and the vectors it made
    Abandon,
}

#[derive(Debug, Subcommand)]
enum CollectionCommand {
    Create {
        name: String,
    },
    List,
    Rename {
        old: String,
        new: String,
    },
    Delete {
        name: String,
    },
    /// Show or set the language the collection's scanned pages are read in by OCR
    /// (Tesseract's code, e.g. eng, deu, or several joined by +); without a language, list
    /// those installed
    Ocr {
        name: String,
        language: Option<String>,
    },
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
    use commands::{
        ask, chats, collection, documents, embedding, eval, feedback, folders, ingest, models,
        prompt, search, settings,
    };
    let library = Library::open(Paths::resolve(cli.data_dir)).await?;
    match cli.command {
        Command::Collection(command) => collection::run(&library, command, out).await?,
        Command::Ingest {
            collection,
            password,
            paths,
        } => {
            return ingest::ingest(&library, &collection, &paths, password.as_deref(), out).await;
        }
        Command::Reindex { collection } => {
            return ingest::reindex(library, &collection, out).await;
        }
        Command::Follow { collection, dir } => {
            return folders::follow(&library, &collection, &dir, out).await;
        }
        Command::Unfollow {
            collection,
            dir,
            remove_documents,
        } => {
            return folders::unfollow(&library, &collection, &dir, remove_documents, out).await;
        }
        Command::Folders { collection } => {
            folders::list(&library, collection.as_deref(), out).await?
        }
        Command::Sync { collection, watch } => {
            return folders::sync(&library, collection.as_deref(), watch, out).await;
        }
        Command::Remove {
            collection,
            document,
        } => documents::remove(&library, &collection, &document, out).await?,
        Command::Documents { collection } => documents::list(&library, &collection, out).await?,
        Command::Chunks {
            collection,
            document,
            limit,
        } => documents::chunks(&library, &collection, &document, limit, out).await?,
        Command::Search {
            collection,
            k,
            mode,
            query,
        } => search::run(&library, &collection, k, mode.into(), &query, out).await?,
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
            let plan = eval::AnswerEval {
                qa: &qa,
                collection: &collection,
                model: model.as_deref(),
                n,
                seed,
                off_topic: off_topic.as_deref(),
                k,
                preread,
            };
            eval::answers(&library, plan, out).await?;
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
            let plan = eval::RetrievalEval {
                dataset: &dataset,
                k,
                mode: &mode,
                keyword_weight: &keyword_weight,
                embedding_model,
            };
            eval::retrieval(&library, plan, out).await?;
        }
        Command::Ask {
            collection,
            chat,
            k,
            model,
            question,
        } => {
            let question = question.join(" ");
            ask::ask(
                &library,
                &collection,
                chat,
                k,
                model.as_deref(),
                &question,
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
        Command::Chats { collection } => chats::list(&library, &collection, out).await?,
        Command::History { chat } => chats::history(&library, chat, out).await?,
        Command::Feedback(command) => feedback::run(&library, command, out).await?,
        Command::Models(command) => models::run(&library, command, out).await?,
        Command::Embedding(command) => embedding::run(&library, command, out).await?,
        Command::Settings { key, value } => settings::run(&library, key, value, out).await?,
        Command::Mcp => mcp::run(library).await?,
        Command::Serve {
            bind,
            token_file,
            no_token,
            max_waiting,
        } => {
            let options = serve::ServeOptions {
                bind,
                token_file,
                no_token,
                max_waiting,
            };
            serve::run(library, options, out).await?;
        }
        Command::Prompt {
            collection,
            instruction,
            output_indicator,
            reset,
        } => {
            prompt::run(
                &library,
                &collection,
                instruction,
                output_indicator,
                reset,
                out,
            )
            .await?
        }
    }
    Ok(ExitCode::SUCCESS)
}
