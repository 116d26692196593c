// Ingest jobs in flight and recently finished, fed by the backend's progress events.
import type { CollectionView, IngestProgress } from "../bindings";
import { applyUpdate, changedNothing, newJob, type Job } from "../ingest/progress";
import { call, commands } from "../ipc";

/** Which collection a job adds to: its id, and its name to show. */
type CollectionRef = Pick<CollectionView, "id" | "name">;

const SUCCESS_LINGER_MS = 8000;

class Jobs {
  all = $state<Job[]>([]);

  get active(): Job[] {
    return this.all.filter((j) => j.state === "queued" || j.state === "running");
  }

  /** Folds one event in; returns the job when this event finished it. */
  apply(event: IngestProgress, now = Date.now()): Job | null {
    const idx = this.all.findIndex((j) => j.jobId === event.job_id);
    const job = idx >= 0 ? this.all[idx] : newJob(event.job_id, event.collection_id, event.collection);
    const next = applyUpdate(job, event.update, now);
    if (idx >= 0) this.all[idx] = next;
    else this.all = [...this.all, next];
    if (event.update.kind !== "finished") return null;
    // A folder sync that found nothing to do (one runs for each collection at start) leaves
    // no trace.
    if (changedNothing(next)) {
      this.dismiss(next.jobId);
      return next;
    }
    // A clean success needs no attention: it leaves on its own. Failures stay until dismissed.
    if (next.state === "finished" && !next.cancelled && next.summary?.nFailed === 0) {
      setTimeout(() => this.dismiss(next.jobId), SUCCESS_LINGER_MS);
    }
    return next;
  }

  async start(collection: CollectionRef, paths: string[], password: string | null = null): Promise<number> {
    return this.track(await call(commands.startIngest(collection.id, paths, password)), collection);
  }

  async syncFolders(collection: CollectionRef): Promise<number> {
    return this.track(await call(commands.syncFolders(collection.id)), collection);
  }

  async reindex(collection: CollectionRef): Promise<number> {
    return this.track(await call(commands.reindexCollection(collection.id)), collection);
  }

  /** Shows a job at once, before its first event arrives (if one has not already). */
  private track(jobId: number, collection: CollectionRef): number {
    if (!this.all.some((j) => j.jobId === jobId)) {
      this.all = [...this.all, newJob(jobId, collection.id, collection.name)];
    }
    return jobId;
  }

  async cancel(jobId: number): Promise<void> {
    this.all = this.all.map((j) => (j.jobId === jobId ? { ...j, cancelRequested: true } : j));
    await commands.cancelJob(jobId);
  }

  dismiss(jobId: number): void {
    this.all = this.all.filter((j) => j.jobId !== jobId);
  }
}

export const jobs = new Jobs();
