import { afterEach, beforeEach, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { clearMocks, mockIPC, mockWindows } from "@tauri-apps/api/mocks";
import type { AnswerEvalView } from "../bindings";
import AnswerEval from "./AnswerEval.svelte";

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

const report: AnswerEvalView = {
  model: "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
  k: 3,
  n_questions: 2,
  n_with_page: 2,
  gold_page_cited: 0.5,
  gold_page_in_sources: 1,
  recall: 0.456,
  f1: 0.3,
  n_echoes: 0,
  n_without_words: 1,
  n_quoted: 2,
  recall_written: 0.4,
  n_refused: 0,
  n_off_topic: 10,
  off_topic_refused: 0.9,
  first_token_p50_ms: 5500,
  first_token_p90_ms: 7900,
  tokens_per_s_p50: 31.2,
  cancelled: false,
};

beforeEach(() => mockWindows("main"));
afterEach(() => {
  cleanup();
  clearMocks();
});

it("runs a labelled set through the collection and shows the evaluation's figures", async () => {
  const invoked: Args[] = [];
  let finish: (r: AnswerEvalView) => void = () => {};
  mockIPC((cmd, args) => {
    if (cmd === "evaluate_answers") {
      invoked.push(args as Args);
      stream((args as Args).onEvent, [
        { kind: "started", job_id: 7, n_questions: 2, n_off_topic: 10 },
        { kind: "question", done: 1, of: 2, question: "How is Debian pronounced?", gold_page_cited: true },
      ]);
      return new Promise<AnswerEvalView>((resolve) => (finish = resolve));
    }
    return null;
  });
  render(AnswerEval, { collection: { id: 1, name: "faq", n_documents: 1, n_chunks: 233, ocr_language: "eng" } });
  await fireEvent.input(screen.getByTestId("eval-path"), { target: { value: " /data/debian_faq.jsonl " } });
  await fireEvent.input(screen.getByTestId("eval-count"), { target: { value: "2" } });
  await fireEvent.click(screen.getByTestId("eval-run"));

  await waitFor(() =>
    expect(screen.getByTestId("eval-progress").textContent).toContain("1 of 12 answered; last: “How is Debian pronounced?”"),
  );
  expect(invoked[0]).toMatchObject({ collectionId: 1, qaPath: "/data/debian_faq.jsonl", n: 2 });
  finish(report);
  const table = await screen.findByTestId("eval-result");
  expect(table.textContent).toContain("Gold page cited50 %");
  expect(table.textContent).toContain("Off-topic questions refused90 %");
  expect(table.textContent).toContain("First word after5.5 s");
  expect(screen.queryByTestId("eval-progress")).toBeNull();
});

it("cancels a running evaluation through its job id, and refuses a bad count", async () => {
  const cancelled: number[] = [];
  mockIPC((cmd, args) => {
    if (cmd === "evaluate_answers") {
      stream((args as Args).onEvent, [{ kind: "started", job_id: 9, n_questions: 20, n_off_topic: 10 }]);
      return new Promise<AnswerEvalView>(() => {});
    }
    if (cmd === "cancel_job") {
      cancelled.push((args as Args).jobId as number);
      return true;
    }
    return null;
  });
  render(AnswerEval, { collection: { id: 1, name: "faq", n_documents: 1, n_chunks: 233, ocr_language: "eng" } });
  await fireEvent.input(screen.getByTestId("eval-path"), { target: { value: "/data/qa.jsonl" } });
  await fireEvent.input(screen.getByTestId("eval-count"), { target: { value: "two" } });
  await fireEvent.click(screen.getByTestId("eval-run"));
  expect(screen.getByRole("alert").textContent).toContain("whole number");

  await fireEvent.input(screen.getByTestId("eval-count"), { target: { value: "" } });
  await fireEvent.click(screen.getByTestId("eval-run"));
  await fireEvent.click(await screen.findByTestId("eval-cancel"));
  expect(cancelled).toEqual([9]);
});
