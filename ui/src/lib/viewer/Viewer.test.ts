import { afterEach, beforeEach, expect, it, vi } from "vitest";
import { cleanup, render, screen, waitFor } from "@testing-library/svelte";
import { clearMocks, mockIPC, mockWindows } from "@tauri-apps/api/mocks";
import Viewer from "./Viewer.svelte";
import { viewer } from "../state/viewer.svelte";

// pdf.js needs a canvas-capable DOM that jsdom lacks; a section citation never opens it.
vi.mock("pdfjs-dist", () => ({
  GlobalWorkerOptions: {},
  getDocument: () => ({ promise: new Promise(() => {}) }),
}));
vi.mock("pdfjs-dist/build/pdf.worker.min.mjs?url", () => ({ default: "" }));

beforeEach(() => mockWindows("main"));
afterEach(() => {
  cleanup();
  clearMocks();
  viewer.close();
});

it("shows a Word, EPUB or HTML citation's section with the passage marked", async () => {
  const asked: unknown[] = [];
  mockIPC((cmd, args) => {
    if (cmd === "section_text") {
      asked.push(args);
      return "8.1.2. APT\nAPT is the Advanced Package Tool.\nTo upgrade all packages, run apt upgrade.\nMore below.";
    }
    return null;
  });
  render(Viewer);
  viewer.show({
    n: 2,
    document_id: 7,
    document: "pkgtools.en.html",
    first_page: null,
    last_page: null,
    text: "To upgrade all packages, run apt upgrade.",
    cited: true,
    ocr: false,
    section: "Chapter 8 › 8.1.2. APT",
  });
  const mark = await waitFor(() => screen.getByTestId("viewer-highlight"));
  expect(mark.textContent).toBe("To upgrade all packages, run apt upgrade.");
  expect(screen.getByTestId("viewer-section").textContent).toContain("APT is the Advanced Package Tool.");
  expect(screen.getByText("[2] pkgtools.en.html, § Chapter 8 › 8.1.2. APT")).toBeTruthy();
  expect(asked).toEqual([{ documentId: 7, section: "Chapter 8 › 8.1.2. APT" }]);
});
