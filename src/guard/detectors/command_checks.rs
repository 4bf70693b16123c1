//! What makes a parsed command unsafe, program by program: recursive deletes of important
//! paths, download-and-run, firewalls and security services turned off, cluster and
//! infrastructure teardown, cloud deletions, and history rewrites of protected branches.

use crate::guard::command::{ShellParse, SimpleCommand};

/// Paths whose recursive removal is destructive: the root, system directories and their
/// direct children, home directories, everything (`*`).
pub(crate) fn important_path(p: &str) -> bool {
    let p = p.trim_matches(|c| c == '"' || c == '\'');
    // `"$DIR/"`, `${TARGET}/*`: an unset or empty variable leaves the root.
    if let Some(rest) = p.strip_prefix('$') {
        let var = rest.trim_start_matches('{');
        let name_len = var
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
            .count();
        let tail = var[name_len..].trim_start_matches('}');
        if name_len > 0
            && !var[..name_len].eq_ignore_ascii_case("HOME")
            && matches!(tail, "/" | "/*")
        {
            return true;
        }
    }
    if matches!(
        p,
        "/" | "/*"
            | "~"
            | "~/"
            | "~/*"
            | "*"
            | ".*"
            | "$HOME"
            | "${HOME}"
            | "$HOME/"
            | "$HOME/*"
            | "/."
            | "//"
    ) {
        return true;
    }
    let p = p.trim_end_matches(['/', '*']);
    let parts: Vec<&str> = p.split('/').filter(|s| !s.is_empty()).collect();
    if !p.starts_with('/') || parts.is_empty() {
        return false;
    }
    const SYSTEM: &[&str] = &[
        "bin",
        "boot",
        "dev",
        "etc",
        "home",
        "lib",
        "lib64",
        "opt",
        "proc",
        "root",
        "run",
        "sbin",
        "srv",
        "sys",
        "usr",
        "var",
        "mnt",
        "media",
        "Users",
        "System",
        "Library",
        "Applications",
    ];
    if !SYSTEM.contains(&parts[0]) {
        return false;
    }
    // Data directories of services (`/var/lib/postgresql`) count whole too.
    if parts.len() == 3 && parts[0] == "var" && matches!(parts[1], "lib" | "www" | "log") {
        return true;
    }
    // Anything inside a database's data directory or the backups (`rm -rf
    // /var/lib/postgresql/15/main/*`, `/var/backups/postgres`) loses data the same way.
    const DATA_SERVICES: &[&str] = &[
        "postgresql",
        "pgsql",
        "mysql",
        "mariadb",
        "mongodb",
        "redis",
        "elasticsearch",
        "etcd",
        "kafka",
        "cassandra",
        "clickhouse",
        "influxdb",
        "docker",
        "containerd",
    ];
    if parts.len() >= 3
        && parts[0] == "var"
        && ((parts[1] == "lib" && DATA_SERVICES.contains(&parts[2])) || parts[1] == "backups")
    {
        return true;
    }
    parts.len() == 1
        || (parts.len() == 2
            && !matches!(parts[1], "tmp" | "cache")
            && parts[0] != "mnt"
            && parts[0] != "media"
            && parts[0] != "opt")
}

pub(crate) fn recursive_delete(c: &SimpleCommand) -> bool {
    match c.name().as_str() {
        "rm" => {
            let recursive = c.has_short('r') || c.has_short('R') || c.has_long("recursive");
            recursive && (c.operands().any(important_path) || c.has_long("no-preserve-root"))
        }
        "find" => {
            let root = c.operands().next().is_some_and(important_path);
            let deletes = c.has_long("delete")
                || c.args.windows(2).any(|w| {
                    (w[0] == "-exec" || w[0] == "-execdir")
                        && matches!(w[1].as_str(), "rm" | "shred" | "/bin/rm")
                });
            root && deletes
        }
        _ => false,
    }
}

