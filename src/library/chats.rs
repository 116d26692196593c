//! Chats, their messages, feedback on answers and each collection's prompt parts.

use super::Library;
use crate::answer::{AskOptions, LlmSettings};
use crate::error::Result;
use crate::ids::{ChatId, CollectionId, MessageId};
use crate::prompt::PromptDefaults;
use crate::store::{Chat, Feedback, Message, PromptParts, RatedMessage};

/// A stored answer with the rating it was given, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatMessage {
    pub message: Message,
    pub feedback: Option<Feedback>,
}

impl Library {
    /// A collection's chats, newest first.
    pub async fn chats(&self, collection_id: CollectionId) -> Result<Vec<Chat>> {
        Ok(self.db.chats(collection_id).await?)
    }

    pub async fn chat(&self, id: ChatId) -> Result<Chat> {
        Ok(self.db.chat(id).await?)
    }

    /// A chat's answers in order, each with its rating; an error when there is no such chat.
    pub async fn chat_messages(&self, id: ChatId) -> Result<Vec<ChatMessage>> {
        self.db.chat(id).await?;
        let mut feedback = self.db.chat_feedback(id).await?;
        let messages = self.db.messages(id).await?;
        Ok(messages
            .into_iter()
            .map(|message| {
                let rating = feedback.iter().position(|f| f.message_id == message.id);
                ChatMessage {
                    feedback: rating.map(|i| feedback.swap_remove(i)),
                    message,
                }
            })
            .collect())
    }

    pub async fn delete_chat(&self, id: ChatId) -> Result<()> {
        Ok(self.db.delete_chat(id).await?)
    }

    /// Rates an answer +1 or -1 (rating again replaces); a blank comment is none.
    pub async fn set_feedback(
        &self,
        message_id: MessageId,
        rating: i64,
        comment: Option<&str>,
    ) -> Result<Feedback> {
        let comment = comment.filter(|c| !c.trim().is_empty());
        self.db.set_feedback(message_id, rating, comment).await
    }

    /// Every rated answer, oldest first: what `feedback export` writes.
    pub async fn rated_messages(&self) -> Result<Vec<RatedMessage>> {
        Ok(self.db.rated_messages().await?)
    }

    /// A collection's own prompt parts, with the defaults of the selected model's family
    /// that unset parts take.
    pub async fn prompt_parts(
        &self,
        collection_id: CollectionId,
    ) -> Result<(PromptParts, &'static PromptDefaults)> {
        let parts = self.db.prompt_parts(collection_id).await?;
        Ok((parts, self.prompt_defaults().await))
    }

    /// Stores a collection's prompt parts. A part that is blank, or equal to the model
    /// family's default, is stored as the default, so it follows the model when another is
    /// selected.
    pub async fn set_prompt_parts(
        &self,
        collection_id: CollectionId,
        parts: PromptParts,
    ) -> Result<(PromptParts, &'static PromptDefaults)> {
        self.db.collection_by_id(collection_id).await?;
        let defaults = self.prompt_defaults().await;
        let own = |text: Option<String>, default: &str| {
            text.filter(|t| !t.trim().is_empty() && t.trim() != default.trim())
        };
        let parts = PromptParts {
            instruction: own(parts.instruction, defaults.instruction),
            output_indicator: own(parts.output_indicator, defaults.output_indicator),
        };
        self.db.set_prompt_parts(collection_id, &parts).await?;
        Ok((parts, defaults))
    }

    /// The stored answer and retrieval settings.
    pub async fn settings(&self) -> Result<LlmSettings> {
        LlmSettings::load(&self.db).await
    }

    /// Checks and stores one setting; returns them all.
    pub async fn set_setting(&self, key: &str, value: &str) -> Result<LlmSettings> {
        LlmSettings::set(&self.db, key, value.trim()).await
    }

    /// A question's options with the stored settings: in `collection_id`, in a new chat or
    /// `chat_id`'s. The one place every shell's question gets its settings from.
    pub async fn ask_options(
        &self,
        collection_id: CollectionId,
        chat_id: Option<ChatId>,
    ) -> Result<AskOptions> {
        self.db.collection_by_id(collection_id).await?;
        Ok(AskOptions::new(
            &self.settings().await?,
            collection_id,
            chat_id,
        ))
    }
}
