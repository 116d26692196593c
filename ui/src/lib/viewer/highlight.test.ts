import { expect, it } from "vitest";
import { passageItems } from "./highlight";

const page = [
  { str: "1.7 How does one pronounce Debian" },
  { str: "and what does this word mean?" },
  { str: "The project name is pro-" },
  { str: "nounced Deb’-ee-en, with a short e in Deb’, and em-" },
  { str: "phasis on the ﬁrst syllable." },
  { str: "1.8 Is there another name?" },
];

it("finds a passage across line breaks, end-of-line hyphens and ligatures", () => {
  const passage =
    "The project name is pronounced Deb’-ee-en, with a short e in Deb’, and emphasis on the first syllable.";
  expect(passageItems(page, passage)).toEqual([2, 3, 4]);
});

it("finds the part on this page of a passage that runs on to the next", () => {
  const passage = "Is there another name? Yes: it continues on a page this one does not show at all.";
  expect(passageItems(page, passage)).toEqual([5]);
});

it("finds the part on this page of a passage begun on the previous one", () => {
  const passage =
    "Some words from the page before this one, long enough to matter. How does one pronounce Debian and what does this word mean?";
  expect(passageItems(page, passage)).toEqual([0, 1]);
});

it("marks nothing when the passage is not on the page", () => {
  expect(passageItems(page, "Something else entirely, written about another subject.")).toEqual([]);
  expect(passageItems([], "anything")).toEqual([]);
});
