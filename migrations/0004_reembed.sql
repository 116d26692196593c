-- Vectors made by the embedding model being switched to, kept apart from chunks.embedding
-- until every chunk has one: the old vectors (and the indexes built from them) keep serving
-- searches meanwhile, and a switch that is cancelled or cut off resumes where it stopped.
-- The target model is the setting `embedding.target`; a switch ends by copying these into
-- chunks.embedding in one transaction and emptying the table.
CREATE TABLE reembed_vectors (
    chunk_id INTEGER PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,
    model TEXT NOT NULL,
    embedding BLOB NOT NULL
);
