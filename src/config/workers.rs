//! How the proxy listener is served: per-core workers (the default) or one shared
//! multi-threaded runtime.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `workers:` — per-core serving runs one single-threaded runtime per worker, each with
/// its own `SO_REUSEPORT` listener and upstream connection pools, so a call is accepted,
/// decided, forwarded and answered on one core with no cross-thread wake-up (as nginx's
/// worker processes do). `shared` serves every connection on one multi-threaded runtime
/// (work stealing: better when a few connections carry uneven, heavy calls).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Workers {
    /// One worker per core the process may use (`auto`, the default).
    #[default]
    Auto,
    /// This many workers (1 … 1024).
    Count(usize),
    /// The shared multi-threaded runtime.
    Shared,
}

impl Workers {
    /// How many per-core workers to start (`None`: serve on the shared runtime).
    pub fn per_core(self) -> Option<usize> {
        match self {
            Self::Auto => Some(std::thread::available_parallelism().map_or(1, usize::from)),
            Self::Count(n) => Some(n),
            Self::Shared => None,
        }
    }
}

impl<'de> Deserialize<'de> for Workers {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(i64),
            Text(String),
        }
        let bad =
            || serde::de::Error::custom("workers must be auto, shared or a number from 1 to 1024");
        let n = match Raw::deserialize(d)? {
            Raw::Text(t) if t == "auto" => return Ok(Self::Auto),
            Raw::Text(t) if t == "shared" => return Ok(Self::Shared),
            // Environment overrides arrive as text.
            Raw::Text(t) => t.parse::<i64>().map_err(|_| bad())?,
            Raw::Number(n) => n,
        };
        match usize::try_from(n) {
            Ok(n @ 1..=1024) => Ok(Self::Count(n)),
            _ => Err(bad()),
        }
    }
}

impl Serialize for Workers {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Auto => s.serialize_str("auto"),
            Self::Shared => s.serialize_str("shared"),
            Self::Count(n) => s.serialize_u64(*n as u64),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Result<Workers, String> {
        #[derive(Deserialize)]
        struct W {
            workers: Workers,
        }
        serde_yaml_ng::from_str::<W>(yaml)
            .map(|w| w.workers)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn auto_shared_and_counts_parse_and_nothing_else_does() {
        assert_eq!(parse("workers: auto"), Ok(Workers::Auto));
        assert_eq!(parse("workers: shared"), Ok(Workers::Shared));
        assert_eq!(parse("workers: 4"), Ok(Workers::Count(4)));
        assert_eq!(parse("workers: '3'"), Ok(Workers::Count(3)));
        for bad in [
            "workers: 0",
            "workers: 5000",
            "workers: many",
            "workers: -1",
        ] {
            let e = parse(bad).expect_err(bad);
            assert!(e.contains("auto, shared or a number"), "{bad}: {e}");
        }
        assert!(Workers::Auto.per_core().is_some_and(|n| n >= 1));
        assert_eq!(Workers::Shared.per_core(), None);
    }
}
