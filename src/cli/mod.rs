//! Command line: `run`, `check`, `demo`, `bundle`, …. Parsing with clap; each subcommand is a small
//! function over the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod bundle;
mod learn;

pub use bundle::BundleCommand;
pub use learn::LearnCommand;

use crate::config;
use crate::server::Gateway;
use crate::telemetry::{self, LogFormat};

/// sec0-gateway: policy gateway for AI agent traffic (MCP, A2A, JSON-RPC, HTTP).
#[derive(Debug, Parser)]
#[command(name = "sec0-gateway", version, about)]
pub struct Cli {
    /// Log format.
    #[arg(long, value_enum, default_value = "auto", global = true)]
    pub log_format: LogFormat,
    /// Default log level filter (RUST_LOG overrides it).
    #[arg(long, default_value = "info", global = true)]
    pub log_level: String,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve: proxy listener plus admin listener, until SIGTERM/SIGINT.
    Run {
        /// Config file.
        #[arg(short, long, default_value = "config/gateway.yaml")]
        config: PathBuf,
    },
    /// Certificates for trying TLS and mTLS.
    #[command(subcommand)]
    Certs(CertsCommand),
    /// Replay a trace of labelled calls through the decision engine (rules, guard,
    /// precedents) without network, answering escalations from the labels; or generate one.
    Replay(learn::ReplayArgs),
    /// Audit trail tools.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Learning tools.
    #[command(subcommand)]
    Learn(LearnCommand),
    /// Ask a health endpoint (for container HEALTHCHECKs: the image has no curl); exit 0
    /// on a 2xx answer within the timeout.
    Probe {
        /// The URL to GET (plain HTTP).
        #[arg(default_value = "http://127.0.0.1:9090/healthz")]
        url: String,
        /// Longest wait for the answer.
        #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
        timeout: std::time::Duration,
    },
    /// Validate a config file (and its environment overrides) and its rules; or, with
    /// `--bundle`, a signed policy bundle. Exit 0 when usable.
    Check {
        /// Config file.
        #[arg(short, long, default_value = "config/gateway.yaml")]
        config: PathBuf,
        /// Check this policy bundle (signature, hashes, entries, rules) instead of a config.
        #[arg(long, value_name = "FILE")]
        bundle: Option<PathBuf>,
        /// A public key the bundle may be signed with (SPKI PEM file, or inline PEM);
        /// repeatable.
        #[arg(
            long = "trusted-key",
            alias = "key",
            value_name = "KEY",
            requires = "bundle"
        )]
        trusted_keys: Vec<String>,
    },
    /// Signed policy bundles: make a key pair, build a bundle.
    #[command(subcommand)]
    Bundle(BundleCommand),
    /// Start the gateway and a sample MCP tool server in one process and walk an agent
    /// session through it, hop by hop.
    Demo {
        /// Keep both servers running after the walkthrough (Ctrl-C to stop).
        #[arg(long)]
        keep_running: bool,
    },
    /// Run only the demo's sample MCP tool server (for docker-compose or trying a config).
    SampleServer {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8000")]
        listen: std::net::SocketAddr,
        /// The only `Host` header accepted (like the official SDKs' DNS-rebinding guard);
        /// defaults to the listen address.
        #[arg(long)]
        allowed_host: Option<String>,
        /// Change the `echo` tool's description after the first listing (shows the
        /// gateway's rug-pull defence).
        #[arg(long)]
        rug_pull: bool,
    },
}

/// `sec0-gateway certs …`.
#[derive(Debug, clap::Subcommand)]
pub enum CertsCommand {
    /// Write a development CA, a server certificate for localhost/127.0.0.1 and a client
    /// certificate with a SPIFFE-style URI SAN (keys readable by the owner only; never
    /// overwrites).
    Dev {
        /// Directory to write into.
        #[arg(long, default_value = "certs")]
        out: PathBuf,
        /// The client certificate's identity (URI SAN).
        #[arg(long, default_value = crate::devcerts::DEV_CLIENT_ID)]
        client_id: String,
    },
}

