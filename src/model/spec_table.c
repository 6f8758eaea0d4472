/* DuckLakeTable: columns through the type grammar (the canonical type is stored, so specs and
 * live tables compare as strings), names through the identifier rules, and partition entries in
 * their string form resolved against the declared columns: an entry that equals a column
 * name is that column even if it also reads as a transform (a column literally named
 * "year(ts)"), so a spec means the same thing whatever its columns are called. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "model/spec.h"
#include "model/spec_util.h"
#include "model/sqlquote.h"
#include "model/typegrammar.h"
#include "base/xalloc.h"

#define MAX_COLUMNS 1000
#define MAX_PARTITIONS 16
#define MAX_BUCKETS 1000000

static const char *const compressions[] = {"ZSTD", "SNAPPY", "GZIP", "LZ4", "LZ4_RAW", "BROTLI", "UNCOMPRESSED", NULL};

static int ident_ok(const char *name, const char *path, const char *what, fm_err *err) {
    fm_buf b;
    fm_buf_init(&b);
    fm_err e;
    int rc = fm_sql_ident(&b, name, what, &e);
    fm_buf_free(&b);
    return rc ? fm_fail(err, FM_E_INVALID, "%s: %s", path, e.msg) : 0;
}

/* upper-cased compression enum */
static int compression(json_t *o, const char *ppath, const char *def, char **out, fm_err *err) {
    if (fm_sp_str(o, ppath, "compression", false, def, 32, out, err)) return -1;
    if (!*out) return 0;
    for (char *p = *out; *p; p++) *p = (char)toupper((unsigned char)*p);
    for (size_t i = 0; compressions[i]; i++)
        if (strcmp(compressions[i], *out) == 0) return 0;
    return fm_fail(err, FM_E_INVALID,
                   "%s.compression: \"%s\" is not one of ZSTD, SNAPPY, GZIP, LZ4, LZ4_RAW, BROTLI, UNCOMPRESSED", ppath,
                   *out);
}

static int parse_column(json_t *c, const char *path, fm_column_spec *col, fm_err *err) {
    static const char *const known[] = {"name", "type", "nullable", "comment", "renamedFrom", NULL};
    if (!json_is_object(c)) return fm_fail(err, FM_E_INVALID, "%s: must be an object {name, type}", path);
    if (fm_sp_known(c, path, known, err)) return -1;
    char p[300];
    fm_sp_path(p, sizeof p, path, "name");
    if (fm_sp_str(c, path, "name", true, NULL, 4096, &col->name, err) || ident_ok(col->name, p, "column name", err))
        return -1;
    char *type;
    if (fm_sp_str(c, path, "type", true, NULL, 4096, &type, err)) return -1;
    fm_buf canon;
    fm_buf_init(&canon);
    fm_err e;
    int rc = fm_type_parse(type, &canon, &e);
    free(type);
    if (rc) {
        fm_buf_free(&canon);
        return fm_fail(err, FM_E_INVALID, "%s.type: %s", path, e.msg);
    }
    col->type = fm_buf_steal(&canon);
    if (fm_sp_bool(c, path, "nullable", true, &col->nullable, err)) return -1;
    if (fm_sp_str(c, path, "comment", false, NULL, 4096, &col->comment, err)) return -1;
    fm_sp_path(p, sizeof p, path, "renamedFrom");
    if (fm_sp_str(c, path, "renamedFrom", false, NULL, 4096, &col->renamed_from, err)) return -1;
    if (col->renamed_from && ident_ok(col->renamed_from, p, "renamedFrom", err)) return -1;
    return 0;
}

