//! `lectern follow`, `unfollow`, `folders` and `sync`: collections that keep in step with
//! folders. `sync --watch` stays up and syncs on file-system notifications, as the app does
//! while it runs.

use std::path::Path;
use std::process::ExitCode;

use lectern::job::CancelFlag;
use lectern::library::{FolderWatch, IngestWork};
use lectern::{CollectionId, Error, Library, Session};

use super::ingest::{report_ingest_with, session};
use crate::output::Out;

/// Follows `dir` (creating the collection if needed) and syncs it at once.
pub async fn follow(
    library: &Library,
    collection: &str,
    dir: &Path,
    out: &Out,
) -> Result<ExitCode, Error> {
    let (collection, created) = library.collection_named_or_new(collection).await?;
    if created {
        out.note(&format!("created collection {:?}", collection.name));
    }
    let folder = library.follow_folder(collection.id, dir).await?;
    out.note(&format!(
        "{} follows {}; `lectern sync` (or the app) keeps it in step",
        collection.name, folder.path
    ));
    let session = session(library.clone())?;
    sync_one(&session, collection.id, true, out, &interrupt_flag()).await
}

pub async fn unfollow(
    library: &Library,
    collection: &str,
    dir: &str,
    remove_documents: bool,
    out: &Out,
) -> Result<ExitCode, Error> {
    let collection = library.collection_named(collection).await?;
    let folder = library.folder_named(collection.id, dir).await?;
    let removed = library.unfollow_folder(&folder, remove_documents).await?;
    out.done(&if remove_documents {
        format!(
            "{} no longer follows {}; its {removed} documents were removed",
            collection.name, folder.path
        )
    } else {
        format!(
            "{} no longer follows {}; its documents stay",
            collection.name, folder.path
        )
    });
    Ok(ExitCode::SUCCESS)
}

pub async fn list(library: &Library, collection: Option<&str>, out: &Out) -> Result<(), Error> {
    let only = match collection {
        Some(name) => Some(library.collection_named(name).await?.id),
        None => None,
    };
    let names: std::collections::HashMap<CollectionId, String> = library
        .collections()
        .await?
        .into_iter()
        .map(|c| (c.id, c.name))
        .collect();
    let folders = library.folders(only).await?;
    if folders.is_empty() {
        out.note("no followed folders (add one with `lectern follow --collection NAME DIR`)");
    }
    for folder in &folders {
        let name = names.get(&folder.collection_id).map_or("", String::as_str);
        out.folder(folder, name);
    }
    Ok(())
}

/// Syncs the collection's folders (or every collection's that follows any); with `watch`,
/// stays up and syncs again whenever a followed folder changes, until Ctrl-C or SIGTERM.
pub async fn sync(
    library: &Library,
    collection: Option<&str>,
    watch: bool,
    out: &Out,
) -> Result<ExitCode, Error> {
    let only = match collection {
        Some(name) => Some(library.collection_named(name).await?.id),
        None => None,
    };
    let mut collections: Vec<CollectionId> = library
        .folders(only)
        .await?
        .iter()
        .map(|f| f.collection_id)
        .collect();
    collections.dedup();
    if collections.is_empty() && !watch {
        out.note("no followed folders (add one with `lectern follow --collection NAME DIR`)");
        return Ok(ExitCode::SUCCESS);
    }
    let session = session(library.clone())?;
    let stop = interrupt_flag();
    let mut code = ExitCode::SUCCESS;
    for collection_id in collections {
        if stop.is_cancelled() {
            break;
        }
        if sync_one(&session, collection_id, true, out, &stop).await? != ExitCode::SUCCESS {
            code = ExitCode::from(2);
        }
    }
    if !watch {
        return Ok(code);
    }
    let (_watch, mut changed) = FolderWatch::start(library.clone())?;
    out.note("watching the followed folders; Ctrl-C stops");
    while !stop.is_cancelled() {
        let collection_id = tokio::select! {
            next = changed.recv() => match next {
                Some(id) => id,
                None => break,
            },
            () = tokio::time::sleep(std::time::Duration::from_millis(200)) => continue,
        };
        if only.is_none_or(|only| only == collection_id) {
            // A change in the folder, not a request: what failed before and is unchanged is
            // left alone.
            sync_one(&session, collection_id, false, out, &stop).await?;
        }
    }
    Ok(code)
}

async fn sync_one(
    session: &Session,
    collection_id: CollectionId,
    retry_failed: bool,
    out: &Out,
    stop: &CancelFlag,
) -> Result<ExitCode, Error> {
    let work = IngestWork::SyncFolders { retry_failed };
    report_ingest_with(out, stop.clone(), true, |tx, cancel| async move {
        session.ingest(collection_id, work, Some(tx), &cancel).await
    })
    .await
}

/// A flag that Ctrl-C or SIGTERM sets: the sync in hand stops with what it finished, and a
/// watch ends.
fn interrupt_flag() -> CancelFlag {
    let flag = CancelFlag::default();
    let on_signal = flag.clone();
    tokio::spawn(async move {
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(_) => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = terminate => {}
        }
        on_signal.cancel();
    });
    flag
}
