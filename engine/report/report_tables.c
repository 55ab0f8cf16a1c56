/* engine/report/report_tables.c — the aggregate tables as Excel and Power BI
 * take them (strata_write_office, include/strata/stratify.h): outputs.xlsx
 * with a README sheet, one typed sheet per table and the long table;
 * aggregates_long.csv; and the owner-only patient_lists.xlsx. The cells show
 * exactly what the disclosed CSV files show (same rounding); a withheld cell
 * is empty — shaded in Excel, flagged in a column — never "*" among numbers. */
#include "outfile.h"
#include "report_internal.h"
#include "xlsx.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct tview {
    const strata_table *t;
    const char *name;  /* sheet name */
    const char *type;  /* group_type of its rows: "PCN", "practice", "ICB", or NULL (fairness) */
    int n_keys;        /* leading key columns: 1, or 2 (subgroup, level) */
    int *lo, *hi;      /* per column: index of its lower/upper bound column, or -1 */
    uint8_t *is_bound; /* per column: 1 when it is another column's bound */
} tview;

typedef struct office {
    strata_ctx *ctx;
    const strata_office_input *in;
    report_names *names;
    tview *v;
    size_t nv;
} office;

/* ---- per-table structure --------------------------------------------------- */

static const char *group_type(const char *table)
{
    if (!strcmp(table, "practice_summary"))
        return "practice";
    if (!strcmp(table, "icb_summary"))
        return "ICB";
    if (!strcmp(table, "fairness"))
        return NULL;
    return "PCN";
}

/* The bound columns of column j: "oe_list" -> oe_lo_list / oe_hi_list,
 * "sii" -> sii_lo / sii_hi, "sii_obs" -> sii_lo_obs, "c_statistic" -> c_lo. */
static void find_bounds(const strata_table *t, size_t j, int *lo, int *hi)
{
    const char *name = strata_table_col_name(t, (int)j), *us = strchr(name, '_');
    char a[256], b[256];
    size_t p = us ? (size_t)(us - name) : strlen(name);
    *lo = *hi = -1;
    if (us) {
        snprintf(a, sizeof a, "%.*s_lo%s", (int)p, name, us);
        snprintf(b, sizeof b, "%.*s_hi%s", (int)p, name, us);
        *lo = strata_table_find(t, a);
        *hi = strata_table_find(t, b);
    }
    if (*lo < 0 || *hi < 0) {
        snprintf(a, sizeof a, "%s_lo", name);
        snprintf(b, sizeof b, "%s_hi", name);
        *lo = strata_table_find(t, a);
        *hi = strata_table_find(t, b);
    }
    if ((*lo < 0 || *hi < 0) && us) {
        snprintf(a, sizeof a, "%.*s_lo", (int)p, name);
        snprintf(b, sizeof b, "%.*s_hi", (int)p, name);
        *lo = strata_table_find(t, a);
        *hi = strata_table_find(t, b);
    }
    if (*lo < 0 || *hi < 0 || (size_t)*lo == j || (size_t)*hi == j)
        *lo = *hi = -1;
}

static strata_status view_init(office *o, tview *v, const strata_table *t, const char *name)
{
    strata_ctx *ctx = o->ctx;
    if (strata_table_patient_level(t) || !strata_table_disclosed(t))
        return STRATA_FAIL(ctx, STRATA_EINVAL, "office tables: %s must be an aggregate table "
                           "through disclosure control", name);
    v->t = t;
    v->name = name;
    v->type = group_type(name);
    v->n_keys = 0;
    while ((size_t)v->n_keys < strata_table_ncols(t) &&
           strata_table_col_kind(t, v->n_keys) == STRATA_COL_KEY)
        v->n_keys++;
    v->lo = strata_alloc(ctx, (strata_table_ncols(t) + 1) * sizeof *v->lo);
    v->hi = strata_alloc(ctx, (strata_table_ncols(t) + 1) * sizeof *v->hi);
    v->is_bound = strata_calloc(ctx, strata_table_ncols(t) + 1, 1);
    if (!v->lo || !v->hi || !v->is_bound)
        return STRATA_ENOMEM;
    for (size_t j = 0; j < strata_table_ncols(t); j++) {
        v->lo[j] = v->hi[j] = -1;
        if (strata_table_col_kind(t, (int)j) != STRATA_COL_KEY)
            find_bounds(t, j, &v->lo[j], &v->hi[j]);
    }
    for (size_t j = 0; j < strata_table_ncols(t); j++)
        if (v->lo[j] >= 0) {
            v->is_bound[v->lo[j]] = 1;
            v->is_bound[v->hi[j]] = 1;
        }
    return STRATA_OK;
}

