"""strata — Python binding of the strata C library (libstrata.so) for batch
jobs and notebooks: open cohort files, fit or load GLM risk models, score
cohorts into numpy arrays and evaluate predictions. Every failing C call
raises StrataError carrying the C status code and the library's message.

    import strata
    with strata.Context(threads=2) as ctx:
        cohort = ctx.open_cohort("cohort.h5")
        model = ctx.fit(cohort, "emergency_admission_12m ~ age + sex")
        lp, risk = model.score(cohort)
        y = cohort.read("emergency_admission_12m")
        report = ctx.evaluate(y, risk, by={"sex": cohort.codes("sex")})
        print(report.overall["c"])

docs/python.md describes installation (build tree or installed prefix) and
every call."""
import ctypes
import logging
import weakref

import numpy as np

from . import _capi

__all__ = ["Context", "Cohort", "Model", "EvalReport", "StrataError", "version", "build_info",
           "library_path"]

_lib, library_path = _capi.load_library()
_capi.declare(_lib)
_log = logging.getLogger("strata")

STATUS_NAMES = {0: "OK", 2: "EINVAL", 3: "ENOMEM", 4: "EIO", 5: "EFORMAT", 6: "EDATA",
                7: "ESPEC", 8: "ENOCONV", 9: "ESINGULAR", 10: "EINTERNAL"}
_LEVELS = {0: logging.ERROR, 1: logging.WARNING, 2: logging.INFO, 3: logging.DEBUG}
_FAMILIES_EVAL = {"binomial": 0, "poisson": 1, "gaussian": 2}
_DT_FLOAT = (5, 6)


class StrataError(Exception):
    """A failing strata C call: .status is the C status code (the CLI's exit
    code, docs/errors.md), .code its name ("EDATA", ...), .message the
    library's message."""

    def __init__(self, status, message):
        self.status = int(status)
        self.code = STATUS_NAMES.get(self.status, str(self.status))
        self.message = message
        super().__init__("%s (%s): %s" % (self.code, self.status, message))


def version():
    """The library's version string, e.g. "0.1.0"."""
    return _lib.strata_version().decode()


def build_info():
    """The build configuration as a dict (build, cflags, openmp, openblas,
    hdf5, libyaml, jansson), as `strata --version` prints it."""
    buf = ctypes.create_string_buffer(4096)
    _lib.strata_build_info(buf, len(buf))
    out = {}
    for line in buf.value.decode().splitlines():
        k, _, v = line.partition(":")
        out[k.strip()] = v.strip()
    return out


def _b(s):
    return None if s is None else (s.encode() if isinstance(s, str) else s)


def _s(b):
    return None if b is None else b.decode("utf-8", "replace")


def _f64(a, n=None, name="array"):
    a = np.ascontiguousarray(a, dtype=np.float64)
    if a.ndim != 1 or (n is not None and a.shape[0] != n):
        raise ValueError("%s: need a 1-D array of %s values, got shape %s"
                         % (name, n if n is not None else "n", a.shape))
    return a


def _ptr(a, ctype=ctypes.c_double):
    return None if a is None else a.ctypes.data_as(ctypes.POINTER(ctype))


