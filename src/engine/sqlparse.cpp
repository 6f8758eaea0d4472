// The C++ side of sqlparse.h: walks the parse trees duckdb_extract_statements produced and
// returns a flat C description. C++ only because DuckDB's C API cannot reach a parse tree for
// anything but SELECT; everything else (policy, messages) is C in authz.c.
//
// The walk is explicit per node type rather than through ParsedExpressionIterator: that
// iterator skips parts an authorizer must see (AT clauses, SHOW/DESCRIBE queries, PIVOT
// subqueries, CTE nodes, table-function subqueries). Any node type not handled here ends the
// walk with `unsupported` set, which the authorizer refuses.
#include "engine/sqlparse.h"

#include <deque>
#include <string>
#include <vector>

#include "duckdb/main/capi/capi_internal.hpp"
#include "duckdb/parser/constraints/check_constraint.hpp"
#include "duckdb/parser/expression/list.hpp"
#include "duckdb/parser/parsed_data/alter_table_info.hpp"
#include "duckdb/parser/parsed_data/comment_on_column_info.hpp"
#include "duckdb/parser/parsed_data/create_schema_info.hpp"
#include "duckdb/parser/parsed_data/create_table_info.hpp"
#include "duckdb/parser/parsed_data/create_view_info.hpp"
#include "duckdb/parser/parsed_data/drop_info.hpp"
#include "duckdb/parser/query_node/list.hpp"
#include "duckdb/parser/statement/list.hpp"
#include "duckdb/parser/tableref/list.hpp"

using namespace duckdb;

namespace {

struct Unsupported {
    std::string what;
};

struct Holder {
    fm_sqlstmt pub;
    std::deque<std::string> strings; // stable addresses for the C strings
    std::vector<fm_sqlref> refs;
    std::string unsupported;
};

// SHOW TABLES keeps the name quoted ("tables"); SHOW ALL TABLES does not
static std::string ShowName(const std::string &n) {
    std::string s = StringUtil::Lower(n);
    if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
    return s;
}

class Walker {
  public:
    explicit Walker(Holder &h) : h_(h) {}

    void Statement(const SQLStatement &s, bool top);

  private:
    Holder &h_;

    const char *Keep(const std::string &s) {
        h_.strings.push_back(s);
        return h_.strings.back().c_str();
    }
    void Ref(fm_sqlref_kind kind, const std::string &catalog, const std::string &schema, const std::string &name) {
        fm_sqlref r;
        r.kind = kind;
        r.catalog = Keep(catalog);
        r.schema = Keep(schema);
        r.name = Keep(name);
        h_.refs.push_back(r);
    }
    void Function(fm_sqlref_kind kind, const std::string &catalog, const std::string &schema,
                  const std::string &name) {
        Ref(kind, catalog, schema, StringUtil::Lower(name));
    }

