// Ingest jobs as the UI tracks them, folded from the backend's progress events. Pure, so the
// arithmetic (weights, ETA) is unit-tested without a window.
import type { FileStatus, IngestUpdate, IpcError } from "../bindings";

export type FileStage = "waiting" | "extracting" | "ocr" | "chunked" | "embedding" | "done";

export interface FileProgress {
  path: string;
  name: string;
  bytes: number;
  stage: FileStage;
  nPages: number | null;
  nChunks: number;
  nEmbedded: number;
  /** Pages read by OCR so far, of `nOcrPages` without usable text. */
  nOcrDone: number;
  nOcrPages: number;
  /** Set once done. */
  status: FileStatus | null;
  error: IpcError | null;
}

export interface Job {
  jobId: number;
  collectionId: number;
  /** The collection's name when the job started. */
  collection: string;
  state: "queued" | "running" | "finished" | "failed";
  files: FileProgress[];
  totalBytes: number;
  startedAt: number | null;
  cancelled: boolean;
  cancelRequested: boolean;
  error: IpcError | null;
  summary: {
    nIndexed: number;
    nSkipped: number;
    nFailed: number;
    seconds: number;
    /** A folder sync's documents moved and removed, files still being written, and the
     * followed folders that were missing (their documents kept). */
    nMoved?: number;
    nRemoved?: number;
    nStillChanging?: number;
    missingFolders?: string[];
  } | null;
}

export function newJob(jobId: number, collectionId: number, collection: string): Job {
  return {
    jobId,
    collectionId,
    collection,
    state: "queued",
    files: [],
    totalBytes: 0,
    startedAt: null,
    cancelled: false,
    cancelRequested: false,
    error: null,
    summary: null,
  };
}

export function baseName(path: string): string {
  const parts = path.split(/[\\/]/);
  return parts[parts.length - 1] || path;
}

/** Applies one update; `now` is when it arrived (ms). */
export function applyUpdate(job: Job, update: IngestUpdate, now: number): Job {
  const files = job.files.slice();
  const patch = (idx: number, change: Partial<FileProgress>) => {
    if (files[idx]) files[idx] = { ...files[idx], ...change };
  };
  switch (update.kind) {
    case "queued":
      return { ...job, state: "queued" };
    case "planned":
      return {
        ...job,
        state: "running",
        startedAt: now,
        totalBytes: update.total_bytes,
        files: update.files.map((path, i) => ({
          path,
          name: baseName(path),
          bytes: update.file_bytes[i] ?? 0,
          stage: "waiting",
          nPages: null,
          nChunks: 0,
          nEmbedded: 0,
          nOcrDone: 0,
          nOcrPages: 0,
          status: null,
          error: null,
        })),
      };
    case "extracting":
      patch(update.file_idx, { stage: "extracting" });
      return { ...job, files };
    case "ocr":
      patch(update.file_idx, { stage: "ocr", nOcrDone: update.n_done, nOcrPages: update.n_pages });
      return { ...job, files };
    case "chunked":
      patch(update.file_idx, { stage: "chunked", nPages: update.n_pages, nChunks: update.n_chunks });
      return { ...job, files };
    case "embedded":
      patch(update.file_idx, { stage: "embedding", nEmbedded: update.n_done, nChunks: update.n_chunks });
      return { ...job, files };
    case "file_done":
      patch(update.file_idx, { stage: "done", status: update.status, error: update.error });
      return { ...job, files };
    case "failed":
      return { ...job, state: "failed", error: update.error };
    case "finished":
      return {
        ...job,
        state: job.state === "failed" ? "failed" : "finished",
        cancelled: update.cancelled,
        summary: {
          nIndexed: update.n_indexed,
          nSkipped: update.n_skipped,
          nFailed: update.n_failed,
          seconds: update.seconds ?? 0,
          ...(update.n_moved ? { nMoved: update.n_moved } : {}),
          ...(update.n_removed ? { nRemoved: update.n_removed } : {}),
          ...(update.n_still_changing ? { nStillChanging: update.n_still_changing } : {}),
          ...(update.missing_folders?.length ? { missingFolders: update.missing_folders } : {}),
        },
      };
  }
}

/** How far one file is, 0..1: reading (OCR included) and chunking count for a fifth,
 * embedding the rest. */
export function fileFraction(file: FileProgress): number {
  switch (file.stage) {
    case "waiting":
      return 0;
    case "extracting":
      return 0.05;
    case "ocr":
      return 0.05 + 0.15 * (file.nOcrPages > 0 ? file.nOcrDone / file.nOcrPages : 0);
    case "chunked":
      return 0.2;
    case "embedding":
      return 0.2 + 0.8 * (file.nChunks > 0 ? file.nEmbedded / file.nChunks : 1);
    case "done":
      return 1;
  }
}

/** How far the whole job is, 0..1, each file weighted by its size. */
export function jobFraction(job: Job): number {
  if (job.state === "finished" || job.state === "failed") return 1;
  if (job.files.length === 0) return 0;
  const total = job.files.reduce((sum, f) => sum + Math.max(f.bytes, 1), 0);
  const done = job.files.reduce((sum, f) => sum + Math.max(f.bytes, 1) * fileFraction(f), 0);
  return done / total;
}

/** Seconds left, from the pace so far; null until there is enough to go on. */
export function etaSeconds(job: Job, now: number): number | null {
  if (job.state !== "running" || job.startedAt === null) return null;
  const fraction = jobFraction(job);
  const elapsed = (now - job.startedAt) / 1000;
  if (fraction < 0.03 || elapsed < 2) return null;
  return (elapsed / fraction) * (1 - fraction);
}

export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${Math.max(1, Math.round(seconds))} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

export const stageLabel: Record<FileStage, string> = {
  waiting: "waiting",
  extracting: "extracting text",
  ocr: "reading by OCR",
  chunked: "chunked",
  embedding: "embedding",
  done: "done",
};

/** Whether a finished job changed nothing and said nothing worth reading: a folder sync that
 * found every file as it was. */
export function changedNothing(job: Job): boolean {
  const s = job.summary;
  return job.state === "finished" && !job.cancelled && s !== null &&
    s.nIndexed + s.nSkipped + s.nFailed + (s.nMoved ?? 0) + (s.nRemoved ?? 0) +
      (s.nStillChanging ?? 0) + (s.missingFolders?.length ?? 0) === 0;
}
