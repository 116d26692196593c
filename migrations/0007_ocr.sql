-- OCR of scanned pages (src/extract/ocr.rs). A chunk drawn from a page read by OCR is marked, and
-- so is a cited copy of it, so a citation can say "read by OCR"; a document counts its OCR'd
-- pages; a collection names its OCR language (Tesseract's code; NULL: English).
ALTER TABLE chunks ADD COLUMN ocr INTEGER NOT NULL DEFAULT 0;
ALTER TABLE documents ADD COLUMN n_ocr_pages INTEGER NOT NULL DEFAULT 0;
ALTER TABLE message_passages ADD COLUMN ocr INTEGER NOT NULL DEFAULT 0;
ALTER TABLE collections ADD COLUMN ocr_language TEXT;
