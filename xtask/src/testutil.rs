// SPDX-License-Identifier: GPL-2.0

//! Builders that several modules' tests share: a VM that boots nothing, and a test result.

use crate::results::{Kind, Status, TestResult};
use crate::vm::accel::Accel;
use crate::vm::Vm;
use std::time::Duration;

/// A VM on TCG with two CPUs and 512 MB, nothing else: tests change what they need with
/// `Vm { field, ..vm() }`. Its QEMU does not exist; booting it is an error.
pub fn vm() -> Vm {
    Vm {
        arch: crate::arch::Arch::X86_64,
        qemu: "/nonexistent/qemu".into(),
        accel: Accel::Tcg,
        kernel: "/k/bzImage".into(),
        initrd: "/i.cpio".into(),
        cpus: 2,
        memory_mb: 512,
        devices: Vec::new(),
        cmdline: Vec::new(),
        timeout: Duration::from_secs(1),
        interactive: false,
        boot_marker: None,
        harness_log: None,
        resume: None,
        until: None,
        stop_when_broken: false,
        quiet: None,
        console_cap: None,
    }
}

/// The result `name` gave, with `failures` (none for a pass), in one second, its console in
/// `/out/<name>/console.log`.
pub fn result(name: &str, kind: Kind, status: Status, failures: &[&str]) -> TestResult {
    TestResult {
        name: name.into(),
        kind,
        description: String::new(),
        status,
        seconds: 1.0,
        failures: failures.iter().map(|f| f.to_string()).collect(),
        error: None,
        reports: Vec::new(),
        ending: None,
        after: Vec::new(),
        console: format!("/out/{name}/console.log").into(),
    }
}