/* The value of a cell as the CSV shows it ("" when not available or hidden). */
static const char *cell_text(const strata_table *t, int j, size_t i, char *buf, size_t size)
{
    double v = strata_table_value(t, j, i);
    strata_col_kind k = strata_table_col_kind(t, j);
    int d = strata_table_col_decimals(t, j);
    if (strata_table_hidden(t, j, i) || isnan(v))
        return "";
    if (strata_table_col_is_count(t, j) || k == STRATA_COL_FLAG ||
        (k == STRATA_COL_TOTAL && v == floor(v)))
        snprintf(buf, size, "%.0f", v);
    else if (d < 0)
        snprintf(buf, size, "%.*g", -d, v);
    else
        snprintf(buf, size, "%.*f", d, v);
    return buf;
}

static int cell_decimals(const strata_table *t, int j)
{
    strata_col_kind k = strata_table_col_kind(t, j);
    return strata_table_col_is_count(t, j) || k == STRATA_COL_FLAG ? 0
                                                                     : strata_table_col_decimals(t, j);
}

/* Row i's area: group_type, code and name (the name tidied into nbuf). */
static void row_area(const office *o, const tview *v, size_t i, const char **type,
                     const char **code, const char **name, char *nbuf, size_t nsize)
{
    const strata_table *t = v->t;
    const char *nm = NULL, *area = v->type;
    *type = v->type;
    *code = strata_table_key(t, v->n_keys - 1, i);
    if (v->n_keys >= 2) { /* fairness: subgroup, level */
        *type = strata_table_key(t, 0, i);
        area = !strcmp(*type, "pcn") ? "PCN" : !strcmp(*type, "icb") ? "ICB" : NULL;
    }
    if (!strcmp(*code, "ALL") || !strcmp(*code, "all"))
        nm = "All patients in the run";
    else if (area)
        nm = report_name(o->names, area, *code);
    else if (v->n_keys >= 2)
        nm = *code;
    *name = nm ? report_name_tidy(nm, nbuf, nsize) : "";
}

/* ---- outputs.xlsx ------------------------------------------------------------ */

static const char *const SHEET_ABOUT[][2] = {
    {"pcn_summary", "one row per PCN (and ALL): list size, risk, expected and observed events, "
                    "O/E, age-sex profile, tiers, segments, funnel position, need and fair share"},
    {"practice_summary", "the same measures per GP practice"},
    {"icb_summary", "the same measures per ICB"},
    {"inequality", "per PCN: the risk block by IMD quintile and by ethnic group"},
    {"sii", "per PCN: slope and relative index of inequality across deprivation deciles"},
    {"fairness", "how well the model works within each subgroup (C-statistic, O/E, slope)"},
    {"long_table", "every number above as one row per area and measure (for pivot tables "
                   "and Power BI; also aggregates_long.csv)"},
};

static const char *sheet_about(const char *name)
{
    for (size_t i = 0; i < sizeof SHEET_ABOUT / sizeof SHEET_ABOUT[0]; i++)
        if (!strcmp(SHEET_ABOUT[i][0], name))
            return SHEET_ABOUT[i][1];
    return "";
}

