import { afterEach, beforeEach, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { clearMocks, mockIPC, mockWindows } from "@tauri-apps/api/mocks";
import Sidebar from "./Sidebar.svelte";
import { library } from "../state/library.svelte";
import type { CollectionView } from "../bindings";

type Args = Record<string, unknown>;

let collections: CollectionView[] = [];
const invoked: Array<[string, Args]> = [];

beforeEach(() => {
  mockWindows("main");
  collections = [
    { id: 1, name: "faq", n_documents: 1, n_chunks: 233, ocr_language: "eng" },
    { id: 2, name: "taxes", n_documents: 2, n_chunks: 40, ocr_language: "eng" },
  ];
  invoked.length = 0;
  mockIPC((cmd, args) => {
    invoked.push([cmd, args as Args]);
    if (cmd === "list_collections") return collections;
    if (cmd === "rename_collection") {
      const { collectionId, newName } = args as { collectionId: number; newName: string };
      collections = collections.map((c) => (c.id === collectionId ? { ...c, name: newName.trim() } : c));
      return null;
    }
    if (cmd === "delete_collection") {
      collections = collections.filter((c) => c.id !== (args as { collectionId: number }).collectionId);
      return null;
    }
    return [];
  });
  library.collections = collections;
  library.selected = 1;
});

afterEach(() => {
  cleanup();
  clearMocks();
});

it("renames the open collection by id, and it stays open", async () => {
  render(Sidebar, { onopen: () => {} });
  await fireEvent.click(screen.getByLabelText("Rename faq"));
  const input = screen.getByLabelText("New name") as HTMLInputElement;
  await fireEvent.input(input, { target: { value: "Debian FAQ " } });
  await fireEvent.submit(input.closest("form")!);
  await waitFor(() => expect(library.current?.name).toBe("Debian FAQ"));
  expect(invoked.find(([cmd]) => cmd === "rename_collection")?.[1]).toEqual({ collectionId: 1, newName: "Debian FAQ " });
  expect(library.selected).toBe(1);
});

it("deletes a collection by id after asking, and opens another", async () => {
  render(Sidebar, { onopen: () => {} });
  await fireEvent.click(screen.getByLabelText("Delete faq"));
  expect(screen.getByText("Delete “faq”?")).toBeTruthy();
  await fireEvent.click(screen.getByTestId("confirm-delete"));
  await waitFor(() => expect(library.selected).toBe(2));
  expect(invoked.find(([cmd]) => cmd === "delete_collection")?.[1]).toEqual({ collectionId: 1 });
});
