"""ctypes declarations of the strata C API (include/strata/*.h) used by the
binding, and how the shared library is found.

The structures mirror the C headers field for field; tests/test_binding.py
compiles a C program printing sizeof/offsetof of each and compares them with
these, so a header change that is not mirrored here fails the tests instead of
reading garbage."""
import ctypes
import ctypes.util
import os

c_double_p = ctypes.POINTER(ctypes.c_double)
c_int32_p = ctypes.POINTER(ctypes.c_int32)
c_int64_p = ctypes.POINTER(ctypes.c_int64)
c_char_pp = ctypes.POINTER(ctypes.c_char_p)


def _candidates():
    env = os.environ.get("STRATA_LIBRARY")
    if env:
        yield env
        return
    here = os.path.dirname(os.path.abspath(__file__))
    try:  # written by CMake into the build-tree and installed copies
        from . import _config
        yield os.path.normpath(os.path.join(here, _config.LIBRARY))
    except ImportError:
        pass
    # the source tree's package with the default build directory
    yield os.path.normpath(os.path.join(here, "..", "..", "build", "libstrata.so"))
    found = ctypes.util.find_library("strata")
    if found:
        yield found


def load_library():
    tried = []
    for path in _candidates():
        tried.append(path)
        try:
            return ctypes.CDLL(path), path
        except OSError:
            continue
    raise ImportError("strata: libstrata.so not found (tried %s); set STRATA_LIBRARY to its path "
                      "or see docs/python.md" % ", ".join(tried or ["nothing"]))


class ColumnInfo(ctypes.Structure):
    _fields_ = [("group", ctypes.c_char_p), ("name", ctypes.c_char_p), ("dtype", ctypes.c_int),
                ("categorical", ctypes.c_int), ("n_levels", ctypes.c_size_t),
                ("levels", c_char_pp), ("role", ctypes.c_int), ("units", ctypes.c_char_p),
                ("length", ctypes.c_size_t)]


class GlmParams(ctypes.Structure):
    _fields_ = [("family", ctypes.c_int), ("formula", ctypes.c_char_p),
                ("weights", ctypes.c_char_p), ("epsilon", ctypes.c_double),
                ("max_iter", ctypes.c_int), ("na_action", ctypes.c_int),
                ("unseen", ctypes.c_int), ("block_rows", ctypes.c_size_t),
                ("warm_start", ctypes.c_int), ("pass", ctypes.c_int),
                ("parallel_min_np", ctypes.c_size_t), ("final_gram", ctypes.c_int)]


class Coef(ctypes.Structure):
    _fields_ = [(k, ctypes.c_double) for k in
                ("estimate", "std_error", "statistic", "p_value", "conf_low", "conf_high")] + \
               [("aliased", ctypes.c_int)]


class FitSummary(ctypes.Structure):
    _fields_ = [("family", ctypes.c_int), ("formula", ctypes.c_char_p)] + \
               [(k, ctypes.c_double) for k in ("deviance", "null_deviance", "aic", "dispersion",
                                               "df_residual", "df_null")] + \
               [("rank", ctypes.c_int), ("iterations", ctypes.c_int),
                ("n_used", ctypes.c_size_t), ("n_dropped", ctypes.c_size_t),
                ("converged", ctypes.c_int), ("t_statistic", ctypes.c_int)]


EVAL_MAX_TOP = 16


class EvalParams(ctypes.Structure):
    _fields_ = [("family", ctypes.c_int), ("conf_level", ctypes.c_double),
                ("n_bins", ctypes.c_int), ("n_top", ctypes.c_size_t),
                ("top_frac", ctypes.c_double * EVAL_MAX_TOP),
                ("nb_min", ctypes.c_double), ("nb_max", ctypes.c_double),
                ("nb_step", ctypes.c_double), ("curve_bins", ctypes.c_int),
                ("curve_bw", ctypes.c_double), ("min_level_n", ctypes.c_double),
                ("min_level_events", ctypes.c_double), ("max_iter", ctypes.c_int),
                ("tol", ctypes.c_double), ("disclosure", ctypes.c_int),
                ("sdc_suppress_max", ctypes.c_double), ("sdc_round_to", ctypes.c_double)]


