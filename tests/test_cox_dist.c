/* labels: unit determinism models */
/* tests/test_cox_dist.c — the Cox fit across ranks (models/cox/cox_dist.c,
 * docs/scale.md "The distributed Cox fit") without MPI: K threads, each a rank
 * with its own context and a communicator of in-memory collectives (barriers and
 * mailboxes), fit colon from a column source with small blocks, so every gather,
 * the spills of tied groups over whole blocks, the exchange of design rows, the
 * carried sums and the robust variance (per row and by cluster) run, here under
 * the sanitizers too. Every rank's result must equal the one-process fit's bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include "cox_internal.h"

#include "cox_testdata.c"

#include <pthread.h>

#define KMAX 4

typedef struct msg {
    void *data;
    size_t n;
    struct msg *next;
} msg;

/* The shared state of the K ranks' collectives. */
typedef struct world {
    int K;
    pthread_barrier_t bar;
    void *buf[KMAX];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    msg *box[KMAX][KMAX]; /* [from][to]: messages in the order sent */
    int bad;              /* a message received with another size than sent */
    long gathers, sends;  /* rank 0's all-gathers, every rank's sends */
} world;

typedef struct rank {
    world *w;
    int r;
    strata_comm comm;
    /* the fit this rank runs */
    const glm_source *src;
    const char *formula, *weights;
    const cox_params *prm;
    cox_fit_out fo;
    strata_status st;
} rank;

/* In place: every rank's part, read from its own buffer between two barriers. */
static strata_status w_allgatherv(void *ud, const void *send, void *recv, const size_t *counts,
                                  const size_t *displs)
{
    rank *k = ud;
    world *w = k->w;
    if (send)
        memcpy((char *)recv + displs[k->r], send, counts[k->r]);
    w->gathers += k->r == 0;
    w->buf[k->r] = recv;
    pthread_barrier_wait(&w->bar);
    for (int r = 0; r < w->K; r++)
        if (r != k->r && counts[r])
            memcpy((char *)recv + displs[r], (char *)w->buf[r] + displs[r], counts[r]);
    pthread_barrier_wait(&w->bar);
    return STRATA_OK;
}

static strata_status w_bcast(void *ud, void *buf, size_t n, int root)
{
    rank *k = ud;
    world *w = k->w;
    w->buf[k->r] = buf;
    pthread_barrier_wait(&w->bar);
    if (k->r != root && n)
        memcpy(buf, w->buf[root], n);
    pthread_barrier_wait(&w->bar);
    return STRATA_OK;
}

static strata_status w_send(void *ud, const void *buf, size_t n, int to)
{
    rank *k = ud;
    world *w = k->w;
    msg *m = malloc(sizeof *m), **t;
    m->data = malloc(n + 1);
    memcpy(m->data, buf, n);
    m->n = n;
    m->next = NULL;
    pthread_mutex_lock(&w->mu);
    for (t = &w->box[k->r][to]; *t; t = &(*t)->next)
        ;
    *t = m;
    w->sends++;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return STRATA_OK;
}

static strata_status w_recv(void *ud, void *buf, size_t n, int from)
{
    rank *k = ud;
    world *w = k->w;
    msg *m;
    pthread_mutex_lock(&w->mu);
    while (!w->box[from][k->r])
        pthread_cond_wait(&w->cv, &w->mu);
    m = w->box[from][k->r];
    w->box[from][k->r] = m->next;
    pthread_mutex_unlock(&w->mu);
    if (m->n != n) /* both sides must agree on every message's size */
        w->bad = 1;
    memcpy(buf, m->data, m->n < n ? m->n : n);
    free(m->data);
    free(m);
    return STRATA_OK;
}

static void *run_rank(void *arg)
{
    rank *k = arg;
    strata_ctx *ctx = NULL;
    if (strata_ctx_new(&ctx) != STRATA_OK)
        return NULL;
    strata_ctx_set_threads(ctx, 1);
    strata_ctx_set_comm(ctx, &k->comm);
    k->st = cox_fit_source(ctx, k->src, k->formula, k->weights, k->prm, &k->fo);
    /* the results outlive the context: freed with the default allocator below */
    strata_ctx_set_comm(ctx, NULL);
    if (k->st != STRATA_OK)
        fprintf(stderr, "rank %d: %s\n", k->r, strata_ctx_errmsg(ctx));
    strata_ctx_free(ctx);
    return NULL;
}

static void same_bytes(const cox_result *a, const cox_result *b, int robust)
{
    size_t p = a->p, nh = a->bh_start[a->nstrata];
    assert_int_equal(a->n, b->n);
    assert_int_equal(a->iter, b->iter);
    assert_memory_equal(a->beta, b->beta, p * sizeof(double));
    assert_memory_equal(a->se, b->se, p * sizeof(double));
    assert_memory_equal(a->vcov, b->vcov, p * p * sizeof(double));
    assert_memory_equal(a->u, b->u, p * sizeof(double));
    assert_memory_equal(&a->loglik, &b->loglik, sizeof(double));
    assert_memory_equal(&a->loglik_null, &b->loglik_null, sizeof(double));
    assert_memory_equal(&a->score_test, &b->score_test, sizeof(double));
    assert_int_equal(nh, b->bh_start[b->nstrata]);
    assert_memory_equal(a->bh_time, b->bh_time, nh * sizeof(double));
    assert_memory_equal(a->bh_haz, b->bh_haz, nh * sizeof(double));
    assert_memory_equal(&a->concordance, &b->concordance, sizeof(double));
    if (robust) {
        assert_non_null(b->rse);
        assert_memory_equal(a->rse, b->rse, p * sizeof(double));
        assert_memory_equal(a->rvcov, b->rvcov, p * p * sizeof(double));
        assert_int_equal(a->nclusters, b->nclusters);
    }
}

