"""Fixtures of the binding's tests: the strata CLI of the same build
(STRATA_CLI, set by ctest; else build/strata of the source tree) makes a small
synthetic cohort and the reference results the binding must reproduce."""
import csv
import os
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.normpath(os.path.join(HERE, "..", ".."))
FORMULA = "emergency_admission_12m ~ age + sex + imd_decile + ltc_count"


def cli():
    return os.environ.get("STRATA_CLI") or os.path.join(SOURCE, "build", "strata")


def run(*args):
    r = subprocess.run([cli(), *args], capture_output=True, text=True)
    assert r.returncode == 0, "strata %s: exit %d: %s" % (" ".join(args), r.returncode, r.stderr)
    return r.stdout


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="session")
def work(tmp_path_factory):
    """A 3,000-patient synthetic cohort, a model fitted by `strata fit`, its
    coefficients, scores and evaluation by the CLI."""
    d = tmp_path_factory.mktemp("strata")
    cohort, model = str(d / "cohort.h5"), str(d / "model.h5")
    run("synth", "--patients", "3000", "--seed", "7", "--quiet", "--out", cohort)
    run("fit", cohort, "--formula", FORMULA, "--quiet", "--out", model)
    with open(d / "coef.csv", "w") as f:
        f.write(run("coef", model, "--csv"))
    run("score", model, cohort, "--out", str(d / "scores.csv"))
    run("evaluate", model, cohort, "--by", "sex", "--quiet", "--out", str(d / "eval"))
    return {"dir": d, "cohort": cohort, "model": model,
            "coef": read_csv(d / "coef.csv"), "scores": read_csv(d / "scores.csv"),
            "eval": read_csv(d / "eval" / "summary.csv")}


@pytest.fixture
def ctx():
    import strata
    with strata.Context(threads=2) as c:
        yield c
