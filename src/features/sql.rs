//! SQL statements as learning sees them: per statement its kind (`select`, `update`,
//! `drop table`, …), whether a `WHERE` or `LIMIT` bounds it, whether it grants privileges
//! widely, and the tables it touches (as identities, generalised like hosts).
//! `UPDATE orders SET status='shipped' WHERE id=5` and `UPDATE accounts SET balance=0` never
//! share a fingerprint. The statements come from the guard's parser
//! ([`crate::guard::command::sql`]); text no dialect accepts keeps its leading keyword and
//! says `unparsed`.

use super::{Feature, Identity};
use crate::guard::command::sql::{SqlKind, parse_sql};

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

fn first_keyword(t: &str) -> String {
    t.split(|c: char| c.is_whitespace() || c == '(')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// Whether `t` reads as SQL: it starts with a statement keyword followed by a space, or its
/// key says so and it has one.
pub fn looks_like_sql(key: &str, t: &str) -> bool {
    KEYWORDS.contains(&first_keyword(t).as_str())
        && (t.contains(char::is_whitespace) || key_says_sql(key))
}

/// Add the features of the SQL text `t` at `at`; `false` when nothing parses and
/// `surely_sql` (its key or place says it is SQL) is not set: then it is read as text.
pub fn features(at: &str, t: &str, surely_sql: bool, out: &mut Vec<Feature>) -> bool {
    let parsed = parse_sql(t);
    if parsed.statements.is_empty() {
        let first = first_keyword(t);
        if !surely_sql || !KEYWORDS.contains(&first.as_str()) {
            return false;
        }
        out.push(Feature::class(at, &format!("sql {first} unparsed")));
        return true;
    }
    for s in parsed.statements.iter().take(MAX_STATEMENTS) {
        let kind = match s.kind {
            SqlKind::Select => "select".to_string(),
            SqlKind::Insert => "insert".into(),
            SqlKind::Update => "update".into(),
            SqlKind::Delete => "delete".into(),
            SqlKind::Truncate => "truncate".into(),
            SqlKind::Drop => format!("drop {}", s.object.as_deref().unwrap_or("object")),
            SqlKind::Create => "create".into(),
            SqlKind::Alter => "alter".into(),
            SqlKind::Grant => "grant".into(),
            SqlKind::Revoke => "revoke".into(),
            SqlKind::Other => "other".into(),
        };
        let bound = match s.kind {
            SqlKind::Update | SqlKind::Delete if s.bounded => " bounded",
            SqlKind::Update | SqlKind::Delete => " unbounded",
            SqlKind::Grant if s.all_privileges || s.to_public => " privileged",
            _ => "",
        };
        out.push(Feature::class(at, &format!("sql {kind}{bound}")));
        if let Some(r) = s.returns {
            // What a read hands back: a lookup and a bulk export share table and kind.
            out.push(Feature::class(
                &format!("{at}[{kind}]:returns"),
                &format!("returns {}", r.as_str()),
            ));
        }
        let mut tables: Vec<String> = s.tables.iter().map(|t| name(t)).collect();
        tables.sort();
        tables.dedup();
        for t in tables.into_iter().take(MAX_TABLES) {
            out.push(Feature {
                at: format!("{at}[{kind}]:table"),
                class: "table".into(),
                identity: Identity::Name(t),
                value: None,
            });
        }
    }
    true
}

/// A table's name: its last part, lowercased, quotes dropped.
fn name(t: &str) -> String {
    t.rsplit('.')
        .next()
        .unwrap_or(t)
        .trim_matches(['"', '`', '[', ']'])
        .to_ascii_lowercase()
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
            feats("GRANT ALL ON accounts TO PUBLIC")[0],
            "q=sql grant privileged"
        );
        assert_eq!(
            feats("SELECT id FROM orders o JOIN items i ON o.id = i.order_id WHERE o.id = 3"),
            [
                "q=sql select",
                "q[select]:table=table items",
                "q[select]:table=table orders"
            ]
        );
        assert_eq!(
            feats("SELECT nonsense FROM WHERE"),
            ["q=sql select unparsed"]
        );
        assert_eq!(
            feats("SELECT email, phone FROM customers WHERE last_name ILIKE 'kow%' LIMIT 200"),
            [
                "q=sql select",
                "q[select]:returns=returns personal many",
                "q[select]:table=table customers"
            ]
        );
        assert_eq!(
            feats("SELECT email FROM customers WHERE customer_id = 'C1'")[1],
            "q[select]:returns=returns personal one"
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
