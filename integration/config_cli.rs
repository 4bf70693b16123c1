//! The CLI against config files: `check` accepts good configs and names file and key for
//! bad ones; `run` refuses bad configs; environment overrides apply.

use std::io::Write;
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sec0-gateway"))
}

fn check(path: &std::path::Path, env: &[(&str, &str)]) -> Output {
    let mut c = bin();
    c.arg("check").arg("-c").arg(path);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run check")
}

fn write(yaml: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().expect("tempfile");
    f.write_all(yaml.as_bytes()).expect("write");
    f
}

const GOOD: &str = "listen: 127.0.0.1:18080\nadmin: { listen: 127.0.0.1:19090 }\nupstreams:\n  u: { url: 'http://127.0.0.1:8000' }\nroutes:\n  - { path_prefix: /mcp, upstream: u, protocol: mcp, boundary: agent_to_tool }\n";

#[test]
fn shipped_configs_pass_check() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("config dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let out = check(&path, &[]);
            assert!(
                out.status.success(),
                "{}: {}",
                path.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(String::from_utf8_lossy(&out.stdout).contains("OK"));
            seen += 1;
        }
    }
    assert!(seen >= 1, "config/gateway.yaml exists");
}

#[test]
fn check_names_file_and_key() {
    let cases = [
        (
            GOOD.replace("protocol: mcp", "protocol: smtp"),
            "routes[0].protocol",
        ),
        (
            GOOD.replace("upstream: u,", "upstream: nope,"),
            "routes[0].upstream: unknown upstream \"nope\"",
        ),
        (
            format!("{GOOD}limits: {{ idel_timeout: 5s }}\n"),
            "idel_timeout",
        ),
        (format!("{GOOD}unknown_top: 1\n"), "unknown_top"),
        (
            GOOD.replace("http://127.0.0.1:8000", "ftp://x"),
            "upstreams.u.url",
        ),
        (
            format!("{GOOD}limits: {{ idle_timeout: soon }}\n"),
            "idle_timeout",
        ),
        ("listen: [".to_string(), ""),
    ];
    for (yaml, needle) in cases {
        let f = write(&yaml);
        let out = check(f.path(), &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{yaml}\n{err}");
        assert!(
            err.contains(&f.path().display().to_string()),
            "names the file: {err}"
        );
        assert!(err.contains(needle), "names {needle:?}: {err}");
    }
}

#[test]
fn env_overrides_are_checked_too() {
    let f = write(GOOD);
    let out = check(
        f.path(),
        &[("SEC0_GATEWAY__LIMITS__MAX_CONNECTIONS", "lots")],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("limits.max_connections"));
    let out = check(f.path(), &[("SEC0_GATEWAY__LIMITS__MAX_CONNECTIONS", "5")]);
    assert!(out.status.success());
    let out = check(f.path(), &[("SEC0_GATEWAY__NOT_A_KEY", "5")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not_a_key"));
}

#[test]
fn run_refuses_a_bad_config_and_a_missing_file() {
    let f = write(&GOOD.replace("upstream: u,", "upstream: nope,"));
    let out = bin()
        .args(["run", "-c"])
        .arg(f.path())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown upstream"));
    let out = bin()
        .args(["run", "-c", "/nonexistent/gw.yaml"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
}

#[test]
fn run_reports_a_port_in_use() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let f = write(&GOOD.replace("127.0.0.1:18080", &format!("127.0.0.1:{port}")));
    let out = bin()
        .args(["--log-format", "text", "run", "-c"])
        .arg(f.path())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains(&format!("cannot listen on 127.0.0.1:{port}"))
    );
}

#[test]
fn demo_walks_through_allowed_denied_and_observed_calls() {
    let out = bin().arg("demo").output().expect("run demo");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("result: hello through the gateway"), "{text}");
    assert!(
        text.contains("result: tools echo, read_file, send_email, lookup_customer\n"),
        "delete_file hidden: {text}"
    );
    assert!(
        text.contains("error 4030 \"denied by policy: external_recipient\""),
        "{text}"
    );
    assert!(
        text.contains("decision=\"deny\",mode=\"observe\",reason=\"contact_list_read\""),
        "{text}"
    );
    assert!(text.contains("reason\":\"no_route\""), "{text}");
    // The guard: a result redacted, a poisoned tool hidden, a changed descriptor withheld.
    assert!(
        text.contains("result: Customer 1042: Dana Scully, [REDACTED:email], CRM key [REDACTED:stripe_secret_key]"),
        "{text}"
    );
    assert!(
        text.contains("result: tools read_file, send_email, lookup_customer\n"),
        "{text}"
    );
    assert!(
        text.contains("error 4030 \"denied by policy: tool_descriptor_changed\""),
        "{text}"
    );
    // Two identities, two decisions; a run escalated because of what it did before.
    assert!(
        text.contains("error 4030 \"denied by policy: reports_are_for_analysts\""),
        "{text}"
    );
    // Escalated, approved through the admin API, then the same kind of call by precedent.
    assert!(
        text.contains("gateway holds the call: escalation")
            && text.contains("reason private_data_may_leave)"),
        "{text}"
    );
    assert!(text.contains("admin API → reviewer   200 OK"), "{text}");
    assert!(text.contains("(held for review)"), "{text}");
    assert!(
        text.contains("the same kind of mail again (precedent)\n      agent → gateway"),
        "{text}"
    );
    assert!(
        text.contains("analyst-agent, run-demo-2: the same mail in a fresh run"),
        "{text}"
    );
    // The demo records its decisions; the count is whatever the walk produced, but not none.
    let audit = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("audit    "))
        .unwrap_or_else(|| panic!("an audit line: {text}"));
    let records: usize = audit
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a record count: {audit}"));
    assert!(records >= 10, "{audit}");
}

#[test]
fn run_refuses_broken_rules_with_their_location() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("rules.yaml");
    std::fs::write(
        &rules,
        "version: 1\nrules:\n  - id: x\n    decision: perhaps\n    reason: r\n",
    )
    .expect("write");
    let cfg = write(&GOOD.replace(
        "routes:",
        &format!("policy: {{ rules: {:?} }}\nroutes:", rules),
    ));
    let out = bin()
        .args(["--log-format", "text", "run", "-c"])
        .arg(cfg.path())
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(1),
        "a gateway never starts with rules it cannot load"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:4:15:", rules.display())), "{err}");
}

