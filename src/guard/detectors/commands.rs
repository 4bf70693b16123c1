//! Unsafe commands: what a shell (bash, PowerShell, cmd), a cloud or cluster CLI, git or a
//! database would do if the text were run. Candidates are found by command name; POSIX
//! command lines are then parsed ([`crate::guard::command::shell`]) and SQL statements too
//! ([`crate::guard::command::sql`]), so the verdict rests on the program, its flags and
//! operands (`rm -rf /` yes, `rm -rf ./build` no; `DELETE … WHERE …` no) and prose that
//! mentions a command is not one. Formats without a grammar here (PowerShell, cmd,
//! reverse-shell one-liners) are matched by their specific tokens.

use std::ops::Range;

use super::command_checks::{
    cloud_delete, download_runs, git_rewrite, important_path, infra_destroy, recursive_delete,
    security_off,
};
use super::{Spec, spec, spec_reach};
use crate::guard::Severity::{Critical, High};
use crate::guard::command::{ShellParse, SimpleCommand, parse_shell, parse_sql};

const U: &str = "unsafe_command";

/// The unsafe-command rules.
#[rustfmt::skip]
pub const SPECS: &[Spec] = &[
    spec(U, "recursive_delete", Critical,
        &[
        "^rm", "find /", "find ~", "find $", "find \"/", "find '/",
        ],
        r"(?i)(?-u:\b)(?:sudo\s+(?:-\S+\s+)*)?(?:rm|find)\s",
        Some(shell_check::<{ Check::RecursiveDelete as u8 }>),
    ),
    spec(U, "recursive_delete", Critical,
        &[
        "del ", "rd ", "rmdir", "remove-item", "erase ", "rm -r", "ri ",
        ],
        r#"(?i)(?:(?-u:\b)(?:del|erase)\s+(?:/[a-z]\s+)*/s\s+(?:/[a-z]\s+)*["']?[a-z]:\\(?:\*[^\s"']*|(?:windows|users|program files|programdata)[^\s"']*)?["']?(?:\s|$)|(?-u:\b)(?:rd|rmdir)\s+(?:/[a-z]\s+)*/s\s+(?:/[a-z]\s+)*["']?[a-z]:\\(?:(?:windows|users|program files|programdata)[^\s"']*)?["']?(?:\s|$)|(?-u:\b)(?:remove-item|ri|rm)\s[^\n]{0,80}-r(?:ecurse)?\b[^\n]{0,80}["']?(?:[a-z]:\\(?:windows|users|\*)?\\?|\$env:(?:systemroot|userprofile|windir))["']?(?:\s|$|;))"#,
        None,
    ),
    spec(U, "pipe_to_shell", Critical,
        &[
        "curl", "wget", "^fetch ", "aria2c",
        ],
        r"(?i)(?-u:\b)(?:curl|wget|fetch|aria2c)\s",
        Some(shell_check::<{ Check::Download as u8 }>),
    ),
    spec(U, "pipe_to_shell", Critical,
        &[
        "<(curl", "<(wget", "$(curl", "$(wget", "`curl", "`wget", "<( curl", "$( curl", "<(fetch",
        "$(fetch",
        ],
        r"(?i)(?:(?-u:\b)(?:sudo\s+)?(?:ba|z|k|da)?sh|(?-u:\b)source|(?-u:\b)eval|(?-u:\b)python[23]?|(?-u:\b)perl|(?-u:\b)ruby|(?-u:\b)node)\s+[^\n]*?(?:<\(|\$\(|`)",
        Some(shell_check::<{ Check::Download as u8 }>),
    ),
    spec(U, "pipe_to_shell", Critical,
        &[
        "iex", "invoke-expression", "downloadstring", "downloadfile", "iwr", "irm",
        "invoke-webrequest", "invoke-restmethod", "-enc", "-encodedcommand", "-outfile",
        "certutil", "bitsadmin", "mshta", "regsvr32", "rundll32", "start-bitstransfer",
        "net.webclient",
        ],
        r#"(?i)(?:(?-u:\b)(?:iex|invoke-expression)(?-u:\b)[^\n]{0,200}(?:downloadstring|downloadfile|iwr|irm|invoke-webrequest|invoke-restmethod|net\.webclient|start-bitstransfer|https?://)|(?-u:\b)(?:downloadstring|iwr|irm|invoke-webrequest|invoke-restmethod|wget|curl)(?-u:\b)[^\n|]{0,300}\|\s*(?:iex|invoke-expression)(?-u:\b)|(?-u:\b)(?:powershell|pwsh)(?:\.exe)?\s[^\n]{0,200}-(?:e|ec|enc|encodedcommand)\s+[A-Za-z0-9+/=]{20,}|(?-u:\b)certutil(?:\.exe)?\s[^\n]{0,80}-urlcache[^\n]{0,80}\s-f\s+https?://|(?-u:\b)bitsadmin(?:\.exe)?\s[^\n]{0,40}/transfer\s[^\n]{0,200}https?://|(?-u:\b)mshta(?:\.exe)?\s+(?:https?://|vbscript:|javascript:)|(?-u:\b)regsvr32(?:\.exe)?\s[^\n]{0,60}/i:https?://|(?-u:\b)rundll32(?:\.exe)?\s[^\n]{0,40}javascript:|-OutFile\s+["']?\S+\.(?:exe|ps1|bat|cmd|msi|dll|vbs|hta|scr)["']?[^\n]{0,200}(?:Start-Process|Invoke-Item|&\s*["'.$]|\.\\|cmd(?:\.exe)?\s+/c)|\(New-Object\s+(?:System\.)?Net\.WebClient\)\.Download(?:String|File)\([^\n]{0,300}(?:iex|invoke-expression|start-process|&\s*\$|\.\\|\.exe))"#,
        None,
    ),
    spec(U, "reverse_shell", Critical,
        &[
        "/dev/tcp/", "/dev/udp/", "nc ", "ncat", "netcat", "socat", "socket", "mkfifo",
        "fsockopen", "tcpsocket", "tcpclient", "/inet/tcp", "telnet",
        ],
        r#"(?i)(?:(?:ba)?sh\s+-i\s+[^\n]{0,20}>&\s*/dev/tcp/|/dev/(?:tcp|udp)/[0-9a-z.-]+/\d+|(?-u:\b)(?:nc|ncat|netcat)(?:\.exe)?\s+(?:-[a-z]*\s+)*-(?:e|c)\s+(?:/bin/|/usr/bin/)?(?:ba|z|da)?sh|(?-u:\b)(?:nc|ncat|netcat)(?:\.exe)?\s[^\n]{0,100}(?:-e\s|--exec|--sh-exec)\s*(?:/bin/|cmd|powershell)|(?-u:\b)(?:nc|ncat|netcat|telnet)\s+\S+\s+\d+\s*[^\n]{0,20}\|\s*(?:/bin/)?(?:ba|z|da)?sh|(?-u:\b)socat\s[^\n]{0,200}exec:|mkfifo\s+\S+[^\n]{0,200}(?:nc|ncat|netcat|telnet|openssl\s+s_client)\s|socket\.socket\([^\n]{0,300}connect\([^\n]{0,300}(?:subprocess|pty\.spawn|os\.dup2)|(?-u:\b)perl\s[^\n]{0,40}-e\s[^\n]{0,40}(?:use\s+Socket|IO::Socket)|(?-u:\b)php\s[^\n]{0,40}-r\s[^\n]{0,40}fsockopen|fsockopen\s*\([^\n]{0,200}(?:exec|shell_exec|system|passthru|proc_open|popen)\s*\(|(?-u:\b)ruby\s[^\n]{0,40}-rsocket|TCPSocket\.(?:open|new)\([^\n]{0,200}(?:exec|spawn|IO\.popen|system)|New-Object\s+(?:System\.)?Net\.Sockets\.TCPClient\s*\(|(?-u:\b)awk\s[^\n]{0,100}/inet/tcp/|lua\s[^\n]{0,20}-e\s[^\n]{0,100}socket)"#,
        None,
    ),
    spec(U, "chmod_777", High,
        &["chmod"],
        r"(?i)(?-u:\b)chmod\s",
        Some(shell_check::<{ Check::Chmod as u8 }>),
    ),
    spec(U, "disk_wipe", Critical,
        &[
        "^dd ", "mkfs", "shred", "wipefs", "format c:", "format d:", "format e:", "/dev/sd",
        "/dev/nvme", "/dev/hd", "/dev/vd", "/dev/xvd", "/dev/mmcblk", "cipher ", "clean all",
        ],
        r"(?i)(?:(?-u:\b)dd\s+[^\n]{0,80}of=/dev/(?:sd|hd|nvme|vd|xvd|disk|mmcblk|rdisk)|(?-u:\b)mkfs(?:\.\w+)?\s+(?:-\S+\s+)*/dev/|(?-u:\b)shred\s+[^\n]{0,80}/dev/(?:sd|hd|nvme|vd|xvd|disk|mmcblk)|(?-u:\b)wipefs\s+(?:-\w+\s+)*(?:-a|--all)|(?-u:\b)format\s+[a-z]:(?:\s|$|/)|>\s*/dev/(?:sd[a-z]|nvme\d|hd[a-z]|vd[a-z]|xvd[a-z]|mmcblk\d)(?:\s|$)|(?-u:\b)cipher(?:\.exe)?\s+/w:|(?-u:\b)clean\s+all(?-u:\b))",
        Some(not_prose_line),
    ),
    spec(U, "fork_bomb", Critical,
        &[":(", ": (", "%0|%0", "fork"],
        r":\s*\(\s*\)\s*\{\s*:\s*\|\s*:\s*&\s*\}\s*;\s*:|%0\s*\|\s*%0|(?-u:\b)while\s*\(?\s*(?:true|1)\s*\)?\s*[;{]?\s*(?:do\s+)?fork\s*\(\s*\)|os\.fork\(\)\s*while|while\s+True\s*:\s*os\.fork\(\)|fork\s+while\s+fork",
        None,
    ),
    spec(U, "kill_all", Critical,
        &[
        "kill -", "killall5", "pkill -", "stop-process", "taskkill",
        ],
        r"(?i)(?-u:\b)(?:sudo\s+)?(?:kill|killall5|pkill)\s|(?-u:\b)(?:stop-process\s[^\n]{0,60}-name\s+\*|taskkill(?:\.exe)?\s[^\n]{0,40}/im\s+\*)[^\n]*",
        Some(shell_check::<{ Check::KillAll as u8 }>),
    ),
    spec(U, "security_disabled", Critical,
        &[
        "iptables -", "ip6tables -", "nft flush", "ufw disable", "ufw default", "systemctl stop",
        "systemctl disable", "systemctl mask", "systemctl kill", "setenforce", "selinux=",
        "randomize_va_space", "set-mppreference", "add-mppreference", "netsh", "^sc stop",
        "^sc delete", "^sc config", "sc.exe", "set-netfirewallprofile", "spctl", "csrutil",
        "auditctl",
        ],
        r#"(?i)(?:(?-u:\b)(?:sudo\s+)?(?:iptables|ip6tables|nft|ufw|systemctl|service|setenforce|auditctl|spctl|csrutil)\s|SELINUX=disabled|echo\s+0\s*>\s*/proc/sys/kernel/randomize_va_space|Set-MpPreference\s[^\n]{0,80}-Disable(?:RealtimeMonitoring|BehaviorMonitoring|IOAVProtection|ScriptScanning|IntrusionPreventionSystem|BlockAtFirstSeen)\s+(?:\$true|1)|Add-MpPreference\s[^\n]{0,20}-Exclusion(?:Path|Process|Extension)|netsh\s+(?:advfirewall\s+set\s+\w+\s+state\s+off|firewall\s+set\s+opmode\s+(?:mode=)?disable)|(?-u:\b)sc(?:\.exe)?\s+(?:stop|delete|config)\s+(?:WinDefend|MpsSvc|wscsvc|Sense|WdNisSvc)|Set-NetFirewallProfile\s[^\n]{0,60}-Enabled\s+(?:False|\$false|0))"#,
        Some(security_check),
    ),
    spec(U, "persistence", Critical,
        &[
        "authorized_keys", "nopasswd", "sudoers", "useradd", "usermod", "crontab", "/etc/cron",
        "/var/spool/cron", "rc.local", ".bashrc", ".profile", "chmod u+s", "chmod 4",
        "currentversion\\run", "schtasks", "register-scheduledtask", "launchagents",
        "launchdaemons", "systemd/system",
        ],
        r#"(?i)(?:>>?\s*["']?(?:~|\$HOME|/root|/home/[^/\s]+)?/?\.ssh/authorized_keys2?|tee\s+(?:-a\s+)?\S*\.ssh/authorized_keys2?|(?-u:\b)ssh-(?:rsa|ed25519)\s+\S+[^\n]{0,120}>>\s*\S*authorized_keys|NOPASSWD\s*:\s*ALL|>>?\s*/etc/sudoers(?:\.d/\S*)?|tee\s+(?:-a\s+)?/etc/sudoers|(?-u:\b)useradd\s[^\n]*-o\s[^\n]*-u\s*0(?-u:\b)|(?-u:\b)usermod\s[^\n]*-a?G\s*(?:sudo|wheel|root|admin)(?-u:\b)|(?-u:\b)chmod\s+(?:u\+s|[4-7][0-7]{3})\s+/(?:usr/)?bin/(?:ba|z|da)?sh|crontab\b[^\n]*(?:curl|wget|\bnc\b|bash\s+-i|/dev/tcp|base64)|(?:curl|wget)[^\n]*\|\s*crontab|echo\s[^\n]*(?:curl|wget|/dev/tcp|\bnc\b)[^\n]*(?:\|\s*crontab|>>?\s*(?:/etc/crontab|/etc/cron\.d/|/var/spool/cron|/etc/rc\.local|~?/?\S*\.(?:bashrc|profile|zshrc|bash_profile)))|>>?\s*/etc/(?:crontab|cron\.d/\S*|rc\.local)|reg(?:\.exe)?\s+add\s+[^\n]*\\CurrentVersion\\Run|schtasks(?:\.exe)?\s+/create\s[^\n]*/tr\s|Register-ScheduledTask\s|New-ItemProperty[^\n]*CurrentVersion\\Run|>\s*\S*/Library/Launch(?:Agents|Daemons)/\S+\.plist|>\s*/etc/systemd/system/\S+\.service)"#,
        Some(not_prose_line),
    ),
    spec(U, "defense_evasion", High,
        &[
        "history -c", "histfile", "histsize", "histfilesize", "+o history", "_history", "/var/log",
        "journalctl", "wevtutil", "clear-eventlog", "remove-eventlog", "auditctl", "vssadmin",
        "shadowcopy", "bcdedit", "clear-history", "historysavepath",
        ],
        r#"(?i)(?:(?-u:\b)history\s+-c(?-u:\b)|(?-u:\b)unset\s+HISTFILE|HISTFILE=/dev/null|(?-u:\b)HIST(?:FILE)?SIZE=0(?-u:\b)|set\s+\+o\s+history|(?-u:\b)(?:rm|shred)\s+(?:-\S+\s+)*["']?(?:~|\$HOME|/root|/home/\S+)?/?\.(?:bash|zsh|sh)_history|ln\s+-sf?\s+/dev/null\s+\S*_history|(?:^|[;&|\s])(?:cat\s+/dev/null\s*)?>\s*["']?(?:~|\$HOME)?/?\.(?:bash|zsh)_history|(?:(?:^|[;&|\s])>\s*|truncate\s+-s\s*0\s+|shred\s+(?:-\S+\s+)*|(?-u:\b)rm\s+-(?:rf|fr|r|f|Rf)\s+|echo\s*(?:""|'')?\s*>\s*)/var/log/\S*|journalctl\s+[^\n]*--vacuum-(?:time|size|files)=\S+|wevtutil(?:\.exe)?\s+(?:cl|clear-log)\s|Clear-EventLog(?-u:\b)|Remove-EventLog(?-u:\b)|(?-u:\b)auditctl\s+-D(?-u:\b)|(?-u:\b)vssadmin(?:\.exe)?\s+delete\s+shadows|wmic(?:\.exe)?\s+shadowcopy\s+delete|bcdedit(?:\.exe)?\s[^\n]*recoveryenabled\s+no|Clear-History(?-u:\b)|Remove-Item\s[^\n]{0,40}HistorySavePath)"#,
        Some(not_prose_line),
    ),
    spec(U, "infra_destroy", Critical,
        &[
        "kubectl delete", "oc delete", "terraform destroy", "terraform apply", "terraform state",
        "terraform -chdir", "tofu -chdir",
        "terraform workspace", "tofu destroy", "tofu apply", "terragrunt", "pulumi destroy",
        "pulumi stack", "cdk destroy", "helm uninstall", "helm delete", "docker system",
        "docker volume", "docker run", "podman system", "podman volume", "podman run",
        ],
        r"(?i)(?-u:\b)(?:sudo\s+)?(?:kubectl|oc|terraform|tofu|terragrunt|pulumi|cdk|helm|docker|podman)\s",
        Some(shell_check::<{ Check::Infra as u8 }>),
    ),
    spec(U, "cloud_delete", Critical,
        &[
        "aws s3", "aws ec2", "aws rds", "aws dynamodb", "aws eks", "aws cloudformation", "aws kms",
        "aws ecr", "aws organizations", "aws lambda", "aws route53", "aws iam", "aws backup",
        "gcloud", "gsutil", "az group", "az vm", "az storage", "az keyvault", "az aks", "az sql",
        "az cosmosdb", "az webapp", "az functionapp", "az network", "az resource", "az account",
        "az ad ", "az role", "doctl", "s3cmd", "rclone", "hcloud", "linode-cli",
        ],
        r"(?i)(?-u:\b)(?:aws|gcloud|gsutil|az|doctl|s3cmd|rclone|hcloud|linode-cli)\s",
        Some(shell_check::<{ Check::Cloud as u8 }>),
    ),
    spec(U, "git_history_rewrite", High,
        &[
        "git push", "git filter-", "git branch -", "git update-ref",
        ],
        r"(?i)(?-u:\b)git\s",
        Some(shell_check::<{ Check::Git as u8 }>),
    ),
    spec(U, "datastore_wipe", Critical,
        &[
        "dropdatabase", ".drop(", "deletemany", ".remove(", "flushall", "flushdb", "-x delete",
        "-xdelete", "--request delete", "etcdctl", "dropallusers", "keyspace",
        ],
        r#"(?i)(?:(?-u:\b)db(?:\.getSiblingDB\([^)]*\))?\.dropDatabase\s*\(\s*\)|db\.(?:getCollection\([^)]*\)|[\w$]+)\.(?:drop\s*\(\s*\)|deleteMany\s*\(\s*\{\s*\}\s*\)|remove\s*\(\s*\{\s*\}\s*\))|(?:^|redis-cli[^\n]*\s|>\s*|[`"';]\s*)FLUSH(?:ALL|DB)(?:\s+(?:ASYNC|SYNC))?\s*(?:$|[`"';\n])|(?:-X\s*DELETE|--request\s+DELETE)\s+["']?https?://[^\s"']*/(?:_all|[^\s"'/?]*\*)["']?|etcdctl\s+del\s+(?:""|''|/)\s+--prefix|dropAllUsers\s*\(|DROP\s+KEYSPACE\s+\w+)"#,
        None,
    ),
    spec_reach(U, "destructive_sql", High,
        &[
        "drop table", "drop database", "drop schema", "drop user", "drop role", "drop if",
        "truncate", "delete from", "delete ", "update ", "grant ",
        ],
        r"(?i)(?-u:\b)(?:drop|truncate|delete|update|grant)\s[^\n]*",
        Some(sql_destructive),
        4096,
    ),
];

