// SPDX-License-Identifier: GPL-2.0

//! `cargo xtask test`: every scenario, one fresh boot each, and the lab blocks against those
//! boots, then the module's KUnit suites in a boot of their own; repeated on request, with the
//! verdicts counted.

use crate::arch::Arch;
use crate::error::{Context, Error, Result, EXIT_FAIL, EXIT_PASS, EXIT_UNAVAILABLE};
use crate::harness::{boot_scenario, prepare, Prepared};
use crate::kernel::{Choice, Flavour};
use crate::labs;
use crate::paths::{self, project_dir};
use crate::results::{self, Kind, Status, TestResult};
use crate::scenario::{self, Scenario};
use crate::settings::Settings;
use crate::verdict::Verdict;
use crate::vm::End;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

/// Boots `scenario` under `out/` and turns what happened into its result.
fn run_scenario(prepared: &Prepared, scenario: &Scenario, out: &Path) -> TestResult {
    let started = Instant::now();
    let verdict = boot_scenario(prepared, scenario, out).map(|(v, _, _)| v).map_err(|e| e.message);
    scenario_result(scenario, verdict, started.elapsed().as_secs_f64(), out)
}

/// `scenario`'s result from its verdict, or from why there is none (an error), and its console
/// under `out/`.
fn scenario_result(
    scenario: &Scenario,
    verdict: Result<Verdict, String>,
    seconds: f64,
    out: &Path,
) -> TestResult {
    let (status, failures, error, verdict) = match verdict {
        Ok(v) if v.passed() => (Status::Pass, Vec::new(), None, Some(v)),
        Ok(v) => (Status::Fail, v.failures.clone(), None, Some(v)),
        Err(e) => (Status::Error, Vec::new(), Some(e), None),
    };
    let (reports, ending, after) = verdict.map(|v| (v.reports, v.ending, v.after)).unwrap_or_default();
    TestResult {
        name: scenario.name.clone(),
        kind: Kind::Scenario,
        description: scenario.description.clone(),
        status,
        seconds,
        failures,
        error,
        reports,
        ending,
        after,
        console: out.join(&scenario.name).join("console.log"),
    }
}

/// `--rejudge DIR`: the boots an earlier `cargo xtask test` left in `dir` (each `run-N/` of a
/// `--repeat`, else `dir` itself), judged again with this checkout's parser and scenarios and
/// their lab blocks checked again, without booting. A run holds only the scenarios that have
/// a directory in it. Errors (exit 2): `dir` unreadable, still being written, booted on
/// another kernel than `target` (read from a boot's `qemu.sh`), or holding no scenario's boot.
fn rejudge(
    dir: &Path,
    target: (Flavour, Arch),
    filter: Option<&str>,
    scenarios: &[Scenario],
    blocks: &[labs::Block],
) -> Result<Vec<Vec<TestResult>>> {
    let usage = |message: String| Error { message, exit_code: crate::error::EXIT_USAGE };
    let entries = std::fs::read_dir(dir).map_err(|e| {
        usage(format!(
            "--rejudge {}: {e}; give the output directory of a `cargo xtask test` run, e.g. target/irqlock/latest",
            dir.display()
        ))
    })?;
    let real = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    for name in real.iter().rev().take(2).filter_map(|n| n.to_str()) {
        if let Some(pid) = paths::run_pid(name, "test").filter(|pid| paths::is_running(*pid)) {
            return Err(usage(format!(
                "--rejudge {}: that run is still going (pid {pid}); judge it again once it has ended",
                dir.display()
            )));
        }
    }
    let mut runs: Vec<(usize, PathBuf)> = entries
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.strip_prefix("run-")?.parse().ok()?, e.path())))
        .collect();
    runs.sort();
    if runs.is_empty() {
        runs.push((1, dir.to_path_buf()));
    }
    let booted = runs.iter().flat_map(|(_, run)| scenarios.iter().map(move |s| run.join(&s.name)));
    if let Some((flavour, arch)) = booted.filter_map(|d| booted_on(&d)).next() {
        if (flavour, arch) != target {
            return Err(usage(format!(
                "the boots in {} ran on the {} {} kernel: give --arch {} --kernel {} to judge them again",
                dir.display(),
                arch.name(),
                flavour.name(),
                arch.name(),
                flavour.name()
            )));
        }
    }
    let results: Vec<Vec<TestResult>> = runs
        .iter()
        .map(|(_, run)| {
            let mut results: Vec<TestResult> = scenarios
                .iter()
                .filter(|s| run.join(&s.name).is_dir())
                .map(|s| scenario_result(s, judge_again(s, &run.join(&s.name)), 0.0, run))
                .collect();
            let checked: Vec<TestResult> = blocks
                .iter()
                .filter(|b| results.iter().any(|r| r.name == b.scenario))
                .map(|b| check_block(b, &results))
                .collect();
            results.extend(checked);
            results
        })
        .collect();
    if results.iter().all(Vec::is_empty) {
        let which = filter.map(|f| format!(" matching --filter {f}")).unwrap_or_default();
        return Err(usage(format!(
            "no boot of a scenario{which} (`<scenario>/console.log`) in {} or its run-N/ directories; give the \
             output directory of a `cargo xtask test` run (KUnit and exercises are not judged again)",
            dir.display()
        )));
    }
    Ok(results)
}

