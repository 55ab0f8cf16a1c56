/* engine/cli/cmd_info.c — `strata info COHORT`: rows, root attributes and one
 * line per column (group, name, type, role, levels, units). Reads metadata
 * only, never patient values. */
#include "cli.h"

#include <getopt.h>
#include <string.h>

static const char *USAGE = "strata info COHORT.h5";

int cmd_info(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    strata_ctx *ctx;
    strata_cohort *c = NULL;
    strata_status st;
    int o;
    static const char *const keys[] = {"schema_version", "extract_date", "source", "generator",
                                       "seed"};
    optind = 1;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (o == 'h') {
            printf("usage: %s\n", USAGE);
            return 0;
        }
        return cli_usage_error("info", USAGE, "unknown option");
    }
    if (optind != argc - 1)
        return cli_usage_error("info", USAGE, "expected one cohort file");
    if (!(ctx = cli_ctx_new(NULL)))
        return STRATA_ENOMEM;
    st = strata_cohort_open(ctx, argv[optind], &c);
    if (st != STRATA_OK) {
        int code = cli_fail(ctx, "info", st);
        strata_ctx_free(ctx);
        return code;
    }
    printf("%s: %zu patients, %zu columns\n", argv[optind], strata_cohort_nrows(c),
           strata_cohort_ncols(c));
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        const char *v = strata_cohort_attr(c, keys[k]);
        if (v)
            printf("  %-15s %s\n", keys[k], v);
    }
    printf("  %-30s %-8s %-10s %-20s %s\n", "column", "type", "role", "levels", "units");
    for (size_t j = 0; j < strata_cohort_ncols(c); j++) {
        const strata_column_info *ci = strata_cohort_column(c, j);
        char col[300], lev[64] = "";
        snprintf(col, sizeof col, "%s/%s", ci->group, ci->name);
        if (ci->categorical)
            snprintf(lev, sizeof lev, "%zu%s%s%s", ci->n_levels, ci->n_levels ? " (" : "",
                     ci->n_levels ? ci->levels[0] : "", ci->n_levels > 1 ? ", ...)" : ci->n_levels ? ")" : "");
        printf("  %-30s %-8s %-10s %-20s %s\n", col, strata_dtype_name(ci->dtype),
               strata_role_name(ci->role), lev, ci->units);
    }
    strata_cohort_close(c);
    strata_ctx_free(ctx);
    return 0;
}
