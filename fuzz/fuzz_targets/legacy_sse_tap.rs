//! The legacy HTTP+SSE tap (`inspect::legacy_sse`): an upstream's SSE stream names its
//! session in an `endpoint` event, and the tap registers the stream under that id so
//! refusals can be injected into it. From any stream bytes: the tap passes every event it
//! does not filter through byte for byte; the session it registers is exactly the one the
//! first usable `endpoint` event names (`session_id`/`sessionId`, non-empty, no `&`); an
//! event injected for that session comes out of the stream, for no other session or
//! upstream; and the session is gone once the stream is.
#![no_main]

use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sec0_gateway::inspect::EventHook;
use sec0_gateway::inspect::legacy_sse::{LegacySessions, LegacyTap, session_from_query};
use sec0_gateway::protocol::sse::Parser;

fuzz_target!(|data: &[u8]| {
    let Ok(events) = Parser::new(4096).push(data) else {
        return;
    };
    let sessions = Arc::new(LegacySessions::default());
    let mut tap = LegacyTap::new(sessions.clone(), 3);
    let mut expected: Option<String> = None;
    for ev in events {
        if expected.is_none() && ev.event.as_deref() == Some("endpoint") {
            if let Some(q) = ev
                .data
                .as_deref()
                .and_then(|d| d.split_once('?'))
                .map(|x| x.1)
            {
                if let Some(s) = session_from_query(q) {
                    assert!(!s.is_empty() && !s.contains('&'), "{s:?}");
                    assert!(
                        q.split('&')
                            .any(|kv| kv == format!("session_id={s}")
                                || kv == format!("sessionId={s}")),
                        "{s:?} is not a session parameter of {q:?}"
                    );
                    expected = Some(s.to_string());
                }
            }
        }
        let raw = ev.raw.clone();
        let out = tap.on_event(ev);
        assert_eq!(out, raw, "the tap changed an event it does not filter");
    }
    let mut cx = Context::from_waker(Waker::noop());
    match &expected {
        Some(s) => {
            let ev = Bytes::from_static(b"event: message\ndata: {}\n\n");
            assert!(
                !sessions.inject(4, s, ev.clone()),
                "another upstream's session"
            );
            assert!(
                sessions.inject(3, s, ev.clone()),
                "the session {s:?} was not registered"
            );
            assert_eq!(tap.poll_injected(&mut cx), Poll::Ready(Some(ev.clone())));
            assert_eq!(tap.poll_injected(&mut cx), Poll::Pending);
            drop(tap);
            assert!(
                !sessions.inject(3, s, ev),
                "the session outlived its stream"
            );
        }
        None => {
            assert_eq!(tap.poll_injected(&mut cx), Poll::Pending);
            for probe in ["", "x", "abc"] {
                assert!(!sessions.inject(3, probe, Bytes::new()));
            }
        }
    }
});
