/**
 * Finding a cited passage among a PDF page's text items (pdf.js `getTextContent`), so the
 * viewer can mark it on the page. Stored passages and pdf.js's items differ in everything but
 * the letters: line breaks, hyphens at line ends, ligatures (the passage is NFKC-normalised,
 * the page may hold "ﬁ"), spacing and case. Both are squashed to letters and digits, and the
 * passage's opening and closing words are looked for; a passage running over onto the next
 * page (or begun on the previous one) is found by whichever end is on this page.
 */

/** Fewer squashed characters than this in common could be chance. */
const MIN_MATCH = 16;

function squashChars(text: string): string[] {
  const out: string[] = [];
  for (const ch of text.normalize("NFKC").toLowerCase()) {
    if (/[\p{L}\p{N}]/u.test(ch)) out.push(ch);
  }
  return out;
}

/** The longest `piece(m)` found in `page` (pieces grow with m, so a shorter one is found too). */
function longest(page: string, max: number, piece: (m: number) => string): number {
  let [lo, hi] = [0, max];
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (page.includes(piece(mid))) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * The indices of the items holding the passage's text on this page, in order; empty when
 * the page holds neither its beginning nor its end.
 */
export function passageItems(items: ReadonlyArray<{ str: string }>, passage: string): number[] {
  const owner: number[] = [];
  let page = "";
  items.forEach((item, i) => {
    for (const ch of squashChars(item.str)) {
      page += ch;
      owner.push(i);
    }
  });
  const wanted = squashChars(passage).join("");
  if (page.length === 0 || wanted.length === 0) return [];
  // The longest opening and the longest ending of the passage found on the page: the whole
  // passage, or the part of one that runs over a page break or has a garbled word inside.
  const headLength = longest(page, wanted.length, (m) => wanted.slice(0, m));
  const tailLength = longest(page, wanted.length, (m) => wanted.slice(wanted.length - m));
  const enough = Math.min(MIN_MATCH, wanted.length);
  const head = headLength >= enough ? page.indexOf(wanted.slice(0, headLength)) : -1;
  const tail = tailLength >= enough ? page.lastIndexOf(wanted.slice(wanted.length - tailLength)) : -1;
  let from: number;
  let to: number;
  if (head >= 0 && tail >= head) {
    [from, to] = [head, Math.max(head + headLength, tail + tailLength)];
  } else if (head >= 0) {
    [from, to] = [head, head + headLength];
  } else if (tail >= 0) {
    [from, to] = [tail, tail + tailLength];
  } else {
    return [];
  }
  const found = new Set<number>();
  for (let k = from; k < to; k++) found.add(owner[k]);
  return [...found].sort((a, b) => a - b);
}
