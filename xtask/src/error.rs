// SPDX-License-Identifier: GPL-2.0

//! Errors, and the exit status each kind maps to.

use std::fmt;

/// Exit status when every scenario passed.
pub const EXIT_PASS: i32 = 0;
/// Exit status when a scenario failed: the kernel did something other than expected.
pub const EXIT_FAIL: i32 = 1;
/// Exit status for a command line that names something unknown (as clap uses it).
pub const EXIT_USAGE: i32 = 2;
/// Exit status when the tests could not be run at all (missing tool, failed build, QEMU did
/// not start): sysexits' EX_UNAVAILABLE, as vmtest uses it.
pub const EXIT_UNAVAILABLE: i32 = 69;

/// An error that says what went wrong and what to do about it.
#[derive(Debug)]
pub struct Error {
    pub message: String,
    pub exit_code: i32,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Something the harness needs could not be had or made.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self { message: message.into(), exit_code: EXIT_UNAVAILABLE }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Adds context to I/O errors: which file, doing what.
pub trait Context<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E: fmt::Display> Context<T> for std::result::Result<T, E> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::unavailable(format!("{}: {e}", what())))
    }
}
