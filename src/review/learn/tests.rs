use super::*;
use crate::features::Hints;
use serde_json::json;

fn cfg() -> LearnConfig {
    LearnConfig {
        spot_checks: SpotChecks {
            rate: 0.0,
            young_rate: 0.0,
            deny_rate: 0.0,
            flow: SpotFlow::Escalate,
        },
        ..LearnConfig::default()
    }
}

fn call(caller: &str, args: serde_json::Value) -> CallFeatures {
    CallFeatures::of(
        "tools",
        "pay",
        caller,
        Some(&args),
        &[],
        &[],
        Hints::default(),
    )
}

fn secs(t: Instant, s: u64) -> Instant {
    t + Duration::from_secs(s)
}

#[test]
fn exact_evidence_makes_a_precedent_and_a_rejection_revokes_it() {
    let p = Precedents::with_seed(cfg(), 1);
    let t = Instant::now();
    let f = call(
        "a",
        json!({"to": "https://pay.vendor.test/x", "amount": 120}),
    );
    let needed = evidence::needed(p.config().allow.exact);
    for s in 0..needed as u64 - 1 {
        p.learn(&f, true, None, secs(t, s));
        assert_eq!(
            p.decide(&f, false, secs(t, s)),
            None,
            "{s} approvals are not enough"
        );
    }
    p.learn(&f, true, None, secs(t, 99));
    let o = p.decide(&f, false, secs(t, 100)).expect("a precedent");
    assert_eq!((o.verdict, o.level), (Verdict::Allow, Level::Exact));
    assert!(!o.spot_check);
    assert_eq!(
        p.decide(&f, true, secs(t, 100)),
        None,
        "a strict tool needs more evidence"
    );
    p.learn(&f, false, None, secs(t, 101));
    assert_eq!(
        p.decide(&f, false, secs(t, 102)),
        None,
        "a rejection revokes it"
    );
}

#[test]
fn known_identities_generalise_and_new_ones_do_not() {
    let p = Precedents::with_seed(cfg(), 1);
    let t = Instant::now();
    // Many invoices to three known vendors, each call a new shape at the exact level.
    for i in 0..60u64 {
        let vendor = ["a.test", "b.test", "c.test"][(i % 3) as usize];
        let f = call(
            "billing",
            json!({"vendor": format!("https://{vendor}/pay"), "invoice": format!("INV-{i:04}"), "amount": 100 + (i * 37) % 300}),
        );
        p.learn(&f, true, None, secs(t, i));
    }
    let known = call(
        "billing",
        json!({"vendor": "https://b.test/pay", "invoice": "INV-9999", "amount": 350}),
    );
    let o = p.decide(&known, false, secs(t, 100)).expect("learned");
    assert_eq!(o.verdict, Verdict::Allow);
    // A vendor approved once: its exact shape has one approval (too few), the known level
    // (every call to a known vendor) decides.
    let d = call(
        "billing",
        json!({"vendor": "https://d.test/pay", "invoice": "INV-7777", "amount": 35}),
    );
    p.learn(&d, true, None, secs(t, 50));
    // (At most what was approved for that vendor: one approval says nothing of its ceiling.)
    let again = call(
        "billing",
        json!({"vendor": "https://d.test/pay", "invoice": "INV-7778", "amount": 30}),
    );
    let o = p.decide(&again, false, secs(t, 100)).expect("generalised");
    assert_eq!((o.verdict, o.level), (Verdict::Allow, Level::Known));
    // A payee nobody approved, or an amount above every approved one: a person decides.
    let new_payee = call(
        "billing",
        json!({"vendor": "https://evil.test/pay", "invoice": "INV-9998", "amount": 350}),
    );
    assert_eq!(p.decide(&new_payee, false, secs(t, 100)), None);
    let outsized = call(
        "billing",
        json!({"vendor": "https://b.test/pay", "invoice": "INV-9997", "amount": 350_000}),
    );
    assert_eq!(p.decide(&outsized, false, secs(t, 100)), None);
    // Another caller: only the any-caller level could decide, and it needs more evidence.
    let other = call(
        "intern",
        json!({"vendor": "https://b.test/pay", "invoice": "INV-9996", "amount": 350}),
    );
    assert_eq!(p.decide(&other, false, secs(t, 100)), None);
}