    void Expr(const ParsedExpression *e);
    void Exprs(const vector<unique_ptr<ParsedExpression>> &v) {
        for (auto &e : v) Expr(e.get());
    }
    void Orders(const vector<OrderByNode> &orders) {
        for (auto &o : orders) Expr(o.expression.get());
    }
    void Select(const SelectStatement *s) {
        if (s) Node(s->node.get());
    }
    void Node(const QueryNode *n);
    void Ctes(const CommonTableExpressionMap &m) {
        for (auto &kv : m.map) {
            Exprs(kv.second->key_targets);
            Select(kv.second->query.get());
        }
    }
    void Table(const TableRef *r);
    void Target(const TableRef *r);
    void UpdateSet(const UpdateSetInfo *u) {
        if (!u) return;
        Expr(u->condition.get());
        Exprs(u->expressions);
    }
    void Column(const ColumnDefinition &c) {
        if (c.Generated()) Expr(&c.GeneratedExpression());
        else if (c.HasDefaultValue()) Expr(&c.DefaultValue());
    }
    void Create(const CreateInfo &info);
    void Alter(const AlterInfo &info);
};

void Walker::Expr(const ParsedExpression *e) {
    if (!e) return;
    switch (e->GetExpressionClass()) {
    case ExpressionClass::FUNCTION: {
        auto &f = e->Cast<FunctionExpression>();
        // operators (+, ~~, ...) are FunctionExpressions too: they are functions of the catalog
        Function(FM_SQLREF_FUNCTION, f.catalog, f.schema, f.function_name);
        Exprs(f.children);
        Expr(f.filter.get());
        if (f.order_bys) Orders(f.order_bys->orders);
        break;
    }
    case ExpressionClass::WINDOW: {
        auto &w = e->Cast<WindowExpression>();
        Function(FM_SQLREF_FUNCTION, w.catalog, w.schema, w.function_name);
        Exprs(w.children);
        Exprs(w.partitions);
        Orders(w.orders);
        Orders(w.arg_orders);
        Expr(w.filter_expr.get());
        Expr(w.start_expr.get());
        Expr(w.end_expr.get());
        Expr(w.offset_expr.get());
        Expr(w.default_expr.get());
        break;
    }
    case ExpressionClass::SUBQUERY: {
        auto &s = e->Cast<SubqueryExpression>();
        Select(s.subquery.get());
        Expr(s.child.get());
        break;
    }
    case ExpressionClass::BETWEEN: {
        auto &b = e->Cast<BetweenExpression>();
        Expr(b.input.get());
        Expr(b.lower.get());
        Expr(b.upper.get());
        break;
    }
    case ExpressionClass::CASE: {
        auto &c = e->Cast<CaseExpression>();
        for (auto &check : c.case_checks) {
            Expr(check.when_expr.get());
            Expr(check.then_expr.get());
        }
        Expr(c.else_expr.get());
        break;
    }
    case ExpressionClass::CAST: Expr(e->Cast<CastExpression>().child.get()); break;
    case ExpressionClass::COLLATE: Expr(e->Cast<CollateExpression>().child.get()); break;
    case ExpressionClass::COMPARISON: {
        auto &c = e->Cast<ComparisonExpression>();
        Expr(c.left.get());
        Expr(c.right.get());
        break;
    }
    case ExpressionClass::CONJUNCTION: Exprs(e->Cast<ConjunctionExpression>().children); break;
    case ExpressionClass::OPERATOR: Exprs(e->Cast<OperatorExpression>().children); break;
    case ExpressionClass::LAMBDA: {
        auto &l = e->Cast<LambdaExpression>();
        Expr(l.lhs.get());
        Expr(l.expr.get());
        break;
    }
    case ExpressionClass::STAR: {
        auto &s = e->Cast<StarExpression>();
        Expr(s.expr.get());
        for (auto &kv : s.replace_list) Expr(kv.second.get());
        break;
    }
    case ExpressionClass::TYPE: {
        auto &t = const_cast<TypeExpression &>(e->Cast<TypeExpression>());
        Exprs(t.GetChildren());
        break;
    }
    case ExpressionClass::COLUMN_REF:
    case ExpressionClass::LAMBDA_REF:
    case ExpressionClass::CONSTANT:
    case ExpressionClass::DEFAULT:
    case ExpressionClass::PARAMETER:
    case ExpressionClass::POSITIONAL_REFERENCE: break;
    default: throw Unsupported {"expression " + ExpressionClassToString(e->GetExpressionClass())};
    }
}

void Walker::Node(const QueryNode *n) {
    if (!n) return;
    Ctes(n->cte_map);
    switch (n->type) {
    case QueryNodeType::SELECT_NODE: {
        auto &s = n->Cast<SelectNode>();
        Exprs(s.select_list);
        Table(s.from_table.get());
        Expr(s.where_clause.get());
        Exprs(s.groups.group_expressions);
        Expr(s.having.get());
        Expr(s.qualify.get());
        break;
    }
    case QueryNodeType::SET_OPERATION_NODE:
        for (auto &c : n->Cast<SetOperationNode>().children) Node(c.get());
        break;
    case QueryNodeType::RECURSIVE_CTE_NODE: {
        auto &r = n->Cast<RecursiveCTENode>();
        Node(r.left.get());
        Node(r.right.get());
        Exprs(r.key_targets);
        break;
    }
    case QueryNodeType::CTE_NODE: {
        auto &c = n->Cast<CTENode>();
        Node(c.query.get());
        Node(c.child.get());
        break;
    }
    default: throw Unsupported {"query node type " + std::to_string(static_cast<int>(n->type))};
    }
    for (auto &m : n->modifiers) {
        switch (m->type) {
        case ResultModifierType::LIMIT_MODIFIER: {
            auto &l = m->Cast<LimitModifier>();
            Expr(l.limit.get());
            Expr(l.offset.get());
            break;
        }
        case ResultModifierType::LIMIT_PERCENT_MODIFIER: {
            auto &l = m->Cast<LimitPercentModifier>();
            Expr(l.limit.get());
            Expr(l.offset.get());
            break;
        }
        case ResultModifierType::ORDER_MODIFIER: Orders(m->Cast<OrderModifier>().orders); break;
        case ResultModifierType::DISTINCT_MODIFIER: Exprs(m->Cast<DistinctModifier>().distinct_on_targets); break;
        default: throw Unsupported {"result modifier " + std::to_string(static_cast<int>(m->type))};
        }
    }
}

void Walker::Table(const TableRef *r) {
    if (!r) return;
    switch (r->type) {
    case TableReferenceType::BASE_TABLE: {
        auto &b = r->Cast<BaseTableRef>();
        Ref(FM_SQLREF_TABLE, b.catalog_name, b.schema_name, b.table_name);
        if (b.at_clause) Expr(const_cast<AtClause &>(*b.at_clause).ExpressionMutable().get());
        break;
    }
    case TableReferenceType::JOIN: {
        auto &j = r->Cast<JoinRef>();
        Table(j.left.get());
        Table(j.right.get());
        Expr(j.condition.get());
        break;
    }
    case TableReferenceType::SUBQUERY: Select(r->Cast<SubqueryRef>().subquery.get()); break;
    case TableReferenceType::TABLE_FUNCTION: {
        auto &t = r->Cast<TableFunctionRef>();
        if (!t.function || t.function->GetExpressionClass() != ExpressionClass::FUNCTION)
            throw Unsupported {"table function reference without a function call"};
        auto &f = t.function->Cast<FunctionExpression>();
        Function(FM_SQLREF_TABLE_FUNCTION, f.catalog, f.schema, f.function_name);
        Exprs(f.children);
        Expr(f.filter.get());
        if (f.order_bys) Orders(f.order_bys->orders);
        Select(t.subquery.get());
        break;
    }
    case TableReferenceType::EXPRESSION_LIST:
        for (auto &row : r->Cast<ExpressionListRef>().values) Exprs(row);
        break;
    case TableReferenceType::PIVOT: {
        auto &p = r->Cast<PivotRef>();
        Table(p.source.get());
        Exprs(p.aggregates);
        for (auto &col : p.pivots) {
            Exprs(col.pivot_expressions);
            for (auto &entry : col.entries) Expr(entry.expr.get());
            Node(col.subquery.get());
        }
        break;
    }
    case TableReferenceType::SHOW_REF: {
        auto &s = r->Cast<ShowRef>();
        if (s.query) Node(s.query.get());
        else if (s.show_type == ShowType::SHOW_UNQUALIFIED) Ref(FM_SQLREF_SHOW, "", "", ShowName(s.table_name));
        else if (s.show_type == ShowType::SHOW_FROM) Ref(FM_SQLREF_TABLE, s.catalog_name, s.schema_name, "");
        else Ref(FM_SQLREF_TABLE, s.catalog_name, s.schema_name, s.table_name);
        break;
    }
    case TableReferenceType::EMPTY_FROM: break;
    default: throw Unsupported {"table reference type " + std::to_string(static_cast<int>(r->type))};
    }
}

// the table a DML statement writes: it must be a plain table name
void Walker::Target(const TableRef *r) {
    if (!r || r->type != TableReferenceType::BASE_TABLE) throw Unsupported {"a write target that is not a table name"};
    auto &b = r->Cast<BaseTableRef>();
    if (b.at_clause) throw Unsupported {"a write target with an AT clause"};
    Ref(FM_SQLREF_TARGET, b.catalog_name, b.schema_name, b.table_name);
}

static fm_sqlobj Object(CatalogType t) {
    switch (t) {
    case CatalogType::TABLE_ENTRY: return FM_SQLOBJ_TABLE;
    case CatalogType::VIEW_ENTRY: return FM_SQLOBJ_VIEW;
    case CatalogType::SCHEMA_ENTRY: return FM_SQLOBJ_SCHEMA;
    default: return FM_SQLOBJ_OTHER;
    }
}

void Walker::Create(const CreateInfo &info) {
    h_.pub.object = Object(info.type);
    h_.pub.object_name = Keep(CatalogTypeToString(info.type));
    h_.pub.temporary = info.temporary;
    switch (info.type) {
    case CatalogType::TABLE_ENTRY: {
        auto &t = info.Cast<CreateTableInfo>();
        Ref(FM_SQLREF_TARGET, t.catalog, t.schema, t.table);
        for (auto &c : t.columns.Logical()) Column(c);
        for (auto &c : t.constraints) {
            if (c->type == ConstraintType::CHECK) Expr(c->Cast<CheckConstraint>().expression.get());
            else if (c->type == ConstraintType::FOREIGN_KEY) throw Unsupported {"FOREIGN KEY"};
        }
        Select(t.query.get());
        Exprs(t.partition_keys);
        Exprs(t.sort_keys);
        for (auto &kv : t.options) Expr(kv.second.get());
        break;
    }
    case CatalogType::VIEW_ENTRY: {
        auto &v = info.Cast<CreateViewInfo>();
        Ref(FM_SQLREF_TARGET, v.catalog, v.schema, v.view_name);
        Select(v.query.get());
        break;
    }
    case CatalogType::SCHEMA_ENTRY: Ref(FM_SQLREF_TARGET, info.catalog, "", info.schema); break;
    default: break; // refused by kind; nothing to walk
    }
}

void Walker::Alter(const AlterInfo &info) {
    switch (info.type) {
    case AlterType::ALTER_TABLE: {
        h_.pub.object = FM_SQLOBJ_TABLE;
        h_.pub.object_name = "TABLE";
        auto &t = info.Cast<AlterTableInfo>();
        switch (t.alter_table_type) {
        case AlterTableType::RENAME_COLUMN:
        case AlterTableType::RENAME_TABLE:
        case AlterTableType::REMOVE_COLUMN:
        case AlterTableType::SET_NOT_NULL:
        case AlterTableType::DROP_NOT_NULL:
        case AlterTableType::REMOVE_FIELD:
        case AlterTableType::RENAME_FIELD: break;
        case AlterTableType::ADD_COLUMN: Column(t.Cast<AddColumnInfo>().new_column); break;
        case AlterTableType::ADD_FIELD: Column(t.Cast<AddFieldInfo>().new_field); break;
        case AlterTableType::ALTER_COLUMN_TYPE: Expr(t.Cast<ChangeColumnTypeInfo>().expression.get()); break;
        case AlterTableType::SET_DEFAULT: Expr(t.Cast<SetDefaultInfo>().expression.get()); break;
        case AlterTableType::SET_PARTITIONED_BY: Exprs(t.Cast<SetPartitionedByInfo>().partition_keys); break;
        case AlterTableType::SET_SORTED_BY: Orders(t.Cast<SetSortedByInfo>().orders); break;
        case AlterTableType::ADD_CONSTRAINT: h_.pub.alter_detail = "ADD CONSTRAINT"; break;
        case AlterTableType::FOREIGN_KEY_CONSTRAINT: h_.pub.alter_detail = "FOREIGN KEY"; break;
        case AlterTableType::SET_TABLE_OPTIONS: h_.pub.alter_detail = "SET (options)"; break;
        case AlterTableType::RESET_TABLE_OPTIONS: h_.pub.alter_detail = "RESET (options)"; break;
        default: h_.pub.alter_detail = "this ALTER TABLE form";
        }
        break;
    }
    case AlterType::ALTER_VIEW:
        h_.pub.object = FM_SQLOBJ_VIEW;
        h_.pub.object_name = "VIEW";
        break;
    case AlterType::SET_COMMENT:
    case AlterType::SET_COLUMN_COMMENT: {
        CatalogType ct = info.GetCatalogType();
        h_.pub.object = Object(ct);
        h_.pub.object_name = Keep(CatalogTypeToString(ct));
        break;
    }
    default:
        h_.pub.object = FM_SQLOBJ_OTHER;
        h_.pub.object_name = Keep(CatalogTypeToString(info.GetCatalogType()));
    }
    Ref(FM_SQLREF_TARGET, info.catalog, info.schema, info.name);
}

void Walker::Statement(const SQLStatement &s, bool top) {
    duckdb_statement_type t = StatementTypeToC(s.type);
    if (top) {
        h_.pub.type = t;
        h_.pub.type_name = Keep(StatementTypeToString(s.type));
    }
    h_.pub.inner = t;
    switch (s.type) {
    case StatementType::SELECT_STATEMENT: Select(&s.Cast<SelectStatement>()); break;
    case StatementType::INSERT_STATEMENT: {
        auto &i = s.Cast<InsertStatement>();
        Ctes(i.cte_map);
        if (i.table_ref) Target(i.table_ref.get());
        else Ref(FM_SQLREF_TARGET, i.catalog, i.schema, i.table);
        Select(i.select_statement.get());
        Exprs(i.returning_list);
        if (i.on_conflict_info) {
            UpdateSet(i.on_conflict_info->set_info.get());
            Expr(i.on_conflict_info->condition.get());
        }
        break;
    }
    case StatementType::UPDATE_STATEMENT: {
        auto &u = s.Cast<UpdateStatement>();
        Ctes(u.cte_map);
        Target(u.table.get());
        Table(u.from_table.get());
        UpdateSet(u.set_info.get());
        Exprs(u.returning_list);
        break;
    }
    case StatementType::DELETE_STATEMENT: {
        auto &d = s.Cast<DeleteStatement>();
        Ctes(d.cte_map);
        Target(d.table.get());
        for (auto &u : d.using_clauses) Table(u.get());
        Expr(d.condition.get());
        Exprs(d.returning_list);
        break;
    }
    case StatementType::MERGE_INTO_STATEMENT: {
        auto &m = s.Cast<MergeIntoStatement>();
        Ctes(m.cte_map);
        Target(m.target.get());
        Table(m.source.get());
        Expr(m.join_condition.get());
        for (auto &kv : m.actions) {
            for (auto &a : kv.second) {
                Expr(a->condition.get());
                UpdateSet(a->update_info.get());
                Exprs(a->expressions);
            }
        }
        Exprs(m.returning_list);
        break;
    }
    case StatementType::CREATE_STATEMENT: Create(*s.Cast<CreateStatement>().info); break;
    case StatementType::ALTER_STATEMENT: Alter(*s.Cast<AlterStatement>().info); break;
    case StatementType::DROP_STATEMENT: {
        auto &d = *s.Cast<DropStatement>().info;
        h_.pub.object = Object(d.type);
        h_.pub.object_name = Keep(CatalogTypeToString(d.type));
        if (d.type == CatalogType::SCHEMA_ENTRY) Ref(FM_SQLREF_TARGET, d.catalog, "", d.name);
        else Ref(FM_SQLREF_TARGET, d.catalog, d.schema, d.name);
        break;
    }
    case StatementType::EXPLAIN_STATEMENT: {
        auto &e = s.Cast<ExplainStatement>();
        if (e.explain_type == ExplainType::EXPLAIN_ANALYZE) h_.pub.analyze = true;
        if (!e.stmt) throw Unsupported {"EXPLAIN without a statement"};
        Statement(*e.stmt, false);
        break;
    }
    case StatementType::CALL_STATEMENT: {
        auto &c = s.Cast<CallStatement>();
        if (!c.function || c.function->GetExpressionClass() != ExpressionClass::FUNCTION)
            throw Unsupported {"CALL without a function call"};
        auto &f = c.function->Cast<FunctionExpression>();
        Function(FM_SQLREF_TABLE_FUNCTION, f.catalog, f.schema, f.function_name);
        Exprs(f.children);
        break;
    }
    case StatementType::COPY_STATEMENT: h_.pub.copy_from = s.Cast<CopyStatement>().info->is_from; break;
    default: break; // refused by type; nothing to walk
    }
}

} // namespace