/// Which parsed-shell check a rule applies.
#[repr(u8)]
enum Check {
    RecursiveDelete,
    Download,
    Chmod,
    KillAll,
    Security,
    Infra,
    Cloud,
    Git,
}

/// The command line a match starts: to the end of its line (continuations followed), or to
/// the closing backtick of inline code, or the end of a quoted argument it sits in.
fn region(text: &str, m: &Range<usize>) -> Range<usize> {
    let start = m.start;
    let line_start = text[..start].rfind('\n').map_or(0, |k| k + 1);
    let ticks_before = text[line_start..start].matches('`').count();
    let mut end = start;
    let b = text.as_bytes();
    let limit = quoted_end(text, line_start, start).unwrap_or(b.len());
    while end < limit && end - start < 4096 {
        match b[end] {
            b'\n' if end > 0 && b[end - 1] == b'\\' => end += 1,
            b'\n' => break,
            b'`' if ticks_before % 2 == 1 => break,
            _ => end += 1,
        }
    }
    start..crate::guard::engine::floor_char(text, end)
}

/// When `start` sits inside a double-quoted string on its line (a JSON string value, a
/// `sh -c "…"` argument), where that string ends: the command or statement ends there too.
fn quoted_end(text: &str, line_start: usize, start: usize) -> Option<usize> {
    let b = text.as_bytes();
    let unescaped = |i: usize| b[i] == b'"' && (i == 0 || b[i - 1] != b'\\');
    let before = (line_start..start).filter(|&i| unescaped(i)).count();
    if before % 2 == 0 {
        return None;
    }
    (start..b.len()).find(|&i| unescaped(i) || b[i] == b'\n')
}

