#!/usr/bin/env python3
"""tests/outputs/check_workbook.py OUTDIR — checks a `strata run` output
directory's Excel and Power BI files against its CSV tables, with openpyxl
(Debian python3-openpyxl): sheet names, header rows, typed cells (numbers are
numbers, never "*"), every value equal to the CSV's, suppressed cells empty
and named in suppressed_cells, area names beside codes, the long table equal
to aggregates_long.csv, patient ids as exact text in the owner-only workbook.
Prints one summary line; exits 1 with the first mismatch."""
import csv
import os
import sys

import openpyxl

out = sys.argv[1]
TABLES = ["pcn_summary", "practice_summary", "icb_summary", "inequality", "sii", "fairness"]


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def read_csv(name):
    with open(os.path.join(out, name), newline="") as f:
        return list(csv.reader(f))


def same_number(cell, text, where):
    if not isinstance(cell, (int, float)) or isinstance(cell, bool):
        fail("%s: %r is not a number (CSV %r)" % (where, cell, text))
    want = float(text)
    if abs(cell - want) > 1e-12 * max(1.0, abs(want)):
        fail("%s: %r != CSV %r" % (where, cell, text))


wb = openpyxl.load_workbook(os.path.join(out, "outputs.xlsx"), read_only=True)
if wb.sheetnames != ["README"] + TABLES + ["long_table"]:
    fail("sheets %s" % wb.sheetnames)

n_cells = n_sup = 0
names = {}
for t in TABLES:
    rows = read_csv(t + ".csv")
    sheet = [list(r) for r in wb[t].iter_rows(values_only=True)]
    head, body = rows[0], rows[1:]
    n_keys = 2 if t == "fairness" else 1
    want_head = head[:n_keys] + ([] if t == "fairness" else ["group_name"]) + head[n_keys:] + \
        ["suppressed_cells"]
    if sheet[0] != want_head:
        fail("%s header %s != %s" % (t, sheet[0], want_head))
    if len(sheet) - 1 != len(body):
        fail("%s: %d rows, CSV %d" % (t, len(sheet) - 1, len(body)))
    for i, (r, s) in enumerate(zip(body, sheet[1:])):
        off = 0 if t == "fairness" else 1
        sup = (s[-1] or "").split("; ") if s[-1] else []
        if t != "fairness":
            names[(t, r[0])] = s[1]
        for j, text in enumerate(r):
            cell = s[j + (off if j >= n_keys else 0)]
            where = "%s row %d %s" % (t, i + 2, head[j])
            if j < n_keys:
                if cell != text:
                    fail("%s: key %r != %r" % (where, cell, text))
            elif text == "*":
                n_sup += 1
                if cell is not None or head[j] not in sup:
                    fail("%s: suppressed but cell %r, suppressed_cells %r" % (where, cell, s[-1]))
            elif text == "":
                if cell is not None or head[j] in sup:
                    fail("%s: empty in CSV but %r" % (where, cell))
            else:
                same_number(cell, text, where)
                n_cells += 1
        if len(sup) != sum(1 for x in r if x == "*"):
            fail("%s row %d: suppressed_cells %r" % (t, i + 2, s[-1]))

# names beside codes: every PCN (and the ICB) has one; ALL is labelled
for (t, code), name in names.items():
    if t in ("pcn_summary", "icb_summary", "inequality", "sii") and not name:
        fail("%s: no name for %s" % (t, code))
if names.get(("pcn_summary", "ALL")) != "All patients in the run":
    fail("ALL row name %r" % names.get(("pcn_summary", "ALL")))
if names.get(("icb_summary", "QOC")) != "NHS Shropshire, Telford and Wrekin Integrated Care Board":
    fail("ICB name %r" % names.get(("icb_summary", "QOC")))
if n_sup == 0:
    fail("no suppressed cell in the run: the check would prove nothing")

# the long table: CSV and sheet agree, no "*", values match the wide tables
long_csv = read_csv("aggregates_long.csv")
want = ["group_type", "group_code", "group_name", "measure", "value", "lower", "upper",
        "suppressed"]
