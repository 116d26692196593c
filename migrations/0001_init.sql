-- Lectern's first schema: collections of documents, their chunks with embeddings, keyword
-- search over chunk text, and settings. SQLite is the source of truth; any vector index is a
-- cache rebuilt from chunks.embedding.

CREATE TABLE collections (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL -- unix milliseconds
);

CREATE TABLE documents (
    id              INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: ids are referenced from outside (citations, vector index)
    collection_id   INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    name            TEXT    NOT NULL, -- file name as shown to the user
    source_path     TEXT    NOT NULL, -- absolute path it was ingested from
    format          TEXT    NOT NULL CHECK (format IN ('pdf', 'markdown', 'text')),
    content_hash    TEXT    NOT NULL, -- SHA-256 of the file's bytes, hex
    byte_len        INTEGER NOT NULL,
    n_pages         INTEGER,          -- NULL for formats without pages
    n_chunks        INTEGER NOT NULL,
    embedding_model TEXT    NOT NULL,
    added_at        INTEGER NOT NULL, -- unix milliseconds
    UNIQUE (collection_id, source_path),
    UNIQUE (collection_id, content_hash)
);

CREATE TABLE chunks (
    id          INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused, like document ids
    document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    chunk_idx   INTEGER NOT NULL,
    first_page  INTEGER,          -- 1-based; NULL for formats without pages
    last_page   INTEGER,
    char_start  INTEGER NOT NULL, -- offsets in characters into the document's normalised text
    char_end    INTEGER NOT NULL,
    n_tokens    INTEGER NOT NULL,
    text        TEXT    NOT NULL,
    embedding   BLOB    NOT NULL, -- little-endian f32 × dims, L2-normalised
    UNIQUE (document_id, chunk_idx)
);

CREATE INDEX chunks_by_document ON chunks(document_id);

CREATE VIRTUAL TABLE chunks_fts USING fts5(
    text,
    content = 'chunks',
    content_rowid = 'id',
    tokenize = 'porter unicode61 remove_diacritics 2'
);

CREATE TRIGGER chunks_fts_insert AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts(rowid, text) VALUES (new.id, new.text);
END;

CREATE TRIGGER chunks_fts_delete AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;

CREATE TRIGGER chunks_fts_update AFTER UPDATE OF text ON chunks BEGIN
    INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
    INSERT INTO chunks_fts(rowid, text) VALUES (new.id, new.text);
END;

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
