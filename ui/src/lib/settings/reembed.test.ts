import { describe, expect, it } from "vitest";
import type { ReembedUpdate } from "../bindings";
import { applySwitchUpdate, isRunning, newSwitch, switchFraction, switchLabel } from "./reembed";

const fold = (updates: ReembedUpdate[]) => updates.reduce(applySwitchUpdate, newSwitch(3));

describe("embedding-model switch progress", () => {
  it("moves from queued through re-embedding and index rebuilds to finished", () => {
    let p = fold([{ kind: "queued" }]);
    expect(isRunning(p)).toBe(true);
    expect(switchLabel(p)).toMatch(/^Waiting/);
    p = fold([
      { kind: "queued" },
      { kind: "started", target: "paraphrase-MiniLM-L3-v2", n_done: 0, n_total: 200 },
      { kind: "embedded", n_done: 100, n_total: 200 },
    ]);
    expect(p.stage).toBe("embedding");
    expect(switchFraction(p)).toBeCloseTo(0.45);
    expect(switchLabel(p)).toBe("Re-embedding 100 of 200 passages with paraphrase-MiniLM-L3-v2");
    p = applySwitchUpdate(p, { kind: "switched", n_collections: 2 });
    p = applySwitchUpdate(p, { kind: "indexed", collection: "papers" });
    expect(switchFraction(p)).toBeCloseTo(0.95);
    expect(switchLabel(p)).toBe("Rebuilding indexes: 1 of 2 collections");
    p = applySwitchUpdate(p, { kind: "finished", to: "paraphrase-MiniLM-L3-v2", n_embedded: 200, seconds: 9 });
    expect(isRunning(p)).toBe(false);
    expect(switchFraction(p)).toBe(1);
    expect(switchLabel(p)).toBe("Now using paraphrase-MiniLM-L3-v2");
  });

  it("remembers work resumed from an interrupted run, and says why it stopped", () => {
    const resumed = fold([{ kind: "started", target: "m", n_done: 150, n_total: 200 }]);
    expect(resumed.nResumed).toBe(150);
    const cancelled = applySwitchUpdate(resumed, { kind: "cancelled" });
    expect(isRunning(cancelled)).toBe(false);
    expect(switchLabel(cancelled)).toMatch(/previous model is still in use/);
    const failed = applySwitchUpdate(resumed, {
      kind: "failed",
      error: { code: "model_missing", message: "embedding model file missing: /m/model.onnx" },
    });
    expect(switchLabel(failed)).toContain("/m/model.onnx");
  });
});
