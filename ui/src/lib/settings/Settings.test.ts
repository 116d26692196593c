import { afterEach, beforeEach, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { clearMocks, mockIPC, mockWindows } from "@tauri-apps/api/mocks";
import type { EmbeddingView, EndpointView, SettingsView } from "../bindings";
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

it("adds a server, says whether it answers, and makes it the model answers use", async () => {
  const calls: Array<[string, unknown]> = [];
  let endpoints: EndpointView[] = [];
  const view = (name: string, selected: boolean): EndpointView => ({
    name,
    base_url: `http://${name}:8080/v1`,
    model: "qwen2.5-7b",
    n_ctx: 4096,
    timeout_s: 180,
    has_api_key: name === "gpu-box",
    selected,
  });
  mockIPC(
    (cmd, args) => {
      calls.push([cmd, args]);
      if (cmd === "get_settings") return settings;
      if (cmd === "embedding_models") return embeddingView();
      if (cmd === "list_endpoints") return endpoints;
      if (cmd === "add_endpoint") {
        const name = (args as { endpoint: { name: string } }).endpoint.name;
        endpoints = [...endpoints, view(name, false)];
        return endpoints;
      }
      if (cmd === "check_endpoint" || cmd === "select_endpoint") {
        const name = (args as { name: string }).name;
        if (name === "down") {
          throw { code: "generation_failed", message: "endpoint down (http://down:8080/v1): Connection refused" };
        }
        if (cmd === "select_endpoint") endpoints = endpoints.map((e) => ({ ...e, selected: e.name === name }));
        return { models: ["qwen2.5-7b", "nomic-embed"] };
      }
      return [];
    },
    { shouldMockEvents: true },
  );
  render(Settings, { onclose: () => {} });
  const form = await screen.findByTestId("endpoint-form");
  await fireEvent.input(screen.getByLabelText("Server name"), { target: { value: "gpu-box" } });
  await fireEvent.input(screen.getByLabelText("Server URL"), { target: { value: "http://gpu-box:8080/v1" } });
  await fireEvent.input(screen.getByLabelText("Model name"), { target: { value: "qwen2.5-7b" } });
  await fireEvent.input(screen.getByLabelText("API key"), { target: { value: "sk-secret" } });
  await fireEvent.submit(form);
  await waitFor(() =>
    expect(calls).toContainEqual([
      "add_endpoint",
      {
        endpoint: {
          name: "gpu-box",
          base_url: "http://gpu-box:8080/v1",
          model: "qwen2.5-7b",
          api_key: "sk-secret",
          n_ctx: null,
          timeout_s: null,
        },
      },
    ]),
  );
  // Added, then tested at once.
  const check = await screen.findByTestId("endpoint-check");
  await waitFor(() => expect(check.textContent).toBe("connected, 2 models: qwen2.5-7b, nomic-embed"));
  expect(screen.getByTestId("endpoint").textContent).toContain("API key kept");

  await fireEvent.click(screen.getByTestId("endpoint-option"));
  await waitFor(() => expect(calls).toContainEqual(["select_endpoint", { name: "gpu-box" }]));
  await screen.findByText("Answers now use qwen2.5-7b on gpu-box");
  expect((screen.getByTestId("endpoint-option") as HTMLInputElement).checked).toBe(true);

  // A server that does not answer says why, in its own row.
  await fireEvent.input(screen.getByLabelText("Server name"), { target: { value: "down" } });
  await fireEvent.input(screen.getByLabelText("Server URL"), { target: { value: "http://down:8080/v1" } });
  await fireEvent.input(screen.getByLabelText("Model name"), { target: { value: "qwen2.5-7b" } });
  await fireEvent.submit(form);
  await waitFor(() => {
    const rows = screen.getAllByTestId("endpoint");
    const down = rows.find((r) => r.dataset.name === "down")!;
    expect(down.textContent).toContain("Connection refused");
  });
});
