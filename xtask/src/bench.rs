// SPDX-License-Identifier: GPL-2.0

//! `cargo xtask bench`: what a boot costs, measured in one run on this machine, with the
//! ratios that compare across machines.

use crate::arch::Arch;
use crate::cmd;
use crate::error::{Result, EXIT_FAIL, EXIT_PASS};
use crate::guest::Finish;
use crate::harness::{prepare, Prepared};
use crate::kernel::Choice;
use crate::labs;
use crate::paths::project_dir;
use crate::results::{self, Kind};
use crate::run::lab_vm;
use crate::scenario;
use crate::settings::Settings;
use crate::test::run_matrix;
use crate::vm::End;
use std::time::{Duration, Instant};

/// Boots of each kind to take the median of.
const SAMPLES: usize = 3;

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

/// The seconds from QEMU's start to its exit for a guest that powers off as soon as user
/// space runs: the kernel's own boot, the reference every other figure is divided by.
fn bare_boot(prepared: &Prepared, n: usize) -> Result<f64> {
    let dir = prepared.out.join(format!("bare-{n}"));
    let mut vm = prepared.vm(&dir, &[], Finish::PowerOff, Duration::from_secs(120))?;
    // All the way to QEMU's exit, as a plain boot-and-power-off would.
    vm.until = None;
    let run = vm.boot(&dir.join("console.log"), false)?;
    Ok(run.wall.as_secs_f64())
}

/// The seconds until the lab VM's shell prompt is on the console.
fn shell_prompt(prepared: &Prepared, n: usize) -> Result<f64> {
    let dir = prepared.out.join(format!("shell-{n}"));
    let mut vm = lab_vm(prepared, &dir, &[], &[])?;
    vm.interactive = false;
    vm.timeout = Duration::from_secs(120);
    vm.until = Some("/ # ".to_string());
    let run = vm.boot(&dir.join("console.log"), false)?;
    if run.end != End::Seen {
        eprintln!("bench: the shell's prompt never came ({:?}); see {}", run.end, run.console.display());
    }
    Ok(run.wall.as_secs_f64())
}

/// `cargo xtask bench --other-arch A`: the bare boot and the whole matrix on the other
/// architecture too, in the same run, and their ratios to this one's (`bare`, `matrix`, in
/// seconds). Returns the lines to print and how many of its tests did not pass.
fn other_arch(
    settings: &Settings,
    source: &Choice,
    other: Arch,
    jobs: usize,
    (bare, matrix): (f64, f64),
) -> Result<(String, usize)> {
    let choice = Choice { arch: other, ..source.clone() };
    let mut prepared = prepare(settings, &choice, &format!("bench-{}", other.name()))?;
    let snapshots = prepared.snapshots;
    let scenarios: Vec<_> = scenario::load_all(&project_dir().join("tests/scenarios"))?
        .iter()
        .filter_map(|s| s.for_target(choice.flavour, other))
        .collect();
    let blocks: Vec<_> = labs::load(&project_dir().join("docs/labs"))?
        .into_iter()
        .filter(|b| b.kernel == choice.flavour && b.applies(other))
        .collect();
    prepared.snapshots = false;
    let other_bare: Vec<f64> = (0..SAMPLES).map(|n| bare_boot(&prepared, n)).collect::<Result<_>>()?;
    prepared.snapshots = snapshots;
    if snapshots {
        eprintln!("bench: making sure every {} snapshot is saved", other.name());
        run_matrix(&prepared, &scenarios, &[], jobs, &prepared.out.join("warm-up"));
    }
    let started = Instant::now();
    let results = run_matrix(&prepared, &scenarios, &blocks, jobs, &prepared.out.join("matrix"));
    let other_matrix = started.elapsed().as_secs_f64();
    let (_, fail, error) = results::counts(&results);
    let other_bare = median(other_bare);
    let (this, that) = (source.arch.name(), other.name());
    let mut out =
        format!("\n{that} in the same run ({} scenarios, {} lab blocks)\n", scenarios.len(), blocks.len());
    out += &format!(
        "  bare boot     {that} {other_bare:.2}s   {this} {bare:.2}s   {that}/{this} {:.2}\n",
        other_bare / bare
    );
    out += &format!(
        "  whole matrix  {that} {other_matrix:.1}s   {this} {matrix:.1}s   {that}/{this} {:.2}\n",
        other_matrix / matrix
    );
    eprintln!("bench: {that} output in {}", prepared.out.display());
    Ok((out, fail + error))
}

