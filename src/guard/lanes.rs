//! Whether a set of patterns matches anywhere in a long text, answered by one lazy DFA
//! walked in several lanes at once.
//!
//! A lazy DFA's search is one chain of dependent table lookups, one per byte: each
//! transition waits for the one before it, so on this project's VMs a pass costs ~2.8 ns a
//! byte whatever the set holds (`benches/README.md`, scan speed, round 2). Four lanes each
//! walk a quarter of the text with the same DFA and the same cache, one byte of each in
//! turn; the four chains are independent, so the processor overlaps their lookups (a pass
//! over the guard's ASCII set: 2.9 → 1.0 ms per MiB).
//!
//! Every lane starts in the DFA's unanchored start state for its position (the byte before
//! it read as look-behind), so a match state a lane reaches is a match in the text. A match
//! that starts in one lane's quarter and ends in the next is found by walking the first
//! lane on past its quarter until its state equals the state the next lane had at the same
//! position: from there the two lanes would read the same bytes from the same state, so
//! they would reach the same states, and the next lane has walked (or will walk) them. A
//! lane that has not joined the next one within [`JOIN`] bytes (a partial match alive that
//! long), a cache cleared during the walk (state ids would change under the other lanes), a
//! DFA that gives up or quits: the walk answers `None` and the caller searches the usual
//! way. So the answer, when there is one, is the DFA's answer for the whole text.

use regex_automata::Input;
use regex_automata::hybrid::LazyStateID;
use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::nfa::thompson;
use regex_automata::util::pool::Pool;
use regex_syntax::hir::Hir;

/// Lanes walked at once (three gain nearly as much; two about 1.7x).
const LANES: usize = 4;
/// How far a lane may walk into the next lane's part to join it.
const JOIN: usize = 512;
/// Shortest text walked in lanes (each lane's part at least [`JOIN`] bytes, and long enough
/// that setting up the lanes is noise).
pub const MIN_LEN: usize = 16 << 10;

type CachePool = Pool<Cache, Box<dyn Fn() -> Cache + Send + Sync>>;

/// A lazy DFA for "does any pattern match", with a cache per thread.
pub struct Lanes {
    dfa: DFA,
    caches: CachePool,
}

impl Lanes {
    /// The DFA of `hirs` (all patterns, unanchored; the set's match semantics), with the
    /// limits the set's own search uses.
    pub fn new(hirs: &[Hir], nfa_limit: usize, cache_capacity: usize) -> Result<Self, String> {
        let nfa = thompson::Compiler::new()
            .configure(
                thompson::Config::new()
                    .nfa_size_limit(Some(nfa_limit))
                    .which_captures(thompson::WhichCaptures::None),
            )
            .build_many_from_hir(hirs)
            .map_err(|e| e.to_string())?;
        let dfa = DFA::builder()
            .configure(
                DFA::config()
                    .match_kind(regex_automata::MatchKind::All)
                    .unicode_word_boundary(true)
                    .cache_capacity(cache_capacity)
                    .minimum_cache_clear_count(Some(3))
                    .minimum_bytes_per_state(Some(10)),
            )
            .build_from_nfa(nfa)
            .map_err(|e| e.to_string())?;
        let for_caches = dfa.clone();
        let caches: CachePool = Pool::new(Box::new(move || for_caches.create_cache()));
        Ok(Self { dfa, caches })
    }

    /// Whether some pattern matches in `hay`; `None` when the lanes cannot tell (a text
    /// shorter than [`MIN_LEN`], or one of the cases in the module's doc): search it the
    /// usual way then.
    pub fn is_match(&self, hay: &[u8]) -> Option<bool> {
        if hay.len() < MIN_LEN {
            return None;
        }
        let mut cache = self.caches.get();
        walk(&self.dfa, &mut cache, hay, JOIN)
    }
}

/// The state after `cur` reads `byte`, `next` being the cached transition (possibly still
/// unknown); `None` if the cache was cleared meanwhile, or the DFA gave up, died or quit.
fn settle(
    dfa: &DFA,
    cache: &mut Cache,
    cur: LazyStateID,
    byte: u8,
    next: LazyStateID,
    clears: usize,
) -> Option<LazyStateID> {
    let mut next = next;
    if next.is_unknown() {
        next = dfa.next_state(cache, cur, byte).ok()?;
        if cache.clear_count() != clears {
            return None;
        }
    }
    // An unanchored search never dies; it quits only on a byte it was told to quit on.
    if next.is_dead() || next.is_quit() {
        return None;
    }
    Some(next)
}

