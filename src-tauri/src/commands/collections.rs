//! Collections and their documents, by id.

use lectern::{CollectionId, DocumentId, Session};
use tauri::State;

use crate::ipc::{CollectionView, DocumentView, IpcResult};

#[tauri::command]
#[specta::specta]
pub async fn list_collections(app: State<'_, Session>) -> IpcResult<Vec<CollectionView>> {
    let collections = app.library().collections().await?;
    Ok(collections.into_iter().map(Into::into).collect())
}

#[tauri::command]
#[specta::specta]
pub async fn create_collection(app: State<'_, Session>, name: String) -> IpcResult<CollectionView> {
    Ok(app.library().create_collection(&name).await?.into())
}

#[tauri::command]
#[specta::specta]
pub async fn rename_collection(
    app: State<'_, Session>,
    collection_id: i64,
    new_name: String,
) -> IpcResult<()> {
    Ok(app
        .library()
        .rename_collection(CollectionId(collection_id), &new_name)
        .await?)
}

#[tauri::command]
#[specta::specta]
pub async fn delete_collection(app: State<'_, Session>, collection_id: i64) -> IpcResult<()> {
    Ok(app
        .library()
        .delete_collection(CollectionId(collection_id))
        .await?)
}

#[tauri::command]
#[specta::specta]
pub async fn list_documents(
    app: State<'_, Session>,
    collection_id: i64,
) -> IpcResult<Vec<DocumentView>> {
    let documents = app.library().documents(CollectionId(collection_id)).await?;
    Ok(documents.into_iter().map(Into::into).collect())
}

#[tauri::command]
#[specta::specta]
pub async fn remove_document(
    app: State<'_, Session>,
    collection_id: i64,
    document_id: i64,
) -> IpcResult<DocumentView> {
    let doc = app
        .library()
        .remove_document(CollectionId(collection_id), DocumentId(document_id))
        .await?;
    Ok(doc.into())
}

/// The OCR languages installed (Tesseract's codes); empty when OCR is not installed.
#[tauri::command]
#[specta::specta]
pub async fn list_ocr_languages(app: State<'_, Session>) -> IpcResult<Vec<String>> {
    Ok(app.library().ocr_languages().await?)
}

/// The language the collection's scanned pages are read in from its next ingest on.
#[tauri::command]
#[specta::specta]
pub async fn set_ocr_language(
    app: State<'_, Session>,
    collection_id: i64,
    language: String,
) -> IpcResult<()> {
    Ok(app
        .library()
        .set_ocr_language(CollectionId(collection_id), &language)
        .await?)
}

/// The text of one section of a Word, EPUB or HTML document: the viewer's page for a
/// citation of such a document.
#[tauri::command]
#[specta::specta]
pub async fn section_text(
    app: State<'_, Session>,
    document_id: i64,
    section: String,
) -> IpcResult<String> {
    Ok(app
        .library()
        .section_text(DocumentId(document_id), &section)
        .await?)
}
