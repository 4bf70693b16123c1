//! Tests of `fleet.rs` (a file of their own: keeps `fleet.rs` readable).

use super::*;

fn config(yaml: &str) -> UpstreamConfig {
    serde_yaml_ng::from_str(yaml).expect("upstream config")
}

fn authorities(f: &Fleet) -> Vec<String> {
    f.endpoints()
        .iter()
        .map(|e| e.authority.to_string())
        .collect()
}

#[test]
fn a_dns_name_becomes_its_addresses() {
    let cfg = config("dns: { name: localhost, port: 8123 }");
    let base = (&Scheme::HTTP, &Authority::from_static("localhost:8123"), "");
    let f = Fleet::new("u", &cfg, base, &FleetMetrics::unregistered(), None);
    let got = authorities(&f);
    assert!(got.iter().any(|a| a == "127.0.0.1:8123"), "{got:?}");
    assert!(
        f.endpoints().iter().all(|e| e.host.is_none()),
        "DNS endpoints keep the service's Host"
    );
    let mut sorted = got.clone();
    sorted.sort();
    assert_eq!(got, sorted, "sorted: the same order on every replica");
}

#[test]
fn a_refresh_keeps_the_state_of_endpoints_that_stay() {
    let cfg = config("endpoints: ['http://127.0.0.1:1', 'http://127.0.0.1:2']");
    let a = Authority::from_static("127.0.0.1:1");
    let f = Fleet::new(
        "u",
        &cfg,
        (&Scheme::HTTP, &a, ""),
        &FleetMetrics::unregistered(),
        None,
    );
    assert_eq!(authorities(&f), ["127.0.0.1:1", "127.0.0.1:2"]);
    let kept = f.endpoints()[1].clone();
    let _busy = kept.start_call();
    f.set_endpoints(
        &Scheme::HTTP,
        vec![
            Authority::from_static("127.0.0.1:3"),
            Authority::from_static("127.0.0.1:2"),
        ],
    );
    assert_eq!(authorities(&f), ["127.0.0.1:2", "127.0.0.1:3"]);
    assert_eq!(
        f.endpoints()[0].in_flight(),
        1,
        "same endpoint, same counts"
    );
    assert_eq!(
        f.endpoints()[0].host.as_ref().map(|h| h.as_bytes()),
        Some(&b"127.0.0.1:2"[..]),
        "listed endpoints get their own Host"
    );
}

#[test]
fn only_settings_that_need_it_make_a_fleet() {
    assert!(!needed(&config("url: 'http://h:1'")));
    assert!(needed(&config(
        "url: 'http://h:1'\ncircuit_breaker: { max_requests: 5 }"
    )));
    assert!(needed(&config("endpoints: ['http://h:1']")));
}