static int parse_columns(json_t *spec, fm_table_spec *t, fm_err *err) {
    json_t *cols = json_object_get(spec, "columns");
    if (!cols || json_is_null(cols)) return fm_fail(err, FM_E_INVALID, "spec.columns: required field is missing");
    if (!json_is_array(cols)) return fm_fail(err, FM_E_INVALID, "spec.columns: must be a list of {name, type}");
    size_t n = json_array_size(cols);
    if (n == 0) return fm_fail(err, FM_E_INVALID, "spec.columns: must declare at least one column");
    if (n > MAX_COLUMNS) return fm_fail(err, FM_E_INVALID, "spec.columns: %zu columns (at most %d)", n, MAX_COLUMNS);
    t->columns = fm_xcalloc(n, sizeof *t->columns);
    for (size_t i = 0; i < n; i++) {
        char path[64];
        fm_sp_index(path, sizeof path, "spec.columns", i);
        t->ncolumns = i + 1;
        fm_column_spec *c = &t->columns[i];
        if (parse_column(json_array_get(cols, i), path, c, err)) return -1;
        for (size_t j = 0; j < i; j++) {
            /* DuckDB resolves column names case-insensitively */
            if (strcasecmp(t->columns[j].name, c->name) == 0)
                return fm_fail(err, FM_E_INVALID, "%s.name: \"%s\" is declared twice (also spec.columns[%zu])", path,
                               c->name, j);
            if (c->renamed_from && t->columns[j].renamed_from &&
                strcasecmp(t->columns[j].renamed_from, c->renamed_from) == 0)
                return fm_fail(err, FM_E_INVALID, "%s.renamedFrom: \"%s\" is also renamed by spec.columns[%zu]", path,
                               c->renamed_from, j);
        }
    }
    for (size_t i = 0; i < n; i++) {
        const char *rf = t->columns[i].renamed_from;
        for (size_t j = 0; rf && j < n; j++)
            if (strcasecmp(t->columns[j].name, rf) == 0)
                return fm_fail(err, FM_E_INVALID, "spec.columns[%zu].renamedFrom: \"%s\" is still a declared column", i,
                               rf);
    }
    return 0;
}

static const fm_column_spec *find_column(const fm_table_spec *t, const char *name, size_t len) {
    for (size_t i = 0; i < t->ncolumns; i++)
        if (strlen(t->columns[i].name) == len && memcmp(t->columns[i].name, name, len) == 0) return &t->columns[i];
    return NULL;
}

static int not_a_column(const fm_table_spec *t, const char *path, const char *entry, const char *name, size_t len,
                        fm_err *err) {
    fm_buf cols;
    fm_buf_init(&cols);
    for (size_t i = 0; i < t->ncolumns; i++) fm_buf_printf(&cols, "%s%s", i ? ", " : "", t->columns[i].name);
    if (entry)
        fm_fail(err, FM_E_INVALID, "%s: %s: \"%.*s\" is not a declared column (columns: %s)", path, entry, (int)len,
                name, cols.data);
    else
        fm_fail(err, FM_E_INVALID, "%s: \"%.*s\" is not a declared column (columns: %s)", path, (int)len, name,
                cols.data);
    fm_buf_free(&cols);
    return -1;
}

static bool nested(const char *type) {
    size_t n = strlen(type);
    return (n > 2 && strcmp(type + n - 2, "[]") == 0) || !strncmp(type, "STRUCT(", 7) || !strncmp(type, "MAP(", 4);
}

/* one partitioning entry: "col", "year(col)" ... "hour(col)", "bucket(N, col)" */
static int parse_partition(const fm_table_spec *t, const char *s, const char *path, fm_partition_spec *p,
                           fm_err *err) {
    static const struct {
        const char *fn;
        fm_part_kind kind;
    } fns[] = {{"year", FM_PART_YEAR}, {"month", FM_PART_MONTH}, {"day", FM_PART_DAY},
               {"hour", FM_PART_HOUR}, {"bucket", FM_PART_BUCKET}};
    const fm_column_spec *col = find_column(t, s, strlen(s));
    p->kind = FM_PART_IDENTITY;
    p->buckets = 0;
    if (!col) {
        size_t n = strlen(s), i;
        const char *open = strchr(s, '(');
        for (i = 0; open && i < sizeof fns / sizeof *fns; i++)
            if ((size_t)(open - s) == strlen(fns[i].fn) && strncasecmp(s, fns[i].fn, strlen(fns[i].fn)) == 0) break;
        if (!open || i == sizeof fns / sizeof *fns || s[n - 1] != ')') return not_a_column(t, path, NULL, s, n, err);
        const char *inner = open + 1;
        size_t len = (size_t)(s + n - 1 - inner);
        p->kind = fns[i].kind;
        if (p->kind == FM_PART_BUCKET) {
            char *end;
            while (*inner == ' ') inner++;
            long b = strtol(inner, &end, 10);
            if (end == inner || !isdigit((unsigned char)*inner))
                return fm_fail(err, FM_E_INVALID, "%s: \"%s\": expected bucket(N, column) with a number N", path, s);
            while (*end == ' ') end++;
            if (*end != ',') return fm_fail(err, FM_E_INVALID, "%s: \"%s\": expected bucket(N, column)", path, s);
            if (b < 1 || b > MAX_BUCKETS)
                return fm_fail(err, FM_E_INVALID, "%s: \"%s\": bucket count %ld out of range 1..%d", path, s, b,
                               MAX_BUCKETS);
            p->buckets = (int)b;
            inner = end + 1;
            len = (size_t)(s + n - 1 - inner);
        }
        col = find_column(t, inner, len);
        while (!col && len && (*inner == ' ' || inner[len - 1] == ' ')) { /* "year( ts )" */
            if (*inner == ' ') inner++, len--;
            else len--;
            col = find_column(t, inner, len);
        }
        if (!col) return not_a_column(t, path, s, inner, len, err);
        const char *ty = col->type;
        bool temporal = !strcmp(ty, "DATE") || !strcmp(ty, "TIMESTAMP") || !strcmp(ty, "TIMESTAMP WITH TIME ZONE");
        if (p->kind == FM_PART_HOUR && !strcmp(ty, "DATE")) temporal = false;
        if (p->kind != FM_PART_BUCKET && !temporal)
            return fm_fail(err, FM_E_INVALID, "%s: \"%s\": %s() needs a %s column, \"%s\" is %s", path, s, fns[i].fn,
                           p->kind == FM_PART_HOUR ? "TIMESTAMP" : "DATE or TIMESTAMP", col->name, ty);
    }
    if (nested(col->type))
        return fm_fail(err, FM_E_INVALID, "%s: \"%s\": cannot partition by a %s column", path, s, col->type);
    p->column = fm_xstrdup(col->name);
    return 0;
}

