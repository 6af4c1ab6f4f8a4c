// SPDX-License-Identifier: GPL-2.0

//! The guest's initramfs: static busybox, the module, and the init script of [`crate::guest`].
//!
//! The archive is written here in the kernel's `newc` cpio format, so that it can hold
//! `/dev/console` without root privileges or a `cpio` tool.

use crate::error::{Context, Result};
use crate::guest::{init_script, Finish, Step, MODULE_PATH};
use std::path::Path;

/// A `newc` cpio archive being written.
#[derive(Default)]
pub struct Cpio {
    bytes: Vec<u8>,
    inode: u32,
}

impl Cpio {
    fn entry(&mut self, name: &str, mode: u32, data: &[u8], rdev: (u32, u32)) {
        self.inode += 1;
        let fields =
            [self.inode, mode, 0, 0, 1, 0, data.len() as u32, 0, 0, rdev.0, rdev.1, name.len() as u32 + 1, 0];
        self.bytes.extend_from_slice(b"070701");
        for field in fields {
            self.bytes.extend_from_slice(format!("{field:08x}").as_bytes());
        }
        self.bytes.extend_from_slice(name.as_bytes());
        self.bytes.push(0);
        self.pad();
        self.bytes.extend_from_slice(data);
        self.pad();
    }

    fn pad(&mut self) {
        while !self.bytes.len().is_multiple_of(4) {
            self.bytes.push(0);
        }
    }

    pub fn dir(&mut self, name: &str) {
        self.entry(name, 0o040755, &[], (0, 0));
    }

    pub fn file(&mut self, name: &str, mode: u32, data: &[u8]) {
        self.entry(name, 0o100000 | mode, data, (0, 0));
    }

    pub fn char_device(&mut self, name: &str, major: u32, minor: u32) {
        self.entry(name, 0o020600, &[], (major, minor));
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.entry("TRAILER!!!", 0, &[], (0, 0));
        while !self.bytes.len().is_multiple_of(512) {
            self.bytes.push(0);
        }
        self.bytes
    }
}

/// Writes the initramfs for `steps` to `out`, one copy per content in `store`
/// ([`crate::paths::write_shared`]).
pub fn write(
    out: &Path,
    store: &Path,
    busybox: &Path,
    module: &Path,
    steps: &[Step],
    finish: Finish,
) -> Result<()> {
    let bytes = archive(busybox, module, &init_script(steps, finish))?;
    crate::paths::write_shared(out, store, &bytes)
}

/// The archive: busybox, the module and `init`.
pub fn archive(busybox: &Path, module: &Path, init: &str) -> Result<Vec<u8>> {
    let busybox = std::fs::read(busybox).context(|| format!("could not read {}", busybox.display()))?;
    let module = std::fs::read(module).context(|| format!("could not read {}", module.display()))?;
    let mut cpio = Cpio::default();
    for dir in ["bin", "dev", "proc", "sys", "tmp"] {
        cpio.dir(dir);
    }
    // The kernel opens /dev/console for init's stdio before init can mount devtmpfs.
    cpio.char_device("dev/console", 5, 1);
    cpio.file("bin/busybox", 0o755, &busybox);
    cpio.file(MODULE_PATH.trim_start_matches('/'), 0o644, &module);
    cpio.file("init", 0o755, init.as_bytes());
    Ok(cpio.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newc_entries_are_aligned_and_terminated() {
        let mut cpio = Cpio::default();
        cpio.file("init", 0o755, b"#!/bin/sh\n");
        let bytes = cpio.finish();
        assert!(bytes.starts_with(b"070701"));
        // Mode field (second): a regular file, rwxr-xr-x.
        assert_eq!(&bytes[14..22], b"000081ed");
        // Name size (twelfth field) counts the NUL.
        assert_eq!(&bytes[6 + 11 * 8..6 + 12 * 8], b"00000005");
        // Header (110) + "init\0" = 115, padded to 116; data 10 bytes padded to 12.
        assert_eq!(&bytes[116..126], b"#!/bin/sh\n");
        assert_eq!(&bytes[128..134], b"070701");
        assert!(bytes.windows(10).any(|w| w == b"TRAILER!!!"));
        assert_eq!(bytes.len() % 512, 0);
    }
}
