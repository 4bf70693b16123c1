//! What the review console reads besides escalations and precedents: the gateway's status
//! (`/v1/status`), decision counts over time (`/v1/decisions/summary`), the precedents as a
//! rules file (`/v1/precedents/export`), a run's hops and a decision's audit records from
//! the local audit file sink (`/v1/runs/{id}`, `/v1/audit/decisions/{id}`).

use std::io::BufRead;
use std::path::{Path, PathBuf};

use http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use serde_json::{Value, json};

use super::{AdminState, bad, text};
use crate::error::json_response;
use crate::forward::body::ProxyBody;

/// Hops of one run returned at most.
pub const MAX_HOPS: usize = 2000;

/// Audit records of one decision returned at most.
const MAX_RECORDS: usize = 64;

fn ok_json(v: &Value) -> Response<ProxyBody> {
    json_response(StatusCode::OK, serde_json::to_vec(v).unwrap_or_default())
}

fn no_audit_file() -> Response<ProxyBody> {
    crate::error::admin_error(
        StatusCode::NOT_FOUND,
        "no_audit_file",
        "not available: runs and audit records are read from the local audit file sink (audit.file), which this gateway does not write",
    )
}

/// The `*.ndjson` files of `dir`, newest first (chain files' names sort by time).
fn audit_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "ndjson"))
        .collect();
    files.sort();
    files.reverse();
    Ok(files)
}

/// An id from a path: non-empty, at most 256 bytes, no control characters.
fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 256 && !id.chars().any(char::is_control)
}

/// The records of decision `id` in `files` (newest file first): every file is read until
/// one holds records of it; the next older one is read too (a decision's records may
/// straddle a rotation), then no more.
fn records_of(id: &str, files: &[PathBuf]) -> std::io::Result<Vec<Value>> {
    let mut out = Vec::new();
    let mut found_in: Option<usize> = None;
    for (i, path) in files.iter().enumerate() {
        if found_in.is_some_and(|f| i > f + 1) || out.len() >= MAX_RECORDS {
            break;
        }
        let f = std::fs::File::open(path)?;
        let mut here = Vec::new();
        for line in std::io::BufReader::new(f).lines() {
            let line = line?;
            if !line.contains(id) {
                continue;
            }
            let Ok(v) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            let of_it = v.get("decision_id").and_then(Value::as_str) == Some(id)
                || v.pointer("/escalation/id").and_then(Value::as_str) == Some(id);
            if of_it {
                here.push(v);
            }
        }
        if !here.is_empty() && found_in.is_none() {
            found_in = Some(i);
        }
        // Older files' records go first: the result reads in time order.
        here.append(&mut out);
        out = here;
    }
    out.truncate(MAX_RECORDS);
    Ok(out)
}

impl AdminState {
    /// `GET /v1/status`: what the console shows in its header — policy version and the
    /// last reload, whether the shared store is followed, whether a local audit file
    /// exists, the escalation settings, and whether a token protects the admin API.
    pub(super) fn status(&self) -> Response<ProxyBody> {
        let policy = self.reloader.as_ref().map(|r| {
            let p = r.serving();
            json!({
                "version": &*p.version,
                "rules": p.len(),
                "files": p.files.len(),
                "mode": self.facts.policy_mode,
                "last_reload": r.last(),
                "bundle": self.bundle.as_ref().map(|b| b.status()),
            })
        });
        let shared = self.reviews.store();
        let synced = self.metrics.shared_state_synced.get() == 1;
        ok_json(&json!({
            "gateway": {"version": env!("CARGO_PKG_VERSION")},
            "now": humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
            "token": self.token.is_some(),
            "policy": policy,
            "store": {
                "backend": if shared.is_shared() { "redis" } else { "memory" },
                "synced": synced,
                "answers": if !shared.is_shared() || synced { "shared" } else if shared.trusts_local_view() { "local" } else { "unavailable" },
            },
            "audit_file": self.facts.audit_dir.is_some(),
            "escalation": {
                "hold_timeout_seconds": self.facts.hold_timeout.as_secs_f64(),
                "on_timeout": self.facts.on_timeout,
                "flow": self.facts.flow,
                "pending": self.reviews.pending(),
            },
            "learn": {"enabled": self.precedents.config().enabled},
            "routes": self.facts.routes.iter().map(|(name, boundary, protocol)| {
                json!({"name": name, "boundary": boundary, "protocol": protocol})
            }).collect::<Vec<_>>(),
        }))
    }

