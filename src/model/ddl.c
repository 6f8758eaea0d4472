/* Table DDL from a spec and the ALTER plan towards it (contract in ddl.h). Every statement is
 * built from quoted identifiers and canonical types only, so a spec cannot inject SQL. */
#include "model/ddl.h"

#include <stdlib.h>
#include <string.h>

#include "model/sqlquote.h"
#include "model/typegrammar.h"
#include "base/xalloc.h"

static const char *part_fn(fm_part_kind k) {
    switch (k) {
    case FM_PART_YEAR: return "year";
    case FM_PART_MONTH: return "month";
    case FM_PART_DAY: return "day";
    case FM_PART_HOUR: return "hour";
    default: return NULL;
    }
}

int fm_ddl_partition_clause(fm_buf *out, const fm_table_spec *t, fm_err *err) {
    fm_buf_putc(out, '(');
    for (size_t i = 0; i < t->npartitions; i++) {
        const fm_partition_spec *p = &t->partitions[i];
        if (i) fm_buf_puts(out, ", ");
        if (p->kind == FM_PART_IDENTITY) {
            if (fm_sql_ident(out, p->column, "partition column", err)) return -1;
        } else if (p->kind == FM_PART_BUCKET) {
            fm_buf_printf(out, "bucket(%d, ", p->buckets);
            if (fm_sql_ident(out, p->column, "partition column", err)) return -1;
            fm_buf_putc(out, ')');
        } else {
            fm_buf_printf(out, "%s(", part_fn(p->kind));
            if (fm_sql_ident(out, p->column, "partition column", err)) return -1;
            fm_buf_putc(out, ')');
        }
    }
    fm_buf_putc(out, ')');
    return 0;
}

static int column_def(fm_buf *b, const fm_column_spec *c, fm_err *err) {
    if (fm_sql_ident(b, c->name, "column name", err)) return -1;
    fm_buf_printf(b, " %s%s", c->type, c->nullable ? "" : " NOT NULL");
    return 0;
}

static int alter_column(fm_buf *b, const char *q, const char *col, fm_err *err) {
    fm_buf_printf(b, "ALTER TABLE %s ALTER COLUMN ", q);
    return fm_sql_ident(b, col, "column name", err);
}

int fm_ddl_create(fm_buf *sql, const char *qualified, const fm_table_spec *t, fm_err *err) {
    fm_buf b;
    fm_buf_init(&b);
    fm_buf_printf(&b, "CREATE TABLE IF NOT EXISTS %s (", qualified);
    for (size_t i = 0; i < t->ncolumns; i++) {
        if (i) fm_buf_puts(&b, ", ");
        if (column_def(&b, &t->columns[i], err)) goto fail;
    }
    fm_buf_puts(&b, ")");
    if (t->npartitions) {
        fm_buf_printf(&b, ";\nALTER TABLE %s SET PARTITIONED BY ", qualified);
        if (fm_ddl_partition_clause(&b, t, err)) goto fail;
    }
    for (size_t i = 0; i < t->ncolumns; i++) {
        if (!t->columns[i].comment) continue;
        fm_buf_printf(&b, ";\nCOMMENT ON COLUMN %s.", qualified);
        if (fm_sql_ident(&b, t->columns[i].name, "column name", err)) goto fail;
        fm_buf_puts(&b, " IS ");
        if (fm_sql_literal(&b, t->columns[i].comment, err)) goto fail;
    }
    fm_buf_append(sql, b.data, b.len);
    fm_buf_free(&b);
    return 0;
fail:
    fm_buf_free(&b);
    return -1;
}

static long find_current(const fm_current_column *cur, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(cur[i].name, name) == 0) return (long)i;
    return -1;
}

static int spec_has(const fm_table_spec *t, const char *name) {
    for (size_t i = 0; i < t->ncolumns; i++)
        if (strcmp(t->columns[i].name, name) == 0) return 1;
    return 0;
}

