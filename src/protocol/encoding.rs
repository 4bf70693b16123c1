//! Content-Encoding of request bodies the gateway inspects.
//!
//! A compressed body hides what it says from a gateway that does not decode it, while the
//! upstream decodes and acts on it. So on inspected routes a compressed body is either
//! refused (the default) or decoded here, under a hard cap on the decoded size that stops
//! decompression bombs, and the decoded bytes are what the policy sees and the upstream gets.

use std::io::Read;

use bytes::Bytes;
use http::HeaderMap;
use http::header::CONTENT_ENCODING;

use super::ProtocolError;

/// A coding the gateway can undo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    /// `gzip` / `x-gzip` (RFC 1952).
    Gzip,
    /// `deflate` (zlib stream, RFC 1950).
    Deflate,
}

/// The codings applied to the body, in the order they were applied. Empty for an
/// uncompressed body (`identity` counts as none). `Err` names an encoding the gateway cannot
/// undo.
pub fn request_codings(headers: &HeaderMap) -> Result<Vec<Coding>, ProtocolError> {
    let mut out = Vec::new();
    for v in headers.get_all(CONTENT_ENCODING) {
        let text = String::from_utf8_lossy(v.as_bytes());
        for token in text.split(',').map(str::trim) {
            if token.eq_ignore_ascii_case("identity") {
                continue;
            } else if token.eq_ignore_ascii_case("gzip") || token.eq_ignore_ascii_case("x-gzip") {
                out.push(Coding::Gzip);
            } else if token.eq_ignore_ascii_case("deflate") {
                out.push(Coding::Deflate);
            } else {
                return Err(ProtocolError::Compressed(text.into_owned()));
            }
        }
    }
    Ok(out)
}

/// Most codings stacked on one body that are undone (more is refused: nobody sends that
/// honestly).
pub const MAX_CODINGS: usize = 2;

/// Undo `codings` (applied in this order) on `body`; the result may not exceed `cap` bytes.
pub fn decode(mut body: Bytes, codings: &[Coding], cap: u64) -> Result<Bytes, ProtocolError> {
    if codings.len() > MAX_CODINGS {
        return Err(ProtocolError::Compressed(format!(
            "{} stacked codings",
            codings.len()
        )));
    }
    for coding in codings.iter().rev() {
        let reader: Box<dyn Read> = match coding {
            Coding::Gzip => Box::new(flate2::read::MultiGzDecoder::new(&body[..])),
            Coding::Deflate => Box::new(flate2::read::ZlibDecoder::new(&body[..])),
        };
        let mut out = Vec::new();
        // Read one byte past the cap to tell "exactly at the cap" from "over it".
        reader
            .take(cap.saturating_add(1))
            .read_to_end(&mut out)
            .map_err(|e| ProtocolError::Undecodable(e.to_string()))?;
        if out.len() as u64 > cap {
            return Err(ProtocolError::DecodedTooLarge { limit: cap });
        }
        body = Bytes::from(out);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::{GzEncoder, ZlibEncoder};
    use http::HeaderValue;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Bytes {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).expect("write");
        Bytes::from(e.finish().expect("gzip"))
    }

    fn encoded(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_ENCODING, HeaderValue::from_str(v).expect("hv"));
        h
    }

    #[test]
    fn codings_are_read_in_order_and_unknown_ones_refused() {
        assert_eq!(request_codings(&HeaderMap::new()).expect("none"), vec![]);
        assert_eq!(request_codings(&encoded("identity")).expect("none"), vec![]);
        assert_eq!(
            request_codings(&encoded("deflate, GZIP")).expect("two"),
            vec![Coding::Deflate, Coding::Gzip]
        );
        for bad in ["br", "zstd", "gzip, br", "compress"] {
            assert!(
                matches!(
                    request_codings(&encoded(bad)),
                    Err(ProtocolError::Compressed(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn decodes_gzip_and_deflate_stacks() {
        let text = br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
        assert_eq!(
            &decode(gzip(text), &[Coding::Gzip], 1024).expect("gzip")[..],
            text
        );
        let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
        z.write_all(text).expect("write");
        let deflated = Bytes::from(z.finish().expect("zlib"));
        let both = gzip(&deflated);
        assert_eq!(
            &decode(both, &[Coding::Deflate, Coding::Gzip], 1024).expect("both")[..],
            text
        );
    }

    #[test]
    fn bombs_and_garbage_are_refused() {
        // 64 MiB of zeros compresses to ~64 KiB; the cap stops decoding at 1 MiB.
        let bomb = gzip(&vec![0u8; 64 << 20]);
        assert!(bomb.len() < 1 << 20);
        assert!(matches!(
            decode(bomb, &[Coding::Gzip], 1 << 20),
            Err(ProtocolError::DecodedTooLarge { limit }) if limit == 1 << 20
        ));
        assert!(matches!(
            decode(Bytes::from_static(b"not gzip"), &[Coding::Gzip], 1024),
            Err(ProtocolError::Undecodable(_))
        ));
        assert!(matches!(
            decode(gzip(b"x"), &[Coding::Gzip; 3], 1024),
            Err(ProtocolError::Compressed(_))
        ));
        // Exactly at the cap is fine.
        assert_eq!(
            decode(gzip(b"abcd"), &[Coding::Gzip], 4)
                .expect("at cap")
                .len(),
            4
        );
    }
}