/// Prose that mentions a command: three or more ordinary English words among the
/// command's words, or a changelog/documentation line about it.
pub(crate) fn prose(words: &[String]) -> bool {
    const STOP: &[&str] = &[
        "the", "a", "an", "is", "are", "was", "were", "to", "of", "and", "or", "that", "this",
        "it", "will", "would", "should", "can", "could", "never", "always", "which", "when", "we",
        "you", "they", "on", "in", "with", "for", "be", "been", "by", "from", "as", "if", "not",
        "do", "does", "did", "how", "why", "what", "like", "about", "because", "so", "but", "then",
        "than", "into", "its", "our", "your", "their", "has", "have", "had",
    ];
    words
        .iter()
        .filter(|w| {
            STOP.contains(
                &w.to_ascii_lowercase()
                    .trim_end_matches([',', '.', ':', ';', '!', '?']),
            )
        })
        .count()
        >= 3
}

/// A line that is about a command rather than one (changelog entries, documentation that
/// names it in a sentence).
pub(crate) fn not_prose_line(text: &str, m: Range<usize>) -> Option<Range<usize>> {
    let r = region(text, &m);
    let words: Vec<String> = text[r].split_whitespace().map(str::to_string).collect();
    (!prose(&words)).then_some(m)
}

/// Firewall and security services through their CLIs (parsed), or the Windows and
/// configuration forms (matched).
fn security_check(text: &str, m: Range<usize>) -> Option<Range<usize>> {
    let head = text[m.clone()]
        .trim_start_matches("sudo ")
        .to_ascii_lowercase();
    let cli = [
        "iptables",
        "ip6tables",
        "nft",
        "ufw",
        "systemctl",
        "service",
        "setenforce",
        "auditctl",
        "spctl",
        "csrutil",
    ]
    .iter()
    .any(|p| head.starts_with(p));
    if cli {
        shell_check::<{ Check::Security as u8 }>(text, m)
    } else {
        not_prose_line(text, m)
    }
}

