//! Collections and their documents, as the shells see them.

use super::Library;
use std::path::PathBuf;

use crate::error::{DbError, Error, Result};
use crate::ids::{CollectionId, DocumentId};
use crate::store::{Collection, Document, StoredChunk};

impl Library {
    /// Where a file sent to the library (not dropped from the person's own disk) is kept:
    /// `uploads/<collection id>/<file name>` in the data folder. A document is its file, so
    /// the file stays for re-index and the viewer; sending a file of the same name again
    /// replaces it, and its document with it. The name must be a plain file name.
    pub fn upload_path(&self, collection_id: CollectionId, file_name: &str) -> Result<PathBuf> {
        let plain = std::path::Path::new(file_name).file_name() == Some(file_name.as_ref());
        if !plain || file_name.starts_with('.') || file_name.contains('\\') {
            return Err(Error::InvalidInput(format!(
                "{file_name:?}: a file's name must be a plain name, without folders or a leading dot"
            )));
        }
        Ok(self
            .paths
            .data_dir
            .join("uploads")
            .join(collection_id.to_string())
            .join(file_name))
    }

    /// Every collection with its counts, by name.
    pub async fn collections(&self) -> Result<Vec<Collection>> {
        Ok(self.db.collections().await?)
    }

    pub async fn collection(&self, id: CollectionId) -> Result<Collection> {
        Ok(self.db.collection_by_id(id).await?)
    }

    /// The collection a person named: how a shell that takes names finds its id, once.
    pub async fn collection_named(&self, name: &str) -> Result<Collection> {
        Ok(self.db.collection(name).await?)
    }

    /// The collection named `name`, created when there is none; true when it was created.
    pub async fn collection_named_or_new(&self, name: &str) -> Result<(Collection, bool)> {
        match self.db.collection(name).await {
            Ok(c) => Ok((c, false)),
            Err(DbError::NoSuchCollection(_)) => Ok((self.db.create_collection(name).await?, true)),
            Err(e) => Err(e.into()),
        }
    }

    /// A new, empty collection; the name is trimmed and must be new.
    pub async fn create_collection(&self, name: &str) -> Result<Collection> {
        Ok(self.db.create_collection(name).await?)
    }

    pub async fn rename_collection(&self, id: CollectionId, new_name: &str) -> Result<()> {
        Ok(self.db.rename_collection(id, new_name).await?)
    }

    /// The text of one section of a Word, EPUB or HTML document (`section` as its chunks
    /// name it), stitched from the stored chunks: what the viewer shows in place of a page,
    /// even when the file has moved. Empty when no chunk has that section.
    pub async fn section_text(&self, document_id: DocumentId, section: &str) -> Result<String> {
        let mut chunks: Vec<StoredChunk> = self
            .db
            .chunks(document_id)
            .await?
            .into_iter()
            .filter(|c| c.section.as_deref() == Some(section))
            .collect();
        chunks.sort_by_key(|c| c.char_start);
        Ok(stitch(
            chunks
                .iter()
                .map(|c| (c.char_start, c.char_end, c.text.as_str())),
        ))
    }

    /// The OCR languages that can be chosen (Tesseract's codes, those installed); empty when
    /// OCR is not installed.
    pub async fn ocr_languages(&self) -> Result<Vec<String>> {
        crate::job::blocking("listing OCR languages", || {
            Ok(crate::extract::ocr::installed_languages())
        })
        .await
    }

    /// The language the collection's scanned pages are read in from now on (documents
    /// already stored keep their text: re-index them to read them again). One installed
    /// code, or several joined by `+` (`eng+deu`).
    pub async fn set_ocr_language(&self, id: CollectionId, language: &str) -> Result<()> {
        let language = language.trim();
        let installed = self.ocr_languages().await?;
        crate::extract::ocr::check_language(language, &installed).map_err(|e| {
            let choices = if installed.is_empty() {
                String::new()
            } else {
                format!("; installed: {}", installed.join(", "))
            };
            Error::InvalidInput(format!("{e}{choices}"))
        })?;
        let stored = (language != crate::extract::ocr::DEFAULT_LANGUAGE).then_some(language);
        Ok(self.db.set_ocr_language(id, stored).await?)
    }

    /// Deletes a collection with its documents, chats and index files.
    pub async fn delete_collection(&self, id: CollectionId) -> Result<()> {
        self.db.delete_collection(id).await?;
        self.indexes().drop_collection(id).await;
        Ok(())
    }

    /// A collection's documents, by name.
    pub async fn documents(&self, collection_id: CollectionId) -> Result<Vec<Document>> {
        Ok(self.db.documents(collection_id).await?)
    }

    pub async fn document(&self, id: DocumentId) -> Result<Document> {
        Ok(self.db.document(id).await?)
    }

    /// The document of a collection a person named by id, source path or file name.
    pub async fn find_document(&self, collection_id: CollectionId, key: &str) -> Result<Document> {
        Ok(self.db.find_document(collection_id, key).await?)
    }

    /// A document's chunks in order, without their vectors.
    pub async fn chunks(&self, document_id: DocumentId) -> Result<Vec<StoredChunk>> {
        Ok(self.db.chunks(document_id).await?)
    }

    /// Chunks in the whole library, of every collection.
    pub async fn count_chunks(&self) -> Result<usize> {
        Ok(self.db.count_chunks().await?)
    }

    /// Removes a document from its collection: its rows in one transaction, then its points
    /// from the vector index.
    pub async fn remove_document(
        &self,
        collection_id: CollectionId,
        document_id: DocumentId,
    ) -> Result<Document> {
        let doc = self.db.document(document_id).await?;
        if doc.collection_id != collection_id {
            return Err(DbError::NoSuchDocument(document_id.to_string()).into());
        }
        self.remove_documents(collection_id, &[doc.id]).await?;
        Ok(doc)
    }
}

/// Overlapping chunks (start, end, text; offsets in characters, in order of start) joined
/// into the text they were cut from; a gap between two (blanks the splitter dropped) becomes
/// a line break.
fn stitch<'a>(chunks: impl Iterator<Item = (i64, i64, &'a str)>) -> String {
    let mut text = String::new();
    let mut end = None;
    for (start, chunk_end, chunk) in chunks {
        match end {
            Some(end) if start < end => {
                let skip = usize::try_from(end - start).unwrap_or(usize::MAX);
                text.extend(chunk.chars().skip(skip));
            }
            Some(_) => {
                text.push('\n');
                text.push_str(chunk);
            }
            None => text.push_str(chunk),
        }
        end = Some(end.map_or(chunk_end, |e: i64| e.max(chunk_end)));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::stitch;

    #[test]
    fn overlapping_chunks_are_stitched_back_into_their_text() {
        let full = "Keepers trimmed the wicks. Oil gave way to kerosene. Lenses bent light.";
        let piece = |a: usize, b: usize| (a as i64, b as i64, &full[a..b]);
        let chunks = [piece(0, 40), piece(27, 52), piece(40, 71)];
        assert_eq!(stitch(chunks.into_iter()), full);
        // A gap (the blank between two paragraphs) becomes a line break.
        let gapped = [piece(0, 26), piece(27, 52)];
        assert_eq!(
            stitch(gapped.into_iter()),
            "Keepers trimmed the wicks.\nOil gave way to kerosene."
        );
        assert_eq!(stitch(std::iter::empty()), "");
    }
}
