// Copies pdf.js's standard fonts and character maps into public/, so the viewer renders
// PDFs that rely on them without reaching the network.
import { cpSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ui = join(dirname(fileURLToPath(import.meta.url)), "..");
const pdfjs = join(ui, "node_modules", "pdfjs-dist");
const target = join(ui, "public", "pdfjs");
mkdirSync(target, { recursive: true });
for (const dir of ["standard_fonts", "cmaps", "wasm", "iccs"]) {
  cpSync(join(pdfjs, dir), join(target, dir), { recursive: true });
}