/// A command named in a sentence (release notes, documentation): inline code followed by
/// prose about it (`` `terraform destroy` is blocked in CI ``), or a line that is a
/// changelog entry.
fn mentioned(text: &str, r: &Range<usize>) -> bool {
    let line_start = text[..r.start].rfind('\n').map_or(0, |k| k + 1);
    let head = text[line_start..r.start].trim_start().to_ascii_lowercase();
    let changelog = [
        "changelog",
        "release notes",
        "what's new",
        "fixed:",
        "added:",
        "changed:",
        "removed:",
        "deprecated:",
        "- fixed",
        "- added",
        "- changed",
        "- removed",
        "* fixed",
        "* added",
    ]
    .iter()
    .any(|w| head.starts_with(w));
    let after = text[r.end..].strip_prefix('`').unwrap_or("");
    let next_word = after
        .trim_start()
        .split(|c: char| !c.is_alphanumeric() && c != '\'')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    const ABOUT: &[&str] = &[
        "is", "was", "now", "will", "can", "asks", "requires", "command", "commands", "has", "had",
        "should", "must", "are", "were", "fails", "failed", "works", "prints", "returns",
        "deletes", "removes", "destroys", "wipes", "needs", "takes", "does", "did", "gets", "got",
        "no", "never", "would", "could", "may", "might", "isn't", "won't",
    ];
    changelog
        || (!after.is_empty() || text[r.end..].starts_with('`'))
            && ABOUT.contains(&next_word.as_str())
        || inline_in_prose(text, line_start, r)
}