/// The kernel a kept boot ran on, read from the `qemu.sh` beside its console: QEMU's binary
/// names the architecture, and the kernel's cache directory (`<version>-[arm64-][rt-]<key>`,
/// [`crate::kernel`]) the flavour. `None` if there is no such script.
fn booted_on(dir: &Path) -> Option<(Flavour, Arch)> {
    let script = std::fs::read_to_string(dir.join("qemu.sh")).ok()?;
    let arch = match () {
        _ if script.contains("qemu-system-aarch64") => Arch::Arm64,
        _ if script.contains("qemu-system-x86_64") => Arch::X86_64,
        _ => return None,
    };
    let image = script.split_whitespace().skip_while(|w| *w != "-kernel").nth(1)?.trim_matches('\'');
    let parts: Vec<&str> = image.split('/').collect();
    let cache_dir = parts.get(parts.iter().rposition(|p| *p == "arch")?.checked_sub(1)?)?;
    let flavour = if cache_dir.split('-').any(|p| p == "rt") { Flavour::Rt } else { Flavour::Default };
    Some((flavour, arch))
}

/// The verdict on the boot of `scenario` kept in `dir`, from [`crate::vm::END_FILE`] and
/// [`crate::harness::judge_kept`], as the live run made it.
fn judge_again(scenario: &Scenario, dir: &Path) -> Result<Verdict, String> {
    let end: End = std::fs::read_to_string(dir.join(crate::vm::END_FILE))
        .map_err(|e| {
            format!(
                "could not read its {}: {e}: the boot did not finish (QEMU could not run, or the run was \
                 stopped), the file could not be written (the run said so), or the boot predates --rejudge; \
                 boot it again with `cargo xtask test`",
                crate::vm::END_FILE
            )
        })?
        .parse()?;
    crate::harness::judge_kept(scenario, dir, end).map(|(verdict, _)| verdict).map_err(|e| e.message)
}

/// A lab block checked against the console of its scenario's boot in `scenarios`.
fn check_block(block: &labs::Block, scenarios: &[TestResult]) -> TestResult {
    let root = project_dir();
    let boot = scenarios.iter().find(|r| r.name == block.scenario);
    let (status, failures, error) = match boot.map(|b| (b, std::fs::read(&b.console))) {
        None => (Status::Fail, vec![format!("no scenario {} under tests/scenarios/", block.scenario)], None),
        Some((_, Ok(bytes))) => {
            let missing = block.check(&String::from_utf8_lossy(&bytes));
            (if missing.is_empty() { Status::Pass } else { Status::Fail }, missing, None)
        }
        Some((b, Err(e))) if b.status == Status::Error => {
            (Status::Error, Vec::new(), Some(format!("its scenario could not run: {e}")))
        }
        Some((b, Err(e))) => {
            (Status::Fail, vec![format!("could not read {}: {e}", b.console.display())], None)
        }
    };
    TestResult {
        name: format!("{} ({})", block.name(&root), block.scenario),
        kind: Kind::LabBlock,
        description: format!("the lab's expected output, against a boot of {}", block.scenario),
        status,
        seconds: 0.0,
        failures,
        error,
        reports: Vec::new(),
        ending: None,
        after: Vec::new(),
        console: boot.map(|b| b.console.clone()).unwrap_or_default(),
    }
}

