//! `sec0-gateway audit verify`: re-check an audit file's chain and signatures and name the
//! first record that breaks it.
//!
//! A file passes when every line is a JSON object whose `hash` is the SHA-256 of its
//! canonical form, whose `prev_hash` is the previous record's `hash` (64 zeros for the
//! first), whose `seq` counts up from 0, whose checkpoints carry a valid signature from a
//! known key, and whose last record is a checkpoint (a file that ends elsewhere was
//! truncated or its writer never closed it). Changing a byte, deleting or reordering records
//! and cutting the file all break one of these. Limit: cutting a file exactly after a
//! checkpoint leaves a valid shorter file; compare record counts with the next file or a
//! collector to catch that.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

use ed25519_dalek::VerifyingKey;
use serde_json::Value;

use super::chain::{GENESIS, hash_of, signature_holds};

/// What a good file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Records (checkpoints included).
    pub records: u64,
    /// Checkpoints, all signed by a known key.
    pub checkpoints: u64,
}

/// Where and why a file breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {what}")]
pub struct Break {
    /// The file.
    pub file: String,
    /// 1-based line of the first bad record (the line after the last one for truncation).
    pub line: u64,
    /// What is wrong.
    pub what: String,
}

/// Verify one file; `keys` maps key ids to public keys. With `require_signatures`, an
/// unsigned checkpoint is a break too.
pub fn verify_file(
    path: &Path,
    keys: &HashMap<String, VerifyingKey>,
    require_signatures: bool,
) -> Result<Verified, Break> {
    let file = path.display().to_string();
    let f = std::fs::File::open(path).map_err(|e| Break {
        file: file.clone(),
        line: 0,
        what: format!("cannot open: {e}"),
    })?;
    verify_reader(&file, std::io::BufReader::new(f), keys, require_signatures)
}

/// Verify the records read from `reader` (an audit file's bytes; `file` names it in a
/// [`Break`]). The same check as [`verify_file`], on any source: the fuzz target
/// `audit_verify` feeds it bytes directly.
pub fn verify_reader(
    file: &str,
    reader: impl BufRead,
    keys: &HashMap<String, VerifyingKey>,
    require_signatures: bool,
) -> Result<Verified, Break> {
    let bad = |line: u64, what: String| Break {
        file: file.to_string(),
        line,
        what,
    };
    let mut prev = GENESIS.to_string();
    let mut records = 0u64;
    let mut checkpoints = 0u64;
    let mut last_kind = String::new();
    let mut chain: Option<Option<String>> = None;
    for (n, line) in reader.split(b'\n').enumerate() {
        let line_no = n as u64 + 1;
        let line = line.map_err(|e| bad(line_no, format!("cannot read: {e}")))?;
        if line.is_empty() {
            return Err(bad(line_no, "empty line".into()));
        }
        // Strictly: a duplicated key could be read two ways by two tools.
        let record: Value = crate::protocol::json::parse_strict(&line, 16)
            .map_err(|e| bad(line_no, format!("not a JSON record ({e})")))?;
        let field = |k: &str| record.get(k).and_then(Value::as_str).unwrap_or_default();
        if record.get("seq").and_then(Value::as_u64) != Some(records) {
            return Err(bad(
                line_no,
                format!(
                    "sequence number {} where {records} was due (a record was removed, added or moved)",
                    record.get("seq").unwrap_or(&Value::Null)
                ),
            ));
        }
        match (&chain, record.get("chain").and_then(Value::as_str)) {
            (None, c) => chain = Some(c.map(str::to_owned)),
            (Some(expected), c) if expected.as_deref() != c => {
                return Err(bad(
                    line_no,
                    format!(
                        "record of chain {c:?} in a file of chain {expected:?} (moved between files)"
                    ),
                ));
            }
            _ => {}
        }
        if field("prev_hash") != prev {
            return Err(bad(
                line_no,
                "prev_hash does not match the previous record's hash (the chain is broken)".into(),
            ));
        }
        let hash = hash_of(&record);
        if field("hash") != hash {
            return Err(bad(
                line_no,
                "hash does not match the record's content (the record was changed)".into(),
            ));
        }
        if field("kind") == "checkpoint" {
            match (
                record.get("signature").and_then(Value::as_str),
                field("key_id"),
            ) {
                (Some(sig), key_id) => {
                    let Some(key) = keys.get(key_id) else {
                        return Err(bad(
                            line_no,
                            format!("checkpoint signed with unknown key id {key_id:?}"),
                        ));
                    };
                    if !signature_holds(key, &hash, sig) {
                        return Err(bad(line_no, "checkpoint signature does not verify".into()));
                    }
                }
                (None, _) if require_signatures => {
                    return Err(bad(line_no, "checkpoint is not signed".into()));
                }
                (None, _) => {}
            }
            checkpoints += 1;
        }
        last_kind = field("kind").to_string();
        prev = hash;
        records += 1;
    }
    if records == 0 {
        return Err(bad(1, "empty file".into()));
    }
    if last_kind != "checkpoint" {
        return Err(bad(
            records + 1,
            "the file does not end with a checkpoint (truncated, or its writer did not close it)"
                .into(),
        ));
    }
    Ok(Verified {
        records,
        checkpoints,
    })
}

