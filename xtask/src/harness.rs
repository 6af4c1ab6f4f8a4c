// SPDX-License-Identifier: GPL-2.0

//! What the commands share: the build step (toolchain, kernel, this run's output directory),
//! the boot step on top of it (the module and its guest copy, the accelerator, snapshots),
//! and booting a scenario and judging it.

use crate::cmd;
use crate::error::{Context, Error, Result, EXIT_UNAVAILABLE};
use crate::guest::{boot_marker, init_script, steps_script, Finish, Step, FLUSHED};
use crate::initramfs;
use crate::kernel::{self, Choice};
use crate::module;
use crate::paths;
use crate::scenario::Scenario;
use crate::settings::Settings;
use crate::setup::{self, Toolchain};
use crate::verdict::{self, Boot, Verdict};
use crate::vm::accel::{self, Accel};
use crate::vm::snapshot;
use crate::vm::{End, Resume, Vm};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What the build step made: the toolchain, the kernel, and this run's output directory.
pub struct Built {
    /// The command's settings, passed on to every later step.
    pub settings: Settings,
    pub tools: Toolchain,
    pub kernel: kernel::Build,
    /// `target/irqlock/<command>-<time>-<pid>/`.
    pub out: PathBuf,
}

/// The build step: installs missing tools (as `cargo xtask setup` does; nothing when all are
/// present), builds the kernel (if not cached), and makes this run's output directory. Starts
/// no VM.
pub fn build(settings: &Settings, source: &Choice, command: &str) -> Result<Built> {
    let tools = setup::setup(settings, false, source.arch)?;
    let kernel = kernel::build(settings, &tools, source)?;
    let out = paths::run_dir(settings, command)?;
    Ok(Built { settings: *settings, tools, kernel, out })
}

/// Everything a boot needs, built or found, and this run's own output directory.
pub struct Prepared {
    /// The command's settings, passed on to every boot.
    pub settings: Settings,
    pub tools: Toolchain,
    pub kernel: kernel::Build,
    /// This run's copy of the module just built: a later build cannot change it under us.
    pub module: PathBuf,
    /// The same without debug information, for the guest.
    pub guest_module: PathBuf,
    /// `target/irqlock/<command>-<time>-<pid>/`.
    pub out: PathBuf,
    /// Resume a saved booted guest for each boot ([`crate::vm::snapshot`]) rather than boot.
    pub snapshots: bool,
    pub accel: Accel,
}

/// The build step, then the boot step: the module and the guest's copy of it, and the
/// accelerator (KVM only after its probe). Here a module that does not compile is a boot
/// that could not start (exit 69).
pub fn prepare(settings: &Settings, source: &Choice, command: &str) -> Result<Prepared> {
    let Built { settings, tools, kernel, out } = build(settings, source, command)?;
    let module = module::build(&settings, &tools, &kernel, &out)
        .map_err(|e| Error { exit_code: EXIT_UNAVAILABLE, ..e })?;
    let guest_module = module::guest_copy(&settings, &module)?;
    let snapshots = !settings.dry_run && !settings.no_snapshot;
    let accel = accel::decide(&settings, &tools, &kernel.bzimage)?;
    Ok(Prepared { settings, tools, kernel, module, guest_module, out, snapshots, accel })
}

/// What a resumed guest does before its steps. QEMU's edu device keeps no state across a
/// snapshot (not even its PCI configuration), so the guest forgets the devices it found at
/// boot and finds them again, as they are now.
fn resume_prelude(devices: &[String]) -> String {
    if devices.is_empty() {
        return String::new();
    }
    "irqlock_rescan_pci\n".to_string()
}

/// vCPUs per guest: two, so that one CPU's lockup detector can watch the other.
const CPUS: u32 = 2;
const MEMORY_MB: u32 = 512;
/// The kernel reaches user space in 2-6 s under TCG; a boot that has not after this hung.
const BOOT_DEADLINE: Duration = Duration::from_secs(60);

impl Prepared {
    /// The VM for `steps` on a machine with `devices` and `cmdline`: it resumes the saved
    /// guest for that machine (saving it first if the cache has none) and sends it the steps,
    /// or, with `--no-snapshot`, boots an initramfs that runs them.
    pub fn guest_vm(
        &self,
        dir: &Path,
        steps: &[Step],
        finish: Finish,
        timeout: Duration,
        devices: &[String],
        cmdline: &[String],
    ) -> Result<Vm> {
        // The booting initramfs is written either way: `qemu.sh` boots it by hand.
        let mut vm = self.vm(dir, steps, finish, timeout)?;
        vm.devices = devices.to_vec();
        vm.cmdline = cmdline.to_vec();
        if self.snapshots {
            let snapshot = snapshot::ensure(&vm, &self.tools.busybox, &self.guest_module)?;
            vm.resume = Some(Resume {
                snapshot: snapshot.file,
                initrd: snapshot.initrd,
                send: format!("{}{}", resume_prelude(devices), steps_script(steps, finish)),
            });
        }
        Ok(vm)
    }

