//! `sec0-gateway replay` and `sec0-gateway learn …`: learning's tools on the command line —
//! replaying a labelled trace through the engine, exporting what a gateway learned as rules,
//! and explaining how learning sees a call.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::with_runtime_value;

/// `sec0-gateway learn …`.
#[derive(Debug, clap::Subcommand)]
pub enum LearnCommand {
    /// Write the precedents a running gateway learned as a rules file (`precedent: true`
    /// rules), to review and commit to `rules/`.
    Export {
        /// The gateway's admin listener.
        #[arg(long, default_value = "http://127.0.0.1:9090")]
        admin: String,
        /// File holding the admin bearer token (`admin.token_file`).
        #[arg(long)]
        token_file: Option<PathBuf>,
        /// Write here instead of stdout.
        #[arg(short, long)]
        out: Option<PathBuf>,
    },
    /// How learning sees a call: its features and its fingerprint at every level; with
    /// `--admin`, also the evidence a running gateway has for each and what it would
    /// decide.
    Explain {
        /// The tool called.
        #[arg(long)]
        tool: String,
        /// The verified caller.
        #[arg(long)]
        caller: String,
        /// The arguments (JSON).
        #[arg(long, default_value = "{}")]
        args: String,
        /// The route.
        #[arg(long, default_value = "tools")]
        route: String,
        /// Ask this gateway's admin listener for its evidence.
        #[arg(long)]
        admin: Option<String>,
        /// File holding the admin bearer token (`admin.token_file`).
        #[arg(long)]
        token_file: Option<PathBuf>,
    },
}

/// Run a `learn` subcommand.
pub fn learn(cmd: LearnCommand) -> ExitCode {
    match cmd {
        LearnCommand::Export {
            admin,
            token_file,
            out,
        } => learn_export(&admin, token_file.as_deref(), out.as_deref()),
        LearnCommand::Explain {
            tool,
            caller,
            args,
            route,
            admin,
            token_file,
        } => learn_explain(
            &tool,
            &caller,
            &args,
            &route,
            admin.as_deref(),
            token_file.as_deref(),
        ),
    }
}

fn read_token(token_file: Option<&Path>) -> Result<Option<String>, ExitCode> {
    token_file
        .map(std::fs::read_to_string)
        .transpose()
        .map_err(|e| {
            eprintln!("token file: {e}");
            ExitCode::FAILURE
        })
}

/// `learn explain`: the call's features and fingerprints here; the gateway's evidence too
/// when asked.
fn learn_explain(
    tool: &str,
    caller: &str,
    args: &str,
    route: &str,
    admin: Option<&str>,
    token_file: Option<&Path>,
) -> ExitCode {
    let args: serde_json::Value = match crate::protocol::json::parse_strict(args.as_bytes(), 64) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("--args: {e}");
            return ExitCode::FAILURE;
        }
    };
    let Some(admin) = admin else {
        let f = crate::features::CallFeatures::of(
            route,
            tool,
            caller,
            Some(&args),
            &[],
            &[],
            crate::features::Hints {
                tool,
                internal_domains: &[],
            },
        );
        println!("features:");
        for feat in &f.features {
            println!("  {}", feat.describe());
        }
        let exact = f.exact();
        println!("exact fingerprint {}: {}", exact.id, exact.text);
        println!("(without a gateway: no findings, run flags or evidence; pass --admin for those)");
        return ExitCode::SUCCESS;
    };
    let token = match read_token(token_file) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let url = format!("{}/v1/precedents/explain", admin.trim_end_matches('/'));
    let body =
        serde_json::json!({"tool": tool, "caller": caller, "route": route, "arguments": args});
    match with_runtime_value(crate::probe::post_json(
        &url,
        token.as_deref(),
        serde_json::to_vec(&body).unwrap_or_default(),
        std::time::Duration::from_secs(10),
    )) {
        Ok(Ok(answer)) => {
            let v: serde_json::Value = serde_json::from_slice(&answer).unwrap_or_default();
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Ok(Err(e)) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
        Err(code) => code,
    }
}

