#!/usr/bin/env python3
"""tests/report/check_report.py DOM.html OUTDIR [MAX_PYRAMIDS] — checks a
rendered report (Chromium's --dump-dom) against its run's tables: the plain-
English findings come first, every PCN of pcn_summary.csv appears by name
with its code (names from data/reference/areas.csv), the "how to read this"
paragraphs are there, every chart has a title and labelled axes, no tick
label is in e-notation, no text starts or ends outside its SVG, and an
England-scale run shows an index instead of one pyramid per PCN. Prints one
summary line; exits 1 with the first problem."""
import html.parser
import re
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from run_tables import fail, pcn_names, run_pcns  # noqa: E402

dom_path, out = sys.argv[1], sys.argv[2]
dom = open(dom_path, encoding="utf-8").read()


names = pcn_names()
pcns = run_pcns(out)


class Svgs(html.parser.HTMLParser):
    """Collects each <svg>'s viewBox width, its <text> elements (x, anchor,
    transform, text) and the classes of its texts."""

    def __init__(self):
        super().__init__()
        self.svgs, self.cur, self.text = [], None, None
        self.body_text = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "svg":
            vb = a.get("viewbox", "0 0 0 0").split()
            self.cur = {"cls": a.get("class", ""), "w": float(vb[2]), "texts": []}
            self.svgs.append(self.cur)
        elif tag == "text" and self.cur is not None:
            self.text = {"x": float(a.get("x", "0")), "anchor": a.get("text-anchor", "start"),
                         "transform": a.get("transform"), "cls": a.get("class", ""), "s": ""}
            self.cur["texts"].append(self.text)

    def handle_endtag(self, tag):
        if tag == "svg":
            self.cur = None
        elif tag == "text":
            self.text = None

    def handle_data(self, data):
        if self.text is not None:
            self.text["s"] += data
        self.body_text.append(data)


p = Svgs()
p.feed(dom)
text = " ".join(p.body_text)
text = re.sub(r"\s+", " ", text)

found = text.find("What this run found")
first_table = dom.find("<table")
if found < 0 or dom.find("What this run found") > first_table:
    fail("the findings do not come before the first table")
for needle in ("Highest need:", "Deprivation gradient:", "registered patients"):
    if needle not in text:
        fail("findings lack %r" % needle)
if not ("Outliers:" in text or "No outliers:" in text):
    fail("findings say nothing of outliers")
howtos = text.count("How to read this.")
if howtos < 5:
    fail("only %d 'how to read this' paragraphs" % howtos)

missing = []
for code in pcns:
    nm = names.get(code)
    if not nm:
        fail("PCN %s has no name in areas.csv" % code)
    # the report tidies capitals ("WREKIN PCN" -> "Wrekin PCN"): compare case-blind
    if ("(%s)" % code) not in text or nm.lower() not in text.lower():
        missing.append(code)
if missing:
    fail("PCNs not shown by name and code: %s" % missing[:10])

charts = [s for s in p.svgs if s["cls"] in ("funnel", "gradient", "calibration")]
if len(charts) < 3:
    fail("%d charts (funnel, gradient, calibration expected)" % len(charts))
n_text = 0
for s in p.svgs:
    for t in s["texts"]:
        n_text += 1
        if re.search(r"\de[+-]\d", t["s"]):
            fail("%s chart: tick in e-notation %r" % (s["cls"], t["s"]))
        if t["transform"]:
            continue
        w = 6.2 * len(t["s"])  # 11-12 px sans-serif: ~6 px a character
        x0 = t["x"] - (w if t["anchor"] == "end" else w / 2 if t["anchor"] == "middle" else 0)
        x1 = x0 + w
        if x0 < -1 or (x1 > s["w"] + 1 and s["cls"] != "pyramid"):
            fail("%s chart: text %r runs outside the chart (%.0f..%.0f of %.0f)"
                 % (s["cls"], t["s"], x0, x1, s["w"]))
for s in charts:
    cls = {t["cls"] for t in s["texts"]}
    if "ctitle" not in cls or sum(t["cls"] == "axis" for t in s["texts"]) != 2:
        fail("%s chart lacks its title or an axis label" % s["cls"])
pyramids = sum(1 for s in p.svgs if s["cls"] == "pyramid")
max_pyr = int(sys.argv[3]) if len(sys.argv) > 3 else 24
if len(pcns) > max_pyr and pyramids != 1:
    fail("%d PCNs but %d pyramids (the index should replace them)" % (len(pcns), pyramids))
if len(pcns) <= max_pyr and pyramids != len(pcns) + 1:
    fail("%d PCNs but %d pyramids" % (len(pcns), pyramids))
for bad in ("http://", "https://", "<script"):
    if bad in dom:
        fail("report is not self-contained: %r" % bad)
if "@page" not in dom or "A4" not in dom:
    fail("no A4 print style")
print("report ok: %d PCNs by name, %d charts, %d svg texts inside their charts, %d pyramids, "
      "%d how-to paragraphs" % (len(pcns), len(charts), n_text, pyramids, howtos))