/// The lanes' walk over `hay` (see the module's doc), lanes joining within `join` bytes.
fn walk(dfa: &DFA, cache: &mut Cache, hay: &[u8], join: usize) -> Option<bool> {
    let part = hay.len() / LANES;
    if part < join.max(1) {
        return None;
    }
    let clears = cache.clear_count();
    let starts: [usize; LANES] = std::array::from_fn(|k| k * part);
    let mut sid = [LazyStateID::default(); LANES];
    for (s, &at) in sid.iter_mut().zip(&starts) {
        *s = dfa
            .start_state_forward(cache, &Input::new(hay).range(at..))
            .ok()?;
    }
    // `seen[j][k]`: lane `k`'s state `j` bytes into its part, for the lane before it to
    // compare with.
    let mut seen: Vec<[LazyStateID; LANES]> = Vec::with_capacity(join);
    // The lanes' parts, each `part` bytes (the last lane's tail after them is walked alone).
    let mut parts = hay.chunks_exact(part);
    let (p0, p1, p2, p3) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let bytes = p0.iter().zip(p1).zip(p2).zip(p3);
    for (j, (((&b0, &b1), &b2), &b3)) in bytes.enumerate() {
        if j < join {
            seen.push(sid);
        }
        let b = [b0, b1, b2, b3];
        let mut next = [LazyStateID::default(); LANES];
        let mut tagged = false;
        for k in 0..LANES {
            next[k] = dfa.next_state_untagged(cache, sid[k], b[k]);
            tagged |= next[k].is_tagged();
        }
        if tagged {
            for k in 0..LANES {
                if next[k].is_tagged() {
                    next[k] = settle(dfa, cache, sid[k], b[k], next[k], clears)?;
                    if next[k].is_match() {
                        return Some(true);
                    }
                }
            }
        }
        sid = next;
    }
    // The last lane: the tail of the text, then the end of input.
    let mut last = sid[LANES - 1];
    for &b in hay.get(starts[LANES - 1] + part..)? {
        let next = dfa.next_state_untagged(cache, last, b);
        last = settle(dfa, cache, last, b, next, clears)?;
        if last.is_match() {
            return Some(true);
        }
    }
    let eoi = dfa.next_eoi_state(cache, last).ok()?;
    if cache.clear_count() != clears {
        return None;
    }
    if eoi.is_match() {
        return Some(true);
    }
    // Every other lane walks on into the next lane's part until it joins it.
    for k in 0..LANES - 1 {
        let mut s = sid[k];
        let from = starts[k + 1];
        let mut joined = false;
        for (j, seen) in seen.iter().enumerate() {
            if s == seen[k + 1] {
                joined = true;
                break;
            }
            let b = *hay.get(from + j)?;
            let next = dfa.next_state_untagged(cache, s, b);
            s = settle(dfa, cache, s, b, next, clears)?;
            if s.is_match() {
                return Some(true);
            }
        }
        if !joined {
            return None;
        }
    }
    Some(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lanes(patterns: &[&str]) -> Lanes {
        let hirs: Vec<Hir> = patterns
            .iter()
            .map(|p| regex_syntax::parse(p).expect("parses"))
            .collect();
        Lanes::new(&hirs, 64 << 20, 32 << 20).expect("builds")
    }

    /// A match anywhere, across every lane boundary, at the very start and at the very end
    /// (where only the end of input completes it), is found; a text without one says so.
    #[test]
    fn a_match_is_found_wherever_it_is() {
        let l = lanes(&[
            r"(?i)(?-u:\b)ignore previous(?-u:\b)",
            r"\d{3}-\d{2}-\d{4}$",
        ]);
        let filler = "lorem ipsum dolor sit amet, ignore the previous one; 12-34-5678. ";
        let mut base = String::new();
        while base.len() < 64 << 10 {
            base.push_str(filler);
        }
        assert_eq!(l.is_match(base.as_bytes()), Some(false));
        let quarter = base.len() / LANES;
        let mut at = vec![0, base.len() - 20];
        for k in 1..LANES {
            at.extend((k * quarter).saturating_sub(20)..k * quarter + 20);
        }
        let re = regex::Regex::new(r"(?i)\bignore previous\b").expect("compiles");
        let mut found = 0;
        for (i, a) in at.into_iter().enumerate() {
            let mut t = base.clone();
            // Every other time between spaces (a match); else as it falls (mostly not).
            let put = [" ignore previous ", "ignore previous"][i % 2];
            t.replace_range(a..a + put.len(), put);
            let expect = re.is_match(&t);
            assert_eq!(l.is_match(t.as_bytes()), Some(expect), "at {a}");
            found += usize::from(expect);
        }
        assert!(found > 60, "{found}");
        let mut t = base.clone();
        t.push_str("123-45-6789");
        assert_eq!(l.is_match(t.as_bytes()), Some(true), "at the end");
        t.push('0');
        assert_eq!(l.is_match(t.as_bytes()), Some(false), "not at the end");
    }

    /// A partial match alive longer than a lane may walk to join the next: no answer (the
    /// usual search answers); allowed to walk further, the lane joins and answers.
    #[test]
    fn a_lane_that_does_not_join_leaves_the_answer_to_the_usual_search() {
        let l = lanes(&[r"x[a-z]{0,700}y"]);
        let mut t = "a".repeat(64 << 10);
        let quarter = t.len() / LANES;
        t.replace_range(quarter - 10..quarter - 9, "x");
        assert_eq!(l.is_match(t.as_bytes()), None);
        let mut cache = l.dfa.create_cache();
        assert_eq!(walk(&l.dfa, &mut cache, t.as_bytes(), 1024), Some(false));
        t.replace_range(quarter + 600..quarter + 601, "y");
        assert_eq!(l.is_match(t.as_bytes()), None);
        assert_eq!(walk(&l.dfa, &mut cache, t.as_bytes(), 1024), Some(true));
        assert_eq!(l.is_match(&t.as_bytes()[..100]), None, "short: no answer");
    }
}
