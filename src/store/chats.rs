//! Chats, their messages (with the passages each prompt held), feedback on answers and the
//! per-collection prompt parts.

use crate::ids::{ChatId, CollectionId, DocumentId, MessageId};
use sqlx::Row;

use super::{Db, now_ms};
use crate::error::DbError;
use crate::prompt::PromptDefaults;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Chat {
    pub id: ChatId,
    pub collection_id: CollectionId,
    pub title: String,
    pub created_at: i64,
}

/// A passage as it was in an answer's prompt.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct StoredPassage {
    /// Its number in the prompt, from 1.
    pub n: i64,
    pub chunk_id: i64,
    pub document_id: DocumentId,
    pub document: String,
    pub first_page: Option<i64>,
    pub last_page: Option<i64>,
    pub text: String,
    pub score: f32,
    pub cited: bool,
    /// Drawn from a page read by OCR.
    pub ocr: bool,
    /// The title of its section (Word, EPUB, HTML), named in place of a page.
    pub section: Option<String>,
}

/// Measurements of one answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Timings {
    pub retrieval_ms: f64,
    pub prompt_tokens: i64,
    pub reused_tokens: i64,
    pub answer_tokens: i64,
    pub prompt_ms: f64,
    pub first_token_ms: Option<f64>,
    pub tokens_per_s: f64,
}

/// A question and its answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub id: MessageId,
    pub chat_id: ChatId,
    pub question: String,
    pub answer: String,
    pub finish: AnswerFinish,
    pub prompt_user: String,
    pub model: String,
    pub timings: Timings,
    pub created_at: i64,
    pub passages: Vec<StoredPassage>,
    /// The model wrote no `[n]`; the markers were added by matching sentences to passages.
    pub citations_matched: bool,
    /// Sentences of the answer that no passage supports, as they read in it.
    pub unsupported: Vec<String>,
    /// The model wrote only markers (or nothing): the answer is quoted from the passage they
    /// point at, the sentences of it that bear on the question ([`crate::excerpt::quote`]).
    pub quoted: bool,
}

/// How a stored answer ended: the values migration 0002's CHECK allows, so a row can hold no
/// other. A cut repeat ([`crate::llm::Finish::Repeating`]) is stored as the end of the text:
/// what is left once the repeat is cut is the whole answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(rename_all = "snake_case")]
pub enum AnswerFinish {
    EndOfText,
    MaxTokens,
    ContextFull,
    /// Stopped by the user; the text so far is kept.
    Cancelled,
}

impl AnswerFinish {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EndOfText => "end_of_text",
            Self::MaxTokens => "max_tokens",
            Self::ContextFull => "context_full",
            Self::Cancelled => "cancelled",
        }
    }
}

impl From<crate::llm::Finish> for AnswerFinish {
    fn from(finish: crate::llm::Finish) -> Self {
        use crate::llm::Finish;
        match finish {
            Finish::EndOfText | Finish::Repeating => Self::EndOfText,
            Finish::MaxTokens => Self::MaxTokens,
            Finish::ContextFull => Self::ContextFull,
            Finish::Cancelled => Self::Cancelled,
        }
    }
}

impl Message {
    pub fn stopped(&self) -> bool {
        self.finish == AnswerFinish::Cancelled
    }

    /// Passages the answer cites, in the order it first cites them.
    pub fn citations(&self) -> Vec<&StoredPassage> {
        crate::prompt::cited_numbers(&self.answer, self.passages.len())
            .into_iter()
            .filter_map(|n| self.passages.iter().find(|p| p.n == n as i64))
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feedback {
    pub message_id: MessageId,
    /// +1 or -1.
    pub rating: i64,
    pub comment: Option<String>,
    pub created_at: i64,
}

/// A rated answer with where it came from: what `feedback export` writes.
#[derive(Debug, Clone, PartialEq)]
pub struct RatedMessage {
    pub collection: String,
    pub message: Message,
    pub feedback: Feedback,
}

/// The editable prompt parts of a collection; `None` means the default.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PromptParts {
    pub instruction: Option<String>,
    pub output_indicator: Option<String>,
}

impl PromptParts {
    /// The instruction in use: the collection's own, else the model family's default.
    pub fn instruction_in_use<'a>(&'a self, defaults: &'a PromptDefaults) -> &'a str {
        self.instruction.as_deref().unwrap_or(defaults.instruction)
    }

