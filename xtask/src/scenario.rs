//! Scenarios: one TOML file each under `tests/scenarios/`, and the verdict on a boot.
//!
//! A scenario says what to load and what the kernel must report, exactly. The verdict reads
//! only the console log, through [`crate::triage`] for the kernel's reports and through the
//! init script's markers for the steps.

use crate::error::{Context, Error, Result};
use crate::initramfs::{Step, MARKER};
use crate::paths::files_with_extension;
use crate::qemu::End;
use crate::triage::{self, Report};
use serde::Deserialize;
use std::path::Path;

/// How a scenario's boot must end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Every step ran, and the kernel reported nothing and added no taint but the module's.
    Clean,
    /// Every step ran, and the kernel reported exactly `reports`.
    Reports,
    /// The kernel panicked (QEMU exited before the init script's end) after `reports`.
    Panic,
    /// The guest stopped making progress, the kernel said nothing that ended it, and the
    /// harness stopped it at the timeout.
    Hang,
}

/// The expectation on `insmod`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub outcome: Outcome,
    /// The report titles, in order, exactly.
    #[serde(default)]
    pub reports: Vec<String>,
    /// `ok`, or the errno name insmod must fail with (`EINVAL`, `ENODEV`).
    #[serde(default = "ok")]
    pub insmod: String,
    /// Lines (or parts of lines) the console must show, in this order.
    #[serde(default)]
    pub log: Vec<String>,
    /// Other endings that are just as right, where the kernel's path depends on timing the
    /// module cannot control; each says why.
    #[serde(default)]
    pub alternative: Vec<Alternative>,
    /// Reports the kernel may add, or not, depending on timing the module cannot control; they
    /// are left out before `reports` is compared. Each says why.
    #[serde(default)]
    pub tolerated: Vec<Tolerated>,
    /// Reports the kernel rate-limits by time rather than printing once: copies of such a
    /// report that follow it directly count as one. Each says why.
    #[serde(default)]
    pub repeats: Vec<Tolerated>,
}

/// Another ending of the same scenario: its outcome (the main one's when left out) and its
/// reports, exactly; then, any number of reports whose titles start with `then_any`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alternative {
    pub reason: String,
    pub outcome: Option<Outcome>,
    pub reports: Vec<String>,
    #[serde(default)]
    pub then_any: Vec<String>,
}

/// A report title and why it is treated specially.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tolerated {
    pub title: String,
    pub reason: String,
}

fn ok() -> String {
    "ok".to_string()
}

fn default_timeout() -> u64 {
    120
}

fn default_true() -> bool {
    true
}

/// One scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    #[serde(skip)]
    pub name: String,
    pub description: String,
    /// The module's `source=`, `lock=`, `handler=`, `irq=` and `count=`, when given.
    pub source: Option<String>,
    pub lock: Option<String>,
    pub handler: Option<String>,
    pub irq: Option<String>,
    pub count: Option<u32>,
    /// Other module parameters, e.g. `["period_us=200"]`.
    #[serde(default)]
    pub params: Vec<String>,
    /// Shell commands to run after insmod, such as `cat /proc/interrupts`.
    #[serde(default)]
    pub commands: Vec<String>,
    /// Seconds to wait between insmod and rmmod.
    #[serde(default)]
    pub sleep_before_rmmod: f64,
    /// Whether to unload the module at the end.
    #[serde(default = "default_true")]
    pub rmmod: bool,
    /// QEMU `-device` values.
    #[serde(default)]
    pub devices: Vec<String>,
    /// Extra kernel command-line options.
    #[serde(default)]
    pub cmdline: Vec<String>,
    /// Seconds after which the harness stops the VM and calls it a hang.
    #[serde(default = "default_timeout")]
    pub timeout_s: u64,
    pub expect: Expect,
}

