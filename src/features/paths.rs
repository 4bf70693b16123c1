//! File paths as learning sees them: normalised (`.`/`..` resolved, `\` as `/`, `~` kept as
//! the home), put in a **sensitivity class** (credentials, keys, system config, another
//! user's home, …) and reduced to a directory prefix. `cat /srv/app/config.yaml` and
//! `cat /etc/shadow` differ in class, so no precedent learned on one ever decides the other.

/// What a path points at, from the most to the least sensitive. Never generalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathClass {
    /// Credential stores: `/etc/shadow`, `~/.aws/credentials`, `.netrc`, `.env`, kubeconfig…
    Credentials,
    /// Private keys and certificates' keys: `id_rsa`, `*.pem`, `*.key`, `~/.ssh/…`, `~/.gnupg/…`.
    Keys,
    /// Account, privilege and boot configuration: `/etc/sudoers*`, `/etc/passwd`, cron, systemd units, `/boot`.
    SystemConfig,
    /// Shell start-up and persistence files: `.bashrc`, `.profile`, `authorized_keys`.
    Persistence,
    /// Devices and kernel interfaces: `/dev/…`, `/proc/…`, `/sys/…`.
    Device,
    /// System programs and libraries: `/bin`, `/usr`, `/lib`, `C:\Windows`.
    System,
    /// Another user's home or root's: `/root`, `/home/<someone>`.
    OtherHome,
    /// Logs: `/var/log`.
    Logs,
    /// Other configuration under `/etc`.
    Config,
    /// Scratch space: `/tmp`, `/var/tmp`.
    Temp,
    /// The filesystem root itself (`/`, `C:\`).
    Root,
    /// Anything else (application and data paths).
    Data,
}

impl PathClass {
    /// The class's name in fingerprints and documentation.
    pub fn as_str(self) -> &'static str {
        match self {
            PathClass::Credentials => "credentials",
            PathClass::Keys => "keys",
            PathClass::SystemConfig => "system_config",
            PathClass::Persistence => "persistence",
            PathClass::Device => "device",
            PathClass::System => "system",
            PathClass::OtherHome => "other_home",
            PathClass::Logs => "logs",
            PathClass::Config => "config",
            PathClass::Temp => "temp",
            PathClass::Root => "root",
            PathClass::Data => "data",
        }
    }

    /// Whether reading or sending this is sensitive (marks the run, see `RunFlags`).
    pub fn is_sensitive(self) -> bool {
        matches!(
            self,
            PathClass::Credentials | PathClass::Keys | PathClass::SystemConfig
        )
    }
}

/// Longest path looked at (longer ones are cut; a path is not a document).
const MAX_PATH: usize = 4096;
/// Most segments kept while normalising.
const MAX_SEGMENTS: usize = 64;

/// Whether `s` (one token, trimmed) reads as a file path.
pub fn looks_like_path(s: &str) -> bool {
    let b = s.as_bytes();
    if s.is_empty() || s.len() > MAX_PATH || s.contains(char::is_whitespace) {
        return false;
    }
    s.starts_with('/')
        || s.starts_with("~/")
        || s == "~"
        || s.starts_with("./")
        || s.starts_with("../")
        || s.starts_with("\\\\")
        || (b.len() >= 3
            && b[0].is_ascii_alphabetic()
            && b[1] == b':'
            && matches!(b[2], b'\\' | b'/'))
        || s.starts_with("$HOME/")
        || s.starts_with("%USERPROFILE%")
        || (s.contains('/') && !s.contains("://") && has_extension(s))
}

