//! Unsafe commands that damage the machine rather than delete a tree: system files
//! truncated or overwritten (`: > /etc/passwd`, `truncate -s 0 /etc/shadow`), the kernel
//! crashed through `/proc/sysrq-trigger`, system directories moved away, ownership of `/`
//! given away, accounts removed or locked, virtual machines, pools and volumes destroyed
//! (libvirt, Proxmox, ESXi, ZFS, LVM, btrfs), registry hives deleted, every container
//! killed; and destructive calls made from code (`shutil.rmtree('/')`, `os.system('rm -rf
//! /')`, `subprocess.run(['rm', '-rf', '/'])`). Shell forms are parsed
//! ([`crate::guard::command::shell`]) from the start of the command that holds the match;
//! code forms are matched and their path checked.

use std::ops::Range;

use super::command_checks::important_path;
use super::{Spec, spec};
use crate::guard::Severity::Critical;
use crate::guard::command::{SimpleCommand, parse_shell};

const U: &str = "unsafe_command";

/// The rules.
#[rustfmt::skip]
pub const SPECS: &[Spec] = &[
    spec(U, "system_damage", Critical,
        &[
        "/etc/passwd", "/etc/shadow", "/etc/sudoers", "/etc/fstab", "/etc/group", "sysrq-trigger",
        "/boot/", "truncate", "mv /", "chown", "crontab -r", "userdel", "passwd -l", "mkswap",
        "virsh", "zfs destroy", "zpool destroy", "lvremove", "vgremove", "pvremove",
        "qm destroy", "pct destroy", "vmsvc/destroy", "xe vm-", "unregistervm",
        "subvolume delete", "bucket delete", "reg delete", "remove-item", "docker rm",
        "docker kill", "podman rm", "helm uninstall", "helm delete", "stop-computer", "chmod -r",
        "heroku", "firebase", "vercel", "flyctl", "fly apps", "fly destroy", "supabase",
        "netlify", "dropdb", "rabbitmqctl", "format-volume", "clear-disk", "initialize-disk",
        "diskpart", "nmcli", "systemctl stop", "systemctl disable", "systemctl mask", "ip link",
        "ifconfig",
        ],
        r"(?i)(?:>|(?-u:\b)(?:truncate|mv|chown|crontab|userdel|passwd|mkswap|virsh|zfs|zpool|lvremove|vgremove|pvremove|qm|pct|vim-cmd|xe|vboxmanage|btrfs|influx|reg|remove-item|docker|podman|helm|stop-computer|tee|cp|chmod|heroku|firebase|vercel|fly|flyctl|supabase|netlify|dropdb|rabbitmqctl|format-volume|clear-disk|initialize-disk|diskpart|nmcli|systemctl|ip|ifconfig)(?-u:\b))",
        Some(system_damage),
    ),
    spec(U, "recursive_delete", Critical,
        &["rmtree", "os.system", "subprocess", "os.remove", "removedirs", "'rm'", "\"rm\"", "fs.rm", "rmsync", "remove_dir_all", "fileutils"],
        r#"(?i)(?:shutil\.rmtree|os\.removedirs|fs\.rm(?:Sync)?|fs\.promises\.rm|\.rm(?:dir)?Sync|remove_dir_all|FileUtils\.rm_r[f]?|deleteDirectory)\s*\(\s*(?:Path\()?\s*(?P<v>["'][^"'\n]{1,200}["'])|(?:os\.system|os\.popen|subprocess\.(?:run|call|Popen|check_call|check_output)|exec|execSync|system|spawnSync)\s*\(\s*(?P<v2>["'][^\n]{1,300})|\[\s*["']rm["']\s*,(?P<v3>[^\]\n]{1,200})\]"#,
        Some(code_delete),
    ),
    spec(U, "destructive_sql", Critical,
        &[
        "sp_msforeachtable", "xp_cmdshell", "superuser", "drop owned", "drop column", "drop user",
        "drop login", "getcollectionnames", "listcollections",
        ],
        r#"(?i)sp_MSforeachtable\s+(?:@command1\s*=\s*)?N?'\s*(?:DROP|DELETE|TRUNCATE)|sp_configure\s+'xp_cmdshell'\s*,\s*1|xp_cmdshell\s+'[^'\n]*(?:del\s+/s|rd\s+/s|rmdir|format\s)|ALTER\s+(?:USER|ROLE)\s+\S+\s+(?:WITH\s+)?SUPERUSER|DROP\s+OWNED\s+BY|ALTER\s+TABLE\s+\S+\s+DROP\s+COLUMN|DROP\s+(?:USER|LOGIN)\s+(?:IF\s+EXISTS\s+)?['"`\[]?[\w.-]+['"`\]]?(?:@['"`]?[\w.%-]+['"`]?)?\s*(?:;|$)|(?:getCollectionNames|listCollections)\(\)[^\n]{0,40}\.forEach\([^\n]{0,120}\.drop(?:Collection)?\("#,
        Some(super::commands::not_prose_line),
    ),
];

