#!/usr/bin/env python3
# data/codelists/build.py — rebuilds strata's code lists from ../shared/data/codelists
# (the origin files, whose README keeps the provenance) into the one shape the
# loader reads: code,category[,match][,extra columns]. Deterministic: rows in
# source order, repeated rows dropped.
# usage: python3 data/codelists/build.py [SHARED_CODELISTS_DIR]
import csv, os, sys

here = os.path.dirname(os.path.abspath(__file__))
src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "..", "shared", "data", "codelists")

def rows(name):
    with open(os.path.join(src, name), newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))

def write(name, header, out):
    seen, kept = set(), []
    for r in out:
        k = tuple(r)
        if k not in seen:
            seen.add(k)
            kept.append(r)
    with open(os.path.join(here, name), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(kept)
    print(f"{name}: {len(kept)} rows")

write("charlson_icd10_quan2005.csv", ["code", "category", "match"],
      [(r["code_prefix"], r["category"], "prefix") for r in rows("charlson_icd10_quan2005.csv")])
write("charlson_weights.csv", ["category", "weight_charlson1987", "weight_quan2011", "superseded_by"],
      [(r["category"], r["weight_charlson1987"], r["weight_quan2011"], r["superseded_by"])
       for r in rows("charlson_weights.csv")])
write("elixhauser_icd10_quan2005.csv", ["code", "category", "match"],
      [(r["code_prefix"], r["category"], "prefix") for r in rows("elixhauser_icd10_quan2005.csv")])
write("elixhauser_weights.csv", ["category", "weight_vanwalraven2009", "weight_swiss_sharma2021", "superseded_by"],
      [(r["category"], r["weight_vanwalraven2009"], r["weight_swiss_sharma2021"], r["superseded_by"])
       for r in rows("elixhauser_weights.csv")])
write("acsc_icd10.csv", ["code", "category", "match", "type", "position"],
      [(r["code_prefix"], r["group"], "prefix", r["acute_or_chronic"], r["diagnosis_position"])
       for r in rows("acsc_icd10.csv")])
efi = []
for system in ("snomed", "readv2", "ctv3"):
    efi += [(r["code"], r["deficit_id"], "exact") for r in rows(f"efi_codes_{system}.csv")]
write("efi_codes.csv", ["code", "category", "match"], efi)
write("efi_value_rules.csv", ["code", "category", "match", "greater_than", "less_than", "sex"],
      [(r["code"], r["deficit_id"], "exact", r["value_greater_than"], r["value_less_than"], r["sex"])
       for r in rows("efi_value_rules.csv")])
write("efi_deficits.csv", ["category", "number", "name"],
      [(r["deficit_id"], r["deficit_number"], r["deficit_name"]) for r in rows("efi_deficits.csv")])
write("qof_clusters_snomed.csv", ["code", "category", "match"],
      [(r["snomed_code"], r["cluster"], "exact") for r in rows("qof_pcd_refsets_snomed.csv")])
write("qof_registers_snomed.csv", ["code", "category", "match"],
      [(r["snomed_code"], r["register"], "exact") for r in rows("qof_pcd_refsets_snomed.csv")])
write("ltc_snomed_gmsde.csv", ["code", "category", "match"],
      [(r["snomed_code"], r["register"], "exact") for r in rows("ltc_snomed_gmsde.csv")])
write("synthea_uk_snomed_to_ltc.csv", ["code", "category", "match"],
      [(r["snomed_code"], r["register"], "exact") for r in rows("synthea_uk_snomed_to_ltc.csv") if r["register"]])
# strata's 15 long-term conditions (docs/synthetic.md#conditions), named as the
# flag columns of a synthetic cohort: the QOF registers (resolved codes and the
# registers strata does not flag left out) plus GM-SDE's cancer list.
ltc15 = {"hypertension": "hypertension", "diabetes": "diabetes", "asthma": "asthma", "copd": "copd",
         "chd": "chd", "heart_failure": "heart_failure", "atrial_fibrillation": "af",
         "stroke_tia": "stroke_tia", "ckd": "ckd", "dementia": "dementia",
         "depression": "depression", "smi": "smi", "learning_disability": "learning_disability",
         "epilepsy": "epilepsy"}
write("ltc15_snomed.csv", ["code", "category", "match"],
      [(r["snomed_code"], ltc15[r["register"]], "exact") for r in rows("qof_pcd_refsets_snomed.csv")
       if r["register"] in ltc15] +
      [(r["snomed_code"], "cancer", "exact") for r in rows("ltc_snomed_gmsde.csv")
       if r["register"] == "cancer"])
