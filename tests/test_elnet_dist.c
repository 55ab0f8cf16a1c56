/* labels: unit determinism */
/* tests/test_elnet_dist.c — the elastic net across ranks (docs/scale.md,
 * "The distributed elastic net") without MPI: K threads, each a "rank" with a
 * communicator of in-memory collectives (tests/thread_comm.c), each holding only the
 * rows of its chunks, must give the path of one process byte for byte (every
 * lambda, coefficient, deviance ratio, the null deviance and the pass counts),
 * for K = 2, 3 and 17 (more ranks than chunks), and agree on a data error,
 * naming the row of the whole problem. The CV with its fits dealt round the
 * ranks (every rank holding all rows) must give one process's full path and
 * curve on every rank, for K = 2, 3 and 7 (more ranks than fits), and a
 * failing fold must be reported as one process reports it (the first failing
 * fit's error). The MPI build's tests/mpi_compare.sh does the same through
 * `mpirun` and the cohort's collective reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include "elnet_internal.h"
#include "thread_comm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAXR 17
#define N 3001
#define P 9

/* ---- the problem ------------------------------------------------------------ */
typedef struct problem {
    strata_family fam;
    double X[N * P], y[N], w[N], off[N];
    int weights, offset;
} problem;

static unsigned long long rng = 88172645463325252ULL;
static double unif(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return ((double)(rng >> 11) + 0.5) / 9007199254740992.0;
}

/* Columns: 0..3 N(0,1)-ish, 4..6 0/1 flags, 7 a skewed count, 8 constant. */
static void make(problem *pr, strata_family fam, int weights, int offset)
{
    pr->fam = fam;
    pr->weights = weights;
    pr->offset = offset;
    for (size_t i = 0; i < N; i++) {
        double eta = -0.5;
        for (size_t j = 0; j < P; j++) {
            double x = j < 4 ? unif() + unif() + unif() - 1.5 : j < 7 ? (double)(unif() < 0.2 + 0.1 * (double)j / 7)
                       : j == 7 ? floor(-3 * log(unif())) : 1;
            pr->X[j * N + i] = x;
            eta += (j < 5 ? 0.6 / (1.0 + (double)j) : 0.0) * x;
        }
        pr->off[i] = offset ? 0.3 * (unif() - 0.5) : 0;
        eta += pr->off[i];
        pr->w[i] = weights ? (double)(1 + (i % 4)) * 0.5 : 1;
        if (fam == STRATA_FAMILY_BINOMIAL)
            pr->y[i] = unif() < 1 / (1 + exp(-eta));
        else if (fam == STRATA_FAMILY_POISSON)
            pr->y[i] = floor(-log(unif()) * exp(eta));
        else
            pr->y[i] = eta + unif() - 0.5;
    }
}

static void params(const problem *pr, elnet_params *prm)
{
    elnet_params_init(prm);
    prm->family = pr->fam;
    prm->alpha = 0.7;
    prm->nlambda = 40;
    prm->thresh = 1e-10;
}

/* ---- one rank ------------------------------------------------------------------ */
typedef struct ranks_job {
    const problem *pr;
    const elnet_path *one; /* the one-process path each rank's must equal, or NULL */
    strata_status st[MAXR];
    int same[MAXR];
    char msg[MAXR][STRATA_ERRMSG_MAX];
} ranks_job;

static int same_path(const elnet_path *a, const elnet_path *b)
{
    return a->nlam == b->nlam && a->nulldev == b->nulldev && a->npasses == b->npasses &&
           a->ngram == b->ngram && a->nscan == b->nscan && a->converged == b->converged &&
           !memcmp(a->lambda, b->lambda, a->nlam * sizeof *a->lambda) &&
           !memcmp(a->a0, b->a0, a->nlam * sizeof *a->a0) &&
           !memcmp(a->beta, b->beta, a->nlam * a->p * sizeof *a->beta) &&
           !memcmp(a->dev_ratio, b->dev_ratio, a->nlam * sizeof *a->dev_ratio) &&
           !memcmp(a->df, b->df, a->nlam * sizeof *a->df);
}

