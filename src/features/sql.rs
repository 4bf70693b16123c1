//! SQL statements as learning sees them: per statement its kind (`select`, `update`,
//! `drop`, …), whether a `WHERE` or `LIMIT` bounds it, whether it grants or revokes
//! privileges, and the tables it touches (as identities, generalised like hosts).
//! `UPDATE orders SET status='shipped' WHERE id=5` and `UPDATE accounts SET balance=0` never
//! share a fingerprint. Parsed with `sqlparser` (generic dialect, its own recursion limit);
//! what does not parse keeps its leading keyword and says `unparsed`.

use sqlparser::ast::{
    FromTable, ObjectName, SetExpr, Statement, TableFactor, TableObject, TableWithJoins,
};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;

use super::{Feature, Identity};

/// Longest SQL text parsed.
const MAX_SQL: usize = 16 << 10;
/// Most statements read from one text.
const MAX_STATEMENTS: usize = 8;
/// Most tables taken per statement.
const MAX_TABLES: usize = 8;

const KEYWORDS: &[&str] = &[
    "select", "insert", "update", "delete", "drop", "truncate", "alter", "create", "grant",
    "revoke", "with", "merge", "replace", "upsert", "copy", "vacuum", "explain", "show",
    "describe", "set",
];

/// Whether the key says its value is SQL.
pub fn key_says_sql(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["sql", "query", "statement", "stmt"]
        .iter()
        .any(|w| k.contains(w))
}

/// Whether `t` reads as SQL: it starts with a statement keyword followed by a space, or its
/// key says so and it has one.
pub fn looks_like_sql(key: &str, t: &str) -> bool {
    let first = t
        .split(|c: char| c.is_whitespace() || c == '(')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    let keyword = KEYWORDS.contains(&first.as_str());
    let k = key.to_ascii_lowercase();
    keyword && (t.contains(char::is_whitespace) || key_says_sql(&k))
}

/// Add the features of the SQL text `t` at `at`; `false` when it does not parse and
/// `surely_sql` (its key or place says it is SQL) is not set: then it is read as text.
pub fn features(at: &str, t: &str, surely_sql: bool, out: &mut Vec<Feature>) -> bool {
    let t = super::cut(t, MAX_SQL);
    match Parser::parse_sql(&GenericDialect {}, t) {
        Ok(statements) if !statements.is_empty() => {
            for s in statements.iter().take(MAX_STATEMENTS) {
                statement(at, s, out);
            }
            true
        }
        _ => {
            let first = t
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_lowercase();
            if !surely_sql || !KEYWORDS.contains(&first.as_str()) {
                return false;
            }
            out.push(Feature::class(at, &format!("sql {first} unparsed")));
            true
        }
    }
}

fn statement(at: &str, s: &Statement, out: &mut Vec<Feature>) {
    let mut tables: Vec<String> = Vec::new();
    let (kind, bound): (String, &str) = match s {
        Statement::Query(q) => {
            collect_set(&q.body, &mut tables);
            let bounded = q.limit_clause.is_some() || has_where(&q.body);
            (
                "select".into(),
                if bounded { "bounded" } else { "unbounded" },
            )
        }
        Statement::Insert(i) => {
            if let TableObject::TableName(n) = &i.table {
                tables.push(name(n));
            }
            ("insert".into(), "")
        }
        Statement::Update(u) => {
            collect_joins(std::slice::from_ref(&u.table), &mut tables);
            let bounded = u.selection.is_some() || u.limit.is_some();
            (
                "update".into(),
                if bounded { "bounded" } else { "unbounded" },
            )
        }
        Statement::Delete(d) => {
            match &d.from {
                FromTable::WithFromKeyword(t) | FromTable::WithoutKeyword(t) => {
                    collect_joins(t, &mut tables)
                }
            }
            for n in &d.tables {
                tables.push(name(n));
            }
            let bounded = d.selection.is_some() || d.limit.is_some();
            (
                "delete".into(),
                if bounded { "bounded" } else { "unbounded" },
            )
        }
        Statement::Truncate(t) => {
            for n in &t.table_names {
                tables.push(name(&n.name));
            }
            ("truncate".into(), "")
        }
        Statement::Drop {
            object_type, names, ..
        } => {
            for n in names {
                tables.push(name(n));
            }
            (
                format!("drop {}", object_type.to_string().to_ascii_lowercase()),
                "",
            )
        }
        Statement::Grant(_) | Statement::GrantRole(_) => ("grant".into(), "privileged"),
        Statement::Revoke(_) | Statement::RevokeRole(_) => ("revoke".into(), "privileged"),
        Statement::AlterTable(a) => {
            tables.push(name(&a.name));
            ("alter table".into(), "")
        }
        Statement::CreateTable(c) => {
            tables.push(name(&c.name));
            ("create table".into(), "")
        }
        other => {
            let text = other.to_string();
            let first = text
                .split_whitespace()
                .next()
                .unwrap_or("other")
                .to_ascii_lowercase();
            let privileged = [
                "create user",
                "alter user",
                "drop user",
                "create role",
                "alter role",
                "set role",
            ]
            .iter()
            .any(|p| text.to_ascii_lowercase().starts_with(p));
            (first, if privileged { "privileged" } else { "" })
        }
    };
    let class = if bound.is_empty() {
        format!("sql {kind}")
    } else {
        format!("sql {kind} {bound}")
    };
    out.push(Feature::class(at, &class));
    tables.sort();
    tables.dedup();
    for t in tables.into_iter().take(MAX_TABLES) {
        out.push(Feature {
            at: format!("{at}[{kind}]:table"),
            class: "table".into(),
            identity: Identity::Name(t),
        });
    }
}