pub(crate) fn download_runs(parse: &ShellParse, cmds: &[&SimpleCommand]) -> bool {
    if parse.all_pipelines().iter().any(|p| p.downloads_and_runs()) {
        return true;
    }
    // `bash <(curl …)`, `sh -c "$(curl …)"`, `eval "$(wget -qO- …)"`, `source <(curl …)`.
    let runs_fetched = cmds.iter().any(|c| {
        let n = c.name();
        matches!(
            n.as_str(),
            "sh" | "bash"
                | "zsh"
                | "dash"
                | "ksh"
                | "source"
                | "."
                | "eval"
                | "python"
                | "python3"
                | "perl"
                | "ruby"
                | "node"
                | "sudo"
        ) && c.nested_commands().any(SimpleCommand::is_network_fetch)
    });
    if runs_fetched {
        return true;
    }
    // Download to a file, then run it: `curl -o x.sh URL && bash x.sh`, `wget -O /tmp/a
    // URL; chmod +x /tmp/a; /tmp/a`.
    let saved: Vec<&str> = cmds
        .iter()
        .filter(|c| c.is_network_fetch())
        .filter_map(|c| {
            c.flag_value("o")
                .or_else(|| c.flag_value("O"))
                .or_else(|| c.flag_value("output"))
        })
        .filter(|f| *f != "-" && *f != "/dev/null")
        .collect();
    saved.iter().any(|f| {
        let base = f.rsplit('/').next().unwrap_or(f);
        cmds.iter().any(|c| {
            let n = c.name();
            let runs = matches!(
                n.as_str(),
                "sh" | "bash" | "zsh" | "source" | "." | "python" | "python3" | "perl"
            ) && c.operands().any(|o| o.ends_with(base));
            runs || c.program.ends_with(base) && !c.is_network_fetch()
        })
    })
}

pub(crate) fn security_off(c: &SimpleCommand) -> bool {
    let sub = c.subcommands(3);
    let first = sub.first().map(String::as_str).unwrap_or_default();
    const GUARDS: &[&str] = &[
        "firewalld",
        "ufw",
        "apparmor",
        "auditd",
        "fail2ban",
        "falcon-sensor",
        "crowdstrike",
        "clamav-daemon",
        "clamd",
        "osqueryd",
        "wazuh-agent",
        "iptables",
        "nftables",
        "selinux",
        "sshguard",
        "aide",
        "ossec",
        "sysmon",
        "defender",
        "mdatp",
        "sentinelone",
        "td-agent",
        "rsyslog",
        "syslog",
        "systemd-journald",
    ];
    match c.name().as_str() {
        "iptables" | "ip6tables" => {
            c.has_short('F')
                || c.has_long("flush")
                || (c.has_short('P')
                    && c.operands().any(|o| o == "ACCEPT")
                    && c.operands().any(|o| o == "INPUT"))
        }
        "nft" => {
            sub.first().is_some_and(|s| s == "flush") && sub.get(1).is_some_and(|s| s == "ruleset")
        }
        "ufw" => {
            first == "disable" || (first == "default" && sub.get(1).is_some_and(|s| s == "allow"))
        }
        "systemctl" => {
            matches!(first, "stop" | "disable" | "mask" | "kill")
                && sub
                    .iter()
                    .skip(1)
                    .any(|u| GUARDS.contains(&u.trim_end_matches(".service")))
        }
        "service" => sub.get(1).is_some_and(|s| s == "stop") && GUARDS.contains(&first),
        "setenforce" => first == "0" || first == "permissive",
        "auditctl" => c.has_short('D') || c.flag_value("e") == Some("0"),
        "spctl" => c.has_long("master-disable"),
        "csrutil" => first == "disable",
        _ => false,
    }
}

pub(crate) fn infra_destroy(c: &SimpleCommand) -> bool {
    let sub = c.subcommands(3);
    let s = |i: usize| sub.get(i).map(String::as_str).unwrap_or_default();
    match c.name().as_str() {
        "kubectl" | "oc" => {
            s(0) == "delete"
                && (matches!(
                    s(1),
                    "namespace"
                        | "namespaces"
                        | "ns"
                        | "node"
                        | "nodes"
                        | "no"
                        | "pv"
                        | "persistentvolume"
                        | "persistentvolumes"
                        | "crd"
                        | "crds"
                        | "customresourcedefinition"
                        | "clusterrole"
                        | "clusterrolebinding"
                        | "all"
                        | "mutatingwebhookconfiguration"
                        | "validatingwebhookconfiguration"
                ) || s(1).starts_with("namespace/")
                    || s(1).starts_with("ns/")
                    || c.has_long("all")
                    || c.has_long("all-namespaces")
                    || c.has_short('A'))
        }
        "terraform" | "tofu" | "terragrunt" => {
            s(0) == "destroy"
                || (s(0) == "run-all" && s(1) == "destroy")
                || (s(0) == "apply" && c.has_long("destroy"))
                || (s(0) == "state" && s(1) == "rm")
                || (s(0) == "workspace" && s(1) == "delete")
        }
        "pulumi" => s(0) == "destroy" || (s(0) == "stack" && s(1) == "rm"),
        "cdk" => s(0) == "destroy",
        "helm" => {
            matches!(s(0), "uninstall" | "delete") && (c.has_long("all") || s(1).contains("prod"))
        }
        "docker" | "podman" => {
            (s(0) == "system" && s(1) == "prune" && c.has_short('a') && c.has_long("volumes"))
                || (s(0) == "volume" && s(1) == "prune" && (c.has_short('a') || c.has_long("all")))
                || (s(0) == "run"
                    && c.has_long("privileged")
                    && c.args.iter().any(|a| a.starts_with("/:/")))
        }
        _ => false,
    }
}

