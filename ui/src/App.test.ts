import { afterEach, beforeEach, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { clearMocks, mockIPC, mockWindows } from "@tauri-apps/api/mocks";
import type { AppStatus } from "./lib/bindings";

// pdf.js needs a real browser; the viewer is exercised by the end-to-end test.
vi.mock("pdfjs-dist", () => ({ GlobalWorkerOptions: {}, getDocument: vi.fn() }));
vi.mock("pdfjs-dist/build/pdf.worker.min.mjs?url", () => ({ default: "" }));

const { default: App } = await import("./App.svelte");
const { library } = await import("./lib/state/library.svelte");
const { chat } = await import("./lib/state/chat.svelte");

function status(missing: AppStatus["missing"]): AppStatus {
  return { data_dir: "/home/u/.local/share/lectern", models_dir: "/m", missing, version: "0.1.0" };
}

beforeEach(() => {
  mockWindows("main");
  library.collections = [];
  library.selected = null;
});
/** The app registers its listeners after loading; let it finish before the mocks go. */
async function settled() {
  await waitFor(() => expect(document.querySelector(".app[data-ready=true]")).toBeTruthy());
}

afterEach(() => {
  cleanup();
  clearMocks();
});

it("on first run says exactly which model files are missing and how to get them", async () => {
  mockIPC(
    (cmd) => {
      if (cmd === "app_status")
        return status([
          { what: "language model", path: "/m/SmolLM2-135M-Instruct.Q4_1.gguf", fix: "run scripts/setup.sh" },
        ]);
      return [];
    },
    { shouldMockEvents: true },
  );
  render(App);
  const notice = await screen.findByTestId("first-run");
  expect(notice.textContent).toContain("/m/SmolLM2-135M-Instruct.Q4_1.gguf");
  expect(notice.textContent).toContain("run scripts/setup.sh");
  expect(screen.getByTestId("welcome")).toBeTruthy();
  await settled();
});

it("Esc stops the answer being written", async () => {
  const stops: unknown[] = [];
  mockIPC(
    (cmd, args) => {
      if (cmd === "app_status") return status([]);
      if (cmd === "stop_answer") stops.push(args);
      return [];
    },
    { shouldMockEvents: true },
  );
  render(App);
  await settled();
  chat.pending = { question: "q", text: "partial", askId: 12, stopRequested: false, sources: [], reading: null };
  await fireEvent.keyDown(window, { key: "Escape" });
  expect(stops).toEqual([{ askId: 12 }]);
  chat.pending = null;
});
