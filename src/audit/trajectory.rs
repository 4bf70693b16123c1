//! `sec0-gateway audit run RUN_ID FILE…`: one run's trajectory — its hops in the order they
//! happened, each with what was called and what was decided. This is the curated trace that
//! reviewing or improving an agent starts from.
//!
//! Records are read from audit files (NDJSON, any order, several chains), kept when their
//! `run_id` matches, and ordered by arrival time, then chain position. Lines that are not
//! JSON objects are reported and skipped (use `audit verify` for integrity).

use std::io::BufRead;
use std::path::Path;

use serde_json::Value;

/// One step of a run.
#[derive(Debug, Clone)]
pub struct Step {
    /// The record as written.
    pub record: Value,
}

impl Step {
    fn field(&self, k: &str) -> &str {
        self.record.get(k).and_then(Value::as_str).unwrap_or("-")
    }

    /// One human-readable line: time, hop (parent), route, method and target, decision,
    /// reason, status, total latency.
    pub fn line(&self) -> String {
        let r = &self.record;
        let target = ["tool", "resource", "prompt", "agent"]
            .iter()
            .find_map(|k| r.get(*k).and_then(Value::as_str))
            .unwrap_or("");
        let decision = match (
            r.get("decision").and_then(Value::as_str),
            r.get("enforced").and_then(Value::as_str),
        ) {
            (Some(d), Some(e)) if d != e => format!("{d} (enforced {e})"),
            (Some(d), _) => d.to_string(),
            _ => self.field("kind").to_string(),
        };
        let status = r
            .get("http_status")
            .and_then(Value::as_u64)
            .map_or("-".to_string(), |s| s.to_string());
        let total = r
            .pointer("/latency_us/total")
            .and_then(Value::as_u64)
            .map_or("-".to_string(), |t| format!("{t}µs"));
        format!(
            "{ts}  hop {hop} <- {parent}  {dir:<8} {route}  {method} {target}  {decision}  {reason}  {status}  {total}",
            ts = self.field("ts"),
            hop = self.field("hop_id"),
            parent = self.field("parent_hop"),
            dir = self.field("direction"),
            route = self.field("route"),
            method = self.field("method"),
            reason = self.field("reason"),
        )
    }
}

/// Why a trajectory could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TrajectoryError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// What the OS said.
        source: std::io::Error,
    },
}

/// The steps of run `run_id` in `files`, in order; `skipped` counts lines that were not JSON
/// objects.
pub fn steps_of(
    run_id: &str,
    files: &[impl AsRef<Path>],
) -> Result<(Vec<Step>, u64), TrajectoryError> {
    let mut steps = Vec::new();
    let mut skipped = 0;
    for path in files {
        let path = path.as_ref();
        let read_err = |source| TrajectoryError::Read {
            path: path.display().to_string(),
            source,
        };
        let f = std::fs::File::open(path).map_err(read_err)?;
        for line in std::io::BufReader::new(f).lines() {
            let line = line.map_err(read_err)?;
            match serde_json::from_str::<Value>(&line) {
                Ok(v) if v.is_object() => {
                    if v.get("run_id").and_then(Value::as_str) == Some(run_id) {
                        steps.push(Step { record: v });
                    }
                }
                _ => skipped += 1,
            }
        }
    }
    // RFC 3339 UTC timestamps with fixed precision sort as strings.
    steps.sort_by(|a, b| {
        (
            a.field("ts"),
            a.field("chain"),
            a.record.get("seq").and_then(Value::as_u64),
        )
            .cmp(&(
                b.field("ts"),
                b.field("chain"),
                b.record.get("seq").and_then(Value::as_u64),
            ))
    });
    Ok((steps, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_run_is_picked_out_and_ordered_by_time() {
        let dir = tempfile::tempdir().expect("dir");
        let a = dir.path().join("a.ndjson");
        let b = dir.path().join("b.ndjson");
        let rec = |ts: &str, run: &str, tool: &str| {
            format!(
                r#"{{"kind":"decision","ts":"{ts}","run_id":"{run}","tool":"{tool}","decision":"allow","enforced":"allow","route":"tools","method":"tools/call","http_status":200,"latency_us":{{"total":9,"policy":1}}}}"#
            )
        };
        let mut f = std::fs::File::create(&a).expect("a");
        writeln!(f, "{}", rec("2026-11-24T10:00:02.000000Z", "r1", "second")).expect("w");
        writeln!(f, "{}", rec("2026-11-24T10:00:01.000000Z", "r2", "other")).expect("w");
        writeln!(f, "not json").expect("w");
        let mut f = std::fs::File::create(&b).expect("b");
        writeln!(f, "{}", rec("2026-11-24T10:00:01.000000Z", "r1", "first")).expect("w");
        let (steps, skipped) = steps_of("r1", &[&a, &b]).expect("read");
        assert_eq!(skipped, 1);
        let tools: Vec<&str> = steps.iter().map(|s| s.field("tool")).collect();
        assert_eq!(tools, ["first", "second"]);
        assert!(
            steps[0].line().contains("tools/call first  allow"),
            "{}",
            steps[0].line()
        );
        assert!(steps_of("nope", &[&a]).expect("read").0.is_empty());
    }
}