static strata_status readme_sheet(office *o, strata_xlsx *x)
{
    const strata_office_input *in = o->in;
    const strata_sdc_params *p = in->sdc;
    char buf[1024], mean[512];
    size_t r = 0;
    STRATA_TRY(strata_xlsx_sheet(x, "README"));
    strata_xlsx_col_width(x, 0, 0, 28);
    strata_xlsx_col_width(x, 1, 1, 110);
    STRATA_TRY(strata_xlsx_text(x, r++, 0, in->title ? in->title : "strata outputs", STRATA_XS_TITLE));
    snprintf(buf, sizeof buf, "Written by strata %s. Aggregate tables only: no patient-level "
             "data is in this workbook.", strata_version());
    STRATA_TRY(strata_xlsx_text(x, r++, 0, buf, STRATA_XS_TEXT));
    r++;
    STRATA_TRY(strata_xlsx_text(x, r++, 0, "Disclosure control", STRATA_XS_TITLE));
    {
        strata_sdc_params rules;
        int have = 0;
        for (size_t k = 0; k < o->nv && !have; k++)
            have = report_rules(o->v[k].t, NULL, &rules, buf, sizeof buf);
        if (!have)
            report_rules(NULL, p, &rules, buf, sizeof buf);
    }
    STRATA_TRY(strata_xlsx_text(x, r, 0, "Rules", STRATA_XS_TEXT));
    STRATA_TRY(strata_xlsx_text(x, r++, 1, buf, STRATA_XS_WRAP));
    STRATA_TRY(strata_xlsx_text(x, r, 0, "Withheld cells", STRATA_XS_TEXT));
    STRATA_TRY(strata_xlsx_text(x, r++, 1, "are empty and shaded grey; the row's "
               "suppressed_cells column names them. In the long table they have suppressed = 1 "
               "and an empty value. (The CSV files show them as *.)", STRATA_XS_WRAP));
    STRATA_TRY(strata_xlsx_text(x, r, 0, "Empty, not shaded", STRATA_XS_TEXT));
    STRATA_TRY(strata_xlsx_text(x, r++, 1, "not available (e.g. no outcomes, or too few deciles "
               "for an SII).", STRATA_XS_WRAP));
    r++;
    STRATA_TRY(strata_xlsx_text(x, r++, 0, "Sheets", STRATA_XS_TITLE));
    for (size_t k = 0; k < o->nv; k++) {
        STRATA_TRY(strata_xlsx_text(x, r, 0, o->v[k].name, STRATA_XS_TEXT));
        STRATA_TRY(strata_xlsx_text(x, r++, 1, sheet_about(o->v[k].name), STRATA_XS_WRAP));
    }
    STRATA_TRY(strata_xlsx_text(x, r, 0, "long_table", STRATA_XS_TEXT));
    STRATA_TRY(strata_xlsx_text(x, r++, 1, sheet_about("long_table"), STRATA_XS_WRAP));
    r++;
    STRATA_TRY(strata_xlsx_text(x, r, 0, "Column", STRATA_XS_HEADER));
    STRATA_TRY(strata_xlsx_text(x, r++, 1, "Definition", STRATA_XS_HEADER));
    /* every distinct column, in the order first met */
    for (size_t k = 0; k < o->nv; k++) {
        const strata_table *t = o->v[k].t;
        for (size_t j = 0; j < strata_table_ncols(t); j++) {
            int seen = 0;
            for (size_t q = 0; q < k && !seen; q++)
                seen = strata_table_find(o->v[q].t, strata_table_col_name(t, (int)j)) >= 0;
            if (seen || !*report_column_meaning(strata_table_col_name(t, (int)j), mean, sizeof mean))
                continue;
            STRATA_TRY(strata_xlsx_text(x, r, 0, strata_table_col_name(t, (int)j), STRATA_XS_TEXT));
            STRATA_TRY(strata_xlsx_text(x, r++, 1, mean, STRATA_XS_WRAP));
        }
    }
    STRATA_TRY(strata_xlsx_text(x, r, 0, "group_name", STRATA_XS_TEXT));
    STRATA_TRY(strata_xlsx_text(x, r++, 1, report_column_meaning("group_name", mean, sizeof mean),
                                STRATA_XS_WRAP));
    STRATA_TRY(strata_xlsx_text(x, r, 0, "suppressed_cells", STRATA_XS_TEXT));
    STRATA_TRY(strata_xlsx_text(x, r++, 1, report_column_meaning("suppressed_cells", mean,
                                sizeof mean), STRATA_XS_WRAP));
    return STRATA_OK;
}

