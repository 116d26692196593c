//! How the CLI presents followed folders and what a sync of them changed beside the files it
//! ingested: documents moved and removed, folders missing, files still being written.

use lectern::ingest::IngestReport;
use lectern::library::Folder;

use super::Out;

fn name(path: &std::path::Path) -> std::borrow::Cow<'_, str> {
    path.file_name()
        .map_or_else(|| path.to_string_lossy(), |n| n.to_string_lossy())
}

impl Out {
    pub fn folder(&self, f: &Folder, collection: &str) {
        if self.json {
            self.line(&serde_json::json!({
                "id": f.id,
                "collection": collection,
                "path": f.path,
                "added_at": f.added_at,
                "synced_at": f.synced_at,
                "missing": f.missing,
            }));
        } else {
            outln!(
                "{:>4}  {:<20} {}{}",
                f.id,
                collection,
                f.path,
                if f.missing {
                    "  (missing at the last sync: its documents are kept)"
                } else if f.synced_at.is_none() {
                    "  (not synced yet)"
                } else {
                    ""
                }
            );
        }
    }

    /// A sync's counts as one JSON line (people get [`Out::ingest_summary`]'s).
    pub fn sync_summary(&self, report: &IngestReport) {
        use lectern::ingest::FileStatus;
        if self.json {
            self.line(&serde_json::json!({
                "status": "synced",
                "indexed": report.count(FileStatus::Indexed),
                "skipped": report.count(FileStatus::Skipped),
                "failed": report.count(FileStatus::Failed),
                "moved": report.moved.len(),
                "removed": report.removed.len(),
                "still_changing": report.unsettled.len(),
                "failed_before": report.failed_before.len(),
                "missing_folders": report.missing_folders.len(),
                "seconds": report.timings.total.as_secs_f64(),
            }));
        }
    }

    /// A sync's changes other than the files ingested, a line each.
    pub fn sync_changes(&self, report: &IngestReport) {
        for (from, to) in &report.moved {
            if self.json {
                self.line(&serde_json::json!({ "path": to, "from": from, "status": "moved" }));
            } else {
                outln!("moved    {} -> {}", from.display(), to.display());
            }
        }
        for path in &report.removed {
            if self.json {
                self.line(&serde_json::json!({ "path": path, "status": "removed" }));
            } else {
                outln!("removed  {} (its file was deleted)", name(path));
            }
        }
        for path in &report.unsettled {
            if self.json {
                self.line(&serde_json::json!({ "path": path, "status": "still_changing" }));
            } else {
                outln!(
                    "waiting  {} (still being written: the next sync reads it)",
                    name(path)
                );
            }
        }
        for path in &report.failed_before {
            if self.json {
                self.line(&serde_json::json!({ "path": path, "status": "failed_before" }));
            } else {
                outln!(
                    "unread   {} (could not be read before and is unchanged)",
                    name(path)
                );
            }
        }
        for path in &report.missing_folders {
            if self.json {
                self.line(&serde_json::json!({ "folder": path, "status": "missing" }));
            } else {
                outln!(
                    "missing  {} (not there, or its disk is gone: its documents are kept)",
                    path.display()
                );
            }
        }
    }
}
