#!/usr/bin/env python3
"""tests/report/check_packs.py DOM.html OUTDIR [PDF] — checks the one-page PCN
packs (pcn_packs.html, Chromium's --dump-dom) against the run's tables: one
section per PCN of pcn_summary.csv in order, headed by its name (areas.csv)
and code; each holds the plain-English findings (patients, need, emergency
admissions with its funnel position, deprivation gradient, proactive care),
its tier pyramid, the funnel with that PCN alone ringed and named, its
deprivation gradient, and the disclosure rules; every count shown is
disclosed (no 1-7, multiples of 5, or *); no text runs outside a chart; no
script or network. With PDF (Chromium's --print-to-pdf on A4): exactly one
page per PCN. Prints one summary line; exits 1 with the first problem."""
import html.parser
import re
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from run_tables import fail, pcn_names, run_pcns  # noqa: E402

dom_path, out = sys.argv[1], sys.argv[2]
pdf = sys.argv[3] if len(sys.argv) > 3 else None
dom = open(dom_path, encoding="utf-8").read()


names = pcn_names()
pcns = run_pcns(out)


class Packs(html.parser.HTMLParser):
    """Per <section class="pack">: its id, text, svgs (class, width, texts,
    circle classes) and the contents of its class="count" spans."""

    def __init__(self):
        super().__init__()
        self.packs, self.pack, self.svg, self.stack = [], None, None, []
        self.count, self.ttext = None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = a.get("class", "")
        if tag == "section" and "pack" in cls.split():
            self.pack = {"id": a.get("id", ""), "text": [], "svgs": [], "counts": []}
            self.packs.append(self.pack)
        if self.pack is None:
            return
        if tag == "svg":
            vb = a.get("viewbox", "0 0 0 0").split()
            self.svg = {"cls": cls, "w": float(vb[2]), "texts": [], "circles": []}
            self.pack["svgs"].append(self.svg)
        elif tag == "circle" and self.svg is not None:
            self.svg["circles"].append(cls)
        elif tag == "text" and self.svg is not None:
            self.ttext = {"x": float(a.get("x", "0")), "anchor": a.get("text-anchor", "start"),
                          "transform": a.get("transform"), "s": ""}
            self.svg["texts"].append(self.ttext)
        if tag in ("span", "tspan") and "count" in cls.split():
            self.count = ""

    def handle_endtag(self, tag):
        if tag == "section" and self.pack is not None:
            self.pack = None
        elif tag == "svg":
            self.svg = None
        elif tag == "text":
            self.ttext = None
        elif tag in ("span", "tspan") and self.count is not None:
            self.pack["counts"].append(self.count)
            self.count = None

    def handle_data(self, data):
        if self.pack is not None:
            self.pack["text"].append(data)
        if self.ttext is not None:
            self.ttext["s"] += data
        if self.count is not None:
            self.count += data


p = Packs()
p.feed(dom)
if [k["id"] for k in p.packs] != ["pcn-" + c for c in pcns]:
    fail("packs %s, expected one per PCN in order %s" % ([k["id"] for k in p.packs][:5], pcns[:5]))
n_counts = 0
for code, k in zip(pcns, p.packs):
    text = re.sub(r"\s+", " ", " ".join(k["text"]))
    nm = names.get(code)
    if not nm or nm.lower() not in text.lower() or code not in text:
        fail("pack %s does not name the PCN %r" % (code, nm))
    for needle in ("Registered patients:", "Need:", "Emergency admissions:", "funnel",
                   "Deprivation gradient:", "Proactive care:", "withheld"):
        if needle not in text:
            fail("pack %s lacks %r" % (code, needle))
    cls = [s["cls"] for s in k["svgs"]]
    if cls != ["pyramid", "funnel", "gradient"]:
        fail("pack %s charts %s, expected pyramid, funnel, gradient" % (code, cls))
    fun = k["svgs"][1]
    if sum("me" in c.split() for c in fun["circles"]) != 1 or len(fun["circles"]) != len(pcns):
        fail("pack %s: funnel has %d dots, %d ringed" % (
            code, len(fun["circles"]), sum("me" in c.split() for c in fun["circles"])))
    labels = [t["s"] for t in fun["texts"] if "(" + code + ")" in t["s"] or t["s"] == code]
    if len(labels) != 1:
        fail("pack %s: the funnel names it %d times" % (code, len(labels)))
    for s in k["svgs"]:
        for t in s["texts"]:
            if t["transform"] or s["cls"] == "pyramid":
                continue
            w = 6.2 * len(t["s"])
            x0 = t["x"] - (w if t["anchor"] == "end" else w / 2 if t["anchor"] == "middle" else 0)
            if x0 < -1 or x0 + w > s["w"] + 1:
                fail("pack %s, %s chart: text %r runs outside the chart" % (code, s["cls"], t["s"]))
    for c in k["counts"]:
        c = c.strip()
        if c in ("*", "", "none"):
            continue
        v = float(c)
        n_counts += 1
        if 1 <= v <= 7 or v % 5:
            fail("pack %s: count %s is not disclosure-controlled" % (code, c))
for bad in ("http://", "https://", "<script"):
    if bad in dom:
        fail("packs are not self-contained: %r" % bad)
if "@page" not in dom or "A4" not in dom or "break-after:page" not in dom:
    fail("no A4 page break style")
pages = None
if pdf:
    raw = open(pdf, "rb").read()
    counts = [int(m) for m in re.findall(rb"/Type\s*/Pages\b[^>]*?/Count (\d+)", raw)] or \
        [int(m) for m in re.findall(rb"/Count (\d+)", raw)]
    pages = max(counts) if counts else 0
    if pages != len(pcns):
        fail("%d PCNs but the A4 print has %d pages" % (len(pcns), pages))
print("packs ok: %d PCNs, one pack each by name with 3 charts, %d counts disclosed%s"
      % (len(pcns), n_counts, ", %d A4 pages" % pages if pages is not None else ""))
