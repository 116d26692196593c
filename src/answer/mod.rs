//! Asking a collection: [`Answerer::ask`] goes retrieve → prompt ([`prompt`]) → generate →
//! cite ([`cite`], with [`attribution`] and [`excerpt`]) → store in the chat's history.

pub mod attribution;
mod cite;
pub mod excerpt;
pub mod prompt;

pub use crate::settings::{LlmSettings, MIN_SIMILARITY};

use crate::ids::{ChatId, CollectionId, MessageId};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::job::CancelFlag;
use crate::llm::{Finish, LlmWorker, Preread, Progress, Sampling};
use crate::retrieve::{Passage, Retriever, SearchMode};
use crate::store::Db;
use crate::store::{Chat, Message, StoredPassage, Timings};
use prompt::{FollowUps, Prompt, Turn};

/// Earlier turns repeated in a follow-up's prompt: enough for "and what about …?", few
/// enough to leave room for the passages.
pub const HISTORY_TURNS: usize = 2;

/// What to ask and how.
#[derive(Debug, Clone)]
pub struct AskOptions {
    pub collection_id: CollectionId,
    /// Continue this chat; `None` starts a new one.
    pub chat_id: Option<ChatId>,
    /// Passages to retrieve (fewer reach the prompt when they do not fit).
    pub k: usize,
    pub sampling: Sampling,
    /// Earlier turns repeated in a follow-up's prompt.
    pub history_turns: usize,
    /// Words quoted of each passage (0: whole passages).
    pub excerpt_words: usize,
    /// See [`LlmSettings::min_similarity`].
    pub min_similarity: f32,
    /// Threads were left to `auto`: chosen just before the decode ([`crate::llm::machine_busy`]).
    pub auto_threads: bool,
}

impl AskOptions {
    /// A question in `collection` (a new chat, or `chat_id`) with the stored settings: `k`,
    /// excerpts, sampling and [`HISTORY_TURNS`] earlier turns.
    pub fn new(
        settings: &LlmSettings,
        collection_id: CollectionId,
        chat_id: Option<ChatId>,
    ) -> Self {
        Self {
            collection_id,
            chat_id,
            k: settings.k,
            sampling: settings.sampling(),
            history_turns: HISTORY_TURNS,
            excerpt_words: settings.excerpt_words,
            min_similarity: settings.min_similarity,
            auto_threads: settings.threads.is_none(),
        }
    }
}

/// An answer as stored, with its chat.
#[derive(Debug, Clone)]
pub struct Answer {
    pub chat: Chat,
    pub message: Message,
    pub n_retrieved: usize,
    /// Markers the model put on a passage that does not support their sentence, moved to
    /// the one that does ([`crate::attribution::check_citations`]).
    pub markers_moved: usize,
    /// Markers on sentences no passage supports, removed.
    pub markers_dropped: usize,
    /// What was searched for: the question, or for a follow-up its standalone form.
    pub search_query: String,
}

impl Answer {
    /// Passages the answer cites, in the order it first cites them.
    pub fn citations(&self) -> Vec<&StoredPassage> {
        self.message.citations()
    }
}

/// What an answer reports while it is made, in this order.
#[derive(Debug, Clone, Copy)]
pub enum AskEvent<'a> {
    /// Retrieval is done: the passages the prompt quotes, best first (if the context cannot
    /// hold them all, the lowest-ranked are left out of the prompt and the stored answer).
    Sources(&'a [Passage]),
    /// The model has read `done` of the prompt's `total` tokens (pre-read or reused tokens
    /// count as read at once).
    Reading { done: usize, total: usize },
    /// The next piece of the answer.
    Text(&'a str),
}

/// An earlier question and answer of a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GivenTurn {
    pub question: String,
    /// The user's message as the model read it: for a stored answer, the question with its
    /// passages; for a turn a caller kept, the question alone.
    pub prompt_user: String,
    pub answer: String,
}

impl GivenTurn {
    /// A turn a caller kept: its question as the model reads it.
    pub fn new(question: &str, answer: &str) -> Self {
        Self {
            question: question.to_owned(),
            prompt_user: question.to_owned(),
            answer: answer.to_owned(),
        }
    }
}

