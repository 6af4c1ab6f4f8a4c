// SPDX-License-Identifier: GPL-2.0

//! The verdict on one boot: a function of the scenario's expectation and what the boot left
//! behind (its console, the init script's channel, how the VM ended), and of nothing else.
//!
//! The console goes through [`crate::triage`] for the kernel's reports; the init script's
//! markers ([`crate::guest`]) give each step's exit status, the taint and the end.

use crate::guest::{markers, Markers};
use crate::scenario::{errno_text, Outcome, Scenario};
use crate::triage::{self, Report};
use crate::vm::End;

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

/// The report the kernel rate-limits by time in every scenario: `__might_resched()` prints at
/// most once a second, by jiffies (`kernel/sched/core.c:9234`, 7.3), so a host that stalls the
/// guest for a second between two sleeping calls makes a second copy.
const RATE_LIMITED: &str = "BUG: sleeping function called from invalid context";

/// TAINT_OOT_MODULE: loading any out-of-tree module sets it.
const TAINT_OOT_MODULE: u64 = 1 << 12;

/// One way a scenario may end: the main expectation or an alternative.
struct Ending<'a> {
    name: String,
    outcome: Outcome,
    reports: &'a [String],
    then_any: &'a [String],
    /// The console lines it shows.
    log: &'a [String],
}

/// The result of one scenario.
#[derive(Debug)]
pub struct Verdict {
    pub failures: Vec<String>,
    /// The reports judged: up to and including the first point of no return.
    pub reports: Vec<Report>,
    /// The reports after the point of no return, shown but not judged.
    pub after: Vec<Report>,
    /// The name of the ending the boot matched (`expected`, or an alternative's), when it
    /// matched one.
    pub ending: Option<String>,
}

impl Verdict {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// What one boot left behind.
pub struct Boot<'a> {
    /// The console (ttyS0): kernel messages and, interleaved, the init script's copy.
    pub console: &'a str,
    /// The init script's own channel (ttyS1), where markers and step output are intact; empty
    /// when there is none, and then the console's copy is read.
    pub harness: &'a str,
    pub end: End,
}

/// What a boot shows, before any expectation: how it ended, insmod's exit status, the reports.
pub struct Seen {
    pub outcome: Outcome,
    pub markers: Markers,
    /// The reports up to and including the first point of no return, if any.
    pub reports: Vec<Report>,
    /// What the kernel printed after its point of no return: not evidence of anything.
    pub after: Vec<Report>,
}

impl Seen {
    /// insmod's exit status (it is always step 1), if the init script got to say it.
    pub fn insmod(&self) -> Option<i32> {
        self.markers.exits.iter().find(|(n, _)| *n == 1).map(|(_, status)| *status)
    }
}

/// Reads a boot: `cargo xtask run` shows this; [`judge`] compares it with a scenario.
pub fn see(boot: &Boot) -> Seen {
    let mut reports = triage::parse(boot.console);
    // Judging stops at the point of no return, as syzkaller stops at the first crash.
    let broken_at = reports.iter().position(triage::is_point_of_no_return);
    let after = broken_at.map(|at| reports.split_off(at + 1)).unwrap_or_default();
    let markers = markers(if boot.harness.trim().is_empty() { boot.console } else { boot.harness });
    let outcome = match boot.end {
        _ if broken_at.is_some() => Outcome::Broken,
        End::Broken => Outcome::Broken,
        End::TimedOut | End::Hung | End::BootHang => Outcome::Hang,
        // The harness stopped it once the console had shown everything (guest::FLUSHED).
        End::Exited(_) | End::Seen if !markers.ended => Outcome::Panic,
        End::Exited(_) | End::Seen if reports.is_empty() => Outcome::Clean,
        End::Exited(_) | End::Seen => Outcome::Reports,
    };
    Seen { outcome, markers, reports, after }
}

