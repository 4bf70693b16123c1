//! SQL statements as structure: kind, tables, whether a `WHERE` or `LIMIT` bounds a
//! `DELETE`/`UPDATE`, and privilege grants — parsed with the `sqlparser` crate (generic,
//! MySQL, PostgreSQL and MS SQL dialects, the first that accepts a statement), so prose
//! that mentions `DELETE` or `TRUNCATE` is not taken for a statement.
//!
//! Statements are split at `;` outside quotes and parsed one by one, so one odd statement
//! does not hide the others. Caps: [`MAX_INPUT`] bytes, [`MAX_STATEMENTS`] statements,
//! expression nesting [`MAX_DEPTH`] (the parser's recursion limit).

use sqlparser::ast::{
    FromTable, GranteesType, ObjectType, Privileges, Statement, TableFactor, TableObject,
    TableWithJoins,
};
use sqlparser::dialect::{Dialect, GenericDialect, MsSqlDialect, MySqlDialect, PostgreSqlDialect};
use sqlparser::parser::Parser;

use super::CommandError;

/// Longest input read.
pub const MAX_INPUT: usize = 64 << 10;
/// Most statements kept.
pub const MAX_STATEMENTS: usize = 64;
/// The parser's recursion limit (nesting of expressions and subqueries).
pub const MAX_DEPTH: usize = 32;

/// What a statement does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlKind {
    /// `SELECT` (and other queries).
    Select,
    /// `INSERT`.
    Insert,
    /// `UPDATE`.
    Update,
    /// `DELETE`.
    Delete,
    /// `TRUNCATE`.
    Truncate,
    /// `DROP TABLE/DATABASE/SCHEMA/…`.
    Drop,
    /// `CREATE …`.
    Create,
    /// `ALTER …`.
    Alter,
    /// `GRANT`.
    Grant,
    /// `REVOKE`.
    Revoke,
    /// Anything else the parser accepted.
    Other,
}

/// One statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlStatement {
    /// What it does.
    pub kind: SqlKind,
    /// Tables (or other objects, for `DROP`) it names, as written.
    pub tables: Vec<String>,
    /// For `DROP`: the kind of object (`table`, `database`, `schema`, …), lower case.
    pub object: Option<String>,
    /// `DELETE`/`UPDATE`: a `WHERE` that is not trivially true, or a `LIMIT`, bounds it.
    /// Always `true` for other kinds.
    pub bounded: bool,
    /// `GRANT ALL [PRIVILEGES]`.
    pub all_privileges: bool,
    /// A `GRANT` to `PUBLIC`.
    pub to_public: bool,
    /// `SELECT`: what it returns when it returns someone's data (see `select`).
    pub returns: Option<super::select::Returns>,
    /// Byte range of the statement in the parsed text.
    pub span: std::ops::Range<usize>,
}

impl SqlStatement {
    /// Whether running it destroys data or opens access wholesale: `DROP` of a table,
    /// database or schema, `TRUNCATE`, `DELETE`/`UPDATE` without bounds, `GRANT ALL` or a
    /// grant to `PUBLIC`.
    pub fn is_destructive(&self) -> bool {
        match self.kind {
            SqlKind::Drop => self
                .object
                .as_deref()
                .is_some_and(|o| matches!(o, "table" | "database" | "schema" | "user" | "role")),
            SqlKind::Truncate => true,
            SqlKind::Delete | SqlKind::Update => !self.bounded,
            SqlKind::Grant => self.all_privileges || self.to_public,
            _ => false,
        }
    }
}

/// The statements of a piece of SQL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SqlParse {
    /// Statements the parser accepted, in order (the others are left out).
    pub statements: Vec<SqlStatement>,
    /// Pieces between `;` that no dialect accepted.
    pub rejected: usize,
    /// Set when a cap stopped the parse early.
    pub truncated: Option<CommandError>,
}

/// Parse `text` as SQL statements. Never fails: statements no dialect accepts are counted
/// in [`SqlParse::rejected`].
pub fn parse_sql(text: &str) -> SqlParse {
    let mut out = SqlParse::default();
    let (text, cut) = super::capped(text, MAX_INPUT);
    out.truncated = cut;
    for span in split_statements(text) {
        if out.statements.len() + out.rejected >= MAX_STATEMENTS {
            out.truncated = Some(CommandError::TooMany(MAX_STATEMENTS));
            break;
        }
        let piece = &text[span.clone()];
        if piece.trim().is_empty() {
            continue;
        }
        match parse_one(piece) {
            Some(stmt) => out.statements.push(describe(&stmt, span)),
            None => out.rejected += 1,
        }
    }
    out
}

fn parse_one(sql: &str) -> Option<Statement> {
    let dialects: [&dyn Dialect; 4] = [
        &GenericDialect {},
        &MySqlDialect {},
        &PostgreSqlDialect {},
        &MsSqlDialect {},
    ];
    for d in dialects {
        let parsed = Parser::new(d)
            .with_recursion_limit(MAX_DEPTH)
            .try_with_sql(sql)
            .and_then(|mut p| p.parse_statements());
        if let Ok(mut v) = parsed
            && v.len() == 1
        {
            return v.pop();
        }
    }
    None
}

