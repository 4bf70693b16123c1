//! Reading the config file and the environment overrides into a [`Config`].

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::Config;
use super::validate::{Problem, validate};

/// Prefix of environment overrides: `SEC0_GATEWAY__ADMIN__LISTEN=…` sets `admin.listen`.
pub const ENV_PREFIX: &str = "SEC0_GATEWAY";

/// Why a configuration could not be used. Every variant names the file; validation problems
/// also name the key path (`routes[1].upstream`).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read at all.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The config file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The YAML or an environment override does not fit the schema (syntax, unknown key,
    /// wrong type). The message names the key.
    #[error("{origin}: {message}")]
    Parse {
        /// The config file (or `<string>`).
        origin: String,
        /// What was wrong.
        message: String,
    },
    /// The config parsed but does not hold together.
    #[error("{origin}: {}", Problems(problems))]
    Invalid {
        /// The config file (or `<string>`).
        origin: String,
        /// Every problem found, not only the first.
        problems: Vec<Problem>,
    },
}

struct Problems<'a>(&'a [Problem]);

impl fmt::Display for Problems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.len() == 1 {
            return write!(f, "{}", self.0[0]);
        }
        write!(f, "{} problems:", self.0.len())?;
        for p in self.0 {
            write!(f, "\n  - {p}")?;
        }
        Ok(())
    }
}

/// Load `path`, apply `SEC0_GATEWAY__*` overrides from the process environment, validate.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let origin = path.display().to_string();
    build(&text, &origin, None)
}

/// Load from YAML text with an explicit environment (tests, the demo). `env` maps variable
/// names (with the `SEC0_GATEWAY__` prefix) to values; `None` reads the process environment.
pub fn load_from_str(
    yaml: &str,
    origin: &str,
    env: Option<HashMap<String, String>>,
) -> Result<Config, ConfigError> {
    build(yaml, origin, env)
}

fn build(
    yaml: &str,
    origin: &str,
    env: Option<HashMap<String, String>>,
) -> Result<Config, ConfigError> {
    let parse_err = |e: config::ConfigError| ConfigError::Parse {
        origin: origin.to_string(),
        message: describe(e),
    };
    let mut environment = config::Environment::with_prefix(ENV_PREFIX)
        .prefix_separator("__")
        .separator("__")
        .try_parsing(true);
    if let Some(map) = env {
        environment = environment.source(Some(map));
    }
    let layered = config::Config::builder()
        .add_source(config::File::from_str(yaml, config::FileFormat::Yaml))
        .add_source(environment)
        .build()
        .map_err(parse_err)?;
    let cfg: Config = layered.try_deserialize().map_err(parse_err)?;
    let problems = validate(&cfg);
    if problems.is_empty() {
        Ok(cfg)
    } else {
        Err(ConfigError::Invalid {
            origin: origin.to_string(),
            problems,
        })
    }
}

/// The `config` crate's messages already name the key; it only drops the dot after an
/// index (`routes[0]protocol`), which is put back here.
fn describe(e: config::ConfigError) -> String {
    let raw = e.to_string();
    let mut out = String::with_capacity(raw.len() + 4);
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == ']'
            && chars
                .peek()
                .is_some_and(|n| n.is_ascii_alphabetic() || *n == '_')
        {
            out.push('.');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
listen: 127.0.0.1:8080
admin: { listen: 127.0.0.1:9090 }
upstreams:
  tools: { url: "http://127.0.0.1:8000" }
routes:
  - { path_prefix: /mcp, upstream: tools, protocol: mcp, boundary: agent_to_tool }
"#;

    fn no_env() -> Option<HashMap<String, String>> {
        Some(HashMap::new())
    }

    #[test]
    fn minimal_config_loads_with_defaults() {
        let cfg = load_from_str(MINIMAL, "t.yaml", no_env()).expect("valid");
        assert_eq!(cfg.listen.port(), 8080);
        assert_eq!(cfg.limits.max_request_body.as_u64(), 8 * 1024 * 1024);
        assert_eq!(cfg.routes[0].display_name(0), "route-0");
    }

    #[test]
    fn unknown_key_is_named() {
        let yaml = format!("{MINIMAL}\nlisten_typo: 1\n");
        let err = load_from_str(&yaml, "t.yaml", no_env())
            .unwrap_err()
            .to_string();
        assert!(err.contains("listen_typo"), "{err}");
        assert!(err.starts_with("t.yaml:"), "{err}");
    }

    #[test]
    fn nested_unknown_key_is_named() {
        let yaml = MINIMAL.replace(
            "{ listen: 127.0.0.1:9090 }",
            "{ listen: 127.0.0.1:9090, tokn: x }",
        );
        let err = load_from_str(&yaml, "t.yaml", no_env())
            .unwrap_err()
            .to_string();
        assert!(err.contains("tokn"), "{err}");
    }

    #[test]
    fn wrong_type_names_the_key() {
        let yaml = MINIMAL.replace("protocol: mcp", "protocol: smtp");
        let err = load_from_str(&yaml, "t.yaml", no_env())
            .unwrap_err()
            .to_string();
        assert!(err.contains("smtp"), "{err}");
        assert!(err.contains("routes[0].protocol"), "{err}");
    }

    #[test]
    fn env_overrides_nested_keys() {
        let env = HashMap::from([
            (
                "SEC0_GATEWAY__LISTEN".to_string(),
                "127.0.0.1:7000".to_string(),
            ),
            (
                "SEC0_GATEWAY__ADMIN__LISTEN".to_string(),
                "127.0.0.1:7001".to_string(),
            ),
            (
                "SEC0_GATEWAY__LIMITS__MAX_CONNECTIONS".to_string(),
                "12".to_string(),
            ),
            (
                "SEC0_GATEWAY__LIMITS__IDLE_TIMEOUT".to_string(),
                "7s".to_string(),
            ),
        ]);
        let cfg = load_from_str(MINIMAL, "t.yaml", Some(env)).expect("valid");
        assert_eq!(cfg.listen.port(), 7000);
        assert_eq!(cfg.admin.listen.port(), 7001);
        assert_eq!(cfg.limits.max_connections, 12);
        assert_eq!(cfg.limits.idle_timeout.as_secs(), 7);
    }

    #[test]
    fn env_override_with_unknown_key_is_an_error() {
        let env = HashMap::from([("SEC0_GATEWAY__LIMITZ__X".to_string(), "1".to_string())]);
        let err = load_from_str(MINIMAL, "t.yaml", Some(env))
            .unwrap_err()
            .to_string();
        assert!(err.contains("limitz"), "{err}");
    }

    #[test]
    fn yaml_syntax_error_is_reported() {
        let err = load_from_str("listen: [", "t.yaml", no_env())
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("t.yaml:"), "{err}");
    }

    #[test]
    fn missing_file_is_a_read_error() {
        let err = load(Path::new("/nonexistent/gw.yaml")).unwrap_err();
        assert!(matches!(err, ConfigError::Read { .. }), "{err}");
    }
}