static int parse_format(json_t *spec, fm_table_spec *t, fm_err *err) {
    static const char *const known[] = {"compression", "partitioning", NULL};
    json_t *f;
    if (fm_sp_obj(spec, "spec", "format", false, &f, err)) return -1;
    if (!f) return 0;
    if (fm_sp_known(f, "spec.format", known, err) || compression(f, "spec.format", NULL, &t->compression, err))
        return -1;
    json_t *parts = json_object_get(f, "partitioning");
    if (!parts || json_is_null(parts)) return 0;
    if (!json_is_array(parts))
        return fm_fail(err, FM_E_INVALID, "spec.format.partitioning: must be a list of strings");
    size_t n = json_array_size(parts);
    if (n > MAX_PARTITIONS)
        return fm_fail(err, FM_E_INVALID, "spec.format.partitioning: %zu entries (at most %d)", n, MAX_PARTITIONS);
    t->partitions = fm_xcalloc(n ? n : 1, sizeof *t->partitions);
    for (size_t i = 0; i < n; i++) {
        char path[64];
        fm_sp_index(path, sizeof path, "spec.format.partitioning", i);
        json_t *e = json_array_get(parts, i);
        if (!json_is_string(e)) return fm_fail(err, FM_E_INVALID, "%s: must be a string", path);
        const char *s = json_string_value(e);
        if (!fm_utf8_valid(s, strlen(s)) || strlen(s) > 600)
            return fm_fail(err, FM_E_INVALID, "%s: not valid UTF-8 or too long", path);
        t->npartitions = i + 1;
        fm_partition_spec *p = &t->partitions[i];
        if (parse_partition(t, s, path, p, err)) return -1;
        for (size_t j = 0; j < i; j++)
            if (t->partitions[j].kind == p->kind && t->partitions[j].buckets == p->buckets &&
                strcmp(t->partitions[j].column, p->column) == 0)
                return fm_fail(err, FM_E_INVALID, "%s: \"%s\" repeats spec.format.partitioning[%zu]", path, s, j);
    }
    return 0;
}