/// `sec0-gateway audit …`.
#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Check audit files' hash chains and checkpoint signatures; name the first broken
    /// record; exit 1 on any break.
    Verify {
        /// A public key for checkpoint signatures, as `KEY_ID=PATH` (SPKI PEM, e.g. from
        /// `openssl pkey -pubout`); repeat for several keys.
        #[arg(long = "key", value_name = "KEY_ID=PATH")]
        keys: Vec<String>,
        /// Accept checkpoints without a signature (files written without a key).
        #[arg(long)]
        allow_unsigned: bool,
        /// Audit files (NDJSON).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print one run's trajectory: its hops in order, each with what was called and decided.
    Run {
        /// The run id (`run_id` in the records).
        run_id: String,
        /// Print the records themselves (NDJSON) instead of one line per step.
        #[arg(long)]
        json: bool,
        /// Audit files (NDJSON).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

fn audit(cmd: AuditCommand) -> ExitCode {
    match cmd {
        AuditCommand::Run {
            run_id,
            json,
            files,
        } => match crate::audit::trajectory::steps_of(&run_id, &files) {
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
            Ok((steps, skipped)) => {
                if skipped > 0 {
                    eprintln!("{skipped} lines were not JSON objects and were skipped");
                }
                if steps.is_empty() {
                    eprintln!("no records of run {run_id:?}");
                    return ExitCode::FAILURE;
                }
                for s in &steps {
                    if json {
                        println!("{}", s.record);
                    } else {
                        println!("{}", s.line());
                    }
                }
                ExitCode::SUCCESS
            }
        },
        AuditCommand::Verify {
            keys,
            allow_unsigned,
            files,
        } => {
            let mut known = std::collections::HashMap::new();
            for k in &keys {
                let Some((id, path)) = k.split_once('=') else {
                    eprintln!("--key {k:?}: expected KEY_ID=PATH");
                    return ExitCode::FAILURE;
                };
                match crate::audit::chain::public_key_from_pem_file(std::path::Path::new(path)) {
                    Ok(key) => {
                        known.insert(id.to_string(), key);
                    }
                    Err(e) => {
                        eprintln!("{e}");
                        return ExitCode::FAILURE;
                    }
                }
            }
            let mut ok = true;
            for f in &files {
                match crate::audit::verify::verify_file(f, &known, !allow_unsigned) {
                    Ok(v) => println!(
                        "{}: OK ({} records, {} checkpoints)",
                        f.display(),
                        v.records,
                        v.checkpoints
                    ),
                    Err(b) => {
                        ok = false;
                        println!("{b}");
                    }
                }
            }
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// Parse the command line and run it.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check {
            bundle: Some(file),
            trusted_keys,
            ..
        } => bundle::check(&file, &trusted_keys),
        Command::Check { config, .. } => check(&config),
        Command::Bundle(cmd) => bundle::run(cmd),
        Command::Audit(cmd) => audit(cmd),
        Command::Probe { url, timeout } => {
            match with_runtime_value(crate::probe::get(&url, None, timeout)) {
                Ok(Ok(_)) => ExitCode::SUCCESS,
                Ok(Err(e)) => {
                    eprintln!("{e}");
                    ExitCode::FAILURE
                }
                Err(code) => code,
            }
        }
        Command::Learn(cmd) => learn::learn(cmd),
        Command::Replay(args) => learn::replay(args),
        Command::Certs(CertsCommand::Dev { out, client_id }) => {
            match crate::devcerts::write_dev_certs(&out, &client_id) {
                Ok(done) => {
                    for f in &done.files {
                        println!("wrote {}", f.display());
                    }
                    println!(
                        "try: tls: {{ cert: {0}/server.pem, key: {0}/server-key.pem, client_ca: {0}/ca.pem, client_auth: optional }}",
                        out.display()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Run { config } => {
            telemetry::init(cli.log_format, &cli.log_level);
            run(&config)
        }
        Command::Demo { keep_running } => {
            // The demo prints its own story (warnings included); logs only for errors
            // unless asked.
            let level = if cli.log_level == "info" {
                "error"
            } else {
                &cli.log_level
            };
            telemetry::init(cli.log_format, level);
            with_runtime(crate::demo::run(keep_running))
        }
        Command::SampleServer {
            listen,
            allowed_host,
            rug_pull,
        } => {
            telemetry::init(cli.log_format, &cli.log_level);
            with_runtime(async move {
                match crate::demo::SampleServer::start_on(listen, allowed_host, rug_pull).await {
                    Ok(server) => {
                        tracing::info!(url = %server.url(), "sample MCP tool server listening");
                        crate::server::shutdown_signal().await;
                        ExitCode::SUCCESS
                    }
                    Err(e) => {
                        eprintln!("cannot listen on {listen}: {e}");
                        ExitCode::FAILURE
                    }
                }
            })
        }
    }
}

fn check(path: &std::path::Path) -> ExitCode {
    let cfg = match config::load(path) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "{}: OK ({} upstreams, {} routes)",
        path.display(),
        cfg.upstreams.len(),
        cfg.routes.len()
    );
    if let Some(p) = cfg.policy.as_ref().filter(|p| p.source.is_some()) {
        if let Err(e) = crate::policy::bundle::keys::TrustedKeys::load(&p.trusted_keys) {
            eprintln!("{}: policy.trusted_keys: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    if let Some(url) = cfg.policy.as_ref().and_then(|p| p.source.as_deref()) {
        println!(
            "policy.source {url}: rules come from a signed bundle at start (check one with `check --bundle FILE --trusted-key KEY`)"
        );
    }
    if let Some((p, rules)) = cfg
        .policy
        .as_ref()
        .and_then(|p| p.rules.as_ref().map(|r| (p, r)))
    {
        match crate::policy::Policy::load(rules, p.mode) {
            Ok(policy) => {
                for w in &policy.warnings {
                    eprintln!("warning: {w}");
                }
                println!(
                    "{}: OK ({} rules from {} files, version {}, mode {})",
                    rules.display(),
                    policy.len(),
                    policy.files.len(),
                    policy.version,
                    p.mode.as_str()
                );
            }
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

fn run(path: &std::path::Path) -> ExitCode {
    let cfg = match config::load(path) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    with_runtime(async move {
        let gw = match Gateway::start(cfg).await {
            Ok(g) => g,
            Err(e) => {
                tracing::error!(error = %e, "cannot start");
                return ExitCode::FAILURE;
            }
        };
        let signal = serve_until_shutdown(&gw).await;
        tracing::info!(signal, "shutting down");
        gw.shutdown().await;
        ExitCode::SUCCESS
    })
}

/// `learn export`: fetch the precedents, write the rules file.
/// Run `f` on a new runtime and return its value.
pub(crate) fn with_runtime_value<T>(
    f: impl std::future::Future<Output = T>,
) -> Result<T, ExitCode> {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => Ok(rt.block_on(f)),
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            Err(ExitCode::FAILURE)
        }
    }
}

fn with_runtime<F: std::future::Future<Output = ExitCode>>(f: F) -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(f),
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Serve until SIGTERM or SIGINT, reloading the rules on every SIGHUP.
async fn serve_until_shutdown(gw: &crate::RunningGateway) -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut hup) = signal(SignalKind::hangup()) {
            let shutdown = crate::server::shutdown_signal();
            tokio::pin!(shutdown);
            loop {
                tokio::select! {
                    s = &mut shutdown => return s,
                    _ = hup.recv() => {
                        if gw.refresh_policy_source() {
                            tracing::info!("SIGHUP: asking the policy bundle source");
                        } else {
                            tracing::info!("SIGHUP: reloading the rules");
                            if gw.reload_policy().is_none() {
                                tracing::warn!("SIGHUP: no policy is configured; nothing to reload");
                            }
                        }
                    }
                }
            }
        }
    }
    crate::server::shutdown_signal().await
}