/// The last `n` (at least one: a follow-up's search joins the question before it) of a
/// stored chat's messages, as the turns a follow-up's prompt repeats; older ones are never
/// read, so they are not copied.
fn earlier_turns(messages: &[Message], n: usize) -> Vec<GivenTurn> {
    messages[messages.len().saturating_sub(n.max(1))..]
        .iter()
        .map(|m| GivenTurn {
            question: m.question.clone(),
            prompt_user: m.prompt_user.clone(),
            answer: m.answer.clone(),
        })
        .collect()
}

/// A prompt ready for the model, with what it was built from.
struct Prepared {
    prompt: Prompt,
    passages: Vec<Passage>,
    search_query: String,
    retrieval_ms: f64,
    /// The relevance check's verdict: no passage is close to the question.
    unrelated: bool,
}

/// How long the thread count of the last decode (an answer or a pre-read) holds
/// ([`Answerer::decode_threads`]).
const THREADS_HOLD: Duration = Duration::from_secs(60);

/// Answers questions about a library's collections with one loaded model.
#[derive(Debug, Clone)]
pub struct Answerer {
    db: Db,
    retriever: Retriever,
    llm: LlmWorker,
}

impl Answerer {
    pub fn new(db: Db, retriever: Retriever, llm: LlmWorker) -> Self {
        Self { db, retriever, llm }
    }

    pub fn llm(&self) -> &LlmWorker {
        &self.llm
    }

    /// A collection's own prompt parts (unset parts take the model's defaults).
    pub async fn prompt_parts(
        &self,
        collection_id: CollectionId,
    ) -> Result<crate::store::PromptParts> {
        Ok(self.db.prompt_parts(collection_id).await?)
    }

    /// Deletes a chat with its messages (the answer evaluation's chats are not kept).
    pub async fn delete_chat(&self, chat_id: ChatId) -> Result<()> {
        Ok(self.db.delete_chat(chat_id).await?)
    }

