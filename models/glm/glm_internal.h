/* models/glm/glm_internal.h — what the GLM's own files (and white-box tests)
 * share: the formula with its frozen levels and knots, the binding of a formula
 * to a source, the design kernel, families and the model's layout; stages see
 * only glm.h. Invariant: deterministic given the source's values; scoring never
 * writes a frozen formula. */
#ifndef STRATA_GLM_INTERNAL_H
#define STRATA_GLM_INTERNAL_H

#include "glm.h"
#include "linalg.h"

#include <stddef.h>
#include <stdint.h>

#define GLM_MAXV 8        /* variables in one interaction term */
#define GLM_MAXVARS 64    /* variables in one formula (a term is a 64-bit mask) */
#define GLM_RCS_MAXK 7

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
    /* design (after glm_design_layout) */
    size_t p;
    glm_col *cols;
    char **colnames;
} glm_formula;

/* glm_formula.c. Parses the formula text; STRATA_ESPEC with the position on a syntax error. */
strata_status glm_formula_parse(strata_ctx *ctx, const char *text, glm_formula **out);
/* Adds the weights column as a (numeric) variable. */
strata_status glm_formula_set_weights(strata_ctx *ctx, glm_formula *f, const char *col);
void glm_formula_free(strata_ctx *ctx, glm_formula *f);

/* ---- binding (glm_bind.c) -------------------------------------------------- */
/* One variable bound to a source. */
typedef struct glm_varbind {
    size_t src_col;  /* source column, or (size_t)-1 when not read (response and weights when scoring) */
    size_t n_codes;  /* factor: the source's level count */
    int *code_map;   /* factor: source code -> level index; -1 unseen (an error when met) */
} glm_varbind;

/* A formula's variables (glm_vars.c): the source columns of its right-hand
 * side numbered by first use in the design, and which of them design column
 * j is a product of (the model-level glm_model_nvars/_var/_term_vars). */
size_t glm_formula_nvars(const glm_formula *f);
const char *glm_formula_var(const glm_formula *f, size_t v, int *is_factor);
size_t glm_formula_term_vars(const glm_formula *f, size_t j, size_t *vars, size_t max);

/* Design rows [row0, row0 + n) of a formula bound to src (vb), row-major n x
 * f->p, built nb0 rows at a time (glm_design_rows for a GLM binding; the Cox
 * model's reasons use it too). */
strata_status glm_formula_design_rows(strata_ctx *ctx, const glm_formula *f, const glm_varbind *vb,
                                      const glm_source *src, size_t nb0, size_t row0, size_t n,
                                      double *X);

struct glm_binding {
    const glm_model *m;   /* the model scored (NULL while fitting) */
    const glm_formula *f;
    glm_source src;       /* a copy of the caller's source */
    glm_varbind *vb;      /* f->nvars */
};

/* Binds a formula being fitted: resolves columns (STRATA_ESPEC naming an
 * unknown one), marks factors, takes the source's levels as provisional levels
 * with an identity code map (glm_freeze keeps the observed ones). vb: f->nvars. */
strata_status glm_bind_fit(strata_ctx *ctx, glm_formula *f, const glm_source *src, glm_varbind *vb);
/* Binds a frozen formula for scoring: maps the source's levels onto the frozen
 * ones (unseen per policy); response and weights are not read. f is only read. */
strata_status glm_bind_score(strata_ctx *ctx, const glm_formula *f, const glm_source *src,
                             strata_unseen_policy unseen, glm_varbind *vb);
void glm_varbind_free(strata_ctx *ctx, glm_varbind *vb, size_t nvars); /* accepts NULL */
/* Freezes factor levels (observed in the complete cases, reference first) and
 * knots from the raw fitting columns (raw[v] holds n values of variable v,
 * mask[i] = 1 for complete cases), remaps vb's codes, and lays out the design. */
strata_status glm_freeze(strata_ctx *ctx, glm_formula *f, glm_varbind *vb, double *const *raw,
                         const unsigned char *mask, size_t n);

/* ---- design layout (glm_layout.c) and kernel (glm_design.c) ---------------- */
/* Lays out the design columns with R's names and contrasts once levels and
 * knots are frozen (fit and load). */
