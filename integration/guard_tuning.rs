//! The guard on the second tuning corpus (`integration/data/guard_tuning.jsonl`), written
//! from real token, identifier and command formats (not from the detectors' patterns):
//! provider credentials and structured secrets in `.env` lines, JSON, YAML, logs and code;
//! personal data in many countries' formats; direct, indirect, multilingual and obfuscated
//! prompt injections; destructive commands across shells, clouds, databases and
//! hypervisors; and benign samples — ordinary tool traffic (`benign_search`,
//! `benign_listing`, `benign_api`, `benign_log`, `benign_code`) and hard look-alikes
//! (`benign_lookalike_*`: documented example keys, test cards, public addresses, prose
//! about commands and injections).
//!
//! Each sample is scanned as a `tools/call` argument and as a tool result's text. A sample
//! counts for a family when any finding of that family is reported; a finding of a family
//! the sample is not labelled with is a false positive of that family. The test prints the
//! table and holds the figures reached as floors (a regression fails it).
//!
//! Three batches were written after the detectors had been tuned on what came
//! before them and scored before any change for them (checks of generality), then the
//! detectors were extended for the kinds they missed and the batch joined the tuning set:
//!
//! | batch | secrets P / R | pii P / R | injection P / R | commands P / R | benign flagged |
//! |---|---|---|---|---|---|
//! | `fresh_*` (164) | 1.000 / 0.971 | 1.000 / 1.000 | 1.000 / 0.800 | 1.000 / 0.816 | 0 of 50 |
//! | `fresh2_*` (135) | 1.000 / 0.850 | 0.909 / 1.000 | 1.000 / 0.650 | 1.000 / 0.800 | 1 of 50 |
//! | `fresh3_*` (104) | 1.000 / 1.000 | 0.818 / 0.900 | 1.000 / 0.833 | 1.000 / 0.920 | 1 of 30 |
//! | `fresh4_*` (188), before the third round | — | 0.953 / 0.953 | 0.842 / 0.457 | 1.000 / 1.000 | 5 of 110 |
//! | `fresh4_*`, after its rule changes and the classifier (not trained on it) | — | 1.000 / 1.000 | 0.962 / 0.714 | 1.000 / 1.000 | 1 of 110 |
//! | `fresh5_*` (75), before it joined the classifier's data | — | — | 1.000 / 0.560 | — | 0 of 50 |
//! | `fresh7_*` (95), before it joined (classifier threshold 1.5, since raised to 2.0) | — | 0.929 / 0.867 | 0.875 / 0.700 | — | 2 of 60 |
//! | `fresh8_*` (50), before it joined (threshold 2.0) | — | — | 1.000 / 0.500 | — | 0 of 40 |
//! | `fresh9_*` (238), before the fourth round | — | 0.768 / 0.964 | 0.907 / 0.731 | 1.000 / 0.714 | 14 of 117 |
//! | `fresh10_*` (288), before the fifth round | 1.000 / 1.000 | 0.891 / 0.860 | 0.957 / 0.562 | 0.944 / 0.895 | 9 of 132 |
//! | `fresh10_*`, after it (`injection_addressed.rs`; test cards, product codes, role mailboxes) | 1.000 / 1.000 | 0.961 / 0.860 | 0.971 / 0.838 | 0.944 / 0.895 | 5 of 132 |
//! | `fresh11_*` (300), before the sixth round | 1.000 / 1.000 | 0.909 / 1.000 | 0.943 / 0.631 | 1.000 / 0.864 | 7 of 90 |
//! | `fresh11_*`, after its rules alone | 1.000 / 1.000 | 0.930 / 1.000 | 0.953 / 0.931 | 1.000 / 0.864 | 8 of 90 |
//! | `fresh11_*`, after the rules and the classifier retrained with it (in-sample) | 1.000 / 1.000 | 0.952 / 1.000 | 0.963 / 0.992 | 1.000 / 0.955 | 7 of 90 |
//!
//! `fresh11_*` (written the same way: 130 injections in 24 languages in realistic carriers,
//! 90 look-alikes, 44 of them not in English) missed 48 of 130 injections before the sixth
//! round: notes to the reading machine in languages the fifth round did not cover (Swedish,
//! Czech, Finnish, Romanian, Vietnamese, Hebrew, Ukrainian, Turkish colons, Korean `비서님께`,
//! Japanese `AIの方へ`), English addresses without a colon (`@triage-agent —`, `Reviewer bot
//! —`, `Any AI agent accessing this website … is required to`, `AI tools that scrape this
//! answer:`, `if this assessment is being read by an assistant`, `Automated agents working
//! in this repository:`, `AI_AGENT_READ_FIRST__…` file names), order verbs missing per
//! language, "your instructions have been updated", "ignore your prior task", planted
//! memory ("remember this permanently for all future conversations"). The round added
//! those as general forms (`injection_addressed.rs`, `injection_more.rs`), a database's data
//! directory at any depth as an important path, `terraform -chdir=… destroy`, and retrained
//! the classifier (it had not been retrained since `fresh8_*`: 3,727 samples, 808
//! injections, 37,660 weights; out of fold at the threshold 2.0: recall 0.516, 0.21% false
//! alarms). Still missed: an Arabic fake developer message, a Hinglish override, a French
//! note to "l'assistant qui lit cette boîte mail"; still flagged: an HTML `TODO … override`
//! comment, a paper abstract on exfiltration, "Vergiss es" in a voice-assistant manual, an
//! Indonesian linter doc ("abaikan aturan"), a Jira story about injection filters.
//!
//! `fresh10_*` (written like `fresh9_*`, by a helper that never read the project:
//! ordinary traffic, 51 look-alikes, 80 injections in tool data in 16 languages, personal
//! data of 23 countries' formats) showed that most injections a person writes into a
//! review, ticket, log or e-mail are a note *to the machine reading it* ("Note for
//! automated summarisers:", "Aan de AI-servicedeskagent:", "Do modelu językowego:") with an
//! order after it, phrased without any classic override words: 35 of 80 were missed. The
//! fifth round added those addresses in 16 languages (`injection_addressed.rs`); it joined
//! the tuning set with what is still wrong, and the floors below were lowered to the
//! figures reached with it: 13 injections missed (fake developer/`[SYSTEM]` lines in
//! Spanish, reversed or decode-hinted text, a French `Assistant :` vocative), 8 personal
//! data missed (a Norwegian and a Portuguese id, names with dates of birth in lists, a
//! tenant's address, attackers' mailboxes inside injections) and 2 false alarms (a café's
//! address on a receipt, a pharmacy's number and address), a scoped `find … -delete` of old
//! logs read as a recursive delete, and an AI-policy and a chat-template document read as
//! injection. (Its other personal-data false alarms — EAN-13 product codes and a table of
//! documented test cards read as cards, role mailboxes in German, a "call us on" line —
//! led to general rules in the same round.)
//!
//! `fresh9_*` (ordinary tool traffic and look-alikes, injections in tool data in 13
//! languages, personal data in national formats) was written by a helper that never read
//! the project; its 14 false alarms (organisations' numbers, test cards and example IBANs
//! under a heading, role mailboxes, `[SYSTEM]` log tags, code building a chat message, an
//! `admin override` comment) and its missed false authorisations led the fourth round.
//! Still missed after it joined: a fake `User:`/`Assistant:` exchange, Chinese and German
//! code comments whose command is the only sign (`curl -F file=@.env`, `rm -rf ~/.ssh`),
//! SSNs without separators in a CSV column named `ssn`, a phone number spelled in words;
//! still flagged: two security-training texts quoting an injection as an example, two
//! payee accounts inside injections (personal data to the detectors, not to the labeller).
//!
//! `fresh6_*` (80) was written as training data for the lexical classifier's weak spots
//! (CJK, Korean and Russian injections, fake authorisations, role-play personas, benign
//! texts in those languages), not as a check. Since the third round the classifier
//! (`injection_classified`) is trained on this set too, so its injection figures here are
//! in-sample.
//! A batch of 92 (`benign_lookalike_stress`) are ordinary sentences built around the words
//! the newer rules look for (`you are no longer a member`, `dial-in +1 …`, `DROP USER IF
//! EXISTS is supported since …`); 3 were flagged before the rules were narrowed.

