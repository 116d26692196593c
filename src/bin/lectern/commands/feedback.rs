//! `lectern feedback`: rate answers and export the ratings.

use lectern::{Error, Library};

use crate::output::Out;
use crate::{FeedbackCommand, Rating};

pub async fn run(library: &Library, command: FeedbackCommand, out: &Out) -> Result<(), Error> {
    match command {
        FeedbackCommand::Add {
            message,
            rating,
            comment,
        } => {
            let rating = match rating {
                Rating::Up => 1,
                Rating::Down => -1,
            };
            library
                .set_feedback(message, rating, comment.as_deref())
                .await?;
            out.done(&format!("rated answer {message}"));
        }
        FeedbackCommand::Export => {
            for rated in library.rated_messages().await? {
                out.rated(&rated);
            }
        }
    }
    Ok(())
}