extern "C" fm_sqlstmt *fm_sqlparse_describe(duckdb_extracted_statements stmts, idx_t i) {
    auto *w = reinterpret_cast<ExtractStatementsWrapper *>(stmts);
    if (!w || i >= w->statements.size() || !w->statements[i]) return nullptr;
    Holder *h;
    try {
        h = new Holder();
    } catch (...) {
        return nullptr;
    }
    fm_sqlstmt &p = h->pub;
    p.type = p.inner = DUCKDB_STATEMENT_TYPE_INVALID;
    p.type_name = "statement";
    p.object = FM_SQLOBJ_NONE;
    p.object_name = p.alter_detail = "";
    p.priv = h;
    try {
        Walker(*h).Statement(*w->statements[i], true);
    } catch (const Unsupported &u) {
        h->unsupported = u.what;
    } catch (const std::exception &ex) {
        h->unsupported = std::string("a statement the authorizer cannot read (") + ex.what() + ")";
    } catch (...) {
        h->unsupported = "a statement the authorizer cannot read";
    }
    p.unsupported = h->unsupported.empty() ? nullptr : h->unsupported.c_str();
    p.refs = h->refs.data();
    p.nrefs = h->refs.size();
    return &h->pub;
}

extern "C" void fm_sqlstmt_free(fm_sqlstmt *s) {
    if (s) delete static_cast<Holder *>(s->priv);
}
