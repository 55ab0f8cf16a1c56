"""The Python binding against the C library and the CLI of the same build:
the same cohort read, the same coefficients, scores and evaluation numbers,
and the C error message and status raised as StrataError."""
import ctypes
import logging
import os
import subprocess

import numpy as np
import pytest

import strata
from strata import _capi
from conftest import FORMULA, SOURCE, cli


def test_version_and_build_info_match_the_cli():
    first = subprocess.run([cli(), "--version"], capture_output=True, text=True).stdout
    assert first.splitlines()[0] == "strata " + strata.version()
    info = strata.build_info()
    assert info["hdf5"].count(".") == 2
    assert "OpenBLAS" in info["openblas"]
    assert info["build"] in first


def test_struct_layouts_match_the_c_headers(tmp_path):
    """Every mirrored structure has the C size and field offsets."""
    lines = ['#include "strata/strata.h"', "#include <stddef.h>", "#include <stdio.h>",
             "int main(void) {"]
    for cname, st in _capi.STRUCTS.items():
        lines.append('printf("%s %%zu\\n", sizeof(%s));' % (cname, cname))
        for f, _ in st._fields_:
            lines.append('printf("%s.%s %%zu\\n", offsetof(%s, %s));' % (cname, f, cname, f))
    lines.append("return 0; }")
    src, exe = tmp_path / "layout.c", tmp_path / "layout"
    src.write_text("\n".join(lines))
    subprocess.run(["cc", "-std=c11", "-I", os.path.join(SOURCE, "include"), "-o", str(exe),
                    str(src)], check=True)
    c = dict(l.rsplit(" ", 1) for l in subprocess.run([str(exe)], capture_output=True,
                                                      text=True, check=True).stdout.splitlines())
    for cname, st in _capi.STRUCTS.items():
        assert int(c[cname]) == ctypes.sizeof(st), cname
        for f, _ in st._fields_:
            assert int(c["%s.%s" % (cname, f)]) == getattr(st, f).offset, "%s.%s" % (cname, f)


def test_cohort_info_and_columns(ctx, work):
    c = ctx.open_cohort(work["cohort"])
    info = c.info()
    assert info["rows"] == 3000 == c.nrows
    cols = {col["name"]: col for col in info["columns"]}
    assert cols["patient_id"]["role"] == "patient_id" and cols["patient_id"]["dtype"] == "int64"
    assert cols["age"]["units"] == "years"
    assert cols["icb"]["levels"] == ["QOC"]
    assert c.attr("seed") == "7"
    ids = c.read_int("patient_id")
    assert ids.dtype == np.int64 and len(np.unique(ids)) == 3000
    scored_ids = [int(r["patient_id"]) for r in work["scores"]]
    assert ids.tolist() == scored_ids  # exact 64-bit ids, cohort order
    age = c.read("age")
    assert age.dtype == np.float64 and 0 <= age.min() and age.max() <= 120
    codes, levels = c.codes("sex")
    assert levels == ["F", "M"] and set(np.unique(codes)) <= {-1, 0, 1}


def test_fit_gives_the_cli_coefficients(ctx, work):
    c = ctx.open_cohort(work["cohort"])
    m = ctx.fit(c, FORMULA)
    co = m.coef()
    assert co["term"] == [r["term"] for r in work["coef"]]
    np.testing.assert_allclose(co["estimate"], [float(r["estimate"]) for r in work["coef"]],
                               rtol=1e-12)
    np.testing.assert_allclose(co["std_error"], [float(r["std_error"]) for r in work["coef"]],
                               rtol=1e-10)
    s = m.summary()
    assert s["family"] == "binomial" and s["converged"] and s["n_used"] == 3000
    assert s["formula"] == FORMULA


def test_score_matches_the_cli_and_survives_save_load(ctx, work, tmp_path):
    c = ctx.open_cohort(work["cohort"])
    m = ctx.load_model(work["model"])
    lp, risk = m.score(c)
    assert lp.shape == risk.shape == (3000,)
    np.testing.assert_allclose(lp, [float(r["linear_predictor"]) for r in work["scores"]],
                               rtol=0, atol=1e-15)
    np.testing.assert_allclose(risk, 1 / (1 + np.exp(-lp)), rtol=1e-14)
    fitted = ctx.fit(c, FORMULA)
    path = tmp_path / "again.h5"
    fitted.save(path)
    assert oct(os.stat(path).st_mode & 0o777) == "0o644"
    lp2, _ = ctx.load_model(path).score(c)
    assert np.array_equal(lp2, lp)