/// Files whose loss or overwrite breaks the system (or, written to, crashes it).
fn critical_file(p: &str) -> bool {
    let p = p.trim_matches(|c| c == '"' || c == '\'');
    matches!(
        p,
        "/etc/passwd"
            | "/etc/shadow"
            | "/etc/group"
            | "/etc/gshadow"
            | "/etc/sudoers"
            | "/etc/fstab"
            | "/etc/hosts"
            | "/etc/resolv.conf"
            | "/etc/ssh/sshd_config"
            | "/proc/sysrq-trigger"
            | "/boot/grub/grub.cfg"
    ) || p.starts_with("/boot/vmlinuz")
        || p.starts_with("/dev/sd")
        || p.starts_with("/dev/nvme")
}

/// Where the pipeline holding byte `at` starts: after the last `;`, `&`, `(`, `{`, backtick
/// or newline before it.
fn command_start(text: &str, at: usize) -> usize {
    let mut line = text[..at].rfind('\n').map_or(0, |k| k + 1);
    // A single-quoted script that began on an earlier line (`echo 'select disk 0\nclean' |
    // diskpart`): start where it opened (at most a few lines back).
    for _ in 0..8 {
        if line == 0 || text[line..at].matches('\'').count() % 2 == 0 {
            break;
        }
        line = text[..line - 1].rfind('\n').map_or(0, |k| k + 1);
    }
    let b = text.as_bytes();
    let mut i = at;
    while i > line {
        if matches!(b[i - 1], b';' | b'&' | b'(' | b'`' | b'{') {
            break;
        }
        i -= 1;
    }
    i
}

/// The end of the command line from `start`: the line's end, or a closing quote of the
/// JSON string it sits in.
fn line_end(text: &str, start: usize) -> usize {
    let rest = &text[start..];
    let mut end = rest.find('\n').map_or(text.len(), |k| start + k);
    let line_start = text[..start].rfind('\n').map_or(0, |k| k + 1);
    let b = text.as_bytes();
    let quotes_before = (line_start..start)
        .filter(|&i| b[i] == b'"' && (i == 0 || b[i - 1] != b'\\'))
        .count();
    if quotes_before % 2 == 1
        && let Some(k) = (start..end).find(|&i| b[i] == b'"' && b[i - 1] != b'\\')
    {
        end = k;
    } else if text[start..end].matches('\'').count() % 2 == 1
        && let Some(k) = memchr::memchr(b'\'', &b[end..(end + 4096).min(b.len())])
    {
        // A single-quoted script that goes on over lines (`echo 'select disk 0\nclean'`).
        let close = end + k;
        end = text[close..].find('\n').map_or(text.len(), |j| close + j);
    }
    end.min(start + 4096)
}

