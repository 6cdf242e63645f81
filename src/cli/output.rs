//! A command's report on standard output. A reader may stop early (`check-knowledge | head -1`):
//! the write then fails with `BrokenPipe`, which ends the command quietly instead of panicking
//! as `println!` does.

use std::fmt::Display;
use std::io::{self, Write};
use std::process::ExitCode;

use super::CliError;

pub struct Output {
    out: io::StdoutLock<'static>,
}

impl Output {
    pub fn stdout() -> Output {
        Output { out: io::stdout().lock() }
    }

    pub fn line(&mut self, text: impl Display) -> Result<(), CliError> {
        writeln!(self.out, "{text}").map_err(CliError::Output)
    }

    /// Everything written: success.
    pub fn finish(mut self) -> Result<ExitCode, CliError> {
        self.out.flush().map_err(CliError::Output)?;
        Ok(ExitCode::SUCCESS)
    }
}