def _doubles(*names):
    return [(k, ctypes.c_double) for k in names]


class EvalBin(ctypes.Structure):
    _fields_ = _doubles("n", "observed", "expected", "p_min", "p_max")


class EvalYield(ctypes.Structure):
    _fields_ = _doubles("frac", "n_flagged", "observed", "sensitivity", "ppv", "nns", "p_cut")


class EvalNb(ctypes.Structure):
    _fields_ = _doubles("threshold", "nb_model", "nb_all")


class EvalCurvePt(ctypes.Structure):
    _fields_ = _doubles("n", "lp_mean", "p_pred", "obs_bin", "obs_smooth")


METRIC_NAMES = ("n", "observed", "expected", "n_events", "c", "c_se", "c_lo", "c_hi", "oe",
                "oe_lo", "oe_hi", "citl", "citl_se", "citl_lo", "citl_hi", "cal_a", "cal_a_se",
                "slope", "slope_se", "slope_lo", "slope_hi", "brier", "brier_scaled", "deviance",
                "null_deviance", "pseudo_r2", "hl_chi2", "hl_p")


class EvalMetrics(ctypes.Structure):
    _fields_ = [("n_rows", ctypes.c_size_t)] + _doubles(*METRIC_NAMES) + \
               [("hl_df", ctypes.c_int), ("n_bins", ctypes.c_int),
                ("bins", ctypes.POINTER(EvalBin)), ("n_top", ctypes.c_size_t),
                ("top", ctypes.POINTER(EvalYield)), ("n_nb", ctypes.c_size_t),
                ("nb", ctypes.POINTER(EvalNb)), ("n_curve", ctypes.c_size_t),
                ("curve", ctypes.POINTER(EvalCurvePt)), ("flags", ctypes.c_uint)]


class EvalBy(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("codes", c_int32_p), ("n_levels", ctypes.c_size_t),
                ("levels", c_char_pp)]


class EvalInput(ctypes.Structure):
    _fields_ = [("n", ctypes.c_size_t), ("y", c_double_p), ("p", c_double_p), ("w", c_double_p),
                ("n_by", ctypes.c_size_t), ("by", ctypes.POINTER(EvalBy))]


class EvalGroup(ctypes.Structure):
    _fields_ = [("by", ctypes.c_char_p), ("level", ctypes.c_char_p), ("m", EvalMetrics)]


class EvalReport(ctypes.Structure):
    _fields_ = [("params", EvalParams), ("overall", EvalMetrics), ("n_groups", ctypes.c_size_t),
                ("groups", ctypes.POINTER(EvalGroup))]


class ValidateParams(ctypes.Structure):
    _fields_ = [("seed", ctypes.c_uint64), ("B", ctypes.c_int), ("k", ctypes.c_int),
                ("train_frac", ctypes.c_double), ("parallel", ctypes.c_int)]


class EvalCore(ctypes.Structure):
    _fields_ = _doubles("c", "slope", "intercept", "citl", "brier")


class BootstrapResult(ctypes.Structure):
    _fields_ = [("B", ctypes.c_int), ("seed", ctypes.c_uint64), ("apparent", EvalCore),
                ("optimism", EvalCore), ("corrected", EvalCore),
                ("boot", ctypes.POINTER(EvalCore)), ("orig", ctypes.POINTER(EvalCore))]


# C name -> ctypes structure, for the layout check in the tests.
STRUCTS = {
    "strata_column_info": ColumnInfo, "strata_glm_params": GlmParams, "strata_coef": Coef,
    "strata_fit_summary": FitSummary, "strata_eval_params": EvalParams,
    "strata_eval_bin": EvalBin, "strata_eval_yield": EvalYield, "strata_eval_nb": EvalNb,
    "strata_eval_curve_pt": EvalCurvePt, "strata_eval_metrics": EvalMetrics,
    "strata_eval_by": EvalBy, "strata_eval_input": EvalInput, "strata_eval_group": EvalGroup,
    "strata_eval_report": EvalReport, "strata_validate_params": ValidateParams,
    "strata_eval_core": EvalCore, "strata_bootstrap_result": BootstrapResult,
}

LOG_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p)

