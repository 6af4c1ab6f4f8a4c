// SPDX-License-Identifier: GPL-2.0

//! `cargo xtask exercise`: small modules a learner fixes, judged by the kernel's own detectors.
//!
//! Each exercise is a directory under `exercises/` ([`spec`]): one annotated source from which
//! the starter, the solution and the wrong solutions are generated ([`source`]), built with
//! the project's own `Kbuild` ([`build`]), booted in the snapshot guest once per check, and
//! judged from what the kernel did ([`judge`]).

pub mod build;
pub mod judge;
pub mod source;
pub mod spec;

use crate::cmd;
use crate::error::{Context, Error, Result, EXIT_FAIL, EXIT_PASS, EXIT_UNAVAILABLE, EXIT_USAGE};
use crate::guest::{steps_script, Finish};
use crate::harness::{read_harness_log, Prepared};
use crate::kernel::{self, Choice, Flavour};
use crate::paths::{cache_dir, hex, project_dir};
use crate::results::{self, Kind, Status, TestResult};
use crate::settings::Settings;
use crate::setup::{self, Toolchain};
use crate::symbols;
use crate::triage;
use crate::vm::accel::{self, Accel};
use crate::vm::{snapshot, End, Resume, Vm};
use build::Built;
use sha2::{Digest, Sha256};
use spec::Exercise;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Snapshots of exercise modules kept in the cache (`snapshots-exercises/`), apart from
/// irqlock's: one per module built and machine.
const KEEP: usize = 8;

/// The most of a check's console kept, in bytes: a check's console is 10-60 KB (a flood of
/// 500 lines included); a module that prints past this is stopped and fails as a flood.
pub const CONSOLE_CAP: u64 = 1 << 20;

/// What a check needs from the harness: the tools, the lab kernel and this run's directory.
pub struct Lab {
    /// The command's settings, passed on to every build and boot.
    pub settings: Settings,
    pub tools: Toolchain,
    pub kernel: kernel::Build,
    pub flavour: Flavour,
    pub out: PathBuf,
    pub snapshots: bool,
    pub accel: Accel,
}

impl Lab {
    /// Sets up the tools and the cached kernel (built if missing) and this run's directory.
    pub fn new(settings: &Settings, choice: &Choice, command: &str) -> Result<Self> {
        let tools = setup::setup(settings, false, choice.arch)?;
        let kernel = kernel::build(settings, &tools, choice)?;
        let out = crate::paths::run_dir(settings, command)?;
        let snapshots = !settings.dry_run && !settings.no_snapshot;
        let accel = accel::decide(settings, &tools, &kernel.bzimage)?;
        Ok(Lab { settings: *settings, tools, kernel, flavour: choice.flavour, out, snapshots, accel })
    }

    /// The lab of a run that has prepared irqlock already (`cargo xtask test`).
    pub fn from_prepared(prepared: &Prepared, flavour: Flavour) -> Self {
        Lab {
            settings: prepared.settings,
            tools: prepared.tools.clone(),
            kernel: prepared.kernel.clone(),
            flavour,
            out: prepared.out.join("exercises"),
            snapshots: prepared.snapshots,
            accel: prepared.accel,
        }
    }

    /// Where `exercise`'s module built from `label` (`mine`, `solution`, ...) is built.
    fn build_dir(&self, exercise: &Exercise, label: &str) -> PathBuf {
        let kernel = self.kernel.dir.file_name().unwrap_or_default().to_string_lossy().into_owned();
        project_dir().join("target/irqlock-exercise").join(kernel).join(&exercise.name).join(label)
    }

    /// Builds `text`, which came from `origin`.
    pub fn build(&self, exercise: &Exercise, text: &str, origin: &Path, label: &str) -> Result<Built> {
        build::build(
            &self.settings,
            &self.tools,
            &self.kernel,
            exercise,
            text,
            origin,
            &self.build_dir(exercise, label),
            &|make| make,
            build::BUILD_DEADLINE,
        )
    }

