//! Every way reading a bundle refuses one, and the ways it is taken (keys, building, the
//! cache, the version rule and a start: `tests_source.rs`).

use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use sha2::{Digest, Sha256};

use super::build::{build, pack};
use super::keys::{self, TrustedKeys};
use super::read::{BundleError, verify};
use super::{Limits, MANIFEST, Refused, SIGNATURE};

pub(super) const RULES_A: &str =
    "version: 1\nrules:\n  - { id: no-a, when: { tool: alpha }, decision: deny, reason: a_off }\n";
pub(super) const RULES_B: &str =
    "version: 1\nrules:\n  - { id: no-b, when: { tool: beta }, decision: deny, reason: b_off }\n";
pub(super) const NOW: &str = "2026-07-30T10:00:00Z";

pub(super) fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn trusted(seeds: &[u8]) -> TrustedKeys {
    TrustedKeys::from_keys(seeds.iter().map(|s| key(*s).verifying_key()).collect())
}

pub(super) fn files() -> Vec<(String, Vec<u8>)> {
    vec![
        ("10-b.yaml".into(), RULES_B.as_bytes().to_vec()),
        ("00-a.yaml".into(), RULES_A.as_bytes().to_vec()),
    ]
}

pub(super) fn good() -> Vec<u8> {
    build(&files(), 7, NOW, &key(1)).expect("build")
}

fn reason(bytes: &[u8]) -> &'static str {
    reason_with(bytes, &Limits::default())
}

fn reason_with(bytes: &[u8], limits: &Limits) -> &'static str {
    match verify(bytes, &trusted(&[1]), limits) {
        Ok(_) => "ok",
        Err(e) => {
            // Every refusal says something a person can act on.
            assert!(!e.to_string().is_empty());
            e.reason()
        }
    }
}

/// A manifest JSON text listing `files` as `(entry path, bytes)`.
fn manifest_for(version: u64, files: &[(&str, &[u8])]) -> Vec<u8> {
    let list: Vec<serde_json::Value> = files
        .iter()
        .map(|(p, d)| {
            serde_json::json!({"path": p, "size": d.len(), "sha256": hex::encode(Sha256::digest(d))})
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "format": "sec0-policy-bundle/1", "version": version, "created_at": NOW, "files": list
    }))
    .expect("json")
}

fn sig(manifest: &[u8], seed: u8) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .encode(key(seed).sign(manifest).to_bytes())
        .into_bytes()
}

/// A signed bundle with `manifest` and then `entries` as given (names unchecked).
fn signed(manifest: &[u8], entries: &[(&str, &[u8])]) -> Vec<u8> {
    let s = sig(manifest, 1);
    let mut all: Vec<(String, &[u8])> = vec![(MANIFEST.into(), manifest), (SIGNATURE.into(), &s)];
    all.extend(entries.iter().map(|(n, d)| (n.to_string(), *d)));
    pack(&all, 0).expect("pack")
}

/// A tar.gz with one raw entry after a valid manifest and signature: the name written
/// straight into the header (the tar crate's own writer refuses `..` and absolute paths),
/// and any entry type.
fn with_raw_entry(name: &str, kind: tar::EntryType, data: &[u8], link: Option<&str>) -> Vec<u8> {
    let manifest = manifest_for(1, &[("rules/a.yaml", RULES_A.as_bytes())]);
    let s = sig(&manifest, 1);
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    for (n, d) in [(MANIFEST, manifest.as_slice()), (SIGNATURE, s.as_slice())] {
        let mut h = tar::Header::new_ustar();
        h.set_size(d.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut h, n, d).expect("append");
    }
    let mut h = tar::Header::new_old();
    h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    if let Some(l) = link {
        h.as_old_mut().linkname[..l.len()].copy_from_slice(l.as_bytes());
    }
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_entry_type(kind);
    h.set_cksum();
    tar.append(&h, data).expect("append raw");
    let gz = tar.into_inner().expect("tar");
    gz.finish().expect("gz")
}

