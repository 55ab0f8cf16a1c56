/* labels: unit determinism */
/* tests/test_elnet_dist.c — the elastic net across ranks (docs/scale.md,
 * "The distributed elastic net") without MPI: K threads, each a "rank" with a
 * communicator of pthread barriers (engine/core/comm.h), each holding only the
 * rows of its chunks, must give the path of one process byte for byte (every
 * lambda, coefficient, deviance ratio, the null deviance and the pass counts),
 * for K = 2, 3 and 17 (more ranks than chunks), and agree on a data error,
 * naming the row of the whole problem. The MPI build's tests/mpi_compare.sh
 * does the same through `mpirun` and the cohort's collective reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include "comm.h"
#include "elnet_internal.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAXR 17
#define N 3001
#define P 9

/* ---- a communicator of threads ------------------------------------------- */
/* Ranks that diverge (different decisions, so different collectives) must not
 * hang the test: a wait of more than 10 s breaks the world, and every
 * collective after it fails. */
typedef struct world {
    int size;
    void *ptr[MAXR];          /* each rank's buffer of the current collective */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int count;                /* ranks at the barrier */
    unsigned gen;             /* barriers passed */
    int broken;
    double box[MAXR];         /* one message in flight per receiver (the carried sums) */
    int full[MAXR];
} world;

typedef struct rank_ud {
    world *w;
    int rank;
} rank_ud;

/* Waits (mu held) for cond() or the deadline; 0, or -1 when the world broke. */
static int wait_until(world *w, int (*cond)(world *, const void *), const void *arg)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 10;
    while (!w->broken && !cond(w, arg))
        if (pthread_cond_timedwait(&w->cv, &w->mu, &dl) != 0) {
            w->broken = 1;
            pthread_cond_broadcast(&w->cv);
        }
    return w->broken ? -1 : 0;
}

static int gen_moved(world *w, const void *gen) { return w->gen != *(const unsigned *)gen; }

static strata_status barrier(world *w)
{
    int rc = 0;
    pthread_mutex_lock(&w->mu);
    unsigned gen = w->gen;
    if (++w->count == w->size) {
        w->count = 0;
        w->gen++;
        pthread_cond_broadcast(&w->cv);
    } else {
        rc = wait_until(w, gen_moved, &gen);
    }
    pthread_mutex_unlock(&w->mu);
    return rc ? STRATA_EIO : STRATA_OK;
}

static strata_status t_allgatherv(void *ud, const void *send, void *recv, const size_t *counts, const size_t *displs)
{
    rank_ud *u = ud;
    world *w = u->w;
    if (send)
        return STRATA_EINTERNAL; /* the elastic net gathers in place */
    w->ptr[u->rank] = recv;
    STRATA_TRY(barrier(w));
    for (int r = 0; r < w->size; r++)
        if (r != u->rank && counts[r])
            memcpy((char *)recv + displs[r], (char *)w->ptr[r] + displs[r], counts[r]);
    return barrier(w);
}

static strata_status t_bcast(void *ud, void *buf, size_t n, int root)
{
    rank_ud *u = ud;
    world *w = u->w;
    w->ptr[u->rank] = buf;
    STRATA_TRY(barrier(w));
    if (u->rank != root)
        memcpy(buf, w->ptr[root], n);
    return barrier(w);
}

static int box_empty(world *w, const void *to) { return !w->full[*(const int *)to]; }
static int box_full(world *w, const void *me) { return w->full[*(const int *)me]; }

