//! Whether the bytes a plain connection has sent so far hold a whole HTTP/1.1 request head,
//! and, when that request is of the plain kind, where its message ends.
//!
//! This decides only *when* a connection is handed to hyper and how many bytes hyper is
//! shown; hyper parses every byte itself, with the same parser (`httparse`), and answers or
//! refuses as it always has. The plain kind is HTTP/1.1 with no body or one
//! `Content-Length` of digits only, and no `Transfer-Encoding`, `Expect` or `Upgrade`:
//! its end is known from the head alone, and the two parsers cannot disagree on it.
//! Everything else — chunked bodies, duplicate or odd lengths, both framings at once,
//! HTTP/1.0, HTTP/2's preface, a head hyper would refuse, one over [`MAX_HEAD`] bytes — is
//! [`Head::Other`]: hyper serves the rest of that connection as it would have served all
//! of it.

use std::mem::MaybeUninit;

/// Bytes of an unfinished head read here before hyper is given the connection anyway (it
/// then applies its own limit, `max_buf_size`, about 400 KiB, and answers 431).
pub(super) const MAX_HEAD: usize = 64 * 1024;

/// Headers a request may have: hyper's default `max_headers`. More is `Head::Other`, and
/// hyper answers 431.
const MAX_HEADERS: usize = 100;

/// What the bytes received so far are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Head {
    /// The start of a head, not yet all of it.
    Partial,
    /// A whole head of the plain kind; the request's message is the first `len` bytes
    /// (head and body).
    One {
        /// Head and body, in bytes.
        len: u64,
    },
    /// Anything else: hyper serves the connection from here on.
    Other,
}

/// Reads `buf` (the bytes received since the previous message ended).
pub(super) fn assess(buf: &[u8]) -> Head {
    // Uninitialised: httparse writes the headers it finds (nothing is zeroed per call).
    let mut headers = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut []);
    let head_len = match req.parse_with_uninit_headers(buf, &mut headers) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => return Head::Partial,
        _ => return Head::Other,
    };
    if req.version != Some(1) || matches!(req.method, None | Some("CONNECT" | "PRI")) {
        return Head::Other;
    }
    let mut length: Option<u64> = None;
    for h in req.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            match (length, digits(h.value)) {
                (None, Some(n)) => length = Some(n),
                _ => return Head::Other,
            }
        } else if ["transfer-encoding", "expect", "upgrade"]
            .iter()
            .any(|n| h.name.eq_ignore_ascii_case(n))
        {
            return Head::Other;
        }
    }
    match (head_len as u64).checked_add(length.unwrap_or(0)) {
        Some(len) => Head::One { len },
        None => Head::Other,
    }
}

/// A `Content-Length` value of ASCII digits only (at most 18, so it cannot overflow), as
/// hyper reads it; anything else is `None`.
fn digits(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 18 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    v.iter().try_fold(0u64, |n, d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_requests_end_where_their_length_says() {
        let get = b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n";
        assert_eq!(
            assess(get),
            Head::One {
                len: get.len() as u64
            }
        );
        let post = b"POST /mcp HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello";
        assert_eq!(
            assess(post),
            Head::One {
                len: post.len() as u64
            }
        );
        // Pipelined bytes after the message are not part of it.
        let two = [&post[..], &get[..]].concat();
        assert_eq!(
            assess(&two),
            Head::One {
                len: post.len() as u64
            }
        );
        // The body need not have arrived for the end to be known.
        assert_eq!(
            assess(&post[..post.len() - 5]),
            Head::One {
                len: post.len() as u64
            }
        );
    }

    #[test]
    fn unfinished_heads_wait_until_the_cap() {
        assert_eq!(assess(b""), Head::Partial);
        assert_eq!(
            assess(b"POST /mcp HTTP/1.1\r\nHost: gw\r\nContent-Ty"),
            Head::Partial
        );
        assert_eq!(assess(b"PRI * HTTP/2"), Head::Other);
        let mut long = b"GET / HTTP/1.1\r\nX-Long: ".to_vec();
        long.resize(MAX_HEAD, b'a');
        assert_eq!(assess(&long), Head::Other);
    }

    #[test]
    fn every_other_framing_is_left_to_hyper() {
        for head in [
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: \r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
            "POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
            "GET / HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
            "GET / HTTP/1.0\r\n\r\n",
            "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n",
            "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            "GET / HTTP/1.1\r\nBad Header: x\r\n\r\n",
            "GET / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n",
        ] {
            assert_eq!(assess(head.as_bytes()), Head::Other, "{head:?}");
        }
    }

    #[test]
    fn too_many_headers_are_left_to_hyper() {
        let mut head = "GET / HTTP/1.1\r\n".to_string();
        for i in 0..=MAX_HEADERS {
            head.push_str(&format!("X-{i}: v\r\n"));
        }
        head.push_str("\r\n");
        assert_eq!(assess(head.as_bytes()), Head::Other);
    }
}
