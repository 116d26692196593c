-- Word, EPUB and HTML documents (src/extract/markup.rs). Their text is cut into sections under
-- their headings: a chunk keeps its section's title (the heading path), which a citation names in
-- place of a page, and so does a cited copy of it.
--
-- documents.format's CHECK must also admit 'html', 'docx', 'odt' and 'epub'. SQLite changes a CHECK only
-- by rebuilding the table with foreign keys off (else dropping the old table deletes every
-- chunk), which cannot happen inside the transaction a migration runs in: `Db::open` does it
-- after the migrations (`store::admit_sectioned_formats`).
ALTER TABLE chunks ADD COLUMN section TEXT;
ALTER TABLE message_passages ADD COLUMN section TEXT;