    /// What a boot of `built` needs, as the rest of the harness has it.
    fn prepared(&self, built: &Built) -> Result<Prepared> {
        let guest_module = if self.settings.dry_run {
            built.ko.clone()
        } else {
            crate::module::guest_copy(&self.settings, &built.ko)?
        };
        Ok(Prepared {
            settings: self.settings,
            tools: self.tools.clone(),
            kernel: self.kernel.clone(),
            module: built.ko.clone(),
            guest_module,
            out: self.out.clone(),
            snapshots: self.snapshots,
            accel: self.accel,
        })
    }
}

/// A check's result, and where its boot is.
pub struct CheckRun {
    pub check: spec::Check,
    pub verdict: judge::Verdict,
    pub console: PathBuf,
    pub seconds: f64,
}

/// A number for this load that the module prints back: a line printed without it, by any
/// other code, does not count.
fn nonce() -> u32 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let mut hash = Sha256::new();
    hash.update(format!("{}{}", now.as_nanos(), std::process::id()));
    let bytes = hash.finalize();
    u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) % 1_000_000_000
}

/// The VM of one check: it resumes the saved guest that has `built` in its initramfs (made
/// first if missing), or boots one with `--no-snapshot`.
fn check_vm(
    prepared: &Prepared,
    dir: &Path,
    steps: &[crate::guest::Step],
    timeout: Duration,
    devices: &[String],
) -> Result<Vm> {
    let mut vm = guest_vm(prepared, dir, steps, Finish::PowerOff, timeout, devices)?;
    // A learner's module that hangs or breaks the kernel is seen in seconds, not waited out.
    vm.stop_when_broken = true;
    vm.quiet = Some(crate::scenario::QUIET);
    vm.console_cap = Some(CONSOLE_CAP);
    Ok(vm)
}

/// The VM for `steps` then `finish`, resuming the saved guest of `prepared`'s module in the
/// exercises' own snapshot cache.
fn guest_vm(
    prepared: &Prepared,
    dir: &Path,
    steps: &[crate::guest::Step],
    finish: Finish,
    timeout: Duration,
    devices: &[String],
) -> Result<Vm> {
    let mut vm = prepared.vm(dir, steps, finish, timeout)?;
    vm.devices = devices.to_vec();
    if prepared.snapshots {
        let root = cache_dir().join("snapshots-exercises");
        let saved = snapshot::ensure_in(&root, KEEP, &vm, &prepared.tools.busybox, &prepared.guest_module)?;
        // QEMU's edu device keeps no state across a snapshot: find it again.
        let prelude = if devices.is_empty() { "" } else { "irqlock_rescan_pci\n" };
        vm.resume = Some(Resume {
            snapshot: saved.file,
            initrd: saved.initrd,
            send: format!("{prelude}{}", steps_script(steps, finish)),
        });
    }
    Ok(vm)
}

/// Boots every check of `exercise` that runs on this kernel (or only the `only` ones) with
/// `built`, each in its own guest under `out/<name>/<label>/<check>/`.
pub fn run_checks(
    lab: &Lab,
    exercise: &Exercise,
    built: &Built,
    label: &str,
    only: Option<&[String]>,
) -> Result<Vec<CheckRun>> {
    let prepared = lab.prepared(built)?;
    let mut runs = Vec::new();
    for check in exercise.spec.checks.iter().filter(|c| c.runs_on(lab.flavour)) {
        if only.is_some_and(|names| !names.contains(&check.name)) {
            continue;
        }
        let dir = lab.out.join(&exercise.name).join(label).join(&check.name);
        let nonce = nonce();
        let steps = judge::steps(&exercise.spec, check, nonce);
        let timeout = Duration::from_secs(exercise.spec.timeout_s);
        let started = Instant::now();
        let vm = check_vm(&prepared, &dir, &steps, timeout, &check.devices)?;
        let console = dir.join("console.log");
        if lab.settings.dry_run {
            println!("{} > {}", cmd::display(&vm.command()), console.display());
            continue;
        }
        eprintln!("exercise: {} {label}: check {}: {}", exercise.name, check.name, check.description);
        let mut run = vm.boot(&console, false)?;
        if run.end == End::BootHang {
            eprintln!("exercise: the kernel hung before user space; booting again");
            run = vm.boot(&console, false)?;
        }
        let text = String::from_utf8_lossy(
            &std::fs::read(&run.console).context(|| "could not read the console".into())?,
        )
        .into_owned();
        let harness = read_harness_log(&vm);
        let boot = judge::Boot {
            console: &text,
            harness: &harness,
            end: run.end,
            timeout_s: exercise.spec.timeout_s,
        };
        let mut verdict = judge::judge(&exercise.spec, check, nonce, &boot);
        if run.capped {
            // The harness stopped the guest: what it did not finish is the flood's doing.
            verdict
                .failures
                .retain(|f| !["hang", "panic", "check-line", "lockdep-off"].contains(&f.what.as_str()));
            verdict.failures.insert(
                0,
                judge::Failure {
                    what: "flood".into(),
                    message: format!(
                        "the console passed {CONSOLE_CAP} bytes and the guest was stopped: a flood"
                    ),
                },
            );
        }
        runs.push(CheckRun {
            check: check.clone(),
            verdict,
            console,
            seconds: started.elapsed().as_secs_f64(),
        });
    }
    Ok(runs)
}

