// SPDX-License-Identifier: GPL-2.0

//! Which accelerator QEMU uses: KVM only once a probe that cannot hang has shown it boots this
//! kernel, else TCG (software emulation), with one line saying why.
//!
//! `/dev/kvm` can exist and still not work: on nested machines `-cpu host` aborts ("failed to
//! set MSR"), and other CPU models hang after the firmware. The probe boots the kernel under
//! KVM for at most [`PROBE_LIMIT`] and looks for its first console line; its answer is kept in
//! the cache for a day, per QEMU and kernel.

use crate::arch::Arch;
use crate::children::{self, Kind};
use crate::cmd;
use crate::error::{Context, Error, Result};
use crate::paths::{cache_dir, hex};
use crate::settings::Settings;
use crate::setup::Toolchain;
use clap::ValueEnum;
use sha2::{Digest, Sha256};
use std::fs::{self, File};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

/// How long the probe waits for the kernel's first line under KVM.
const PROBE_LIMIT: Duration = Duration::from_secs(10);
/// How long a probe's answer is kept.
const PROBE_KEPT: Duration = Duration::from_secs(24 * 3600);

/// The `--accel` choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Choice {
    /// KVM if the probe shows it works, else TCG.
    #[default]
    Auto,
    /// KVM, or stop with the reason it does not work.
    Kvm,
    /// Software emulation, always.
    Tcg,
}

/// The accelerator a VM runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accel {
    Kvm,
    Tcg,
}

/// Decides the accelerator for `kernel` under `qemu`, as `--accel` asks.
pub fn decide(settings: &Settings, tools: &Toolchain, kernel: &Path) -> Result<Accel> {
    let (choice, qemu) = (settings.accel, tools.qemu.as_path());
    if choice == Choice::Tcg || settings.dry_run {
        // A dry run starts nothing, not even the probe; it shows the TCG command line.
        return Ok(Accel::Tcg);
    }
    if !tools.arch.kvm_possible() {
        // KVM runs only guests of the host's architecture: no probe.
        if choice == Choice::Kvm {
            return Err(Error::unavailable(format!(
                "--accel kvm: KVM cannot run an {} guest on this {} host; use --accel tcg (or auto)",
                tools.arch.name(),
                std::env::consts::ARCH
            )));
        }
        return Ok(Accel::Tcg);
    }
    match probe_cached(tools.arch, qemu, kernel) {
        Ok(()) => {
            eprintln!("qemu: KVM works here; using it");
            Ok(Accel::Kvm)
        }
        Err(why) if choice == Choice::Kvm => Err(Error::unavailable(format!(
            "--accel kvm: KVM does not work here: {why}; use --accel tcg (or auto)"
        ))),
        Err(why) => {
            eprintln!("qemu: KVM does not work here ({why}); using TCG, software emulation");
            Ok(Accel::Tcg)
        }
    }
}

fn probe_cached(arch: Arch, qemu: &Path, kernel: &Path) -> std::result::Result<(), String> {
    let version = cmd::output(Command::new(qemu).arg("--version")).unwrap_or_default();
    let key = hex(&Sha256::digest(format!("{version}\n{}\n", kernel.display()))[..8]);
    let file = cache_dir().join("accel").join(key);
    let fresh = fs::metadata(&file)
        .and_then(|m| m.modified())
        .is_ok_and(|t| SystemTime::now().duration_since(t).unwrap_or(PROBE_KEPT) < PROBE_KEPT);
    if fresh {
        if let Ok(answer) = fs::read_to_string(&file) {
            return if answer == "kvm" { Ok(()) } else { Err(answer) };
        }
    }
    let answer = probe(arch, qemu, kernel);
    let _ = fs::create_dir_all(file.parent().unwrap_or(Path::new(".")));
    let _ = fs::write(&file, answer.as_ref().map(|()| "kvm".to_string()).unwrap_or_else(|why| why.clone()));
    answer
}

/// Boots `kernel` under KVM until its first console line, for at most [`PROBE_LIMIT`].
fn probe(arch: Arch, qemu: &Path, kernel: &Path) -> std::result::Result<(), String> {
    if File::options().read(true).write(true).open("/dev/kvm").is_err() {
        return Err("/dev/kvm is missing or not usable by this user".to_string());
    }
    let dir = std::env::temp_dir().join(format!("irqlock-kvm-probe-{}", std::process::id()));
    fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let console = dir.join("console.log");
    let errors = dir.join("errors.log");
    let run = || -> Result<std::result::Result<(), String>> {
        let mut command = Command::new(qemu);
        command.args(["-accel", "kvm", "-cpu", "host"]).args(arch.machine_args(Accel::Kvm));
        command.args(["-m", "256", "-nodefaults", "-nographic", "-no-reboot", "-serial", "stdio"]);
        let append = format!("console={} panic=-1", arch.serial_ttys().0);
        command.arg("-kernel").arg(kernel).args(["-append", &append]);
        command.stdin(Stdio::null());
        command.stdout(File::create(&console).context(|| "probe console".into())?);
        command.stderr(File::create(&errors).context(|| "probe errors".into())?);
        let mut tracked = children::spawn(&mut command, "qemu (KVM probe)", Kind::Vm)
            .context(|| format!("could not start {}", qemu.display()))?;
        let started = Instant::now();
        loop {
            if fs::read_to_string(&console).is_ok_and(|c| c.contains("Linux version")) {
                let _ = tracked.child.kill();
                let _ = tracked.child.wait();
                return Ok(Ok(()));
            }
            if let Ok(Some(status)) = tracked.child.try_wait() {
                let said = fs::read_to_string(&errors).unwrap_or_default();
                let first = said.lines().next().unwrap_or("no message").trim().to_string();
                return Ok(Err(format!("QEMU under KVM exited ({status}): {first}")));
            }
            if started.elapsed() > PROBE_LIMIT {
                let _ = tracked.child.kill();
                let _ = tracked.child.wait();
                return Ok(Err(format!(
                    "the kernel printed nothing under KVM in {}s",
                    PROBE_LIMIT.as_secs()
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let answer = run().unwrap_or_else(|e| Err(e.message));
    let _ = fs::remove_dir_all(&dir);
    answer
}