    /// `GET /v1/decisions/summary?window=1h|24h`.
    pub(super) fn summary(&self, query: Option<&str>) -> Response<ProxyBody> {
        let mut window = crate::decisions::Window::Hour;
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("window", v)) => match crate::decisions::Window::parse(v) {
                    Some(w) => window = w,
                    None => {
                        return bad(
                            StatusCode::BAD_REQUEST,
                            format!("unknown window {v:?} (1h, 24h)"),
                        );
                    }
                },
                _ => {
                    return bad(
                        StatusCode::BAD_REQUEST,
                        format!("unknown parameter {pair:?} (window)"),
                    );
                }
            }
        }
        ok_json(&serde_json::to_value(self.metrics.summary.summary(window)).unwrap_or_default())
    }

    /// `GET /v1/precedents/export`: the rules file `sec0-gateway learn export` writes.
    pub(super) fn export(&self, req: &Request<Incoming>) -> Response<ProxyBody> {
        let listed = serde_json::to_value(self.precedents.list(std::time::Instant::now()))
            .and_then(serde_json::from_value::<Vec<crate::review::export::Listed>>);
        let listed = match listed {
            Ok(l) => l,
            Err(e) => {
                return bad(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("precedents: {e}"),
                );
            }
        };
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("the admin listener");
        let yaml = crate::review::export::render(&listed, &format!("http://{host}"));
        let mut resp = text(StatusCode::OK, &yaml);
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/yaml; charset=utf-8"),
        );
        h.insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_static("attachment; filename=\"90-precedents.yaml\""),
        );
        resp
    }

    /// `GET /v1/runs/{id}`: the run's hops in order, as `sec0-gateway audit run` prints
    /// them, from this replica's audit files.
    pub(super) async fn run(&self, id: String) -> Response<ProxyBody> {
        let read = self
            .read_audit(id, "run id", |id, files| {
                crate::audit::trajectory::steps_of(&id, files)
                    .map(|(steps, skipped)| (id, steps, skipped))
                    .map_err(|e| e.to_string())
            })
            .await;
        let (id, steps, skipped) = match read {
            Ok(found) => found,
            Err(answer) => return answer,
        };
        let truncated = steps.len() > MAX_HOPS;
        let steps = &steps[..steps.len().min(MAX_HOPS)];
        ok_json(&json!({
            "run_id": id,
            "hops": steps.iter().map(|s| &s.record).collect::<Vec<_>>(),
            "lines": steps.iter().map(|s| s.line()).collect::<Vec<_>>(),
            "skipped_lines": skipped,
            "truncated": truncated,
        }))
    }

    /// `GET /v1/audit/decisions/{id}`: the audit records of one decision (its decision
    /// record, and for an escalation every state change), oldest first.
    pub(super) async fn audit_records(&self, id: String) -> Response<ProxyBody> {
        let read = self
            .read_audit(id, "decision id", |id, files| {
                records_of(&id, files)
                    .map(|r| (id, r))
                    .map_err(|e| e.to_string())
            })
            .await;
        match read {
            Ok((id, records)) if records.is_empty() => bad(
                StatusCode::NOT_FOUND,
                format!("no audit record of decision {id:?} in this replica's audit files"),
            ),
            Ok((id, records)) => ok_json(&json!({"decision_id": id, "records": records})),
            Err(answer) => answer,
        }
    }

    /// What both audit views share: an audit directory to read (else 404
    /// `no_audit_file`), a well-formed id (else 400 naming `what`), and the reading done
    /// off the async threads, its failure a 500. `Err` is the answer to send.
    async fn read_audit<T: Send + 'static>(
        &self,
        id: String,
        what: &str,
        read: impl FnOnce(String, &[PathBuf]) -> Result<T, String> + Send + 'static,
    ) -> Result<T, Response<ProxyBody>> {
        let Some(dir) = self.facts.audit_dir.clone() else {
            return Err(no_audit_file());
        };
        if !valid_id(&id) {
            return Err(bad(
                StatusCode::BAD_REQUEST,
                format!("{what}: 1 to 256 characters"),
            ));
        }
        let read = tokio::task::spawn_blocking(move || {
            let files = audit_files(&dir).map_err(|e| e.to_string())?;
            read(id, &files)
        })
        .await;
        match read {
            Ok(Ok(found)) => Ok(found),
            Ok(Err(e)) => Err(bad(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("audit files: {e}"),
            )),
            Err(_) => Err(bad(
                StatusCode::INTERNAL_SERVER_ERROR,
                "audit read task failed".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_decisions_records_are_found_newest_files_first_and_returned_in_order() {
        let dir = tempfile::tempdir().expect("dir");
        let write = |name: &str, lines: &[&str]| {
            let mut f = std::fs::File::create(dir.path().join(name)).expect("file");
            for l in lines {
                writeln!(f, "{l}").expect("write");
            }
        };
        write(
            "audit-20260101T000000Z-a-000001.ndjson",
            &[r#"{"kind":"decision","decision_id":"d-1","seq":1}"#],
        );
        write(
            "audit-20260101T000100Z-a-000002.ndjson",
            &[
                r#"{"kind":"escalation","decision_id":"d-1","escalation":{"id":"d-1","state":"approved"}}"#,
                r#"{"kind":"decision","decision_id":"d-10"}"#,
                "not json d-1",
            ],
        );
        write("notes.txt", &[r#"{"decision_id":"d-1"}"#]);
        let files = audit_files(dir.path()).expect("files");
        assert_eq!(files.len(), 2, "only .ndjson files");
        let r = records_of("d-1", &files).expect("read");
        assert_eq!(r.len(), 2, "{r:?}");
        assert_eq!(r[0]["kind"], "decision", "oldest first");
        assert_eq!(r[1]["escalation"]["state"], "approved");
        assert!(records_of("d-2", &files).expect("read").is_empty());
        assert!(valid_id("d-1") && !valid_id("") && !valid_id("a\nb"));
        assert!(!valid_id(&"x".repeat(257)));
    }

    #[test]
    fn older_files_past_the_one_after_a_match_are_not_read() {
        let dir = tempfile::tempdir().expect("dir");
        for (i, body) in [
            "{\"decision_id\":\"x\",\"n\":1}",
            "{}",
            "{}",
            "{\"decision_id\":\"x\",\"n\":4}",
        ]
        .iter()
        .enumerate()
        {
            std::fs::write(
                dir.path().join(format!("audit-{i}.ndjson")),
                format!("{body}\n"),
            )
            .expect("write");
        }
        let files = audit_files(dir.path()).expect("files");
        let r = records_of("x", &files).expect("read");
        assert_eq!(r.len(), 1);
        assert_eq!(
            r[0]["n"], 4,
            "the newest file's record; two files on, reading stopped"
        );
    }
}