impl Scenario {
    pub fn parse(name: &str, text: &str) -> Result<Self> {
        let mut scenario: Scenario =
            toml::from_str(text).map_err(|e| Error::unavailable(format!("scenario {name}: {e}")))?;
        scenario.name = name.to_string();
        if scenario.expect.insmod != "ok" && errno_text(&scenario.expect.insmod).is_none() {
            return Err(Error::unavailable(format!(
                "scenario {name}: expect.insmod = {:?} is not ok or a known errno ({})",
                scenario.expect.insmod,
                ERRNOS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
            )));
        }
        let expect = &scenario.expect;
        let reasons = expect.alternative.iter().map(|a| &a.reason);
        let reasons = reasons.chain(expect.tolerated.iter().chain(&expect.repeats).map(|t| &t.reason));
        if reasons.clone().any(|r| r.trim().is_empty()) {
            return Err(Error::unavailable(format!(
                "scenario {name}: every alternative, tolerated and repeated report needs its reason"
            )));
        }
        if scenario.expect.outcome == Outcome::Clean && !scenario.expect.reports.is_empty() {
            return Err(Error::unavailable(format!(
                "scenario {name}: a clean outcome cannot expect reports"
            )));
        }
        Ok(scenario)
    }

    /// The insmod parameters, the named ones first.
    pub fn insmod_params(&self) -> Vec<String> {
        let named = [
            ("source", self.source.clone()),
            ("lock", self.lock.clone()),
            ("handler", self.handler.clone()),
            ("irq", self.irq.clone()),
            ("count", self.count.map(|c| c.to_string())),
        ];
        let mut params: Vec<String> =
            named.into_iter().filter_map(|(key, value)| value.map(|v| format!("{key}={v}"))).collect();
        params.extend(self.params.iter().cloned());
        params
    }

    /// What the init script runs.
    pub fn steps(&self) -> Vec<Step> {
        let mut steps = vec![Step::Insmod(self.insmod_params())];
        steps.extend(self.commands.iter().map(|c| Step::Shell(c.clone())));
        if self.sleep_before_rmmod > 0.0 {
            steps.push(Step::Sleep(self.sleep_before_rmmod));
        }
        if self.rmmod && self.expect.insmod == "ok" {
            steps.push(Step::Rmmod);
        }
        steps
    }
}

/// Every scenario under `dir`, in name order.
pub fn load_all(dir: &Path) -> Result<Vec<Scenario>> {
    let paths = files_with_extension(dir, "toml")?;
    paths
        .iter()
        .map(|path| {
            let name = path.file_stem().unwrap_or_default().to_string_lossy().into_owned();
            let text =
                std::fs::read_to_string(path).context(|| format!("could not read {}", path.display()))?;
            Scenario::parse(&name, &text)
        })
        .collect()
}

/// The error text busybox's insmod prints for each errno a scenario may expect.
const ERRNOS: &[(&str, &str)] = &[
    ("EINVAL", "Invalid argument"),
    ("ENODEV", "No such device"),
    ("ENOENT", "No such file or directory"),
    ("EBUSY", "Device or resource busy"),
    ("ENOMEM", "Out of memory"),
    ("EEXIST", "File exists"),
];

fn errno_text(name: &str) -> Option<&'static str> {
    ERRNOS.iter().find(|(n, _)| *n == name).map(|(_, text)| *text)
}

/// What the init script's markers say: each step's exit status, the taint, the end.
#[derive(Debug, Default, PartialEq)]
pub struct Markers {
    pub exits: Vec<(usize, i32)>,
    pub tainted: Option<u64>,
    pub ended: bool,
}

pub fn markers(log: &str) -> Markers {
    // The console is shared: a kernel message may follow a marker on the same line, without
    // a newline between them, so only the leading digits of a value count.
    let number = |text: &str| -> Option<u64> {
        let digits: String = text.chars().take_while(|c| c.is_ascii_digit()).collect();
        digits.parse().ok()
    };
    let mut found = Markers::default();
    for line in log.lines() {
        let Some(at) = line.find(MARKER) else {
            continue;
        };
        let rest = line[at + MARKER.len()..].trim_start();
        if rest.starts_with("end") {
            found.ended = true;
        } else if let Some(mask) = rest.strip_prefix("tainted=") {
            found.tainted = number(mask);
        } else if let Some(step) = rest.strip_prefix("step ") {
            if let Some((n, status)) = step.split_once(": exit=") {
                if let (Ok(n), Some(status)) = (n.parse(), number(status)) {
                    found.exits.push((n, status as i32));
                }
            }
        }
    }
    found
}