static int parse_materialize(json_t *spec, fm_table_spec *t, fm_err *err) {
    static const char *const known[] = {"enabled", "sql", "schedule", "mode", "destination", "format", NULL};
    static const char *const modes[] = {"overwrite", "append", NULL};
    static const char *const types[] = {"parquet", NULL};
    const char *P = "spec.materializeTo";
    json_t *m, *d, *f;
    if (fm_sp_obj(spec, "spec", "materializeTo", false, &m, err)) return -1;
    if (m && fm_sp_known(m, P, known, err)) return -1;
    if (fm_sp_bool(m, P, "enabled", false, &t->materialize.enabled, err)) return -1;
    if (fm_sp_str(m, P, "sql", t->materialize.enabled, NULL, 65536, &t->materialize.sql, err)) return -1;
    if (fm_sp_str(m, P, "schedule", false, NULL, 128, &t->materialize.schedule, err)) return -1;
    char why[160];
    if (t->materialize.schedule && !fm_sp_cron(t->materialize.schedule, why, sizeof why))
        return fm_fail(err, FM_E_INVALID, "%s.schedule: \"%s\" %s", P, t->materialize.schedule, why);
    if (fm_sp_enum(m, P, "mode", "overwrite", modes, &t->materialize.mode, err)) return -1;
    if (fm_sp_obj(m, P, "destination", false, &d, err)) return -1;
    static const char *const dk[] = {"bucket", "prefix", NULL};
    if (d && fm_sp_known(d, "spec.materializeTo.destination", dk, err)) return -1;
    if (fm_sp_str(d, "spec.materializeTo.destination", "bucket", false, NULL, 63, &t->materialize.dest_bucket, err))
        return -1;
    if (t->materialize.dest_bucket && !fm_sp_bucket_name(t->materialize.dest_bucket))
        return fm_fail(err, FM_E_INVALID, "spec.materializeTo.destination.bucket: \"%s\" is not a valid bucket name",
                       t->materialize.dest_bucket);
    char *prefix = NULL;
    if (fm_sp_str(d, "spec.materializeTo.destination", "prefix", false, NULL, 1024, &prefix, err)) return -1;
    if (prefix) {
        t->materialize.dest_prefix = fm_sp_prefix(prefix, "spec.materializeTo.destination.prefix", err);
        free(prefix);
        if (!t->materialize.dest_prefix) return -1;
    }
    if (fm_sp_obj(m, P, "format", false, &f, err)) return -1;
    static const char *const fk[] = {"type", "compression", NULL};
    if (f && fm_sp_known(f, "spec.materializeTo.format", fk, err)) return -1;
    char *type = NULL;
    int rc = fm_sp_enum(f, "spec.materializeTo.format", "type", "parquet", types, &type, err);
    free(type);
    if (rc) return -1;
    return compression(f, "spec.materializeTo.format", "ZSTD", &t->materialize.compression, err);
}

static int table_body(json_t *spec, fm_table_spec *t, fm_err *err) {
    static const char *const known[] = {"catalogRef", "name", "columns", "format", "deletionPolicy", "materializeTo",
                                        NULL};
    static const char *const policies[] = {"retain", "delete", NULL};
    if (fm_sp_known(spec, "spec", known, err)) return -1;
    json_t *ref = json_object_get(spec, "catalogRef");
    if (json_is_object(ref)) {
        static const char *const rk[] = {"name", NULL};
        if (fm_sp_known(ref, "spec.catalogRef", rk, err) ||
            fm_sp_str(ref, "spec.catalogRef", "name", true, NULL, 253, &t->catalog_ref, err))
            return -1;
    } else if (fm_sp_str(spec, "spec", "catalogRef", true, NULL, 253, &t->catalog_ref, err)) {
        return -1;
    }
    if (!fm_sp_dns1123_subdomain(t->catalog_ref))
        return fm_fail(err, FM_E_INVALID, "spec.catalogRef: \"%s\" is not a DuckLakeCatalog name (DNS-1123 subdomain)",
                       t->catalog_ref);
    if (fm_sp_str(spec, "spec", "name", true, NULL, 4096, &t->table, err) ||
        ident_ok(t->table, "spec.name", "table name", err))
        return -1;
    if (parse_columns(spec, t, err) || parse_format(spec, t, err)) return -1;
    if (fm_sp_enum(spec, "spec", "deletionPolicy", "retain", policies, &t->deletion_policy, err)) return -1;
    return parse_materialize(spec, t, err);
}

int fm_table_spec_parse(json_t *doc, fm_table_spec *out, fm_err *err) {
    memset(out, 0, sizeof *out);
    json_t *spec;
    if (fm_sp_header(doc, "DuckLakeTable", &out->name, &out->namespace_, &out->paused, &spec, err) ||
        table_body(spec, out, err)) {
        fm_table_spec_free(out);
        return -1;
    }
    return 0;
}

void fm_table_spec_free(fm_table_spec *t) {
    if (!t) return;
    free(t->name), free(t->namespace_), free(t->catalog_ref), free(t->table), free(t->compression);
    for (size_t i = 0; i < t->ncolumns; i++) {
        fm_column_spec *c = &t->columns[i];
        free(c->name), free(c->type), free(c->comment), free(c->renamed_from);
    }
    free(t->columns);
    for (size_t i = 0; i < t->npartitions; i++) free(t->partitions[i].column);
    free(t->partitions), free(t->deletion_policy);
    free(t->materialize.sql), free(t->materialize.schedule), free(t->materialize.mode);
    free(t->materialize.dest_bucket), free(t->materialize.dest_prefix), free(t->materialize.compression);
    memset(t, 0, sizeof *t);
}
