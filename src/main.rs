//! The `sec0-gateway` binary: everything lives in the library; see `sec0_gateway::cli`.

// mimalloc instead of glibc malloc: buffers and audit records are allocated on one thread and
// freed on another all the time, and glibc's arena locks then stall calls for tens of µs
// (measured in benches/audit_hotpath.rs; numbers in benches/README.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    sec0_gateway::cli::main()
}