    /// The output indicator in use: the collection's own, else the model family's default.
    pub fn output_indicator_in_use<'a>(&'a self, defaults: &'a PromptDefaults) -> &'a str {
        self.output_indicator
            .as_deref()
            .unwrap_or(defaults.output_indicator)
    }
}

const MESSAGE_COLUMNS: &str = "id, chat_id, question, answer, finish, prompt_user, model, \
    retrieval_ms, prompt_tokens, reused_tokens, answer_tokens, prompt_ms, first_token_ms, \
    tokens_per_s, created_at, citations_matched, unsupported, quoted";

fn message_from_row(r: &sqlx::sqlite::SqliteRow) -> Result<Message, sqlx::Error> {
    Ok(Message {
        id: r.try_get("id")?,
        chat_id: r.try_get("chat_id")?,
        question: r.try_get("question")?,
        answer: r.try_get("answer")?,
        finish: r.try_get("finish")?,
        prompt_user: r.try_get("prompt_user")?,
        model: r.try_get("model")?,
        timings: Timings {
            retrieval_ms: r.try_get("retrieval_ms")?,
            prompt_tokens: r.try_get("prompt_tokens")?,
            reused_tokens: r.try_get("reused_tokens")?,
            answer_tokens: r.try_get("answer_tokens")?,
            prompt_ms: r.try_get("prompt_ms")?,
            first_token_ms: r.try_get("first_token_ms")?,
            tokens_per_s: r.try_get("tokens_per_s")?,
        },
        created_at: r.try_get("created_at")?,
        passages: Vec::new(),
        citations_matched: r.try_get("citations_matched")?,
        // Written by `add_message` as JSON; anything else reads as none.
        unsupported: serde_json::from_str(&r.try_get::<String, _>("unsupported")?)
            .unwrap_or_default(),
        quoted: r.try_get("quoted")?,
    })
}

impl Db {
    pub async fn create_chat(
        &self,
        collection_id: CollectionId,
        title: &str,
    ) -> Result<Chat, DbError> {
        let created_at = now_ms();
        let id =
            sqlx::query("INSERT INTO chats (collection_id, title, created_at) VALUES (?, ?, ?)")
                .bind(collection_id)
                .bind(title)
                .bind(created_at)
                .execute(self.pool())
                .await?
                .last_insert_rowid();
        Ok(Chat {
            id: ChatId(id),
            collection_id,
            title: title.to_owned(),
            created_at,
        })
    }

    /// A collection's chats, newest first.
    pub async fn chats(&self, collection_id: CollectionId) -> Result<Vec<Chat>, DbError> {
        Ok(sqlx::query_as::<_, Chat>(
            "SELECT id, collection_id, title, created_at FROM chats WHERE collection_id = ? \
             ORDER BY id DESC",
        )
        .bind(collection_id)
        .fetch_all(self.pool())
        .await?)
    }

    pub async fn chat(&self, chat_id: ChatId) -> Result<Chat, DbError> {
        sqlx::query_as::<_, Chat>(
            "SELECT id, collection_id, title, created_at FROM chats WHERE id = ?",
        )
        .bind(chat_id)
        .fetch_optional(self.pool())
        .await?
        .ok_or(DbError::NoSuchChat(chat_id))
    }

    pub async fn delete_chat(&self, chat_id: ChatId) -> Result<(), DbError> {
        let done = sqlx::query("DELETE FROM chats WHERE id = ?")
            .bind(chat_id)
            .execute(self.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(DbError::NoSuchChat(chat_id));
        }
        Ok(())
    }

