#!/usr/bin/env python3
# data/golden/derive/synthea_derive.py — computes synthea.yaml's features and
# outcomes straight from the Synthea UK sample CSVs (plain Python, no strata
# code), writes expected.csv, and with --check STRATA.csv compares strata's
# exported output with it exactly (same patients, same values; empty = missing).
# usage: synthea_derive.py SYNTHEA_DIR CODELIST_DIR [--out expected.csv] [--check strata.csv]
#        synthea_derive.py SYNTHEA_DIR CODELIST_DIR --issue11 SPELLS.csv [--out F] [--check F]
#        (issue11.yaml instead: hypertension, emergency spells, bed days, eFI,
#        the emergency admission outcome; expected_issue11.csv)
import csv, datetime, math, sys

def day(s):
    return (datetime.date.fromisoformat(s[:10]) - datetime.date(1970, 1, 1)).days

def main():
    sdir, cdir = sys.argv[1], sys.argv[2]
    opts = dict(zip(sys.argv[3::2], sys.argv[4::2]))
    if "--issue11" in opts:
        return issue11(sdir, cdir, opts["--issue11"], opts)
    index = day("2019-01-01")
    ltc = {}   # register -> codes, registers in order of first appearance
    for r in csv.DictReader(open(f"{cdir}/synthea_uk_snomed_to_ltc.csv")):
        ltc.setdefault(r["category"], set()).add(r["code"])
    efi = {}
    for r in csv.DictReader(open(f"{cdir}/efi_codes.csv")):
        efi.setdefault(r["code"].replace(".", "").upper(), set()).add(r["category"])
    deficit_order = []
    for r in csv.DictReader(open(f"{cdir}/efi_codes.csv")):
        if r["category"] not in deficit_order:
            deficit_order.append(r["category"])
    events = {}
    for r in csv.DictReader(open(f"{sdir}/conditions.csv")):
        events.setdefault(r["PATIENT"], []).append((day(r["START"]), r["CODE"]))
    meds = {}
    for r in csv.DictReader(open(f"{sdir}/medications.csv")):
        meds.setdefault(r["PATIENT"], []).append((day(r["START"]), r["CODE"]))
    rows = []
    for p in csv.DictReader(open(f"{sdir}/patients.csv")):
        birth = day(p["BIRTHDATE"])
        death = day(p["DEATHDATE"]) if p["DEATHDATE"] else None
        if birth > index or (death is not None and death < index):
            continue
        ev = events.get(p["Id"], [])
        before = [e for e in ev if e[0] < index]
        out = {"Id": p["Id"]}
        for reg, codes in ltc.items():
            out[f"ltc_{reg}"] = int(any(c in codes for _, c in before))
        out["ltc_count"] = sum(out[f"ltc_{reg}"] for reg in ltc)
        out["diabetes"] = out["ltc_diabetes"]
        out["conditions_12m"] = sum(1 for d, _ in ev if index - 365 <= d <= index - 1)
        out["distinct_5y"] = len({c for d, c in ev if index - 1825 <= d <= index - 1})
        out["days_since_last"] = index - max(d for d, _ in before) if before else None
        defs = set()
        for d, c in ev:
            if index - 1825 <= d <= index - 1:
                defs |= efi.get(c, set())
        n = len(defs)
        out["efi"] = n
        out["efi_score"] = n / 36.0
        frac = n / 36.0
        out["efi_category"] = ("fit" if frac <= 0.12 else "mild" if frac <= 0.24
                               else "moderate" if frac <= 0.36 else "severe")
        # prescriptions: distinct drugs started in the year; 5 or more is eFI's 36th deficit
        drugs = {c for d, c in meds.get(p["Id"], []) if index - 365 <= d <= index - 1}
        out["drugs_12m"] = len(drugs)
        out["polypharmacy_5"] = int(len(drugs) >= 5)
        n = out["efi"] + out["polypharmacy_5"]
        out["efi_poly"] = n
        out["efi_poly_score"] = n / 36.0
        frac = n / 36.0
        out["efi_poly_category"] = ("fit" if frac <= 0.12 else "mild" if frac <= 0.24
                                    else "moderate" if frac <= 0.36 else "severe")
        end = index + 364 if death is None else min(index + 364, death)
        fu = [e for e in ev if index <= e[0] <= end]
        out["new_condition_12m"] = int(len(fu) > 0)
        out["conditions_fu"] = len(fu)
        all_ltc = set().union(*ltc.values())
        first = min((d for d, c in fu if c in all_ltc), default=None)
        # censored: on the day of death within the window, else after the window's 365 days
        censor = death if death is not None and death <= index + 364 else index + 365
        out["time_to_ltc"] = (first if first is not None else censor) - index
        out["time_to_ltc_event"] = int(first is not None)
        rows.append(out)
    return finish(rows, opts)