fn damaging(c: &SimpleCommand) -> bool {
    let name = c.name();
    let sub = c.subcommands(3);
    let s = |i: usize| sub.get(i).map(String::as_str).unwrap_or_default();
    // Overwriting (not appending to) a system file, or writing to the sysrq trigger.
    let overwrites = c.redirects.iter().any(|r| {
        matches!(
            r.op,
            crate::guard::command::RedirectOp::Out | crate::guard::command::RedirectOp::OutErr
        ) && critical_file(&r.target)
    }) || (name == "tee" && !c.has_short('a') && c.operands().any(critical_file))
        || (name == "cp" && c.operands().last().is_some_and(critical_file));
    let sysrq = c
        .redirects
        .iter()
        .any(|r| r.target.trim_matches('"') == "/proc/sysrq-trigger");
    overwrites
        || sysrq
        || match name.as_str() {
            "truncate" => c.operands().any(critical_file) || c.operands().any(important_path),
            "mv" => c.operands().next().is_some_and(|p| {
                important_path(p) || critical_file(p) || matches!(p, "/etc" | "/usr" | "/bin")
            }),
            "chown" | "chmod" => {
                (c.has_short('R') || c.has_long("recursive"))
                    && c.operands().skip(1).any(|p| p == "/" || p == "/*")
            }
            "crontab" => c.has_short('r'),
            "userdel" => {
                c.operands()
                    .any(|u| matches!(u, "root" | "admin" | "administrator"))
                    || c.has_short('r')
            }
            "passwd" => c.has_short('l') && c.operands().any(|u| u == "root"),
            "mkswap" => c.operands().any(|p| p.starts_with("/dev/")),
            "virsh" => matches!(s(0), "destroy" | "undefine" | "vol-delete" | "pool-delete"),
            "zfs" => {
                s(0) == "destroy" && (c.has_short('r') || c.has_short('R') || !s(1).contains('@'))
            }
            "zpool" => s(0) == "destroy",
            "lvremove" | "vgremove" | "pvremove" => true,
            "qm" | "pct" => s(0) == "destroy",
            "vim-cmd" => s(0).ends_with("/destroy"),
            "xe" => matches!(s(0), "vm-destroy" | "vm-uninstall" | "sr-destroy"),
            "vboxmanage" => s(0) == "unregistervm" && c.has_long("delete"),
            "btrfs" => s(0) == "subvolume" && s(1) == "delete",
            "influx" => matches!(s(0), "bucket" | "org") && s(1) == "delete",
            "reg" => {
                // The POSIX reading drops backslashes (`HKLM\SYSTEM` → `HKLMSYSTEM`).
                let key = s(1).replace('\\', "");
                s(0) == "delete"
                    && [
                        "hklmsystem",
                        "hklmsoftware",
                        "hklmsam",
                        "hkey_local_machine",
                    ]
                    .iter()
                    .any(|k| key.starts_with(k))
            }
            "remove-item" => {
                (c.has_long("recurse") || c.has_short('r'))
                    && c.args.iter().any(|a| {
                        // Backslashes may be gone (the POSIX reading) or kept (quotes).
                        let a = a
                            .trim_matches(|c| c == '"' || c == '\'')
                            .to_ascii_lowercase()
                            .replace('\\', "");
                        let a = a.trim_end_matches('*');
                        (a.len() == 2 && a.ends_with(':'))
                            || matches!(
                                a,
                                "c:users" | "c:windows" | "c:program files" | "c:programdata"
                            )
                            || a.starts_with("$env:userprofile")
                            || a.starts_with("$env:systemroot")
                            || a.starts_with("$home")
                    })
            }
            "docker" | "podman" => {
                matches!(s(0), "rm" | "kill")
                    && c.nested_commands().any(|n| {
                        matches!(n.name().as_str(), "docker" | "podman")
                            && n.subcommand() == Some("ps")
                            && n.has_short('a')
                    })
            }
            "helm" => {
                matches!(s(0), "uninstall" | "delete")
                    && c.flag_value("n")
                        .or_else(|| c.flag_value("namespace"))
                        .is_some_and(|n| n.starts_with("prod") || n == "kube-system")
            }
            "stop-computer" => true,
            // Platform CLIs: whole apps, projects and sites.
            "heroku" => matches!(
                s(0),
                "apps:destroy" | "destroy" | "pg:reset" | "addons:destroy"
            ),
            "firebase" => {
                s(0) == "projects:delete"
                    || s(0) == "database:remove"
                    || s(0) == "firestore:delete"
                        && (c.has_long("all-collections") || c.has_short('r'))
            }
            "vercel" => {
                matches!(s(0), "remove" | "rm")
                    || s(0) == "project" && matches!(s(1), "rm" | "remove")
            }
            "fly" | "flyctl" => {
                s(0) == "destroy"
                    || matches!(s(0), "apps" | "volumes") && matches!(s(1), "destroy" | "delete")
            }
            "supabase" => s(0) == "projects" && s(1) == "delete",
            "netlify" => s(0) == "sites:delete",
            // Databases, brokers and disks by their own tools.
            "dropdb" => c.operands().last().is_some_and(|db| {
                !["test", "tmp", "temp", "scratch", "dev"]
                    .iter()
                    .any(|p| db.to_ascii_lowercase().contains(p))
            }),
            "rabbitmqctl" => matches!(s(0), "reset" | "force_reset" | "delete_vhost"),
            "format-volume" => true,
            // Cutting the machine off the network (and its operators out).
            "nmcli" => {
                (matches!(s(0), "networking" | "n") && s(1) == "off")
                    || (matches!(s(0), "radio" | "r") && s(1) == "all" && s(2) == "off")
            }
            "systemctl" => {
                matches!(s(0), "stop" | "disable" | "mask")
                    && sub.iter().skip(1).any(|u| {
                        matches!(
                            u.trim_end_matches(".service"),
                            "sshd" | "ssh" | "networking" | "networkmanager" | "systemd-networkd"
                        )
                    })
            }
            "ip" => s(0) == "link" && s(1) == "set" && s(3) == "down" && !s(2).starts_with("lo"),
            "ifconfig" => s(1) == "down" && !s(0).starts_with("lo"),
            "clear-disk" | "initialize-disk" => c.has_long("removedata") || name == "clear-disk",
            _ => false,
        }
}

