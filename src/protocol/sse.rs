//! Incremental Server-Sent Events parsing (WHATWG event stream rules), for inspecting and
//! rewriting SSE responses event by event without buffering the stream.
//!
//! Bytes go in as they arrive; complete events come out with their original bytes (so an
//! event the gateway does not change passes on byte for byte) and their parsed fields.
//! Lines end in CRLF, LF or CR (a CR at a chunk's end waits for the next byte); a blank line
//! ends an event; `:` lines are comments; `data` lines join with `\n`. A single event larger
//! than the cap is an error: the stream is cut rather than buffered without bound.

use bytes::{Bytes, BytesMut};

/// One complete event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The event's bytes as received, blank line included.
    pub raw: Bytes,
    /// `event:` field, if any.
    pub event: Option<String>,
    /// `id:` field, if any.
    pub id: Option<String>,
    /// `data:` lines joined with `\n`; `None` when the event had no data line.
    pub data: Option<String>,
}

impl Event {
    /// The event re-serialised with `data` replaced (one `data:` line; `event`/`id` kept),
    /// LF line endings.
    pub fn with_data(&self, data: &str) -> Bytes {
        let mut out = String::with_capacity(data.len() + 64);
        if let Some(e) = &self.event {
            out.push_str("event: ");
            out.push_str(e);
            out.push('\n');
        }
        if let Some(id) = &self.id {
            out.push_str("id: ");
            out.push_str(id);
            out.push('\n');
        }
        for line in data.split('\n') {
            out.push_str("data: ");
            out.push_str(line);
            out.push('\n');
        }
        out.push('\n');
        Bytes::from(out)
    }
}

/// Why an SSE stream could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    /// One event grew past the cap.
    #[error("SSE event larger than {0} bytes")]
    EventTooLarge(usize),
}

/// The incremental parser.
#[derive(Debug)]
pub struct Parser {
    buf: BytesMut,
    /// Where the next unscanned byte is.
    scanned: usize,
    max_event: usize,
    fields: Fields,
}

/// The fields of the event being read.
#[derive(Debug, Default)]
struct Fields {
    event: Option<String>,
    id: Option<String>,
    data: Option<String>,
}

impl Parser {
    /// A parser refusing events above `max_event` bytes.
    pub fn new(max_event: usize) -> Self {
        Self {
            buf: BytesMut::new(),
            scanned: 0,
            max_event,
            fields: Fields::default(),
        }
    }

    /// Feed bytes; returns the events they completed.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<Event>, SseError> {
        self.buf.extend_from_slice(chunk);
        let mut events = Vec::new();
        // memchr: this runs over every byte of every streamed answer the guard inspects.
        while let Some(pos) = memchr::memchr2(b'\n', b'\r', &self.buf[self.scanned..]) {
            let line_start = self.scanned;
            let line_end = line_start + pos;
            let term_len = match self.buf[line_end] {
                b'\r' => match self.buf.get(line_end + 1) {
                    Some(b'\n') => 2,
                    Some(_) => 1,
                    None => break, // CR at the end: CRLF or CR? wait for the next byte
                },
                _ => 1,
            };
            self.scanned = line_end + term_len;
            if line_end == line_start {
                // The cap holds for every event, not only for a tail left between chunks:
                // otherwise an event of any size would pass when it arrived in one chunk.
                if self.scanned > self.max_event {
                    return Err(SseError::EventTooLarge(self.max_event));
                }
                let raw = self.buf.split_to(self.scanned).freeze();
                self.scanned = 0;
                let f = std::mem::take(&mut self.fields);
                events.push(Event {
                    raw,
                    event: f.event,
                    id: f.id,
                    data: f.data,
                });
            } else {
                self.fields
                    .line(&String::from_utf8_lossy(&self.buf[line_start..line_end]));
            }
        }
        if self.buf.len() > self.max_event {
            return Err(SseError::EventTooLarge(self.max_event));
        }
        Ok(events)
    }

    /// Bytes of an incomplete event still held (passed on unchanged at end of stream).
    pub fn take_rest(&mut self) -> Bytes {
        self.scanned = 0;
        self.fields = Fields::default();
        self.buf.split().freeze()
    }
}

