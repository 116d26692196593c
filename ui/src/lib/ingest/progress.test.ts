import { describe, expect, it } from "vitest";
import { applyUpdate, changedNothing, etaSeconds, fileFraction, jobFraction, newJob, formatDuration } from "./progress";
import type { IngestUpdate } from "../bindings";

const planned: IngestUpdate = {
  kind: "planned",
  files: ["/docs/big.pdf", "/docs/small.md"],
  file_bytes: [900, 100],
  total_bytes: 1000,
};

function run(updates: IngestUpdate[], start = 0) {
  return updates.reduce((job, u, i) => applyUpdate(job, u, start + i), newJob(7, 1, "papers"));
}

describe("ingest progress", () => {
  it("tracks each file through extract, chunk, embed and done", () => {
    const job = run([
      { kind: "queued" },
      planned,
      { kind: "extracting", file_idx: 0 },
      { kind: "chunked", file_idx: 0, n_pages: 12, n_chunks: 40 },
      { kind: "embedded", file_idx: 0, n_done: 20, n_chunks: 40 },
    ]);
    expect(job.state).toBe("running");
    expect(job.files.map((f) => f.name)).toEqual(["big.pdf", "small.md"]);
    expect(job.files[0]).toMatchObject({ stage: "embedding", nPages: 12, nEmbedded: 20, nChunks: 40 });
    expect(job.files[1].stage).toBe("waiting");
    // 900 bytes at 0.2 + 0.8 * 0.5 = 0.6, 100 bytes at 0.
    expect(jobFraction(job)).toBeCloseTo(0.54, 5);
  });

  it("keeps a failed file's reason and the job's summary", () => {
    const job = run([
      planned,
      {
        kind: "file_done",
        file_idx: 1,
        status: "failed",
        error: { code: "password_required", message: "small.md: encrypted" },
      },
      { kind: "finished", n_indexed: 1, n_skipped: 0, n_failed: 1, n_moved: 0, n_removed: 0, n_still_changing: 0, missing_folders: [], cancelled: false, seconds: 3 },
    ]);
    expect(job.files[1]).toMatchObject({ stage: "done", status: "failed" });
    expect(job.files[1].error?.code).toBe("password_required");
    expect(job.state).toBe("finished");
    expect(job.summary).toEqual({ nIndexed: 1, nSkipped: 0, nFailed: 1, seconds: 3 });
    expect(jobFraction(job)).toBe(1);
  });

  it("a folder sync keeps what it moved, removed and found missing; one that changed nothing is not worth showing", () => {
    const synced = run([
      { kind: "finished", n_indexed: 0, n_skipped: 0, n_failed: 0, n_moved: 1, n_removed: 2, n_still_changing: 0, missing_folders: ["/media/usb/papers"], cancelled: false, seconds: 1 },
    ]);
    expect(synced.summary).toEqual({ nIndexed: 0, nSkipped: 0, nFailed: 0, seconds: 1, nMoved: 1, nRemoved: 2, missingFolders: ["/media/usb/papers"] });
    expect(changedNothing(synced)).toBe(false);
    const idle = run([
      { kind: "queued" },
      { kind: "finished", n_indexed: 0, n_skipped: 0, n_failed: 0, n_moved: 0, n_removed: 0, n_still_changing: 0, missing_folders: [], cancelled: false, seconds: 0 },
    ]);
    expect(changedNothing(idle)).toBe(true);
  });

  it("a job that cannot start says why", () => {
    const job = run([
      { kind: "failed", error: { code: "model_missing", message: "embedding model file missing" } },
      { kind: "finished", n_indexed: 0, n_skipped: 0, n_failed: 0, n_moved: 0, n_removed: 0, n_still_changing: 0, missing_folders: [], cancelled: false, seconds: 0 },
    ]);
    expect(job.state).toBe("failed");
    expect(job.error?.code).toBe("model_missing");
  });

  it("estimates time left from the pace so far", () => {
    let job = applyUpdate(newJob(1, 1, "c"), planned, 0);
    job = applyUpdate(job, { kind: "file_done", file_idx: 1, status: "indexed", error: null }, 1000);
    job = applyUpdate(job, { kind: "embedded", file_idx: 0, n_done: 10, n_chunks: 40 }, 2000);
    // 100 + 900 * (0.2 + 0.8 * 0.25) = 460 of 1000 done after 10 s.
    const eta = etaSeconds(job, 10_000);
    expect(eta).not.toBeNull();
    expect(eta!).toBeCloseTo((10 / 0.46) * 0.54, 3);
    expect(etaSeconds(job, 1000)).toBeNull();
  });

  it("counts pages read by OCR as part of reading a file", () => {
    let job = applyUpdate(newJob(1, 1, "c"), planned, 0);
    job = applyUpdate(job, { kind: "extracting", file_idx: 0 }, 10);
    job = applyUpdate(job, { kind: "ocr", file_idx: 0, n_done: 3, n_pages: 12 }, 20);
    const file = job.files[0];
    expect(file.stage).toBe("ocr");
    expect([file.nOcrDone, file.nOcrPages]).toEqual([3, 12]);
    expect(fileFraction(file)).toBeCloseTo(0.05 + 0.15 * 0.25, 6);
    job = applyUpdate(job, { kind: "chunked", file_idx: 0, n_pages: 12, n_chunks: 30 }, 30);
    expect(fileFraction(job.files[0])).toBeCloseTo(0.2, 6);
  });

  it("formats durations for people", () => {
    expect(formatDuration(0.2)).toBe("1 s");
    expect(formatDuration(75)).toBe("1 min 15 s");
    expect(formatDuration(3720)).toBe("1 h 2 min");
  });
});
