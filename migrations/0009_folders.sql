-- Followed folders (src/library/folders.rs): a collection keeps the supported files below each
-- in step, by file-system notifications while a shell runs and by a rescan when one starts.
--
-- A rescan compares each file's size and modification time with what was ingested and reads
-- (hashes) only the files where they differ: documents.source_mtime_ns is the file's mtime
-- when it was read, NULL for documents ingested before this migration (hashed once, then set).
-- folders.device is the file system the folder was on when followed: a mount point whose disk
-- is gone is an empty folder on another device, and its documents must not be deleted.
CREATE TABLE folders (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    collection_id  INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    path           TEXT    NOT NULL, -- absolute and canonical
    device         INTEGER NOT NULL, -- st_dev when followed
    added_at       INTEGER NOT NULL, -- unix milliseconds
    synced_at      INTEGER,          -- the last rescan that completed; NULL: none yet
    missing        INTEGER NOT NULL DEFAULT 0, -- the last rescan found no folder (or another disk)
    UNIQUE (collection_id, path)
);

ALTER TABLE documents ADD COLUMN source_mtime_ns INTEGER;

-- Files below a followed folder that could not be read for a reason in their bytes (encrypted,
-- malformed, no text...), with the size and mtime they had: the automatic syncs (at start, on
-- notifications) leave them alone until they change; a sync the person asks for tries again.
CREATE TABLE folder_failures (
    collection_id  INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    path           TEXT    NOT NULL,
    byte_len       INTEGER NOT NULL,
    mtime_ns       INTEGER,
    code           TEXT    NOT NULL, -- ErrorCode::as_str
    message        TEXT    NOT NULL,
    PRIMARY KEY (collection_id, path)
);