/// Byte ranges between `;` outside quotes and comments.
fn split_statements(text: &str) -> Vec<std::ops::Range<usize>> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    let mut quote: Option<u8> = None;
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                b'\'' | b'"' | b'`' => quote = Some(c),
                b'-' if b.get(i + 1) == Some(&b'-') => {
                    while i < b.len() && b[i] != b'\n' {
                        i += 1;
                    }
                    continue;
                }
                b';' => {
                    out.push(start..i);
                    start = i + 1;
                }
                _ => {}
            },
        }
        i += 1;
    }
    if start < b.len() {
        out.push(start..b.len());
    }
    out
}

fn relation_names(t: &TableWithJoins, out: &mut Vec<String>) {
    for f in std::iter::once(&t.relation).chain(t.joins.iter().map(|j| &j.relation)) {
        if let TableFactor::Table { name, .. } = f {
            out.push(name.to_string());
        }
    }
}

/// Whether a `WHERE` condition keeps every row (or every row with a value): a literal true
/// (`1=1`, `'a'='a'`), a column compared with itself, `x IS NOT NULL` (on a key column: all
/// of them), `x LIKE '%'`, and `OR`s and `AND`s of those — such a statement is as wide as one
/// without a `WHERE`.
fn trivially_true(e: &sqlparser::ast::Expr) -> bool {
    trivially_true_at(e, 0)
}

fn trivially_true_at(e: &sqlparser::ast::Expr, depth: usize) -> bool {
    use sqlparser::ast::{BinaryOperator, Expr};
    // The parser already caps nesting; this only keeps the walk itself bounded.
    if depth > 32 {
        return false;
    }
    match e {
        Expr::Nested(inner) => trivially_true_at(inner, depth + 1),
        Expr::IsNotNull(_) => true,
        Expr::BinaryOp { left, op, right } => match op {
            BinaryOperator::Or => {
                trivially_true_at(left, depth + 1) || trivially_true_at(right, depth + 1)
            }
            BinaryOperator::And => {
                trivially_true_at(left, depth + 1) && trivially_true_at(right, depth + 1)
            }
            BinaryOperator::Eq | BinaryOperator::GtEq | BinaryOperator::LtEq => {
                left.to_string() == right.to_string()
            }
            _ => false,
        },
        Expr::Like {
            negated: false,
            pattern,
            ..
        } => {
            let p = pattern.to_string();
            let p = p.trim_matches('\'');
            !p.is_empty() && p.chars().all(|c| c == '%')
        }
        _ => {
            let s = e.to_string().to_ascii_lowercase().replace(' ', "");
            matches!(s.as_str(), "true" | "1")
        }
    }
}