class _Closable:
    """close() on leaving a with-block and on garbage collection."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()


class Context(_Closable):
    """A strata context (threads, log, last error). C log messages go to the
    Python logger "strata". Usable as a context manager; close() frees it."""

    def __init__(self, threads=0):
        h = ctypes.c_void_p()
        st = _lib.strata_ctx_new(ctypes.byref(h))
        if st != 0:
            raise StrataError(st, "cannot create a context (out of memory)")
        self._h = h
        self._children = weakref.WeakSet()  # cohorts and models: closed before the context
        self._logfn = _capi.LOG_FN(self._on_log)  # kept alive with the context
        _lib.strata_ctx_set_log(h, self._logfn, None, 3)
        self.threads = threads

    @staticmethod
    def _on_log(_ud, level, msg):
        _log.log(_LEVELS.get(level, logging.INFO), "%s", _s(msg))

    @property
    def threads(self):
        """Threads used by OpenMP regions (results do not depend on it)."""
        return _lib.strata_ctx_threads(self._handle())

    @threads.setter
    def threads(self, n):
        _lib.strata_ctx_set_threads(self._handle(), int(n))

    @property
    def warnings(self):
        """Number of warnings the library logged on this context."""
        return _lib.strata_ctx_warnings(self._handle())

    def _handle(self):
        if not self._h:
            raise ValueError("strata context is closed")
        return self._h

    def check(self, st):
        """Raises StrataError for a non-zero status with the context's message."""
        if st != 0:
            msg = _s(_lib.strata_ctx_errmsg(self._h)) or STATUS_NAMES.get(st, "error")
            _lib.strata_ctx_clear_error(self._h)
            raise StrataError(st, msg)

    def close(self):
        """Frees the context, after closing its cohorts and models."""
        if getattr(self, "_h", None):
            for child in list(self._children):
                child.close()
            _lib.strata_ctx_free(self._h)
            self._h = None

    # ---- the calls -------------------------------------------------------
    def open_cohort(self, path):
        """Opens a cohort file (HDF5, docs/cohort-format.md)."""
        h = ctypes.c_void_p()
        self.check(_lib.strata_cohort_open(self._handle(), _b(str(path)), ctypes.byref(h)))
        return Cohort(self, h, str(path))

    def fit(self, cohort, formula, family="binomial", weights=None, max_iter=25, epsilon=1e-8,
            na_action="complete_cases", unseen_to_reference=False, warm_start=True):
        """Fits a GLM (docs/glm.md) to a cohort; returns a Model. A fit that
        does not converge raises StrataError with status 8 (ENOCONV)."""
        p = _capi.GlmParams()
        _lib.strata_glm_params_init(ctypes.byref(p))
        fam = ctypes.c_int()
        self.check(_lib.strata_family_parse(self._handle(), _b(family), ctypes.byref(fam)))
        keep = (_b(formula), _b(weights))
        p.family, p.formula, p.weights = fam.value, keep[0], keep[1]
        p.max_iter, p.epsilon = int(max_iter), float(epsilon)
        if na_action not in ("complete_cases", "fail"):
            raise ValueError("na_action: 'complete_cases' or 'fail'")
        p.na_action = 1 if na_action == "fail" else 0
        p.unseen = 1 if unseen_to_reference else 0
        p.warm_start = 1 if warm_start else 0
        h = ctypes.c_void_p()
        st = _lib.strata_glm_fit(self._handle(), cohort._handle(), ctypes.byref(p), ctypes.byref(h))
        if st != 0 and h:
            _lib.strata_model_free(self._h, h)
        self.check(st)
        return Model(self, h)

    def load_model(self, path):
        """Loads a model file (docs/model-format.md)."""
        h = ctypes.c_void_p()
        self.check(_lib.strata_model_load(self._handle(), _b(str(path)), ctypes.byref(h)))
        return Model(self, h)

    def evaluate(self, y, p, w=None, by=None, family="binomial", conf_level=0.95, n_bins=10):
        """Discrimination, calibration, yield and net benefit of predictions p
        (probabilities or expected values) against outcomes y, overall and per
        level of each `by` column (docs/evaluate.md). by maps a name to either
        (codes, levels) — int codes 0..k-1, -1 missing, as Cohort.codes gives —
        or an array of labels. The in-memory numbers are not disclosure-
        controlled: do not publish small groups from them."""
        if family not in _FAMILIES_EVAL:
            raise ValueError("family: one of %s" % ", ".join(_FAMILIES_EVAL))
        y = _f64(y, name="y")
        n = y.shape[0]
        p = _f64(p, n, "p")
        w = None if w is None else _f64(w, n, "w")
        par = _capi.EvalParams()
        _lib.strata_eval_params_init(ctypes.byref(par))
        par.family, par.conf_level, par.n_bins = _FAMILIES_EVAL[family], conf_level, n_bins
        keep = []
        bys = (_capi.EvalBy * max(1, len(by or {})))()
        for k, (name, spec) in enumerate((by or {}).items()):
            codes, levels = _as_codes(spec, n, name)
            lv = (ctypes.c_char_p * max(1, len(levels)))(*[_b(str(x)) for x in levels])
            nm = _b(name)
            keep += [codes, lv, nm]
            bys[k].name, bys[k].codes = nm, _ptr(codes, ctypes.c_int32)
            bys[k].n_levels, bys[k].levels = len(levels), lv
        inp = _capi.EvalInput(n, _ptr(y), _ptr(p), _ptr(w), len(by or {}), bys)
        rep = ctypes.POINTER(_capi.EvalReport)()
        self.check(_lib.strata_evaluate(self._handle(), ctypes.byref(inp), ctypes.byref(par),
                                        ctypes.byref(rep)))
        try:
            return EvalReport(rep.contents)
        finally:
            _lib.strata_eval_report_free(self._h, rep)