/// The source line of a report's guilty frame in the built module, named by the file the
/// learner edits when the frame is in it.
pub fn guilty_line(report: &triage::Report, built: &Built) -> Option<String> {
    let guilty = report.guilty_function.as_deref()?;
    let (symbol, offset) = report.lines.iter().filter(|l| !l.trim().starts_with("? ")).find_map(|l| {
        let frame = l.split_whitespace().next()?;
        let (symbol, offset) = symbols::split_frame(frame)?;
        (triage::demangle(symbol) == guilty).then(|| (symbol.to_string(), offset))
    })?;
    let root = built.compiled.parent()?;
    let line = symbols::source_line(&built.ko, &symbol, offset, root)?;
    let name = built.compiled.file_name()?.to_string_lossy().into_owned();
    Some(match line.strip_prefix(&format!("{name}:")) {
        Some(number) => format!("{}:{number}", shown(&built.origin).display()),
        None => line,
    })
}

/// `path` relative to the project when it is in it.
fn shown(path: &Path) -> PathBuf {
    path.strip_prefix(project_dir()).map(Path::to_path_buf).unwrap_or_else(|_| path.to_path_buf())
}

/// What a learner reads about one check.
pub fn explain(exercise: &Exercise, built: &Built, run: &CheckRun) -> String {
    let name = if run.check.hidden { format!("{} (hidden)", run.check.name) } else { run.check.name.clone() };
    if run.verdict.passed() {
        return format!("ok   {name}: {} ({:.1}s)\n", run.check.description, run.seconds);
    }
    let mut text = format!("FAIL {name}: {} ({:.1}s)\n", run.check.description, run.seconds);
    let mut hinted = Vec::new();
    let mut shown_reports = 0;
    let mut seen: Vec<&str> = Vec::new();
    for failure in &run.verdict.failures {
        if seen.contains(&failure.what.as_str()) {
            continue;
        }
        seen.push(&failure.what);
        text += &format!("  - {}\n", failure.message);
        if let Some(report) = run.verdict.reports.iter().find(|r| r.title == failure.what) {
            // The first report in full, as far as its call trace; the rest by their titles.
            if shown_reports == 0 {
                for line in report_head(report) {
                    text += &format!("      {line}\n");
                }
            }
            shown_reports += 1;
            if let Some(line) = guilty_line(report, built) {
                text +=
                    &format!("    your line: {line} ({})\n", report.guilty_function.as_deref().unwrap_or(""));
            }
        }
        if let Some(hint) = exercise.hint(&failure.what) {
            if !hinted.contains(&hint) {
                text += &format!("    hint: {hint}\n");
                hinted.push(hint);
            }
        }
    }
    text += &format!("  console: {}\n", shown(&run.console).display());
    text
}