static strata_status table_sheet(office *o, strata_xlsx *x, const tview *v)
{
    const strata_table *t = v->t;
    char buf[64], nbuf[256], sup[4096];
    int c = 0, named = v->type != NULL;
    STRATA_TRY(strata_xlsx_sheet(x, v->name));
    for (size_t j = 0; j < strata_table_ncols(t); j++) {
        if (strata_table_col_kind(t, (int)j) == STRATA_COL_INTERNAL)
            continue;
        STRATA_TRY(strata_xlsx_text(x, 0, c, strata_table_col_name(t, (int)j), STRATA_XS_HEADER));
        strata_xlsx_col_width(x, c, c, strata_table_col_kind(t, (int)j) == STRATA_COL_KEY ? 12 : 11);
        c++;
        if (named && (int)j == v->n_keys - 1) {
            STRATA_TRY(strata_xlsx_text(x, 0, c, "group_name", STRATA_XS_HEADER));
            strata_xlsx_col_width(x, c, c, 34);
            c++;
        }
    }
    STRATA_TRY(strata_xlsx_text(x, 0, c, "suppressed_cells", STRATA_XS_HEADER));
    strata_xlsx_col_width(x, c, c, 40);
    for (size_t i = 0; i < strata_table_nrows(t); i++) {
        size_t ns = 0;
        c = 0;
        sup[0] = '\0';
        for (size_t j = 0; j < strata_table_ncols(t); j++) {
            strata_col_kind kind = strata_table_col_kind(t, (int)j);
            if (kind == STRATA_COL_INTERNAL)
                continue;
            if (kind == STRATA_COL_KEY) {
                STRATA_TRY(strata_xlsx_text(x, i + 1, c++, strata_table_key(t, (int)j, i),
                                            STRATA_XS_TEXT));
            } else if (strata_table_hidden(t, (int)j, i)) {
                STRATA_TRY(strata_xlsx_blank(x, i + 1, c++, STRATA_XS_SUPPRESSED));
                ns += (size_t)snprintf(sup + ns, ns < sizeof sup ? sizeof sup - ns : 0, "%s%s",
                                       ns ? "; " : "", strata_table_col_name(t, (int)j));
                if (ns >= sizeof sup)
                    ns = sizeof sup - 1;
            } else {
                const char *s = cell_text(t, (int)j, i, buf, sizeof buf);
                STRATA_TRY(strata_xlsx_number(x, i + 1, c++, *s ? strtod(s, NULL) : NAN,
                                              STRATA_XS_DECIMALS(cell_decimals(t, (int)j))));
            }
            if (named && (int)j == v->n_keys - 1) {
                const char *type, *code, *name;
                row_area(o, v, i, &type, &code, &name, nbuf, sizeof nbuf);
                STRATA_TRY(strata_xlsx_text(x, i + 1, c++, name, STRATA_XS_TEXT));
            }
        }
        STRATA_TRY(strata_xlsx_text(x, i + 1, c, sup, STRATA_XS_TEXT));
    }
    return strata_xlsx_table(x, 0, strata_table_nrows(t), c);
}

/* ---- the long table (CSV and sheet) ------------------------------------------ */

static const char *const LONG_COLS[] = {"group_type", "group_code", "group_name", "measure",
                                        "value", "lower", "upper", "suppressed"};
#define N_LONG 8

/* 1 when an earlier table of the same group type has column `name` (the
 * inequality table repeats the summary's _list block). */
static int repeated(const office *o, size_t k, const char *name)
{
    for (size_t q = 0; q < k; q++)
        if (o->v[q].type && o->v[k].type && !strcmp(o->v[q].type, o->v[k].type) &&
            strata_table_find(o->v[q].t, name) >= 0)
            return 1;
    return 0;
}

