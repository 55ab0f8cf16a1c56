/* bench/bench_import.c — rows/s of `strata import` on a generated CSV of
 * N rows x 40 columns (default 1,000,000): 16 integer, 12 float (2 with NA),
 * 10 categorical (one with ~2,000 levels), 2 quoted text columns. The data
 * come from a fixed-seed generator, so every run reads the same bytes.
 * usage: bench_import [--rows N] [--keep] [--dir DIR] */
#include "strata/strata.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t rng(uint64_t *s) /* splitmix64 */
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int generate(const char *path, long rows)
{
    static const char *const sex[] = {"F", "M"};
    static const char *const eth[] = {"White", "Asian", "Black", "Mixed", "Other"};
    FILE *f = fopen(path, "w");
    uint64_t s = 20261124;
    if (!f)
        return -1;
    for (int j = 0; j < 16; j++)
        fprintf(f, "i%02d,", j);
    for (int j = 0; j < 12; j++)
        fprintf(f, "x%02d,", j);
    for (int j = 0; j < 10; j++)
        fprintf(f, "c%02d,", j);
    fprintf(f, "note,place\n");
    for (long i = 0; i < rows; i++) {
        fprintf(f, "%ld,", 1000000000L + i); /* id: int32 */
        for (int j = 1; j < 16; j++)
            fprintf(f, "%d,", (int)(rng(&s) % (j < 8 ? 100u : 40000u)));
        for (int j = 0; j < 12; j++) {
            uint64_t r = rng(&s);
            if (j < 2 && r % 20 == 0)
                fprintf(f, "NA,");
            else
                fprintf(f, "%.6g,", (double)(r >> 11) * 0x1.0p-53 * 100.0);
        }
        fprintf(f, "%s,%s,", sex[rng(&s) % 2], eth[rng(&s) % 5]);
        fprintf(f, "E%05u,", (unsigned)(rng(&s) % 2000)); /* practice-like code */
        for (int j = 3; j < 10; j++)
            fprintf(f, "L%u,", (unsigned)(rng(&s) % (unsigned)(3 + j)));
        fprintf(f, "\"note %u, text\",\"Town %u\"\n", (unsigned)(rng(&s) % 50),
                (unsigned)(rng(&s) % 300));
    }
    return fclose(f);
}

int main(int argc, char **argv)
{
    long rows = 1000000;
    int keep = 0;
    const char *dir = "/tmp";
    char csv[512], h5[512];
    strata_ctx *ctx = NULL;
    strata_csv_import_params p;
    strata_csv_import_report rep;
    double t0, t1, t2, c1, c2;
    long size;
    FILE *f;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rows") && i + 1 < argc)
            rows = atol(argv[++i]);
        else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
            dir = argv[++i];
        else if (!strcmp(argv[i], "--keep"))
            keep = 1;
        else {
            fprintf(stderr, "usage: bench_import [--rows N] [--keep] [--dir DIR]\n");
            return 2;
        }
    }
    snprintf(csv, sizeof csv, "%s/bench_import_%ld.csv", dir, (long)getpid());
    snprintf(h5, sizeof h5, "%s/bench_import_%ld.h5", dir, (long)getpid());
    t0 = now();
    if (generate(csv, rows)) {
        fprintf(stderr, "bench_import: cannot write %s\n", csv);
        return 4;
    }
    t1 = now();
    f = fopen(csv, "rb");
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fclose(f);
    if (strata_ctx_new(&ctx) != STRATA_OK)
        return 3;
    c1 = (double)clock() / CLOCKS_PER_SEC;
    strata_csv_import_params_init(&p);
    if (strata_csv_import(ctx, csv, h5, &p, &rep) != STRATA_OK) {
        fprintf(stderr, "bench_import: %s\n", strata_ctx_errmsg(ctx));
        return 1;
    }
    t2 = now();
    c2 = (double)clock() / CLOCKS_PER_SEC;
    printf("bench_import: %ld rows x %zu columns, %.1f MB CSV (generated in %.2f s)\n", rows,
           rep.n_columns, (double)size / 1e6, t1 - t0);
    printf("bench_import: import %.2f s = %.0f rows/s = %.1f MB/s (threads=1: parsing is "
           "serial)\n",
           t2 - t1, (double)rep.n_rows / (t2 - t1), (double)size / 1e6 / (t2 - t1));
    printf("bench_import: CPU time %.2f s = %.0f rows/s per core (wall > CPU means waiting for "
           "disk or other processes)\n",
           c2 - c1, (double)rep.n_rows / (c2 - c1));
    strata_ctx_free(ctx);
    if (!keep) {
        remove(csv);
        remove(h5);
    }
    return 0;
}
