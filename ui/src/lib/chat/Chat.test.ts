import { afterEach, beforeEach, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { clearMocks, mockIPC, mockWindows } from "@tauri-apps/api/mocks";
import Chat from "./Chat.svelte";
import { library } from "../state/library.svelte";
import { chat } from "../state/chat.svelte";
import type { MessageView } from "../bindings";

type Args = Record<string, unknown>;
declare global {
  interface Window {
    __TAURI_INTERNALS__: { runCallback: (id: number, data: unknown) => void };
  }
}

function stream(channel: unknown, messages: unknown[]) {
  const id = (channel as { id: number }).id;
  messages.forEach((message, index) => window.__TAURI_INTERNALS__.runCallback(id, { index, message }));
}

const stored: MessageView = {
  id: 11,
  chat_id: 3,
  question: "How do I install a package?",
  answer: "Use apt-get install [1].",
  stopped: false,
  finish: "end_of_text",
  model: "SmolLM2-135M-Instruct.Q4_1.gguf",
  passages: [
    { n: 1, document_id: 4, document: "debian-faq.pdf", first_page: 8, last_page: 8, text: "apt-get install …", cited: true, ocr: false, section: null },
    { n: 2, document_id: 4, document: "debian-faq.pdf", first_page: 30, last_page: 31, text: "dpkg …", cited: false, ocr: true, section: null },
  ],
  citations_matched: false,
  unsupported: [],
  quoted: false,
  feedback: null,
  first_token_ms: 900,
  tokens_per_s: 30,
  created_at: 0,
};

beforeEach(() => {
  mockWindows("main");
  library.collections = [{ id: 1, name: "faq", n_documents: 1, n_chunks: 233, ocr_language: "eng" }];
  library.selected = 1;
  chat.startNew();
  chat.pending = null;
});

afterEach(() => {
  cleanup();
  clearMocks();
});

it("streams an answer, then shows each citation with its document and page", async () => {
  const invoked: Array<[string, Args]> = [];
  mockIPC((cmd, args) => {
    invoked.push([cmd, args as Args]);
    if (cmd === "ask") {
      stream((args as Args).onEvent, [
        { kind: "started", ask_id: 5 },
        { kind: "piece", text: "Use apt-get " },
        { kind: "piece", text: "install [1]." },
      ]);
      return stored;
    }
    if (cmd === "list_documents" || cmd === "list_chats") return [];
    return null;
  });
  render(Chat);
  const box = screen.getByTestId("question") as HTMLTextAreaElement;
  await fireEvent.input(box, { target: { value: "How do I install a package?" } });
  await fireEvent.keyDown(box, { key: "Enter" });

  const answer = await screen.findByTestId("answer");
  expect(answer.textContent).toContain("Use apt-get install");
  const citation = screen.getByTestId("citation");
  expect(citation.textContent).toContain("debian-faq.pdf, p. 8");
  const ask = invoked.find(([cmd]) => cmd === "ask")!;
  expect(ask[1]).toMatchObject({ collectionId: 1, chatId: null, question: "How do I install a package?" });
  expect(chat.chatId).toBe(3);
});

it("an answer of markers only is replaced by its passage's quote, and says so", async () => {
  const quote = "Use apt-get install followed by the package name [1]";
  mockIPC((cmd, args) => {
    if (cmd === "ask") {
      stream((args as Args).onEvent, [
        { kind: "started", ask_id: 6 },
        { kind: "piece", text: "[1]" },
      ]);
      return { ...stored, answer: quote, quoted: true };
    }
    if (cmd === "list_documents" || cmd === "list_chats") return [];
    return null;
  });
  render(Chat);
  const box = screen.getByTestId("question") as HTMLTextAreaElement;
  await fireEvent.input(box, { target: { value: "How do I install a package?" } });
  await fireEvent.keyDown(box, { key: "Enter" });

  const answer = await screen.findByTestId("answer");
  expect(answer.textContent).toContain("Use apt-get install followed by the package name");
  expect(screen.getByTestId("answer-quoted").textContent).toContain("quoted from it");
  expect(screen.queryByTestId("answer-without-words")).toBeNull();
  expect(screen.getByTestId("citation").textContent).toContain("debian-faq.pdf, p. 8");
});

it("Shift+Enter does not send; the Stop button stops the answer being written", async () => {
  let finish: (m: MessageView) => void = () => {};
  const stops: number[] = [];
  mockIPC((cmd, args) => {
    if (cmd === "ask") {
      stream((args as Args).onEvent, [
        { kind: "started", ask_id: 9 },
        { kind: "piece", text: "Partial" },
      ]);
      return new Promise<MessageView>((resolve) => (finish = resolve));
    }
    if (cmd === "stop_answer") {
      stops.push((args as Args).askId as number);
      finish({ ...stored, answer: "Partial", stopped: true, finish: "cancelled", passages: [] });
      return true;
    }
    return [];
  });
  render(Chat);
  const box = screen.getByTestId("question") as HTMLTextAreaElement;
  await fireEvent.input(box, { target: { value: "Tell me everything" } });
  await fireEvent.keyDown(box, { key: "Enter", shiftKey: true });
  expect(screen.queryByTestId("streaming-answer")).toBeNull();

  await fireEvent.keyDown(box, { key: "Enter" });
  const streaming = await screen.findByTestId("streaming-answer");
  await waitFor(() => expect(streaming.textContent).toContain("Partial"));
  await fireEvent.click(screen.getByTestId("stop"));
  expect(stops).toEqual([9]);
  await screen.findByTestId("stopped");
});

it("lists the sources and how far the model has read before the first word", async () => {
  let finish: (m: MessageView) => void = () => {};
  mockIPC((cmd, args) => {
    if (cmd === "ask") {
      stream((args as Args).onEvent, [
        { kind: "started", ask_id: 4 },
        { kind: "sources", passages: stored.passages },
        { kind: "reading", done: 100, total: 400 },
      ]);
      return new Promise<MessageView>((resolve) => (finish = resolve));
    }
    return [];
  });
  render(Chat);
  const box = screen.getByTestId("question") as HTMLTextAreaElement;
  await fireEvent.input(box, { target: { value: "How do I install a package?" } });
  await fireEvent.keyDown(box, { key: "Enter" });

  const sources = await screen.findByTestId("pending-sources");
  expect(sources.textContent).toContain("[1] debian-faq.pdf, p. 8");
  expect(sources.textContent).toContain("[2] debian-faq.pdf, pp. 30–31, read by OCR");
  await waitFor(() => expect(screen.getByTestId("reading").textContent).toContain("Reading 2 passages… 25%"));
  finish(stored);
  await screen.findByTestId("answer");
  expect(screen.queryByTestId("reading")).toBeNull();
});

it("pre-reads the draft once typing pauses, never while an answer is written", async () => {
  const prereads: Args[] = [];
  mockIPC((cmd, args) => {
    if (cmd === "preread") {
      prereads.push(args as Args);
      return true;
    }
    if (cmd === "ask") return new Promise<MessageView>(() => {});
    return [];
  });
  render(Chat);
  const box = screen.getByTestId("question") as HTMLTextAreaElement;
  await fireEvent.input(box, { target: { value: "How do" } });
  await fireEvent.input(box, { target: { value: "How do I install a package" } });
  await waitFor(() => expect(prereads.length).toBe(1), { timeout: 3000 });
  expect(prereads[0]).toMatchObject({ collectionId: 1, chatId: null, draft: "How do I install a package" });

  await fireEvent.input(box, { target: { value: "How do I install a package?" } });
  await fireEvent.keyDown(box, { key: "Enter" });
  await screen.findByTestId("streaming-answer");
  await fireEvent.input(box, { target: { value: "And how do I remove it?" } });
  await new Promise((resolve) => setTimeout(resolve, 1200));
  expect(prereads.length).toBe(1);
});

it("tells a new user to add documents before asking", async () => {
  library.collections = [{ id: 1, name: "faq", n_documents: 0, n_chunks: 0, ocr_language: "eng" }];
  mockIPC(() => []);
  render(Chat);
  expect(screen.getByText("Add documents to ask about them.")).toBeTruthy();
  expect((screen.getByTestId("question") as HTMLTextAreaElement).disabled).toBe(true);
});
