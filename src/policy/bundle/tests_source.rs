//! Keys, building, the cache, the version rule and a start with the source down.

use sha2::{Digest, Sha256};

use super::build::{BuildError, build, rules_of};
use super::cache::{Cache, CacheMeta};
use super::keys::{self, TrustedKeys};
use super::read::verify;
use super::source::compare;
use super::tests::{NOW, RULES_A, files, good, key};
use super::{Limits, Refused};

#[test]
fn versions_only_move_forward_unless_allowed() {
    assert!(!compare((1, "m"), None, false).expect("first"));
    assert!(compare((5, "m"), Some((5, "m")), false).expect("same"));
    assert!(!compare((6, "n"), Some((5, "m")), false).expect("newer"));
    let older = compare((4, "n"), Some((5, "m")), false).unwrap_err();
    assert!(matches!(
        older,
        Refused::OldVersion {
            offered: 4,
            serving: 5
        }
    ));
    assert_eq!(older.reason(), "old_version");
    let reused = compare((5, "n"), Some((5, "m")), false).unwrap_err();
    assert!(matches!(reused, Refused::VersionReused(5)));
    assert_eq!(reused.reason(), "old_version");
    assert!(!compare((4, "n"), Some((5, "m")), true).expect("rollback allowed"));
    assert!(!compare((5, "n"), Some((5, "m")), true).expect("republish allowed"));
}

#[test]
fn keys_load_inline_or_from_files_and_generate_round_trips() {
    let dir = tempfile::tempdir().expect("dir");
    let (private, public) = keys::generate().expect("keygen");
    assert!(private.contains("BEGIN PRIVATE KEY"));
    assert!(public.contains("BEGIN PUBLIC KEY"));
    let priv_file = dir.path().join("k.pem");
    let pub_file = dir.path().join("k.pub.pem");
    std::fs::write(&priv_file, &private).expect("write");
    std::fs::write(&pub_file, &public).expect("write");
    let signing = keys::signing_key_from_pem_file(&priv_file).expect("private key");
    let bytes = build(&files(), 3, NOW, &signing).expect("build");
    for entries in [vec![pub_file.display().to_string()], vec![public.clone()]] {
        let k = TrustedKeys::load(&entries).expect("keys");
        verify(&bytes, &k, &Limits::default()).expect("verifies");
    }
    // Errors name the entry, never the key's bytes.
    let missing = TrustedKeys::load(&[dir.path().join("nope.pem").display().to_string()])
        .unwrap_err()
        .to_string();
    assert!(missing.contains("nope.pem"), "{missing}");
    let garbled = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
    let bad = TrustedKeys::load(&[garbled.into()])
        .unwrap_err()
        .to_string();
    assert!(bad.contains("inline key #1"), "{bad}");
    assert!(!bad.contains("AAAA"), "{bad}");
    // A private key where a public one belongs is refused.
    assert!(TrustedKeys::load(&[private]).is_err());
    assert!(keys::signing_key_from_pem_file(&pub_file).is_err());
}

#[test]
fn building_refuses_what_a_bundle_cannot_carry() {
    let dir = tempfile::tempdir().expect("dir");
    assert!(matches!(rules_of(dir.path()), Err(BuildError::Empty(_))));
    assert!(matches!(
        rules_of(&dir.path().join("missing")),
        Err(BuildError::Read(_))
    ));
    std::fs::write(dir.path().join("a b.yaml"), RULES_A).expect("write");
    assert!(matches!(rules_of(dir.path()), Err(BuildError::Name { .. })));
    assert!(matches!(
        build(&files(), 0, NOW, &key(1)),
        Err(BuildError::Version)
    ));
}

#[test]
fn the_cache_keeps_the_last_good_bundle_and_drops_a_meta_of_other_bytes() {
    let dir = tempfile::tempdir().expect("dir");
    let cache = Cache::open(&dir.path().join("c")).expect("open");
    assert!(cache.load().expect("load").is_none());
    let bytes = good();
    let meta = CacheMeta {
        url: "http://x/b.tar.gz".into(),
        version: 7,
        sha256: hex::encode(Sha256::digest(&bytes)),
        fetched_at: NOW.into(),
        ..CacheMeta::default()
    };
    cache.store(&bytes, &meta).expect("store");
    let (b, m) = cache.load().expect("load").expect("cached");
    assert_eq!(b, bytes);
    assert_eq!(m, Some(meta.clone()));
    // A bundle replaced behind the cache's back: the meta no longer describes it.
    std::fs::write(dir.path().join("c/bundle.tar.gz"), b"other").expect("write");
    let (_, m) = cache.load().expect("load").expect("cached");
    assert_eq!(m, None);
}

#[tokio::test]
async fn a_start_with_the_source_down_uses_the_cache_or_fails_closed() {
    use super::source::{BundleSource, Settings};
    let dir = tempfile::tempdir().expect("dir");
    let settings = Settings {
        url: format!("http://127.0.0.1:{}/b.tar.gz", closed_port()),
        poll_interval: std::time::Duration::ZERO,
        timeout: std::time::Duration::from_secs(2),
        allow_downgrade: false,
        cache_dir: dir.path().join("cache"),
        limits: Limits::default(),
        mode: crate::policy::Mode::Enforce,
    };
    let public = keys::fingerprint(&key(1).verifying_key());
    let pem = {
        use ed25519_dalek::pkcs8::EncodePublicKey;
        key(1)
            .verifying_key()
            .to_public_key_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
            .expect("pem")
    };
    let metrics = crate::metrics::Metrics::new();
    let source = BundleSource::new(
        settings.clone(),
        std::slice::from_ref(&pem),
        metrics.clone(),
    )
    .expect("source");
    let err = source.initial().await.map(|_| ()).unwrap_err().to_string();
    assert!(err.contains("refusing to start without rules"), "{err}");
    assert!(err.contains("nothing cached yet"), "{err}");
    assert!(
        metrics
            .render()
            .contains("sec0_gateway_policy_bundle_fetch_failures_total{reason=\"unreachable\"} 1")
    );

    // A cached bundle signed by a key no longer trusted is not used either.
    let cache = Cache::open(&settings.cache_dir).expect("cache");
    let stranger = build(&files(), 2, NOW, &key(5)).expect("build");
    cache
        .store(&stranger, &CacheMeta::default())
        .expect("store");
    let source = BundleSource::new(
        settings.clone(),
        std::slice::from_ref(&pem),
        metrics.clone(),
    )
    .expect("source");
    let err = source.initial().await.map(|_| ()).unwrap_err().to_string();
    assert!(err.contains("signature"), "{err}");

    // A good cached bundle serves.
    cache.store(&good(), &CacheMeta::default()).expect("store");
    let source = BundleSource::new(settings, &[pem], metrics.clone()).expect("source");
    let policy = source.initial().await.expect("cached policy");
    assert_eq!(policy.len(), 2);
    let st = source.status();
    let serving = st.serving.expect("serving");
    assert_eq!((serving.version, serving.from), (7, "cache"));
    assert_eq!(serving.signed_by, public);
    assert!(st.last_fetch.is_none());
    assert!(
        metrics
            .render()
            .contains("sec0_gateway_policy_bundle_version 7")
    );
}

fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port")
}
