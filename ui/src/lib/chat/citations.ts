// Answer text split into prose and [n] citation markers, and how a passage's pages read.
import type { PassageView } from "../bindings";

export type Segment = { kind: "text"; text: string } | { kind: "cite"; n: number };

/** Splits `[1]`, `[1, 3]` and `[1][2]` into one citation segment per number. */
export function segments(answer: string): Segment[] {
  const out: Segment[] = [];
  const pattern = /\[(\d+(?:\s*,\s*\d+)*)\]/g;
  let last = 0;
  for (const match of answer.matchAll(pattern)) {
    const at = match.index ?? 0;
    if (at > last) out.push({ kind: "text", text: answer.slice(last, at) });
    for (const n of match[1].split(",")) out.push({ kind: "cite", n: Number(n.trim()) });
    last = at + match[0].length;
  }
  if (last < answer.length) out.push({ kind: "text", text: answer.slice(last) });
  return out;
}

/** Whether an answer says anything beyond its citation markers: a small model often answers
 * by writing out passage headings, which the backend reduces to "[1] [2]". */
export function hasWords(answer: string): boolean {
  return segments(answer).some((s) => s.kind === "text" && /\p{L}{2,}/u.test(s.text));
}

/** "p. 8", "pp. 8–9", or "" for documents without pages. */
export function pages(passage: Pick<PassageView, "first_page" | "last_page">): string {
  const { first_page: first, last_page: last } = passage;
  if (first == null) return "";
  if (last == null || last === first) return `p. ${first}`;
  return `pp. ${first}–${last}`;
}

/** "debian-faq.pdf, p. 8" */
export function sourceLabel(
  passage: Pick<PassageView, "document" | "first_page" | "last_page"> & {
    ocr?: boolean;
    section?: string | null;
  },
): string {
  // A Word, EPUB or HTML document is cited by the section's headings, not by a page.
  const where = passage.section ? `§ ${passage.section}` : pages(passage);
  const label = where ? `${passage.document}, ${where}` : passage.document;
  // A scanned page's words may be misread: the reader should know before trusting a quote.
  return passage.ocr ? `${label}, read by OCR` : label;
}