def efi_category(n):
    frac = n / 36.0
    return ("fit" if frac <= 0.12 else "mild" if frac <= 0.24
            else "moderate" if frac <= 0.36 else "severe")

def issue11(sdir, cdir, spells_csv, opts):
    """The spec of issue 11 (data/golden/derive/issue11.yaml, index 2025-04-01)
    on the sample: conditions.csv as gp_events, spells from SPELLS_CSV (the
    sample has no encounters: the test passes a header-only file)."""
    index = day("2025-04-01")
    hyp = {r["code"] for r in csv.DictReader(open(f"{cdir}/qof_clusters_snomed.csv"))
           if r["category"] == "HYP_COD"}
    efi = {}
    for r in csv.DictReader(open(f"{cdir}/efi_codes.csv")):
        efi.setdefault(r["code"].replace(".", "").upper(), set()).add(r["category"])
    events = {}
    for r in csv.DictReader(open(f"{sdir}/conditions.csv")):
        events.setdefault(r["PATIENT"], []).append((day(r["START"]), r["CODE"]))
    spells = {}
    for r in csv.DictReader(open(spells_csv)):
        spells.setdefault(r["PATIENT"], []).append(
            (day(r["admission_date"]), r["admission_method"], float(r["los_days"] or "nan")))
    rows = []
    for p in csv.DictReader(open(f"{sdir}/patients.csv")):
        birth = day(p["BIRTHDATE"])
        death = day(p["DEATHDATE"]) if p["DEATHDATE"] else None
        if birth > index or (death is not None and death < index):
            continue
        ev, sp = events.get(p["Id"], []), spells.get(p["Id"], [])
        if any(index - 730 <= d <= index - 1 for d, _, _ in sp):
            sys.exit("spells in the Charlson window: this script does not compute Charlson")
        out = {"Id": p["Id"]}
        out["hypertension"] = int(any(d < index and c in hyp for d, c in ev))
        out["prior_emergency_12m"] = sum(1 for d, m, _ in sp
                                         if m == "emergency" and index - 365 <= d <= index - 1)
        out["bed_days_12m"] = sum((v for d, _, v in sp if index - 365 <= d <= index - 1
                                   and not math.isnan(v)), 0.0)
        out["charlson"] = 0
        defs = set()
        for d, c in ev:
            if index - 1825 <= d <= index - 1:
                defs |= efi.get(c, set())
        out["efi_deficits"] = len(defs)
        out["efi_deficits_score"] = len(defs) / 36.0
        out["efi_deficits_category"] = efi_category(len(defs))
        # no registration dates in the sample: censored at death in the window, else day 365
        end = index + 364 if death is None else min(index + 364, death)
        first = min((d for d, m, _ in sp if m == "emergency" and index <= d <= end), default=None)
        out["emergency_admission_12m"] = int(first is not None)
        censor = death if death is not None and death <= index + 364 else index + 365
        out["time_to_emergency"] = (first if first is not None else censor) - index
        out["time_to_emergency_event"] = int(first is not None)
        rows.append(out)
    return finish(rows, opts)

def finish(rows, opts):
    cols = list(rows[0].keys())
    if "--out" in opts:
        with open(opts["--out"], "w", newline="") as f:
            w = csv.DictWriter(f, cols, lineterminator="\n")
            w.writeheader()
            for r in rows:
                w.writerow({k: ("" if v is None else repr(v) if isinstance(v, float) else v)
                            for k, v in r.items()})
    if "--check" in opts:
        got = {r["Id"]: r for r in csv.DictReader(open(opts["--check"]))}
        bad = 0
        if set(got) != {r["Id"] for r in rows}:
            print(f"population differs: strata {len(got)}, expected {len(rows)}")
            return 1
        for r in rows:
            g = got[r["Id"]]
            for k in cols[1:]:
                want, have = r[k], g.get(k)
                if have is None:
                    print(f"column {k} missing from strata's output"); return 1
                if isinstance(want, str):
                    ok = have == want
                elif want is None:
                    ok = have in ("", "NA")
                else:
                    ok = have != "" and float(have) == float(want)
                if not ok:
                    bad += 1
                    if bad <= 10:
                        print(f"{r['Id']} {k}: strata {have!r}, expected {want!r}")
        print(f"checked {len(rows)} patients x {len(cols) - 1} columns: {bad} differences")
        return 1 if bad else 0
    return 0

sys.exit(main())