/// What `replay` was asked.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// Trace to replay (JSONL: route, boundary, caller, tool, args, label safe|unsafe).
    #[arg(long, conflicts_with = "generate")]
    pub trace: Option<PathBuf>,
    /// Rules file or directory (default: the config's `policy.rules`).
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// Gateway config (for `policy.rules` and `learn`).
    #[arg(short, long)]
    pub config: Option<PathBuf>,
    /// Calls per reported window.
    #[arg(long, default_value_t = 100)]
    pub window: usize,
    /// Write a synthetic trace of this many calls to stdout instead.
    #[arg(long)]
    pub generate: Option<usize>,
    /// Seed of the generated trace (and of the spot checks' sampling).
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Generate the hard trace (mixed shapes that differ by meaning, high-cardinality
    /// ids, agents and tools arriving mid-trace) instead of the regular one.
    #[arg(long, requires = "generate")]
    pub hard: bool,
    /// Generate the org trace (implicit facts: agents' refund limits, vendors' ceilings and
    /// registered IBANs; optional arguments, argument styles changing, fourteen agents).
    #[arg(long, requires = "generate", conflicts_with = "hard")]
    pub org: bool,
    /// Print the report as JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

/// `replay`: generate a trace, or replay one and print the report.
pub fn replay(args: ReplayArgs) -> ExitCode {
    use crate::review::replay;
    let ReplayArgs {
        trace,
        rules,
        config,
        window,
        generate,
        seed,
        hard,
        org,
        json,
    } = args;
    if let Some(n) = generate {
        let calls = if org {
            replay::generate::org(n, seed)
        } else if hard {
            replay::generate::hard(n, seed)
        } else {
            replay::generate::regular(n, seed)
        };
        let mut text = String::new();
        for c in calls {
            text.push_str(&serde_json::to_string(&c).unwrap_or_default());
            text.push('\n');
        }
        return emit(&text);
    }
    let fail = |m: String| {
        eprintln!("{m}");
        ExitCode::FAILURE
    };
    let cfg = match &config {
        Some(p) => match crate::config::load(p) {
            Ok(c) => Some(c),
            Err(e) => return fail(e.to_string()),
        },
        None => None,
    };
    let Some(rules) = rules.or_else(|| {
        cfg.as_ref()
            .and_then(|c| c.policy.as_ref().and_then(|p| p.rules.clone()))
    }) else {
        return fail("replay needs rules: --rules PATH, or -c CONFIG with policy.rules".into());
    };
    let policy = match crate::policy::Policy::load(&rules, crate::policy::Mode::Enforce) {
        Ok(p) => p,
        Err(e) => return fail(e.to_string()),
    };
    let Some(trace) = trace else {
        return fail("replay needs --trace FILE (or --generate N to make one)".into());
    };
    let text = match std::fs::read_to_string(&trace) {
        Ok(t) => t,
        Err(e) => return fail(format!("{}: {e}", trace.display())),
    };
    let mut calls = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        match serde_json::from_str::<replay::TraceCall>(line) {
            Ok(c) => calls.push(c),
            Err(e) => return fail(format!("{}:{}: {e}", trace.display(), n + 1)),
        }
    }
    let learn = crate::review::learn::LearnConfig::from(&cfg.map(|c| c.learn).unwrap_or_default());
    let report = replay::replay(&policy, learn, &calls, window, seed);
    if json {
        emit(&(serde_json::to_string_pretty(&report).unwrap_or_default() + "\n"))
    } else {
        emit(&replay::table(&report))
    }
}

/// Write `text` to stdout. A reader that stopped early (`| head`) ends the output quietly;
/// any other write error is reported (and fails the command) instead of a panic.
fn emit(text: &str) -> ExitCode {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cannot write the output: {e}");
            ExitCode::FAILURE
        }
    }
}

fn learn_export(admin: &str, token_file: Option<&Path>, out: Option<&Path>) -> ExitCode {
    let token = match read_token(token_file) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let listed = match with_runtime_value(crate::review::export::fetch(admin, token.as_deref())) {
        Ok(Ok(l)) => l,
        Ok(Err(e)) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
        Err(code) => return code,
    };
    let text = crate::review::export::render(&listed, admin);
    match out {
        Some(path) => match std::fs::write(path, &text) {
            Ok(()) => {
                eprintln!("wrote {} precedents to {}", listed.len(), path.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{}: {e}", path.display());
                ExitCode::FAILURE
            }
        },
        None => {
            print!("{text}");
            ExitCode::SUCCESS
        }
    }
}