/// Judges a boot of `scenario`.
pub fn judge(scenario: &Scenario, boot: &Boot) -> Verdict {
    let expect = &scenario.expect;
    let (log, harness, end) = (boot.console, boot.harness, boot.end);
    let Seen { outcome: seen_outcome, markers: marks, reports, after } = see(boot);
    let mut failures = Vec::new();

    let outcome_ok = |outcome: Outcome| match outcome {
        // Past a point of no return, how the VM ended is not evidence; before one, a panic is
        // seen as a report, so "panic" needs the VM to end early by itself.
        Outcome::Broken | Outcome::Panic => seen_outcome == outcome,
        Outcome::Hang => seen_outcome == Outcome::Hang && end != End::BootHang,
        Outcome::Clean | Outcome::Reports => {
            seen_outcome != Outcome::Broken && marks.ended && matches!(end, End::Exited(_) | End::Seen)
        }
    };
    let main = expect.ending.clone().unwrap_or_else(|| "expected".to_string());
    let endings: Vec<Ending> = std::iter::once(Ending {
        name: main,
        outcome: expect.outcome,
        reports: &expect.reports,
        then_any: &[],
        log: &expect.log,
    })
    .chain(expect.alternative.iter().enumerate().map(|(i, a)| Ending {
        name: a.name.clone().unwrap_or_else(|| format!("alternative {}", i + 1)),
        outcome: a.outcome.unwrap_or(expect.outcome),
        reports: &a.reports,
        then_any: &a.then_any,
        log: a.log.as_deref().unwrap_or(&expect.log),
    }))
    .collect();
    if !endings.iter().any(|e| outcome_ok(e.outcome)) {
        let what = match seen_outcome {
            Outcome::Hang if end == End::BootHang => {
                "the kernel hung before user space, twice; the harness stopped it".to_string()
            }
            Outcome::Hang if end == End::Hung => {
                "the VM hung: it fell silent with every CPU in the same place; the harness stopped it"
                    .to_string()
            }
            Outcome::Hang => format!(
                "the VM hung: no end of the init script within {}s; the harness stopped it",
                scenario.timeout_s
            ),
            Outcome::Panic => "the VM ended before the init script did (kernel panic or crash)".to_string(),
            Outcome::Broken => format!(
                "the kernel reached a point of no return ({}); judging stopped there",
                reports.last().map(|r| r.title.as_str()).unwrap_or("")
            ),
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
    // Past a point of no return, a later step failing is the broken kernel's doing.
    let broken = seen_outcome == Outcome::Broken;
    for (n, status) in marks.exits.iter().filter(|(n, _)| *n > 1 && !broken) {
        if *status != 0 {
            failures.push(format!("step {n} failed with exit status {status}"));
        }
    }

    let tolerated = |r: &Report| expect.tolerated.iter().any(|t| t.title == r.title);
    let mut counted: Vec<&Report> = reports.iter().filter(|r| !tolerated(r)).collect();
    // A rate-limited report may come again whenever the host stalls the guest past its limit:
    // its later copies, wherever they fall, count as the first.
    let rate_limited =
        |title: &str| title.starts_with(RATE_LIMITED) || expect.repeats.iter().any(|t| t.title == title);
    let mut firsts: Vec<&str> = Vec::new();
    counted.retain(|r| {
        let again = rate_limited(&r.title) && firsts.contains(&r.title.as_str());
        firsts.push(&r.title);
        !again
    });
    let titles: Vec<&str> = counted.iter().map(|r| r.title.as_str()).collect();
    // A point of no return that the broken kernel stopped printing before its call trace is
    // titled `... in corrupted` (triage::CORRUPTED): its header is all there is to match.
    let cut_short = counted.last().filter(|r| seen_outcome == Outcome::Broken && r.truncated);
    let same = |i: usize, seen: &str, want: &str| {
        seen == want
            || (i + 1 == titles.len()
                && cut_short.is_some_and(|r| r.guilty_function.is_none())
                && seen.strip_suffix(triage::CORRUPTED).is_some_and(|header| want.starts_with(header)))
    };
    let reports_ok = |e: &Ending| {
        titles.len() >= e.reports.len()
            && titles.iter().zip(e.reports).enumerate().all(|(i, (seen, want))| same(i, seen, want))
            && titles[e.reports.len()..].iter().all(|t| e.then_any.iter().any(|p| t.starts_with(p.as_str())))
            && (titles.len() == e.reports.len() || !e.then_any.is_empty())
    };
    let ending = endings.iter().find(|e| outcome_ok(e.outcome) && reports_ok(e)).map(|e| e.name.clone());
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
    } else if ending.is_none() {
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

    // Step output (such as /proc/interrupts) is intact on the harness channel. Past a point
    // of no return, only the console up to the end of its report counts.
    let judged_log = match reports.last().filter(|_| broken) {
        Some(last) => log.lines().take(last.last_line).collect::<Vec<_>>().join("\n"),
        None => log.to_string(),
    };
    // The ending seen names the lines it shows; with none seen, the main ending's.
    let wanted = endings.iter().find(|e| Some(&e.name) == ending.as_ref()).map_or(&expect.log[..], |e| e.log);
    let missing = missing_in_order(&judged_log, wanted);
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
    Verdict { failures, reports, after, ending }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Judges a boot from its console alone, as for the captured fixtures.
    pub fn judge_log(scenario: &Scenario, log: &str, end: End) -> Verdict {
        judge(scenario, &Boot { console: log, harness: "", end })
    }
    use crate::guest::{Markers, Step};

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
        let unknown = Scenario::parse("t", "description='x'\nlock='semaphore'\n[expect]\noutcome='clean'\n");
        assert!(unknown.unwrap_err().message.contains("unknown lock=semaphore; accepted: spinlock_irqsave"));
        let no_device = Scenario::parse("t", "description='x'\nsource='edu'\n[expect]\noutcome='clean'\n");
        assert!(no_device.unwrap_err().message.contains("needs devices = [\"edu\"]"));
    }

    #[test]
    fn clean_passes_only_without_reports_and_with_the_end() {
        let s = scenario("description='x'\n[expect]\noutcome='clean'\nlog=['irqlock: done']\n");
        let log = format!("[ 1.0] irqlock: done: 8\n{END}");
        assert!(judge_log(&s, &log, End::Exited(Some(0))).passed());
        let missing = judge_log(&s, END, End::Exited(Some(0)));
        assert!(missing.failures[0].contains("lacks \"irqlock: done\""), "{:?}", missing.failures);
        let warned = format!("[ 1.0] irqlock: done: 8\nWARNING: CPU: 0 PID: 1 at a.c:1 f+0x1/0x2\n---[ end trace 0 ]---\n{END}");
        assert!(!judge_log(&s, &warned, End::Exited(Some(0))).passed());
        assert!(!judge_log(&s, &log, End::BootHang).passed());
        // Stopped by the harness once the console was complete: as good as an exit.
        assert!(judge_log(&s, &log, End::Seen).passed());
        let hung = judge_log(&s, "[ 1.0] irqlock: done: 8\n", End::TimedOut);
        assert!(hung.failures[0].contains("hung"), "{:?}", hung.failures);
    }

    /// A WARNING in `f` that ends with its marker.
    fn warn(f: &str) -> String {
        format!("WARNING: a.c:1 at {f}+0x1/0x2, CPU#0: x/1\n---[ end trace 0 ]---\n")
    }

    /// insmod succeeded and the guest reached its end.
    const ENDED: &str = "irqlock-harness: step 1: exit=0\nirqlock-harness: end\n";

    #[test]
    fn tolerated_reports_may_come_or_not() {
        let s = scenario(
            "description='x'\n[expect]\noutcome='reports'\nreports=['WARNING in f']\ntolerated=[{title='WARNING in g', reason='r'}]\n",
        );
        assert!(judge_log(&s, &format!("{}{ENDED}", warn("f")), End::Exited(Some(0))).passed());
        assert!(judge_log(&s, &format!("{}{}{ENDED}", warn("g"), warn("f")), End::Exited(Some(0))).passed());
        assert!(!judge_log(&s, &format!("{}{}{ENDED}", warn("h"), warn("f")), End::Exited(Some(0))).passed());
        assert!(!judge_log(&s, &format!("{}{ENDED}", warn("g")), End::Exited(Some(0))).passed());
    }

    #[test]
    fn an_alternative_sequence_of_reports_passes_too() {
        let s = scenario(
            "description='x'\n[expect]\noutcome='reports'\nreports=['WARNING in f']\n[[expect.alternative]]\nreason='r'\nreports=['WARNING in g', 'WARNING in f']\n",
        );
        assert!(judge_log(&s, &format!("{}{ENDED}", warn("f")), End::Exited(Some(0))).passed());
        assert!(judge_log(&s, &format!("{}{}{ENDED}", warn("g"), warn("f")), End::Exited(Some(0))).passed());
        let neither = judge_log(&s, &format!("{}{ENDED}", warn("g")), End::Exited(Some(0)));
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
        let panicked = format!("{}{}", warn("f"), warn("h"));
        assert!(judge_log(&s, &panicked, End::Exited(Some(0))).passed());
        let survived = format!("{}{}{}{ENDED}", warn("f"), warn("g"), warn("g2"));
        assert!(judge_log(&s, &survived, End::Exited(Some(0))).passed());
        assert!(judge_log(&s, &format!("{}{ENDED}", warn("f")), End::Exited(Some(0))).passed());
        // The first ending's reports with the second's outcome fit neither.
        let mixed = judge_log(&s, &format!("{panicked}{ENDED}"), End::Exited(Some(0)));
        assert!(!mixed.passed());
        assert!(!judge_log(&s, &format!("{}{}{ENDED}", warn("f"), warn("x")), End::Exited(Some(0))).passed());
    }

    #[test]
    fn rate_limited_repeats_count_once_and_reasons_are_required() {
        let s = scenario(
            "description='x'\n[expect]\noutcome='reports'\nreports=['WARNING in f', 'WARNING in g']\nrepeats=[{title='WARNING in f', reason='r'}]\n",
        );
        let twice = format!("{}{}{}{ENDED}", warn("f"), warn("f"), warn("g"));
        assert!(judge_log(&s, &twice, End::Exited(Some(0))).passed());
        // Wherever the copy falls: the limit is time, and the host decides how much passes.
        let apart = format!("{}{}{}{ENDED}", warn("f"), warn("g"), warn("f"));
        assert!(judge_log(&s, &apart, End::Exited(Some(0))).passed());
        // Another report is still one too many.
        let other = format!("{}{}{}{ENDED}", warn("f"), warn("g"), warn("h"));
        assert!(!judge_log(&s, &other, End::Exited(Some(0))).passed());
        // might_sleep's report is rate-limited in every scenario, without `repeats`.
        let mutex = scenario(
            "description='x'\nlock='mutex'\n[expect]\noutcome='reports'\nreports=[\n\
             'BUG: sleeping function called from invalid context in irqlock::shared::Shared::increment',\n\
             'WARNING: locking bug in irqlock::shared::Shared::increment']\n",
        );
        let log =
            std::fs::read_to_string(crate::paths::project_dir().join("tests/fixtures/mutex.log")).unwrap();
        let at = log.find("BUG: sleeping function").unwrap();
        let line_start = log[..at].rfind('\n').map_or(0, |n| n + 1);
        let report_end = line_start + log[line_start..].find("</TASK>").unwrap() + "</TASK>\n".len();
        let copy = &log[line_start..report_end];
        let end_marker = log.find("irqlock-harness: end").unwrap();
        let stalled = format!("{}{copy}{}", &log[..end_marker], &log[end_marker..]);
        assert_eq!(triage::parse(&stalled).len(), triage::parse(&log).len() + 1);
        assert!(judge_log(&mutex, &stalled, End::Exited(Some(0))).passed());
        let no_reason = "description='x'\n[expect]\noutcome='clean'\ntolerated=[{title='W', reason=' '}]\n";
        assert!(Scenario::parse("t", no_reason).unwrap_err().message.contains("needs its reason"));
    }

    #[test]
    fn extra_taint_fails_a_clean_scenario() {
        let s = scenario("description='x'\n[expect]\noutcome='clean'\n");
        let log = END.replace("tainted=4096", "tainted=4608");
        assert!(judge_log(&s, &log, End::Exited(Some(0))).failures[0].contains("tainted 0x1200"));
    }

    #[test]
    fn insmod_errors_are_checked_by_errno() {
        let s = scenario("description='x'\n[expect]\noutcome='clean'\ninsmod='EINVAL'\n");
        let failed = "insmod: can't insert '/irqlock.ko': Invalid argument\nirqlock-harness: step 1: exit=1\nirqlock-harness: end\n";
        assert!(judge_log(&s, failed, End::Exited(Some(0))).passed());
        let other = failed.replace("Invalid argument", "No such device");
        assert!(!judge_log(&s, &other, End::Exited(Some(0))).passed());
        assert!(!judge_log(&s, END, End::Exited(Some(0))).passed());
    }

    #[test]
    fn named_parameters_come_first() {
        let s = scenario("description='x'\nlock='mutex'\nsource='edu'\ndevices=['edu']\ncount=3\nparams=['period_us=50']\n[expect]\noutcome='clean'\n");
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
    use super::tests::judge_log;
    use super::*;
    use crate::kernel::Flavour;
    use crate::paths::project_dir;
    use crate::scenario::{load_all, Expect};

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
            // How its boot ended, which the console alone does not say.
            let end = if scenario.expect.outcome == Outcome::Hang { End::Hung } else { End::Exited(Some(0)) };
            let verdict = judge_log(&scenario, &log, end);
            assert!(verdict.passed(), "{}: {:?}", scenario.name, verdict.failures);
        }
    }

    /// The scenarios that run on the PREEMPT_RT kernel, each on its own boot there
    /// (`tests/fixtures/rt/`).
    #[test]
    fn each_rt_scenario_passes_on_its_own_rt_boot() {
        let rt: Vec<Scenario> = scenarios().iter().filter_map(|s| s.for_kernel(Flavour::Rt)).collect();
        for scenario in &rt {
            let path = crate::labs::fixture_path(Flavour::Rt, crate::arch::Arch::X86_64, &scenario.name);
            let log = std::fs::read_to_string(&path).unwrap_or_else(|e| {
                panic!(
                    "{}: {e}; run `cargo xtask test --kernel rt --filter {}`, then \
                     `scripts/capture-fixture --kernel rt {}`",
                    path.display(),
                    scenario.name,
                    scenario.name
                )
            });
            let verdict = judge_log(scenario, &log, End::Exited(Some(0)));
            assert!(verdict.passed(), "{} (rt): {:?}", scenario.name, verdict.failures);
        }
    }

    /// The scenarios captured on an arm64 guest (`tests/fixtures/arm64/`, `arm64/rt/`), each
    /// judged as it runs there (its `[arm64]` table where it has one) on its own boot.
    #[test]
    fn each_arm64_fixture_passes_as_its_scenario_runs_on_arm64() {
        use crate::arch::Arch;
        let mut judged = 0;
        for flavour in [Flavour::Default, Flavour::Rt] {
            for scenario in scenarios().iter().filter_map(|s| s.for_target(flavour, Arch::Arm64)) {
                let path = crate::labs::fixture_path(flavour, Arch::Arm64, &scenario.name);
                let Ok(log) = std::fs::read_to_string(&path) else { continue };
                let end =
                    if scenario.expect.outcome == Outcome::Hang { End::Hung } else { End::Exited(Some(0)) };
                let verdict = judge_log(&scenario, &log, end);
                assert!(
                    verdict.passed(),
                    "{} (arm64, {}): {:?}",
                    scenario.name,
                    flavour.name(),
                    verdict.failures
                );
                judged += 1;
            }
        }
        assert!(judged >= 1, "no arm64 fixture judged");
    }

    #[test]
    fn each_scenario_fails_on_another_scenarios_boot() {
        let all = scenarios();
        for scenario in &all {
            for other in all.iter().filter(|o| o.name != scenario.name) {
                let verdict = judge_log(scenario, &fixture(&other.name), End::Exited(Some(0)));
                assert!(!verdict.passed(), "{} passed on the boot of {}", scenario.name, other.name);
            }
        }
    }

    /// A fixture is a scenario's boot (on PREEMPT_RT, in `rt/`, a scenario that runs there), or
    /// a real boot that a test names.
    #[test]
    fn every_fixture_is_used() {
        // Every Rust source of the harness, in its subdirectories too.
        fn sources(dir: &std::path::Path) -> String {
            let mut text = String::new();
            for entry in std::fs::read_dir(dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    text += &sources(&path);
                } else if path.extension().is_some_and(|x| x == "rs") {
                    text += &std::fs::read_to_string(&path).unwrap();
                }
            }
            text
        }
        let sources = sources(&project_dir().join("xtask/src"));
        let all = scenarios();
        let rt: Vec<Scenario> = all.iter().filter_map(|s| s.for_kernel(Flavour::Rt)).collect();
        let fixtures = project_dir().join("tests/fixtures");
        let arm64: Vec<Scenario> =
            all.iter().filter_map(|s| s.for_target(Flavour::Default, crate::arch::Arch::Arm64)).collect();
        let mut dirs =
            vec![(fixtures.clone(), &all), (fixtures.join("rt"), &rt), (fixtures.join("arm64"), &arm64)];
        let arm64_rt: Vec<Scenario> =
            all.iter().filter_map(|s| s.for_target(Flavour::Rt, crate::arch::Arch::Arm64)).collect();
        if fixtures.join("arm64/rt").exists() {
            dirs.push((fixtures.join("arm64/rt"), &arm64_rt));
        }
        for (dir, scenarios) in dirs {
            let logs = crate::paths::files_with_extension(&dir, "log").unwrap();
            assert!(!logs.is_empty(), "{}: no fixtures", dir.display());
            for path in logs {
                let name = path.file_stem().unwrap().to_string_lossy().into_owned();
                let used = scenarios.iter().any(|s| s.name == name)
                    || sources.contains(&format!("\"{name}\""))
                    || sources.contains(&format!("/{name}.log\""));
                assert!(used, "{}: no scenario of that name and no test uses it", path.display());
            }
        }
    }

    /// Unless a scenario names a hang among its endings, or the kernel broke before it hung
    /// (then how the VM ended is not evidence).
    #[test]
    fn a_hang_is_never_a_pass() {
        let may_hang = |s: &Scenario| {
            s.expect.outcome == Outcome::Hang
                || s.expect.alternative.iter().any(|a| a.outcome == Some(Outcome::Hang))
        };
        let mut judged = 0;
        for scenario in scenarios().iter().filter(|s| !may_hang(s)) {
            let log = fixture(&scenario.name);
            for end in [End::TimedOut, End::Hung] {
                let boot = Boot { console: &log, harness: "", end };
                if see(&boot).outcome == Outcome::Broken {
                    continue;
                }
                judged += 1;
                let verdict = judge_log(scenario, &log, end);
                assert!(!verdict.passed(), "{} {end:?}", scenario.name);
            }
        }
        assert!(judged > 40, "{judged}");
    }

    /// Once the kernel has scheduled from an interrupt, what it prints next is open ended:
    /// judging stops at that report, whatever follows and however the VM ended.
    #[test]
    fn judging_stops_at_the_point_of_no_return() {
        let two_cpus = scenario("two_cpus_mutex");
        let log = fixture("two_cpus_mutex-lockup");
        for end in [End::Exited(Some(0)), End::Broken, End::TimedOut, End::Hung] {
            let verdict = judge_log(&two_cpus, &log, end);
            assert!(verdict.passed(), "{end:?}: {:?}", verdict.failures);
            assert_eq!(verdict.ending.as_deref(), Some("slept"));
            let last = &verdict.reports[verdict.reports.len() - 1].title;
            assert_eq!(last, "BUG: scheduling while atomic in irqlock::shared::Shared::increment");
            let after: Vec<&str> = verdict.after.iter().map(|r| r.title.as_str()).collect();
            assert!(after.contains(&"kernel panic: Hard LOCKUP"), "{after:?}");
        }
        // A step the broken kernel failed, and a wanted line it printed, count for nothing.
        let later = format!("{log}\nirqlock-harness: step 3: exit=1\nirqlock: printed by a broken kernel\n");
        assert!(judge_log(&two_cpus, &later, End::Broken).passed());
        let mut wants_later = two_cpus.clone();
        wants_later.expect.log.push("irqlock: printed by a broken kernel".into());
        let verdict = judge_log(&wants_later, &later, End::Broken);
        assert!(
            verdict.failures.iter().any(|f| f.contains("printed by a broken kernel")),
            "{:?}",
            verdict.failures
        );
        // A report the scenario does not name, before the point of no return, still fails it.
        let before = log.replacen(
            "BUG: scheduling while atomic",
            "BUG: spinlock recursion on CPU#0, insmod/1\nBUG: scheduling while atomic",
            1,
        );
        assert!(!judge_log(&two_cpus, &before, End::Broken).passed());
        // The main ending does not accept a broken kernel.
        let spins =
            Scenario { expect: Expect { alternative: Vec::new(), ..two_cpus.expect.clone() }, ..two_cpus };
        assert!(!judge_log(&spins, &log, End::Exited(Some(0))).passed());
    }

    /// A real boot in which the edu interrupt landed on a task that was about to sleep.
    #[test]
    fn the_blocking_ops_warning_is_tolerated_and_recognised() {
        let log = fixture("edu_mutex_intx-not-running");
        let verdict = judge_log(&scenario("edu_mutex_intx"), &log, End::Exited(Some(0)));
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
        let console_only = judge_log(&mutex, &console, End::Exited(Some(0)));
        assert!(console_only.failures.iter().any(|f| f.contains("insmod's exit status is missing")));
        let harness = "irqlock-harness: begin\nirqlock-harness: step 1: insmod /irqlock.ko lock=mutex\n\
                       irqlock-harness: step 1: exit=0\nirqlock-harness: step 2: rmmod irqlock\n\
                       irqlock-harness: step 2: exit=0\nirqlock-harness: tainted=4608\nirqlock-harness: end\n";
        let verdict = judge(&mutex, &Boot { console: &console, harness, end: End::Exited(Some(0)) });
        assert!(verdict.passed(), "{:?}", verdict.failures);
    }

    /// Both real endings of `mutex_contended`: the handler spins on the owner, or the mutex
    /// slowpath schedules away from the interrupt ("scheduling while atomic").
    #[test]
    fn both_contended_endings_pass() {
        let contended = scenario("mutex_contended");
        for name in ["mutex_contended", "mutex_contended-scheduled"] {
            let verdict = judge_log(&contended, &fixture(name), End::Exited(Some(0)));
            assert!(verdict.passed(), "{name}: {:?}", verdict.failures);
        }
    }

    /// arm64's two real endings of `mutex_contended`: the spin, ended stuck, and the sleep, a
    /// point of no return with none of the spin's lockup lines (its own `log`).
    #[test]
    fn both_contended_endings_pass_on_arm64() {
        let contended =
            scenario("mutex_contended").for_target(Flavour::Default, crate::arch::Arch::Arm64).unwrap();
        let fixtures = project_dir().join("tests/fixtures/arm64");
        for (name, end, ending) in
            [("mutex_contended", End::Hung, "spins"), ("mutex_contended-slept", End::Broken, "slept")]
        {
            let log = std::fs::read_to_string(fixtures.join(format!("{name}.log"))).unwrap();
            let verdict = judge_log(&contended, &log, end);
            assert!(verdict.passed(), "{name}: {:?}", verdict.failures);
            assert_eq!(verdict.ending.as_deref(), Some(ending));
        }
    }

    /// The real endings of `two_cpus_mutex`: the second handler spins on the first one's mutex
    /// and proceeds, or sleeps from the interrupt and the kernel breaks (and then goes on,
    /// panics or stops: not judged).
    #[test]
    fn both_two_cpu_mutex_endings_pass() {
        let two_cpus = scenario("two_cpus_mutex");
        for (name, end, ending) in [
            ("two_cpus_mutex", End::Broken, "slept"),
            ("two_cpus_mutex-spins", End::Seen, "spins"),
            ("two_cpus_mutex-scheduled", End::Exited(Some(0)), "slept"),
            ("two_cpus_mutex-hang", End::TimedOut, "slept"),
            ("two_cpus_mutex-lockup", End::Exited(Some(0)), "slept"),
        ] {
            let verdict = judge_log(&two_cpus, &fixture(name), end);
            assert!(verdict.passed(), "{name}: {:?}", verdict.failures);
            assert_eq!(verdict.ending.as_deref(), Some(ending), "{name}");
        }
    }

    /// A console taken over mid-line prints the cut line again after "** replaying previous
    /// printk message **": one report, not a second one with a cut title. Taken over after a
    /// whole line, it prints the note and nothing again: the line before the note is kept (the
    /// report's BUG line, a frame of its trace; both failed `softirq_mutex` in 2 of 100 runs
    /// while every line before a note was dropped).
    #[test]
    fn a_line_the_console_replays_counts_once() {
        for name in [
            "softirq_mutex-replayed-line",
            "softirq_mutex-replay-after-whole-line",
            "softirq_mutex-replay-after-whole-frame",
        ] {
            let console = fixture(name);
            assert!(console.contains("** replaying previous printk message **"), "{name}");
            let verdict = judge_log(&scenario("softirq_mutex"), &console, End::Exited(Some(0)));
            assert!(verdict.passed(), "{name}: {:?}", verdict.failures);
        }
    }
}
