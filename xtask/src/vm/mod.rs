// SPDX-License-Identifier: GPL-2.0

//! The VM: QEMU booting a guest, or resuming a saved one, capturing its serial console, and
//! stopping it at its end, at a timeout or at a hang.
//!
//! - this file: what to boot ([`Vm`]) and its QEMU command line; how a VM ended ([`End`]);
//! - `boot.rs`: [`Vm::boot`], watching the console until the VM ends;
//! - `steps.rs`: the handshake that hands a resumed guest its steps, both halves;
//! - `monitor.rs`: QEMU's monitor; `diagnose.rs`: what is recorded of a guest stopped at a hang;
//! - `snapshot.rs`: booted guests kept and resumed; `accel.rs`: KVM or TCG.

pub mod accel;
mod boot;
mod diagnose;
mod monitor;
pub mod snapshot;
mod steps;

use crate::arch::Arch;
use accel::Accel;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// What to boot and how.
#[derive(Debug, Clone)]
pub struct Vm {
    /// The guest's architecture: QEMU's machine and the serial ports' names.
    pub arch: Arch,
    pub qemu: PathBuf,
    pub accel: Accel,
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    pub cpus: u32,
    pub memory_mb: u32,
    /// Extra `-device` values, such as `edu`.
    pub devices: Vec<String>,
    /// Extra kernel command-line options.
    pub cmdline: Vec<String>,
    pub timeout: Duration,
    /// Give the console to the user (keyboard in, screen out) instead of only capturing it.
    pub interactive: bool,
    /// A line the guest prints once user space runs, and how long the kernel may take to get
    /// there; past that the boot itself hung, whatever the scenario.
    pub boot_marker: Option<(String, Duration)>,
    /// The file behind the guest's second serial port (ttyS1), where the init script writes
    /// its markers and step output, apart from kernel messages.
    pub harness_log: Option<PathBuf>,
    /// Resume this booted guest instead of booting (a snapshot of [`crate::vm::snapshot`]), and
    /// send it its steps on ttyS1.
    pub resume: Option<Resume>,
    /// Stop QEMU as soon as the console shows this text: every scenario boot waits for
    /// [`crate::guest::FLUSHED`], the last line of a guest that ran to its end; `cargo xtask
    /// bench` for the shell's prompt.
    pub until: Option<String>,
    /// Stop QEMU once the report of a point of no return
    /// ([`crate::triage::POINTS_OF_NO_RETURN`]) has ended: [`End::Broken`].
    pub stop_when_broken: bool,
    /// After this long without a byte from the guest (console or channel), look at where its
    /// CPUs are; each in the same function while QEMU runs it for a second is [`End::Hung`].
    /// Needs the monitor of a resumed guest.
    pub quiet: Option<Duration>,
    /// The most bytes of the console kept, in bytes: past it the harness stops QEMU and the
    /// run is [`Run::capped`] (a guest that floods its console). `None`: no limit.
    pub console_cap: Option<u64>,
}

/// A saved guest to resume, and what to tell it.
#[derive(Debug, Clone)]
pub struct Resume {
    pub snapshot: PathBuf,
    /// The initramfs the saved guest was booted with (the VM's own `initrd` boots the steps
    /// from scratch, as `qemu.sh` does by hand).
    pub initrd: PathBuf,
    /// The steps, written to the guest's ttyS1 once it runs (see `send_steps`).
    pub send: String,
}

/// A finished boot: how it ended, its console, and how long it took.
#[derive(Debug, Clone)]
pub struct Run {
    pub end: End,
    pub console: PathBuf,
    pub wall: Duration,
    /// The console reached [`Vm::console_cap`]: the file holds its first bytes, then the line
    /// [`CONSOLE_CAPPED`], and QEMU was stopped.
    pub capped: bool,
}

/// The line the harness writes at the end of a console it stopped at [`Vm::console_cap`].
pub const CONSOLE_CAPPED: &str = "irqlock: the harness stopped the guest: its console reached the size limit";

