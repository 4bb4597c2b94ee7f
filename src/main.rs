//! The `vendoras` command line: parses arguments, runs the library, prints.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::run()
}