/// The lines of a report a learner reads first: up to its call trace's first frames, without
/// registers, code bytes and stale (`?`) frames.
fn report_head(report: &triage::Report) -> Vec<String> {
    let noise = [
        "RIP:",
        "RSP:",
        "RAX:",
        "RDX:",
        "RBP:",
        "R10:",
        "R13:",
        "FS:",
        "CS:",
        "CR2:",
        "Code:",
        "? ",
        "irq event stamp",
        "hardirqs last",
        "softirqs last",
        "RCU nest depth",
        "<TASK>",
    ];
    let mut lines = Vec::new();
    let mut frames = 0;
    let mut in_trace = false;
    for line in &report.lines {
        let trimmed = line.trim_start();
        if noise.iter().any(|n| trimmed.starts_with(n)) {
            continue;
        }
        in_trace |= trimmed.starts_with("Call Trace:");
        if in_trace && !trimmed.starts_with('<') && !trimmed.starts_with("Call Trace:") {
            frames += 1;
            if frames > 8 {
                lines.push("...".to_string());
                break;
            }
        }
        lines.push(triage::demangle_line(line));
    }
    lines
}

/// The checks' results in the harness's result set, for KTAP, JSON and JUnit.
pub fn to_results(exercise: &Exercise, label: &str, runs: &[CheckRun], built: &Built) -> Vec<TestResult> {
    runs.iter()
        .map(|run| TestResult {
            name: format!("exercises/{} {label} {}", exercise.name, run.check.name),
            kind: Kind::Scenario,
            description: format!("{} (weight {})", run.check.description, run.check.weight),
            status: if run.verdict.passed() { Status::Pass } else { Status::Fail },
            seconds: run.seconds,
            failures: run
                .verdict
                .failures
                .iter()
                .map(|f| {
                    match run
                        .verdict
                        .reports
                        .iter()
                        .find(|r| r.title == f.what)
                        .and_then(|r| guilty_line(r, built))
                    {
                        Some(line) => format!("{} at {line}", f.message),
                        None => f.message.clone(),
                    }
                })
                .collect(),
            error: None,
            reports: run.verdict.reports.clone(),
            ending: None,
            after: Vec::new(),
            console: run.console.clone(),
        })
        .collect()
}

/// Where the state of each exercise is kept: the hash of the learner's file and how its last
/// check went.
fn state_file(exercise: &Exercise) -> PathBuf {
    project_dir().join("target/irqlock-exercise/state").join(&exercise.name)
}

fn digest(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes())[..12])
}

/// `not started`, `failing` or `passed`, as the last check of the learner's file said; a file
/// changed since it passed is failing until checked again.
pub fn state(exercise: &Exercise) -> &'static str {
    let Ok(mine) = std::fs::read_to_string(exercise.mine_path()) else {
        return "not started";
    };
    match std::fs::read_to_string(state_file(exercise)) {
        Ok(saved) if saved.trim() == format!("passed {}", digest(&mine)) => "passed",
        _ => "failing",
    }
}

fn save_state(exercise: &Exercise, text: &str, passed: bool) {
    let file = state_file(exercise);
    let _ = std::fs::create_dir_all(file.parent().unwrap_or(Path::new(".")));
    let word = if passed { "passed" } else { "failing" };
    let _ = std::fs::write(file, format!("{word} {}\n", digest(text)));
}

/// `cargo xtask exercise`: the list, and where each stands.
pub fn list() -> Result<i32> {
    let exercises = spec::load_all(&spec::root())?;
    println!("{:<4} {:<32} {:<12} lab", "", "exercise", "state");
    for exercise in &exercises {
        println!(
            "{:<4} {:<32} {:<12} {}",
            exercise.number,
            exercise.name,
            state(exercise),
            exercise.spec.lab
        );
    }
    let next = exercises.iter().find(|e| state(e) != "passed");
    match next {
        Some(e) if state(e) == "not started" => println!("\nnext: cargo xtask exercise start {}", e.number),
        Some(e) => println!(
            "\nnext: edit {} and run cargo xtask exercise check {}",
            shown(&e.mine_path()).display(),
            e.number
        ),
        None => println!("\nevery exercise passed"),
    }
    Ok(EXIT_PASS)
}