strata_status glm_design_layout(strata_ctx *ctx, glm_formula *f);
/* Builds the design of rows [0, nb) of a block, column-major nb x p into X
 * (leading dimension nb). raw[v] points at the block's values of variable v
 * (NULL for a variable not read). work: nb * glm_design_work(f) doubles.
 * Returns 0, or 1 + row (within the block) of the first unseen factor level,
 * its variable in *bad_var. */
size_t glm_design_block(const glm_formula *f, const glm_varbind *vb, double *const *raw, size_t nb,
                        double *X, double *work, int *bad_var);
/* Values computed once per fit instead of per pass (glm_fit.c, in memory
 * only): per variable, its value columns over all n rows (level indices of a
 * factor, x and the basis of a spline, a transform), column stride n; NULL
 * for a variable computed per block or read in place. */
typedef struct glm_vcache {
    size_t n;
    const double *col[GLM_MAXVARS];
    /* a transformed variable whose values in the n rows are all integers in
     * [0, tabn) (tabn <= GLM_VTAB_MAX): its value columns at 0 .. tabn - 1
     * (column stride tabn), looked up per block instead of cached per row */
    const double *tab[GLM_MAXVARS];
    size_t tabn[GLM_MAXVARS];
} glm_vcache;
#define GLM_VTAB_MAX 4096
/* Per variable that design columns js[] (all when js is NULL) use, with a
 * transform (log, log1p, rcs): tabn[v] = 1 + its largest value when every
 * value of its n rows is an integer in [0, GLM_VTAB_MAX) (+0, not -0) and
 * that is at most n, else 0. Returns the doubles the tables need. */
size_t glm_vcache_tables(const glm_formula *f, double *const *raw, size_t n, const size_t *js, size_t nj,
                         size_t *tabn);
/* Fills the tables of tabn into buf (glm_vcache_tables doubles) and vc->tab:
 * the same function of the same values, so the same bytes. */
void glm_vcache_tab_fill(const glm_formula *f, const size_t *tabn, double *buf, glm_vcache *vc);
/* Doubles per row the cache of the variables that design columns js[] (all
 * when js is NULL) use needs, those with a table (tabn[v] > 0; tabn may be
 * NULL) left out. */
size_t glm_vcache_doubles(const glm_formula *f, const size_t *js, size_t nj, const size_t *tabn);
/* Fills buf (n * glm_vcache_doubles) and vc->n, vc->col from raw columns of
 * n rows (not the variables with a table), rows split over nt threads (the
 * values are the per-block ones, byte for byte). */
void glm_vcache_fill(const glm_formula *f, const glm_varbind *vb, double *const *raw, size_t n,
                     const size_t *js, size_t nj, const size_t *tabn, double *buf, int nt,
                     glm_vcache *vc);
/* As glm_design_block, without copying what needs no computing, for the nj
 * design columns js[] (all p when js is NULL; cols[j] of the others
 * untouched): cols[j] gets design column j's nb values, which for a column
 * made of one numeric variable are its values in raw, in the cache or in work
 * (a transform), else column j of X. Only the variables those columns use are
 * computed (the factor-aware pass keeps factor main effects as level codes,
 * and a loop over all p columns per sub-block would cost O(p) when a factor
 * has thousands of levels). vc (may be NULL) holds precomputed values; the
 * block is its rows row0 .. row0 + nb. The pointers are valid until raw, X or
 * work change. */
size_t glm_design_block_list(const glm_formula *f, const glm_varbind *vb, double *const *raw,
                             size_t nb, double *X, double *work, int *bad_var, const double **cols,
                             const size_t *js, size_t nj, const glm_vcache *vc, size_t row0);
/* The factor variable whose level dummy design column j is (a factor main
 * effect: one factor, no other variable), or -1. */
int glm_design_col_factor(const glm_formula *f, size_t j);
/* The variable whose values design column j is, unchanged (a plain numeric
 * column, which glm_design_block_cols reads in place), or -1. */
int glm_design_col_raw(const glm_formula *f, size_t j);
/* Doubles of workspace per block row needed by glm_design_block. */
size_t glm_design_work(const glm_formula *f);
/* Offset of one row (sum of offset terms). */
double glm_offset_value(const glm_formula *f, double *const *raw, size_t i);