/// Inline code in a sentence about it: a negation or question just before the opening
/// backtick (`` Never run `rm -rf /` ``, `` Why does `kubectl delete ns` hang? ``), or a
/// sentence of ordinary words around it that tells nobody to run it.
fn inline_in_prose(text: &str, line_start: usize, r: &Range<usize>) -> bool {
    let before = &text[line_start..r.start];
    if before.matches('`').count() % 2 == 0 || !text[r.end..].starts_with('`') {
        return false;
    }
    let open = before.rfind('`').unwrap_or(0);
    let lead = before[..open].to_ascii_lowercase();
    let near = &lead[crate::guard::engine::floor_char(&lead, lead.len().saturating_sub(40))..];
    const NEGATION: &[&str] = &[
        "never",
        "don't",
        "do not",
        "avoid",
        "why",
        "how ",
        "what",
        "instead of",
        "warning",
        "dangerous",
        "careful",
    ];
    if NEGATION.iter().any(|w| near.contains(w)) {
        return true;
    }
    let line_end = text[r.end..].find('\n').map_or(text.len(), |k| r.end + k);
    let outside = format!(
        "{} {}",
        &before[..open],
        &text[(r.end + 1).min(line_end)..line_end]
    );
    let lower = outside.to_ascii_lowercase();
    let told = [
        "run ", "execute", "must", "please", "now", "type ", "paste", "enter ",
    ]
    .iter()
    .any(|w| lower.contains(w));
    let words: Vec<String> = outside.split_whitespace().map(str::to_string).collect();
    !told && prose(&words) && words.len() >= 5
}