static strata_status long_rows(office *o, FILE *f, strata_xlsx *x, size_t *row)
{
    char vb[64], lb[64], hb[64], nbuf[256];
    for (size_t k = 0; k < o->nv; k++) {
        const tview *v = &o->v[k];
        const strata_table *t = v->t;
        for (size_t i = 0; i < strata_table_nrows(t); i++) {
            const char *type, *code, *name;
            row_area(o, v, i, &type, &code, &name, nbuf, sizeof nbuf);
            for (size_t j = (size_t)v->n_keys; j < strata_table_ncols(t); j++) {
                const char *cname = strata_table_col_name(t, (int)j), *val, *lo = "", *hi = "";
                const char *f8[N_LONG];
                strata_col_kind kind = strata_table_col_kind(t, (int)j);
                int hidden = strata_table_hidden(t, (int)j, i), d = cell_decimals(t, (int)j);
                if (kind == STRATA_COL_KEY || kind == STRATA_COL_INTERNAL || v->is_bound[j] ||
                    repeated(o, k, cname))
                    continue;
                val = cell_text(t, (int)j, i, vb, sizeof vb);
                if (v->lo[j] >= 0 && !hidden) {
                    lo = cell_text(t, v->lo[j], i, lb, sizeof lb);
                    hi = cell_text(t, v->hi[j], i, hb, sizeof hb);
                }
                f8[0] = type ? type : "";
                f8[1] = code;
                f8[2] = name;
                f8[3] = cname;
                f8[4] = val;
                f8[5] = lo;
                f8[6] = hi;
                f8[7] = hidden ? "1" : "0";
                for (int q = 0; q < N_LONG; q++) {
                    if (q)
                        fputc(',', f);
                    strata_csv_field(f, f8[q]);
                }
                fputs("\r\n", f);
                for (int q = 0; q < 4; q++)
                    STRATA_TRY(strata_xlsx_text(x, *row, q, f8[q], STRATA_XS_TEXT));
                STRATA_TRY(strata_xlsx_number(x, *row, 4, *val ? strtod(val, NULL) : NAN,
                                              STRATA_XS_DECIMALS(d)));
                if (hidden)
                    STRATA_TRY(strata_xlsx_blank(x, *row, 4, STRATA_XS_SUPPRESSED));
                STRATA_TRY(strata_xlsx_number(x, *row, 5, *lo ? strtod(lo, NULL) : NAN,
                                              STRATA_XS_DECIMALS(d)));
                STRATA_TRY(strata_xlsx_number(x, *row, 6, *hi ? strtod(hi, NULL) : NAN,
                                              STRATA_XS_DECIMALS(d)));
                STRATA_TRY(strata_xlsx_number(x, *row, 7, hidden, STRATA_XS_DECIMALS(0)));
                (*row)++;
            }
        }
    }
    return STRATA_OK;
}

static strata_status long_table(office *o, strata_xlsx *x, const char *outdir)
{
    char path[4096], *tmp = NULL;
    size_t row = 1;
    strata_status st;
    FILE *f;
    snprintf(path, sizeof path, "%s/aggregates_long.csv", outdir);
    f = strata_out_open(o->ctx, path, 0644, &tmp);
    if (!f)
        return strata_ctx_errcode(o->ctx) ? strata_ctx_errcode(o->ctx) : STRATA_ENOMEM;
    st = strata_xlsx_sheet(x, "long_table");
    for (int q = 0; q < N_LONG && st == STRATA_OK; q++) {
        fprintf(f, "%s%s", q ? "," : "", LONG_COLS[q]);
        st = strata_xlsx_text(x, 0, q, LONG_COLS[q], STRATA_XS_HEADER);
    }
    fputs("\r\n", f);
    if (st == STRATA_OK) {
        strata_xlsx_col_width(x, 0, 1, 14);
        strata_xlsx_col_width(x, 2, 2, 34);
        strata_xlsx_col_width(x, 3, 3, 26);
        st = long_rows(o, f, x, &row);
    }
    if (st == STRATA_OK)
        st = strata_xlsx_table(x, 0, row - 1, N_LONG - 1);
    if (st != STRATA_OK) {
        fclose(f);
        remove(tmp);
        strata_free(o->ctx, tmp, 0);
        return st;
    }
    return strata_out_publish(o->ctx, f, tmp, path, 0644);
}

/* ---- the owner-only patient workbook ------------------------------------------- */