use crate::common::guard_score::{self, Bounds};

/// Floors per family: (precision, recall), in both directions — the figures reached when
/// the corpus was written and the detectors tuned on it (1.000 everywhere but one
/// generic-hex secret passed to a function without a name: recall 0.995; one leetspeak
/// injection whose `1` reads as `l` and one Russian one: 0.993), rounded down.
/// A tuning set reads high by construction; what the detectors do on data nobody tuned
/// against is the acceptance set's question.
/// With `fresh10_*` (its misses kept, see above): pii 0.988 / 0.971, injection 0.991 /
/// 0.966, commands 0.996 / 0.985. With `fresh11_*`: pii 0.984 / 0.974, injection 0.986 /
/// 0.993, commands 0.996 / 0.986.
const FLOORS: [(&str, f64, f64); 4] = [
    ("pii", 0.98, 0.97),
    ("prompt_injection", 0.98, 0.99),
    ("secrets", 0.99, 0.99),
    ("unsafe_command", 0.99, 0.98),
];
/// Most benign samples flagged (share), and of the ordinary tool traffic among them
/// (reached: 13 of 1,185 — the two quoted-injection training texts of `fresh9_*`, four
/// look-alikes of `fresh10_*` and seven of `fresh11_*` — none of 455).
const MAX_BENIGN_FLAGGED: f64 = 0.012;
const MAX_ORDINARY_FLAGGED: f64 = 0.0;

#[test]
fn the_tuning_corpus_holds_its_figures_both_ways() {
    let sides = guard_score::hold_tuning_set(
        "integration/data/guard_tuning.jsonl",
        1000,
        &Bounds {
            floors: &FLOORS,
            default: (0.95, 0.90),
            max_benign_pct: MAX_BENIGN_FLAGGED * 100.0,
            max_ordinary_pct: MAX_ORDINARY_FLAGGED * 100.0,
        },
    );
    assert!(
        sides[0].benign >= 200 && sides[0].ordinary >= 100,
        "{} benign",
        sides[0].benign
    );
}