fn shell_check<const C: u8>(text: &str, m: Range<usize>) -> Option<Range<usize>> {
    let r = region(text, &m);
    if mentioned(text, &r) {
        return None;
    }
    let parse = parse_shell(&text[r.clone()]);
    let hit = parse.pipelines.first().is_some_and(|p| {
        p.commands
            .first()
            .is_some_and(|c| !prose(&c.args) || C == Check::Download as u8)
    }) && check(C, &parse);
    hit.then_some(r)
}

fn check(c: u8, parse: &ShellParse) -> bool {
    let cmds: Vec<&SimpleCommand> = parse.commands().collect();
    match c {
        x if x == Check::RecursiveDelete as u8 => cmds.iter().any(|c| recursive_delete(c)),
        x if x == Check::Download as u8 => download_runs(parse, &cmds),
        x if x == Check::Chmod as u8 => cmds.iter().any(|c| {
            c.name() == "chmod"
                && c.operands().any(|a| {
                    matches!(
                        a,
                        "777" | "0777" | "a+rwx" | "ugo+rwx" | "o+rwx" | "=rwx" | "666" | "0666"
                    )
                })
                && (c.has_short('R')
                    || c.operands()
                        .skip(1)
                        .any(|p| important_path(p) || p.starts_with('/'))
                    || c.operands().any(|a| a.ends_with("777")))
        }),
        x if x == Check::KillAll as u8 => cmds.iter().any(|c| {
            let n = c.name();
            (n == "kill" && c.args.iter().skip(1).any(|a| a == "-1")
                || n == "kill" && c.args.len() >= 2 && c.args.last().is_some_and(|a| a == "1"))
                || n == "killall5"
                || (n == "pkill"
                    && c.has_short('9')
                    && (c.flag_value("u") == Some("root")
                        || c.operands().any(|o| o == "." || o == ".*")))
                || n == "stop-process"
                || n == "taskkill"
        }),
        x if x == Check::Security as u8 => cmds.iter().any(|c| security_off(c)),
        x if x == Check::Infra as u8 => cmds.iter().any(|c| infra_destroy(c)),
        x if x == Check::Cloud as u8 => cmds.iter().any(|c| cloud_delete(c)),
        x if x == Check::Git as u8 => cmds.iter().any(|c| git_rewrite(c)),
        _ => false,
    }
}