fn has_extension(s: &str) -> bool {
    let last = s.rsplit(['/', '\\']).next().unwrap_or("");
    last.rsplit_once('.').is_some_and(|(stem, ext)| {
        !stem.is_empty()
            && (1..=5).contains(&ext.len())
            && ext.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

/// A path normalised to `/`-separated segments: `..` resolved (never above the root),
/// `.` and empty segments dropped, `\` read as `/`, a drive letter or `~` kept as the first
/// segment.
pub fn normalise(path: &str) -> Vec<String> {
    let path = super::cut(path, MAX_PATH);
    let unified = path.replace('\\', "/");
    let mut out: Vec<String> = Vec::new();
    let mut rest = unified.as_str();
    if let Some(r) = rest.strip_prefix("$HOME") {
        out.push("~".into());
        rest = r;
    } else if let Some(r) = rest.strip_prefix("%USERPROFILE%") {
        out.push("~".into());
        rest = r;
    }
    for seg in rest.split('/') {
        match seg {
            "" | "." => {}
            // Never climb above a home or a drive: `~/../x` stays under `~`.
            ".." if out.len() > 1 || out.first().is_some_and(|f| f != "~" && !is_drive(f)) => {
                out.pop();
            }
            ".." => {}
            s if out.len() < MAX_SEGMENTS => out.push(s.to_string()),
            _ => {}
        }
    }
    out
}

fn is_drive(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 2 && b[0].is_ascii_alphabetic() && b[1] == b':'
}

/// The sensitivity class of a normalised path.
pub fn class_of(segs: &[String]) -> PathClass {
    let lower: Vec<String> = segs.iter().map(|s| s.to_ascii_lowercase()).collect();
    let l: Vec<&str> = lower.iter().map(String::as_str).collect();
    let name = l.last().copied().unwrap_or("");
    if l.is_empty() || (l.len() == 1 && is_drive(l[0])) {
        return PathClass::Root;
    }
    // File names that are credentials or keys wherever they live.
    const CREDENTIAL_NAMES: &[&str] = &[
        "shadow",
        "gshadow",
        ".netrc",
        "_netrc",
        ".pgpass",
        ".git-credentials",
        ".npmrc",
        ".pypirc",
        "credentials",
        "credentials.json",
        "secrets.yaml",
        "secrets.yml",
        "secrets.json",
        ".env",
        ".envrc",
        "master.key",
        "wp-config.php",
        ".htpasswd",
        "kubeconfig",
        "id_token",
        "token.json",
        "service-account.json",
        "terraform.tfstate",
        "vault-token",
        ".vault-token",
        "sam",
        "ntds.dit",
    ];
    const KEY_NAMES: &[&str] = &[
        "id_rsa",
        "id_dsa",
        "id_ecdsa",
        "id_ed25519",
        "authorized_keys2",
        "known_hosts",
    ];
    let env_file = name.starts_with(".env.")
        && !name.ends_with(".example")
        && !name.ends_with(".sample")
        && !name.ends_with(".template");
    if CREDENTIAL_NAMES.contains(&name) || env_file {
        return PathClass::Credentials;
    }
    if KEY_NAMES.contains(&name)
        || [
            ".pem",
            ".key",
            ".p12",
            ".pfx",
            ".jks",
            ".keystore",
            ".ppk",
            ".gpg",
            ".asc",
        ]
        .iter()
        .any(|e| name.ends_with(e))
    {
        return PathClass::Keys;
    }
    let has = |dir: &str| l.contains(&dir);
    if has(".aws")
        || has(".azure")
        || has(".kube")
        || has(".docker")
        || has("gcloud")
        || has(".gcp")
    {
        return PathClass::Credentials;
    }
    if has(".ssh") || has(".gnupg") {
        return if name == "authorized_keys" {
            PathClass::Persistence
        } else {
            PathClass::Keys
        };
    }
    if name == "authorized_keys"
        || [
            ".bashrc",
            ".bash_profile",
            ".profile",
            ".zshrc",
            ".zprofile",
            ".bash_login",
            ".bash_logout",
            "rc.local",
        ]
        .contains(&name)
    {
        return PathClass::Persistence;
    }
    let first = l[0];
    let second = l.get(1).copied().unwrap_or("");
    match first {
        "etc" => {
            if second.starts_with("sudoers")
                || [
                    "passwd",
                    "group",
                    "hosts",
                    "fstab",
                    "crontab",
                    "pam.d",
                    "security",
                    "ssh",
                    "profile",
                    "profile.d",
                    "ld.so.preload",
                    "ld.so.conf",
                    "resolv.conf",
                ]
                .contains(&second)
                || second.starts_with("cron")
                || second == "systemd"
                || second == "init.d"
            {
                PathClass::SystemConfig
            } else {
                PathClass::Config
            }
        }
        "boot" => PathClass::SystemConfig,
        "dev" | "proc" | "sys" => PathClass::Device,
        "bin" | "sbin" | "usr" | "lib" | "lib64" | "lib32" => {
            if first == "usr" && second == "local" && l.get(2).is_some_and(|s| *s == "src") {
                PathClass::Data
            } else {
                PathClass::System
            }
        }
        "root" => PathClass::OtherHome,
        "home" | "users" if l.len() >= 2 => PathClass::OtherHome,
        "tmp" => PathClass::Temp,
        "var" => match second {
            "log" => PathClass::Logs,
            "tmp" => PathClass::Temp,
            "spool" if l.get(2).is_some_and(|s| *s == "cron") => PathClass::SystemConfig,
            _ => PathClass::Data,
        },
        d if is_drive(d) => match second {
            "windows" | "program files" | "program files (x86)" | "programdata" => {
                PathClass::System
            }
            "users" if l.len() >= 3 => PathClass::OtherHome,
            _ => PathClass::Data,
        },
        _ => PathClass::Data,
    }
}

/// The directory prefix a precedent remembers: the first two directory segments (numbers
/// and ids in them generalised), never the file name.
pub fn dir_prefix(segs: &[String]) -> String {
    let dirs = segs.len().saturating_sub(1);
    let take = dirs.min(2);
    let mut out = String::new();
    if segs.first().is_some_and(|f| f != "~" && !is_drive(f)) {
        out.push('/');
    }
    for (i, s) in segs.iter().take(take).enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.push_str(&super::value::pattern_of(s));
    }
    if out.is_empty() {
        out.push('.');
    }
    out
}

/// Most words kept of a file's name.
const MAX_FILE_WORDS: usize = 6;

/// The words of a file's name, without its extension, dates, numbers and random parts
/// (`retargeting_customers_2026-W44.csv` → `retargeting_customers`,
/// `debug-bundle-db79da.tgz` → `debug_bundle`; a part without a vowel reads as random and
/// goes too, acronyms such as `ltv` with it); `None` when no word is left.
pub fn file_words(name: &str) -> Option<String> {
    let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
    let words: Vec<String> = stem
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| {
            let n = w.chars().count();
            let vowels = w.chars().filter(|c| "aeiouyAEIOUY".contains(*c)).count();
            (2..=24).contains(&n) && w.chars().all(char::is_alphabetic) && vowels > 0
        })
        .take(MAX_FILE_WORDS)
        .map(str::to_lowercase)
        .collect();
    (!words.is_empty()).then(|| words.join("_"))
}

/// The file's extension class (lowercase, up to 5 characters), if any.
pub fn extension(segs: &[String]) -> Option<String> {
    let name = segs.last()?;
    let (stem, ext) = name.rsplit_once('.')?;
    (!stem.is_empty()
        && (1..=5).contains(&ext.len())
        && ext.bytes().all(|b| b.is_ascii_alphanumeric()))
    .then(|| ext.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(p: &str) -> &'static str {
        class_of(&normalise(p)).as_str()
    }

    #[test]
    fn classes_follow_what_the_path_holds() {
        for (p, c) in [
            ("/etc/shadow", "credentials"),
            ("/srv/app/../../etc/shadow", "credentials"),
            ("/etc//./shadow", "credentials"),
            ("~/.aws/credentials", "credentials"),
            ("/home/ann/.ssh/id_ed25519", "keys"),
            ("~/.ssh/authorized_keys", "persistence"),
            ("/etc/sudoers.d/agent", "system_config"),
            ("/etc/cron.d/job", "system_config"),
            ("/etc/nginx/nginx.conf", "config"),
            ("/srv/app/config.yaml", "data"),
            ("/srv/app/.env", "credentials"),
            ("/srv/app/.env.example", "data"),
            ("/root/notes.txt", "other_home"),
            ("/home/bob/report.pdf", "other_home"),
            ("/tmp/x.csv", "temp"),
            ("/var/log/syslog", "logs"),
            ("/dev/sda", "device"),
            ("/proc/self/environ", "device"),
            ("/", "root"),
            ("C:\\Windows\\System32\\config\\SAM", "credentials"),
            ("C:\\Windows\\System32", "system"),
            ("/usr/bin/python3", "system"),
            ("reports/q3.csv", "data"),
            ("certs/server.key", "keys"),
        ] {
            assert_eq!(class(p), c, "{p}");
        }
    }

    #[test]
    fn traversal_never_climbs_above_the_root() {
        assert_eq!(normalise("/../../etc/passwd"), vec!["etc", "passwd"]);
        assert_eq!(normalise("~/../../etc"), vec!["~", "etc"]);
    }

    #[test]
    fn prefixes_keep_directories_and_generalise_ids() {
        assert_eq!(
            dir_prefix(&normalise("/srv/reports/daily-42.csv")),
            "/srv/reports"
        );
        assert_eq!(dir_prefix(&normalise("/data/2026/11/x.csv")), "/data/dddd");
        assert_eq!(dir_prefix(&normalise("/x.csv")), "/");
        assert_eq!(extension(&normalise("/srv/a.CSV")).as_deref(), Some("csv"));
    }

    #[test]
    fn a_files_words_say_what_it_holds() {
        assert_eq!(
            file_words("customer_level_ltv_2026-W44.csv").as_deref(),
            Some("customer_level")
        );
        assert_eq!(
            file_words("debug-bundle-db79da.tgz").as_deref(),
            Some("debug_bundle")
        );
        assert_eq!(file_words("2026-11-15.csv"), None);
        assert_eq!(file_words("x9f3k2.bin"), None);
    }

    #[test]
    fn path_detection() {
        for p in [
            "/etc/passwd",
            "~/.ssh/id_rsa",
            "./run.sh",
            "C:\\Users\\a",
            "reports/q3.csv",
        ] {
            assert!(looks_like_path(p), "{p}");
        }
        for p in ["hello world", "https://x.test/a", "a/b", "word"] {
            assert!(!looks_like_path(p), "{p}");
        }
    }
}
