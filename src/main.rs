//! The `sec0-gateway` binary: everything lives in the library; see `sec0_gateway::cli`.

fn main() -> std::process::ExitCode {
    sec0_gateway::cli::main()
}
