//! Folders a collection follows: follow, unfollow, list, sync now. Syncs run as ingest jobs
//! (the usual `ingest-progress` events): when the app starts (a rescan of every followed
//! folder) and whenever the folder watch reports a change.

use lectern::library::{FolderWatch, IngestWork};
use lectern::{CollectionId, FolderId, Session};
use tauri::{AppHandle, Manager, State};

use super::ingest::spawn_ingest;
use crate::ipc::{FolderView, IpcResult};

/// The running folder watch, told when the list of followed folders changes.
#[derive(Debug, Default)]
pub struct FolderWatchState(std::sync::Mutex<Option<FolderWatch>>);

impl FolderWatchState {
    fn refresh(&self) {
        if let Some(watch) = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
        {
            watch.refresh();
        }
    }
}

/// Rescans every followed folder, then syncs a collection whenever its folders change, for as
/// long as the app runs.
pub fn start_folder_sync(handle: AppHandle) {
    tauri::async_runtime::spawn(async move {
        let app = handle.state::<Session>();
        let collections = match app.library().folders(None).await {
            Ok(folders) => folders.iter().map(|f| f.collection_id).collect(),
            Err(e) => {
                eprintln!("lectern: followed folders: {e}");
                Vec::new()
            }
        };
        let mut collections: Vec<CollectionId> = collections;
        collections.dedup();
        for collection_id in collections {
            sync(&app, &handle, collection_id, false).await;
        }
        let (watch, mut changed) = match FolderWatch::start(app.library().clone()) {
            Ok(started) => started,
            Err(e) => {
                // Without notifications the folders are still synced at every start.
                eprintln!("lectern: cannot watch the followed folders: {e}");
                return;
            }
        };
        *handle
            .state::<FolderWatchState>()
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(watch);
        while let Some(collection_id) = changed.recv().await {
            sync(&app, &handle, collection_id, false).await;
        }
    });
}

/// A sync of the collection's folders as a job; `retry_failed` when the person asked for it
/// (the automatic ones leave files that failed before alone until they change).
async fn sync(
    app: &Session,
    handle: &AppHandle,
    collection_id: CollectionId,
    retry_failed: bool,
) -> Option<u32> {
    let collection = app.library().collection(collection_id).await.ok()?;
    Some(spawn_ingest(
        app,
        handle.clone(),
        collection,
        IngestWork::SyncFolders { retry_failed },
    ))
}

#[tauri::command]
#[specta::specta]
pub async fn list_folders(
    app: State<'_, Session>,
    collection_id: i64,
) -> IpcResult<Vec<FolderView>> {
    let folders = app
        .library()
        .folders(Some(CollectionId(collection_id)))
        .await?;
    Ok(folders.into_iter().map(FolderView::from).collect())
}

/// Makes the collection follow a folder and starts its first sync; returns the folder.
#[tauri::command]
#[specta::specta]
pub async fn follow_folder(
    app: State<'_, Session>,
    watch: State<'_, FolderWatchState>,
    handle: AppHandle,
    collection_id: i64,
    path: String,
) -> IpcResult<FolderView> {
    let dir = lectern::paths::from_ui(&path)?;
    let folder = app
        .library()
        .follow_folder(CollectionId(collection_id), &dir)
        .await?;
    watch.refresh();
    sync(&app, &handle, folder.collection_id, true).await;
    Ok(folder.into())
}

/// Stops following a folder; its documents stay unless `remove_documents`. Returns how many
/// documents were removed.
#[tauri::command]
#[specta::specta]
pub async fn unfollow_folder(
    app: State<'_, Session>,
    watch: State<'_, FolderWatchState>,
    collection_id: i64,
    folder_id: i64,
    remove_documents: bool,
) -> IpcResult<u32> {
    let folder = app
        .library()
        .folder_named(
            CollectionId(collection_id),
            &FolderId(folder_id).to_string(),
        )
        .await?;
    let removed = app
        .library()
        .unfollow_folder(&folder, remove_documents)
        .await?;
    watch.refresh();
    Ok(u32::try_from(removed).unwrap_or(u32::MAX))
}

/// Syncs the collection's folders now, as a job (files that failed before are tried again);
/// returns its id.
#[tauri::command]
#[specta::specta]
pub async fn sync_folders(
    app: State<'_, Session>,
    handle: AppHandle,
    collection_id: i64,
) -> IpcResult<u32> {
    let collection = app
        .library()
        .collection(CollectionId(collection_id))
        .await?;
    Ok(spawn_ingest(
        &app,
        handle,
        collection,
        IngestWork::SyncFolders { retry_failed: true },
    ))
}
