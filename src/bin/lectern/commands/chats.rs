//! `lectern chats` and `lectern history`: a collection's chats and a chat's answers.

use lectern::{ChatId, Error, Library};

use crate::output::Out;

pub async fn list(library: &Library, collection: &str, out: &Out) -> Result<(), Error> {
    let c = library.collection_named(collection).await?;
    for chat in library.chats(c.id).await? {
        out.chat(&chat);
    }
    Ok(())
}

pub async fn history(library: &Library, chat: ChatId, out: &Out) -> Result<(), Error> {
    for m in library.chat_messages(chat).await? {
        out.history_message(&m.message);
    }
    Ok(())
}