P = ctypes.c_void_p
S = ctypes.c_int  # strata_status
SIG = {
    "strata_version": (ctypes.c_char_p, []),
    "strata_build_info": (None, [ctypes.c_char_p, ctypes.c_size_t]),
    "strata_status_str": (ctypes.c_char_p, [ctypes.c_int]),
    "strata_ctx_new": (S, [ctypes.POINTER(P)]),
    "strata_ctx_free": (None, [P]),
    "strata_ctx_set_threads": (None, [P, ctypes.c_int]),
    "strata_ctx_threads": (ctypes.c_int, [P]),
    "strata_ctx_set_log": (None, [P, LOG_FN, P, ctypes.c_int]),
    "strata_ctx_errmsg": (ctypes.c_char_p, [P]),
    "strata_ctx_clear_error": (None, [P]),
    "strata_ctx_warnings": (ctypes.c_size_t, [P]),
    "strata_dtype_name": (ctypes.c_char_p, [ctypes.c_int]),
    "strata_role_name": (ctypes.c_char_p, [ctypes.c_int]),
    "strata_cohort_open": (S, [P, ctypes.c_char_p, ctypes.POINTER(P)]),
    "strata_cohort_close": (None, [P]),
    "strata_cohort_nrows": (ctypes.c_size_t, [P]),
    "strata_cohort_ncols": (ctypes.c_size_t, [P]),
    "strata_cohort_column": (ctypes.POINTER(ColumnInfo), [P, ctypes.c_size_t]),
    "strata_cohort_find": (S, [P, P, ctypes.c_char_p, ctypes.POINTER(ctypes.c_size_t)]),
    "strata_cohort_attr": (ctypes.c_char_p, [P, ctypes.c_char_p]),
    "strata_cohort_read_f64": (S, [P, P, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_size_t,
                                   c_double_p]),
    "strata_cohort_read_i32": (S, [P, P, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_size_t,
                                   c_int32_p]),
    "strata_cohort_read_i64": (S, [P, P, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_size_t,
                                   c_int64_p]),
    "strata_family_parse": (S, [P, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int)]),
    "strata_family_name": (ctypes.c_char_p, [ctypes.c_int]),
    "strata_glm_params_init": (None, [ctypes.POINTER(GlmParams)]),
    "strata_glm_fit": (S, [P, P, ctypes.POINTER(GlmParams), ctypes.POINTER(P)]),
    "strata_model_free": (None, [P, P]),
    "strata_model_nterms": (ctypes.c_size_t, [P]),
    "strata_model_term": (ctypes.c_char_p, [P, ctypes.c_size_t]),
    "strata_model_coef": (None, [P, ctypes.c_size_t, ctypes.POINTER(Coef)]),
    "strata_model_vcov": (c_double_p, [P]),
    "strata_model_summary": (None, [P, ctypes.POINTER(FitSummary)]),
    "strata_model_provenance": (ctypes.c_char_p, [P, ctypes.c_char_p]),
    "strata_model_save": (S, [P, P, ctypes.c_char_p]),
    "strata_model_load": (S, [P, ctypes.c_char_p, ctypes.POINTER(P)]),
    "strata_score": (S, [P, P, P, ctypes.c_int, c_double_p, c_double_p]),
    "strata_eval_params_init": (None, [ctypes.POINTER(EvalParams)]),
    "strata_evaluate": (S, [P, ctypes.POINTER(EvalInput), ctypes.POINTER(EvalParams),
                            ctypes.POINTER(ctypes.POINTER(EvalReport))]),
    "strata_eval_report_free": (None, [P, ctypes.POINTER(EvalReport)]),
    "strata_validate_params_init": (None, [ctypes.POINTER(ValidateParams)]),
    "strata_evaluate_bootstrap_glm": (S, [P, P, P, ctypes.c_char_p, c_double_p, ctypes.c_int,
                                          ctypes.POINTER(ValidateParams),
                                          ctypes.POINTER(BootstrapResult)]),
    "strata_bootstrap_result_free": (None, [P, ctypes.POINTER(BootstrapResult)]),
}


def declare(lib):
    for name, (res, args) in SIG.items():
        f = getattr(lib, name)
        f.restype = res
        f.argtypes = args
    return lib
