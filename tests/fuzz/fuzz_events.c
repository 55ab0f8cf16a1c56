/* tests/fuzz/fuzz_events.c — the event importer (engine/io/events_*.c) on any
 * bytes as an events CSV into a fixed nine-patient cohort (fuzz_base.h). The
 * last byte picks options: unknown ids skipped, runs of 3 events spilled to
 * the scratch file and merged, the date format, an end-date column (its bits
 * XOR '\n', so a seed ending in a newline runs with the defaults). */
#include "fuzz_base.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    setenv("STRATA_H5_PROBE", "0", 1); /* see fuzz_csv.c */
    fuzz_base(0);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    strata_ctx *ctx = fuzz_ctx();
    strata_events_import_params p;
    strata_events_import_report rep;
    unsigned opt = size > 0 ? data[size - 1] ^ '\n' : 0; /* a final newline: defaults */
    const char *csv = fuzz_file("csv", data, size);
    const char *out = fuzz_path("out.h5");
    fuzz_spells_params(&p);
    p.skip_unknown_ids = opt & 1;
    p.run_rows = (opt & 2) ? 3 : 0;
    p.date_format = (strata_date_format)((opt >> 2) % 3);
    if (opt & 128)
        p.end_date_col = "end";
    if (strata_events_import(ctx, csv, fuzz_path("patients.h5"), out, &p, &rep) == STRATA_OK) {
        strata_validate_report vr;
        (void)strata_cohort_validate(ctx, out, NULL, NULL, &vr);
        unlink(out);
    } else if (getenv("STRATA_FUZZ_VERBOSE")) {
        fprintf(stderr, "import events: %s\n", strata_ctx_errmsg(ctx));
    }
    strata_ctx_free(ctx);
    return 0;
}