def _as_codes(spec, n, name):
    if isinstance(spec, tuple) and len(spec) == 2:
        codes = np.ascontiguousarray(spec[0], dtype=np.int32)
        levels = list(spec[1])
    else:
        arr = np.asarray(spec)
        levels, inv = np.unique(arr, return_inverse=True)
        codes = np.ascontiguousarray(inv, dtype=np.int32)
        levels = list(levels)
    if codes.ndim != 1 or codes.shape[0] != n:
        raise ValueError("by[%r]: need %d codes, got shape %s" % (name, n, codes.shape))
    return codes, levels


class Cohort(_Closable):
    """An open cohort file. Columns are read whole into numpy arrays."""

    def __init__(self, ctx, h, path):
        self.ctx, self._h, self.path = ctx, h, path
        ctx._children.add(self)

    def _handle(self):
        if not self._h:
            raise ValueError("cohort %s is closed" % self.path)
        return self._h

    def close(self):
        if getattr(self, "_h", None):
            _lib.strata_cohort_close(self._h)
        self._h = None

    @property
    def nrows(self):
        return _lib.strata_cohort_nrows(self._handle())

    def columns(self):
        """Every column: a list of dicts (group, name, dtype, role, categorical,
        levels, units, length)."""
        out = []
        for j in range(_lib.strata_cohort_ncols(self._handle())):
            ci = _lib.strata_cohort_column(self._h, j).contents
            out.append({"group": _s(ci.group), "name": _s(ci.name),
                        "dtype": _s(_lib.strata_dtype_name(ci.dtype)),
                        "role": _s(_lib.strata_role_name(ci.role)) or None,
                        "categorical": bool(ci.categorical),
                        "levels": [_s(ci.levels[i]) for i in range(ci.n_levels)]
                        if ci.categorical else None,
                        "units": _s(ci.units) or None, "length": ci.length})
        return out

    def attr(self, key):
        """A root attribute as a string, or None."""
        return _s(_lib.strata_cohort_attr(self._handle(), _b(key)))

    def info(self):
        """What `strata info` shows: path, rows and columns."""
        return {"path": self.path, "rows": self.nrows, "columns": self.columns()}

    def _find(self, name):
        j = ctypes.c_size_t()
        self.ctx.check(_lib.strata_cohort_find(self.ctx._handle(), self._handle(), _b(name),
                                               ctypes.byref(j)))
        return j.value, _lib.strata_cohort_column(self._h, j.value).contents

    def read(self, name):
        """A column as float64 (missing -> NaN; categorical codes as numbers)."""
        j, ci = self._find(name)
        out = np.empty(ci.length, dtype=np.float64)
        self.ctx.check(_lib.strata_cohort_read_f64(self.ctx._h, self._h, j, 0, ci.length,
                                                   _ptr(out)))
        return out

    def read_int(self, name):
        """An integer or categorical column as int64 exactly (patient ids);
        missing -> the int64 minimum (categorical: -1)."""
        j, ci = self._find(name)
        out = np.empty(ci.length, dtype=np.int64)
        self.ctx.check(_lib.strata_cohort_read_i64(self.ctx._h, self._h, j, 0, ci.length,
                                                   _ptr(out, ctypes.c_int64)))
        return out

    def codes(self, name):
        """A categorical column as (int32 codes, levels): code -1 = missing.
        The pair can be passed as a `by` column to Context.evaluate."""
        j, ci = self._find(name)
        if not ci.categorical:
            raise StrataError(7, "%s: column %s is not categorical" % (self.path, name))
        out = np.empty(ci.length, dtype=np.int32)
        self.ctx.check(_lib.strata_cohort_read_i32(self.ctx._h, self._h, j, 0, ci.length,
                                                   _ptr(out, ctypes.c_int32)))
        return out, [_s(ci.levels[i]) for i in range(ci.n_levels)]


