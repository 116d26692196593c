-- Answers whose [n] markers Lectern added by matching the answer's sentences to the passages,
-- because the model wrote none (src/attribution.rs); the UI says so.
ALTER TABLE messages ADD COLUMN citations_matched INTEGER NOT NULL DEFAULT 0;