static strata_status t_send(void *ud, const void *buf, size_t n, int to)
{
    world *w = ((rank_ud *)ud)->w;
    int rc;
    if (n != sizeof(double))
        return STRATA_EINTERNAL;
    pthread_mutex_lock(&w->mu);
    if ((rc = wait_until(w, box_empty, &to)) == 0) {
        memcpy(&w->box[to], buf, n);
        w->full[to] = 1;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return rc ? STRATA_EIO : STRATA_OK;
}

static strata_status t_recv(void *ud, void *buf, size_t n, int from)
{
    rank_ud *u = ud;
    world *w = u->w;
    int rc;
    (void)from;
    if (n != sizeof(double))
        return STRATA_EINTERNAL;
    pthread_mutex_lock(&w->mu);
    if ((rc = wait_until(w, box_full, &u->rank)) == 0) {
        memcpy(buf, &w->box[u->rank], n);
        w->full[u->rank] = 0;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return rc ? STRATA_EIO : STRATA_OK;
}

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
typedef struct rank_job {
    const problem *pr;
    world *w;
    rank_ud ud;
    strata_comm comm;
    strata_ctx *ctx;
    elnet_path *path;
    strata_status st;
    char msg[STRATA_ERRMSG_MAX];
} rank_job;

/* Rank r's rows of the problem (those of its chunks) copied out, then the fit. */
static void *rank_main(void *arg)
{
    rank_job *j = arg;
    const problem *pr = j->pr;
    strata_ctx *ctx = NULL;
    elnet_slab sl;
    j->ctx = NULL;
    elnet_params prm;
    if (strata_ctx_new(&ctx) != STRATA_OK) {
        j->st = STRATA_ENOMEM;
        return NULL;
    }
    strata_ctx_set_threads(ctx, 1);
    strata_ctx_set_comm(ctx, &j->comm);
    elnet_slab_make(&j->comm, N, &sl);
    size_t n = elnet_slab_rows(&sl), r0 = sl.row0;
    double *X = malloc((n * P + 1) * sizeof *X), *y = malloc((3 * n + 1) * sizeof *y);
    for (size_t c = 0; c < P; c++)
        memcpy(X + c * n, pr->X + c * N + r0, n * sizeof *X);
    memcpy(y, pr->y + r0, n * sizeof *y);
    memcpy(y + n, pr->w + r0, n * sizeof *y);
    memcpy(y + 2 * n, pr->off + r0, n * sizeof *y);
    elnet_data d = {n, P, X, n, y, pr->weights ? y + n : NULL, pr->offset ? y + 2 * n : NULL, sl};
    params(pr, &prm);
    j->st = elnet_path_alloc(ctx, P, prm.nlambda, &j->path);
    if (j->st == STRATA_OK)
        j->st = elnet_fit(ctx, &d, &prm, j->path);
    snprintf(j->msg, sizeof j->msg, "%s", strata_ctx_errmsg(ctx));
    free(X);
    free(y);
    j->ctx = ctx; /* freed with the path by the caller */
    return NULL;
}

/* Runs K ranks; jobs[r].path their paths. */
static void run_ranks(const problem *pr, int K, rank_job *jobs, world *w)
{
    pthread_t th[MAXR];
    memset(w, 0, sizeof *w);
    w->size = K;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    for (int r = 0; r < K; r++) {
        memset(&jobs[r], 0, sizeof jobs[r]);
        jobs[r].pr = pr;
        jobs[r].w = w;
        jobs[r].ud = (rank_ud){w, r};
        jobs[r].comm = (strata_comm){r, K, &jobs[r].ud, t_allgatherv, t_bcast, t_send, t_recv,
                                     NULL, NULL, "threads", "test: K ranks", 1};
        assert_int_equal(pthread_create(&th[r], NULL, rank_main, &jobs[r]), 0);
    }
    for (int r = 0; r < K; r++)
        pthread_join(th[r], NULL);
    assert_false(w->broken); /* no rank waited for a collective the others left */
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
}

static void assert_same_path(const elnet_path *a, const elnet_path *b, const char *what, int K, int r)
{
    int same = a->nlam == b->nlam && a->nulldev == b->nulldev && a->npasses == b->npasses &&
               a->ngram == b->ngram && a->nscan == b->nscan && a->converged == b->converged &&
               !memcmp(a->lambda, b->lambda, a->nlam * sizeof *a->lambda) &&
               !memcmp(a->a0, b->a0, a->nlam * sizeof *a->a0) &&
               !memcmp(a->beta, b->beta, a->nlam * a->p * sizeof *a->beta) &&
               !memcmp(a->dev_ratio, b->dev_ratio, a->nlam * sizeof *a->dev_ratio) &&
               !memcmp(a->df, b->df, a->nlam * sizeof *a->df);
    if (!same)
        fail_msg("%s: K = %d, rank %d: the path differs from one process's (%zu vs %zu lambdas, passes %d vs %d)",
                 what, K, r, b->nlam, a->nlam, b->npasses, a->npasses);
}

static void check_family(strata_family fam, int weights, int offset, const char *what)
{
    static problem pr;
    static rank_job jobs[MAXR];
    static world w;
    strata_ctx *ctx = tu_ctx();
    elnet_params prm;
    elnet_path *one = NULL;
    make(&pr, fam, weights, offset);
    params(&pr, &prm);
    elnet_data d = {N, P, pr.X, N, pr.y, weights ? pr.w : NULL, offset ? pr.off : NULL, {NULL, 0, 0, 0, 0}};
    assert_status(ctx, elnet_path_alloc(ctx, P, prm.nlambda, &one), STRATA_OK);
    assert_status(ctx, elnet_fit(ctx, &d, &prm, one), STRATA_OK);
    assert_true(one->nlam >= 5);           /* a real path, not a degenerate one */
    assert_true(one->df[one->nlam - 1] >= 5);
    const int Ks[] = {2, 3, MAXR};
    for (size_t k = 0; k < sizeof Ks / sizeof *Ks; k++) {
        run_ranks(&pr, Ks[k], jobs, &w);
        for (int r = 0; r < Ks[k]; r++) {
            if (jobs[r].st != STRATA_OK)
                fail_msg("%s: K = %d, rank %d: %s", what, Ks[k], r, jobs[r].msg);
            assert_same_path(one, jobs[r].path, what, Ks[k], r);
            elnet_path_free(jobs[r].ctx, jobs[r].path);
            strata_ctx_free(jobs[r].ctx);
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
static void test_elnet_dist__data_error_agreed_naming_the_whole_row(void **state)
{
    static problem pr;
    static rank_job jobs[MAXR];
    static world w;
    (void)state;
    make(&pr, STRATA_FAMILY_BINOMIAL, 1, 0);
    pr.w[2500] = -1;
    run_ranks(&pr, 3, jobs, &w);
    for (int r = 0; r < 3; r++) {
        assert_int_equal(jobs[r].st, STRATA_EDATA);
        const char *want = "elnet: weight of row 2500 is -1 (must be finite, >= 0)";
        if (strncmp(jobs[r].msg, want, strlen(want))) /* (debug builds append file:line) */
            fail_msg("rank %d: '%s', not '%s'", r, jobs[r].msg, want);
        elnet_path_free(jobs[r].ctx, jobs[r].path);
        strata_ctx_free(jobs[r].ctx);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_elnet_dist__binomial_weights_offset_same_bytes_as_one_process),
        cmocka_unit_test(test_elnet_dist__gaussian_weights_same_bytes_as_one_process),
        cmocka_unit_test(test_elnet_dist__poisson_offset_same_bytes_as_one_process),
        cmocka_unit_test(test_elnet_dist__data_error_agreed_naming_the_whole_row),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
