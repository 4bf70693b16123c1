//! What the policy reads of runs, per call: whether a call's decision may need its run's
//! history, and whether a rule reads what a forwarded call adds to it. With runs in the
//! shared store these decide which calls go to Redis for their run at all (and which are
//! refused when it is away under `fail_closed`): a call no run-reading rule can apply to
//! is decided without its history, and a step no rule reads is not written.

use super::{CallFacts, Policy};

impl Policy {
    /// Whether deciding `facts` (a request whose run is not read yet) may need the run's
    /// history: some rule that reads runs (`when.run`, `unless.run`, a precedent rule) has
    /// all of its other conditions holding for it.
    pub fn needs_run(&self, facts: &CallFacts<'_>) -> bool {
        self.reads_runs
            && self
                .index
                .candidates(facts.tool)
                .into_iter()
                .any(|i| self.rules[i].may_need_run(facts))
    }

    /// Whether a rule reads what a forwarded call of `tool` reading `resource` and
    /// attaching `labeled` labels adds to its run: labels always count (rules and learning
    /// read them); the tool, the resource and the call itself when a `when.run` names them
    /// (`called`, `read`, `count_gt`).
    pub fn reads_step(&self, tool: Option<&str>, resource: Option<&str>, labeled: bool) -> bool {
        labeled || self.rules.iter().any(|r| r.reads_step(tool, resource))
    }

    /// Whether a rule reads how many calls a run made (`when.run.count_gt`): then every
    /// forwarded call is counted in the shared store, even one that adds nothing else.
    pub fn counts_calls(&self) -> bool {
        self.rules.iter().any(|r| r.counts_calls())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{Boundary, Protocol};
    use crate::policy::{CallFacts, Mode, Policy};

    fn policy(yaml: &str) -> Policy {
        let src = [(std::path::PathBuf::from("rules/t.yaml"), yaml.to_string())];
        Policy::from_sources(&src, Mode::Enforce).unwrap_or_else(|e| panic!("{e}"))
    }

    fn call<'a>(tool: &'a str, route: &'a str) -> CallFacts<'a> {
        CallFacts {
            method: Some("tools/call"),
            tool: Some(tool),
            ..CallFacts::on_route(Boundary::AgentToTool, route, "u", Protocol::Mcp)
        }
    }

    const RULES: &str = "version: 1\nrules:\n  \
        - { id: reads-private, when: { resource: 'file:///private/*' }, decision: allow, reason: r, label: private_data }\n  \
        - { id: no-exfil, when: { tool: 'web_*', run: { labels: private_data } }, decision: deny, reason: x }\n  \
        - { id: after-db, when: { route: db, run: { called: read_db } }, decision: escalate, reason: y }\n  \
        - { id: but-not, when: { tool: mail }, unless: { run: { read: 'file:///public/*' } }, decision: deny, reason: z }\n  \
        - { id: plain, when: { tool: ping }, decision: allow, reason: p }\n";

    #[test]
    fn only_calls_a_run_reading_rule_may_apply_to_need_the_run() {
        let p = policy(RULES);
        assert!(p.needs_run(&call("web_post", "tools")), "when.run");
        assert!(p.needs_run(&call("anything", "db")), "route and run");
        assert!(p.needs_run(&call("mail", "tools")), "unless.run");
        assert!(
            !p.needs_run(&call("ping", "tools")),
            "no run-reading rule applies"
        );
        assert!(!p.needs_run(&call("read_file", "tools")));
        let none = policy(
            "version: 1\nrules:\n  - { id: a, when: { tool: x }, decision: deny, reason: r }\n",
        );
        assert!(!none.needs_run(&call("x", "tools")));
    }

    #[test]
    fn a_step_matters_when_a_rule_reads_it() {
        let p = policy(RULES);
        assert!(p.reads_step(Some("ping"), None, true), "labels always");
        assert!(p.reads_step(Some("read_db"), None, false), "run.called");
        assert!(
            p.reads_step(None, Some("file:///public/menu"), false),
            "unless.run.read"
        );
        assert!(!p.reads_step(Some("ping"), None, false));
        assert!(!p.reads_step(None, Some("file:///elsewhere"), false));
        let counting = policy(
            "version: 1\nrules:\n  - { id: a, when: { tool: x, run: { count_gt: 3 } }, decision: deny, reason: r }\n",
        );
        assert!(
            counting.reads_step(Some("anything"), None, false),
            "every call counts"
        );
        assert!(counting.counts_calls());
        assert!(!p.counts_calls(), "no count_gt");
        let unless = policy(
            "version: 1\nrules:\n  - { id: a, when: { tool: x }, unless: { run: { count_gt: 3 } }, decision: deny, reason: r }\n",
        );
        assert!(unless.counts_calls(), "unless.run.count_gt");
    }
}