#[test]
fn run_refuses_to_start_when_the_jwks_url_cannot_be_reached() {
    // Without its keys the gateway could only refuse every bearer token or, worse, be
    // configured around: it does not start, and says which URL failed.
    let port = crate::common::closed_port();
    let cfg = write(&format!(
        "listen: 127.0.0.1:0\nadmin: {{ listen: 127.0.0.1:0 }}\n\
         identity: {{ jwt: {{ jwks_url: \"http://127.0.0.1:{port}/jwks.json\", issuer: https://idp.test, audience: [gw] }} }}\n\
         upstreams:\n  u: {{ url: 'http://127.0.0.1:8000' }}\n\
         routes:\n  - {{ path_prefix: /mcp, upstream: u, protocol: mcp, boundary: agent_to_tool, auth: {{ methods: [jwt], anonymous: false }} }}\n"
    ));
    let out = bin()
        .args(["--log-format", "text", "run", "-c"])
        .arg(cfg.path())
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("127.0.0.1:{port}")),
        "names the URL: {err}"
    );
}

#[test]
fn audit_verify_accepts_a_good_file_and_names_the_first_broken_record() {
    use sec0_gateway::audit::chain::CheckpointSigner;
    use sec0_gateway::audit::file::ChainFile;
    use sec0_gateway::audit::record::AuditRecord;
    let dir = tempfile::tempdir().expect("dir");
    // The test-only key pair in `integration/data/` (openssl-made; it signs nothing real).
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("integration/data");
    let (private, public) = (data.join("audit-test.pem"), data.join("audit-test.pub"));
    let path = dir.path().join("audit-0001.ndjson");
    let signer = CheckpointSigner::from_pem_file(&private, "ops").expect("key");
    let mut f = ChainFile::create(&path, Some(signer), 100).expect("create");
    for i in 0..250 {
        f.append(AuditRecord {
            decision: Some(sec0_gateway::vocab::DecisionKind::Deny),
            method: Some(format!("n{i}")),
            ..AuditRecord::new("decision")
        })
        .expect("append");
    }
    f.finish("shutdown").expect("finish");
    let key = format!("ops={}", public.display());
    let out = bin()
        .args(["audit", "verify", "--key", &key])
        .arg(&path)
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("OK (253 records, 3 checkpoints)"), "{text}");

    let body = std::fs::read_to_string(&path).expect("read");
    let mut lines: Vec<String> = body.lines().map(str::to_string).collect();
    lines[6] = lines[6].replace("\"deny\"", "\"allow\"");
    std::fs::write(&path, lines.join("\n") + "\n").expect("write");
    let out = bin()
        .args(["audit", "verify", "--key", &key])
        .arg(&path)
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("audit-0001.ndjson:7: hash does not match"),
        "the seventh record was changed first: {text}"
    );
    // Without the key, signatures cannot be checked: refused, not waved through.
    std::fs::write(&path, body).expect("write");
    let out = bin()
        .args(["audit", "verify"])
        .arg(&path)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("unknown key id \"ops\""));
}