/// `cargo xtask exercise start N`: writes the starter where the learner edits it.
pub fn start(settings: &Settings, which: &str, force: bool) -> Result<i32> {
    let exercises = spec::load_all(&spec::root())?;
    let exercise = spec::find(&exercises, which)?;
    let mine = exercise.mine_path();
    if mine.exists() && !force {
        return Err(Error {
            message: format!(
                "{} exists and may hold your work; check it with `cargo xtask exercise check {}`, \
                 or start over with `--force`",
                shown(&mine).display(),
                exercise.number
            ),
            exit_code: EXIT_USAGE,
        });
    }
    let starter =
        source::generate(&exercise.source()?, "starter").map_err(|e| Error::unavailable(e.message))?;
    if settings.dry_run {
        println!("would write {} ({} lines)", shown(&mine).display(), starter.lines().count());
        return Ok(EXIT_PASS);
    }
    std::fs::write(&mine, starter).context(|| format!("could not write {}", mine.display()))?;
    let _ = std::fs::remove_file(state_file(exercise));
    println!("{}: {}", exercise.name, exercise.spec.title);
    println!("wrote {}; the lab: {}", shown(&mine).display(), exercise.spec.lab);
    println!(
        "change the lines between `// TODO n:` and `// END TODO n`, then run `cargo xtask exercise check {}`",
        exercise.number
    );
    Ok(EXIT_PASS)
}

/// Options of `cargo xtask exercise check`.
pub struct CheckOptions {
    pub which: String,
    /// Check this file instead of the exercise's `mine.rs`.
    pub file: Option<PathBuf>,
    pub json: Option<PathBuf>,
    pub junit: Option<PathBuf>,
    pub ktap: bool,
}

/// `cargo xtask exercise check N`: builds the learner's file and boots every check.
/// Exit status: 0 every check passed; 1 a check failed or the file does not compile; 69 the
/// harness could not run.
pub fn check(settings: &Settings, choice: &Choice, options: &CheckOptions) -> Result<i32> {
    let exercises = spec::load_all(&spec::root())?;
    let exercise = spec::find(&exercises, &options.which)?;
    let path = options.file.clone().unwrap_or_else(|| exercise.mine_path());
    // The list's state is the learner's own file's; another file checked leaves it alone.
    let save_state = |exercise: &Exercise, text: &str, passed: bool| {
        if options.file.is_none() {
            save_state(exercise, text, passed);
        }
    };
    let text = std::fs::read_to_string(&path).map_err(|e| Error {
        message: format!(
            "could not read {} ({e}); start the exercise with `cargo xtask exercise start {}`",
            path.display(),
            exercise.number
        ),
        exit_code: EXIT_FAIL,
    })?;
    let starter =
        source::generate(&exercise.source()?, "starter").map_err(|e| Error::unavailable(e.message))?;
    if let Some(difference) = source::frame_difference(&starter, &text) {
        save_state(exercise, &text, false);
        return Err(Error {
            message: format!(
                "{}: {difference}.\nOnly the lines from `// TODO n:` to `// END TODO n` are yours to change; \
                 the checker owns the rest (it prints the counter and counts the interrupts).",
                shown(&path).display()
            ),
            exit_code: EXIT_FAIL,
        });
    }
    let lab = Lab::new(settings, choice, "exercise")?;
    let built = match lab.build(exercise, &text, &shown(&path), "mine") {
        Ok(built) => built,
        Err(e) => {
            if e.exit_code == EXIT_FAIL {
                save_state(exercise, &text, false);
            }
            return Err(e);
        }
    };
    let started = Instant::now();
    let runs = run_checks(&lab, exercise, &built, "mine", None)?;
    if settings.dry_run {
        return Ok(EXIT_PASS);
    }
    let results = to_results(exercise, "mine", &runs, &built);
    if options.ktap {
        print!("{}", results::to_ktap(&results));
    } else {
        println!("{}: {}", exercise.name, exercise.spec.title);
        for run in &runs {
            print!("{}", explain(exercise, &built, run));
        }
    }
    if let Some(file) = &options.json {
        std::fs::write(file, results::to_json(&results))
            .context(|| format!("could not write {}", file.display()))?;
    }
    if let Some(file) = &options.junit {
        std::fs::write(file, results::to_junit(&results))
            .context(|| format!("could not write {}", file.display()))?;
    }
    let passed = runs.iter().all(|r| r.verdict.passed());
    save_state(exercise, &text, passed);
    let (pass, fail, _) = results::counts(&results);
    println!(
        "{pass} of {} checks passed in {:.1}s; output in {}",
        pass + fail,
        started.elapsed().as_secs_f64(),
        shown(&lab.out).display()
    );
    if passed {
        println!("passed: the kernel reported nothing, lockdep is still on, and the counter is exact");
    }
    Ok(if passed { EXIT_PASS } else { EXIT_FAIL })
}

