#!/usr/bin/python3
"""data/reference/derive.py — derives the compact reference tables that `strata synth`
reads (practices.csv, icb_single_age.csv, qof_prevalence.csv, areas.csv) from the raw
public files in ../shared/data. Standard library only; the output is byte-identical on
every run (sorted rows, fixed formatting, "\n" line ends).

usage: /usr/bin/python3 data/reference/derive.py [SHARED_DATA_DIR] [OUT_DIR]
"""
import csv
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "..", "shared", "data")
OUT = sys.argv[2] if len(sys.argv) > 2 else HERE

BANDS = ["0_4", "5_9", "10_14", "15_19", "20_24", "25_29", "30_34", "35_39", "40_44", "45_49",
         "50_54", "55_59", "60_64", "65_69", "70_74", "75_79", "80_84", "85_89", "90_94", "95+"]
# QOF group codes in the order of the generator's condition flags.
QOF_GROUPS = ["HYP", "DM", "AST", "COPD", "CHD", "HF", "AF", "STIA", "CKD", "CAN", "DEM",
              "DEP", "MH", "LD", "EP"]


def rows(path):
    with open(path, newline="", encoding="utf-8-sig") as f:
        yield from csv.DictReader(f)


def write(name, header, body):
    with open(os.path.join(OUT, name), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(body)


def main():
    reg = os.path.join(SRC, "nhs_gp_registrations")
    # practice -> PCN -> sub-ICB -> ICB -> region, and area names
    pmap, names = {}, {}
    for r in rows(os.path.join(reg, "gp-reg-pat-prac-map_2025-12.csv")):
        pmap[r["PRACTICE_CODE"]] = (r["PCN_CODE"], r["SUB_ICB_LOCATION_CODE"], r["ICB_CODE"],
                                    r["COMM_REGION_CODE"])
        names[("PCN", r["PCN_CODE"])] = r["PCN_NAME"]
        names[("SUB_ICB", r["SUB_ICB_LOCATION_CODE"])] = r["SUB_ICB_LOCATION_NAME"]
        names[("ICB", r["ICB_CODE"])] = r["ICB_NAME"]
        names[("REGION", r["COMM_REGION_CODE"])] = r["COMM_REGION_NAME"]
    # practice list sizes by sex and 5-year band
    counts = {}
    for r in rows(os.path.join(reg, "gp-reg-pat-prac-quin-age_2025-12.csv")):
        if r["ORG_TYPE"] != "GP" or r["SEX"] == "ALL" or r["AGE_GROUP_5"] == "ALL":
            continue
        c = counts.setdefault(r["ORG_CODE"], [0] * 40)
        c[(20 if r["SEX"] == "MALE" else 0) + BANDS.index(r["AGE_GROUP_5"])] = int(r["NUMBER_OF_PATIENTS"])
    # ICB single year of age by sex (to split 5-year bands into years)
    single = {}
    for r in rows(os.path.join(reg, "gp-reg-pat-prac-sing-age-regions_2025-12.csv")):
        if r["ORG_TYPE"] != "ICB" or r["SEX"] == "ALL" or r["AGE"] == "ALL":
            continue
        a = 95 if r["AGE"] == "95+" else int(r["AGE"])
        single.setdefault((r["ORG_CODE"], r["SEX"][0]), [0] * 96)[a] = int(r["NUMBER_OF_PATIENTS"])
    # practice IMD 2019 score (Fingertips 93553)
    imd = {}
    for r in rows(os.path.join(SRC, "practice_indicators", "practice_imd_fingertips_93553.csv")):
        if r["Year"] == "2019" and r["Value"]:
            imd[r["AreaCode"]] = float(r["Value"])
    # QOF 2019-20 registers and list sizes
    qof = {}
    for r in rows(os.path.join(SRC, "qof", "PREVALENCE_1920.csv")):
        q = qof.setdefault(r["PRACTICE_CODE"], {})
        q[r["GROUP_CODE"]] = int(r["REGISTER"])
        q["list_" + r["PATIENT_LIST_TYPE"]] = int(r["PATIENT_LIST_SIZE"])

    practices = sorted(p for p in pmap if p in counts and sum(counts[p]) > 0)
    # IMD fallback: list-weighted mean over the PCN, then the ICB, then England
    def wmean(keyfn):
        acc = {}
        for p in practices:
            if p in imd:
                s = acc.setdefault(keyfn(p), [0.0, 0])
                s[0] += imd[p] * sum(counts[p])
                s[1] += sum(counts[p])
        return {k: v[0] / v[1] for k, v in acc.items()}
    by_pcn, by_icb = wmean(lambda p: pmap[p][0]), wmean(lambda p: pmap[p][2])
    by_all = wmean(lambda p: "E")["E"]
    body = []
    for p in practices:
        pcn, sub, icb, region = pmap[p]
        if p in imd:
            score, src = imd[p], "P"
        elif pcn in by_pcn:
            score, src = by_pcn[pcn], "N"
        elif icb in by_icb:
            score, src = by_icb[icb], "I"
        else:
            score, src = by_all, "E"
        body.append([p, pcn, sub, icb, region, "%.3f" % score, src] + counts[p])
    write("practices.csv", ["practice", "pcn", "sub_icb", "icb", "region", "imd_score", "imd_src"]
          + ["F" + b for b in BANDS] + ["M" + b for b in BANDS], body)

    icbs = sorted({pmap[p][2] for p in practices})
    write("icb_single_age.csv", ["icb", "sex"] + ["a%d" % a for a in range(96)],
          [[i, s] + single[(i, s)] for i in icbs for s in ("F", "M")])

    body = []
    for p in practices:  # only practices that exist in the 2025 map
        q = qof.get(p, {})
        if any(g not in q for g in QOF_GROUPS) or q.get("list_TOTAL", 0) <= 0:
            continue
        body.append([p, q["list_TOTAL"], q["list_17OV"], q["list_18OV"]] + [q[g] for g in QOF_GROUPS])
    write("qof_prevalence.csv", ["practice", "list_total", "list_17ov", "list_18ov"] + QOF_GROUPS, body)

    write("areas.csv", ["type", "code", "name"], [[t, c, names[(t, c)]] for (t, c) in sorted(names)])


if __name__ == "__main__":
    main()
