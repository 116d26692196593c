// The embedding models and the switch between them: server state plus the running switch's
// progress, fed by `reembed-progress` events (App.svelte listens).
import type { EmbeddingView, ReembedProgress } from "../bindings";
import { call, commands } from "../ipc";
import { applySwitchUpdate, isRunning, newSwitch, type SwitchProgress } from "../settings/reembed";

class Embedding {
  view = $state<EmbeddingView | null>(null);
  progress = $state<SwitchProgress | null>(null);

  get running(): boolean {
    return isRunning(this.progress);
  }

  async load(): Promise<void> {
    this.view = await call(commands.embeddingModels());
    const jobId = this.view.job_id;
    if (jobId !== null && this.progress?.jobId !== jobId) this.progress = newSwitch(jobId);
  }

  /** Folds one event in; true when it ended the switch. */
  apply(event: ReembedProgress): boolean {
    const current = this.progress?.jobId === event.job_id ? this.progress : newSwitch(event.job_id);
    this.progress = applySwitchUpdate(current, event.update);
    return !isRunning(this.progress);
  }

  async start(model: string): Promise<void> {
    const jobId = await call(commands.startEmbeddingSwitch(model));
    if (this.progress?.jobId !== jobId) this.progress = newSwitch(jobId, model);
  }

  async cancel(): Promise<void> {
    if (this.progress) await commands.cancelJob(this.progress.jobId);
  }

  async abandon(): Promise<void> {
    await call(commands.abandonEmbeddingSwitch());
    await this.load();
  }

  dismiss(): void {
    if (!this.running) this.progress = null;
  }
}

export const embedding = new Embedding();