/* Rank r's rows of the problem (those of its chunks) copied out, then the fit
 * (tests/thread_comm.c runs it on K threads as ranks). */
static void rank_main(strata_ctx *ctx, int r, void *arg)
{
    ranks_job *j = arg;
    const problem *pr = j->pr;
    const strata_comm *comm = strata_ctx_comm(ctx);
    elnet_slab sl;
    elnet_params prm;
    elnet_path *path = NULL;
    elnet_slab_make(comm, N, &sl);
    size_t n = elnet_slab_rows(&sl), r0 = sl.row0;
    double *X = malloc((n * P + 1) * sizeof *X), *y = malloc((3 * n + 1) * sizeof *y);
    for (size_t c = 0; c < P; c++)
        memcpy(X + c * n, pr->X + c * N + r0, n * sizeof *X);
    memcpy(y, pr->y + r0, n * sizeof *y);
    memcpy(y + n, pr->w + r0, n * sizeof *y);
    memcpy(y + 2 * n, pr->off + r0, n * sizeof *y);
    elnet_data d = {n, P, X, n, y, pr->weights ? y + n : NULL, pr->offset ? y + 2 * n : NULL, sl, NULL};
    params(pr, &prm);
    j->st[r] = elnet_path_alloc(ctx, P, prm.nlambda, &path);
    if (j->st[r] == STRATA_OK)
        j->st[r] = elnet_fit(ctx, &d, &prm, path);
    snprintf(j->msg[r], sizeof j->msg[r], "%s", strata_ctx_errmsg(ctx));
    j->same[r] = j->st[r] == STRATA_OK && j->one && same_path(j->one, path);
    elnet_path_free(ctx, path);
    free(X);
    free(y);
}

/* Runs K ranks of fn; none may wait for a collective the others left, and
 * every message must be taken with the size sent. */
static void run_ranks_of(int K, void (*fn)(strata_ctx *, int, void *), void *arg)
{
    tc_stats ts;
    tc_run(K, fn, arg, &ts);
    assert_false(ts.broken);
    assert_int_equal(ts.bad_size, 0);
    assert_int_equal(ts.unread, 0);
}

static void check_family(strata_family fam, int weights, int offset, const char *what)
{
    static problem pr;
    static ranks_job j;
    strata_ctx *ctx = tu_ctx();
    elnet_params prm;
    elnet_path *one = NULL;
    make(&pr, fam, weights, offset);
    params(&pr, &prm);
    elnet_data d = {N, P, pr.X, N, pr.y, weights ? pr.w : NULL, offset ? pr.off : NULL, {NULL, 0, 0, 0, 0}, NULL};
    assert_status(ctx, elnet_path_alloc(ctx, P, prm.nlambda, &one), STRATA_OK);
    assert_status(ctx, elnet_fit(ctx, &d, &prm, one), STRATA_OK);
    assert_true(one->nlam >= 5);           /* a real path, not a degenerate one */
    assert_true(one->df[one->nlam - 1] >= 5);
    const int Ks[] = {2, 3, MAXR};
    for (size_t k = 0; k < sizeof Ks / sizeof *Ks; k++) {
        memset(&j, 0, sizeof j);
        j.pr = &pr;
        j.one = one;
        run_ranks_of(Ks[k], rank_main, &j);
        for (int r = 0; r < Ks[k]; r++) {
            if (j.st[r] != STRATA_OK)
                fail_msg("%s: K = %d, rank %d: %s", what, Ks[k], r, j.msg[r]);
            if (!j.same[r])
                fail_msg("%s: K = %d, rank %d: the path differs from one process's", what, Ks[k], r);
        }
    }
    elnet_path_free(ctx, one);
    strata_ctx_free(ctx);
}

static void test_elnet_dist__binomial_weights_offset_same_bytes_as_one_process(void **state)
{
    (void)state;
    check_family(STRATA_FAMILY_BINOMIAL, 1, 1, "binomial, weights, offset");
}