#[cfg(test)]
mod tests {
    use super::super::chain::CheckpointSigner;
    use super::super::file::ChainFile;
    use super::super::record::AuditRecord;
    use super::*;

    fn write(dir: &Path, n: u64) -> (std::path::PathBuf, HashMap<String, VerifyingKey>) {
        let signer = CheckpointSigner::from_seed([3; 32], "k1");
        let keys = HashMap::from([("k1".to_string(), signer.verifying_key())]);
        let path = dir.join("audit.ndjson");
        let mut f = ChainFile::create(&path, Some(signer), 4).expect("create");
        for i in 0..n {
            f.append(AuditRecord {
                decision: Some(crate::vocab::DecisionKind::Allow),
                method: Some(format!("n{i}")),
                ..AuditRecord::new("decision")
            })
            .expect("append");
        }
        f.finish("shutdown").expect("finish");
        (path, keys)
    }

    fn lines(p: &Path) -> Vec<String> {
        std::fs::read_to_string(p)
            .expect("read")
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn rewrite(p: &Path, lines: &[String]) {
        std::fs::write(p, lines.join("\n") + "\n").expect("write");
    }

    #[test]
    fn a_clean_file_verifies() {
        let dir = tempfile::tempdir().expect("dir");
        let (p, keys) = write(dir.path(), 10);
        // 10 records, a checkpoint after every 4 (2), and the final one.
        assert_eq!(
            verify_file(&p, &keys, true),
            Ok(Verified {
                records: 13,
                checkpoints: 3
            })
        );
    }

    #[test]
    fn every_kind_of_tampering_is_caught_at_its_line() {
        let dir = tempfile::tempdir().expect("dir");
        let (p, keys) = write(dir.path(), 10);
        let orig = lines(&p);
        let check = |what: &str, mutated: Vec<String>, line: u64, needle: &str| {
            rewrite(&p, &mutated);
            let e = verify_file(&p, &keys, true).expect_err(what);
            assert_eq!(e.line, line, "{what}: {e}");
            assert!(e.what.contains(needle), "{what}: {e}");
        };
        let mut changed = orig.clone();
        changed[2] = changed[2].replace("\"allow\"", "\"deny\"");
        check("a changed byte", changed, 3, "was changed");
        let mut deleted = orig.clone();
        deleted.remove(5);
        check("a deleted record", deleted, 6, "sequence number");
        let mut swapped = orig.clone();
        swapped.swap(1, 2);
        check("two records swapped", swapped, 2, "sequence number");
        let truncated = orig[..orig.len() - 2].to_vec();
        check(
            "a truncated file",
            truncated,
            orig.len() as u64 - 1,
            "does not end with a checkpoint",
        );
        // A forged record with recomputed hash still breaks the chain after it.
        let mut forged: Vec<Value> = orig
            .iter()
            .map(|l| serde_json::from_str(l).expect("json"))
            .collect();
        forged[2]["decision"] = Value::from("deny");
        let h = hash_of(&forged[2]);
        forged[2]["hash"] = Value::from(h);
        check(
            "a re-hashed forgery",
            forged.iter().map(|v| v.to_string()).collect(),
            4,
            "prev_hash",
        );
        // A duplicated key (two readings of one record).
        let mut dup = orig.clone();
        dup[3] = dup[3].replacen('{', "{\"decision\":\"deny\",", 1);
        check("a duplicated key", dup, 4, "not a JSON record");
        // A record moved in from another file (same position, other chain).
        let mut moved = orig.clone();
        moved[2] = moved[2].replace("\"chain\":\"audit\"", "\"chain\":\"other\"");
        check(
            "a record from another chain",
            moved,
            3,
            "moved between files",
        );
        // A checkpoint signed by someone else.
        let mut other = orig.clone();
        let last = other.len() - 1;
        let mut cp: Value = serde_json::from_str(&other[last]).expect("json");
        cp["signature"] = Value::from(
            CheckpointSigner::from_seed([9; 32], "k1")
                .sign_hash(cp["hash"].as_str().expect("hash")),
        );
        other[last] = cp.to_string();
        check(
            "a foreign signature",
            other,
            orig.len() as u64,
            "signature does not verify",
        );
        rewrite(&p, &orig);
        assert!(verify_file(&p, &keys, true).is_ok());
        assert!(
            verify_file(&p, &HashMap::new(), false)
                .expect_err("unknown key")
                .what
                .contains("unknown key id")
        );
    }

    #[test]
    fn keys_from_openssl_pem_files() {
        // The test-only key pair in `integration/data/` (openssl-made; it signs nothing real).
        let test_key = |name: &str| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("integration/data")
                .join(name)
        };
        let private = test_key("audit-test.pem");
        let public = test_key("audit-test.pub");
        let signer = CheckpointSigner::from_pem_file(&private, "ops-2026").expect("private key");
        let key = super::super::chain::public_key_from_pem_file(&public).expect("public key");
        assert_eq!(signer.verifying_key(), key);
        assert!(super::super::chain::public_key_from_pem_file(&private).is_err());
    }
}