/// `cargo xtask exercise shell N`: the lab VM with the learner's module (or the solution) in
/// it as `/irqlock.ko`.
pub fn shell(settings: &Settings, choice: &Choice, which: &str, solution: bool) -> Result<i32> {
    let exercises = spec::load_all(&spec::root())?;
    let exercise = spec::find(&exercises, which)?;
    let (text, origin, label) = if solution {
        let text =
            source::generate(&exercise.source()?, "solution").map_err(|e| Error::unavailable(e.message))?;
        (text, exercise.source_path(), "solution")
    } else {
        let path = exercise.mine_path();
        let text = std::fs::read_to_string(&path).map_err(|e| Error {
            message: format!(
                "could not read {} ({e}); run `cargo xtask exercise start {}`",
                path.display(),
                exercise.number
            ),
            exit_code: EXIT_FAIL,
        })?;
        (text, path, "mine")
    };
    let lab = Lab::new(settings, choice, "exercise-shell")?;
    let built = lab.build(exercise, &text, &shown(&origin), label)?;
    let prepared = lab.prepared(&built)?;
    let devices = exercise.spec.checks.iter().flat_map(|c| c.devices.clone()).collect::<Vec<_>>();
    let mut devices_once = devices.clone();
    devices_once.dedup();
    // A lab session has no time limit.
    let forever = Duration::from_secs(u64::MAX / 4);
    let mut vm = guest_vm(&prepared, &lab.out, &[], Finish::Shell, forever, &devices_once)?;
    vm.interactive = true;
    let params = exercise.spec.checks[0].params.join(" ");
    eprintln!(
        "shell: try `insmod /irqlock.ko {params}`, `dmesg`, `rmmod {}`, `cat /proc/interrupts`",
        exercise.spec.module
    );
    if settings.dry_run {
        println!("{}", cmd::display(&vm.command()));
        return Ok(EXIT_PASS);
    }
    vm.boot(&lab.out.join("console.log"), true)?;
    Ok(EXIT_PASS)
}

/// `cargo xtask exercise lint`: every exercise's variants through the kernel's `CLIPPY=1`
/// build with warnings denied (rustfmt is checked by `cargo test -p xtask`).
pub fn lint(settings: &Settings, choice: &Choice) -> Result<i32> {
    let exercises = spec::load_all(&spec::root())?;
    let lab = Lab::new(settings, choice, "exercise-lint")?;
    let mut failed = Vec::new();
    for exercise in &exercises {
        let source = exercise.source()?;
        for variant in ["solution", "starter"] {
            let text = source::generate(&source, variant).map_err(|e| Error::unavailable(e.message))?;
            let out = lab.build_dir(exercise, &format!("lint-{variant}"));
            if let Err(e) = build::clippy(&lab.settings, &lab.tools, &lab.kernel, exercise, &text, &out) {
                eprintln!("{}", e.message);
                failed.push(format!("{} {variant}", exercise.name));
            }
        }
    }
    if failed.is_empty() {
        eprintln!("exercise lint: clippy is clean for every exercise's solution and starter");
        Ok(EXIT_PASS)
    } else {
        Err(Error { message: format!("clippy refuses: {}", failed.join(", ")), exit_code: EXIT_FAIL })
    }
}