impl Fields {
    /// Take one non-blank line of the event.
    fn line(&mut self, line: &str) {
        if line.starts_with(':') {
            return; // comment
        }
        let (name, value) = match line.split_once(':') {
            Some((n, v)) => (n, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match name {
            "data" => match &mut self.data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(value);
                }
                None => self.data = Some(value.to_string()),
            },
            "event" => self.event = Some(value.to_string()),
            "id" if !value.contains('\0') => self.id = Some(value.to_string()),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_in_chunks(input: &[u8], chunk: usize) -> Vec<Event> {
        parse_in_chunks_capped(input, 1 << 20, chunk)
    }

    #[test]
    fn events_in_every_line_ending_and_chunking() {
        let lf = b"event: message\ndata: {\"a\":1}\n\n: keepalive\n\nid: 7\ndata: x\ndata: y\n\n"
            .to_vec();
        let crlf = String::from_utf8_lossy(&lf)
            .replace('\n', "\r\n")
            .into_bytes();
        let cr = String::from_utf8_lossy(&lf)
            .replace('\n', "\r")
            .into_bytes();
        for input in [&lf, &crlf, &cr] {
            for chunk in [1, 2, 3, 7, 1000] {
                let ev = parse_in_chunks(input, chunk);
                // With CR endings the final blank line's CR waits for a following byte.
                let want = if input == &cr { 2 } else { 3 };
                assert_eq!(ev.len(), want, "chunk {chunk}: {ev:?}");
                assert_eq!(ev[0].event.as_deref(), Some("message"));
                assert_eq!(ev[0].data.as_deref(), Some("{\"a\":1}"));
                assert_eq!(ev[1].data, None, "comment-only event has no data");
                if want == 3 {
                    assert_eq!(ev[2].id.as_deref(), Some("7"));
                    assert_eq!(ev[2].data.as_deref(), Some("x\ny"));
                }
                let joined: Vec<u8> = ev.iter().flat_map(|e| e.raw.to_vec()).collect();
                assert!(input.starts_with(&joined), "raw bytes are the input");
            }
        }
    }

    #[test]
    fn field_rules() {
        let ev = parse_in_chunks(
            b"data\ndata:no-space\nid: a\0b\nretry: 10\nunknown: z\n\n",
            1000,
        );
        assert_eq!(ev[0].data.as_deref(), Some("\nno-space"));
        assert_eq!(ev[0].id, None, "an id with NUL is ignored");
    }

    #[test]
    fn oversized_event_is_an_error() {
        let mut p = Parser::new(16);
        assert_eq!(
            p.push(b"data: 0123456789012345678"),
            Err(SseError::EventTooLarge(16))
        );
    }

    /// Found by the `sse_events` fuzz target: the cap depended on where the stream was cut.
    #[test]
    fn the_cap_holds_however_the_stream_is_cut() {
        let big = format!("data: {}\n\n", "x".repeat(40));
        for chunk in [1, 7, 16, 1000] {
            let mut p = Parser::new(16);
            let outcome = big
                .as_bytes()
                .chunks(chunk)
                .try_for_each(|c| p.push(c).map(drop));
            assert_eq!(outcome, Err(SseError::EventTooLarge(16)), "chunk {chunk}");
        }
        // An event exactly at the cap passes, in one piece or many.
        let fits = b"data: 12345678\n\n";
        assert_eq!(fits.len(), 16);
        assert_eq!(parse_in_chunks_capped(fits, 16, 16).len(), 1);
        assert_eq!(parse_in_chunks_capped(fits, 16, 3).len(), 1);
    }

    fn parse_in_chunks_capped(input: &[u8], cap: usize, chunk: usize) -> Vec<Event> {
        let mut p = Parser::new(cap);
        let mut out = Vec::new();
        for c in input.chunks(chunk) {
            out.extend(p.push(c).expect("fits the cap"));
        }
        out
    }

    #[test]
    fn rewrite_keeps_event_and_id() {
        let ev = parse_in_chunks(b"event: message\r\nid: 3\r\ndata: old\r\n\r\n", 1000);
        assert_eq!(
            &ev[0].with_data("{\"new\":true}")[..],
            b"event: message\nid: 3\ndata: {\"new\":true}\n\n"
        );
    }

    #[test]
    fn incomplete_tail_is_handed_back() {
        let mut p = Parser::new(1024);
        assert!(p.push(b"data: partial").expect("ok").is_empty());
        assert_eq!(&p.take_rest()[..], b"data: partial");
    }
}
