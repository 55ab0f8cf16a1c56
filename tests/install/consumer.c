/* tests/install/consumer.c — an external program built against an installed
 * strata (pkg-config or find_package): writes a one-column cohort, reads it
 * back and prints what it read. */
#include <strata/strata.h>

#include <stdio.h>

int main(int argc, char **argv)
{
    strata_ctx *ctx = NULL;
    strata_cohort_writer *w = NULL;
    strata_cohort *c = NULL;
    strata_column_spec s = {0};
    size_t j;
    int64_t ids[3] = {7, 8, 9}, back[3];
    if (argc != 2 || strata_ctx_new(&ctx) != STRATA_OK)
        return 2;
    s.name = "patient_id";
    s.dtype = STRATA_DT_INT64;
    s.role = STRATA_ROLE_PATIENT_ID;
    if (strata_cohort_writer_new(ctx, argv[1], &w) || strata_cohort_writer_add(w, &s, &j) ||
        strata_cohort_writer_append(w, j, ids, 3) || strata_cohort_writer_finish(w) ||
        strata_cohort_open(ctx, argv[1], &c) || strata_cohort_read_i64(ctx, c, 0, 0, 3, back)) {
        fprintf(stderr, "consumer: %s\n", strata_ctx_errmsg(ctx));
        return 1;
    }
    printf("strata %s: %zu rows, ids %lld %lld %lld\n", strata_version(), strata_cohort_nrows(c),
           (long long)back[0], (long long)back[1], (long long)back[2]);
    strata_cohort_close(c);
    strata_ctx_free(ctx);
    return 0;
}
