//! The host a request is routed by, from any `Host` header: no panic, and a host found is
//! lower-case ASCII with no port, path, user info or whitespace.
#![no_main]

use http::{HeaderValue, Request};
use libfuzzer_sys::fuzz_target;
use sec0_gateway::routing::request_host;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = HeaderValue::from_bytes(data) else {
        return;
    };
    let mut req = Request::new(());
    req.headers_mut().insert(http::header::HOST, value);
    if let Some(host) = request_host(&req) {
        assert!(host.is_ascii(), "{host:?}");
        assert_eq!(host, host.to_ascii_lowercase());
        assert!(!host.contains(['/', '@', ' ', '\t', '?', '#']), "{host:?}");
        let bare = host.trim_start_matches('[');
        if bare.len() == host.len() {
            assert!(!host.contains(':'), "a port left in {host:?}");
        }
    }
});
