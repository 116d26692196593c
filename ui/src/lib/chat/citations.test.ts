import { describe, expect, it } from "vitest";
import { hasWords, pages, segments, sourceLabel } from "./citations";

describe("citations", () => {
  it("splits single, grouped and adjacent markers", () => {
    expect(segments("A [1], B [2, 3][4].")).toEqual([
      { kind: "text", text: "A " },
      { kind: "cite", n: 1 },
      { kind: "text", text: ", B " },
      { kind: "cite", n: 2 },
      { kind: "cite", n: 3 },
      { kind: "cite", n: 4 },
      { kind: "text", text: "." },
    ]);
  });

  it("leaves text without markers alone", () => {
    expect(segments("no [citation] here")).toEqual([{ kind: "text", text: "no [citation] here" }]);
    expect(segments("")).toEqual([]);
  });

  it("tells an answer in words from one of markers alone", () => {
    expect(hasWords("[1]\n\n[2]\n\n[3]")).toBe(false);
    expect(hasWords("")).toBe(false);
    expect(hasWords(" [1, 2]. ")).toBe(false);
    expect(hasWords("It is pronounced Deb-ee-an [1].")).toBe(true);
    expect(hasWords("Oui [2]")).toBe(true);
  });

  it("names pages the way a reader expects", () => {
    expect(pages({ first_page: 8, last_page: 8 })).toBe("p. 8");
    expect(pages({ first_page: 8, last_page: 9 })).toBe("pp. 8–9");
    expect(pages({ first_page: null, last_page: null })).toBe("");
    expect(sourceLabel({ document: "faq.pdf", first_page: 3, last_page: null })).toBe("faq.pdf, p. 3");
    expect(sourceLabel({ document: "notes.md", first_page: null, last_page: null })).toBe("notes.md");
    expect(
      sourceLabel({ document: "faq.html", first_page: null, last_page: null, section: "Basics › What is Debian?" }),
    ).toBe("faq.html, § Basics › What is Debian?");
    expect(sourceLabel({ document: "scan.pdf", first_page: 1, last_page: 1, ocr: true })).toBe(
      "scan.pdf, p. 1, read by OCR",
    );
  });
});
