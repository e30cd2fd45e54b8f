//! `imeitrack`: the project's command line (see [`scenarios::cli`]).

fn main() -> std::process::ExitCode {
    scenarios::cli::main()
}