fn describe(stmt: &Statement, span: std::ops::Range<usize>) -> SqlStatement {
    let mut s = SqlStatement {
        kind: SqlKind::Other,
        tables: Vec::new(),
        object: None,
        bounded: true,
        all_privileges: false,
        to_public: false,
        returns: None,
        span,
    };
    match stmt {
        Statement::Query(q) => {
            s.kind = SqlKind::Select;
            if let sqlparser::ast::SetExpr::Select(sel) = q.body.as_ref() {
                for t in &sel.from {
                    relation_names(t, &mut s.tables);
                }
                s.returns = super::select::returns(sel);
            }
        }
        Statement::Insert(i) => {
            s.kind = SqlKind::Insert;
            if let TableObject::TableName(n) = &i.table {
                s.tables.push(n.to_string());
            }
        }
        Statement::Update(u) => {
            s.kind = SqlKind::Update;
            relation_names(&u.table, &mut s.tables);
            s.bounded =
                u.selection.as_ref().is_some_and(|e| !trivially_true(e)) || u.limit.is_some();
        }
        Statement::Delete(d) => {
            s.kind = SqlKind::Delete;
            s.tables.extend(d.tables.iter().map(ToString::to_string));
            let (FromTable::WithFromKeyword(from) | FromTable::WithoutKeyword(from)) = &d.from;
            for t in from {
                relation_names(t, &mut s.tables);
            }
            s.bounded =
                d.selection.as_ref().is_some_and(|e| !trivially_true(e)) || d.limit.is_some();
        }
        Statement::Truncate(t) => {
            s.kind = SqlKind::Truncate;
            s.tables
                .extend(t.table_names.iter().map(|n| n.name.to_string()));
        }
        Statement::Drop {
            object_type, names, ..
        } => {
            s.kind = SqlKind::Drop;
            s.tables.extend(names.iter().map(ToString::to_string));
            s.object = Some(
                match object_type {
                    ObjectType::Table => "table",
                    ObjectType::Schema => "schema",
                    ObjectType::Database => "database",
                    ObjectType::View => "view",
                    ObjectType::Index => "index",
                    ObjectType::User => "user",
                    ObjectType::Role => "role",
                    _ => "other",
                }
                .to_string(),
            );
        }
        Statement::CreateTable(_) | Statement::CreateIndex(_) => s.kind = SqlKind::Create,
        Statement::AlterTable(_) => s.kind = SqlKind::Alter,
        Statement::Grant(g) => {
            s.kind = SqlKind::Grant;
            s.all_privileges = matches!(g.privileges, Privileges::All { .. });
            s.to_public = g.grantees.iter().any(|x| {
                x.grantee_type == GranteesType::Public
                    || x.name
                        .as_ref()
                        .is_some_and(|n| n.to_string().eq_ignore_ascii_case("public"))
            });
        }
        Statement::Revoke(_) => s.kind = SqlKind::Revoke,
        _ => {}
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(sql: &str) -> Vec<(SqlKind, bool)> {
        parse_sql(sql)
            .statements
            .iter()
            .map(|s| (s.kind, s.is_destructive()))
            .collect()
    }

    #[test]
    fn statements_and_their_bounds() {
        assert_eq!(kinds("DELETE FROM users"), [(SqlKind::Delete, true)]);
        assert_eq!(
            kinds("DELETE FROM sessions WHERE expires_at < now();"),
            [(SqlKind::Delete, false)]
        );
        assert_eq!(
            kinds("UPDATE accounts SET balance = 0; update t set a=1 where 1=1"),
            [(SqlKind::Update, true), (SqlKind::Update, true)]
        );
        assert_eq!(
            kinds("UPDATE accounts SET balance = 0 WHERE id = 7"),
            [(SqlKind::Update, false)]
        );
        // A condition every row meets bounds nothing.
        for vacuous in [
            "UPDATE ar_invoices SET status = 'written_off' WHERE invoice_id IS NOT NULL",
            "UPDATE shipments SET status = 'delivered' WHERE true",
            "DELETE FROM t WHERE (1 = 1)",
            "DELETE FROM t WHERE 'a' = 'a' OR id = 7",
            "DELETE FROM t WHERE id = id",
            "DELETE FROM t WHERE name LIKE '%'",
            "UPDATE t SET a = 1 WHERE TRUE AND x IS NOT NULL",
        ] {
            let kind = if vacuous.starts_with("UPDATE") {
                SqlKind::Update
            } else {
                SqlKind::Delete
            };
            assert_eq!(kinds(vacuous), [(kind, true)], "{vacuous}");
        }
        for bounding in [
            "DELETE FROM t WHERE id = 7 AND x IS NOT NULL",
            "DELETE FROM t WHERE name LIKE 'a%'",
            "DELETE FROM t WHERE x IS NULL",
        ] {
            assert_eq!(kinds(bounding), [(SqlKind::Delete, false)], "{bounding}");
        }
        assert_eq!(
            kinds("DROP TABLE IF EXISTS customers CASCADE;"),
            [(SqlKind::Drop, true)]
        );
        assert_eq!(kinds("drop database production"), [(SqlKind::Drop, true)]);
        assert_eq!(
            kinds("TRUNCATE TABLE audit_log;"),
            [(SqlKind::Truncate, true)]
        );
        assert_eq!(
            kinds("GRANT ALL PRIVILEGES ON db.* TO 'app'@'%'"),
            [(SqlKind::Grant, true)]
        );
        assert_eq!(
            kinds("GRANT SELECT ON orders TO PUBLIC"),
            [(SqlKind::Grant, true)]
        );
        assert_eq!(
            kinds("GRANT SELECT ON orders TO analyst"),
            [(SqlKind::Grant, false)]
        );
        assert_eq!(
            kinds("SELECT id FROM orders o JOIN items i ON i.o = o.id WHERE o.id = 7 LIMIT 5"),
            [(SqlKind::Select, false)]
        );
        let p = parse_sql("SELECT a FROM orders o JOIN items i ON i.o = o.id");
        assert_eq!(p.statements[0].tables, ["orders", "items"]);
    }

    #[test]
    fn prose_is_not_sql_and_odd_input_never_panics() {
        let p = parse_sql("We TRUNCATE logs nightly and DELETE old rows weekly");
        assert!(p.statements.is_empty() && p.rejected == 1, "{p:?}");
        assert!(
            parse_sql("delete from the list anything you do not need")
                .statements
                .is_empty()
        );
        for odd in ["", ";;;", "'", "-- x", "SELECT ((((((", "é;ü", "DELETE"] {
            let _ = parse_sql(odd);
        }
        let deep = format!("SELECT {}1{}", "(".repeat(500), ")".repeat(500));
        assert!(parse_sql(&deep).statements.is_empty());
        let many = "SELECT 1;".repeat(200);
        assert_eq!(parse_sql(&many).statements.len(), MAX_STATEMENTS);
    }
}
