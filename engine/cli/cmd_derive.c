/* engine/cli/cmd_derive.c — `strata derive COHORT.h5 --spec derive.yaml --out
 * FEATURES.h5`: runs strata_derive and prints the population and exclusions by
 * reason. Exit codes are the strata_status of the failing call. Under
 * mpirun every rank derives its blocks of patients and rank 0 writes. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static const char derive_usage[] =
    "strata derive COHORT.h5 --spec DERIVE.yaml --out FEATURES.h5 [--threads N] [--quiet]";

int cmd_derive(int argc, char **argv)
{
    const char *cohort = NULL, *spec = NULL, *out = NULL;
    cli_common co = {0, 0, 0};
    strata_derive_report rep;
    strata_ctx *ctx;
    strata_status st;
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            printf("usage: %s\n\nDerives features (/patients) and outcomes (/outcomes) from the\n"
                   "cohort's event tables for the patients alive and registered at the index\n"
                   "date, as the spec says (docs/derive.md). The output is written atomically.\n",
                   derive_usage);
            return 0;
        }
        if (!strcmp(o, "--quiet"))
            co.quiet = 1;
        else if ((!strcmp(o, "--spec") || !strcmp(o, "--out") || !strcmp(o, "--threads")) &&
                 i + 1 >= argc)
            return cli_usage_error("derive", derive_usage, "%s needs a value", o);
        else if (!strcmp(o, "--spec"))
            spec = argv[++i];
        else if (!strcmp(o, "--out"))
            out = argv[++i];
        else if (!strcmp(o, "--threads"))
            co.threads = atoi(argv[++i]);
        else if (o[0] == '-' || cohort)
            return cli_usage_error("derive", derive_usage, "unknown option '%s'", o);
        else
            cohort = o;
    }
    if (!cohort || !spec || !out)
        return cli_usage_error("derive", derive_usage, "COHORT.h5, --spec and --out are required");
    if (!(ctx = cli_ctx_new(&co)))
        return (int)STRATA_ENOMEM;
    strata_mpi_attach(ctx); /* every rank derives its blocks; rank 0 writes */
    st = strata_derive(ctx, cohort, spec, out, &rep);
    if (st != STRATA_OK)
        rc = cli_fail(ctx, "derive", st);
    else if (!co.quiet) {
        printf("%s: %zu of %zu patients in the population; %zu features, %zu outcomes from %zu "
               "events\n",
               out, rep.n_included, rep.n_patients, rep.n_features, rep.n_outcomes, rep.n_events);
        for (int k = 0; k < STRATA_DERIVE_REASONS; k++)
            if (rep.n_excluded[k])
                printf("  excluded %s: %zu\n", strata_derive_reason_name(k), rep.n_excluded[k]);
        if (rep.n_replaced)
            printf("  replaced %zu /patients or /outcomes columns of the same name\n",
                   rep.n_replaced);
    }
    strata_ctx_free(ctx);
    return rc;
}
