/* models/glm/glm_internal.h — what the GLM pieces share: the parsed formula and
 * its frozen data-dependent parts (factor levels, spline knots), the column
 * source the design is built from (a cohort or, in tests, memory), family
 * functions, the linear-algebra wrapper and the fitted model struct.
 * Invariant: everything here is deterministic given the source's values. */
#ifndef STRATA_GLM_INTERNAL_H
#define STRATA_GLM_INTERNAL_H

#include "linalg.h"
#include "strata/model.h"

#include <stddef.h>
#include <stdint.h>

#define GLM_MAXV 8        /* variables in one interaction term */
#define GLM_RCS_MAXK 7

/* ---- column source ----------------------------------------------------- */
typedef struct glm_source {
    void *ud;
    const char *name; /* file name for messages */
    size_t nrows;
    /* Finds a column; STRATA_ESPEC naming it when absent. */
    strata_status (*find)(strata_ctx *ctx, void *ud, const char *col, size_t *j,
                          const strata_column_info **info);
    /* Rows [row0, row0+n) as doubles, NA -> NaN, categorical codes as doubles. */
    strata_status (*read_f64)(strata_ctx *ctx, void *ud, size_t j, size_t row0, size_t n,
                              double *out);
} glm_source;

/* ---- formula ------------------------------------------------------------ */
typedef enum glm_transform { GT_NONE = 0, GT_LOG, GT_LOG1P, GT_RCS } glm_transform;

typedef struct glm_var {
    char *label;      /* R label: "age", "log(x)", "rcs(age, 4)", "sex" */
    char *column;     /* source column */
    glm_transform tr;
    int rcs_k;
    double knots[GLM_RCS_MAXK];
    int knots_set;    /* 1 once knots are frozen */
    char *ref;        /* requested reference level (C(x, ref=L)) or NULL */
    int is_factor;
    size_t n_levels;  /* factor: levels observed in the fit, byte-wise sorted */
    char **levels;
    size_t ref_index; /* index of the reference level in levels */
    size_t ncols;     /* numeric: design columns it expands to (1 or k-1) */
    /* per-source binding (set by glm_bind) */
    size_t src_col;
    size_t n_codes;   /* factor: source code -> level index, -1 unseen, -2 unseen->ref */
    int *code_map;
} glm_var;

typedef struct glm_col {  /* one design column: product over variables */
    int nf;
    int var[GLM_MAXV];
    int sub[GLM_MAXV];     /* numeric: column within var; factor: level index */
} glm_col;

typedef struct glm_term {
    int nv;
    int var[GLM_MAXV];     /* sorted by variable index */
} glm_term;

typedef struct glm_formula {
    char *text;
    int response;          /* variable index of the response */
    int intercept;
    size_t nvars;
    glm_var *vars;
    size_t nterms;
    glm_term *terms;
    size_t noffsets;
    int offsets[GLM_MAXV];
    int weights;           /* variable index or -1 */
    /* design (after glm_design_setup) */
    size_t p;
    glm_col *cols;
    char **colnames;
} glm_formula;

/* Parses the formula text; STRATA_ESPEC with the position on a syntax error. */
strata_status glm_formula_parse(strata_ctx *ctx, const char *text, glm_formula **out);
/* Adds the weights column as a (numeric) variable. */
strata_status glm_formula_set_weights(strata_ctx *ctx, glm_formula *f, const char *col);
void glm_formula_free(strata_ctx *ctx, glm_formula *f);
/* Resolves columns against the source (STRATA_ESPEC naming an unknown one),
 * marks factors and builds code maps. fit = 1 takes levels from the source
 * (observed levels are fixed later by glm_design_setup); fit = 0 maps the
 * source's levels onto the frozen ones (unseen per policy). */
strata_status glm_bind(strata_ctx *ctx, glm_formula *f, const glm_source *src, int fit,
                       strata_unseen_policy unseen);
/* Freezes factor levels and knots from the raw fitting columns (raw[v] holds
 * n values of variable v, mask[i] = 1 for complete cases) and lays out the
 * design columns with R's names and contrasts. */
strata_status glm_design_setup(strata_ctx *ctx, glm_formula *f, double *const *raw,
                               const unsigned char *mask, size_t n);