/// `cargo xtask bench`; with `other`, the other architecture's bare boot and matrix too.
pub fn bench(settings: &Settings, source: &Choice, jobs: usize, other: Option<Arch>) -> Result<i32> {
    let mut prepared = prepare(settings, source, "bench")?;
    let snapshots = prepared.snapshots;
    // The scenarios and lab blocks as `cargo xtask test` runs them on this kernel.
    let scenarios: Vec<_> = scenario::load_all(&project_dir().join("tests/scenarios"))?
        .iter()
        .filter_map(|s| s.for_target(source.flavour, source.arch))
        .collect();
    let blocks: Vec<_> = labs::load(&project_dir().join("docs/labs"))?
        .into_iter()
        .filter(|b| b.kernel == source.flavour && b.applies(source.arch))
        .collect();

    if settings.dry_run {
        let dir = prepared.out.join("bare-0");
        let vm = prepared.vm(&dir, &[], Finish::PowerOff, Duration::from_secs(120))?;
        println!("{} > {}", cmd::display(&vm.command()), dir.join("console.log").display());
        for scenario in &scenarios {
            crate::harness::show_boot(&prepared, scenario, &prepared.out.join("matrix"))?;
        }
        return Ok(EXIT_PASS);
    }
    // Bare boots first, one at a time, on an idle machine.
    prepared.snapshots = false;
    let bare: Vec<f64> = (0..SAMPLES).map(|n| bare_boot(&prepared, n)).collect::<Result<_>>()?;
    prepared.snapshots = snapshots;

    // Warm: the snapshots this matrix needs exist before anything is timed.
    if snapshots {
        eprintln!("bench: making sure every snapshot is saved");
        run_matrix(&prepared, &scenarios, &[], jobs, &prepared.out.join("warm-up"));
    }
    // Each scenario alone on an idle machine, as the bare boot was: what one `cargo xtask
    // run` waits for.
    eprintln!("bench: each scenario alone");
    let alone = run_matrix(&prepared, &scenarios, &[], 1, &prepared.out.join("alone"));
    let started = Instant::now();
    let results = run_matrix(&prepared, &scenarios, &blocks, jobs, &prepared.out.join("matrix"));
    let matrix = started.elapsed().as_secs_f64();
    let shell: Vec<f64> = (0..SAMPLES).map(|n| shell_prompt(&prepared, n)).collect::<Result<_>>()?;
    // The same matrix booting every VM, for comparison.
    let booted = if snapshots {
        prepared.snapshots = false;
        let started = Instant::now();
        let results = run_matrix(&prepared, &scenarios, &blocks, jobs, &prepared.out.join("matrix-booted"));
        let seconds = started.elapsed().as_secs_f64();
        let per: Vec<f64> = results.iter().filter(|r| r.kind == Kind::Scenario).map(|r| r.seconds).collect();
        Some((seconds, median(per)))
    } else {
        None
    };

    let bare_median = median(bare.clone());
    let seconds = |results: &[results::TestResult]| -> Vec<(String, f64)> {
        results.iter().filter(|r| r.kind == Kind::Scenario).map(|r| (r.name.clone(), r.seconds)).collect()
    };
    let per_scenario = seconds(&alone);
    let in_matrix = seconds(&results);
    let verdict_median = median(per_scenario.iter().map(|(_, s)| *s).collect());
    let matrix_median = median(in_matrix.iter().map(|(_, s)| *s).collect());
    let (pass, fail, error) = results::counts(&results);
    let (_, alone_fail, alone_error) = results::counts(&alone);

    let mut out = String::new();
    out += &format!(
        "irqlock bench: {} CPUs, --jobs {jobs}, {}\n\n",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        if snapshots { "scenarios resume a snapshot" } else { "every scenario boots (--no-snapshot)" }
    );
    let list = |v: &[f64]| v.iter().map(|s| format!("{s:.2}")).collect::<Vec<_>>().join(" ");
    out += &format!("bare boot (reference)         median {bare_median:.2}s   ({} s)\n", list(&bare));
    out += "boot-to-verdict per scenario         alone     x bare   in the matrix\n";
    for ((name, seconds), (_, shared)) in per_scenario.iter().zip(&in_matrix) {
        out += &format!("  {name:<34} {seconds:6.2}s  {:5.2}      {shared:6.2}s\n", seconds / bare_median);
    }
    out += &format!(
        "boot-to-verdict               median {verdict_median:.2}s   {:.2} x bare   (in the matrix, {jobs} at a time: median {matrix_median:.2}s, {:.2} x bare)\n",
        verdict_median / bare_median,
        matrix_median / bare_median
    );
    out += &format!(
        "whole matrix ({} scenarios, {} lab blocks; {pass} passed, {} failed)   {matrix:.1}s   {:.1} x bare\n",
        per_scenario.len(),
        blocks.len(),
        fail + error,
        matrix / bare_median
    );
    if let Some((seconds, verdict)) = booted {
        out += &format!(
            "without snapshots (--no-snapshot): boot-to-verdict median {verdict:.2}s ({:.2} x bare), whole matrix {seconds:.1}s ({:.1} x bare)\n",
            verdict / bare_median,
            seconds / bare_median
        );
    }
    let shell_median = median(shell.clone());
    out += &format!(
        "shell at its prompt           median {shell_median:.2}s   {:.2} x bare   ({} s)\n",
        shell_median / bare_median,
        list(&shell)
    );
    out +=
        &format!("cargo xtask test --repeat 100 about {:.0} min (100 x the matrix)\n", matrix * 100.0 / 60.0);
    let mut other_failed = 0;
    if let Some(other) = other.filter(|o| *o != source.arch) {
        let (lines, failed) = other_arch(settings, source, other, jobs, (bare_median, matrix))?;
        out += &lines;
        other_failed = failed;
    }
    out += &crate::grade::class::bench(settings, source, jobs, &prepared.out)
        .unwrap_or_else(|e| format!("grading: could not be measured: {}\n", e.message));
    print!("{out}");
    eprintln!("bench: output in {}", prepared.out.display());
    let failed =
        [("booted alone", alone_fail + alone_error, "alone"), ("in the matrix", fail + error, "matrix")];
    for (when, count, dir) in failed.iter().filter(|(_, count, _)| *count > 0) {
        eprintln!(
            "bench: {count} tests did not pass {when}: these figures time failing boots; see {}",
            prepared.out.join(dir).display()
        );
    }
    if other_failed > 0 {
        eprintln!("bench: {other_failed} tests did not pass on the other architecture");
    }
    if other_failed > 0 || failed.iter().any(|(_, count, _)| *count > 0) {
        return Ok(EXIT_FAIL);
    }
    Ok(EXIT_PASS)
}