/// How the VM ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum End {
    /// QEMU exited by itself: the guest powered off, or panicked (`panic=-1 -no-reboot`).
    Exited(Option<i32>),
    /// The timeout passed and the harness stopped QEMU.
    TimedOut,
    /// The guest fell silent (no console, no step output) with every CPU in the same function
    /// while QEMU ran it for a second, and the harness stopped QEMU: a hang, seen before the
    /// timeout.
    Hung,
    /// The console showed a point of no return ([`crate::triage::POINTS_OF_NO_RETURN`]) and
    /// its report ended, and the harness stopped QEMU: what a broken kernel does next is not
    /// judged.
    Broken,
    /// The kernel did not reach user space in time (a boot hang, before any scenario step);
    /// the harness stopped QEMU.
    BootHang,
    /// The console showed what the harness waited for, and it stopped QEMU.
    Seen,
}

/// The file beside a boot's console that says how it ended, in [`End`]'s text form: what
/// `cargo xtask test --rejudge` needs besides the console and ttyS1's log.
pub const END_FILE: &str = "end.txt";

impl std::fmt::Display for End {
    /// `exited 0`, `exited` (by a signal), `timed out`, `hung`, `broken`, `boot hang`, `seen`.
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            End::Exited(Some(code)) => write!(f, "exited {code}"),
            End::Exited(None) => f.write_str("exited"),
            End::TimedOut => f.write_str("timed out"),
            End::Hung => f.write_str("hung"),
            End::Broken => f.write_str("broken"),
            End::BootHang => f.write_str("boot hang"),
            End::Seen => f.write_str("seen"),
        }
    }
}

impl std::str::FromStr for End {
    type Err = String;

    /// The text [`End`]'s `Display` writes; anything else is an error that quotes it.
    fn from_str(text: &str) -> Result<Self, String> {
        Ok(match text.trim() {
            "exited" => End::Exited(None),
            "timed out" => End::TimedOut,
            "hung" => End::Hung,
            "broken" => End::Broken,
            "boot hang" => End::BootHang,
            "seen" => End::Seen,
            other => match other.strip_prefix("exited ").map(str::parse) {
                Some(Ok(code)) => End::Exited(Some(code)),
                _ => return Err(format!("not a way a boot ends: {other:?}")),
            },
        })
    }
}

impl Vm {
    /// The QEMU command line; every option says why it is there.
    pub fn command(&self) -> Command {
        let mut qemu = Command::new(&self.qemu);
        qemu.args(self.accel_args());
        // Real SMP: lockup detectors need a second CPU to watch the first.
        qemu.args(["-smp", &self.cpus.to_string()]);
        qemu.args(["-m", &self.memory_mb.to_string()]);
        // No default devices (VGA, NIC, floppy): only what a scenario asks for.
        qemu.arg("-nodefaults");
        // No window; the serial port is the console.
        qemu.arg("-nographic");
        // A guest reboot (`reboot -f`, or a panic with panic=-1) ends QEMU instead.
        qemu.arg("-no-reboot");
        // The guest's ttyS0 on QEMU's stdin/stdout.
        qemu.args(["-serial", "stdio"]);
        if let Some(path) = &self.harness_log {
            // ttyS1: the harness's own channel, which kernel messages never cut into.
            if self.resume.is_some() {
                // Both ways: the harness sends the steps on it, and copies what comes back.
                qemu.arg("-chardev").arg(format!(
                    "socket,id=harness,path={},server=on,wait=off",
                    socket_path(path, "sock").display()
                ));
                qemu.args(["-serial", "chardev:harness"]);
            } else {
                qemu.arg("-serial").arg(format!("file:{}", path.display()));
            }
        }
        // The same machine every run.
        qemu.args(self.arch.machine_args(self.accel));
        qemu.arg("-kernel").arg(&self.kernel);
        qemu.arg("-initrd").arg(self.resume.as_ref().map_or(&self.initrd, |r| &r.initrd));
        for device in &self.devices {
            qemu.args(["-device", device]);
        }
        qemu.arg("-append").arg(self.kernel_cmdline());
        if let (Some(resume), Some(log)) = (&self.resume, &self.harness_log) {
            // Load the saved guest instead of booting; it stays paused until `cont`.
            qemu.arg("-incoming").arg(format!("file:{}", resume.snapshot.display()));
            qemu.arg("-monitor")
                .arg(format!("unix:{},server=on,wait=off", socket_path(log, "mon").display()));
        }
        qemu
    }