static strata_status patient_book(office *o, const char *outdir)
{
    static const char *const text_cols[] = {"patient_id", "pcn", "practice", NULL};
    char path[4096], sheet[32];
    const char *base = strrchr(o->in->patient_csv, '/');
    size_t n = 0, k;
    strata_xlsx *x;
    strata_status st;
    base = base ? base + 1 : o->in->patient_csv;
    for (k = 0; base[k] && base[k] != '.' && k < sizeof sheet - 1; k++)
        sheet[k] = base[k];
    sheet[k] = '\0';
    snprintf(path, sizeof path, "%s/patient_lists.xlsx", outdir);
    STRATA_TRY(strata_xlsx_open(o->ctx, path, 0600, &x));
    st = strata_xlsx_sheet(x, "README");
    if (st == STRATA_OK) {
        strata_xlsx_col_width(x, 0, 0, 120);
        st = strata_xlsx_text(x, 0, 0, "Patient-level: owner only", STRATA_XS_TITLE);
    }
    if (st == STRATA_OK)
        st = strata_xlsx_text(x, 1, 0, "This workbook lists pseudonymised patients offered "
                              "proactive care. It is not disclosure-controlled: keep it within the "
                              "care team and the organisation's information-governance rules. "
                              "patient_id is text so that every digit is kept.", STRATA_XS_WRAP);
    if (st == STRATA_OK)
        st = strata_xlsx_sheet_from_csv(x, sheet, o->in->patient_csv, text_cols, &n);
    if (st != STRATA_OK) {
        strata_xlsx_abort(x);
        return st;
    }
    return strata_xlsx_close(x);
}

/* ---- driver -------------------------------------------------------------------- */

static void add_file(strata_office_files *w, const char *file, int patient)
{
    if (w && w->n < STRATA_OFFICE_MAX_FILES) {
        w->file[w->n] = file;
        w->patient_level[w->n] = patient;
        w->n++;
    }
}

strata_status strata_write_office(strata_ctx *ctx, const strata_office_input *in,
                                  const char *outdir, strata_office_files *written)
{
    office o;
    strata_xlsx *x = NULL;
    strata_status st = STRATA_OK;
    char path[4096];
    if (written)
        memset(written, 0, sizeof *written);
    memset(&o, 0, sizeof o);
    o.ctx = ctx;
    o.in = in;
    o.v = strata_calloc(ctx, in->n_tables + 1, sizeof *o.v);
    if (!o.v)
        return STRATA_ENOMEM;
    for (size_t k = 0; k < in->n_tables && st == STRATA_OK; k++)
        if (in->tables[k])
            st = view_init(&o, &o.v[o.nv++], in->tables[k], in->names[k]);
    if (st == STRATA_OK)
        st = report_names_load(ctx, in->data_dir, &o.names);
    snprintf(path, sizeof path, "%s/outputs.xlsx", outdir);
    if (st == STRATA_OK)
        st = strata_xlsx_open(ctx, path, 0644, &x);
    if (st == STRATA_OK)
        st = readme_sheet(&o, x);
    for (size_t k = 0; k < o.nv && st == STRATA_OK; k++)
        st = table_sheet(&o, x, &o.v[k]);
    if (st == STRATA_OK)
        st = long_table(&o, x, outdir);
    if (st == STRATA_OK) {
        st = strata_xlsx_close(x);
        x = NULL;
    }
    if (st == STRATA_OK) {
        add_file(written, "outputs.xlsx", 0);
        add_file(written, "aggregates_long.csv", 0);
    }
    if (st == STRATA_OK && in->patient_csv) {
        st = patient_book(&o, outdir);
        if (st == STRATA_OK)
            add_file(written, "patient_lists.xlsx", 1);
    }
    strata_xlsx_abort(x);
    for (size_t k = 0; k < o.nv; k++) {
        strata_free(ctx, o.v[k].lo, 0);
        strata_free(ctx, o.v[k].hi, 0);
        strata_free(ctx, o.v[k].is_bound, 0);
    }
    strata_free(ctx, o.v, 0);
    report_names_free(ctx, o.names);
    return st;
}