/// Runs of white space count as one, so that columns (/proc/interrupts) do not matter.
fn squeeze(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether `line` holds `wanted`, where `...` in `wanted` stands for any text.
fn matches(line: &str, wanted: &str) -> bool {
    let mut rest = line;
    for part in wanted.split("...") {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

/// The `wanted` lines that the console log does not show in this order, as messages.
///
/// Timestamps are left out on both sides, Rust symbols are demangled, runs of white space
/// count as one, and `...` in a wanted line stands for any text.
pub fn missing_in_order(log: &str, wanted: &[String]) -> Vec<(String, String)> {
    let lines: Vec<String> =
        log.lines().map(|l| squeeze(&triage::demangle_line(triage::strip_prefix(l)))).collect();
    let mut failures = Vec::new();
    let mut from = 0;
    for want in wanted {
        let squeezed = squeeze(triage::strip_prefix(want));
        match lines[from..].iter().position(|l| matches(l, &squeezed)) {
            Some(at) => from += at + 1,
            None => failures.push((want.clone(), format!("the console lacks {want:?} (after line {from})"))),
        }
    }
    failures
}

/// TAINT_OOT_MODULE: loading any out-of-tree module sets it.
const TAINT_OOT_MODULE: u64 = 1 << 12;

/// One way a scenario may end: the main expectation or an alternative.
struct Ending<'a> {
    outcome: Outcome,
    reports: &'a [String],
    then_any: &'a [String],
}

/// The result of one scenario.
#[derive(Debug)]
pub struct Verdict {
    pub failures: Vec<String>,
    pub reports: Vec<Report>,
}

impl Verdict {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// Judges a boot of `scenario` from its console log and how the VM ended.
#[cfg(test)]
pub fn judge(scenario: &Scenario, log: &str, end: End) -> Verdict {
    judge_with(scenario, log, "", end)
}

/// Judges a boot from its console and the init script's own channel (`harness`, ttyS1),
/// which has the markers and step output intact; without it, the console's copy is used.
pub fn judge_with(scenario: &Scenario, log: &str, harness: &str, end: End) -> Verdict {
    let expect = &scenario.expect;
    let reports = triage::parse(log);
    let marks = markers(if harness.trim().is_empty() { log } else { harness });
    let mut failures = Vec::new();

    let seen_outcome = match end {
        End::TimedOut | End::BootHang => Outcome::Hang,
        End::Exited(_) if !marks.ended => Outcome::Panic,
        End::Exited(_) if reports.is_empty() => Outcome::Clean,
        End::Exited(_) => Outcome::Reports,
    };
    let outcome_ok = |outcome: Outcome| match outcome {
        // A panic is seen as a report, so "panic" needs the VM to end early by itself.
        Outcome::Panic => seen_outcome == Outcome::Panic,
        Outcome::Hang => end == End::TimedOut,
        Outcome::Clean | Outcome::Reports => marks.ended && matches!(end, End::Exited(_)),
    };
    let endings: Vec<Ending> =
        std::iter::once(Ending { outcome: expect.outcome, reports: &expect.reports, then_any: &[] })
            .chain(expect.alternative.iter().map(|a| Ending {
                outcome: a.outcome.unwrap_or(expect.outcome),
                reports: &a.reports,
                then_any: &a.then_any,
            }))
            .collect();
    if !endings.iter().any(|e| outcome_ok(e.outcome)) {
        let what = match seen_outcome {
            Outcome::Hang if end == End::BootHang => {
                "the kernel hung before user space, twice; the harness stopped it".to_string()
            }
            Outcome::Hang => format!(
                "the VM hung: no end of the init script within {}s; the harness stopped it",
                scenario.timeout_s
            ),
            Outcome::Panic => "the VM ended before the init script did (kernel panic or crash)".to_string(),
            _ => "the init script ran to its end".to_string(),
        };
        failures.push(format!("expected outcome {:?}, but {what}", expect.outcome));
    }

    // insmod is always step 1.
    match (expect.insmod.as_str(), marks.exits.iter().find(|(n, _)| *n == 1)) {
        (_, None) if marks.ended => {
            failures.push("insmod's exit status is missing from the console".to_string())
        }
        (_, None) => {}
        ("ok", Some((_, status))) if *status != 0 => {
            failures.push(format!("insmod failed with exit status {status}; expected it to succeed"))
        }
        ("ok", Some(_)) => {}
        (errno, Some((_, status))) => {
            let text = errno_text(errno).unwrap_or(errno);
            if *status == 0 {
                failures.push(format!("insmod succeeded; expected it to fail with {errno}"));
            } else if !log
                .lines()
                .chain(harness.lines())
                .any(|l| l.contains("insmod: can't insert") && l.contains(text))
            {
                failures.push(format!("insmod failed, but not with {errno} ({text})"));
            }
        }
    }
    for (n, status) in marks.exits.iter().filter(|(n, _)| *n > 1) {
        if *status != 0 {
            failures.push(format!("step {n} failed with exit status {status}"));
        }
    }

    let tolerated = |r: &Report| expect.tolerated.iter().any(|t| t.title == r.title);
    let mut counted: Vec<&Report> = reports.iter().filter(|r| !tolerated(r)).collect();
    counted.dedup_by(|later, first| {
        later.title == first.title && expect.repeats.iter().any(|t| t.title == first.title)
    });
    let titles: Vec<&str> = counted.iter().map(|r| r.title.as_str()).collect();
    let reports_ok = |e: &Ending| {
        titles.len() >= e.reports.len()
            && titles.iter().zip(e.reports).all(|(seen, want)| seen == want)
            && titles[e.reports.len()..].iter().all(|t| e.then_any.iter().any(|p| t.starts_with(p.as_str())))
            && (titles.len() == e.reports.len() || !e.then_any.is_empty())
    };
    if !endings.iter().any(reports_ok) {
        let mut message = format!("expected reports {:?}, saw {:?}", expect.reports, titles);
        for alternative in &expect.alternative {
            message += &format!("\n  or {:?}", alternative.reports);
            if !alternative.then_any.is_empty() {
                message += &format!(" then any of {:?}", alternative.then_any);
            }
        }
        let known = |title: &String| endings.iter().any(|e| e.reports.contains(title));
        for report in counted.iter().filter(|r| !known(&r.title)) {
            message += &format!(
                "\n  unexpected report \"{}\" (console lines {}-{}{}):\n    {}",
                report.title,
                report.first_line,
                report.last_line,
                if report.truncated { ", truncated" } else { "" },
                report.lines.iter().take(12).cloned().collect::<Vec<_>>().join("\n    ")
            );
        }
        failures.push(message);
    } else if !endings.iter().any(|e| outcome_ok(e.outcome) && reports_ok(e)) {
        failures
            .push(format!("the outcome fits one ending of the scenario and the reports {titles:?} another"));
    }

    if expect.outcome == Outcome::Clean {
        if let Some(mask) = marks.tainted {
            if mask & !TAINT_OOT_MODULE != 0 {
                failures.push(format!("the kernel is tainted {mask:#x}: more than the out-of-tree module's {TAINT_OOT_MODULE:#x}"));
            }
        }
    }

    // Step output (such as /proc/interrupts) is intact on the harness channel.
    let missing = missing_in_order(log, &expect.log);
    let step_output: Vec<String> = harness.lines().map(squeeze).collect();
    failures.extend(
        missing
            .into_iter()
            .filter(|(want, _)| {
                let want = squeeze(want);
                !step_output.iter().any(|l| matches(l, &want))
            })
            .map(|(_, message)| message),
    );
    Verdict { failures, reports }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(toml: &str) -> Scenario {
        Scenario::parse("t", toml).unwrap()
    }

    const END: &str =
        "irqlock-harness: step 1: exit=0\nirqlock-harness: tainted=4096\nirqlock-harness: end\n";

    #[test]
    fn rejects_unknown_fields_and_errnos() {
        assert!(Scenario::parse("t", "description='x'\nbogus=1\n[expect]\noutcome='clean'\n").is_err());
        assert!(Scenario::parse("t", "description='x'\n[expect]\noutcome='clean'\ninsmod='EWHAT'\n").is_err());
        assert!(Scenario::parse("t", "description='x'\n[expect]\noutcome='clean'\nreports=['x']\n").is_err());
    }

    #[test]
    fn clean_passes_only_without_reports_and_with_the_end() {
        let s = scenario("description='x'\n[expect]\noutcome='clean'\nlog=['irqlock: done']\n");
        let log = format!("[ 1.0] irqlock: done: 8\n{END}");
        assert!(judge(&s, &log, End::Exited(Some(0))).passed());
        let missing = judge(&s, END, End::Exited(Some(0)));
        assert!(missing.failures[0].contains("lacks \"irqlock: done\""), "{:?}", missing.failures);
        let warned = format!("[ 1.0] irqlock: done: 8\nWARNING: CPU: 0 PID: 1 at a.c:1 f+0x1/0x2\n---[ end trace 0 ]---\n{END}");
        assert!(!judge(&s, &warned, End::Exited(Some(0))).passed());
        assert!(!judge(&s, &log, End::BootHang).passed());
        let hung = judge(&s, "[ 1.0] irqlock: done: 8\n", End::TimedOut);
        assert!(hung.failures[0].contains("hung"), "{:?}", hung.failures);
    }

    #[test]
    fn tolerated_reports_may_come_or_not() {
        let s = scenario(
            "description='x'\n[expect]\noutcome='reports'\nreports=['WARNING in f']\ntolerated=[{title='WARNING in g', reason='r'}]\n",
        );
        let warn = |f: &str| format!("WARNING: a.c:1 at {f}+0x1/0x2, CPU#0: x/1\n---[ end trace 0 ]---\n");
        let end = "irqlock-harness: step 1: exit=0\nirqlock-harness: end\n";
        assert!(judge(&s, &format!("{}{end}", warn("f")), End::Exited(Some(0))).passed());
        assert!(judge(&s, &format!("{}{}{end}", warn("g"), warn("f")), End::Exited(Some(0))).passed());
        assert!(!judge(&s, &format!("{}{}{end}", warn("h"), warn("f")), End::Exited(Some(0))).passed());
        assert!(!judge(&s, &format!("{}{end}", warn("g")), End::Exited(Some(0))).passed());
    }

    #[test]
    fn an_alternative_sequence_of_reports_passes_too() {
        let s = scenario(
            "description='x'\n[expect]\noutcome='reports'\nreports=['WARNING in f']\n[[expect.alternative]]\nreason='r'\nreports=['WARNING in g', 'WARNING in f']\n",
        );
        let warn = |f: &str| format!("WARNING: a.c:1 at {f}+0x1/0x2, CPU#0: x/1\n---[ end trace 0 ]---\n");
        let end = "irqlock-harness: step 1: exit=0\nirqlock-harness: end\n";
        assert!(judge(&s, &format!("{}{end}", warn("f")), End::Exited(Some(0))).passed());
        assert!(judge(&s, &format!("{}{}{end}", warn("g"), warn("f")), End::Exited(Some(0))).passed());
        let neither = judge(&s, &format!("{}{end}", warn("g")), End::Exited(Some(0)));
        assert!(
            neither.failures[0].contains("or [\"WARNING in g\", \"WARNING in f\"]"),
            "{:?}",
            neither.failures
        );
    }

    #[test]
    fn an_alternative_ending_may_end_in_any_of_some_reports() {
        let s = scenario(
            "description='x'\n[expect]\noutcome='panic'\nreports=['WARNING in f', 'WARNING in h']\n\
             [[expect.alternative]]\nreason='r'\noutcome='reports'\nreports=['WARNING in f']\nthen_any=['WARNING in g']\n",
        );
        let warn = |f: &str| format!("WARNING: a.c:1 at {f}+0x1/0x2, CPU#0: x/1\n---[ end trace 0 ]---\n");
        let end = "irqlock-harness: step 1: exit=0\nirqlock-harness: end\n";
        let panicked = format!("{}{}", warn("f"), warn("h"));
        assert!(judge(&s, &panicked, End::Exited(Some(0))).passed());
        let survived = format!("{}{}{}{end}", warn("f"), warn("g"), warn("g2"));
        assert!(judge(&s, &survived, End::Exited(Some(0))).passed());
        assert!(judge(&s, &format!("{}{end}", warn("f")), End::Exited(Some(0))).passed());
        // The first ending's reports with the second's outcome fit neither.
        let mixed = judge(&s, &format!("{panicked}{end}"), End::Exited(Some(0)));
        assert!(!mixed.passed());
        assert!(!judge(&s, &format!("{}{}{end}", warn("f"), warn("x")), End::Exited(Some(0))).passed());
    }

    #[test]
    fn rate_limited_repeats_count_once_and_reasons_are_required() {
        let s = scenario(
            "description='x'\n[expect]\noutcome='reports'\nreports=['WARNING in f', 'WARNING in g']\nrepeats=[{title='WARNING in f', reason='r'}]\n",
        );
        let warn = |f: &str| format!("WARNING: a.c:1 at {f}+0x1/0x2, CPU#0: x/1\n---[ end trace 0 ]---\n");
        let end = "irqlock-harness: step 1: exit=0\nirqlock-harness: end\n";
        let twice = format!("{}{}{}{end}", warn("f"), warn("f"), warn("g"));
        assert!(judge(&s, &twice, End::Exited(Some(0))).passed());
        let apart = format!("{}{}{}{end}", warn("f"), warn("g"), warn("f"));
        assert!(!judge(&s, &apart, End::Exited(Some(0))).passed());
        let no_reason = "description='x'\n[expect]\noutcome='clean'\ntolerated=[{title='W', reason=' '}]\n";
        assert!(Scenario::parse("t", no_reason).unwrap_err().message.contains("needs its reason"));
    }

    #[test]
    fn extra_taint_fails_a_clean_scenario() {
        let s = scenario("description='x'\n[expect]\noutcome='clean'\n");
        let log = END.replace("tainted=4096", "tainted=4608");
        assert!(judge(&s, &log, End::Exited(Some(0))).failures[0].contains("tainted 0x1200"));
    }

    #[test]
    fn insmod_errors_are_checked_by_errno() {
        let s = scenario("description='x'\n[expect]\noutcome='clean'\ninsmod='EINVAL'\n");
        let failed = "insmod: can't insert '/irqlock.ko': Invalid argument\nirqlock-harness: step 1: exit=1\nirqlock-harness: end\n";
        assert!(judge(&s, failed, End::Exited(Some(0))).passed());
        let other = failed.replace("Invalid argument", "No such device");
        assert!(!judge(&s, &other, End::Exited(Some(0))).passed());
        assert!(!judge(&s, END, End::Exited(Some(0))).passed());
    }

    #[test]
    fn named_parameters_come_first() {
        let s = scenario("description='x'\nlock='mutex'\nsource='edu'\ncount=3\nparams=['period_us=50']\n[expect]\noutcome='clean'\n");
        assert_eq!(s.insmod_params(), ["source=edu", "lock=mutex", "count=3", "period_us=50"]);
        assert_eq!(s.steps(), [Step::Insmod(s.insmod_params()), Step::Rmmod]);
    }

    #[test]
    fn wanted_lines_match_in_order_with_wildcards() {
        let log = "[ 1.0] in_atomic(): 1, irqs_disabled(): 1, pid: 0, name: swapper/1\n[ 1.1]  IO-APIC   21-fasteoi   irqlock\n";
        let want = |lines: &[&str]| lines.iter().map(|l| l.to_string()).collect::<Vec<_>>();
        assert!(missing_in_order(
            log,
            &want(&["in_atomic(): 1, ... name: swapper/...", "21-fasteoi irqlock"])
        )
        .is_empty());
        assert!(missing_in_order(log, &want(&["[    9.000000] in_atomic(): 1"])).is_empty());
        assert_eq!(missing_in_order(log, &want(&["21-fasteoi", "in_atomic"])).len(), 1);
        assert_eq!(missing_in_order(log, &want(&["pid: 1, ... swapper"])).len(), 1);
    }

    #[test]
    fn reads_markers() {
        let m = markers(
            "[ 1.0] irqlock-harness: step 1: exit=0[    2.19] irqlock: done\nirqlock-harness: step 2: exit=1\n\
             irqlock-harness: tainted=4096\nirqlock-harness: end\n",
        );
        assert_eq!(m, Markers { exits: vec![(1, 0), (2, 1)], tainted: Some(4096), ended: true });
    }
}

/// The scenarios and the console logs captured from real boots of them.
#[cfg(test)]
mod fixtures {
    use super::*;
    use crate::paths::project_dir;

    /// The console log `tests/fixtures/<name>.log`.
    fn fixture(name: &str) -> String {
        let path = project_dir().join("tests/fixtures").join(format!("{name}.log"));
        let bytes = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}. Every scenario needs the console of a real boot of it: run \
                 `cargo xtask test --filter {name}`, then `scripts/capture-fixture {name}`",
                path.display()
            )
        });
        String::from_utf8_lossy(&bytes).into_owned()
    }

    fn scenarios() -> Vec<Scenario> {
        load_all(&project_dir().join("tests/scenarios")).unwrap()
    }

    fn scenario(name: &str) -> Scenario {
        scenarios().into_iter().find(|s| s.name == name).unwrap()
    }

    #[test]
    fn each_scenario_passes_on_its_own_boot() {
        for scenario in scenarios() {
            let log = fixture(&scenario.name);
            let verdict = judge(&scenario, &log, End::Exited(Some(0)));
            assert!(verdict.passed(), "{}: {:?}", scenario.name, verdict.failures);
        }
    }

    #[test]
    fn each_scenario_fails_on_another_scenarios_boot() {
        let all = scenarios();
        for scenario in &all {
            for other in all.iter().filter(|o| o.name != scenario.name) {
                let verdict = judge(scenario, &fixture(&other.name), End::Exited(Some(0)));
                assert!(!verdict.passed(), "{} passed on the boot of {}", scenario.name, other.name);
            }
        }
    }

    #[test]
    fn a_hang_is_never_a_pass() {
        for scenario in scenarios().iter().filter(|s| s.expect.outcome != Outcome::Hang) {
            let verdict = judge(scenario, &fixture(&scenario.name), End::TimedOut);
            assert!(!verdict.passed(), "{}", scenario.name);
        }
    }

    /// A real boot in which the edu interrupt landed on a task that was about to sleep.
    #[test]
    fn the_blocking_ops_warning_is_tolerated_and_recognised() {
        let log = fixture("edu_mutex_intx-not-running");
        let verdict = judge(&scenario("edu_mutex_intx"), &log, End::Exited(Some(0)));
        assert!(verdict.passed(), "{:?}", verdict.failures);
        assert_eq!(verdict.reports[0].title, "WARNING in __might_sleep");
        let message = "do not call blocking ops when !TASK_RUNNING";
        assert!(verdict.reports[0].lines.iter().any(|l| l.contains(message)));
    }

    /// A real boot in which a kernel message cut the console's copy of "step 1: exit=0" in two.
    #[test]
    fn markers_come_from_the_harness_channel() {
        // The boot is older than the mutex scenario's current log lines: judge its reports.
        let mutex = Scenario::parse(
            "mutex",
            "description='x'\nlock='mutex'\n[expect]\noutcome='reports'\nreports=[\n\
             'BUG: sleeping function called from invalid context in irqlock::shared::Shared::increment',\n\
             'WARNING: locking bug in irqlock::shared::Shared::increment']\n",
        )
        .unwrap();
        let console = fixture("mutex-split-marker");
        let console_only = judge(&mutex, &console, End::Exited(Some(0)));
        assert!(console_only.failures.iter().any(|f| f.contains("insmod's exit status is missing")));
        let harness = "irqlock-harness: begin\nirqlock-harness: step 1: insmod /irqlock.ko lock=mutex\n\
                       irqlock-harness: step 1: exit=0\nirqlock-harness: step 2: rmmod irqlock\n\
                       irqlock-harness: step 2: exit=0\nirqlock-harness: tainted=4608\nirqlock-harness: end\n";
        let verdict = judge_with(&mutex, &console, harness, End::Exited(Some(0)));
        assert!(verdict.passed(), "{:?}", verdict.failures);
    }

    /// Both real endings of `mutex_contended`: the handler spins on the owner, or the mutex
    /// slowpath schedules away from the interrupt ("scheduling while atomic").
    #[test]
    fn both_contended_endings_pass() {
        let contended = scenario("mutex_contended");
        for name in ["mutex_contended", "mutex_contended-scheduled"] {
            let verdict = judge(&contended, &fixture(name), End::Exited(Some(0)));
            assert!(verdict.passed(), "{name}: {:?}", verdict.failures);
        }
    }
}