#[test]
fn rejections_of_new_payees_become_a_deny_that_spares_known_ones() {
    let p = Precedents::with_seed(cfg(), 1);
    let t = Instant::now();
    for i in 0..30u64 {
        let f = call(
            "billing",
            json!({"vendor": "https://a.test/pay", "amount": 100 + i}),
        );
        p.learn(&f, true, None, secs(t, i));
    }
    for i in 0..6u64 {
        let f = call(
            "billing",
            json!({"vendor": format!("https://payee-{i}.example/pay"), "amount": 150}),
        );
        p.learn(&f, false, None, secs(t, 100 + i));
    }
    let fresh = call(
        "billing",
        json!({"vendor": "https://payee-77.example/pay", "amount": 150}),
    );
    let o = p.decide(&fresh, false, secs(t, 200)).expect("learned");
    assert_eq!((o.verdict, o.level), (Verdict::Deny, Level::Known));
    let known = call(
        "billing",
        json!({"vendor": "https://a.test/pay", "amount": 120}),
    );
    assert_eq!(
        p.decide(&known, false, secs(t, 200)).map(|o| o.verdict),
        Some(Verdict::Allow)
    );
}

#[test]
fn disagreement_stops_the_back_off() {
    let p = Precedents::with_seed(cfg(), 1);
    let t = Instant::now();
    // `cat` of data files is approved, of credentials rejected: both under `shell`, `cmd`.
    let shell = |cmd: &str| {
        CallFeatures::of(
            "tools",
            "shell",
            "ops",
            Some(&json!({ "cmd": cmd })),
            &[],
            &[],
            Hints {
                tool: "shell",
                ..Hints::default()
            },
        )
    };
    for i in 0..30u64 {
        p.learn(
            &shell(&format!("cat /srv/app/conf-{i}.yaml")),
            true,
            None,
            secs(t, i),
        );
    }
    assert_eq!(
        p.decide(&shell("cat /etc/shadow"), false, secs(t, 50)),
        None,
        "a new class of path is never decided by what was approved for another"
    );
    // Mixed evidence at the exact level: a person decides, whatever coarser levels say.
    let f = shell("cat /srv/app/conf-3.yaml");
    p.learn(&f, false, None, secs(t, 60));
    assert_eq!(p.decide(&f, false, secs(t, 61)), None);
}

#[test]
fn spot_checks_sample_precedents_and_a_rejected_one_tightens_the_level() {
    let mut c = cfg();
    c.spot_checks = SpotChecks {
        rate: 0.2,
        young_rate: 0.2,
        deny_rate: 0.0,
        flow: SpotFlow::Escalate,
    };
    let p = Precedents::with_seed(c, 42);
    let t = Instant::now();
    let f = call(
        "a",
        json!({"to": "https://pay.vendor.test/x", "amount": 120}),
    );
    for s in 0..20 {
        p.learn(&f, true, None, secs(t, s));
    }
    let outcomes: Vec<Outcome> = (0..1000)
        .filter_map(|s| p.decide(&f, false, secs(t, 100 + s)))
        .collect();
    let spots = outcomes.iter().filter(|o| o.spot_check).count();
    assert_eq!(outcomes.len(), 1000);
    assert!((120..=280).contains(&spots), "{spots} spot checks of 1000");
    // A rejected spot check: the precedent no longer decides, and its level is stricter.
    let o = &outcomes[0];
    let spot = SpotCheck {
        precedent: o.precedent.clone(),
        level: o.level,
        verdict: o.verdict,
    };
    p.learn(&f, false, Some(spot), secs(t, 2000));
    assert_eq!(p.decide(&f, false, secs(t, 2001)), None);
    let listed = p.list(secs(t, 2001));
    assert!(
        listed
            .iter()
            .all(|x| x.verdict != Verdict::Allow || x.level != Level::Exact)
    );
    let tightened = p.threshold(
        &p.state(),
        &tool_key(&f),
        Level::Exact,
        false,
        secs(t, 2001),
    );
    assert!(tightened > p.config().allow.exact, "{tightened}");
}

#[test]
fn lessons_replay_on_another_replica_and_revocations_forget() {
    let a = Precedents::with_seed(cfg(), 1);
    let b = Precedents::with_seed(cfg(), 2);
    let t = Instant::now();
    let f = call(
        "a",
        json!({"to": "https://pay.vendor.test/x", "amount": 120}),
    );
    let mut lessons = Vec::new();
    for s in 0..10 {
        lessons.push((a.learn(&f, true, None, secs(t, s)), Some(secs(t, s))));
    }
    let lesson_json = serde_json::to_string(&lessons[0].0).expect("json");
    let back: Lesson = serde_json::from_str(&lesson_json).expect("lesson");
    assert_eq!(back.keys, lessons[0].0.keys);
    b.replace(lessons);
    let (oa, ob) = (
        a.decide(&f, false, secs(t, 20)),
        b.decide(&f, false, secs(t, 20)),
    );
    assert_eq!(
        oa.as_ref().map(|o| &o.precedent),
        ob.as_ref().map(|o| &o.precedent)
    );
    let id = ob.expect("precedent").precedent;
    assert!(b.revoke(&id, secs(t, 30)));
    assert_ne!(
        b.decide(&f, false, secs(t, 31)).map(|o| o.precedent),
        Some(id.clone()),
        "a revoked precedent decides nothing"
    );
    assert!(b.list(secs(t, 31)).iter().all(|x| x.id != id), "revoked");
    assert!(!b.revoke("precedent-0000000000000000", secs(t, 31)));
}