/* Lays out the design columns once levels and knots are frozen (load). */
strata_status glm_design_layout(strata_ctx *ctx, glm_formula *f);
/* Builds the design of rows [0, nb) of a block, column-major nb x p into X
 * (leading dimension nb). raw[v] points at the block's values of variable v.
 * work: nb * (sum of var widths) doubles. Returns 0, or 1 + row of the first
 * unseen factor level (row index within block) found. */
size_t glm_design_block(const glm_formula *f, double *const *raw, size_t nb, double *X,
                        double *work, int *bad_var);
/* As glm_design_block, without copying what needs no computing: cols[j] gets
 * design column j's nb values, which for a column made of one numeric
 * variable are its values in raw (or in work for a transform), else column j
 * of X. The pointers are valid until raw, X or work change. */
size_t glm_design_block_cols(const glm_formula *f, double *const *raw, size_t nb, double *X,
                             double *work, int *bad_var, const double **cols);
/* The variable whose values design column j is, unchanged (a plain numeric
 * column, which glm_design_block_cols reads in place), or -1. */
int glm_design_col_raw(const glm_formula *f, size_t j);
/* Doubles of workspace per block row needed by glm_design_block. */
size_t glm_design_work(const glm_formula *f);
/* Offset of one row (sum of offset terms). */
double glm_offset_value(const glm_formula *f, double *const *raw, size_t i);
/* Restricted cubic spline basis (Harrell, norm 2): k-2 values for x. */
void glm_rcs_basis(const double *knots, int k, double x, double *out);
/* Harrell's default knots for k (3..7) from sorted values xs[0..n). */
strata_status glm_rcs_knots(strata_ctx *ctx, const double *xs, size_t n, int k, double *knots,
                            const char *label);

/* ---- family ------------------------------------------------------------- */
double glm_linkfun(strata_family f, double mu);
double glm_linkinv(strata_family f, double eta);
double glm_mu_eta(strata_family f, double eta);
double glm_variance(strata_family f, double mu);
double glm_dev_resid(strata_family f, double y, double mu, double wt);
double glm_mustart(strata_family f, double y, double wt);
/* 1 when y is a valid response for the family. */
int glm_valid_y(strata_family f, double y);
const char *glm_valid_y_text(strata_family f);
/* -2 log-likelihood part of R's family$aic (without 2 * rank). */
double glm_aic_row(strata_family f, double y, double mu, double wt, double disp);
double glm_aic_const(strata_family f, double dev, double sum_wt, double sum_logwt, size_t nobs);

/* ---- distributions ------------------------------------------------------ */
double glm_pnorm_upper2(double z);            /* 2 * P(Z > |z|) */
double glm_pt_upper2(double t, double df);    /* 2 * P(T_df > |t|) */
double glm_lbeta_inc(double x, double a, double b); /* regularized I_x(a, b) */

/* ---- model -------------------------------------------------------------- */
#define GLM_NPROV 6
extern const char *const glm_prov_keys[GLM_NPROV];

struct strata_model {
    glm_formula *f;
    strata_family family;
    strata_unseen_policy unseen;
    size_t p;
    double *beta;        /* p; aliased NaN */
    double *se;          /* p */
    unsigned char *aliased;
    double *vcov;        /* p x p row-major */
    strata_fit_summary sum;
    char *prov[GLM_NPROV];
    size_t block_rows;
};

/* Fits the model from a source. On ENOCONV *out holds the partial fit. */
strata_status glm_fit_source(strata_ctx *ctx, const glm_source *src, const strata_glm_params *p,
                             strata_model **out);
/* Scores rows [row0, row0 + n) of the source: reads raw columns (one thread)
 * and computes lp/resp in parallel blocks. The formula must be bound to src. */
strata_status glm_score_source(strata_ctx *ctx, const strata_model *m, const glm_source *src,
                               size_t row0, size_t n, double *lp, double *resp);
/* engine/model/model_glm.c: binds the model's formula to a cohort for scoring. */
strata_status glm_score_bind(strata_ctx *ctx, const strata_model *m, strata_cohort *cohort,
                             strata_unseen_policy unseen, glm_source *src);
/* Rows per streamed chunk when scoring a cohort. */
#define GLM_SCORE_CHUNK ((size_t)1 << 19)
/* Allocates an empty model (all arrays of size p) for load. */
strata_status glm_model_alloc(strata_ctx *ctx, glm_formula *f, strata_model **out);
/* Fills statistic, p, CI for coefficient i. */
void glm_coef_row(const strata_model *m, size_t i, strata_coef *out);

#endif
