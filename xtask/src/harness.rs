//! `cargo xtask test` and `cargo xtask run`: build what is missing, boot, judge.

use crate::error::{Context, Error, Result, EXIT_FAIL, EXIT_PASS, EXIT_UNAVAILABLE};
use crate::initramfs::{self, Finish, Step};
use crate::kernel::{self, SourceChoice};
use crate::qemu::{End, Vm};
use crate::scenario::{self, Scenario};
use crate::setup::{self, project_dir, Toolchain};
use crate::{junit, ktap, labs, module, triage};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Everything a boot needs, built or found.
pub struct Prepared {
    pub tools: Toolchain,
    pub kernel: kernel::Build,
    pub module: PathBuf,
}

/// Installs missing tools (as `cargo xtask setup` does; nothing when all are present), then
/// builds the kernel (if not cached) and the module.
pub fn prepare(source: &SourceChoice) -> Result<Prepared> {
    let tools = setup::setup(false)?;
    let kernel = kernel::build(&tools, source)?;
    let module = module::build(&tools, &kernel)?;
    Ok(Prepared { tools, kernel, module })
}

/// vCPUs per guest: two, so that one CPU's lockup detector can watch the other.
const CPUS: u32 = 2;
const MEMORY_MB: u32 = 512;
/// The kernel reaches user space in 2-6 s under TCG; a boot that has not after this hung.
const BOOT_DEADLINE: Duration = Duration::from_secs(60);

impl Prepared {
    /// Writes the initramfs for `steps` into `dir` and returns the VM that boots it.
    pub fn vm(&self, dir: &Path, steps: &[Step], finish: Finish, timeout: Duration) -> Result<Vm> {
        std::fs::create_dir_all(dir).context(|| format!("could not create {}", dir.display()))?;
        let initrd = dir.join("initramfs.cpio");
        initramfs::write(&initrd, &self.tools.busybox, &self.module, steps, finish)?;
        Ok(Vm {
            qemu: self.tools.qemu.clone(),
            kernel: self.kernel.bzimage.clone(),
            initrd,
            cpus: CPUS,
            memory_mb: MEMORY_MB,
            devices: Vec::new(),
            cmdline: Vec::new(),
            timeout,
            interactive: finish == Finish::Shell,
            boot_marker: Some((format!("{} begin", initramfs::MARKER), BOOT_DEADLINE)),
            harness_log: Some(dir.join("harness.log")),
        })
    }
}

/// One scenario's result.
struct Outcome {
    verdict: Option<scenario::Verdict>,
    /// The scenario could not be run at all.
    error: Option<String>,
    console: PathBuf,
    wall: Duration,
}

/// Boots `scenario` once, its files under `out/<name>/`, and judges the console. Returns the
/// verdict, the console text, and the seconds from QEMU's start to the verdict.
pub fn boot_scenario(
    prepared: &Prepared,
    scenario: &Scenario,
    out: &Path,
) -> Result<(scenario::Verdict, String, f64)> {
    let dir = out.join(&scenario.name);
    let started = Instant::now();
    let timeout = Duration::from_secs(scenario.timeout_s);
    let mut vm = prepared.vm(&dir, &scenario.steps(), Finish::PowerOff, timeout)?;
    vm.devices = scenario.devices.clone();
    vm.cmdline = scenario.cmdline.clone();
    let mut run = vm.boot(&dir.join("console.log"), false)?;
    if run.end == End::BootHang {
        // The kernel hung before user space: nothing the scenario did. Boot once more.
        eprintln!("test: {}: the kernel hung before user space; booting again", scenario.name);
        let first = dir.join("console-boot-hang.log");
        let _ = std::fs::rename(&run.console, &first);
        run = vm.boot(&dir.join("console.log"), false)?;
    }
    let bytes = std::fs::read(&run.console).context(|| "could not read the console".into())?;
    let log = String::from_utf8_lossy(&bytes).into_owned();
    let harness = read_harness_log(&vm);
    let verdict = scenario::judge_with(scenario, &log, &harness, run.end);
    Ok((verdict, log, started.elapsed().as_secs_f64()))
}

/// What the init script wrote to ttyS1, or nothing.
fn read_harness_log(vm: &Vm) -> String {
    vm.harness_log
        .as_ref()
        .and_then(|path| std::fs::read(path).ok())
        .map(|bytes| String::from_utf8_lossy(&bytes).replace('\r', ""))
        .unwrap_or_default()
}

fn run_scenario(prepared: &Prepared, scenario: &Scenario, out: &Path) -> Outcome {
    let console = out.join(&scenario.name).join("console.log");
    let started = Instant::now();
    let result = boot_scenario(prepared, scenario, out);
    let wall = started.elapsed();
    match result {
        Ok((verdict, _, _)) => Outcome { verdict: Some(verdict), error: None, console, wall },
        Err(e) => Outcome { verdict: None, error: Some(e.message), console, wall },
    }
}