int fm_ddl_plan(fm_buf *sql, const char *q, const fm_table_spec *t, const fm_current_column *cur, size_t ncur,
                const char *current_partition, fm_err *err) {
    /* match[i]: index of the current column spec column i becomes, or -1 when it is new */
    long *match = fm_xcalloc(t->ncolumns ? t->ncolumns : 1, sizeof *match);
    char *used = fm_xcalloc(ncur ? ncur : 1, 1);
    fm_buf b, why;
    fm_buf_init(&b);
    fm_buf_init(&why);
    int rc = -1;
    if (!match || !used) {
        fm_fail(err, FM_E_INTERNAL, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < t->ncolumns; i++) {
        match[i] = find_current(cur, ncur, t->columns[i].name);
        if (match[i] >= 0) used[match[i]] = 1;
    }
    /* a rename only claims a current column no spec column keeps by name */
    for (size_t i = 0; i < t->ncolumns; i++) {
        const char *from = t->columns[i].renamed_from;
        if (match[i] >= 0 || !from || spec_has(t, from)) continue;
        long j = find_current(cur, ncur, from);
        if (j < 0 || used[j]) continue;
        match[i] = j;
        used[j] = 1;
        fm_buf_printf(&b, "ALTER TABLE %s RENAME COLUMN ", q);
        if (fm_sql_ident(&b, from, "column name", err)) goto out;
        fm_buf_puts(&b, " TO ");
        if (fm_sql_ident(&b, t->columns[i].name, "column name", err)) goto out;
        fm_buf_puts(&b, ";\n");
    }
    for (size_t i = 0; i < t->ncolumns; i++) {
        if (match[i] >= 0) continue;
        fm_buf_printf(&b, "ALTER TABLE %s ADD COLUMN ", q);
        /* DuckLake cannot add a NOT NULL column to rows that already exist */
        fm_column_spec c = t->columns[i];
        if (!c.nullable && ncur) {
            fm_fail(err, FM_E_REFUSED,
                    "column %s: a new column must be nullable (existing rows have no value for it); add it "
                    "nullable, fill it, then set nullable: false",
                    c.name);
            goto out;
        }
        if (column_def(&b, &c, err)) goto out;
        fm_buf_puts(&b, ";\n");
    }
    for (size_t i = 0; i < t->ncolumns; i++) {
        if (match[i] < 0) continue;
        const fm_column_spec *c = &t->columns[i];
        const fm_current_column *k = &cur[match[i]];
        if (strcmp(k->type, c->type) != 0) {
            fm_buf_reset(&why);
            if (!fm_type_widening_ok(k->type, c->type, &why)) {
                fm_fail(err, FM_E_REFUSED, "column %s: %s", c->name, why.len ? why.data : "type change refused");
                goto out;
            }
            if (alter_column(&b, q, c->name, err)) goto out;
            fm_buf_printf(&b, " SET DATA TYPE %s;\n", c->type);
        }
        if (k->nullable != c->nullable) {
            if (alter_column(&b, q, c->name, err)) goto out;
            fm_buf_puts(&b, c->nullable ? " DROP NOT NULL;\n" : " SET NOT NULL;\n");
        }
    }
    /* partitioning before drops, so a dropped column is no longer a partition key */
    fm_buf want;
    fm_buf_init(&want);
    if (t->npartitions && fm_ddl_partition_clause(&want, t, err)) {
        fm_buf_free(&want);
        goto out;
    }
    const char *w = t->npartitions ? want.data : NULL;
    if ((w == NULL) != (current_partition == NULL) || (w && strcmp(w, current_partition) != 0)) {
        if (w)
            fm_buf_printf(&b, "ALTER TABLE %s SET PARTITIONED BY %s;\n", q, w);
        else
            fm_buf_printf(&b, "ALTER TABLE %s RESET PARTITIONED BY;\n", q);
    }
    fm_buf_free(&want);
    for (size_t j = 0; j < ncur; j++) {
        if (used[j]) continue;
        fm_buf_printf(&b, "ALTER TABLE %s DROP COLUMN ", q);
        if (fm_sql_ident(&b, cur[j].name, "column name", err)) goto out;
        fm_buf_puts(&b, ";\n");
    }
    if (b.len) fm_buf_append(sql, b.data, b.len);
    rc = 0;
out:
    free(match);
    free(used);
    fm_buf_free(&b);
    fm_buf_free(&why);
    return rc;
}
