"""Checks a report of mirt_report() as a reader would meet it.

python -m pg_irt_tools.report REPORT.html [--png SCREENSHOT.png] [--items ID,ID,...] [--says TEXT]...

The document: one page with no scripts and nothing fetched from the network; every section of a
run's report; one item-curve figure (with one SVG holding its curves) per item in --items,
and none for any other; no NaN or infinity anywhere in its SVG; every --says text present.
The screenshot (Chromium's): a PNG of the expected size that is not one flat colour.
Exit 1 with the reasons when anything is off.
"""

import argparse
import html.parser
import re
import struct
import sys
import zlib

SECTIONS = ["summary", "linking", "test-curves", "item-curves", "parameters",
            "anchors", "dif", "abilities", "convergence"]


class Page(html.parser.HTMLParser):
    """Sections, item figures with what they hold, and anything that would reach the network."""

    def __init__(self):
        super().__init__()
        self.sections = []
        self.figures = {}          # item id -> [svgs, curves]
        self.current = None        # the item of the figure being read
        self.external = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section" and "id" in a:
            self.sections.append(a["id"])
        if tag == "script":
            self.external.append("a <script>")
        for key in ("src", "href"):
            if re.match(r"(https?:)?//", a.get(key) or ""):
                self.external.append(f"{tag} {key}={a[key]}")
        if tag == "figure" and "icc" in (a.get("class") or "").split():
            self.current = a.get("data-item")
            self.figures.setdefault(self.current, [0, 0])
        elif self.current is not None and tag == "svg":
            self.figures[self.current][0] += 1
        elif self.current is not None and tag in ("polyline", "path"):
            self.figures[self.current][1] += 1

    def handle_endtag(self, tag):
        if tag == "figure":
            self.current = None


def png_problems(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return [f"{path} is not a PNG"]
    width, height = struct.unpack(">II", data[16:24])
    pixels, pos = b"", 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IDAT":
            pixels += data[pos + 8:pos + 8 + length]
        pos += 12 + length
    raw = zlib.decompress(pixels)
    problems = []
    if width < 800 or height < 600:
        problems.append(f"screenshot is {width}x{height}")
    # A blank page filters to rows of zeros; drawn curves, text and tables do not.
    if len(set(raw)) < 32:
        problems.append(f"screenshot looks blank ({len(set(raw))} distinct byte values)")
    return problems


def main():
    p = argparse.ArgumentParser()
    p.add_argument("report")
    p.add_argument("--png")
    p.add_argument("--items", help="comma-separated ids of the items that must have curves")
    p.add_argument("--says", action="append", default=[])
    p.add_argument("--sections", default=",".join(SECTIONS))
    args = p.parse_args()

    with open(args.report, encoding="utf-8") as f:
        text = f.read()
    page = Page()
    page.feed(text)
    problems = [f"reaches outside the page: {e}" for e in page.external]
    expected = [s for s in args.sections.split(",") if s]
    problems += [f"section {s} missing" for s in expected if s not in page.sections]
    if len(set(page.sections)) != len(page.sections):
        problems.append(f"a section id repeats: {page.sections}")
    svg = " ".join(re.findall(r"<svg.*?</svg>", text, re.S))
    for bad in ("NaN", "inf"):
        if re.search(rf"[\s\"=,(-]{bad}\b", svg, re.I):
            problems.append(f"{bad} in the SVG")
    if args.items is not None:
        wanted = {i for i in args.items.split(",") if i}
        drawn = set(page.figures)
        if drawn != wanted:
            problems.append(f"item curves for {sorted(drawn - wanted)} not asked for, "
                            f"missing for {sorted(wanted - drawn)}")
        for item, (svgs, curves) in sorted(page.figures.items()):
            if svgs != 1 or curves < 1:
                problems.append(f"item {item}: {svgs} SVGs, {curves} curves")
    for words in args.says:
        if words not in text:
            problems.append(f"does not say: {words}")
    if args.png:
        problems += png_problems(args.png)

    for problem in problems:
        print(f"report {args.report}: {problem}")
    if not problems:
        print(f"report {args.report}: {len(page.sections)} sections, "
              f"{len(page.figures)} item figures, {len(text)} bytes")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
