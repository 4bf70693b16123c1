//! The SSE parser finds the same events (or the same refusal) however the stream is cut:
//! the first input byte picks where to cut the rest into two chunks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sec0_gateway::protocol::sse::Parser;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, stream)) = data.split_first() else {
        return;
    };
    let at = usize::from(cut) * stream.len() / 255;
    let summary = |evs: Vec<sec0_gateway::protocol::sse::Event>| {
        evs.into_iter()
            .map(|e| (e.event, e.id, e.data, e.raw))
            .collect::<Vec<_>>()
    };
    let whole = Parser::new(4096).push(stream).map(summary);
    let mut p = Parser::new(4096);
    let pieces = p.push(&stream[..at]).and_then(|mut first| {
        first.extend(p.push(&stream[at..])?);
        Ok(first)
    });
    match (whole, pieces.map(summary)) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (Err(_), Err(_)) => {}
        (a, b) => panic!("cutting the stream changed the outcome: {a:?} vs {b:?}"),
    }
});
