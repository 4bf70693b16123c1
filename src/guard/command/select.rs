//! What a `SELECT` hands back, as a reviewer reads it: personal data (or every column) or
//! not, and for one row (looked up by a key) or for many (a search, a range, the whole
//! table). `SELECT email, phone FROM customers WHERE last_name ILIKE 'kow%'` and `SELECT
//! email FROM customers WHERE customer_id = 'C1'` share their table and their kind; what
//! they return is what tells a bulk export from a lookup. Aggregates (`count(*)`, `GROUP
//! BY`) return no one's data and are left alone.

use sqlparser::ast::{BinaryOperator, Expr, GroupByExpr, InTarget, Select, SelectItem};

/// Deepest `WHERE` nesting walked (the parser caps nesting already; this bounds the walk).
const MAX_DEPTH: usize = 32;
/// Most values an `IN (…)` list may hold and still name rows one by one.
const MAX_IN_LIST: usize = 20;

/// Words of a column's name that say it holds personal data or a credential.
#[rustfmt::skip]
const PERSONAL: &[&str] = &[
    "email", "mail", "phone", "mobile", "msisdn", "telephone", "address", "street",
    "postcode", "zip", "dob", "birth", "birthdate", "birthday", "iban", "card", "pan", "cvv",
    "ssn", "bsn", "passport", "salary", "password", "passwd", "token", "secret", "surname",
    "firstname", "lastname", "fullname",
];

/// Two-word column names that hold a person's name (`first_name`, `last_name`).
const NAME_PARTS: &[&str] = &[
    "first", "last", "full", "given", "family", "customer", "contact",
];

/// Aggregate functions: a projection of only these returns no row's data.
const AGGREGATES: &[&str] = &[
    "count",
    "sum",
    "avg",
    "min",
    "max",
    "stddev",
    "variance",
    "percentile_cont",
    "percentile_disc",
    "approx_count_distinct",
    "median",
];

/// What a `SELECT` returns, when it returns someone's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returns {
    /// Personal columns, for rows named by key.
    PersonalOne,
    /// Personal columns, for many rows.
    PersonalMany,
    /// Every column (`*`), for rows named by key.
    AllOne,
    /// Every column, for many rows.
    AllMany,
}

impl Returns {
    /// As written in a feature's class.
    pub fn as_str(self) -> &'static str {
        match self {
            Returns::PersonalOne => "personal one",
            Returns::PersonalMany => "personal many",
            Returns::AllOne => "all one",
            Returns::AllMany => "all many",
        }
    }
}

/// What `sel` returns, or `None` for aggregates and selects of no personal column.
pub fn returns(sel: &Select) -> Option<Returns> {
    let grouped = match &sel.group_by {
        GroupByExpr::All(_) => true,
        GroupByExpr::Expressions(v, _) => !v.is_empty(),
    };
    let mut personal = false;
    let mut every = false;
    for item in &sel.projection {
        match item {
            SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => every = true,
            SelectItem::UnnamedExpr(e)
            | SelectItem::ExprWithAlias { expr: e, .. }
            | SelectItem::ExprWithAliases { expr: e, .. } => {
                if !is_aggregate(e) && names_personal(&e.to_string()) {
                    personal = true;
                }
            }
        }
    }
    if grouped && !every {
        // Grouped rows are about groups; a personal column among the keys is still
        // personal (`GROUP BY email`), so only a grouped select of none is left alone.
        if !personal {
            return None;
        }
    }
    let one = sel.selection.as_ref().is_some_and(|e| by_key(e, 0));
    match (every, personal, one) {
        (true, _, true) => Some(Returns::AllOne),
        (true, _, false) => Some(Returns::AllMany),
        (false, true, true) => Some(Returns::PersonalOne),
        (false, true, false) => Some(Returns::PersonalMany),
        (false, false, _) => None,
    }
}

fn is_aggregate(e: &Expr) -> bool {
    match e {
        Expr::Function(f) => {
            let name = f.name.to_string().to_ascii_lowercase();
            let last = name.rsplit('.').next().unwrap_or(&name);
            AGGREGATES.contains(&last)
        }
        Expr::Nested(inner) => is_aggregate(inner),
        _ => false,
    }
}