/// `cargo xtask test`'s part: every exercise both ways on this kernel (its starter fails with
/// the report it is about, its solution passes every check), and each wrong solution fails as
/// its exercise says. `filter` keeps the exercises whose `exercises/<name>` contains it.
pub fn test_results(
    prepared: &Prepared,
    flavour: Flavour,
    filter: Option<&str>,
    out: &Path,
) -> Vec<TestResult> {
    let lab = Lab { out: out.join("exercises"), ..Lab::from_prepared(prepared, flavour) };
    let exercises = match spec::load_all(&spec::root()) {
        Ok(e) => e,
        Err(e) => return vec![error_result("exercises", &e.message, &lab.out)],
    };
    let mut results = Vec::new();
    for exercise in
        exercises.iter().filter(|e| filter.is_none_or(|f| format!("exercises/{}", e.name).contains(f)))
    {
        results.extend(test_exercise(&lab, exercise));
    }
    results
}

/// Counts the exercises `filter` keeps, for `cargo xtask test --filter`.
pub fn matching(filter: Option<&str>) -> usize {
    spec::load_all(&spec::root())
        .map(|all| {
            all.iter().filter(|e| filter.is_none_or(|f| format!("exercises/{}", e.name).contains(f))).count()
        })
        .unwrap_or(0)
}

fn error_result(name: &str, message: &str, out: &Path) -> TestResult {
    TestResult {
        name: name.to_string(),
        kind: Kind::Scenario,
        description: "an exercise".into(),
        status: Status::Error,
        seconds: 0.0,
        failures: Vec::new(),
        error: Some(message.to_string()),
        reports: Vec::new(),
        ending: None,
        after: Vec::new(),
        console: out.to_path_buf(),
    }
}

/// One variant of `exercise`, built and booted, judged by `expect` on its check runs.
fn test_variant(
    lab: &Lab,
    exercise: &Exercise,
    variant: &str,
    only: Option<&[String]>,
    description: &str,
    expect: &dyn Fn(&[CheckRun]) -> Vec<String>,
) -> TestResult {
    let name = format!("exercises/{} {variant}", exercise.name);
    let started = Instant::now();
    let outcome = (|| -> Result<(Vec<CheckRun>, Built)> {
        let text =
            source::generate(&exercise.source()?, variant).map_err(|e| Error::unavailable(e.message))?;
        let origin = shown(&exercise.source_path()).with_extension(format!("{variant}.rs"));
        let built = lab
            .build(exercise, &text, &origin, variant)
            .map_err(|e| Error { exit_code: EXIT_UNAVAILABLE, ..e })?;
        Ok((run_checks(lab, exercise, &built, variant, only)?, built))
    })();
    let (status, failures, error, reports, console) = match outcome {
        Ok((runs, _)) => {
            let failures = expect(&runs);
            let reports = runs.iter().flat_map(|r| r.verdict.reports.clone()).collect();
            let console = runs.first().map(|r| r.console.clone()).unwrap_or_default();
            (if failures.is_empty() { Status::Pass } else { Status::Fail }, failures, None, reports, console)
        }
        Err(e) => (Status::Error, Vec::new(), Some(e.message), Vec::new(), PathBuf::new()),
    };
    TestResult {
        name,
        kind: Kind::Scenario,
        description: description.to_string(),
        status,
        seconds: started.elapsed().as_secs_f64(),
        failures,
        error,
        reports,
        ending: None,
        after: Vec::new(),
        console,
    }
}