/// Where the seconds each scenario took on this kernel are kept between runs: the cache, by
/// the kernel build's name.
fn durations_file(prepared: &Prepared) -> PathBuf {
    let kernel =
        prepared.kernel.dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    crate::paths::cache_dir().join("durations").join(format!("{kernel}.txt"))
}

/// `NAME SECONDS` lines; an unreadable file is no knowledge.
fn read_durations(file: &Path) -> HashMap<String, f64> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let (name, seconds) = l.split_once(' ')?;
            Some((name.to_string(), seconds.parse().ok()?))
        })
        .collect()
}

/// Adds this run's scenarios to the file (a filtered run keeps the others' figures). Best
/// effort: the order of a later run is all it serves.
fn write_durations(file: &Path, results: &[TestResult]) {
    let mut known = read_durations(file);
    for r in results.iter().filter(|r| r.kind == Kind::Scenario && r.status != Status::Error) {
        known.insert(r.name.clone(), r.seconds);
    }
    let mut lines: Vec<String> = known.iter().map(|(name, s)| format!("{name} {s:.2}")).collect();
    lines.sort();
    let _ = std::fs::create_dir_all(file.parent().unwrap_or(Path::new(".")));
    let _ = std::fs::write(file, lines.join("\n") + "\n");
}

/// The order to start `scenarios` in: longest first, by the seconds each took last time on
/// this kernel; a scenario never run yet counts by its timeout, before all that were.
fn longest_first(scenarios: &[Scenario], durations: &HashMap<String, f64>) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scenarios.len()).collect();
    let key = |i: usize| match durations.get(&scenarios[i].name) {
        None => (1, scenarios[i].timeout_s as f64),
        Some(&seconds) => (0, seconds),
    };
    order.sort_by(|&a, &b| key(b).partial_cmp(&key(a)).unwrap_or(std::cmp::Ordering::Equal));
    order
}

/// Options of `cargo xtask test`.
pub struct TestOptions {
    pub source: Choice,
    pub filter: Option<String>,
    pub jobs: usize,
    /// Run the whole matrix this many times and count the verdicts.
    pub repeat: usize,
    /// Also write the results as JSON here.
    pub json: Option<PathBuf>,
    /// Also write the results as JUnit XML here.
    pub junit: Option<PathBuf>,
    /// Leave the exercises out (`--no-exercises`).
    pub no_exercises: bool,
    /// Judge the boots kept in this run directory again instead of booting (`--rejudge`).
    pub rejudge: Option<PathBuf>,
}

/// Boots every scenario once (`jobs` at a time, files under `out/`), then checks the lab
/// blocks against those boots.
pub fn run_matrix(
    prepared: &Prepared,
    scenarios: &[Scenario],
    blocks: &[labs::Block],
    jobs: usize,
    out: &Path,
) -> Vec<TestResult> {
    // The longest boots start first, so that the short ones fill in around them; results
    // stay in name order.
    let file = durations_file(prepared);
    let order = longest_first(scenarios, &read_durations(&file));
    let next = Mutex::new(0usize);
    let results: Mutex<Vec<Option<TestResult>>> = Mutex::new(vec![None; scenarios.len()]);
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| loop {
                let index = {
                    let mut next = next.lock().expect("not poisoned");
                    *next += 1;
                    *next - 1
                };
                let Some(&index) = order.get(index) else {
                    return;
                };
                let scenario = &scenarios[index];
                eprintln!("test: booting {}: {}", scenario.name, scenario.description);
                let result = run_scenario(prepared, scenario, out);
                let word = match result.status {
                    Status::Pass => "passed",
                    Status::Fail => "FAILED",
                    Status::Error => "could not run",
                };
                eprintln!("test: {} {word} in {:.1}s", scenario.name, result.seconds);
                results.lock().expect("not poisoned")[index] = Some(result);
            });
        }
    });
    let mut results: Vec<TestResult> = results
        .into_inner()
        .expect("not poisoned")
        .into_iter()
        .map(|r| r.expect("every scenario ran"))
        .collect();
    // Resumed boots only: `--no-snapshot` boots (bench's comparison) each take seconds more.
    if prepared.snapshots {
        write_durations(&file, &results);
    }
    let checked: Vec<TestResult> = blocks.iter().map(|b| check_block(b, &results)).collect();
    results.extend(checked);
    results
}