    /// Writes the initramfs for `steps` into `dir` and returns the VM that boots it. With
    /// `--dry-run`, says what the initramfs would hold instead.
    pub fn vm(&self, dir: &Path, steps: &[Step], finish: Finish, timeout: Duration) -> Result<Vm> {
        let initrd = dir.join("initramfs.cpio");
        if self.settings.dry_run {
            println!(
                "# {}: {}, {} and /init, which runs:",
                initrd.display(),
                self.tools.busybox.display(),
                self.guest_module.display()
            );
            for line in init_script(steps, finish).lines() {
                println!("#   {line}");
            }
        } else {
            std::fs::create_dir_all(dir).context(|| format!("could not create {}", dir.display()))?;
            let store = self.out.join("initramfs");
            initramfs::write(&initrd, &store, &self.tools.busybox, &self.guest_module, steps, finish)?;
        }
        Ok(Vm {
            arch: self.tools.arch,
            qemu: self.tools.qemu.clone(),
            accel: self.accel,
            kernel: self.kernel.bzimage.clone(),
            initrd: dir.join("initramfs.cpio"),
            cpus: CPUS,
            memory_mb: MEMORY_MB,
            devices: Vec::new(),
            cmdline: Vec::new(),
            timeout,
            interactive: finish == Finish::Shell,
            // A guest that ran to its end need not reboot: stop it once its console is complete.
            until: (finish == Finish::PowerOff).then(|| FLUSHED.to_string()),
            stop_when_broken: false,
            quiet: None,
            boot_marker: Some((boot_marker(), BOOT_DEADLINE * self.tools.arch.boot_factor())),
            harness_log: Some(dir.join("harness.log")),
            resume: None,
            console_cap: None,
        })
    }
}

fn scenario_vm(prepared: &Prepared, scenario: &Scenario, dir: &Path) -> Result<Vm> {
    let timeout = Duration::from_secs(scenario.timeout_s);
    let steps = scenario.steps();
    let mut vm =
        prepared.guest_vm(dir, &steps, Finish::PowerOff, timeout, &scenario.devices, &scenario.cmdline)?;
    // A scenario is judged up to its point of no return, and a hang is seen, not waited out.
    vm.stop_when_broken = true;
    vm.quiet = Some(scenario.quiet());
    Ok(vm)
}

/// `--dry-run`: the initramfs and the QEMU command line that would boot `scenario`.
pub fn show_boot(prepared: &Prepared, scenario: &Scenario, out: &Path) -> Result<()> {
    let dir = out.join(&scenario.name);
    let vm = scenario_vm(prepared, scenario, &dir)?;
    println!("{} > {}", cmd::display(&vm.command()), dir.join("console.log").display());
    Ok(())
}

/// Boots `scenario` once, its files under `out/<name>/`, and judges the console. Returns the
/// verdict, the console text, and the seconds from QEMU's start to the verdict.
pub fn boot_scenario(prepared: &Prepared, scenario: &Scenario, out: &Path) -> Result<(Verdict, String, f64)> {
    let dir = out.join(&scenario.name);
    let started = Instant::now();
    let vm = scenario_vm(prepared, scenario, &dir)?;
    let mut run = vm.boot(&dir.join("console.log"), false)?;
    if run.end == End::BootHang {
        // The kernel hung before user space: nothing the scenario did. Boot once more.
        eprintln!("test: {}: the kernel hung before user space; booting again", scenario.name);
        let first = dir.join("console-boot-hang.log");
        let _ = std::fs::rename(&run.console, &first);
        run = vm.boot(&dir.join("console.log"), false)?;
    }
    // For `test --rejudge`; without it this boot's verdict stands, but cannot be made again.
    let end_file = dir.join(crate::vm::END_FILE);
    if let Err(e) = std::fs::write(&end_file, format!("{}\n", run.end)) {
        eprintln!("test: {}: could not write {}: {e}", scenario.name, end_file.display());
    }
    let (verdict, log) = judge_kept(scenario, &dir, run.end)?;
    Ok((verdict, log, started.elapsed().as_secs_f64()))
}

/// Judges the boot of `scenario` kept in `dir` (its `console.log` and `harness.log`, as
/// [`Prepared::vm`] names them) that ended so: right after the boot, and again by
/// `test --rejudge`. Returns the verdict and the console text; errors if there is no console.
pub fn judge_kept(scenario: &Scenario, dir: &Path, end: End) -> Result<(Verdict, String)> {
    let console = dir.join("console.log");
    let bytes = std::fs::read(&console).context(|| format!("could not read {}", console.display()))?;
    let log = String::from_utf8_lossy(&bytes).into_owned();
    let harness = harness_text(&dir.join("harness.log"));
    let verdict = verdict::judge(scenario, &Boot { console: &log, harness: &harness, end });
    Ok((verdict, log))
}

/// What the init script wrote to ttyS1, or nothing.
pub fn read_harness_log(vm: &Vm) -> String {
    vm.harness_log.as_deref().map(harness_text).unwrap_or_default()
}

/// The ttyS1 log at `path` without its carriage returns, or nothing.
fn harness_text(path: &Path) -> String {
    std::fs::read(path).map(|bytes| String::from_utf8_lossy(&bytes).replace('\r', "")).unwrap_or_default()
}