#[test]
fn amounts_are_judged_by_what_was_approved_for_the_caller_and_the_counterparty() {
    let p = Precedents::with_seed(cfg(), 1);
    let t = Instant::now();
    let refund = |caller: &str, amount: f64, reason: Option<&str>| {
        let mut args =
            json!({"order_id": format!("ORD-{:06}", (amount * 100.0) as u64), "amount": amount});
        if let Some(r) = reason {
            args["reason"] = json!(r);
        }
        CallFeatures::of(
            "tools",
            "refund",
            caller,
            Some(&args),
            &[],
            &[],
            Hints::default(),
        )
    };
    // Tier 1 refunds up to 50, tier 2 up to 500; an optional reason comes and goes.
    for i in 0..60u64 {
        let reason = [None, Some("late"), Some("damaged")][(i % 3) as usize];
        p.learn(
            &refund("t1", 2.0 + (i % 48) as f64, reason),
            true,
            None,
            secs(t, i),
        );
        p.learn(
            &refund("t2", 20.0 + (i * 8) as f64, reason),
            true,
            None,
            secs(t, i),
        );
    }
    let ok = p.decide(&refund("t1", 33.5, Some("late")), false, secs(t, 100));
    assert_eq!(ok.map(|o| o.verdict), Some(Verdict::Allow));
    let ok = p.decide(&refund("t1", 12.0, None), false, secs(t, 100));
    assert_eq!(ok.map(|o| o.verdict), Some(Verdict::Allow));
    // 300 is routine for tier 2, above anything tier 1 was ever approved for.
    assert_eq!(
        p.decide(&refund("t1", 300.0, None), false, secs(t, 100)),
        None
    );
    assert_eq!(
        p.decide(&refund("t2", 300.0, None), false, secs(t, 100))
            .map(|o| o.verdict),
        Some(Verdict::Allow)
    );
    // A vendor's ceiling and its registered IBAN.
    let pay = |vendor: &str, iban: &str, amount: f64| {
        call(
            "clerk",
            json!({"vendor": vendor, "iban": iban, "amount": amount, "currency": "eur"}),
        )
    };
    for i in 0..40u64 {
        p.learn(
            &pay("acme", "DE12500105170648489890", 100.0 + (i * 17) as f64),
            true,
            None,
            secs(t, i),
        );
        p.learn(
            &pay(
                "globex",
                "FR7630006000011234567890189",
                1000.0 + (i * 1000) as f64,
            ),
            true,
            None,
            secs(t, i),
        );
    }
    let ok = p.decide(
        &pay("acme", "DE12500105170648489890", 400.0),
        false,
        secs(t, 100),
    );
    assert_eq!(ok.map(|o| o.verdict), Some(Verdict::Allow));
    assert_eq!(
        p.decide(
            &pay("acme", "DE12500105170648489890", 20_000.0),
            false,
            secs(t, 100)
        ),
        None,
        "above what acme was ever paid, though globex is paid more"
    );
    assert_eq!(
        p.decide(
            &pay("acme", "DE99500105170000000001", 400.0),
            false,
            secs(t, 100)
        ),
        None,
        "an IBAN never approved"
    );
    assert_eq!(
        p.decide(
            &pay("acme", "FR7630006000011234567890189", 400.0),
            false,
            secs(t, 100)
        ),
        None,
        "globex's IBAN is not acme's"
    );
}

#[test]
fn words_from_a_short_list_keep_their_meaning_and_benign_options_are_left_out() {
    let p = Precedents::with_seed(cfg(), 1);
    let t = Instant::now();
    let op = |action: &str, target: &str, note: bool| {
        let mut args = json!({"action": action, "target": target});
        if note {
            args["note"] = json!("as discussed in the weekly sync");
        }
        CallFeatures::of(
            "tools",
            "db_admin",
            "ops",
            Some(&args),
            &[],
            &[],
            Hints::default(),
        )
    };
    // `delete` was approved on staging, `read` on prod; a note comes and goes.
    for i in 0..40u64 {
        p.learn(&op("delete", "staging", i % 2 == 0), true, None, secs(t, i));
        p.learn(&op("read", "prod", i % 3 == 0), true, None, secs(t, i));
    }
    let with_note = p.decide(&op("read", "prod", true), false, secs(t, 100));
    assert_eq!(with_note.map(|o| o.verdict), Some(Verdict::Allow));
    let keys = |f: &CallFeatures| p.keys(f).levels[1].1.id.clone();
    assert_eq!(
        keys(&op("read", "prod", true)),
        keys(&op("read", "prod", false)),
        "an optional note approved often is left out"
    );
    assert_eq!(
        p.decide(&op("delete", "prod", false), false, secs(t, 100)),
        None,
        "both words known, never together"
    );
}