/// Runs every scenario (one fresh boot each) `repeat` times, or judges the boots of an earlier
/// run again (`rejudge`), prints KTAP on stdout, and returns the exit status: 0 all passed, 1 a
/// test failed (or, repeated, did not give the same verdict every time), 69 a scenario could
/// not be run.
pub fn test(settings: &Settings, options: &TestOptions) -> Result<i32> {
    let (flavour, arch) = (options.source.flavour, options.source.arch);
    // Each scenario as this kernel runs it; those without an expectation for it stay out.
    let all = scenario::load_all(&project_dir().join("tests/scenarios"))?;
    for (name, why) in all.iter().filter_map(|s| Some((&s.name, s.not_on(arch)?))) {
        eprintln!("test: {name} does not run on {}: {why}", arch.name());
    }
    let mut scenarios: Vec<Scenario> = all.iter().filter_map(|s| s.for_target(flavour, arch)).collect();
    // The module's KUnit suites run in one boot of their own, unless a filter leaves them out.
    let kunit = options.filter.as_deref().is_none_or(|f| "kunit".contains(f));
    if let Some(filter) = &options.filter {
        scenarios.retain(|s| s.name.contains(filter.as_str()));
        if scenarios.is_empty() && !kunit && crate::exercise::matching(Some(filter)) == 0 {
            return Err(Error {
                message: format!(
                    "no scenario under tests/scenarios/ for the {} kernel, no exercise (`exercises/NN-name`) \
                     and not `kunit` matches --filter {filter}; the names are the scenario files' stems",
                    flavour.name()
                ),
                exit_code: crate::error::EXIT_USAGE,
            });
        }
    }
    let blocks: Vec<labs::Block> = labs::load(&project_dir().join("docs/labs"))?
        .into_iter()
        .filter(|b| b.kernel == flavour && b.applies(arch))
        .filter(|b| options.filter.is_none() || scenarios.iter().any(|s| s.name == b.scenario))
        .collect();
    if let Some(dir) = &options.rejudge {
        let started = Instant::now();
        if settings.dry_run {
            return Err(Error {
                message: "--rejudge boots nothing and writes only --json and --junit: leave out --dry-run"
                    .into(),
                exit_code: crate::error::EXIT_USAGE,
            });
        }
        let runs = rejudge(dir, (flavour, arch), options.filter.as_deref(), &scenarios, &blocks)?;
        eprintln!("test: the boots of {} run(s) in {}, judged again", runs.len(), dir.display());
        return report(runs, options, dir, started);
    }
    let prepared = prepare(settings, &options.source, "test")?;
    if settings.dry_run {
        for scenario in &scenarios {
            crate::harness::show_boot(&prepared, scenario, &prepared.out)?;
        }
        return Ok(EXIT_PASS);
    }
    let jobs = options.jobs.max(1).min(scenarios.len());
    let repeat = options.repeat.max(1);
    eprintln!(
        "test: {} scenarios and {} lab blocks, {jobs} boots at a time{}; output in {}",
        scenarios.len(),
        blocks.len(),
        if repeat > 1 { format!(", {repeat} runs") } else { String::new() },
        prepared.out.display()
    );

    // Each exercise both ways: its starter fails, its solution and none of its wrong ones
    // passes. Repeated, only when the filter names exercises: a repeated run of the whole
    // matrix is the scenarios' and the lab blocks'.
    let exercises = match &options.filter {
        _ if options.no_exercises => false,
        _ if repeat == 1 => true,
        Some(filter) => crate::exercise::matching(Some(filter)) > 0,
        None => false,
    };
    let started = Instant::now();
    let mut runs = Vec::new();
    for n in 1..=repeat {
        let out = if repeat == 1 { prepared.out.clone() } else { prepared.out.join(format!("run-{n}")) };
        let mut results = run_matrix(&prepared, &scenarios, &blocks, jobs, &out);
        if exercises {
            let flavour = options.source.flavour;
            results.extend(crate::exercise::test_results(
                &prepared,
                flavour,
                options.filter.as_deref(),
                &out,
            ));
        }
        if kunit {
            results.extend(crate::kunit::run(&prepared, &out));
        }
        if repeat > 1 {
            let (pass, fail, error) = results::counts(&results);
            eprintln!(
                "test: run {n}/{repeat}: {pass} passed, {} failed ({:.0}s so far)",
                fail + error,
                started.elapsed().as_secs_f64()
            );
        }
        runs.push(results);
    }
    report(runs, options, &prepared.out, started)
}

