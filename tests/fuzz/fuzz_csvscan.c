/* tests/fuzz/fuzz_csvscan.c — the one CSV scanner (engine/io/csv_scan.c) alone:
 * libcsv, line and column counting, the NUL/BOM/UTF-8 and field-size checks,
 * on any bytes. Much faster than fuzz_csv (no cohort written), so it reaches
 * the scanner's states in far more executions. Each field is read whole. */
#include "fuzz_common.h"
#include "csv_internal.h"

#include <string.h>

static strata_status on_record(void *ud, const csv_scanner *sc)
{
    size_t *sum = ud;
    for (size_t i = 0; i < sc->nf; i++)
        *sum += strlen(sc->field[i]) + sc->field_line[i];
    return STRATA_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    strata_ctx *ctx = fuzz_ctx();
    size_t sum = 0, lines = 0;
    const char *path = fuzz_file("csv", data, size);
    (void)csv_scan_file(ctx, path, size > 0 && data[0] == ';' ? ';' : ',', on_record, &sum, &lines);
    strata_ctx_free(ctx);
    return 0;
}
