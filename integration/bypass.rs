//! Attempts to get a denied call past the gateway. One rule denies the tool `shell_exec`;
//! every attempt below must be refused, and the upstream must never see the denied call
//! (allowed neighbours in a batch may pass; the call itself never does).
//! (A policy that can be bypassed by encoding tricks is worse than none.)

use crate::common;

use bytes::Bytes;
use common::{Upstream, channel_body, within};
use http::{Method, Request, Response, StatusCode};
use hyper::body::Frame;

const RULES: &str = "version: 1\nrules:\n  - { id: no-shell, when: { tool: shell_exec }, decision: deny, reason: shell_forbidden }\n";

struct Attempt {
    what: &'static str,
    path: &'static str,
    headers: Vec<(&'static str, &'static str)>,
    body: Vec<u8>,
}

fn attempt(what: &'static str, body: &str) -> Attempt {
    Attempt {
        what,
        path: "/mcp",
        headers: vec![("content-type", "application/json")],
        body: body.as_bytes().to_vec(),
    }
}

/// Refused: a JSON-RPC error (or a dropped notification), never a forwarded call.
fn refused(status: StatusCode, body: &[u8]) -> bool {
    if status == StatusCode::ACCEPTED && body.is_empty() {
        return true; // dropped notification
    }
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return false;
    };
    let is_refusal = |m: &serde_json::Value| m.get("error").is_some() && m.get("result").is_none();
    match &v {
        // A batch: the denied element (id 2 or, alone, 1) is answered with an error.
        serde_json::Value::Array(items) => items
            .iter()
            .any(|m| m["id"] != 0 && is_refusal(m) && m["error"]["code"] == 4030),
        m => is_refusal(m),
    }
}

