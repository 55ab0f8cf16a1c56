"""tests/report/run_tables.py — what the report checkers share: failing with
one line, the PCN names of data/reference/areas.csv and the PCN codes of a
run's pcn_summary.csv (without the ALL row)."""
import csv
import os
import sys

SRC = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def pcn_names():
    names = {}
    with open(os.path.join(SRC, "data", "reference", "areas.csv"), newline="") as f:
        for r in csv.DictReader(f):
            if r["type"] == "PCN":
                names[r["code"]] = r["name"]
    return names


def run_pcns(out):
    with open(os.path.join(out, "pcn_summary.csv"), newline="") as f:
        return [r["group"] for r in csv.DictReader(f) if r["group"] != "ALL"]