class Model(_Closable):
    """A fitted or loaded GLM."""

    def __init__(self, ctx, h):
        self.ctx, self._h = ctx, h
        ctx._children.add(self)

    def _handle(self):
        if not self._h:
            raise ValueError("model is freed")
        return self._h

    def close(self):
        if getattr(self, "_h", None):
            _lib.strata_model_free(self.ctx._h, self._h)
        self._h = None

    @property
    def terms(self):
        h = self._handle()
        return [_s(_lib.strata_model_term(h, i)) for i in range(_lib.strata_model_nterms(h))]

    def coef(self):
        """The coefficient table as a dict of numpy arrays (term, estimate,
        std_error, statistic, p_value, conf_low, conf_high, aliased)."""
        h = self._handle()
        k = _lib.strata_model_nterms(h)
        cols = {f: np.empty(k) for f in ("estimate", "std_error", "statistic", "p_value",
                                         "conf_low", "conf_high")}
        aliased = np.zeros(k, dtype=bool)
        c = _capi.Coef()
        for i in range(k):
            _lib.strata_model_coef(h, i, ctypes.byref(c))
            for f in cols:
                cols[f][i] = getattr(c, f)
            aliased[i] = bool(c.aliased)
        cols["term"] = self.terms
        cols["aliased"] = aliased
        return cols

    def summary(self):
        """Fit summary: family, formula, deviance, aic, iterations, n_used, ..."""
        s = _capi.FitSummary()
        _lib.strata_model_summary(self._handle(), ctypes.byref(s))
        out = {k: getattr(s, k) for k, _ in _capi.FitSummary._fields_}
        out["family"] = _s(_lib.strata_family_name(s.family))
        out["formula"] = _s(s.formula)
        out["converged"] = bool(s.converged)
        return out

    def provenance(self, key):
        return _s(_lib.strata_model_provenance(self._handle(), _b(key)))

    def save(self, path):
        """Writes the model file atomically."""
        self.ctx.check(_lib.strata_model_save(self.ctx._handle(), self._handle(), _b(str(path))))

    def score(self, cohort, unseen_to_reference=False):
        """(linear predictor, response) as float64 arrays in cohort row order;
        NaN where a model column is missing."""
        n = cohort.nrows
        lp, resp = np.empty(n), np.empty(n)
        self.ctx.check(_lib.strata_score(self.ctx._handle(), self._handle(), cohort._handle(),
                                         1 if unseen_to_reference else 0, _ptr(lp), _ptr(resp)))
        return lp, resp

    def bootstrap(self, cohort, outcome, p, B=200, seed=1, family="binomial"):
        """Harrell's bootstrap optimism of C, slope, intercept, CITL and Brier:
        {"apparent": {...}, "optimism": {...}, "corrected": {...}, "B", "seed"}."""
        p = _f64(p, cohort.nrows, "p")
        vp = _capi.ValidateParams()
        _lib.strata_validate_params_init(ctypes.byref(vp))
        vp.B, vp.seed = int(B), int(seed)
        res = _capi.BootstrapResult()
        self.ctx.check(_lib.strata_evaluate_bootstrap_glm(
            self.ctx._handle(), self._handle(), cohort._handle(), _b(outcome), _ptr(p),
            _FAMILIES_EVAL[family], ctypes.byref(vp), ctypes.byref(res)))
        try:
            core = lambda e: {k: getattr(e, k) for k, _ in _capi.EvalCore._fields_}
            return {"B": res.B, "seed": res.seed, "apparent": core(res.apparent),
                    "optimism": core(res.optimism), "corrected": core(res.corrected)}
        finally:
            _lib.strata_bootstrap_result_free(self.ctx._h, ctypes.byref(res))


def _metrics(m):
    out = {k: getattr(m, k) for k in _capi.METRIC_NAMES}
    out["n_rows"], out["hl_df"], out["flags"] = m.n_rows, m.hl_df, m.flags
    out["risk_groups"] = [{k: getattr(m.bins[i], k) for k, _ in _capi.EvalBin._fields_}
                          for i in range(m.n_bins)]
    out["yield"] = [{k: getattr(m.top[i], k) for k, _ in _capi.EvalYield._fields_}
                    for i in range(m.n_top)]
    out["net_benefit"] = [{k: getattr(m.nb[i], k) for k, _ in _capi.EvalNb._fields_}
                          for i in range(m.n_nb)]
    return out


class EvalReport:
    """Result of Context.evaluate: .overall (dict of metrics with risk_groups,
    yield and net_benefit lists) and .groups (list of dicts with "by",
    "level" and the same metrics)."""

    def __init__(self, rep):
        self.overall = _metrics(rep.overall)
        self.groups = []
        for i in range(rep.n_groups):
            g = rep.groups[i]
            d = _metrics(g.m)
            d["by"], d["level"] = _s(g.by), _s(g.level)
            self.groups.append(d)

    def group(self, by, level):
        for g in self.groups:
            if g["by"] == by and g["level"] == str(level):
                return g
        raise KeyError((by, level))
