//! The shell lexer behind [`super::shell`]: words (quotes, escapes, `$(…)`, backticks,
//! `${…}`, process substitutions), operators, redirections and heredoc bodies. Quote removal
//! of a word is the `shlex` crate's.

use super::shell::RedirectOp;

/// Quote removal for one raw word: `shlex` when the word has quotes or escapes and no
/// substitution (which `shlex` does not know), else the raw text with quotes dropped.
pub(super) fn unquote(raw: &str) -> String {
    if !raw.contains(['\'', '"', '\\']) {
        return raw.to_string();
    }
    if !raw.contains("$(")
        && !raw.contains('`')
        && let Some(parts) = shlex::split(raw)
    {
        return parts.join(" ");
    }
    raw.chars().filter(|c| !matches!(c, '\'' | '"')).collect()
}

#[derive(Debug)]
pub(super) struct Word {
    pub(super) raw: String,
    pub(super) subs: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    Pipe,
    And,
    Or,
    Seq,
    Background,
    Newline,
}

#[derive(Debug)]
pub(super) enum Tok {
    Word(Word),
    Redirect(Option<u32>, RedirectOp),
    Op(Op),
    End,
}

pub(super) struct Lexer<'a> {
    pub(super) s: &'a str,
    pub(super) b: &'a [u8],
    pub(super) i: usize,
}