static void test_elnet_dist__gaussian_weights_same_bytes_as_one_process(void **state)
{
    (void)state;
    check_family(STRATA_FAMILY_GAUSSIAN, 1, 0, "gaussian, weights");
}

static void test_elnet_dist__poisson_offset_same_bytes_as_one_process(void **state)
{
    (void)state;
    check_family(STRATA_FAMILY_POISSON, 0, 1, "poisson, offset");
}

/* A negative weight among rank 2's rows: every rank fails with the message of
 * one process, naming the row of the whole problem. */
/* ---- CV across ranks ---------------------------------------------------------- */
#define CV_K 5
typedef struct cv_job {
    const problem *pr;
    const elnet_path *one;
    const elnet_cv *ocv;
    const int *foldid; /* given fold ids, or NULL (from the seed) */
    strata_status st[MAXR];
    int same[MAXR];
    char msg[MAXR][STRATA_ERRMSG_MAX];
} cv_job;

static int same_cv(const elnet_cv *a, const elnet_cv *b)
{
    return a->nlam == b->nlam && a->idx_min == b->idx_min && a->idx_1se == b->idx_1se &&
           a->measure == b->measure && !memcmp(&a->lambda_min, &b->lambda_min, sizeof a->lambda_min) &&
           !memcmp(&a->lambda_1se, &b->lambda_1se, sizeof a->lambda_1se) &&
           !memcmp(a->lambda, b->lambda, a->nlam * sizeof *a->lambda) &&
           !memcmp(a->cvm, b->cvm, a->nlam * sizeof *a->cvm) && !memcmp(a->cvsd, b->cvsd, a->nlam * sizeof *a->cvsd) &&
           !memcmp(a->nzero, b->nzero, a->nlam * sizeof *a->nzero);
}

/* One process (comm NULL) or a rank: the CV on the whole problem. */
static strata_status cv_whole(strata_ctx *ctx, const problem *pr, const int *foldid, elnet_path **path,
                              elnet_cv *cv)
{
    elnet_params prm;
    elnet_data d = {N, P, pr->X, N, pr->y, pr->weights ? pr->w : NULL, pr->offset ? pr->off : NULL,
                    {NULL, 0, 0, 0, 0}, NULL};
    params(pr, &prm);
    memset(cv, 0, sizeof *cv);
    STRATA_TRY(elnet_path_alloc(ctx, P, prm.nlambda, path));
    return elnet_cv_run(ctx, &d, &prm, CV_K, foldid, 7, ELNET_MEASURE_DEFAULT, *path, cv);
}

static void cv_rank_main(strata_ctx *ctx, int r, void *arg)
{
    cv_job *j = arg;
    elnet_path *path = NULL;
    elnet_cv cv;
    strata_ctx_set_threads(ctx, 1 + r % 2); /* threads inside a rank change nothing */
    j->st[r] = cv_whole(ctx, j->pr, j->foldid, &path, &cv);
    snprintf(j->msg[r], sizeof j->msg[r], "%s", strata_ctx_errmsg(ctx));
    j->same[r] = j->st[r] == STRATA_OK && j->one && same_path(j->one, path) && same_cv(j->ocv, &cv);
    elnet_cv_free(ctx, &cv);
    elnet_path_free(ctx, path);
}

static void test_elnet_dist__cv_folds_dealt_round_ranks_same_bytes_as_one_process(void **state)
{
    static problem pr;
    static cv_job j;
    strata_ctx *ctx = tu_ctx();
    elnet_path *one = NULL;
    elnet_cv ocv;
    (void)state;
    make(&pr, STRATA_FAMILY_BINOMIAL, 1, 1);
    assert_status(ctx, cv_whole(ctx, &pr, NULL, &one, &ocv), STRATA_OK);
    assert_int_equal(ocv.nlam, one->nlam);
    assert_true(ocv.idx_1se < ocv.idx_min && ocv.idx_min > 0); /* a real curve: a minimum inside */
    const int Ks[] = {2, 3, 7};
    for (size_t k = 0; k < sizeof Ks / sizeof *Ks; k++) {
        memset(&j, 0, sizeof j);
        j.pr = &pr, j.one = one, j.ocv = &ocv;
        run_ranks_of(Ks[k], cv_rank_main, &j);
        for (int r = 0; r < Ks[k]; r++) {
            if (j.st[r] != STRATA_OK)
                fail_msg("cv: K = %d, rank %d: %s", Ks[k], r, j.msg[r]);
            if (!j.same[r])
                fail_msg("cv: K = %d, rank %d: the path or curve differs from one process's", Ks[k], r);
        }
    }
    elnet_cv_free(ctx, &ocv);
    elnet_path_free(ctx, one);
    strata_ctx_free(ctx);
}

