//! Compressed request bodies (`protocol::encoding`): a gzip/deflate body on an inspected
//! route is decoded under the route's cap before anything reads it. Whatever the bytes,
//! the decoded body never exceeds the cap, more than `MAX_CODINGS` stacked codings are
//! refused, and a body the gateway compressed itself decodes back to the same bytes (or is
//! refused as too large exactly when it is). The first byte picks the codings, the next two
//! the cap; the rest is the body, or, when bit 7 of the first byte is set, the plain text
//! that is compressed first (the round trip).
#![no_main]

use std::io::Write;

use bytes::Bytes;
use flate2::Compression;
use flate2::write::{GzEncoder, ZlibEncoder};
use libfuzzer_sys::fuzz_target;
use sec0_gateway::protocol::ProtocolError;
use sec0_gateway::protocol::encoding::{Coding, MAX_CODINGS, decode};

fn encode(plain: &[u8], codings: &[Coding]) -> Vec<u8> {
    let mut body = plain.to_vec();
    for c in codings {
        body = match c {
            Coding::Gzip => {
                let mut e = GzEncoder::new(Vec::new(), Compression::fast());
                e.write_all(&body).expect("write to a Vec");
                e.finish().expect("finish into a Vec")
            }
            Coding::Deflate => {
                let mut e = ZlibEncoder::new(Vec::new(), Compression::fast());
                e.write_all(&body).expect("write to a Vec");
                e.finish().expect("finish into a Vec")
            }
        };
    }
    body
}

fuzz_target!(|data: &[u8]| {
    let [pick, c0, c1, rest @ ..] = data else {
        return;
    };
    // 1 to 3 codings (3 is one too many), each gzip or deflate.
    let n = usize::from(pick & 3).max(1);
    let codings: Vec<Coding> = (0..n)
        .map(|i| {
            if pick >> (2 + i) & 1 == 0 {
                Coding::Gzip
            } else {
                Coding::Deflate
            }
        })
        .collect();
    let cap = u64::from(u16::from_le_bytes([*c0, *c1]));
    let round_trip = pick & 0x80 != 0;
    let body = if round_trip {
        encode(rest, &codings)
    } else {
        rest.to_vec()
    };
    let out = decode(Bytes::from(body), &codings, cap);
    if codings.len() > MAX_CODINGS {
        assert!(
            matches!(out, Err(ProtocolError::Compressed(_))),
            "{} stacked codings were not refused",
            codings.len()
        );
        return;
    }
    if let Ok(decoded) = &out {
        assert!(
            decoded.len() as u64 <= cap,
            "decoded {} bytes past the cap {cap}",
            decoded.len()
        );
    }
    if round_trip {
        // Every intermediate layer is at most the final size plus a little framing only
        // when the text is incompressible; so only the end result is predictable: the text
        // when it fits (and no layer in between was larger than the cap), too large when
        // the text does not fit.
        if rest.len() as u64 > cap {
            assert!(
                matches!(out, Err(ProtocolError::DecodedTooLarge { .. })),
                "{} bytes decoded under a cap of {cap}: {out:?}",
                rest.len()
            );
        } else if codings.len() == 1 {
            assert_eq!(
                out.as_deref().ok(),
                Some(rest),
                "round trip changed the body"
            );
        } else if let Ok(decoded) = &out {
            assert_eq!(&decoded[..], rest, "round trip changed the body");
        }
    }
});