impl Lexer<'_> {
    fn peek(&self, k: usize) -> u8 {
        self.b.get(self.i + k).copied().unwrap_or(0)
    }

    pub(super) fn next(&mut self) -> Tok {
        // Blanks and line continuations.
        loop {
            match self.peek(0) {
                b' ' | b'\t' | b'\r' => self.i += 1,
                b'\\' if self.peek(1) == b'\n' => self.i += 2,
                b'#' => {
                    while self.i < self.b.len() && self.b[self.i] != b'\n' {
                        self.i += 1;
                    }
                }
                _ => break,
            }
        }
        let c = self.peek(0);
        let two = [c, self.peek(1)];
        let op = |lx: &mut Self, n: usize, t: Tok| {
            lx.i += n;
            t
        };
        match c {
            0 if self.i >= self.b.len() => Tok::End,
            b'\n' => op(self, 1, Tok::Op(Op::Newline)),
            b'|' => match two[1] {
                b'|' => op(self, 2, Tok::Op(Op::Or)),
                b'&' => op(self, 2, Tok::Op(Op::Pipe)),
                _ => op(self, 1, Tok::Op(Op::Pipe)),
            },
            b'&' => match two[1] {
                b'&' => op(self, 2, Tok::Op(Op::And)),
                b'>' if self.peek(2) == b'>' => {
                    op(self, 3, Tok::Redirect(None, RedirectOp::AppendErr))
                }
                b'>' => op(self, 2, Tok::Redirect(None, RedirectOp::OutErr)),
                _ => op(self, 1, Tok::Op(Op::Background)),
            },
            b';' => {
                let n = if two[1] == b';' { 2 } else { 1 };
                op(self, n, Tok::Op(Op::Seq))
            }
            b'(' | b')' => op(self, 1, Tok::Op(Op::Seq)),
            b'<' | b'>' if two[1] == b'(' => self.word(),
            b'<' | b'>' => self.redirect(None),
            b'0'..=b'9' => {
                let mut j = self.i;
                while j < self.b.len() && self.b[j].is_ascii_digit() {
                    j += 1;
                }
                if matches!(self.b.get(j), Some(b'<' | b'>')) && self.b.get(j + 1) != Some(&b'(') {
                    let fd = self.s[self.i..j].parse().ok();
                    self.i = j;
                    self.redirect(fd)
                } else {
                    self.word()
                }
            }
            _ => self.word(),
        }
    }

    fn redirect(&mut self, fd: Option<u32>) -> Tok {
        let rest = &self.b[self.i..];
        let (n, op) = if rest.starts_with(b"<<<") {
            (3, RedirectOp::HereString)
        } else if rest.starts_with(b"<<-") {
            (3, RedirectOp::HereDoc)
        } else if rest.starts_with(b"<<") {
            (2, RedirectOp::HereDoc)
        } else if rest.starts_with(b"<&") || rest.starts_with(b">&") {
            (2, RedirectOp::Dup)
        } else if rest.starts_with(b"<>") {
            (2, RedirectOp::ReadWrite)
        } else if rest.starts_with(b">>") {
            (2, RedirectOp::Append)
        } else if rest.starts_with(b">|") {
            (2, RedirectOp::Out)
        } else if rest.starts_with(b">") {
            (1, RedirectOp::Out)
        } else {
            (1, RedirectOp::In)
        };
        self.i += n;
        Tok::Redirect(fd, op)
    }

    /// A word: up to unquoted blank or operator; quotes, escapes and substitutions inside.
    fn word(&mut self) -> Tok {
        let start = self.i;
        let mut subs = Vec::new();
        // A process substitution opens the word.
        if matches!(self.peek(0), b'<' | b'>') && self.peek(1) == b'(' {
            let end = self.balanced(self.i + 1);
            push_sub(&mut subs, self.s, self.i + 2, end);
            self.i = end;
        }
        while self.i < self.b.len() {
            match self.b[self.i] {
                b' ' | b'\t' | b'\r' | b'\n' | b'|' | b'&' | b';' | b'(' | b')' | b'<' | b'>' => {
                    break;
                }
                b'\\' => self.i = (self.i + 2).min(self.b.len()),
                b'\'' => {
                    self.i = self.b[self.i + 1..]
                        .iter()
                        .position(|&b| b == b'\'')
                        .map_or(self.b.len(), |k| self.i + k + 2);
                }
                b'"' => {
                    self.i += 1;
                    while self.i < self.b.len() && self.b[self.i] != b'"' {
                        match self.b[self.i] {
                            b'\\' => self.i += 2,
                            b'$' if self.peek(1) == b'(' => {
                                let end = self.balanced(self.i + 1);
                                push_sub(&mut subs, self.s, self.i + 2, end);
                                self.i = end;
                            }
                            b'`' => self.backtick(&mut subs),
                            _ => self.i += 1,
                        }
                    }
                    self.i = (self.i + 1).min(self.b.len());
                }
                b'$' if self.peek(1) == b'(' => {
                    let end = self.balanced(self.i + 1);
                    push_sub(&mut subs, self.s, self.i + 2, end);
                    self.i = end;
                }
                b'$' if self.peek(1) == b'{' => {
                    let mut depth = 0usize;
                    while self.i < self.b.len() {
                        match self.b[self.i] {
                            b'{' => depth += 1,
                            b'}' => {
                                depth -= 1;
                                if depth == 0 {
                                    self.i += 1;
                                    break;
                                }
                            }
                            _ => {}
                        }
                        self.i += 1;
                    }
                }
                b'`' => self.backtick(&mut subs),
                _ => self.i += 1,
            }
        }
        let end = self.i.min(self.b.len());
        // Keep to char boundaries (multi-byte text inside words).
        let mut end = end;
        while end < self.s.len() && !self.s.is_char_boundary(end) {
            end += 1;
        }
        self.i = end;
        Tok::Word(Word {
            raw: self.s.get(start..end).unwrap_or_default().to_string(),
            subs,
        })
    }

    fn backtick(&mut self, subs: &mut Vec<String>) {
        let from = self.i + 1;
        let mut j = from;
        while j < self.b.len() && self.b[j] != b'`' {
            j += if self.b[j] == b'\\' { 2 } else { 1 };
        }
        let end = j.min(self.b.len());
        if let Some(inner) = self.s.get(from..end) {
            subs.push(inner.to_string());
        }
        self.i = (end + 1).min(self.b.len());
    }

    /// Given the index of an opening `(`, the index just past its matching `)` (quotes
    /// respected), or the end of the text.
    fn balanced(&self, open: usize) -> usize {
        let mut depth = 0usize;
        let mut j = open;
        while j < self.b.len() {
            match self.b[j] {
                b'(' => depth += 1,
                b')' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return j + 1;
                    }
                }
                b'\\' => j += 1,
                b'\'' => {
                    j = self.b[j + 1..]
                        .iter()
                        .position(|&b| b == b'\'')
                        .map_or(self.b.len(), |k| j + k + 1);
                }
                _ => {}
            }
            j += 1;
        }
        self.b.len()
    }

    /// Skip a heredoc body: lines up to one that is `delim` (leading tabs allowed).
    pub(super) fn skip_heredoc(&mut self, delim: &str) {
        while self.i < self.b.len() {
            let end = self.b[self.i..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(self.b.len(), |k| self.i + k);
            let line = self.s.get(self.i..end).unwrap_or_default();
            self.i = (end + 1).min(self.b.len());
            if line.trim_start_matches('\t').trim_end() == delim {
                return;
            }
        }
    }
}

fn push_sub(subs: &mut Vec<String>, s: &str, from: usize, end: usize) {
    // `end` is just past the closing parenthesis (or the text's end when unclosed).
    let to = if s.as_bytes().get(end.wrapping_sub(1)) == Some(&b')') {
        end - 1
    } else {
        end
    };
    if let Some(inner) = s.get(from..to.max(from)) {
        subs.push(inner.to_string());
    }
}