/// Whether the text of a projected expression names a personal column.
fn names_personal(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|ident| !ident.is_empty())
        .any(|ident| {
            let words: Vec<&str> = ident.split('_').filter(|w| !w.is_empty()).collect();
            words.iter().any(|w| PERSONAL.contains(w))
                || words
                    .windows(2)
                    .any(|p| p[1] == "name" && NAME_PARTS.contains(&p[0]))
        })
}

/// Whether a `WHERE` names rows one by one: a column equal to a value (or in a short list
/// of values), alone or `AND`ed with anything, or `OR`s of such.
fn by_key(e: &Expr, depth: usize) -> bool {
    if depth > MAX_DEPTH {
        return false;
    }
    match e {
        Expr::Nested(inner) => by_key(inner, depth + 1),
        Expr::BinaryOp { left, op, right } => match op {
            BinaryOperator::And => by_key(left, depth + 1) || by_key(right, depth + 1),
            BinaryOperator::Or => by_key(left, depth + 1) && by_key(right, depth + 1),
            BinaryOperator::Eq => {
                (is_column(left) && is_value(right)) || (is_value(left) && is_column(right))
            }
            _ => false,
        },
        Expr::In {
            expr,
            target: InTarget::List(list),
            negated: false,
            ..
        } => is_column(expr) && list.len() <= MAX_IN_LIST && list.iter().all(is_value),
        _ => false,
    }
}

fn is_column(e: &Expr) -> bool {
    matches!(e, Expr::Identifier(_) | Expr::CompoundIdentifier(_))
}

fn is_value(e: &Expr) -> bool {
    match e {
        Expr::Value(_) => true,
        Expr::Nested(inner) => is_value(inner),
        Expr::UnaryOp { expr, .. } => is_value(expr),
        Expr::Cast { expr, .. } => is_value(expr),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::ast::{SetExpr, Statement};
    use sqlparser::dialect::PostgreSqlDialect;
    use sqlparser::parser::Parser;

    fn of(sql: &str) -> Option<Returns> {
        let mut v = Parser::parse_sql(&PostgreSqlDialect {}, sql).expect("parses");
        let Some(Statement::Query(q)) = v.pop() else {
            panic!("not a query: {sql}")
        };
        let SetExpr::Select(sel) = *q.body else {
            panic!("not a select: {sql}")
        };
        returns(&sel)
    }

    #[test]
    fn lookups_searches_and_aggregates() {
        use Returns::*;
        let cases = [
            (
                "SELECT customer_id, email, phone FROM customers WHERE last_name ILIKE 'kow%' LIMIT 200",
                Some(PersonalMany),
            ),
            (
                "SELECT email FROM customers WHERE customer_id = 'C1'",
                Some(PersonalOne),
            ),
            (
                "SELECT c.email FROM customers c WHERE c.customer_id = 'C1' AND c.active",
                Some(PersonalOne),
            ),
            (
                "SELECT email FROM customers WHERE id IN (1, 2, 3)",
                Some(PersonalOne),
            ),
            ("SELECT email FROM subscribers", Some(PersonalMany)),
            (
                "SELECT first_name, last_name FROM staff WHERE dept = 'x' OR dept = 'y'",
                Some(PersonalOne),
            ),
            (
                "SELECT first_name FROM staff WHERE hired > '2026-01-01'",
                Some(PersonalMany),
            ),
            ("SELECT * FROM orders WHERE order_id = 'KO-1'", Some(AllOne)),
            ("SELECT * FROM orders", Some(AllMany)),
            (
                "SELECT order_id, total FROM orders WHERE created_at > now()",
                None,
            ),
            ("SELECT count(*) FROM customers", None),
            (
                "SELECT country, count(*) FROM customers GROUP BY country",
                None,
            ),
            ("SELECT count(DISTINCT email) FROM customers", None),
            (
                "SELECT lower(email) AS e FROM customers WHERE 1 = 1",
                Some(PersonalMany),
            ),
            (
                "SELECT product_name, sku FROM products WHERE sku = 'A'",
                None,
            ),
        ];
        for (sql, want) in cases {
            assert_eq!(of(sql), want, "{sql}");
        }
    }
}