def test_evaluate_matches_the_cli_and_an_independent_auc(ctx, work):
    c = ctx.open_cohort(work["cohort"])
    _, risk = ctx.load_model(work["model"]).score(c)
    y = c.read("emergency_admission_12m")
    rep = ctx.evaluate(y, risk, by={"sex": c.codes("sex")})
    cli_all = work["eval"][0]
    assert cli_all["by"] == "overall"
    assert rep.overall["c"] == pytest.approx(float(cli_all["c"]), abs=1e-9)
    assert rep.overall["slope"] == pytest.approx(float(cli_all["slope"]), abs=1e-9)
    # the AUC as the share of (event, non-event) pairs ranked right, ties half
    pos, neg = risk[y > 0][:, None], risk[y == 0][None, :]
    auc = (pos > neg).mean() + 0.5 * (pos == neg).mean()
    assert rep.overall["c"] == pytest.approx(auc, abs=1e-9)
    assert rep.overall["oe"] == pytest.approx(y.sum() / risk.sum(), rel=1e-12)
    assert rep.overall["n_rows"] == 3000
    female = rep.group("sex", "F")
    cli_f = [r for r in work["eval"] if r["by"] == "sex" and r["level"] == "F"][0]
    assert female["c"] == pytest.approx(float(cli_f["c"]), abs=1e-9)
    assert sum(g["n_rows"] for g in rep.groups if g["by"] == "sex") == 3000
    # labels instead of codes give the same groups
    codes, levels = c.codes("sex")
    rep2 = ctx.evaluate(y, risk, by={"sex": np.array(levels)[codes]})
    assert rep2.group("sex", "M")["c"] == pytest.approx(rep.group("sex", "M")["c"], abs=0)
    assert len(rep.overall["risk_groups"]) == 10


def test_bootstrap_optimism(ctx, work):
    c = ctx.open_cohort(work["cohort"])
    m = ctx.load_model(work["model"])
    _, risk = m.score(c)
    b = m.bootstrap(c, "emergency_admission_12m", risk, B=5, seed=3)
    assert b["B"] == 5 and b["seed"] == 3
    assert b["corrected"]["c"] == pytest.approx(b["apparent"]["c"] - b["optimism"]["c"])
    assert b["optimism"]["c"] > 0


def test_errors_carry_the_c_status_and_message(ctx, work, tmp_path):
    with pytest.raises(strata.StrataError) as e:
        ctx.open_cohort(tmp_path / "missing.h5")
    assert e.value.status == 4 and e.value.code == "EIO"
    assert "missing.h5" in str(e.value) and "No such file" in e.value.message
    c = ctx.open_cohort(work["cohort"])
    with pytest.raises(strata.StrataError) as e:
        ctx.fit(c, "emergency_admission_12m ~ age + no_such_column")
    assert e.value.status == 7 and "no_such_column" in e.value.message
    with pytest.raises(strata.StrataError) as e:
        ctx.fit(c, FORMULA, family="weibull")
    assert e.value.status == 2 and "weibull" in e.value.message
    with pytest.raises(strata.StrataError) as e:
        c.read("nope")
    assert e.value.status == 7
    bad = tmp_path / "not.h5"
    bad.write_text("not hdf5")
    with pytest.raises(strata.StrataError) as e:
        ctx.open_cohort(bad)
    assert e.value.status == 5 and e.value.code == "EFORMAT"
    with pytest.raises(strata.StrataError) as e:  # the library rejects an invalid outcome
        ctx.evaluate(np.array([0.0, 2.0, 1.0]), np.array([0.1, 0.2, 0.3]))
    assert e.value.status == 6
    with pytest.raises(ValueError):
        ctx.evaluate(np.zeros(3), np.zeros(4))
    # after an error the context still works
    assert ctx.open_cohort(work["cohort"]).nrows == 3000


def test_closing_the_context_closes_its_objects(work):
    ctx = strata.Context()
    c = ctx.open_cohort(work["cohort"])
    m = ctx.load_model(work["model"])
    ctx.close()
    with pytest.raises(ValueError):
        c.nrows
    with pytest.raises(ValueError):
        m.score(c)


def test_library_log_reaches_python_logging(ctx, work, caplog):
    c = ctx.open_cohort(work["cohort"])
    with caplog.at_level(logging.INFO, logger="strata"):
        ctx.fit(c, FORMULA)
    assert any("glm timings" in r.getMessage() for r in caplog.records)
    caplog.clear()
    before = ctx.warnings
    with caplog.at_level(logging.WARNING, logger="strata"):
        with pytest.raises(strata.StrataError) as e:
            ctx.fit(c, FORMULA, max_iter=1, warm_start=False)
    assert e.value.status == 8 and e.value.code == "ENOCONV"
    assert ctx.warnings == before + 1
    assert any(r.levelno == logging.WARNING and "did not converge" in r.getMessage()
               for r in caplog.records)