#[test]
fn growing_ids_are_not_novel_but_sizes_never_approved_are() {
    let p = Precedents::with_seed(cfg(), 1);
    let t = Instant::now();
    let get = |ticket: u64, limit: u64| {
        CallFeatures::of(
            "tools",
            "tickets",
            "support",
            Some(&json!({"ticket": ticket, "limit": limit})),
            &[],
            &[],
            Hints::default(),
        )
    };
    for i in 0..30u64 {
        p.learn(&get(52_000 + i, 10 + i % 20), true, None, secs(t, i));
    }
    let next = p.decide(&get(52_031, 20), false, secs(t, 100));
    assert_eq!(next.map(|o| o.verdict), Some(Verdict::Allow));
    assert_eq!(p.decide(&get(52_032, 5000), false, secs(t, 100)), None);
}

#[test]
fn a_call_that_only_reads_needs_no_strict_evidence_on_a_strict_tool() {
    let p = Precedents::with_seed(cfg(), 1);
    let t = Instant::now();
    let kubectl = |args: serde_json::Value| {
        CallFeatures::of(
            "tools",
            "kubectl",
            "oncall",
            Some(&args),
            &[],
            &[],
            Hints {
                tool: "kubectl",
                internal_domains: &[],
            },
        )
    };
    let read = kubectl(json!({"args": ["get", "pods", "-n", "web"]}));
    let write = kubectl(json!({"args": ["delete", "pod", "web-1", "-n", "web"]}));
    assert!(crate::features::effect::reads_only(&read));
    assert!(!crate::features::effect::reads_only(&write));
    // Enough identical approvals for the ordinary threshold, not for the strict one.
    let needed = evidence::needed(p.config().allow.exact);
    assert!(needed < evidence::needed(p.config().allow_strict.exact));
    for s in 0..needed as u64 {
        p.learn(&read, true, None, secs(t, s));
        p.learn(&write, true, None, secs(t, s));
    }
    let now = secs(t, 100);
    let o = p.decide(&read, true, now).expect("the read is decided");
    assert_eq!((o.verdict, o.level), (Verdict::Allow, Level::Exact));
    assert_eq!(
        p.decide(&write, true, now),
        None,
        "a delete on the same strict tool still needs the strict evidence"
    );
}

#[test]
fn a_known_value_in_a_place_that_never_comes_with_rejections_is_left_out() {
    let p = Precedents::with_seed(cfg(), 1);
    let t = Instant::now();
    let logs = |tool: &str, ns: Option<&str>| {
        let mut args = json!({"service": "api"});
        if let Some(ns) = ns {
            args["namespace"] = json!(ns);
        }
        CallFeatures::of(
            "tools",
            tool,
            "oncall",
            Some(&args),
            &[],
            &[],
            Hints::default(),
        )
    };
    let known = |f: &CallFeatures| p.keys(f).levels[1].1.clone();
    // Reading logs: the namespace is optional, every namespace approved; `tracking` only
    // twice (too few for the value itself to count as benign).
    let mut s = 0;
    for i in 0..30 {
        let ns = [Some("web"), Some("billing"), None][i % 3];
        p.learn(&logs("read_logs", ns), true, None, secs(t, s));
        s += 1;
    }
    for _ in 0..2 {
        p.learn(&logs("read_logs", Some("tracking")), true, None, secs(t, s));
        s += 1;
    }
    assert_eq!(
        known(&logs("read_logs", Some("tracking"))),
        known(&logs("read_logs", Some("web"))),
        "the namespace a log is read from is not what reviewers answer by"
    );
    // Deleting: calls with a namespace are rejected more often than the tool's calls.
    for i in 0..60 {
        let (ns, ok) = [
            (Some("web"), false),
            (Some("billing"), true),
            (None, true),
            (None, true),
        ][i % 4];
        p.learn(&logs("delete_logs", ns), ok, None, secs(t, s));
        s += 1;
    }
    for _ in 0..2 {
        p.learn(
            &logs("delete_logs", Some("tracking")),
            true,
            None,
            secs(t, s),
        );
        s += 1;
    }
    assert_ne!(
        known(&logs("delete_logs", Some("tracking"))),
        known(&logs("delete_logs", Some("billing"))),
        "where the place comes with rejections its value stays in the fingerprint"
    );
}