    /// Stores an answer with its passages in one transaction; `message.id` and `created_at`
    /// are ignored and the stored message is returned.
    pub async fn add_message(&self, message: &Message) -> Result<Message, DbError> {
        let mut tx = self.pool().begin().await?;
        let created_at = now_ms();
        let t = &message.timings;
        let id = sqlx::query(
            "INSERT INTO messages (chat_id, question, answer, finish, prompt_user, model, \
             retrieval_ms, prompt_tokens, reused_tokens, answer_tokens, prompt_ms, \
             first_token_ms, tokens_per_s, created_at, citations_matched, unsupported, quoted) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(message.chat_id)
        .bind(&message.question)
        .bind(&message.answer)
        .bind(message.finish)
        .bind(&message.prompt_user)
        .bind(&message.model)
        .bind(t.retrieval_ms)
        .bind(t.prompt_tokens)
        .bind(t.reused_tokens)
        .bind(t.answer_tokens)
        .bind(t.prompt_ms)
        .bind(t.first_token_ms)
        .bind(t.tokens_per_s)
        .bind(created_at)
        .bind(message.citations_matched)
        .bind(serde_json::to_string(&message.unsupported).unwrap_or_else(|_| "[]".into()))
        .bind(message.quoted)
        .execute(&mut *tx)
        .await?
        .last_insert_rowid();
        let id = MessageId(id);
        for p in &message.passages {
            sqlx::query(
                "INSERT INTO message_passages (message_id, n, chunk_id, document_id, document, \
                 first_page, last_page, text, score, cited, ocr, section) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(id)
            .bind(p.n)
            .bind(p.chunk_id)
            .bind(p.document_id)
            .bind(&p.document)
            .bind(p.first_page)
            .bind(p.last_page)
            .bind(&p.text)
            .bind(p.score)
            .bind(p.cited)
            .bind(p.ocr)
            .bind(&p.section)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(Message {
            id,
            created_at,
            ..message.clone()
        })
    }

    async fn passages_of(&self, message_id: MessageId) -> Result<Vec<StoredPassage>, DbError> {
        Ok(sqlx::query_as::<_, StoredPassage>(
            "SELECT n, chunk_id, document_id, document, first_page, last_page, text, score, cited, \
             ocr, section FROM message_passages WHERE message_id = ? ORDER BY n",
        )
        .bind(message_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// A chat's messages, oldest first, with their passages.
    pub async fn messages(&self, chat_id: ChatId) -> Result<Vec<Message>, DbError> {
        let rows = sqlx::query(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE chat_id = ? ORDER BY id"
        ))
        .bind(chat_id)
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut m = message_from_row(row)?;
            m.passages = self.passages_of(m.id).await?;
            out.push(m);
        }
        Ok(out)
    }

    pub async fn message(&self, message_id: MessageId) -> Result<Message, DbError> {
        let row = sqlx::query(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?"
        ))
        .bind(message_id)
        .fetch_optional(self.pool())
        .await?
        .ok_or(DbError::NoSuchMessage(message_id))?;
        let mut m = message_from_row(&row)?;
        m.passages = self.passages_of(m.id).await?;
        Ok(m)
    }

    /// Rates an answer (+1 or -1), replacing any earlier rating of it.
    pub async fn set_feedback(
        &self,
        message_id: MessageId,
        rating: i64,
        comment: Option<&str>,
    ) -> crate::Result<Feedback> {
        if rating != 1 && rating != -1 {
            return Err(crate::Error::InvalidInput(
                "a rating is +1 (up) or -1 (down)".into(),
            ));
        }
        self.message(message_id).await?;
        let created_at = now_ms();
        sqlx::query(
            "INSERT INTO feedback (message_id, rating, comment, created_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT(message_id) DO UPDATE SET rating = excluded.rating, \
             comment = excluded.comment, created_at = excluded.created_at",
        )
        .bind(message_id)
        .bind(rating)
        .bind(comment)
        .bind(created_at)
        .execute(self.pool())
        .await?;
        Ok(Feedback {
            message_id,
            rating,
            comment: comment.map(str::to_owned),
            created_at,
        })
    }

    /// The ratings of a chat's answers.
    pub async fn chat_feedback(&self, chat_id: ChatId) -> Result<Vec<Feedback>, DbError> {
        let rows = sqlx::query_as::<_, (MessageId, i64, Option<String>, i64)>(
            "SELECT f.message_id, f.rating, f.comment, f.created_at FROM feedback f \
             JOIN messages m ON m.id = f.message_id WHERE m.chat_id = ? ORDER BY f.message_id",
        )
        .bind(chat_id)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(message_id, rating, comment, created_at)| Feedback {
                message_id,
                rating,
                comment,
                created_at,
            })
            .collect())
    }

    /// Every rated answer, oldest first.
    pub async fn rated_messages(&self) -> Result<Vec<RatedMessage>, DbError> {
        let rows = sqlx::query(
            "SELECT f.message_id, f.rating, f.comment, f.created_at, c.name \
             FROM feedback f JOIN messages m ON m.id = f.message_id \
             JOIN chats ch ON ch.id = m.chat_id JOIN collections c ON c.id = ch.collection_id \
             ORDER BY f.message_id",
        )
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let message_id: MessageId = r.try_get(0)?;
            out.push(RatedMessage {
                collection: r.try_get(4)?,
                message: self.message(message_id).await?,
                feedback: Feedback {
                    message_id,
                    rating: r.try_get(1)?,
                    comment: r.try_get(2)?,
                    created_at: r.try_get(3)?,
                },
            });
        }
        Ok(out)
    }

    pub async fn prompt_parts(&self, collection_id: CollectionId) -> Result<PromptParts, DbError> {
        let row = sqlx::query(
            "SELECT instruction, output_indicator FROM collection_prompts WHERE collection_id = ?",
        )
        .bind(collection_id)
        .fetch_optional(self.pool())
        .await?;
        Ok(match row {
            Some(r) => PromptParts {
                instruction: r.try_get(0)?,
                output_indicator: r.try_get(1)?,
            },
            None => PromptParts::default(),
        })
    }

    /// Stores a collection's prompt parts; `None` restores a part's default.
    pub async fn set_prompt_parts(
        &self,
        collection_id: CollectionId,
        parts: &PromptParts,
    ) -> Result<(), DbError> {
        let blank = |s: &Option<String>| s.as_ref().filter(|s| !s.trim().is_empty()).cloned();
        sqlx::query(
            "INSERT INTO collection_prompts (collection_id, instruction, output_indicator) \
             VALUES (?, ?, ?) ON CONFLICT(collection_id) DO UPDATE SET \
             instruction = excluded.instruction, output_indicator = excluded.output_indicator",
        )
        .bind(collection_id)
        .bind(blank(&parts.instruction))
        .bind(blank(&parts.output_indicator))
        .execute(self.pool())
        .await?;
        Ok(())
    }
}
