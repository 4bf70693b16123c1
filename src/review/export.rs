//! `sec0-gateway learn export`: the precedents a running gateway learned, written as a
//! rules file, so learned behaviour is committed to `rules/` and reviewed like code.
//!
//! Each `exact`-level precedent becomes a rule with `precedent: true` and
//! `when.fingerprint`: it answers calls with exactly those features that a rule escalates
//! (allow or deny), is not looked at otherwise, and never overrides a `deny` — the same
//! meaning the learned precedent has. Generalised precedents (`known`, `any_caller`) depend
//! on which hosts, domains, directories and callers reviewers approved on that gateway, which
//! a rule cannot express: they are listed after the rules, with their evidence, as comments
//! to review — not as rules.

use serde::{Deserialize, Serialize};

use crate::probe::{ProbeError, get};

/// A precedent as the admin API lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct Listed {
    /// `precedent-<fingerprint id>`.
    pub id: String,
    /// The fingerprint in words.
    pub fingerprint: String,
    /// `allow` or `deny`.
    pub verdict: String,
    /// Approvals counted.
    pub approvals: usize,
    /// Rejections counted.
    pub rejections: usize,
    /// Its level (`exact` when the gateway does not say).
    #[serde(default = "exact")]
    pub level: String,
    /// Its confidence (lower bound of the agreeing share).
    #[serde(default)]
    pub confidence: f64,
}

fn exact() -> String {
    "exact".into()
}

#[derive(Serialize)]
struct RulesFile {
    version: u32,
    rules: Vec<ExportedRule>,
}

#[derive(Serialize)]
struct ExportedRule {
    id: String,
    description: String,
    precedent: bool,
    when: ExportedWhen,
    decision: String,
    reason: &'static str,
}

#[derive(Serialize)]
struct ExportedWhen {
    fingerprint: String,
}

/// Ask the gateway's admin listener (`http://host:port`) for its precedents.
pub async fn fetch(admin: &str, token: Option<&str>) -> Result<Vec<Listed>, ProbeError> {
    let url = format!("{}/v1/precedents", admin.trim_end_matches('/'));
    let body = get(&url, token, std::time::Duration::from_secs(10)).await?;
    #[derive(Deserialize)]
    struct Answer {
        precedents: Vec<Listed>,
    }
    serde_json::from_slice::<Answer>(&body)
        .map(|a| a.precedents)
        .map_err(|e| ProbeError::Status(url, format!("not a precedent list: {e}")))
}

/// The rules file for `precedents` (`source`: where they came from, for the header).
pub fn render(precedents: &[Listed], source: &str) -> String {
    let (exact, general): (Vec<&Listed>, Vec<&Listed>) = precedents
        .iter()
        .filter(|p| matches!(p.verdict.as_str(), "allow" | "deny"))
        .partition(|p| p.level == "exact");
    let rules = exact
        .into_iter()
        .map(|p| ExportedRule {
            id: p.id.clone(),
            description: format!(
                "{} ({} approvals, {} rejections, confidence {:.2})",
                p.fingerprint, p.approvals, p.rejections, p.confidence
            ),
            precedent: true,
            when: ExportedWhen {
                fingerprint: p.id.strip_prefix("precedent-").unwrap_or(&p.id).to_string(),
            },
            decision: p.verdict.clone(),
            reason: "precedent",
        })
        .collect();
    let yaml = serde_yaml_ng::to_string(&RulesFile { version: 1, rules })
        .unwrap_or_else(|e| format!("# could not render: {e}\n"));
    let mut general_text = String::new();
    if !general.is_empty() {
        general_text.push_str(
            "\n# Generalised precedents (not rules: they depend on which hosts, domains, directories\n\
             # and callers reviewers approved on that gateway). Review them there.\n",
        );
        for p in general {
            general_text.push_str(&format!(
                "# - {} [{}] {}: {} ({} approvals, {} rejections, confidence {:.2})\n",
                p.id,
                p.level,
                p.verdict,
                p.fingerprint.replace('\n', " "),
                p.approvals,
                p.rejections,
                p.confidence
            ));
        }
    }
    format!(
        "# Precedents learned from reviewers' answers, exported by `sec0-gateway learn export`\n\
         # from {source} at {}.\n\
         # Each rule answers escalated calls with exactly the features in its description\n\
         # (route, tool, caller, arguments, finding types, run flags) and never overrides a\n\
         # deny. Review, then commit to rules/.\n{yaml}{general_text}",
        humantime::format_rfc3339_seconds(std::time::SystemTime::now()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedents_become_precedent_rules_the_engine_loads() {
        let listed = vec![
            Listed {
                id: "precedent-00112233aabbccdd".into(),
                fingerprint: "route tools, pay, caller a, args {amount: number:1e2}, findings []"
                    .into(),
                verdict: "allow".into(),
                approvals: 3,
                rejections: 0,
                level: "exact".into(),
                confidence: 0.6,
            },
            Listed {
                id: "precedent-99887766aabbccdd".into(),
                fingerprint: "route tools, pay, caller a, args {to: url:paste.test}, findings []"
                    .into(),
                verdict: "deny".into(),
                approvals: 0,
                rejections: 2,
                level: "exact".into(),
                confidence: 0.5,
            },
            Listed {
                id: "precedent-5555666677778888".into(),
                fingerprint: "route tools, tool pay, caller a, args {to=url https public known}"
                    .into(),
                verdict: "allow".into(),
                approvals: 40,
                rejections: 0,
                level: "known".into(),
                confidence: 0.91,
            },
        ];
        let text = render(&listed, "http://127.0.0.1:9090");
        assert!(text.starts_with("# Precedents learned"), "{text}");
        let policy = crate::policy::Policy::from_sources(
            &[(
                std::path::PathBuf::from("rules/90-precedents.yaml"),
                text.clone(),
            )],
            crate::policy::model::Mode::Enforce,
        )
        .unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(policy.len(), 2, "{text}");
        assert!(text.contains("fingerprint: 00112233aabbccdd"), "{text}");
        assert!(text.contains("(3 approvals, 0 rejections"), "{text}");
        assert!(
            text.contains("# - precedent-5555666677778888 [known] allow"),
            "generalised precedents are listed, not rules: {text}"
        );
    }
}