    /// Retrieves, generates and stores the answer, reporting to `on_event` the passages as
    /// soon as retrieval ends, how far the model has read the prompt, and each piece of text.
    /// Setting `cancel` stops generation within one token; the partial answer is stored,
    /// marked as stopped.
    pub async fn ask(
        &self,
        options: &AskOptions,
        question: &str,
        cancel: CancelFlag,
        on_event: impl FnMut(AskEvent<'_>),
    ) -> Result<Answer> {
        self.ask_in(options, None, question, cancel, on_event).await
    }

    /// [`Self::ask`] for a question that follows a conversation the caller kept itself (an
    /// API client sends the whole conversation with each question): `turns` stand for the
    /// chat's earlier messages, oldest first, and the answer is stored in a new chat
    /// (`options.chat_id` must be `None`).
    pub async fn ask_after_turns(
        &self,
        options: &AskOptions,
        turns: &[GivenTurn],
        question: &str,
        cancel: CancelFlag,
        on_event: impl FnMut(AskEvent<'_>),
    ) -> Result<Answer> {
        if options.chat_id.is_some() {
            return Err(Error::InvalidInput(
                "a stored chat cannot also be given its turns".into(),
            ));
        }
        self.ask_in(options, Some(turns), question, cancel, on_event)
            .await
    }

    async fn ask_in(
        &self,
        options: &AskOptions,
        given_turns: Option<&[GivenTurn]>,
        question: &str,
        cancel: CancelFlag,
        mut on_event: impl FnMut(AskEvent<'_>),
    ) -> Result<Answer> {
        let question = question.trim();
        if question.is_empty() {
            return Err(Error::InvalidInput("the question is empty".into()));
        }
        let collection = self.db.collection_by_id(options.collection_id).await?;
        let chat = match options.chat_id {
            Some(id) => self.chat_of(id, collection.id).await?,
            None => {
                self.db
                    .create_chat(collection.id, &chat_title(question))
                    .await?
            }
        };
        let earlier = match given_turns {
            Some(turns) => turns.to_vec(),
            None => earlier_turns(&self.db.messages(chat.id).await?, options.history_turns),
        };
        let Prepared {
            prompt,
            passages,
            search_query,
            retrieval_ms,
            unrelated,
        } = self
            .prepare(collection.id, &earlier, question, options, true)
            .await?;
        on_event(AskEvent::Sources(&passages));

        let mut sampling = Sampling {
            stop: prompt::echo_stops(&prompt),
            ..options.sampling.clone()
        };
        let read: Vec<String> = prompt.passages.iter().map(|p| p.text.clone()).collect();
        let (fitted, generation) = if unrelated {
            not_in_documents(&prompt, |text| on_event(AskEvent::Text(text)))
        } else {
            if options.auto_threads {
                sampling.threads = self.decode_threads().await;
            }
            let stream = self.llm.answer(prompt, sampling, cancel)?;
            stream
                .finish(|progress| {
                    on_event(match progress {
                        Progress::Reading { done, total } => AskEvent::Reading { done, total },
                        Progress::Text(text) => AskEvent::Text(text),
                    })
                })
                .await?
        };

        let documents: Vec<&str> = passages.iter().map(|p| p.document.as_str()).collect();
        // Judged against what the model read (the excerpts).
        let texts: Vec<&str> = read
            .iter()
            .take(fitted.n_passages)
            .map(String::as_str)
            .collect();
        let cite::Cited {
            answer,
            citations_matched,
            quoted,
            mut check,
        } = cite::cite(
            question,
            &generation,
            &documents,
            &texts,
            fitted.n_passages,
            unrelated,
        );
        let cited = prompt::cited_numbers(&answer, fitted.n_passages);
        let message = Message {
            id: MessageId(0),
            chat_id: chat.id,
            question: question.to_owned(),
            answer: answer.trim().to_owned(),
            finish: generation.finish.into(),
            prompt_user: fitted.user_message,
            model: self.llm.model_name().to_owned(),
            timings: Timings {
                retrieval_ms,
                prompt_tokens: generation.n_prompt_tokens as i64,
                reused_tokens: generation.n_reused_tokens as i64,
                answer_tokens: generation.n_generated_tokens as i64,
                prompt_ms: generation.prompt_ms,
                first_token_ms: generation.first_token_ms,
                tokens_per_s: generation.tokens_per_s(),
            },
            created_at: 0,
            passages: passages
                .iter()
                .take(fitted.n_passages)
                .enumerate()
                .map(|(i, p)| StoredPassage {
                    n: i as i64 + 1,
                    chunk_id: p.chunk_id,
                    document_id: p.document_id,
                    document: p.document.clone(),
                    first_page: p.first_page,
                    last_page: p.last_page,
                    text: p.text.clone(),
                    score: p.score,
                    cited: cited.contains(&(i + 1)),
                    ocr: p.ocr,
                    section: p.section.clone(),
                })
                .collect(),
            citations_matched,
            unsupported: std::mem::take(&mut check.unsupported),
            quoted,
        };
        let message = self.db.add_message(&message).await?;
        Ok(Answer {
            chat,
            message,
            n_retrieved: passages.len(),
            markers_moved: check.moved,
            markers_dropped: check.dropped,
            search_query,
        })
    }

    /// Reads the prompt a question being typed would get into the model's cache, so that the
    /// answer, if its final question retrieves the same passages, only has the question left
    /// to read. Nothing is stored and no chat is created; a question no passage is close to
    /// reads nothing. Any real request to the model (an answer) cancels a pre-read still
    /// running, keeping what it read. The answer itself always retrieves again and is built
    /// only from what its own retrieval returned: the cache is reused only where the tokens
    /// of the two prompts are the same.
    pub async fn preread(&self, options: &AskOptions, draft: &str) -> Result<Option<Preread>> {
        let draft = draft.trim();
        if draft.is_empty() {
            return Ok(None);
        }
        let collection = self.db.collection_by_id(options.collection_id).await?;
        let earlier = match options.chat_id {
            Some(id) => {
                self.chat_of(id, collection.id).await?;
                earlier_turns(&self.db.messages(id).await?, options.history_turns)
            }
            None => Vec::new(),
        };
        // A follow-up is joined to the question before it, never rewritten by the model: the
        // model's time belongs to reading.
        let prepared = self
            .prepare(collection.id, &earlier, draft, options, false)
            .await?;
        if prepared.unrelated {
            return Ok(None);
        }
        let threads = if options.auto_threads {
            self.decode_threads().await
        } else {
            options.sampling.threads
        };
        let result = self
            .llm
            .preread(prepared.prompt, options.sampling.max_tokens, threads)
            .await?;
        Ok(Some(result))
    }

    /// `id`'s chat, which must belong to the collection.
    async fn chat_of(&self, id: ChatId, collection_id: CollectionId) -> Result<Chat> {
        let chat = self.db.chat(id).await?;
        if chat.collection_id != collection_id {
            return Err(Error::InvalidInput(format!(
                "chat {id} belongs to another collection"
            )));
        }
        Ok(chat)
    }

    /// The prompt for `question` after the chat's `earlier` turns: the search query (a
    /// follow-up's standalone form, rewritten by the model only when `rewrite` and the model
    /// family asks for it), the passages retrieved, and the relevance check's verdict.
    async fn prepare(
        &self,
        collection_id: CollectionId,
        earlier: &[GivenTurn],
        question: &str,
        options: &AskOptions,
        rewrite: bool,
    ) -> Result<Prepared> {
        let history: Vec<Turn> = earlier
            .iter()
            .rev()
            .take(options.history_turns)
            .rev()
            .map(|turn| Turn {
                user: turn.prompt_user.clone(),
                assistant: turn.answer.clone(),
            })
            .collect();
        let parts = self.db.prompt_parts(collection_id).await?;
        let instruction = parts
            .instruction_in_use(self.llm.prompt_defaults())
            .to_owned();

        // The wait before the prompt: a follow-up's rewrite, then retrieval.
        let started = Instant::now();
        let search_query = match earlier.last() {
            Some(previous) if !history.is_empty() => {
                self.standalone_question(
                    &instruction,
                    &history,
                    &previous.question,
                    question,
                    &options.sampling,
                    rewrite,
                )
                .await
            }
            _ => question.to_owned(),
        };
        let passages = self
            .retriever
            .search(collection_id, &search_query, options.k, SearchMode::Hybrid)
            .await?;
        let retrieval_ms = started.elapsed().as_secs_f64() * 1000.0;

        let best_similarity = passages
            .iter()
            .filter_map(|p| p.similarity)
            .reduce(f32::max);
        let unrelated = best_similarity.is_some_and(|s| s < options.min_similarity)
            && !asks_about_the_documents(&search_query);
        let prompt = Prompt {
            instruction,
            output_indicator: parts
                .output_indicator_in_use(self.llm.prompt_defaults())
                .to_owned(),
            passages: passages
                .iter()
                .map(|p| prompt::PromptPassage {
                    document: p.document.clone(),
                    first_page: p.first_page,
                    last_page: p.last_page,
                    text: crate::excerpt::excerpt(&p.text, question, options.excerpt_words),
                })
                .collect(),
            question: question.to_owned(),
            history,
        };
        Ok(Prepared {
            prompt,
            passages,
            search_query,
            retrieval_ms,
            unrelated,
        })
    }

    /// Decoding threads for a request when the user left them to `auto`: half the cores when
    /// the machine is busy just before the decode. While a chat goes on (for [`THREADS_HOLD`]
    /// after the last answer or pre-read) the choice is kept without sampling: a context with
    /// other threads starts with an empty cache, losing what was pre-read and the earlier
    /// turns a follow-up would reuse (a full prefill costs more than a busy spell), and the
    /// sample would see the pre-read's own work and halve the threads.
    async fn decode_threads(&self) -> usize {
        if let Some(threads) = self.llm.recent_decode_threads(THREADS_HOLD) {
            return threads;
        }
        let n_cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let busy = tokio::task::spawn_blocking(crate::llm::machine_busy)
            .await
            .unwrap_or(false);
        crate::llm::auto_threads(n_cores, busy)
    }

    /// What a follow-up is searched as: rewritten by the model into a question of its own, or
    /// joined to the question before it (see [`FollowUps`]). A rewrite that fails or comes
    /// back empty or rambling falls back to the join.
    async fn standalone_question(
        &self,
        instruction: &str,
        history: &[Turn],
        previous: &str,
        follow_up: &str,
        sampling: &Sampling,
        rewrite: bool,
    ) -> String {
        let joined = format!("{} {}", previous.trim(), follow_up.trim());
        if !rewrite || self.llm.prompt_defaults().follow_ups == FollowUps::JoinWithPrevious {
            return joined;
        }
        let sampling = Sampling {
            max_tokens: 48,
            temperature: 0.0,
            stop: vec!["\n".into()],
            ..sampling.clone()
        };
        let messages = prompt::rewrite_messages(instruction, history, follow_up);
        match self.llm.complete(messages, sampling).await {
            Ok(g) => {
                let line = g.text.trim();
                let line = line
                    .split_once(':')
                    .filter(|(label, _)| label.to_lowercase().contains("question"))
                    .map_or(line, |(_, rest)| rest.trim());
                // A rewrite that only repeats the follow-up names nothing more.
                let unchanged = crate::attribution::content_words(line)
                    == crate::attribution::content_words(follow_up);
                let not_a_question = line.contains('[') || line.contains(prompt::NOT_IN_DOCUMENTS);
                if unchanged
                    || not_a_question
                    || line.chars().count() < 3
                    || line.chars().count() > 300
                {
                    joined
                } else {
                    line.to_owned()
                }
            }
            Err(_) => joined,
        }
    }
}

/// Requests about the documents as a whole ("Summarize this paper.", "What is this document
/// about?") are far from every single passage (0.14 and 0.16 against the JSS paper's best
/// ones, below off-topic questions), yet the collection is exactly what they are about: the
/// relevance check lets them through to the model.
fn asks_about_the_documents(question: &str) -> bool {
    const WHOLE: [&str; 14] = [
        "summar",
        "overview",
        "outline",
        "main point",
        "key point",
        "main idea",
        "main topic",
        "conclu",
        "takeaway",
        "tl;dr",
        "this document",
        "this paper",
        "this book",
        "these documents",
    ];
    let q = question.to_lowercase();
    WHOLE.iter().any(|w| q.contains(w)) || q.trim_end().ends_with("about?")
}

/// The answer to a question no passage is close to, written without the model: the prompt
/// it would have read (so a follow-up repeats this turn as usual) and a generation of
/// [`prompt::NOT_IN_DOCUMENTS`] that took no time.
fn not_in_documents(
    prompt: &Prompt,
    mut on_piece: impl FnMut(&str),
) -> (prompt::FittedPrompt, crate::llm::Generation) {
    let n_passages = prompt.passages.len();
    on_piece(prompt::NOT_IN_DOCUMENTS);
    let fitted = prompt::FittedPrompt {
        messages: prompt::build(prompt, n_passages, prompt.history.len()),
        n_passages,
        n_history: prompt.history.len(),
        n_tokens: 0,
        user_message: prompt::user_message(prompt, n_passages),
    };
    let generation = crate::llm::Generation {
        text: prompt::NOT_IN_DOCUMENTS.to_owned(),
        finish: Finish::EndOfText,
        n_prompt_tokens: 0,
        n_reused_tokens: 0,
        n_generated_tokens: 0,
        prompt_ms: 0.0,
        first_token_ms: None,
        generation_ms: 0.0,
    };
    (fitted, generation)
}

/// A chat is titled by its first question, cut at a word boundary.
fn chat_title(question: &str) -> String {
    const MAX_CHARS: usize = 60;
    let line = question.lines().next().unwrap_or_default().trim();
    if line.chars().count() <= MAX_CHARS {
        return line.to_owned();
    }
    // One character more than fits: a space there means the last word is whole.
    let cut: String = line.chars().take(MAX_CHARS + 1).collect();
    let cut = cut.rsplit_once(' ').map_or(cut.as_str(), |(head, _)| head);
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_about_the_whole_collection_are_told_apart() {
        for q in [
            "Summarize this paper.",
            "Give me an overview",
            "What are the main conclusions?",
            "What is this document about?",
            "What is it all about?",
        ] {
            assert!(asks_about_the_documents(q), "{q}");
        }
        for q in [
            "How do I compute the median of a numeric vector in R?",
            "What does the outer() function compute in R?",
            "How do I put a package on hold?",
        ] {
            assert!(!asks_about_the_documents(q), "{q}");
        }
    }

    #[test]
    fn min_similarity_is_a_checked_setting() {
        let mut s = LlmSettings::default();
        assert_eq!(s.min_similarity, MIN_SIMILARITY);
        s.apply("retrieval.min_similarity", "0").expect("off");
        assert_eq!(s.get("retrieval.min_similarity").as_deref(), Some("0"));
        assert!(s.apply("retrieval.min_similarity", "1.5").is_err());
        assert!(s.apply("retrieval.min_similarity", "x").is_err());
    }
}