/// A table's name: its last part, lowercased, quotes dropped.
fn name(n: &ObjectName) -> String {
    let s = n.to_string();
    s.rsplit('.')
        .next()
        .unwrap_or(&s)
        .trim_matches(['"', '`', '[', ']'])
        .to_ascii_lowercase()
}

fn collect_joins(t: &[TableWithJoins], out: &mut Vec<String>) {
    for twj in t {
        factor(&twj.relation, out);
        for j in &twj.joins {
            factor(&j.relation, out);
        }
    }
}

fn factor(f: &TableFactor, out: &mut Vec<String>) {
    if let TableFactor::Table { name: n, .. } = f {
        out.push(name(n));
    }
}

fn collect_set(body: &SetExpr, out: &mut Vec<String>) {
    match body {
        SetExpr::Select(s) => collect_joins(&s.from, out),
        SetExpr::Query(q) => collect_set(&q.body, out),
        SetExpr::SetOperation { left, right, .. } => {
            collect_set(left, out);
            collect_set(right, out);
        }
        _ => {}
    }
}

fn has_where(body: &SetExpr) -> bool {
    match body {
        SetExpr::Select(s) => s.selection.is_some(),
        SetExpr::Query(q) => q.limit_clause.is_some() || has_where(&q.body),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feats(t: &str) -> Vec<String> {
        let mut out = Vec::new();
        assert!(features("q", t, true, &mut out), "{t}");
        out.iter().map(Feature::describe).collect()
    }

    #[test]
    fn kinds_bounds_and_tables() {
        assert_eq!(
            feats("UPDATE orders SET status='shipped' WHERE id=5"),
            ["q=sql update bounded", "q[update]:table=table orders"]
        );
        assert_eq!(
            feats("update accounts set balance = 0"),
            ["q=sql update unbounded", "q[update]:table=table accounts"]
        );
        assert_eq!(
            feats("DELETE FROM public.users"),
            ["q=sql delete unbounded", "q[delete]:table=table users"]
        );
        assert_eq!(
            feats("DROP TABLE customers"),
            ["q=sql drop table", "q[drop table]:table=table customers"]
        );
        assert_eq!(
            feats("GRANT ALL ON accounts TO PUBLIC"),
            ["q=sql grant privileged"]
        );
        assert_eq!(
            feats("SELECT id FROM orders o JOIN items i ON o.id = i.order_id WHERE o.id = 3"),
            [
                "q=sql select bounded",
                "q[select]:table=table items",
                "q[select]:table=table orders"
            ]
        );
        assert_eq!(
            feats("SELECT nonsense FROM WHERE"),
            ["q=sql select unparsed"]
        );
        let mut out = Vec::new();
        assert!(!features(
            "note",
            "Update the README with the new numbers",
            false,
            &mut out
        ));
    }

    #[test]
    fn detection() {
        assert!(looks_like_sql("query", "SELECT 1"));
        assert!(looks_like_sql("x", "delete from t where id = 1"));
        assert!(!looks_like_sql("note", "Delete"));
        assert!(!looks_like_sql("note", "please update the doc"));
    }
}
