//! How the CLI presents embedding models and the progress of a switch between them.

use lectern::reembed::{EmbeddingChoice, PendingSwitch, ReembedEvent, ReembedReport};

use super::Out;

impl Out {
    pub fn embedding_choice(&self, c: &EmbeddingChoice) {
        if self.json {
            self.line(&serde_json::json!({
                "id": c.id,
                "label": c.label,
                "about": c.about,
                "dims": c.dims,
                "installed": c.installed,
                "active": c.active,
            }));
        } else {
            outln!(
                "{} {}  {}{}",
                if c.active { "*" } else { " " },
                c.id,
                c.about,
                if c.installed {
                    ""
                } else {
                    " (not installed: run scripts/setup.sh)"
                }
            );
        }
    }

    pub fn pending_switch(&self, p: &PendingSwitch) {
        if self.json {
            self.line(&serde_json::json!({
                "pending": { "target": p.target, "n_done": p.n_done, "n_total": p.n_total }
            }));
        } else {
            outln!(
                "unfinished switch to {}: {} of {} passages re-embedded \
                 (`lectern embedding use {}` resumes, `lectern embedding abandon` drops it)",
                p.target,
                p.n_done,
                p.n_total,
                p.target
            );
        }
    }

    pub fn reembed_event(&self, event: &ReembedEvent) {
        if self.json {
            let value = match event {
                ReembedEvent::Started {
                    target,
                    n_done,
                    n_total,
                } => serde_json::json!({
                    "event": "started", "target": target, "n_done": n_done, "n_total": n_total
                }),
                ReembedEvent::Embedded { n_done, n_total } => {
                    serde_json::json!({ "event": "embedded", "n_done": n_done, "n_total": n_total })
                }
                ReembedEvent::Switched { n_collections } => {
                    serde_json::json!({ "event": "switched", "n_collections": n_collections })
                }
                ReembedEvent::Indexed { collection } => {
                    serde_json::json!({ "event": "indexed", "collection": collection })
                }
            };
            self.line(&value);
            return;
        }
        match event {
            ReembedEvent::Started {
                target,
                n_done,
                n_total,
            } => eprintln!("re-embedding {n_total} passages with {target} ({n_done} already done)"),
            ReembedEvent::Embedded { n_done, n_total } => {
                eprint!("\r{n_done}/{n_total} passages");
            }
            ReembedEvent::Switched { n_collections } => {
                eprintln!("\nswitched; rebuilding {n_collections} collection indexes");
            }
            ReembedEvent::Indexed { collection } => eprintln!("indexed {collection}"),
        }
    }

    pub fn reembed_report(&self, r: &ReembedReport) {
        if self.json {
            self.line(&serde_json::json!({
                "from": r.from, "to": r.to, "n_embedded": r.n_embedded,
                "n_chunks": r.n_chunks, "n_collections": r.n_collections,
            }));
        } else if r.from == r.to {
            outln!("{} is already in use; nothing to do", r.to);
        } else {
            outln!(
                "now using {} ({} passages in {} collections; {} embedded by this run)",
                r.to,
                r.n_chunks,
                r.n_collections,
                r.n_embedded
            );
        }
    }
}
