// An embedding-model switch's progress, folded from the backend's `reembed-progress` events.
import type { ReembedUpdate } from "../bindings";

export type SwitchStage = "queued" | "embedding" | "indexing" | "finished" | "cancelled" | "failed";

export interface SwitchProgress {
  jobId: number;
  stage: SwitchStage;
  target: string | null;
  nDone: number;
  nTotal: number;
  /** Passages a previous, interrupted run had already re-embedded. */
  nResumed: number;
  nCollections: number;
  nIndexed: number;
  error: string | null;
  seconds: number | null;
}

export function newSwitch(jobId: number, target: string | null = null): SwitchProgress {
  return {
    jobId, stage: "queued", target, nDone: 0, nTotal: 0, nResumed: 0,
    nCollections: 0, nIndexed: 0, error: null, seconds: null,
  };
}

export function applySwitchUpdate(p: SwitchProgress, u: ReembedUpdate): SwitchProgress {
  switch (u.kind) {
    case "queued":
      return { ...p, stage: "queued" };
    case "started":
      return { ...p, stage: "embedding", target: u.target, nDone: u.n_done, nTotal: u.n_total, nResumed: u.n_done };
    case "embedded":
      return { ...p, stage: "embedding", nDone: u.n_done, nTotal: u.n_total };
    case "switched":
      return { ...p, stage: "indexing", nDone: p.nTotal, nCollections: u.n_collections };
    case "indexed":
      return { ...p, nIndexed: p.nIndexed + 1 };
    case "finished":
      return { ...p, stage: "finished", target: u.to, seconds: u.seconds };
    case "cancelled":
      return { ...p, stage: "cancelled" };
    case "failed":
      return { ...p, stage: "failed", error: u.error.message };
  }
}

export function isRunning(p: SwitchProgress | null): boolean {
  return p !== null && (p.stage === "queued" || p.stage === "embedding" || p.stage === "indexing");
}

/** 0–1: re-embedding is nine tenths of the work, rebuilding the indexes the rest. */
export function switchFraction(p: SwitchProgress): number {
  if (p.stage === "finished") return 1;
  const embedded = p.nTotal > 0 ? p.nDone / p.nTotal : 0;
  if (p.stage !== "indexing") return 0.9 * embedded;
  return 0.9 + 0.1 * (p.nCollections > 0 ? p.nIndexed / p.nCollections : 1);
}

export function switchLabel(p: SwitchProgress): string {
  const model = p.target ?? "the new model";
  switch (p.stage) {
    case "queued":
      return `Waiting for the running job to finish before switching to ${model}`;
    case "embedding":
      return `Re-embedding ${p.nDone.toLocaleString()} of ${p.nTotal.toLocaleString()} passages with ${model}`;
    case "indexing":
      return `Rebuilding indexes: ${p.nIndexed} of ${p.nCollections} collections`;
    case "finished":
      return `Now using ${model}`;
    case "cancelled":
      return `Switch to ${model} cancelled; the previous model is still in use`;
    case "failed":
      return `Switch to ${model} failed: ${p.error ?? "unknown error"}`;
  }
}