/// Options of `cargo xtask test`.
pub struct TestOptions {
    pub source: SourceChoice,
    pub filter: Option<String>,
    pub jobs: usize,
    /// Also write the results as JSON here.
    pub json: Option<PathBuf>,
    /// Also write the results as JUnit XML here.
    pub junit: Option<PathBuf>,
}

/// Runs every scenario (one fresh boot each), prints KTAP on stdout, and returns the exit
/// status: 0 all passed, 1 a scenario failed, 69 a scenario could not be run.
pub fn test(options: &TestOptions) -> Result<i32> {
    let mut scenarios = scenario::load_all(&project_dir().join("tests/scenarios"))?;
    if let Some(filter) = &options.filter {
        scenarios.retain(|s| s.name.contains(filter.as_str()));
        if scenarios.is_empty() {
            return Err(Error::unavailable(format!(
                "no scenario under tests/scenarios/ matches --filter {filter}"
            )));
        }
    }
    let prepared = prepare(&options.source)?;
    let out = project_dir().join("target/irqlock-test");
    let jobs = options.jobs.max(1).min(scenarios.len());
    eprintln!("test: {} scenarios, {jobs} at a time; consoles under {}", scenarios.len(), out.display());

    let next = Mutex::new(0usize);
    let results: Mutex<Vec<Option<Outcome>>> = Mutex::new((0..scenarios.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| loop {
                let index = {
                    let mut next = next.lock().expect("not poisoned");
                    let index = *next;
                    *next += 1;
                    index
                };
                let Some(scenario) = scenarios.get(index) else {
                    return;
                };
                eprintln!("test: booting {}: {}", scenario.name, scenario.description);
                let outcome = run_scenario(&prepared, scenario, &out);
                eprintln!(
                    "test: {} {} in {:.1}s",
                    scenario.name,
                    match (&outcome.error, &outcome.verdict) {
                        (Some(_), _) => "could not run",
                        (None, Some(v)) if v.passed() => "passed",
                        _ => "FAILED",
                    },
                    outcome.wall.as_secs_f64()
                );
                results.lock().expect("not poisoned")[index] = Some(outcome);
            });
        }
    });

    let results: Vec<ScenarioResult> = scenarios
        .iter()
        .zip(results.into_inner().expect("not poisoned"))
        .map(|(scenario, outcome)| ScenarioResult::new(scenario, outcome.expect("every scenario ran")))
        .collect();
    let count = |status: Status| results.iter().filter(|r| r.status == status).count();
    let (mut pass, mut fail, error) = (count(Status::Pass), count(Status::Fail), count(Status::Error));

    // The lab docs' expected output, against the consoles of the scenarios run now.
    let root = project_dir();
    let blocks: Vec<labs::Block> = labs::load(&root.join("docs/labs"))?
        .into_iter()
        .filter(|b| options.filter.is_none() || results.iter().any(|r| r.name == b.scenario))
        .collect();

    let mut text = ktap::header(results.len() + blocks.len());
    for (i, result) in results.iter().enumerate() {
        let mut diagnostics = vec![format!("boot-to-verdict: {:.1}s", result.seconds)];
        diagnostics.extend(result.error.iter().map(|e| format!("could not run: {e}")));
        diagnostics.extend(result.failures.iter().cloned());
        if result.status != Status::Pass {
            diagnostics.push(format!("console: {}", result.console.display()));
        }
        diagnostics.extend(result.reports.iter().map(|r| format!("report: {}", r.title)));
        let line = ktap::Line {
            name: &result.name,
            ok: result.status == Status::Pass,
            diagnostics,
            directive: (result.status == Status::Error).then(|| "ERROR could not run".to_string()),
        };
        text += &ktap::line(i + 1, &line);
    }
    for (i, block) in blocks.iter().enumerate() {
        let missing = match results.iter().find(|r| r.name == block.scenario) {
            None => vec![format!("no scenario {} under tests/scenarios/", block.scenario)],
            Some(result) => match std::fs::read(&result.console) {
                Ok(bytes) => block.check(&String::from_utf8_lossy(&bytes)),
                Err(e) => vec![format!("could not read {}: {e}", result.console.display())],
            },
        };
        if missing.is_empty() {
            pass += 1;
        } else {
            fail += 1;
        }
        let name = format!("{} ({})", block.name(&root), block.scenario);
        let line = ktap::Line { name: &name, ok: missing.is_empty(), diagnostics: missing, directive: None };
        text += &ktap::line(results.len() + i + 1, &line);
    }
    text += &ktap::totals(pass, fail, error);
    print!("{text}");

    if let Some(path) = &options.json {
        let json = serde_json::to_string_pretty(&results).expect("results serialize");
        std::fs::write(path, json + "\n").context(|| format!("could not write {}", path.display()))?;
    }
    if let Some(path) = &options.junit {
        std::fs::write(path, junit::render(&results))
            .context(|| format!("could not write {}", path.display()))?;
    }
    eprintln!("{pass} passed, {} failed", fail + error);
    Ok(if error > 0 {
        EXIT_UNAVAILABLE
    } else if fail > 0 {
        EXIT_FAIL
    } else {
        EXIT_PASS
    })
}