/* Fold 3 holds every event and fold 4 every non-event (given fold ids; folds
 * 1, 2 and 5 are empty): the fits of folds 3 and 4 see one class only and
 * fail. One process reports fold 3's error; so must every rank, with fold 3 on
 * rank 1 and fold 4 on rank 0 (K = 2: the lowest failing rank is not the
 * first failing fold) or on ranks 0 and 1 (K = 3). */
static void test_elnet_dist__cv_failing_fold_reported_as_one_process(void **state)
{
    static problem pr;
    static cv_job j;
    static int foldid[N];
    strata_ctx *ctx = tu_ctx();
    elnet_path *one = NULL;
    elnet_cv ocv;
    char want[STRATA_ERRMSG_MAX];
    (void)state;
    make(&pr, STRATA_FAMILY_BINOMIAL, 0, 0);
    for (size_t i = 0; i < N; i++)
        foldid[i] = pr.y[i] > 0.5 ? 3 : 4;
    strata_status want_st = cv_whole(ctx, &pr, foldid, &one, &ocv);
    assert_int_not_equal(want_st, STRATA_OK);
    snprintf(want, sizeof want, "%s", strata_ctx_errmsg(ctx));
    want[strcspn(want, "[")] = 0; /* (debug builds append [file:line], another on the ranks told) */
    const int Ks[] = {2, 3};
    for (size_t k = 0; k < sizeof Ks / sizeof *Ks; k++) {
        memset(&j, 0, sizeof j);
        j.pr = &pr, j.foldid = foldid;
        run_ranks_of(Ks[k], cv_rank_main, &j);
        for (int r = 0; r < Ks[k]; r++) {
            assert_int_equal(j.st[r], want_st);
            if (strncmp(j.msg[r], want, strlen(want)) || strlen(want) < 20)
                fail_msg("cv error, K = %d, rank %d: '%s', not '%s'", Ks[k], r, j.msg[r], want);
        }
    }
    elnet_cv_free(ctx, &ocv);
    elnet_path_free(ctx, one);
    strata_ctx_free(ctx);
}

static void test_elnet_dist__data_error_agreed_naming_the_whole_row(void **state)
{
    static problem pr;
    static ranks_job j;
    (void)state;
    make(&pr, STRATA_FAMILY_BINOMIAL, 1, 0);
    pr.w[2500] = -1;
    memset(&j, 0, sizeof j);
    j.pr = &pr;
    run_ranks_of(3, rank_main, &j);
    for (int r = 0; r < 3; r++) {
        assert_int_equal(j.st[r], STRATA_EDATA);
        const char *want = "elnet: weight of row 2500 is -1 (must be finite, >= 0)";
        if (strncmp(j.msg[r], want, strlen(want))) /* (debug builds append file:line) */
            fail_msg("rank %d: '%s', not '%s'", r, j.msg[r], want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_elnet_dist__binomial_weights_offset_same_bytes_as_one_process),
        cmocka_unit_test(test_elnet_dist__gaussian_weights_same_bytes_as_one_process),
        cmocka_unit_test(test_elnet_dist__poisson_offset_same_bytes_as_one_process),
        cmocka_unit_test(test_elnet_dist__data_error_agreed_naming_the_whole_row),
        cmocka_unit_test(test_elnet_dist__cv_folds_dealt_round_ranks_same_bytes_as_one_process),
        cmocka_unit_test(test_elnet_dist__cv_failing_fold_reported_as_one_process),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