/// The SQL statement a match starts: to its `;`, taking following lines that continue it
/// (indented, or starting with a clause keyword), at most 4 KiB.
fn statement(text: &str, start: usize) -> &str {
    let line_start = text[..start].rfind('\n').map_or(0, |k| k + 1);
    let limit = quoted_end(text, line_start, start).unwrap_or(text.len());
    let rest = &text[start..crate::guard::engine::floor_char(text, (start + 4096).min(limit))];
    let mut end = 0;
    for (i, line) in rest.split_inclusive('\n').enumerate() {
        let t = line.trim_start().to_ascii_lowercase();
        let continues = i == 0
            || line.starts_with([' ', '\t'])
            || [
                "where",
                "and ",
                "or ",
                "set ",
                "from",
                "limit",
                "order",
                "join",
                "values",
                "returning",
                "cascade",
                "on ",
                "to ",
                "with",
                "using",
                "inner",
                "left",
                "(",
                ")",
                ";",
            ]
            .iter()
            .any(|k| t.starts_with(k));
        if !continues || (i > 0 && t.is_empty()) {
            break;
        }
        if let Some(k) = line.find(';') {
            end += k + 1;
            break;
        }
        end += line.len();
    }
    &rest[..end]
}

/// A statement that destroys data, parsed: not prose that mentions `DELETE` or `UPDATE`.
fn sql_destructive(text: &str, m: Range<usize>) -> Option<Range<usize>> {
    let stmt = statement(text, m.start);
    let lower = stmt.to_ascii_lowercase();
    // Cheap shape checks before the parser: each kind needs its clause.
    let words: Vec<&str> = lower.split_whitespace().collect();
    let shaped = match words.first().copied().unwrap_or_default() {
        "update" => lower.contains(" set "),
        "delete" => words.get(1).is_some_and(|w| *w == "from") || lower.contains(" from "),
        "drop" => words
            .get(1)
            .is_some_and(|w| matches!(*w, "table" | "database" | "schema" | "user" | "role")),
        "truncate" => words.len() >= 2,
        "grant" => lower.contains(" to "),
        _ => false,
    };
    // Scratch tables (`tmp_…`, `staging.…`, `temp_…`) are dropped and emptied routinely.
    let object = words
        .iter()
        .skip(1)
        .find(|w| !matches!(**w, "table" | "if" | "exists" | "only" | "from"))
        .copied()
        .unwrap_or_default();
    let scratch = ["tmp", "temp", "staging.", "scratch", "#"]
        .iter()
        .any(|p| object.trim_matches(['"', '`', '[']).starts_with(p));
    if !shaped || scratch && matches!(words.first().copied(), Some("drop" | "truncate")) {
        return None;
    }
    let end = m.start + stmt.trim_end().len();
    let parsed = parse_sql(stmt);
    if parsed
        .statements
        .first()
        .is_some_and(|s| s.is_destructive())
    {
        return Some(m.start..end);
    }
    // `GRANT ALL PRIVILEGES ON *.* TO 'x'@'%'` is MySQL the generic parser may refuse.
    let grant_all =
        lower.starts_with("grant all") && lower.contains(" on ") && lower.contains(" to ");
    grant_all.then_some(m.start..end)
}
