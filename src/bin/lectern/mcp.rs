//! `lectern mcp`: the library as a Model Context Protocol server on stdio (and, through
//! `lectern serve`, at `/mcp`), so an agent can
//! list a person's collections, search them and ask them, with document and page on every
//! passage. Tools: `list_collections`, `search`, `ask`. Answers use the library's selected
//! model, through the same `Session` the other shells hold.

use lectern::answer::Answer;
use lectern::job::CancelFlag;
use lectern::retrieve::{Passage, SearchMode};
use lectern::{ChatId, Error, Library, MessageId, Session};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{Implementation, ServerCapabilities, ServerConfig};
use rmcp::schemars::JsonSchema;
use rmcp::{Json, ServerHandler, ServiceExt, tool, tool_handler, tool_router};
use serde::{Deserialize, Serialize};

use crate::wire::PassageJson;

/// The most passages one search returns.
const MAX_K: usize = 50;

#[derive(Clone)]
pub struct Tools {
    session: std::sync::Arc<Session>,
    tool_router: ToolRouter<Self>,
}

#[derive(Serialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct CollectionInfo {
    id: i64,
    name: String,
    documents: i64,
    passages: i64,
}

#[derive(Serialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct CollectionList {
    collections: Vec<CollectionInfo>,
}

#[derive(Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct SearchRequest {
    /// The collection's name, as `list_collections` gives it.
    collection: String,
    /// What to look for, in words.
    query: String,
    /// How many passages to return (1 to 50; default 8).
    k: Option<usize>,
}

#[derive(Serialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct SearchResult {
    passages: Vec<PassageJson>,
}

#[derive(Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct AskRequest {
    /// The collection's name, as `list_collections` gives it.
    collection: String,
    question: String,
    /// Continue this chat (from an earlier answer's `chat_id`); default: a new chat.
    chat_id: Option<i64>,
}

#[derive(Serialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct AskResult {
    /// The answer, with `[n]` markers naming the passages it rests on.
    answer: String,
    /// The passages the answer cites, in the order it first cites them.
    citations: Vec<PassageJson>,
    /// Every passage the model read.
    sources: Vec<PassageJson>,
    /// The answer was quoted from a passage rather than written by the model.
    quoted: bool,
    chat_id: i64,
    message_id: i64,
}

fn ask_result(answer: &Answer) -> AskResult {
    let MessageId(message_id) = answer.message.id;
    let ChatId(chat_id) = answer.chat.id;
    AskResult {
        answer: answer.message.answer.clone(),
        citations: answer
            .citations()
            .into_iter()
            .map(PassageJson::stored)
            .collect(),
        sources: answer
            .message
            .passages
            .iter()
            .map(PassageJson::stored)
            .collect(),
        quoted: answer.message.quoted,
        chat_id,
        message_id,
    }
}

/// A core failure as the tool's error text: its stable code, then what went wrong.
fn tool_error(e: &Error) -> String {
    format!("{}: {e}", e.code().as_str())
}

#[tool_router(router = tool_router)]
impl Tools {
    pub fn new(session: std::sync::Arc<Session>) -> Self {
        Self {
            session,
            tool_router: Self::tool_router(),
        }
    }

    #[tool(
        description = "List the document collections, with how many documents and passages each holds"
    )]
    async fn list_collections(&self) -> Result<Json<CollectionList>, String> {
        let collections = self
            .session
            .library()
            .collections()
            .await
            .map_err(|e| tool_error(&e))?;
        Ok(Json(CollectionList {
            collections: collections
                .into_iter()
                .map(|c| CollectionInfo {
                    id: c.id.0,
                    name: c.name,
                    documents: c.n_documents,
                    passages: c.n_chunks,
                })
                .collect(),
        }))
    }

    #[tool(
        description = "Search a collection for passages about a query (keywords and meaning); each passage names its document and page"
    )]
    async fn search(
        &self,
        Parameters(request): Parameters<SearchRequest>,
    ) -> Result<Json<SearchResult>, String> {
        let k = request.k.unwrap_or(8);
        if !(1..=MAX_K).contains(&k) {
            return Err(format!("invalid_input: k must be 1 to {MAX_K}"));
        }
        let passages = self
            .search_collection(&request.collection, &request.query, k)
            .await
            .map_err(|e| tool_error(&e))?;
        Ok(Json(SearchResult {
            passages: PassageJson::retrieved(&passages),
        }))
    }

    #[tool(
        description = "Ask a question of a collection: a local model answers from its passages, with [n] citations naming document and page"
    )]
    async fn ask(
        &self,
        Parameters(request): Parameters<AskRequest>,
    ) -> Result<Json<AskResult>, String> {
        let answer = self
            .ask_collection(&request)
            .await
            .map_err(|e| tool_error(&e))?;
        Ok(Json(ask_result(&answer)))
    }
}

impl Tools {
    async fn search_collection(
        &self,
        collection: &str,
        query: &str,
        k: usize,
    ) -> Result<Vec<Passage>, Error> {
        let collection = self.session.library().collection_named(collection).await?;
        let retriever = self.session.retriever().await?;
        retriever
            .search(collection.id, query, k, SearchMode::Hybrid)
            .await
    }

    async fn ask_collection(&self, request: &AskRequest) -> Result<Answer, Error> {
        let library: &Library = self.session.library();
        let collection = library.collection_named(&request.collection).await?;
        let options = library
            .ask_options(collection.id, request.chat_id.map(ChatId))
            .await?;
        let answerer = self.session.answerer().await?;
        answerer
            .ask(&options, &request.question, CancelFlag::default(), |_| {})
            .await
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Tools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("lectern", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "A person's document collections. list_collections names them; search finds \
                 passages with their document and page; ask answers a question from a \
                 collection with [n] citations, through a small local model (expect seconds \
                 to a minute).",
            )
    }
}

/// Serves the tools on stdin and stdout until the client closes them.
pub async fn run(library: Library) -> Result<(), Error> {
    let session = crate::commands::ingest::session(library)?;
    let service = Tools::new(std::sync::Arc::new(session))
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| Error::InvalidInput(format!("the MCP client did not start a session: {e}")))?;
    service
        .waiting()
        .await
        .map_err(|e| Error::Internal(format!("the MCP session ended in error: {e}")))?;
    Ok(())
}