/// A command that damages the system, parsed from the start of the command holding the
/// match; also the PowerShell pipeline `Get-ChildItem C:\Users -Recurse | Remove-Item`.
fn system_damage(text: &str, m: Range<usize>) -> Option<Range<usize>> {
    let start = command_start(text, m.start);
    let end = line_end(text, start).max(m.end);
    let line = text.get(start..end)?;
    let parse = parse_shell(line);
    let mut pipelines = parse.all_pipelines().into_iter();
    let hit = pipelines.any(|p| {
        p.commands.iter().any(damaging)
            // `diskpart` reading a script that cleans a disk.
            || p.commands.iter().any(|c| c.name() == "diskpart")
                && p.commands.iter().any(|c| c.args.iter().any(|a| a.to_ascii_lowercase().contains("clean")))
            || p.commands.first().is_some_and(|c| {
                c.name() == "get-childitem"
                    && c.has_long("recurse")
                    && c.operands().any(|a| {
                        let a = a.to_ascii_lowercase().replace('\\', "");
                        a == "c:" || a == "c:users" || a == "c:windows"
                    })
                    && p.commands.iter().any(|x| x.name() == "remove-item")
            })
    });
    let words: Vec<String> = line.split_whitespace().map(str::to_string).collect();
    (hit && !super::commands::prose(&words)).then_some(start..end)
}

/// A delete called from code whose path is the root, a system or home directory, or a
/// shell command given to `os.system` / `subprocess` that would be unsafe.
fn code_delete(text: &str, m: Range<usize>) -> Option<Range<usize>> {
    let v = &text[m.clone()];
    let first = v.chars().next()?;
    if first == '"' || first == '\'' {
        let inner: String = v[1..].chars().take_while(|c| *c != first).collect();
        if important_path(&inner) || inner == "C:\\" || inner == "/home" {
            return Some(m);
        }
        // A shell command run from code: `os.system('rm -rf /')`.
        let parse = parse_shell(&inner);
        let bad = parse
            .commands()
            .any(|c| super::command_checks::recursive_delete(c) || damaging(c));
        return bad.then_some(m);
    }
    // `['rm', '-rf', '/']`: the argument list as words.
    let words: Vec<String> = v
        .split(',')
        .map(|w| w.trim().trim_matches(|c| c == '"' || c == '\'').to_string())
        .collect();
    let recursive = words
        .iter()
        .any(|w| w.starts_with('-') && (w.contains('r') || w.contains('R')));
    (recursive && words.iter().any(|w| important_path(w))).then_some(m)
}