/// What each check run failed with, for messages.
fn summary(runs: &[CheckRun]) -> String {
    runs.iter()
        .map(|r| {
            let whats: Vec<&str> = r.verdict.failures.iter().map(|f| f.what.as_str()).collect();
            format!("{}: {}", r.check.name, if whats.is_empty() { "passed".into() } else { whats.join(", ") })
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn test_exercise(lab: &Lab, exercise: &Exercise) -> Vec<TestResult> {
    let mut results = Vec::new();
    // An exercise none of whose checks runs on this kernel is not tested on it.
    if !exercise.spec.checks.iter().any(|c| c.runs_on(lab.flavour)) {
        return results;
    }
    let flavour = lab.flavour.name();
    let first_visible: Vec<String> = exercise
        .spec
        .checks
        .iter()
        .filter(|c| !c.hidden && c.runs_on(lab.flavour))
        .take(1)
        .map(|c| c.name.clone())
        .collect();
    if exercise.spec.starter_fails_with.get(flavour).is_some_and(|e| e == spec::STARTER_PASSES) {
        results.push(test_variant(
            lab,
            exercise,
            "starter",
            Some(&first_visible),
            "the lesson differs on this kernel: the starter passes",
            &|runs| {
                if !runs.is_empty() && runs.iter().all(|r| r.verdict.passed()) {
                    Vec::new()
                } else {
                    vec![format!("expected the starter to pass on this kernel; {}", summary(runs))]
                }
            },
        ));
    } else if let Some(expected) = exercise.spec.starter_fails_with.get(flavour) {
        let expected = expected.clone();
        results.push(test_variant(
            lab,
            exercise,
            "starter",
            Some(&first_visible),
            "the starter fails with the report it is about",
            &|runs| {
                if runs.iter().any(|r| r.verdict.failed_with(&expected)) {
                    Vec::new()
                } else {
                    vec![format!("expected the starter to fail with {expected:?}; {}", summary(runs))]
                }
            },
        ));
    }
    results.push(test_variant(lab, exercise, "solution", None, "the solution passes every check", &|runs| {
        let failed: Vec<String> = runs
            .iter()
            .filter(|r| !r.verdict.passed())
            .flat_map(|r| r.verdict.failures.iter().map(move |f| format!("{}: {}", r.check.name, f.message)))
            .collect();
        if runs.is_empty() {
            vec!["no check ran".into()]
        } else {
            failed
        }
    }));
    if lab.flavour == Flavour::Default {
        for wrong in &exercise.spec.wrongs {
            let expected = wrong.fails_with.clone();
            let only: Option<Vec<String>> = wrong.check.clone().map(|c| vec![c]);
            results.push(test_variant(
                lab,
                exercise,
                &wrong.name,
                only.as_deref(),
                &wrong.description,
                &|runs| {
                    if runs.iter().any(|r| r.verdict.failed_with(&expected)) {
                        Vec::new()
                    } else {
                        vec![format!(
                            "expected this wrong solution to fail with {expected:?}; {}",
                            summary(runs)
                        )]
                    }
                },
            ));
        }
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every exercise's variants generate, share the starter's frame, and the starter differs
    /// from the solution.
    #[test]
    fn every_exercise_generates_its_variants() {
        for exercise in spec::load_all(&spec::root()).unwrap() {
            let source = exercise.source().unwrap();
            let starter = source::generate(&source, "starter").unwrap();
            let solution = source::generate(&source, "solution").unwrap();
            assert_ne!(starter, solution, "{}", exercise.name);
            for variant in source::variants(&source).unwrap() {
                let text = source::generate(&source, &variant).unwrap();
                assert_eq!(source::frame_difference(&starter, &text), None, "{} {variant}", exercise.name);
                assert!(!text.contains("//#"), "{} {variant}", exercise.name);
            }
        }
    }

    /// Every variant a learner or the test builds is formatted as the kernel's `rustfmt`
    /// settings want (`rust/.rustfmt.toml` holds the same settings), when rustfmt is at hand.
    #[test]
    fn every_variant_is_rustfmt_clean() {
        use std::io::Write;
        use std::process::{Command, Stdio};
        let config = project_dir().join("rust/.rustfmt.toml");
        for exercise in spec::load_all(&spec::root()).unwrap() {
            let source = exercise.source().unwrap();
            for variant in source::variants(&source).unwrap() {
                let text = source::generate(&source, &variant).unwrap();
                let Ok(mut child) = Command::new("rustfmt")
                    .args(["--check", "--edition", "2021", "--config-path"])
                    .arg(&config)
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                else {
                    eprintln!("rustfmt is not installed: not checked");
                    return;
                };
                child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
                let out = child.wait_with_output().unwrap();
                // With its input on stdin, rustfmt --check prints the diff but exits 0.
                assert!(
                    out.status.success() && out.stdout.is_empty(),
                    "{} {variant} is not rustfmt-clean:\n{}",
                    exercise.name,
                    String::from_utf8_lossy(&out.stdout)
                );
            }
        }
    }
}
