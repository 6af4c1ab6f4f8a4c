// SPDX-License-Identifier: GPL-2.0

//! `cargo xtask run` (one boot with the given parameters, and what it showed) and
//! `cargo xtask shell` (the lab VM).

use crate::cmd;
use crate::error::{Context, Error, Result, EXIT_FAIL, EXIT_PASS, EXIT_USAGE};
use crate::guest::{Finish, Step};
use crate::harness::{prepare, read_harness_log, Prepared};
use crate::kernel::Choice;
use crate::scenario::Outcome;
use crate::settings::Settings;
use crate::verdict::{self, Boot};
use crate::vm::End;
use crate::vm::Vm;
use crate::vocab;
use std::time::Duration;

/// Options of `cargo xtask run`.
pub struct RunOptions {
    pub source: Choice,
    pub params: Vec<String>,
    pub rmmod: bool,
    pub timeout: Duration,
    pub devices: Vec<String>,
    pub cmdline: Vec<String>,
}

/// Boots once with the given module parameters, shows the console as it comes, and ends with
/// a one-line verdict naming the kernel reports seen.
///
/// Exit status: 0 when the guest ran to its end with insmod succeeding (kernel reports are
/// what a lesson shows, so they do not change it); 1 when insmod failed, the kernel panicked,
/// or the VM hung; 69 when it could not run.
pub fn run(settings: &Settings, options: &RunOptions) -> Result<i32> {
    // Names are checked before anything is built or booted.
    vocab::check_params(&options.params).map_err(|message| Error { message, exit_code: EXIT_USAGE })?;
    let mut devices = options.devices.clone();
    if vocab::value_of(&options.params, "source") == Some("edu") && !devices.iter().any(|d| d == "edu") {
        devices.push("edu".to_string());
    }
    let prepared = prepare(settings, &options.source, "run")?;
    let mut steps = vec![Step::Insmod(options.params.clone())];
    if options.rmmod {
        steps.push(Step::Rmmod);
    }
    let dir = prepared.out.clone();
    let vm =
        prepared.guest_vm(&dir, &steps, Finish::PowerOff, options.timeout, &devices, &options.cmdline)?;
    if settings.dry_run {
        println!("{} > {}", cmd::display(&vm.command()), dir.join("console.log").display());
        return Ok(EXIT_PASS);
    }
    let run = vm.boot(&dir.join("console.log"), true)?;
    let log = String::from_utf8_lossy(
        &std::fs::read(&run.console).context(|| "could not read the console".into())?,
    )
    .into_owned();
    let harness = read_harness_log(&vm);
    // The same reading of the boot as every scenario's verdict.
    let seen = verdict::see(&Boot { console: &log, harness: &harness, end: run.end });
    let insmod = match seen.insmod() {
        Some(0) => "insmod ok".to_string(),
        Some(status) => format!("insmod failed (exit {status})"),
        None => "insmod did not finish".to_string(),
    };
    let end = match seen.outcome {
        Outcome::Hang if run.end == End::BootHang => {
            "the kernel hung before user space and was stopped".to_string()
        }
        Outcome::Hang => format!("the VM hung and was stopped after {}s", options.timeout.as_secs()),
        Outcome::Panic => "the VM ended early (kernel panic)".to_string(),
        Outcome::Broken => "the kernel reached a point of no return".to_string(),
        Outcome::Clean | Outcome::Reports => "the guest finished".to_string(),
    };
    let failed =
        seen.insmod() != Some(0) || matches!(seen.outcome, Outcome::Hang | Outcome::Panic | Outcome::Broken);
    let reports = &seen.reports;
    let mut titles: Vec<String> = reports.iter().map(|r| format!("[{}]", r.title)).collect();
    if !seen.after.is_empty() {
        titles.push(format!("(and {} after the point of no return, not judged)", seen.after.len()));
    }
    println!(
        "\nverdict: {end}; {insmod}; {} kernel report{}{}{}; {:.1}s; console: {}",
        reports.len(),
        if reports.len() == 1 { "" } else { "s" },
        if reports.is_empty() { "" } else { ": " },
        titles.join(" "),
        run.wall.as_secs_f64(),
        run.console.display()
    );
    Ok(if failed { EXIT_FAIL } else { EXIT_PASS })
}

/// The lab VM: the shell on the console, as `cargo xtask shell` gives it.
pub fn lab_vm(
    prepared: &Prepared,
    dir: &std::path::Path,
    devices: &[String],
    cmdline: &[String],
) -> Result<Vm> {
    // A lab session has no time limit; the timeout applies to non-interactive boots only.
    let timeout = Duration::from_secs(u64::MAX / 4);
    prepared.guest_vm(dir, &[], Finish::Shell, timeout, devices, cmdline)
}

/// `cargo xtask shell`: the lab VM with a shell on the console. Leaving the shell powers off.
pub fn shell(settings: &Settings, source: &Choice, edu: bool, cmdline: Vec<String>) -> Result<i32> {
    let prepared = prepare(settings, source, "shell")?;
    let dir = prepared.out.clone();
    let devices = if edu { vec!["edu".to_string()] } else { Vec::new() };
    let mut vm = lab_vm(&prepared, &dir, &devices, &cmdline)?;
    vm.interactive = true;
    eprintln!("shell: try `insmod /irqlock.ko lock=mutex`, `dmesg`, `rmmod irqlock`, `cat /proc/interrupts`");
    eprintln!(
        "shell: `exit` powers the VM off; the console is kept in {}",
        dir.join("console.log").display()
    );
    if settings.dry_run {
        println!("{}", cmd::display(&vm.command()));
        return Ok(EXIT_PASS);
    }
    vm.boot(&dir.join("console.log"), true)?;
    Ok(EXIT_PASS)
}
