-- Answers the model gave only as citation markers ("[1]"), replaced by the cited passage's
-- sentences that bear on the question (src/excerpt.rs, `quote`); the UI says they are quoted.
ALTER TABLE messages ADD COLUMN quoted INTEGER NOT NULL DEFAULT 0;
