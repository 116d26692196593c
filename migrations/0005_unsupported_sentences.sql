-- Sentences of an answer that no passage in its prompt supports (src/attribution.rs,
-- `check_citations`), as a JSON array of the sentences' text; the UI marks them.
ALTER TABLE messages ADD COLUMN unsupported TEXT NOT NULL DEFAULT '[]';
