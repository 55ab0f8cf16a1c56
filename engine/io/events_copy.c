/* engine/io/events_copy.c — copies a cohort's content into a new writer's file
 * (root attributes, /patients, /outcomes, /truth, /dict, /events/<t>), leaving
 * out one event table and its levels tables, so an import can add or replace
 * that table. Invariant: copied objects keep their bytes, attributes and the
 * absence of timestamps; nothing is copied twice. */
#include "cohort_internal.h"
#include "events_internal.h"

#include <stdio.h>
#include <string.h>

typedef struct copy_state {
    strata_ctx *ctx;
    hid_t src, dst;
    const char *skip_table; /* events table left out, or NULL */
    const char *group;      /* group being iterated ("/dict", "/events") */
    int failed;
    strata_status st;       /* a reader's own failure (ENOMEM, EFORMAT), its message on ctx */
} copy_state;

static herr_t copy_attr(hid_t obj, const char *name, const H5A_info_t *info, void *ud)
{
    copy_state *s = ud;
    char *v = NULL;
    (void)info;
    if (!strcmp(name, "strata_schema") || !strcmp(name, "schema_version"))
        return 0;
    if ((s->st = strata_h5_attr_read(s->ctx, obj, "cohort", "/", name, 0, &v)) != STRATA_OK)
        s->failed = 1;
    else if (v && strata_h5_write_attr_string(s->dst, name, v) < 0)
        s->failed = 1;
    strata_free(s->ctx, v, 0);
    return s->failed ? -1 : 0;
}

/* Is /dict/<name> a levels table of the table being replaced? */
static int skipped_dict(const copy_state *s, const char *name)
{
    char pre[300];
    if (!s->skip_table)
        return 0;
    snprintf(pre, sizeof pre, "events.%s.", s->skip_table);
    return !strncmp(name, pre, strlen(pre));
}

static herr_t copy_member(hid_t g, const char *name, const H5L_info_t *info, void *ud)
{
    copy_state *s = ud;
    char path[1024];
    (void)g;
    (void)info;
    if (!strcmp(s->group, "/dict") && skipped_dict(s, name))
        return 0;
    if (!strcmp(s->group, "/events") && s->skip_table && !strcmp(name, s->skip_table))
        return 0;
    snprintf(path, sizeof path, "%s/%s", s->group, name);
    if (H5Ocopy(s->src, path, s->dst, path, H5P_DEFAULT, H5P_DEFAULT) < 0) {
        s->failed = 1;
        return -1;
    }
    return 0;
}

/* Creates group path in dst (creation order tracked, no times) and copies its members. */
static int copy_group(copy_state *s, const char *path)
{
    hid_t gcpl, g;
    hsize_t idx = 0;
    if (H5Lexists(s->src, path, H5P_DEFAULT) <= 0)
        return 0;
    if (H5Lexists(s->dst, path, H5P_DEFAULT) <= 0) {
        gcpl = H5Pcreate(H5P_GROUP_CREATE);
        H5Pset_obj_track_times(gcpl, 0);
        H5Pset_link_creation_order(gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
        g = H5Gcreate2(s->dst, path, H5P_DEFAULT, gcpl, H5P_DEFAULT);
        H5Pclose(gcpl);
        if (g < 0)
            return -1;
        H5Gclose(g);
    }
    g = H5Gopen2(s->src, path, H5P_DEFAULT);
    if (g < 0)
        return -1;
    s->group = path;
    if (H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, copy_member, s) < 0)
        s->failed = 1;
    H5Gclose(g);
    return s->failed ? -1 : 0;
}

strata_status strata_events_copy_cohort(strata_ctx *ctx, const char *src_path,
                                        strata_cohort_writer *w, const char *skip_table)
{
    static const char *const groups[] = {"/patients", "/outcomes", "/truth", "/dict", "/events"};
    copy_state s = {ctx, H5I_INVALID_HID, strata_cohort_writer_file(w), skip_table, NULL, 0, STRATA_OK};
    hsize_t idx = 0;
    strata_h5_quiet();
    s.src = H5Fopen(src_path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (s.src < 0)
        return STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot open to copy", src_path);
    if (H5Aiterate2(s.src, H5_INDEX_NAME, H5_ITER_INC, &idx, copy_attr, &s) < 0)
        s.failed = 1;
    for (size_t i = 0; i < sizeof groups / sizeof groups[0] && !s.failed; i++)
        if (copy_group(&s, groups[i]) < 0)
            s.failed = 1;
    H5Fclose(s.src);
    if (s.st != STRATA_OK)
        return s.st; /* out of memory, or an attribute strata does not read: already said */
    if (s.failed)
        return STRATA_FAIL(ctx, STRATA_EIO, "%s: copying the cohort's groups failed (%s)",
                           src_path, s.group ? s.group : "root attributes");
    return STRATA_OK;
}
