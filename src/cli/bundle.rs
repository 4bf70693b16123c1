//! `bundle keygen`, `bundle build` and `check --bundle`: making and checking signed policy
//! bundles (format: `crate::policy::bundle`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::policy::bundle::{self, Limits, build, keys, read};
use crate::policy::{Mode, Policy};

/// `sec0-gateway bundle …`.
#[derive(Debug, clap::Subcommand)]
pub enum BundleCommand {
    /// Write a new Ed25519 key pair for signing bundles: the private key (PKCS#8 PEM,
    /// readable by the owner only) and beside it the public key (SPKI PEM, for
    /// `policy.trusted_keys`). Never overwrites.
    Keygen {
        /// The private key file to write.
        key: PathBuf,
        /// The public key file (default: the key file's name with `.pub.pem`).
        #[arg(long)]
        public: Option<PathBuf>,
    },
    /// Make a signed bundle of a rules directory (its `*.yaml`/`*.yml` files, as the
    /// gateway loads a directory); the rules must compile.
    Build {
        /// The rules directory.
        dir: PathBuf,
        /// The signing key (PKCS#8 PEM: `bundle keygen`, or `openssl genpkey -algorithm ed25519`).
        #[arg(long)]
        key: PathBuf,
        /// The bundle's version: a positive integer, higher than the one serving (a build
        /// number, or a date like 2026073001).
        #[arg(long = "version", value_name = "V")]
        bundle_version: u64,
        /// Where to write the bundle (`.tar.gz`).
        #[arg(short, long)]
        output: PathBuf,
    },
}

/// Run a `bundle` subcommand.
pub fn run(cmd: BundleCommand) -> ExitCode {
    let result = match cmd {
        BundleCommand::Keygen { key, public } => keygen(&key, public),
        BundleCommand::Build {
            dir,
            key,
            bundle_version,
            output,
        } => build_bundle(&dir, &key, bundle_version, &output),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn keygen(key: &Path, public: Option<PathBuf>) -> Result<(), String> {
    let public = public.unwrap_or_else(|| {
        let stem = key
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "bundle-signing".into());
        key.with_file_name(format!("{stem}.pub.pem"))
    });
    for p in [key, public.as_path()] {
        if p.exists() {
            return Err(format!("{}: exists; not overwriting a key", p.display()));
        }
    }
    let (private_pem, public_pem) = keys::generate().map_err(|e| e.to_string())?;
    write_new(key, private_pem.as_bytes(), 0o600)?;
    write_new(&public, public_pem.as_bytes(), 0o644)?;
    let fp = keys::public_key_from_pem(&public_pem, "generated key")
        .map(|k| keys::fingerprint(&k))
        .map_err(|e| e.to_string())?;
    println!(
        "wrote {} (private: keep it off the gateways)",
        key.display()
    );
    println!(
        "wrote {} (public, {fp}: list it in policy.trusted_keys)",
        public.display()
    );
    Ok(())
}

fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), String> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut f = opts
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn build_bundle(dir: &Path, key: &Path, version: u64, output: &Path) -> Result<(), String> {
    let signing = keys::signing_key_from_pem_file(key).map_err(|e| e.to_string())?;
    let files = build::rules_of(dir).map_err(|e| e.to_string())?;
    // The rules must compile as the gateway will compile them (under the bundle's names).
    let sources: Vec<(PathBuf, String)> = files
        .iter()
        .map(|(name, data)| (dir.join(name), String::from_utf8_lossy(data).into_owned()))
        .collect();
    let policy = Policy::from_sources(&sources, Mode::Enforce).map_err(|e| e.to_string())?;
    let created_at = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let bytes = build::build(&files, version, &created_at, &signing).map_err(|e| e.to_string())?;
    let tmp = output.with_extension("tmp");
    std::fs::write(&tmp, &bytes)
        .and_then(|()| std::fs::rename(&tmp, output))
        .map_err(|e| format!("{}: {e}", output.display()))?;
    println!(
        "wrote {}: bundle version {version}, {} rules from {} files (rules version {}), {} bytes, signed by {}",
        output.display(),
        policy.len(),
        files.len(),
        policy.version,
        bytes.len(),
        keys::fingerprint(&signing.verifying_key())
    );
    Ok(())
}

/// `check --bundle FILE --trusted-key KEY…`: signature, hashes, entries and rules, as a
/// gateway would check them (the size cap aside: that is `policy.max_bundle_size`).
pub fn check(file: &Path, trusted: &[String]) -> ExitCode {
    let fail = |m: String| {
        eprintln!("{}: {m}", file.display());
        ExitCode::FAILURE
    };
    if trusted.is_empty() {
        return fail(
            "a bundle is checked against its signing key: pass --trusted-key (a public key file or inline PEM; repeatable)".into(),
        );
    }
    let keys = match keys::TrustedKeys::load(trusted) {
        Ok(k) => k,
        Err(e) => return fail(e.to_string()),
    };
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) => return fail(e.to_string()),
    };
    let limits = Limits {
        max_bundle: u64::MAX,
        ..Limits::default()
    };
    let v = match read::verify(&bytes, &keys, &limits) {
        Ok(v) => v,
        Err(e) => return fail(format!("refused ({}): {e}", e.reason())),
    };
    let policy = match Policy::from_sources(&v.sources, Mode::Enforce) {
        Ok(p) => p,
        Err(e) => {
            let e = bundle::Refused::Rules(e);
            return fail(format!("refused ({}): {e}", e.reason()));
        }
    };
    for w in &policy.warnings {
        eprintln!("warning: {w}");
    }
    if bytes.len() as u64 > crate::config::DEFAULT_MAX_BUNDLE_SIZE {
        eprintln!(
            "warning: {} bytes, more than the default policy.max_bundle_size ({} bytes)",
            bytes.len(),
            crate::config::DEFAULT_MAX_BUNDLE_SIZE
        );
    }
    println!(
        "{}: OK (bundle version {}, created {}, {} rules from {} files, rules version {}, signed by {})",
        file.display(),
        v.manifest.version,
        v.manifest.created_at,
        policy.len(),
        v.sources.len(),
        policy.version,
        v.signed_by
    );
    ExitCode::SUCCESS
}