/// How a scenario ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    /// It could not be run at all.
    Error,
}

/// One scenario's result, as the KTAP, JSON and JUnit outputs show it.
#[derive(Debug, Serialize)]
pub struct ScenarioResult {
    pub name: String,
    pub description: String,
    pub status: Status,
    /// From QEMU's start to the verdict.
    pub seconds: f64,
    pub failures: Vec<String>,
    pub error: Option<String>,
    pub reports: Vec<triage::Report>,
    pub console: PathBuf,
}

impl ScenarioResult {
    fn new(scenario: &Scenario, outcome: Outcome) -> Self {
        let (status, failures, reports) = match (&outcome.error, outcome.verdict) {
            (Some(_), _) | (None, None) => (Status::Error, Vec::new(), Vec::new()),
            (None, Some(v)) if v.passed() => (Status::Pass, Vec::new(), v.reports),
            (None, Some(v)) => (Status::Fail, v.failures, v.reports),
        };
        Self {
            name: scenario.name.clone(),
            description: scenario.description.clone(),
            status,
            seconds: outcome.wall.as_secs_f64(),
            failures,
            error: outcome.error,
            reports,
            console: outcome.console,
        }
    }
}

/// Options of `cargo xtask run`.
pub struct RunOptions {
    pub source: SourceChoice,
    pub params: Vec<String>,
    pub rmmod: bool,
    pub timeout: Duration,
    pub devices: Vec<String>,
    pub cmdline: Vec<String>,
}

/// Boots once with the given module parameters, shows the console as it comes, and ends with
/// a one-line verdict naming the kernel reports seen.
pub fn run(options: &RunOptions) -> Result<i32> {
    let prepared = prepare(&options.source)?;
    let mut steps = vec![Step::Insmod(options.params.clone())];
    if options.rmmod {
        steps.push(Step::Rmmod);
    }
    let dir = project_dir().join("target/irqlock-run");
    let mut vm = prepared.vm(&dir, &steps, Finish::PowerOff, options.timeout)?;
    vm.devices = options.devices.clone();
    vm.cmdline = options.cmdline.clone();
    let run = vm.boot(&dir.join("console.log"), true)?;
    let log = String::from_utf8_lossy(
        &std::fs::read(&run.console).context(|| "could not read the console".into())?,
    )
    .into_owned();
    let reports = triage::parse(&log);
    let harness = read_harness_log(&vm);
    let marks = scenario::markers(if harness.is_empty() { &log } else { &harness });
    let insmod = match marks.exits.iter().find(|(n, _)| *n == 1) {
        Some((_, 0)) => "insmod ok".to_string(),
        Some((_, status)) => format!("insmod failed (exit {status})"),
        None => "insmod did not finish".to_string(),
    };
    let end = match run.end {
        End::TimedOut => format!("the VM hung and was stopped after {}s", options.timeout.as_secs()),
        End::BootHang => "the kernel hung before user space and was stopped".to_string(),
        End::Exited(_) if !marks.ended => "the VM ended early (kernel panic)".to_string(),
        End::Exited(_) => "the guest finished".to_string(),
    };
    let titles: Vec<String> = reports.iter().map(|r| format!("[{}]", r.title)).collect();
    println!(
        "\nverdict: {end}; {insmod}; {} kernel report{}{}{}; {:.1}s; console: {}",
        reports.len(),
        if reports.len() == 1 { "" } else { "s" },
        if reports.is_empty() { "" } else { ": " },
        titles.join(" "),
        run.wall.as_secs_f64(),
        run.console.display()
    );
    Ok(if matches!(run.end, End::TimedOut | End::BootHang) { EXIT_FAIL } else { EXIT_PASS })
}

/// `cargo xtask shell`: the lab VM with a shell on the console. Leaving the shell powers off.
pub fn shell(source: &SourceChoice, edu: bool, cmdline: Vec<String>) -> Result<i32> {
    let prepared = prepare(source)?;
    let dir = project_dir().join("target/irqlock-shell");
    // A lab session has no time limit; the timeout applies to non-interactive boots only.
    let mut vm = prepared.vm(&dir, &[], Finish::Shell, Duration::from_secs(u64::MAX / 4))?;
    if edu {
        vm.devices.push("edu".to_string());
    }
    vm.cmdline = cmdline;
    eprintln!("shell: try `insmod /irqlock.ko lock=mutex`, `dmesg`, `rmmod irqlock`, `cat /proc/interrupts`");
    eprintln!(
        "shell: `exit` powers the VM off; the console is kept in {}",
        dir.join("console.log").display()
    );
    vm.boot(&dir.join("console.log"), true)?;
    Ok(EXIT_PASS)
}