/* ---- restricted cubic splines (glm_rcs.c) ------------------------------------ */
/* Restricted cubic spline basis (Harrell, norm 2): the k-2 values of each of
 * x[0..n), value j of row i at out[j * ld + i]. */
void glm_rcs_basis_rows(const double *knots, int k, const double *x, size_t n, size_t ld, double *out);
/* Harrell's default knots for k (3..7) from sorted values xs[0..n). */
strata_status glm_rcs_knots(strata_ctx *ctx, const double *xs, size_t n, int k, double *knots,
                            const char *label);

/* ---- family (glm_family.c) ------------------------------------------------- */
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

/* ---- model (glm_model.c) ---------------------------------------------------- */
#define GLM_NPROV 6
extern const char *const glm_prov_keys[GLM_NPROV]; /* input_path, input_hash, created, ... */

/* The covariance in block form (docs/model-format.md, schema version 2), when
 * one factor's L levels make the Gram's level block diagonal (D): with the q
 * other columns (R) and the cross block B, V = phi [[S^-1, -M^T], [-M, D^-1 +
 * E S^-1 E^T]] with S = C - B^T D^-1 B, E = D^-1 B, M = E S^-1. Stored with the
 * dispersion phi included: dense = phi S^-1, cross = -phi M, ldiag = phi D^-1,
 * and lfac = E, so V[a][b] = (a == b) ldiag[a] - sum_k lfac[a][k] cross[b][k]
 * for levels a, b. An aliased level (no weight) has NaN in its ldiag, cross and
 * lfac rows, so every entry it touches is NaN. */
typedef struct glm_bvcov {
    size_t L, q;
    size_t *lcol;        /* L: the levels' design columns, increasing */
    size_t *rcol;        /* q: the other design columns, increasing */
    double *dense;       /* q x q row-major: covariance of the R columns */
    double *cross;       /* L x q: covariance of level a with R column k */
    double *ldiag;       /* L */
    double *lfac;        /* L x q: E = D^-1 B */
} glm_bvcov;

struct glm_model {
    glm_formula *f;      /* frozen: levels, knots, design layout */
    strata_family family;
    strata_unseen_policy unseen;
    size_t p;
    double *beta;        /* p; aliased NaN */
    double *se;          /* p */
    unsigned char *aliased;
    /* p x p row-major. With bv it is built from bv on the first call of
     * glm_model_vcov (through the hook below; published atomically, so
     * concurrent readers of a const model are safe). */
    double *vcov;
    glm_bvcov *bv;       /* the block form, or NULL (then vcov is the covariance) */
    strata_alloc_fn afn; /* the allocation hook the model was made with */
    void *aud;
    strata_fit_summary sum;
    char *prov[GLM_NPROV];
    size_t block_rows;
};

/* glm_model.c: a block covariance with L levels and q other columns (arrays
 * allocated, not filled), and its release (accepts NULL). */
glm_bvcov *glm_bvcov_alloc(strata_ctx *ctx, size_t L, size_t q);
void glm_bvcov_free(strata_ctx *ctx, glm_bvcov *bv);
/* Standard errors of the columns from the block form: sqrt of the diagonal
 * (levels: ldiag[a] - sum_k lfac[a][k] cross[a][k], in k order). */
void glm_bvcov_se(const glm_bvcov *bv, double *se);

/* glm_record.c: a formula's frozen variables as record items (/spec/...: labels,
 * columns, factor flags, levels, knots), shared with the Cox record; and back
 * onto a parsed formula, then its design layout (STRATA_EFORMAT naming the item). */
strata_status glm_spec_export(strata_ctx *ctx, const glm_formula *f, strata_record *r);
strata_status glm_spec_import(strata_ctx *ctx, const strata_record *r, const char *path, glm_formula *f);

/* An empty model (all arrays of size f->p) that owns f on success (on failure
 * the caller still does). */
strata_status glm_model_alloc(strata_ctx *ctx, glm_formula *f, glm_model **out);
/* As glm_model_alloc without the covariance (vcov NULL): the fit hands over
 * its p x p inverse instead of copying it into a zeroed one (at p = 6,220 the
 * zeroing and the copy first-touch 620 MB). */
strata_status glm_model_alloc_novcov(strata_ctx *ctx, glm_formula *f, glm_model **out);

#endif