/// Prints the results of `runs` (KTAP on stdout; with more than one run, the verdicts counted
/// per test on stderr), writes `--json` and `--junit`, and returns the exit status.
fn report(
    mut runs: Vec<Vec<TestResult>>,
    options: &TestOptions,
    out: &Path,
    started: Instant,
) -> Result<i32> {
    let repeat = runs.len();
    let (results, disagreements) = if repeat == 1 {
        (runs.pop().expect("one run"), 0)
    } else {
        let tally = Tally::new(&runs);
        eprint!("{}", tally.table());
        (tally.results, tally.disagreements)
    };

    print!("{}", results::to_ktap(&results));
    if let Some(path) = &options.json {
        std::fs::write(path, results::to_json(&results))
            .context(|| format!("could not write {}", path.display()))?;
    }
    if let Some(path) = &options.junit {
        std::fs::write(path, results::to_junit(&results))
            .context(|| format!("could not write {}", path.display()))?;
    }
    let (pass, fail, error) = results::counts(&results);
    eprintln!("{pass} passed, {} failed; output in {}", fail + error, out.display());
    if repeat > 1 {
        eprintln!(
            "{repeat} runs in {:.0}s: {disagreements} tests did not give the same verdict every run",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(if error > 0 {
        EXIT_UNAVAILABLE
    } else if fail > 0 || disagreements > 0 {
        EXIT_FAIL
    } else {
        EXIT_PASS
    })
}

/// Each verdict one test gave, with the runs that gave it.
type Verdicts = Vec<(String, Vec<usize>)>;

/// The verdicts of repeated runs of the same tests, counted per test.
struct Tally {
    /// One result per test: passed only if it passed in every run; the failures say which runs
    /// gave which verdict.
    results: Vec<TestResult>,
    /// Per test, its name and the runs (1-based) that gave each verdict.
    counts: Vec<(String, Verdicts)>,
    /// Per test, how many runs ended each way (scenarios with a named ending).
    endings: Vec<Vec<(String, usize)>>,
    disagreements: usize,
}

impl Tally {
    fn new(runs: &[Vec<TestResult>]) -> Self {
        let mut results = Vec::new();
        let mut counts = Vec::new();
        let mut endings = Vec::new();
        let mut disagreements = 0;
        // Every test any run has, in the order of first appearance: the KUnit cases of a run
        // whose KUnit boot failed are missing from that run only.
        let mut tests: Vec<&TestResult> = Vec::new();
        for r in runs.iter().flatten() {
            if !tests.iter().any(|t| t.name == r.name) {
                tests.push(r);
            }
        }
        for first in tests {
            // Each run's result of this test, by name.
            let missing =
                TestResult { status: Status::Error, error: Some("not in this run".into()), ..first.clone() };
            let of =
                |run: &[TestResult]| run.iter().find(|r| r.name == first.name).unwrap_or(&missing).clone();
            let these: Vec<TestResult> = runs.iter().map(|run| of(run)).collect();
            let mut verdicts: Verdicts = Vec::new();
            let mut failures = Vec::new();
            let mut ended: Vec<(String, usize)> = Vec::new();
            for ending in these.iter().filter_map(|r| r.ending.clone()) {
                match ended.iter_mut().find(|(e, _)| *e == ending) {
                    Some((_, n)) => *n += 1,
                    None => ended.push((ending, 1)),
                }
            }
            for (n, r) in these.iter().enumerate() {
                let verdict = match r.status {
                    Status::Pass => "pass".to_string(),
                    Status::Fail => format!("fail: {}", r.failures.first().map(String::as_str).unwrap_or("")),
                    Status::Error => format!("error: {}", r.error.as_deref().unwrap_or("")),
                };
                let verdict = verdict.lines().next().unwrap_or("").to_string();
                if r.status != Status::Pass {
                    failures.push(format!("run {}: {}", n + 1, verdict));
                    failures.extend(r.failures.iter().skip(1).map(|f| format!("run {}: {f}", n + 1)));
                    failures.push(format!("run {}: console: {}", n + 1, r.console.display()));
                }
                match verdicts.iter_mut().find(|(v, _)| *v == verdict) {
                    Some((_, at)) => at.push(n + 1),
                    None => verdicts.push((verdict, vec![n + 1])),
                }
            }
            if verdicts.len() > 1 {
                disagreements += 1;
            }
            let statuses: Vec<Status> = these.iter().map(|r| r.status).collect();
            let status = if statuses.iter().all(|s| *s == Status::Pass) {
                Status::Pass
            } else if statuses.contains(&Status::Fail) {
                Status::Fail
            } else {
                Status::Error
            };
            let seconds = these.iter().map(|r| r.seconds).sum::<f64>() / runs.len() as f64;
            let mut summary: Vec<String> =
                verdicts.iter().map(|(v, at)| format!("{} of {} runs: {v}", at.len(), runs.len())).collect();
            summary.extend(failures);
            let ending = (!ended.is_empty()).then(|| {
                ended.iter().map(|(e, n)| format!("{e} {n} of {}", runs.len())).collect::<Vec<_>>().join(", ")
            });
            endings.push(ended);
            results.push(TestResult {
                ending,
                status,
                seconds,
                failures: if status == Status::Pass { Vec::new() } else { summary },
                error: None,
                ..first.clone()
            });
            counts.push((first.name.clone(), verdicts));
        }
        Tally { results, counts, endings, disagreements }
    }

    /// Per test, how many runs gave which verdict.
    fn table(&self) -> String {
        let width = self.counts.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
        let mut text = String::from("verdicts per test (runs):\n");
        for ((name, verdicts), ended) in self.counts.iter().zip(&self.endings) {
            let mark = if verdicts.len() > 1 { "FLIPPED" } else { "" };
            let counted: Vec<String> = verdicts.iter().map(|(v, at)| format!("{} {v}", at.len())).collect();
            // Only where the scenario has more than one ending, or saw an alternative.
            let ends = if ended.len() > 1 || ended.iter().any(|(e, _)| e != "expected") {
                let each: Vec<String> = ended.iter().map(|(e, n)| format!("{e} {n}")).collect();
                format!("  (endings: {})", each.join(", "))
            } else {
                String::new()
            };
            text += &format!("  {name:<width$}  {}  {mark}{ends}\n", counted.join("; "));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(name: &str, status: Status, failure: &str) -> TestResult {
        let failures: &[&str] = if failure.is_empty() { &[] } else { &[failure] };
        TestResult { seconds: 2.0, ..crate::testutil::result(name, Kind::Scenario, status, failures) }
    }

    /// Two kept runs of `softirq_mutex`, the real boot and the same console without its
    /// `BUG:` lines: judged again, the first passes and the second fails, and the two runs
    /// are counted as a `--repeat` counts them. A boot without its end file is an error.
    #[test]
    fn kept_boots_are_judged_again_and_counted() {
        let scenarios = scenario::load_all(&project_dir().join("tests/scenarios")).unwrap();
        let scenario = scenarios.iter().find(|s| s.name == "softirq_mutex").unwrap();
        let scenario =
            scenario.for_target(crate::kernel::Flavour::Default, crate::arch::Arch::X86_64).unwrap();
        let console =
            std::fs::read_to_string(project_dir().join("tests/fixtures/softirq_mutex.log")).unwrap();
        let cut: String = console.lines().filter(|l| !l.contains("BUG:")).map(|l| format!("{l}\n")).collect();
        let root = std::env::temp_dir().join(format!("irqlock-rejudge-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for (run, text, end) in
            [(1, &console, Some("seen\n")), (2, &cut, Some("seen\n")), (3, &console, None)]
        {
            let dir = root.join(format!("run-{run}/softirq_mutex"));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("console.log"), text).unwrap();
            if let Some(end) = end {
                std::fs::write(dir.join(crate::vm::END_FILE), end).unwrap();
            }
        }
        let x86 = (crate::kernel::Flavour::Default, crate::arch::Arch::X86_64);
        let runs = rejudge(&root, x86, None, std::slice::from_ref(&scenario), &[]);
        let none =
            rejudge(&root.join("run-1/softirq_mutex"), x86, None, std::slice::from_ref(&scenario), &[]);
        std::fs::remove_dir_all(&root).unwrap();
        let runs = runs.unwrap();
        let statuses: Vec<Vec<Status>> = runs.iter().map(|r| r.iter().map(|t| t.status).collect()).collect();
        assert_eq!(statuses, [[Status::Pass], [Status::Fail], [Status::Error]]);
        assert!(runs[2][0].error.as_deref().unwrap().contains("end.txt"), "{:?}", runs[2][0].error);
        assert_eq!(Tally::new(&runs).disagreements, 1);
        assert!(none.unwrap_err().message.contains("no boot of a scenario"));
    }

    /// The kernel a kept boot ran on, from its `qemu.sh` as `Vm::boot` writes it.
    #[test]
    fn a_kept_boot_names_its_kernel() {
        let dir = std::env::temp_dir().join(format!("irqlock-booted-on-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // QEMU's binary, the kernel's cache directory and image, and what they name.
        let cases = [
            (
                "qemu-system-x86_64",
                "7.3.4-ccf7423c3aa3e6f0d49a",
                "x86/boot/bzImage",
                Flavour::Default,
                Arch::X86_64,
            ),
            (
                "qemu-system-x86_64",
                "7.3.4-rt-3e2dc36216af9eb21c7e",
                "x86/boot/bzImage",
                Flavour::Rt,
                Arch::X86_64,
            ),
            (
                "qemu-system-aarch64",
                "7.3.4-arm64-b37d8f91c021a93c351f",
                "arm64/boot/Image",
                Flavour::Default,
                Arch::Arm64,
            ),
            (
                "qemu-system-aarch64",
                "7.3.4-arm64-rt-434a077696ec4bec9684",
                "arm64/boot/Image",
                Flavour::Rt,
                Arch::Arm64,
            ),
        ];
        let mut seen = Vec::new();
        for (qemu, key, image, _, _) in cases {
            let script = format!(
                "#!/bin/sh\nexec /usr/bin/{qemu} -accel tcg -kernel /root/.cache/irqlock/kernel/{key}/arch/{image} \
                 -initrd /t/initramfs.cpio -append 'console=ttyS0'\n"
            );
            std::fs::write(dir.join("qemu.sh"), script).unwrap();
            seen.push(booted_on(&dir));
        }
        std::fs::remove_file(dir.join("qemu.sh")).unwrap();
        let none = booted_on(&dir);
        std::fs::remove_dir_all(&dir).unwrap();
        let wanted: Vec<_> = cases.iter().map(|(_, _, _, f, a)| Some((*f, *a))).collect();
        assert_eq!(seen, wanted);
        assert_eq!(none, None);
    }

    /// Known durations order the start, longest first; a scenario never timed goes before them
    /// all, by its timeout; the file keeps the figures of scenarios a filtered run left out.
    #[test]
    fn the_longest_boots_start_first() {
        let scenario = |name: &str, timeout: u64| {
            let text = format!("description = \"d\"\ntimeout_s = {timeout}\n[expect]\noutcome = \"clean\"\n");
            Scenario::parse(name, &text).unwrap()
        };
        let scenarios = [scenario("a", 30), scenario("b", 30), scenario("c", 240), scenario("new", 5)];
        let file = std::env::temp_dir().join(format!("irqlock-durations-{}.txt", std::process::id()));
        std::fs::write(&file, "a 0.60\nb 4.50\nc 13.10\nother 9.00\n").unwrap();
        let order = longest_first(&scenarios, &read_durations(&file));
        let names: Vec<&str> = order.iter().map(|&i| scenarios[i].name.as_str()).collect();
        assert_eq!(names, ["new", "c", "b", "a"]);

        write_durations(&file, &[TestResult { seconds: 0.7, ..result("a", Status::Pass, "") }]);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "a 0.70\nb 4.50\nc 13.10\nother 9.00\n");
        let _ = std::fs::remove_file(&file);
    }

    /// A test that one run lacks (a KUnit case, when that run's KUnit boot failed) counts as
    /// not run there, and the runs do not line up by position.
    #[test]
    fn a_test_missing_from_a_run_is_an_error_there() {
        let runs = vec![
            vec![result("a", Status::Pass, ""), result("irqlock_config.x", Status::Pass, "")],
            vec![result("a", Status::Pass, ""), result("kunit (could not run)", Status::Error, "")],
        ];
        let tally = Tally::new(&runs);
        assert_eq!(tally.results.len(), 3);
        assert_eq!(tally.results[0].status, Status::Pass);
        assert_eq!(tally.results[1].status, Status::Error);
        assert_eq!(tally.disagreements, 2);
        assert!(tally.results[1].failures.contains(&"run 2: error: not in this run".to_string()));
        // Missing from the first run, the test is still counted.
        let swapped: Vec<Vec<TestResult>> = runs.into_iter().rev().collect();
        let tally = Tally::new(&swapped);
        let names: Vec<&str> = tally.results.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["a", "kunit (could not run)", "irqlock_config.x"]);
        assert!(tally.results[2].failures.contains(&"run 1: error: not in this run".to_string()));
    }

    #[test]
    fn repeated_runs_count_verdicts_and_find_flips() {
        let steady = |s| result("steady", s, "");
        let runs = vec![
            vec![
                steady(Status::Pass),
                result("flaky", Status::Pass, ""),
                result("broken", Status::Fail, "x"),
            ],
            vec![
                steady(Status::Pass),
                result("flaky", Status::Fail, "lacks y"),
                result("broken", Status::Fail, "x"),
            ],
        ];
        let tally = Tally::new(&runs);
        assert_eq!(tally.disagreements, 1);
        let statuses: Vec<Status> = tally.results.iter().map(|r| r.status).collect();
        assert_eq!(statuses, [Status::Pass, Status::Fail, Status::Fail]);
        assert_eq!(tally.results[1].failures[0], "1 of 2 runs: pass");
        assert_eq!(tally.results[1].failures[1], "1 of 2 runs: fail: lacks y");
        assert!(tally.results[1].failures.contains(&"run 2: console: /out/flaky/console.log".to_string()));
        let table = tally.table();
        assert!(table.contains("steady  2 pass  \n"), "{table}");
        assert!(table.contains("flaky   1 pass; 1 fail: lacks y  FLIPPED\n"), "{table}");
        assert!(table.contains("broken  2 fail: x  \n"), "{table}");
    }

    #[test]
    fn repeated_runs_count_each_ending() {
        let ended =
            |ending: &str| TestResult { ending: Some(ending.into()), ..result("two", Status::Pass, "") };
        let runs = vec![
            vec![ended("spins"), result("one", Status::Pass, "")],
            vec![ended("slept"), result("one", Status::Pass, "")],
            vec![ended("spins"), result("one", Status::Pass, "")],
        ];
        let tally = Tally::new(&runs);
        assert_eq!(tally.disagreements, 0);
        assert_eq!(tally.results[0].ending.as_deref(), Some("spins 2 of 3, slept 1 of 3"));
        let table = tally.table();
        assert!(table.contains("two  3 pass    (endings: spins 2, slept 1)\n"), "{table}");
        assert!(table.contains("one  3 pass  \n"), "{table}");
    }
}
