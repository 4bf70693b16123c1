//! Path checks on any string: no panic, and a path called unambiguous never holds what
//! servers read two ways (dot segments, raw or percent-encoded; backslashes; NUL).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sec0_gateway::routing::path_is_unambiguous;

fuzz_target!(|data: &[u8]| {
    let Ok(path) = std::str::from_utf8(data) else {
        return;
    };
    if path_is_unambiguous(path) {
        let lower = path.to_ascii_lowercase();
        assert!(!path.contains('\0'), "{path:?}");
        assert!(!lower.contains("%00"), "{path:?}");
        assert!(!lower.contains("%5c") && !path.contains('\\'), "{path:?}");
        let decoded = lower.replace("%2e", ".");
        assert!(
            !decoded.split('/').any(|s| s == "." || s == ".."),
            "{path:?}"
        );
    }
});
