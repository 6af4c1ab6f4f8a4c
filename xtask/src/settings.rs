// SPDX-License-Identifier: GPL-2.0

//! The settings of one command, from its command line: made once in `main` and passed down to
//! whatever reads them, never kept in globals.

use crate::vm::accel;

/// What the global options ask of every stage.
#[derive(Debug, Clone, Copy, Default)]
pub struct Settings {
    /// `--dry-run`: commands that change something (make, QEMU, apt-get) are printed on stdout
    /// instead of run; queries that only read (versions, `git rev-parse`) still run.
    pub dry_run: bool,
    /// `--no-snapshot`: every VM boots the kernel rather than resuming a saved guest.
    pub no_snapshot: bool,
    /// `--accel`: how QEMU runs the guest's code.
    pub accel: accel::Choice,
}