if long_csv[0] != want:
    fail("aggregates_long.csv header %s" % long_csv[0])
sheet = list(wb["long_table"].iter_rows(values_only=True))
if list(sheet[0]) != want or len(sheet) != len(long_csv):
    fail("long_table sheet: header %s, %d rows vs CSV %d" % (sheet[0], len(sheet), len(long_csv)))
wide = {}
for t in TABLES[:3]:
    rows = read_csv(t + ".csv")
    for r in rows[1:]:
        for h, v in zip(rows[0][1:], r[1:]):
            wide[(r[0], h)] = v
n_long_sup = 0
for k, (r, s) in enumerate(zip(long_csv[1:], sheet[1:])):
    where = "aggregates_long.csv line %d" % (k + 2)
    if "*" in r:
        fail("%s: '*' in %s" % (where, r))
    if r[7] not in ("0", "1") or (r[7] == "1" and r[4] != ""):
        fail("%s: suppressed %r with value %r" % (where, r[7], r[4]))
    n_long_sup += r[7] == "1"
    if list(s[:4]) != [x if x else None for x in r[:4]]:
        fail("%s: sheet %s" % (where, s[:4]))
    for q in (4, 5, 6):
        if r[q] == "":
            if s[q] is not None:
                fail("%s: sheet value %r for empty" % (where, s[q]))
        else:
            same_number(s[q], r[q], where)
    if r[0] in ("PCN", "ICB", "practice") and (r[1], r[3]) in wide:
        w = wide[(r[1], r[3])]
        if (w == "*") != (r[7] == "1") or (w not in ("*", "") and float(w) != float(r[4])):
            fail("%s: %s %s = %r, wide table %r" % (where, r[1], r[3], r[4], w))
oe = [r for r in long_csv if r[1] == "ALL" and r[3] == "oe_list" and r[0] == "PCN"]
if len(oe) != 1 or not (float(oe[0][5]) < float(oe[0][4]) < float(oe[0][6])):
    fail("ALL oe_list with its interval: %s" % oe)
if n_long_sup == 0:
    fail("no suppressed row in the long table")

readme = [r for r in wb["README"].iter_rows(values_only=True)]
text = " ".join(str(c) for r in readme for c in r if c)
for needle in ("counts 1-7 withheld", "rounded to the nearest 5", "computed from the published counts",
               "observed / expected events"):
    if needle not in text:
        fail("README sheet lacks %r" % needle)
if not any(r[0] == "oe_list" and r[1] for r in readme):
    fail("README sheet: no definition of oe_list")

# the owner-only patient workbook
pb = openpyxl.load_workbook(os.path.join(out, "patient_lists.xlsx"), read_only=True)
if pb.sheetnames != ["README", "intervention_list"]:
    fail("patient workbook sheets %s" % pb.sheetnames)
lst = read_csv("intervention_list.csv")
ps = list(pb["intervention_list"].iter_rows(values_only=True))
if list(ps[0]) != lst[0] or len(ps) != len(lst):
    fail("intervention_list sheet: header %s, %d rows vs %d" % (ps[0], len(ps), len(lst)))
pid, risk = lst[0].index("patient_id"), lst[0].index("risk")
for r, s in zip(lst[1:], ps[1:]):
    if not isinstance(s[pid], str) or s[pid] != r[pid]:
        fail("patient_id %r != %r (must be exact text)" % (s[pid], r[pid]))
    same_number(s[risk], r[risk], "intervention_list risk")
if not any(len(r[pid]) >= 18 for r in lst[1:]):
    fail("no 18+ digit patient id to prove the text column")
print("workbook ok: %d sheets, %d numbers equal to the CSVs, %d suppressed cells empty and "
      "flagged, %d long rows (%d suppressed), %d patient ids as text"
      % (len(wb.sheetnames), n_cells, n_sup, len(long_csv) - 1, n_long_sup, len(lst) - 1))