/* Fits formula on K ranks and compares every rank with one process. */
static void across(const glm_source *src, const char *formula, const char *weights, cox_params *prm, int K)
{
    strata_ctx *ctx = tu_ctx();
    cox_fit_out one;
    world w;
    rank rk[KMAX];
    pthread_t th[KMAX];
    assert_status(ctx, cox_fit_source(ctx, src, formula, weights, prm, &one), STRATA_OK);
    memset(&w, 0, sizeof w);
    w.K = K;
    pthread_barrier_init(&w.bar, NULL, (unsigned)K);
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    for (int r = 0; r < K; r++) {
        memset(&rk[r], 0, sizeof rk[r]);
        rk[r].w = &w;
        rk[r].r = r;
        rk[r].comm = (strata_comm){r, K, &rk[r], w_allgatherv, w_bcast, w_send, w_recv, NULL, NULL, "threads", "test", 1};
        rk[r].src = src;
        rk[r].formula = formula;
        rk[r].weights = weights;
        rk[r].prm = prm;
        assert_int_equal(pthread_create(&th[r], NULL, run_rank, &rk[r]), 0);
    }
    for (int r = 0; r < K; r++)
        pthread_join(th[r], NULL);
    assert_int_equal(w.bad, 0);
    /* the ranks did talk: each evaluation gathers 10 times; design rows and sums were sent */
    assert_true(w.gathers >= 10 * one.res->evals);
    assert_true(w.sends >= K - 1);
    for (int r = 0; r < K; r++) {
        assert_int_equal(rk[r].st, STRATA_OK);
        same_bytes(one.res, rk[r].fo.res, prm->robust || one.cf->cluster);
        assert_int_equal(rk[r].fo.n_strata_values, one.n_strata_values);
        cox_fit_out_free(ctx, &rk[r].fo);
        for (int f = 0; f < K; f++)
            assert_null(w.box[f][r]); /* every message sent was received */
    }
    pthread_barrier_destroy(&w.bar);
    pthread_mutex_destroy(&w.mu);
    pthread_cond_destroy(&w.cv);
    cox_fit_out_free(ctx, &one);
    strata_ctx_free(ctx);
}

typedef struct colon {
    design d;
    memsrc m;
    double *rx, *ext, *cl, *w, *one;
    glm_source src;
} colon;

static void colon_make(colon *c)
{
    design_load("colon_strata", &c->d);
    colon_source(&c->d, &c->m, &c->rx, &c->ext);
    c->cl = malloc(c->d.n * sizeof *c->cl);
    c->w = malloc(c->d.n * sizeof *c->w);
    c->one = malloc(c->d.n * sizeof *c->one);
    for (size_t i = 0; i < c->d.n; i++) {
        c->cl[i] = (double)((i * 7919) % 97);
        c->w[i] = 0.5 + (double)(i % 5) / 4;
        c->one[i] = (double)(c->d.time[i] > 1000); /* a 0/1 time: two groups over many blocks */
    }
    mem_add(&c->m, "cl", c->cl, NULL, 0);
    mem_add(&c->m, "w", c->w, NULL, 0);
    mem_add(&c->m, "late", c->one, NULL, 0);
    c->src = mem_source(&c->m);
}

static void colon_free(colon *c)
{
    free(c->rx);
    free(c->ext);
    free(c->cl);
    free(c->w);
    free(c->one);
    design_free(&c->d);
}

/* Efron, strata, a factor, the robust variance per row; 64-row blocks on 2 and 3 ranks. */
static void test_cox_dist__efron_strata_robust_same_bytes_as_one_process(void **state)
{
    colon c;
    cox_params prm;
    (void)state;
    colon_make(&c);
    cox_params_init(&prm);
    prm.block_rows = 64;
    prm.robust = 1;
    across(&c.src, "Surv(time, status) ~ rx + sex + age + nodes + strata(extent)", NULL, &prm, 2);
    across(&c.src, "Surv(time, status) ~ rx + sex + age + nodes + strata(extent)", NULL, &prm, 3);
    colon_free(&c);
}

/* Breslow, case weights, cluster(): the cluster sums carried from rank to rank;
 * 16-row blocks on 4 ranks. */
static void test_cox_dist__breslow_weights_cluster_same_bytes(void **state)
{
    colon c;
    cox_params prm;
    (void)state;
    colon_make(&c);
    cox_params_init(&prm);
    prm.ties = COX_TIES_BRESLOW;
    prm.block_rows = 16;
    across(&c.src, "Surv(time, status) ~ rx + age + nodes + cluster(cl) + strata(extent)", "w", &prm, 4);
    colon_free(&c);
}

/* Efron with two tied groups of ~900 rows (a 0/1 time): each spans many 32-row
 * blocks, so the group's event sums come from the spills of whole blocks. */
static void test_cox_dist__tied_groups_over_whole_blocks_same_bytes(void **state)
{
    colon c;
    cox_params prm;
    (void)state;
    colon_make(&c);
    cox_params_init(&prm);
    prm.block_rows = 32;
    across(&c.src, "Surv(late, status) ~ rx + sex + age + nodes", NULL, &prm, 3);
    colon_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cox_dist__efron_strata_robust_same_bytes_as_one_process),
        cmocka_unit_test(test_cox_dist__breslow_weights_cluster_same_bytes),
        cmocka_unit_test(test_cox_dist__tied_groups_over_whole_blocks_same_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