#[tokio::test]
async fn every_bypass_attempt_is_refused() {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Bytes>::new()));
    let log = seen.clone();
    let (up, _hits) = Upstream::counting(move |body| {
        log.lock().expect("lock").push(body);
        Response::new(common::full(r#"[{"jsonrpc":"2.0","id":0,"result":{}}]"#))
    })
    .await;
    let (gw, _rules) = common::gateway_with_rules(RULES, &format!(
        "upstreams: {{ u: {{ url: \"{}\" }} }}\nroutes:\n  - {{ path_prefix: /mcp, upstream: u, protocol: mcp, boundary: agent_to_tool }}\n  - {{ path_prefix: /messages, upstream: u, protocol: mcp, boundary: agent_to_tool }}\n",
        up.url()
    ))
    .await;
    let call = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"shell_exec","arguments":{"cmd":"id"}}}"#;
    let deep = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"shell_exec","arguments":{{"x":{}0{}}}}}}}"#,
        "[".repeat(80),
        "]".repeat(80)
    );
    let mut attempts = vec![
        attempt("the plain call", call),
        attempt(
            "tool name with a \\u escape",
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"\u0073hell_exec"}}"#,
        ),
        attempt(
            "tool name fully escaped",
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"\u0073\u0068\u0065\u006c\u006c\u005f\u0065\u0078\u0065\u0063"}}"#,
        ),
        attempt(
            "method with an escaped slash",
            r#"{"jsonrpc":"2.0","id":1,"method":"tools\/call","params":{"name":"shell_exec"}}"#,
        ),
        attempt(
            "duplicate name, harmless first",
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","name":"shell_exec"}}"#,
        ),
        attempt(
            "duplicate name, harmless last",
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"shell_exec","name":"echo"}}"#,
        ),
        attempt(
            "duplicate params object",
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"},"params":{"name":"shell_exec"}}"#,
        ),
        attempt(
            "duplicate method",
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"tools/call","params":{"name":"shell_exec"}}"#,
        ),
        attempt(
            "escaped duplicate key",
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","\u006eame":"shell_exec"}}"#,
        ),
        attempt("inside a batch", &format!("[{call}]")),
        attempt(
            "second in a batch behind an allowed call",
            &format!(
                r#"[{{"jsonrpc":"2.0","id":0,"method":"ping"}},{}]"#,
                call.replace(r#""id":1"#, r#""id":2"#)
            ),
        ),
        attempt(
            "as a notification (no id)",
            r#"{"jsonrpc":"2.0","method":"tools/call","params":{"name":"shell_exec"}}"#,
        ),
        attempt(
            "name as an array",
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":["shell_exec"]}}"#,
        ),
        attempt(
            "name as an object",
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":{"0":"shell_exec"}}}"#,
        ),
        attempt(
            "positional params",
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":["shell_exec",{}]}"#,
        ),
        attempt(
            "no jsonrpc version",
            r#"{"id":1,"method":"tools/call","params":{"name":"shell_exec"}}"#,
        ),
        attempt(
            "float id",
            r#"{"jsonrpc":"2.0","id":1.0,"method":"tools/call","params":{"name":"shell_exec"}}"#,
        ),
        attempt(
            "trailing second message",
            &format!(r#"{{"jsonrpc":"2.0","id":0,"method":"ping"}}{call}"#),
        ),
        attempt("absurd nesting in the arguments", &deep),
        attempt(
            "whitespace and newlines everywhere",
            "\n{ \"jsonrpc\" : \"2.0\" ,\r\n \"id\" : 1 ,\t\"method\" : \"tools/call\" , \"params\" : { \"name\" : \"shell_exec\" } }\n",
        ),
        attempt("legacy message endpoint", call),
    ];
    if let Some(a) = attempts.last_mut() {
        a.path = "/messages/?session_id=0123456789abcdef";
    }
    attempts.push(Attempt {
        what: "byte-order mark",
        path: "/mcp",
        headers: vec![("content-type", "application/json")],
        body: [b"\xef\xbb\xbf".as_slice(), call.as_bytes()].concat(),
    });
    attempts.push(Attempt {
        what: "invalid UTF-8 in the name",
        path: "/mcp",
        headers: vec![("content-type", "application/json")],
        body:
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"shell_exec\xff"}}"#
                .to_vec(),
    });
    for (what, ct) in [
        ("text/plain content type", Some("text/plain")),
        (
            "form content type",
            Some("application/x-www-form-urlencoded"),
        ),
        ("no content type", None),
        ("UTF-16 charset", Some("application/json; charset=utf-16")),
    ] {
        attempts.push(Attempt {
            what,
            path: "/mcp",
            headers: ct.map(|c| vec![("content-type", c)]).unwrap_or_default(),
            body: call.as_bytes().to_vec(),
        });
    }
    attempts.push(Attempt {
        what: "gzip content encoding",
        path: "/mcp",
        headers: vec![
            ("content-type", "application/json"),
            ("content-encoding", "gzip"),
        ],
        body: call.as_bytes().to_vec(),
    });
    for (what, enc) in [
        ("x-gzip content encoding", "x-gzip"),
        ("deflate content encoding", "deflate"),
        ("identity then gzip", "identity, gzip"),
        ("brotli content encoding", "br"),
    ] {
        attempts.push(Attempt {
            what,
            path: "/mcp",
            headers: vec![
                ("content-type", "application/json"),
                ("content-encoding", enc),
            ],
            body: call.as_bytes().to_vec(),
        });
    }
    // 2026-07-28 mirrored headers that disagree with the body (a header-routing or
    // header-filtering hop would see a harmless call).
    for (what, name, value) in [
        ("Mcp-Name names an allowed tool", "mcp-name", "echo"),
        (
            "Mcp-Name base64 of an allowed tool",
            "mcp-name",
            "=?base64?ZWNobw==?=",
        ),
        ("Mcp-Method says tools/list", "mcp-method", "tools/list"),
    ] {
        attempts.push(Attempt {
            what,
            path: "/mcp",
            headers: vec![("content-type", "application/json"), (name, value)],
            body: call.as_bytes().to_vec(),
        });
    }
    for path in ["/mcp/../mcp", "/mcp/%2e%2e/mcp", "/mcp/./"] {
        attempts.push(Attempt {
            what: "path trick",
            path,
            headers: vec![("content-type", "application/json")],
            body: call.as_bytes().to_vec(),
        });
    }

    assert!(attempts.len() >= 38, "{} attempts", attempts.len());
    for a in &attempts {
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(format!("http://{}{}", gw.proxy_addr, a.path));
        for (k, v) in &a.headers {
            req = req.header(*k, *v);
        }
        let req = req.body(common::full(a.body.clone())).expect("request");
        let r = common::collect(
            within(a.what, common::client().request(req))
                .await
                .expect("response"),
        )
        .await;
        let json_refusal = refused(r.status, &r.body);
        let http_refusal = r.status.is_client_error();
        assert!(
            json_refusal || http_refusal,
            "{}: not refused: {} {}",
            a.what,
            r.status,
            String::from_utf8_lossy(&r.body)
        );
    }

    // Split across many small chunks, and over HTTP/2: same decision.
    let (tx, body) = channel_body();
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!("http://{}/mcp", gw.proxy_addr))
        .header("content-type", "application/json")
        .body(body)
        .expect("request");
    let pending = tokio::spawn(common::client().request(req));
    for chunk in call.as_bytes().chunks(3) {
        tx.send(Ok(Frame::data(Bytes::copy_from_slice(chunk))))
            .await
            .expect("send");
    }
    drop(tx);
    let r = common::collect(
        within("chunked", pending)
            .await
            .expect("task")
            .expect("response"),
    )
    .await;
    assert_eq!(r.json()["error"]["code"], 4030, "chunked body");
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!("http://{}/mcp", gw.proxy_addr))
        .header("content-type", "application/json")
        .body(common::full(call))
        .expect("request");
    let r = common::collect(
        common::h2c_client()
            .request(req)
            .await
            .expect("h2 response"),
    )
    .await;
    assert_eq!(r.json()["error"]["code"], 4030, "HTTP/2");

    let seen = seen.lock().expect("lock");
    for body in seen.iter() {
        let text = String::from_utf8_lossy(body);
        assert!(
            !text.contains("shell_exec") && !text.contains("\\u"),
            "the denied call reached the upstream: {text}"
        );
    }
    assert_eq!(
        seen.len(),
        1,
        "only the allowed ping of the mixed batch was forwarded"
    );
}