#[test]
fn probe_passes_on_a_healthy_gateway_and_fails_on_a_closed_port() {
    let mut gw = std::process::Command::new(env!("CARGO_BIN_EXE_sec0-gateway"));
    let cfg = write(
        "listen: 127.0.0.1:0\nadmin: { listen: 127.0.0.1:0 }\nupstreams:\n  u: { url: 'http://127.0.0.1:8000' }\nroutes:\n  - { path_prefix: /mcp, upstream: u, protocol: mcp, boundary: agent_to_tool }\n",
    );
    let mut child = gw
        .args(["--log-format", "json", "run", "-c"])
        .arg(cfg.path())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let stderr = child.stderr.take().expect("stderr");
    let admin = std::io::BufRead::lines(std::io::BufReader::new(stderr))
        .map_while(Result::ok)
        .find_map(|l| {
            let v: serde_json::Value = serde_json::from_str(&l).ok()?;
            v["admin_addr"].as_str().map(str::to_owned)
        })
        .expect("admin address logged");
    let healthy = bin()
        .args(["probe", &format!("http://{admin}/healthz")])
        .output()
        .expect("probe");
    let missing = bin()
        .args(["probe", &format!("http://{admin}/nope"), "--timeout", "2s"])
        .output()
        .expect("probe");
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        healthy.status.success(),
        "{}",
        String::from_utf8_lossy(&healthy.stderr)
    );
    assert!(!missing.status.success(), "a 404 is not healthy");
    assert!(String::from_utf8_lossy(&missing.stderr).contains("404"));
    let closed = bin()
        .args(["probe", "http://127.0.0.1:1/healthz", "--timeout", "2s"])
        .output()
        .expect("probe");
    assert!(!closed.status.success());
    assert!(
        String::from_utf8_lossy(&closed.stderr).contains("GET http://127.0.0.1:1/healthz"),
        "{}",
        String::from_utf8_lossy(&closed.stderr)
    );
}

#[test]
fn learn_export_says_which_gateway_it_could_not_ask() {
    let out = bin()
        .args(["learn", "export", "--admin", "http://127.0.0.1:1"])
        .output()
        .expect("learn export");
    assert!(!out.status.success(), "no gateway, no export");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("GET http://127.0.0.1:1/v1/precedents"),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "nothing written on failure");
}

#[test]
fn check_refuses_a_bundle_source_whose_keys_cannot_be_read() {
    let dir = tempfile::tempdir().expect("dir");
    let f = write(&format!(
        "listen: 127.0.0.1:0\nadmin: {{ listen: 127.0.0.1:0 }}\nupstreams: {{ u: {{ url: \"http://127.0.0.1:1\" }} }}\nroutes:\n  - {{ upstream: u, protocol: http, boundary: tool_to_api }}\npolicy: {{ source: \"https://p.example/b.tar.gz\", trusted_keys: [/nonexistent/k.pem], cache_dir: {:?} }}\n",
        dir.path()
    ));
    let out = check(f.path(), &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("policy.trusted_keys") && err.contains("/nonexistent/k.pem"),
        "{err}"
    );
}

#[test]
fn replay_output_cut_short_by_its_reader_ends_quietly() {
    use std::io::{BufRead, BufReader};
    let mut child = bin()
        .args(["replay", "--generate", "20000"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn replay");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("one line");
    assert!(first.starts_with('{'), "{first}");
    // The reader is gone (`| head -1`): the rest cannot be written.
    let out = child.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?} {err}", out.status);
    assert!(!err.contains("panicked"), "{err}");
}