pub(crate) fn cloud_delete(c: &SimpleCommand) -> bool {
    let sub = c.subcommands(4);
    let s = |i: usize| sub.get(i).map(String::as_str).unwrap_or_default();
    let recursive = c.has_long("recursive") || c.has_short('r') || c.has_short('R');
    match c.name().as_str() {
        "aws" => match (s(0), s(1)) {
            ("s3", "rm") => recursive,
            ("s3", "rb") => c.has_long("force"),
            ("s3api", "delete-bucket") => true,
            ("ec2", a) => matches!(
                a,
                "terminate-instances" | "delete-vpc" | "delete-snapshot" | "delete-volume"
            ),
            ("rds", a) => a.starts_with("delete-db"),
            ("dynamodb", "delete-table")
            | ("eks", "delete-cluster")
            | ("cloudformation", "delete-stack")
            | ("kms", "schedule-key-deletion")
            | ("ecr", "delete-repository")
            | ("organizations", "delete-organization")
            | ("lambda", "delete-function")
            | ("route53", "delete-hosted-zone") => true,
            ("iam", a) => {
                a.starts_with("delete-")
                    || a == "attach-user-policy"
                        && c.args.iter().any(|x| x.contains("AdministratorAccess"))
            }
            ("backup", a) => a.starts_with("delete-"),
            _ => false,
        },
        "gcloud" => {
            let deletes = sub.iter().any(|w| w == "delete");
            (s(0) == "projects" && s(1) == "delete")
                || (deletes
                    && matches!(
                        s(0),
                        "compute"
                            | "sql"
                            | "container"
                            | "spanner"
                            | "bigtable"
                            | "redis"
                            | "functions"
                            | "run"
                            | "iam"
                            | "kms"
                            | "filestore"
                    ))
                || (s(0) == "storage" && s(1) == "rm" && recursive)
                || (s(0) == "storage" && s(1) == "buckets" && s(2) == "delete")
        }
        "gsutil" => {
            (s(0) == "rm" && (recursive || c.args.iter().any(|a| a.ends_with("/**"))))
                || s(0) == "rb"
        }
        "az" => {
            let deletes = sub.iter().any(|w| w == "delete" || w == "purge");
            deletes
                && matches!(
                    s(0),
                    "group"
                        | "vm"
                        | "storage"
                        | "keyvault"
                        | "aks"
                        | "sql"
                        | "cosmosdb"
                        | "webapp"
                        | "functionapp"
                        | "network"
                        | "resource"
                        | "account"
                        | "ad"
                        | "role"
                )
        }
        "doctl" => {
            sub.iter().any(|w| w == "delete")
                && matches!(s(0), "compute" | "databases" | "kubernetes" | "projects")
        }
        "s3cmd" => (s(0) == "del" || s(0) == "rm") && recursive || s(0) == "rb",
        "rclone" => matches!(s(0), "purge" | "delete"),
        "hcloud" | "linode-cli" => sub.iter().any(|w| w == "delete"),
        _ => false,
    }
}

pub(crate) fn git_rewrite(c: &SimpleCommand) -> bool {
    const PROTECTED: &[&str] = &[
        "main",
        "master",
        "production",
        "prod",
        "release",
        "trunk",
        "develop",
        "stable",
        "live",
    ];
    let sub = c.subcommands(4);
    let s0 = sub.first().map(String::as_str).unwrap_or_default();
    let protected = |r: &str| {
        let r = r.trim_start_matches('+').trim_start_matches(':');
        let r = r.rsplit(':').next().unwrap_or(r);
        let r = r.trim_start_matches("refs/heads/");
        PROTECTED.contains(&r) || r.starts_with("release/")
    };
    match s0 {
        "push" => {
            let force = c.has_short('f')
                || c.has_long("force")
                || c.has_long("force-with-lease")
                || c.has_long("mirror");
            let refs: Vec<&str> = c.operands().skip(2).collect();
            let plus = refs.iter().any(|r| r.starts_with('+') && protected(r));
            let delete = (c.has_long("delete") || c.has_short('d'))
                && refs.iter().any(|r| protected(r))
                || refs.iter().any(|r| r.starts_with(':') && protected(r));
            (force
                && (refs.iter().any(|r| protected(r)) || c.has_long("all") || c.has_long("mirror")))
                || plus
                || delete
        }
        "filter-branch" | "filter-repo" => true,
        "reset" => false,
        "branch" => {
            (c.has_short('D') || c.has_long("delete") && c.has_long("force"))
                && c.operands().skip(1).any(protected)
        }
        "update-ref" => c.has_short('d') && c.operands().skip(1).any(protected),
        _ => false,
    }
}
