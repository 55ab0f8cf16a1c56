/* engine/cli/cmd_synth.c — `strata synth`: generates a synthetic linked cohort
 * shaped by the real register, deprivation and QOF figures (docs/synthetic.md).
 * Same seed, same bytes, whatever --threads. Exits with the library status. */
#include "cli.h"

#include <string.h>

static const char *usage =
    "strata synth [--pcn CODE | --icb CODE | --england] [--patients N] [--seed S]\n"
    "             [--threads T] [--data DIR] [--block-rows R] [--quiet|--verbose] --out FILE\n"
    "  default selection: --icb " STRATA_SYNTH_DEFAULT_ICB
    " (NHS Shropshire, Telford and Wrekin ICB)\n"
    "  --patients N  scale the selection to N patients (default: its registered list size)\n"
    "  --data DIR    reference tables (default: $STRATA_DATA_DIR, else data/reference found\n"
    "                relative to the strata executable)";

int cmd_synth(int argc, char **argv)
{
    strata_synth_params p;
    cli_common co = {0, 0, 0};
    const char *out = NULL;
    strata_ctx *ctx;
    strata_synth *s = NULL;
    strata_synth_summary sum;
    strata_status st;
    int nsel = 0;
    long v;
    strata_synth_params_init(&p);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf("usage: %s\n", usage);
            return 0;
        } else if (!strcmp(a, "--england")) {
            p.scope = STRATA_SYNTH_ENGLAND;
            nsel++;
            continue;
        } else if (!strcmp(a, "--quiet")) {
            co.quiet = 1;
            continue;
        } else if (!strcmp(a, "--verbose")) {
            co.verbose = 1;
            continue;
        }
        if (!val)
            return cli_usage_error("synth", usage, "option '%s' needs a value (or is unknown)", a);
        i++;
        if (!strcmp(a, "--pcn") || !strcmp(a, "--icb")) {
            p.scope = a[2] == 'p' ? STRATA_SYNTH_PCN : STRATA_SYNTH_ICB;
            p.code = val;
            nsel++;
        } else if (!strcmp(a, "--patients")) {
            if (cli_parse_long(val, 1, 2147483647L, &v))
                return cli_usage_error("synth", usage, "--patients '%s' is not in 1..2147483647",
                                       val);
            p.n_patients = v;
        } else if (!strcmp(a, "--seed")) {
            if (cli_parse_long(val, 0, 9223372036854775807L, &v))
                return cli_usage_error("synth", usage, "--seed '%s' is not a non-negative integer",
                                       val);
            p.seed = (uint64_t)v;
        } else if (!strcmp(a, "--threads")) {
            if (cli_parse_long(val, 0, 1024, &v))
                return cli_usage_error("synth", usage, "--threads '%s' is not in 0..1024", val);
            co.threads = (int)v;
        } else if (!strcmp(a, "--block-rows")) {
            if (cli_parse_long(val, 64, 4194304, &v))
                return cli_usage_error("synth", usage, "--block-rows '%s' is not in 64..4194304",
                                       val);
            p.block_rows = (size_t)v;
        } else if (!strcmp(a, "--data")) {
            p.data_dir = val;
        } else if (!strcmp(a, "--out")) {
            out = val;
        } else {
            return cli_usage_error("synth", usage, "unknown option '%s'", a);
        }
    }
    if (nsel > 1)
        return cli_usage_error("synth", usage, "give at most one of --pcn, --icb, --england");
    if (!out)
        return cli_usage_error("synth", usage, "--out FILE is required");
    ctx = cli_ctx_new(&co);
    if (!ctx)
        return STRATA_ENOMEM;
    strata_mpi_attach(ctx); /* every rank generates its groups of rows; rank 0 writes */
    st = strata_synth_new(ctx, &p, &s);
    if (st == STRATA_OK)
        st = strata_synth_write(ctx, s, out, &sum);
    if (st != STRATA_OK) {
        int rc = cli_fail(ctx, "synth", st);
        strata_synth_free(s);
        strata_ctx_free(ctx);
        return rc;
    }
    if (!co.quiet)
        printf("%s: %zu patients in %zu practices, %zu spells, %zu A&E attendances, "
               "%zu GP events (%zu events); emergency admission %.2f%%, death %.2f%% (seed %llu)\n",
               out, sum.nrows, strata_synth_npractices(s), sum.n_spells, sum.n_ae, sum.n_gp,
               sum.n_events,
               100 * sum.emergency_rate, 100 * sum.death_rate, (unsigned long long)p.seed);
    strata_synth_free(s);
    strata_ctx_free(ctx);
    return 0;
}
