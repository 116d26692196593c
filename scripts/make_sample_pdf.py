"""Writes assets/sample-lighthouses.pdf: a small, original three-page PDF (text in Helvetica,
one page per topic) used by the README's demo and by tests that need a known PDF.

usage: make_sample_pdf.py OUT.pdf
"""

import sys
import textwrap

PAGES = [
    (
        "Lighthouses: a short field guide",
        "A lighthouse is a tower that carries a lamp and a lens to guide ships at night. "
        "The Fresnel lens, invented by Augustin-Jean Fresnel in 1822, bends light from a "
        "single flame into a narrow beam that can be seen more than twenty nautical miles "
        "away. Before the Fresnel lens, keepers burned coal fires or rows of candles, and "
        "the light was lost in every direction at once.",
    ),
    (
        "Keepers and their work",
        "Keepers trimmed the wick every four hours, which is why they were called wickies. "
        "They polished the brass, wound the clockwork that turned the lens, and kept a log "
        "of passing ships and the weather. The last keepers in many countries left in the "
        "1990s, when the lights were automated and watched from a distance.",
    ),
    (
        "Telling lights apart",
        "Each lighthouse flashes in its own pattern, called its characteristic, so a "
        "navigator can tell which light is which. A light that shows two white flashes "
        "every ten seconds is written Fl(2) W 10s on a chart. Daymarks, the painted bands "
        "and stripes on a tower, do the same work in daylight.",
    ),
]


def escape(s):
    return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def page_stream(title, body, number):
    lines = ["BT", "/F1 18 Tf", "72 720 Td", f"({escape(title)}) Tj", "/F1 11 Tf", "0 -30 Td", "14 TL"]
    for line in textwrap.wrap(body, 80):
        lines.append(f"({escape(line)}) Tj T*")
    lines += ["ET", "BT", "/F1 9 Tf", "300 40 Td", f"({number}) Tj", "ET"]
    return "\n".join(lines).encode("latin-1")


def main(out):
    objects = []  # bodies, object n is objects[n-1]
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(b"")  # pages, filled below
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    kids = []
    for i, (title, body) in enumerate(PAGES, start=1):
        stream = page_stream(title, body, i)
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        content = len(objects)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % content
        )
        kids.append(len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids),
        len(kids),
    )
    pdf = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(pdf))
        pdf += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(pdf)
    pdf += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        pdf += b"%010d 00000 n \n" % off
    pdf += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    with open(out, "wb") as f:
        f.write(pdf)


if __name__ == "__main__":
    main(sys.argv[1])