    /// How QEMU runs the guest's code.
    pub fn accel_args(&self) -> &'static [&'static str] {
        match self.accel {
            // Software emulation: works everywhere, the same everywhere. One host thread runs
            // both vCPUs in turn (a spinning vCPU gives way at each PAUSE, and after 100 ms at
            // the latest). With a thread per vCPU, a CPU was seen to stop taking interrupts: its
            // local APIC kept the timer's vector in service while the CPU idled (about 1 boot in
            // 130 with 6 VMs on 2 cores, once in a CI run). One thread is also faster here.
            Accel::Tcg => &["-accel", "tcg,thread=single"],
            // Hardware virtualisation, once a probe has shown it boots this kernel.
            Accel::Kvm => &["-accel", "kvm", "-cpu", "host"],
        }
    }

    /// The kernel's command line: the harness's options, then the scenario's.
    pub fn kernel_cmdline(&self) -> String {
        let mut append = vec![
            // Kernel messages and init's output on the serial port.
            format!("console={}", self.arch.serial_ttys().0),
            // Reboot at once on a panic, which -no-reboot turns into QEMU exiting.
            "panic=-1".to_string(),
            // ... without first trying for a second to stop the other CPUs, which a CPU
            // spinning with interrupts off (a hard lockup) never answers.
            "reboot=force".to_string(),
        ];
        if self.arch != Arch::X86_64 {
            // The harness's channel, for the init script (the kernel passes an unknown
            // `name=value` without a dot to init as an environment variable, init/main.c).
            append.push(format!("irqlock_tty={}", self.arch.serial_ttys().1));
            append.extend(self.arch.kernel_args().iter().map(|a| a.to_string()));
        }
        append.extend(self.cmdline.iter().cloned());
        append.join(" ")
    }
}

/// The socket of one VM's channel (`sock`) or monitor (`mon`), named after its harness log.
/// It lives in the temporary directory, because a Unix socket's path may not exceed 107 bytes,
/// which a checkout's run directories can.
pub fn socket_path(harness_log: &Path, ext: &str) -> PathBuf {
    use sha2::{Digest, Sha256};
    let id = crate::paths::hex(&Sha256::digest(harness_log.display().to_string())[..8]);
    std::env::temp_dir().join(format!("irqlock-{id}.{ext}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd;

    #[test]
    fn command_line_carries_devices_and_options() {
        let vm = Vm {
            devices: vec!["edu".into()],
            cmdline: vec!["watchdog_thresh=2".into()],
            harness_log: Some("/t/harness.log".into()),
            ..crate::testutil::vm()
        };
        let line = cmd::display(&vm.command());
        assert!(line.contains(" -smp 2 -m 512 "), "{line}");
        assert!(line.contains(" -device edu "), "{line}");
        assert!(line.contains(" -serial stdio -serial file:/t/harness.log "), "{line}");
        assert!(line.ends_with("-append 'console=ttyS0 panic=-1 reboot=force watchdog_thresh=2'"), "{line}");
    }

    #[test]
    fn every_end_reads_back_from_its_text() {
        let ends = [
            End::Exited(Some(0)),
            End::Exited(Some(-1)),
            End::Exited(None),
            End::TimedOut,
            End::Hung,
            End::Broken,
            End::BootHang,
            End::Seen,
        ];
        for end in ends {
            assert_eq!(end.to_string().parse::<End>(), Ok(end), "{end}");
        }
        assert_eq!("seen\n".parse::<End>(), Ok(End::Seen));
        assert!("exited x".parse::<End>().unwrap_err().contains("\"exited x\""));
        assert!("Hung".parse::<End>().is_err());
    }
}
