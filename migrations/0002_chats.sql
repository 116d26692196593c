-- Answers: chats within a collection, their messages with the passages each prompt held (copied,
-- so a citation still opens after the document changes or goes), feedback on answers, and the
-- per-collection prompt parts a user may edit.

CREATE TABLE chats (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    title         TEXT    NOT NULL,
    created_at    INTEGER NOT NULL -- unix milliseconds
);

CREATE INDEX chats_by_collection ON chats(collection_id);

CREATE TABLE messages (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id        INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    question       TEXT    NOT NULL,
    answer         TEXT    NOT NULL,
    finish         TEXT    NOT NULL CHECK (finish IN ('end_of_text', 'max_tokens', 'context_full', 'cancelled')),
    prompt_user    TEXT    NOT NULL, -- the user message as sent; a follow-up repeats it verbatim
    model          TEXT    NOT NULL,
    retrieval_ms   REAL    NOT NULL,
    prompt_tokens  INTEGER NOT NULL,
    reused_tokens  INTEGER NOT NULL, -- prompt tokens already in the model's cache
    answer_tokens  INTEGER NOT NULL,
    prompt_ms      REAL    NOT NULL,
    first_token_ms REAL,             -- NULL when no text came
    tokens_per_s   REAL    NOT NULL,
    created_at     INTEGER NOT NULL
);

CREATE INDEX messages_by_chat ON messages(chat_id, id);

CREATE TABLE message_passages (
    message_id  INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    n           INTEGER NOT NULL, -- its number in the prompt, from 1
    chunk_id    INTEGER NOT NULL, -- no foreign key: the chunk may be deleted, this copy stays
    document_id INTEGER NOT NULL,
    document    TEXT    NOT NULL,
    first_page  INTEGER,
    last_page   INTEGER,
    text        TEXT    NOT NULL,
    score       REAL    NOT NULL,
    cited       INTEGER NOT NULL CHECK (cited IN (0, 1)),
    PRIMARY KEY (message_id, n)
);

CREATE TABLE feedback (
    message_id INTEGER PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
    rating     INTEGER NOT NULL CHECK (rating IN (-1, 1)),
    comment    TEXT,
    created_at INTEGER NOT NULL
);

CREATE TABLE collection_prompts (
    collection_id    INTEGER PRIMARY KEY REFERENCES collections(id) ON DELETE CASCADE,
    instruction      TEXT, -- NULL: the default
    output_indicator TEXT
);