#[test]
fn a_good_bundle_verifies_with_its_files_in_name_order() {
    let v = verify(&good(), &trusted(&[1]), &Limits::default()).expect("verifies");
    assert_eq!(v.manifest.version, 7);
    assert_eq!(v.manifest.created_at, NOW);
    assert_eq!(v.signed_by, keys::fingerprint(&key(1).verifying_key()));
    let names: Vec<String> = v
        .sources
        .iter()
        .map(|(p, _)| {
            p.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(names, ["00-a.yaml", "10-b.yaml"]);
    // The same rules as a directory give the same policy version.
    let dir = tempfile::tempdir().expect("dir");
    for (n, d) in files() {
        std::fs::write(dir.path().join(n), d).expect("write");
    }
    let on_disk = crate::policy::read_sources(dir.path()).expect("read");
    assert_eq!(
        crate::policy::version_of(&v.sources),
        crate::policy::version_of(&on_disk)
    );
    let p = crate::policy::Policy::from_sources(&v.sources, crate::policy::Mode::Enforce)
        .expect("compiles");
    assert_eq!(p.len(), 2);
}

#[test]
fn any_of_several_trusted_keys_verifies_for_rotation() {
    let v = verify(&good(), &trusted(&[9, 1]), &Limits::default()).expect("second key");
    assert_eq!(v.signed_by, keys::fingerprint(&key(1).verifying_key()));
}

#[test]
fn signatures_by_other_keys_or_over_other_manifests_are_refused() {
    assert_eq!(
        verify(&good(), &trusted(&[2]), &Limits::default())
            .map(|_| ())
            .unwrap_err()
            .reason(),
        "bad_signature"
    );
    // The manifest altered after signing (a file swapped for another with its hash).
    let signed_manifest = manifest_for(1, &[("rules/a.yaml", RULES_A.as_bytes())]);
    let altered = manifest_for(1, &[("rules/a.yaml", RULES_B.as_bytes())]);
    let s = sig(&signed_manifest, 1);
    let bytes = pack(
        &[
            (MANIFEST.into(), &altered),
            (SIGNATURE.into(), &s),
            ("rules/a.yaml".into(), RULES_B.as_bytes()),
        ],
        0,
    )
    .expect("pack");
    assert_eq!(reason(&bytes), "bad_signature");
    // Not base64; base64 of the wrong length; empty.
    for bad in [&b"%%%not base64%%%"[..], b"AAAA", b""] {
        let m = manifest_for(1, &[("rules/a.yaml", RULES_A.as_bytes())]);
        let bytes = pack(
            &[
                (MANIFEST.into(), &m),
                (SIGNATURE.into(), bad),
                ("rules/a.yaml".into(), RULES_A.as_bytes()),
            ],
            0,
        )
        .expect("pack");
        assert_eq!(reason(&bytes), "bad_signature", "{bad:?}");
    }
}

#[test]
fn nothing_after_the_signature_is_read_when_it_fails() {
    // A bad signature followed by a traversal entry: the signature is what is reported.
    let manifest = manifest_for(1, &[("rules/a.yaml", RULES_A.as_bytes())]);
    let s = sig(&manifest, 2);
    let bytes = pack(
        &[
            (MANIFEST.into(), &manifest),
            (SIGNATURE.into(), &s),
            ("other/x".into(), b"x".as_slice()),
        ],
        0,
    )
    .expect("pack");
    assert_eq!(reason(&bytes), "bad_signature");
}

#[test]
fn files_that_do_not_match_the_manifest_are_refused() {
    let m = manifest_for(1, &[("rules/a.yaml", RULES_A.as_bytes())]);
    // Same size, other bytes.
    let other = RULES_A.replace("alpha", "gamma");
    assert_eq!(
        reason(&signed(&m, &[("rules/a.yaml", other.as_bytes())])),
        "bad_hash"
    );
    // Other size.
    assert_eq!(
        reason(&signed(&m, &[("rules/a.yaml", RULES_B.as_bytes())])),
        "bad_hash"
    );
    // Listed but missing.
    assert_eq!(reason(&signed(&m, &[])), "bad_hash");
    // Present but not listed.
    assert_eq!(
        reason(&signed(
            &m,
            &[
                ("rules/a.yaml", RULES_A.as_bytes()),
                ("rules/b.yaml", RULES_B.as_bytes())
            ]
        )),
        "bad_hash"
    );
    // Present twice.
    assert_eq!(
        reason(&signed(
            &m,
            &[
                ("rules/a.yaml", RULES_A.as_bytes()),
                ("rules/a.yaml", RULES_A.as_bytes())
            ]
        )),
        "bad_hash"
    );
    // The manifest's own bytes are what is signed: a file of non-UTF-8 bytes that matches
    // is refused as rules.
    let binary = [0xffu8, 0xfe, 0x00];
    let m = manifest_for(1, &[("rules/a.yaml", &binary)]);
    assert_eq!(
        reason(&signed(&m, &[("rules/a.yaml", &binary)])),
        "bad_rules"
    );
}

#[test]
fn traversal_absolute_paths_links_and_odd_entries_are_refused() {
    use tar::EntryType;
    for name in [
        "rules/../../etc/cron.yaml",
        "../rules/a.yaml",
        "/etc/passwd",
        "/rules/a.yaml",
        "rules/sub/a.yaml",
        "other/a.yaml",
        "rules/.hidden.yaml",
        "rules/a.json",
        "rules/a b.yaml",
        "rules\\..\\a.yaml",
    ] {
        let bytes = with_raw_entry(name, EntryType::Regular, RULES_A.as_bytes(), None);
        assert_eq!(reason(&bytes), "unsafe_entry", "{name}");
    }
    for (kind, link) in [
        (EntryType::Symlink, Some("/etc/passwd")),
        (EntryType::Link, Some("rules/a.yaml")),
        (EntryType::Char, None),
        (EntryType::Fifo, None),
        (EntryType::Directory, None),
    ] {
        let bytes = with_raw_entry("rules/a.yaml", kind, b"", link);
        assert_eq!(reason(&bytes), "unsafe_entry", "{kind:?}");
    }
    // The one directory entry allowed: `rules/`.
    let manifest = manifest_for(1, &[("rules/a.yaml", RULES_A.as_bytes())]);
    let s = sig(&manifest, 1);
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    for (n, d, kind) in [
        (MANIFEST, manifest.as_slice(), EntryType::Regular),
        (SIGNATURE, s.as_slice(), EntryType::Regular),
        ("rules/", &b""[..], EntryType::Directory),
        ("rules/a.yaml", RULES_A.as_bytes(), EntryType::Regular),
    ] {
        let mut h = tar::Header::new_ustar();
        h.set_size(d.len() as u64);
        h.set_mode(0o755);
        h.set_entry_type(kind);
        tar.append_data(&mut h, n, d).expect("append");
    }
    let bytes = tar.into_inner().expect("tar").finish().expect("gz");
    assert_eq!(reason(&bytes), "ok");
}

#[test]
fn caps_stop_tar_and_gzip_bombs() {
    let small = Limits {
        max_bundle: 1024 * 1024,
        max_unpacked: 64 * 1024,
        max_entries: 4,
        max_file: 16 * 1024,
    };
    assert_eq!(reason_with(&good(), &small), "ok");
    // The bundle file itself.
    let tight = Limits {
        max_bundle: 100,
        ..small
    };
    assert_eq!(reason_with(&good(), &tight), "too_large");
    // Too many entries: a file not listed is refused as such at once, so what could pile
    // up is directory entries.
    let m = manifest_for(1, &[("rules/a.yaml", RULES_A.as_bytes())]);
    let s = sig(&m, 1);
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let mut entries = vec![
        (MANIFEST, m.as_slice(), tar::EntryType::Regular),
        (SIGNATURE, s.as_slice(), tar::EntryType::Regular),
    ];
    entries.extend(std::iter::repeat_n(
        ("rules/", &b""[..], tar::EntryType::Directory),
        5,
    ));
    for (n, d, kind) in entries {
        let mut h = tar::Header::new_ustar();
        h.set_size(d.len() as u64);
        h.set_entry_type(kind);
        tar.append_data(&mut h, n, d).expect("append");
    }
    let bytes = tar.into_inner().expect("tar").finish().expect("gz");
    assert_eq!(reason_with(&bytes, &small), "too_large");
    // A manifest listing more files than entries allowed.
    let listed: Vec<(String, Vec<u8>)> = (0..5)
        .map(|i| (format!("x{i}.yaml"), RULES_A.as_bytes().to_vec()))
        .collect();
    let b = build(&listed, 1, NOW, &key(1)).expect("build");
    assert_eq!(reason_with(&b, &small), "too_large");
    // One file over the per-file cap (listed with its true size and hash).
    let big = vec![b'#'; 20 * 1024];
    let m = manifest_for(1, &[("rules/a.yaml", &big)]);
    assert_eq!(
        reason_with(&signed(&m, &[("rules/a.yaml", &big)]), &small),
        "too_large"
    );
    // A gzip bomb: the listed file's header announces 4 MiB (within the per-file cap
    // here) of zeros that decompress past the unpacked cap; the reader stops at the cap.
    let zeros = vec![0u8; 4 * 1024 * 1024];
    let m = manifest_for(1, &[("rules/a.yaml", RULES_A.as_bytes())]);
    let head = signed(&m, &[]);
    let mut raw = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(head.as_slice()), &mut raw)
        .expect("gunzip");
    raw.truncate(raw.len() - 1024); // the two zero blocks closing the archive
    let mut h = tar::Header::new_ustar();
    h.set_path("rules/a.yaml").expect("path");
    h.set_size(zeros.len() as u64);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    raw.extend_from_slice(h.as_bytes());
    raw.extend_from_slice(&zeros);
    raw.extend_from_slice(&[0u8; 1024]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut gz, &raw).expect("gzip");
    let bomb = gz.finish().expect("gz");
    assert!(bomb.len() < 64 * 1024, "{}", bomb.len());
    let roomy_files = Limits {
        max_file: 8 * 1024 * 1024,
        ..small
    };
    assert_eq!(reason_with(&bomb, &roomy_files), "too_large");
    // With room to unpack, the same bundle fails on the size the manifest signed.
    let roomy = Limits {
        max_unpacked: 16 * 1024 * 1024,
        ..roomy_files
    };
    assert_eq!(reason_with(&bomb, &roomy), "bad_hash");
    // An oversized manifest.
    let huge = vec![b' '; 2 * 1024 * 1024];
    let bytes = pack(&[(MANIFEST.into(), &huge)], 0).expect("pack");
    assert_eq!(reason(&bytes), "too_large");
}

#[test]
fn manifests_that_do_not_fit_the_format_are_refused() {
    let ok_file = ("rules/a.yaml", RULES_A.as_bytes());
    let mut cases: Vec<(String, Vec<u8>)> = vec![
        ("not JSON".into(), b"{not json".to_vec()),
        (
            "other format".into(),
            manifest_for(1, &[ok_file]).replace_str("sec0-policy-bundle/1", "sec0-policy-bundle/9"),
        ),
        ("version 0".into(), manifest_for(0, &[ok_file])),
        (
            "bad time".into(),
            manifest_for(1, &[ok_file]).replace_str(NOW, "yesterday"),
        ),
        (
            "unknown field".into(),
            manifest_for(1, &[ok_file]).replace_str("\"files\"", "\"extra\":1,\"files\""),
        ),
        ("no files".into(), manifest_for(1, &[])),
        ("listed twice".into(), manifest_for(1, &[ok_file, ok_file])),
        (
            "unsafe path".into(),
            manifest_for(1, &[("rules/../x.yaml", RULES_A.as_bytes())]),
        ),
    ];
    let upper = {
        let m = manifest_for(1, &[ok_file]);
        let h = hex::encode(Sha256::digest(RULES_A.as_bytes()));
        m.replace_str(&h, &h.to_uppercase())
    };
    cases.push(("uppercase hash".into(), upper));
    for (what, m) in cases {
        let bytes = signed(&m, &[ok_file]);
        assert_eq!(reason(&bytes), "bad_manifest", "{what}");
    }
}

#[test]
fn archives_out_of_order_or_not_archives_are_refused() {
    assert_eq!(reason(b""), "bad_archive");
    assert_eq!(reason(b"plain text, not gzip"), "bad_archive");
    let tar_only = {
        let mut t = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_ustar();
        h.set_size(1);
        h.set_entry_type(tar::EntryType::Regular);
        t.append_data(&mut h, MANIFEST, &b"x"[..]).expect("append");
        t.into_inner().expect("tar")
    };
    assert_eq!(reason(&tar_only), "bad_archive", "not gzip'd");
    // Signature first; manifest alone; rules first.
    let m = manifest_for(1, &[("rules/a.yaml", RULES_A.as_bytes())]);
    let s = sig(&m, 1);
    for entries in [
        vec![(SIGNATURE.to_string(), s.as_slice()), (MANIFEST.into(), &m)],
        vec![(MANIFEST.to_string(), m.as_slice())],
        vec![("rules/a.yaml".to_string(), RULES_A.as_bytes())],
    ] {
        assert_eq!(reason(&pack(&entries, 0).expect("pack")), "bad_archive");
    }
}

#[test]
fn refusal_reasons_are_the_metric_labels() {
    for r in [
        BundleError::TooLarge(String::new()).reason(),
        BundleError::BadArchive(String::new()).reason(),
        BundleError::BadManifest(String::new()).reason(),
        BundleError::BadSignature(String::new()).reason(),
        BundleError::NotText(String::new()).reason(),
        Refused::VersionReused(1).reason(),
    ] {
        assert!(super::REASONS.contains(&r), "{r}");
    }
}

/// `Vec<u8>` text replacement for building broken manifests.
trait ReplaceStr {
    fn replace_str(&self, from: &str, to: &str) -> Vec<u8>;
}

impl ReplaceStr for Vec<u8> {
    fn replace_str(&self, from: &str, to: &str) -> Vec<u8> {
        String::from_utf8_lossy(self).replace(from, to).into_bytes()
    }
}
