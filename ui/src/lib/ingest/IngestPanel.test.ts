import { afterEach, beforeEach, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen } from "@testing-library/svelte";
import { clearMocks, mockIPC, mockWindows } from "@tauri-apps/api/mocks";
import IngestPanel from "./IngestPanel.svelte";
import { jobs } from "../state/jobs.svelte";

beforeEach(() => {
  mockWindows("main");
  jobs.all = [];
});
afterEach(() => {
  cleanup();
  clearMocks();
});

it("shows each file's reason, offers a password for an encrypted PDF and retries with it", async () => {
  const started: unknown[] = [];
  mockIPC((cmd, args) => {
    if (cmd === "start_ingest") {
      started.push(args);
      return 8;
    }
    return null;
  });
  const now = Date.now();
  jobs.apply({ job_id: 3, collection_id: 5, collection: "Taxes", update: { kind: "planned", files: ["/d/tax.pdf", "/d/notes.md"], file_bytes: [10, 10], total_bytes: 20 } }, now);
  jobs.apply({
    job_id: 3,
    collection_id: 5,
    collection: "Taxes",
    update: { kind: "file_done", file_idx: 0, status: "failed", error: { code: "password_required", message: "/d/tax.pdf: encrypted, a password is needed" } },
  }, now);
  render(IngestPanel);
  expect(screen.getByText("/d/tax.pdf: encrypted, a password is needed")).toBeTruthy();
  const password = screen.getByLabelText("Password for tax.pdf") as HTMLInputElement;
  await fireEvent.input(password, { target: { value: "s3cret" } });
  await fireEvent.click(screen.getByText("Open"));
  expect(started).toEqual([{ collectionId: 5, paths: ["/d/tax.pdf"], password: "s3cret" }]);
});

it("cancels a running job", async () => {
  const cancelled: unknown[] = [];
  mockIPC((cmd, args) => {
    if (cmd === "cancel_job") cancelled.push(args);
    return true;
  });
  jobs.apply({ job_id: 4, collection_id: 6, collection: "Big", update: { kind: "planned", files: ["/d/a.pdf"], file_bytes: [100], total_bytes: 100 } });
  render(IngestPanel);
  await fireEvent.click(screen.getByTestId("cancel-ingest"));
  expect(cancelled).toEqual([{ jobId: 4 }]);
  expect(screen.getByTestId("cancel-ingest").textContent).toContain("Stopping");
});
