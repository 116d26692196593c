import { expect, it } from "vitest";
import { routeDrop } from "./drop";

it("sends GGUF files to the models and everything else to the collection", () => {
  expect(routeDrop(["/a/faq.pdf", "/m/Model.Q4.GGUF", "/a/folder", "/a/notes.md"])).toEqual({
    documents: ["/a/faq.pdf", "/a/folder", "/a/notes.md"],
    models: ["/m/Model.Q4.GGUF"],
  });
});
