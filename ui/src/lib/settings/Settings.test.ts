import { afterEach, beforeEach, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { clearMocks, mockIPC, mockWindows } from "@tauri-apps/api/mocks";
import type { EmbeddingView, SettingsView } from "../bindings";
import Settings from "./Settings.svelte";
import { embedding } from "../state/embedding.svelte";

const settings: SettingsView = {
  values: [
    {
      key: "retrieval.k",
      value: "5",
      default_value: "3",
      label: "Passages per question (top-k)",
      help: "1–50",
      reloads_model: false,
    },
  ],
  data_dir: "/home/u/.local/share/lectern",
  models_dir: "/home/u/.local/share/lectern/models",
  embedding_model: "all-MiniLM-L6-v2",
};

function embeddingView(pending: EmbeddingView["pending"] = null): EmbeddingView {
  return {
    models: [
      { id: "all-MiniLM-L6-v2", label: "all-MiniLM-L6-v2", about: "6 layers", dims: 384, installed: true, active: true },
      { id: "paraphrase-MiniLM-L3-v2", label: "paraphrase-MiniLM-L3-v2", about: "3 layers", dims: 384, installed: true, active: false },
    ],
    pending,
    job_id: null,
    n_chunks: 1234,
  };
}

function backend(calls: Array<[string, unknown]>, pending: EmbeddingView["pending"] = null) {
  mockIPC(
    (cmd, args) => {
      calls.push([cmd, args]);
      if (cmd === "get_settings") return settings;
      if (cmd === "embedding_models") return embeddingView(pending);
      if (cmd === "start_embedding_switch") return 42;
      if (cmd === "set_data_dir")
        return { data_dir: "/data/lectern", existing_library: false, overridden_by_env: false };
      return [];
    },
    { shouldMockEvents: true },
  );
}

beforeEach(() => {
  mockWindows("main");
  embedding.progress = null;
  embedding.view = null;
});
afterEach(() => {
  cleanup();
  clearMocks();
});

it("asks before switching the embedding model, then starts the re-embedding job", async () => {
  const calls: Array<[string, unknown]> = [];
  backend(calls);
  render(Settings, { onclose: () => {} });
  const options = await screen.findAllByTestId("embedding-option");
  await fireEvent.click(options[1]);
  const confirm = await screen.findByTestId("confirm-embedding");
  expect(confirm.textContent).toContain("re-embed");
  expect(confirm.textContent).toContain("1,234 passages");
  // Nothing starts until the user confirms.
  expect(calls.some(([cmd]) => cmd === "start_embedding_switch")).toBe(false);
  await fireEvent.click(screen.getByTestId("confirm-switch"));
  await waitFor(() =>
    expect(calls).toContainEqual(["start_embedding_switch", { model: "paraphrase-MiniLM-L3-v2" }]),
  );
  const progress = await screen.findByTestId("embedding-progress");
  expect(progress.dataset.stage).toBe("queued");
  // While it runs, the choice is locked.
  expect((screen.getAllByTestId("embedding-option")[0] as HTMLInputElement).disabled).toBe(true);
});

it("offers to resume or discard a switch that was cut off", async () => {
  const calls: Array<[string, unknown]> = [];
  backend(calls, { target: "paraphrase-MiniLM-L3-v2", n_done: 300, n_total: 1234 });
  render(Settings, { onclose: () => {} });
  const pending = await screen.findByTestId("embedding-pending");
  expect(pending.textContent).toContain("300 of");
  await fireEvent.click(screen.getByText("Resume"));
  await waitFor(() =>
    expect(calls).toContainEqual(["start_embedding_switch", { model: "paraphrase-MiniLM-L3-v2" }]),
  );
});

it("chooses another data folder for the next start and offers a restart", async () => {
  const calls: Array<[string, unknown]> = [];
  backend(calls);
  render(Settings, { onclose: () => {} });
  const input = (await screen.findByTestId("data-dir")) as HTMLInputElement;
  await waitFor(() => expect(input.value).toBe(settings.data_dir));
  await fireEvent.input(input, { target: { value: "/data/lectern" } });
  await fireEvent.submit(input.closest("form")!);
  const chosen = await screen.findByTestId("data-dir-chosen");
  expect(calls).toContainEqual(["set_data_dir", { path: "/data/lectern" }]);
  expect(chosen.textContent).toContain("starts an empty library");
  await fireEvent.click(screen.getByText("Restart now"));
  await waitFor(() => expect(calls.some(([cmd]) => cmd === "restart_app")).toBe(true));
});
