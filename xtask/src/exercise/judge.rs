// SPDX-License-Identifier: GPL-2.0

//! The verdict on one check of an exercise: a function of the check and what its boot left
//! behind, judged from what the kernel did. What the module prints counts only where the
//! frame (the code outside the TODO blocks, which the checker compares with the exercise's)
//! prints it, once, with this load's nonce; the rest comes from the kernel: its reports, its
//! taint, lockdep's state, its own interrupt counts, and whether the module is still loaded.

use super::spec::{Check, Spec};
use crate::guest::{markers, Step};
use crate::triage::{self, Report};
use crate::vm::End;

/// TAINT_OOT_MODULE: loading any out-of-tree module sets it.
const TAINT_OOT_MODULE: u64 = 1 << 12;

/// More lines than this printed by the module make a flood: a check fails on it, whatever
/// else the module did.
pub const FLOOD_LINES: usize = 500;

/// The line the frame prints at unload.
pub const CHECK_LINE: &str = "exercise-check:";

/// One way a check failed: a failure kind of [`super::spec::FAILURE_KINDS`] or a report's
/// title, and what the checker saw.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub what: String,
    pub message: String,
}

/// A check's verdict.
#[derive(Debug, Default)]
pub struct Verdict {
    pub failures: Vec<Failure>,
    pub reports: Vec<Report>,
}

impl Verdict {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    /// Whether one of the failures is `what`: a failure kind, or a report whose title starts so.
    pub fn failed_with(&self, what: &str) -> bool {
        self.failures.iter().any(|f| f.what == what || f.what.starts_with(what))
    }
}

/// The guest's steps for a check: load with this run's nonce, read the kernel's interrupt
/// counts, wait, unload, then what the kernel says afterwards.
pub fn steps(spec: &Spec, check: &Check, nonce: u32) -> Vec<Step> {
    let mut params = check.params.clone();
    params.push(format!("nonce={nonce}"));
    let mut steps = vec![Step::Insmod(params), Step::Shell("cat /proc/interrupts".into())];
    if check.sleep_before_rmmod > 0.0 {
        steps.push(Step::Sleep(check.sleep_before_rmmod));
    }
    steps.push(Step::Shell(format!("rmmod {}", spec.module)));
    steps.push(Step::Shell(format!("test ! -e /sys/module/{}", spec.module)));
    steps.push(Step::Shell("grep debug_locks: /proc/lockdep_stats".into()));
    steps
}

/// What one boot left behind, as [`crate::verdict::Boot`].
pub struct Boot<'a> {
    pub console: &'a str,
    pub harness: &'a str,
    pub end: End,
    pub timeout_s: u64,
}

/// The output of step `n` on the harness channel: the lines between its announcement and
/// its exit status.
fn step_output(harness: &str, n: usize) -> Vec<&str> {
    let start = format!("irqlock-harness: step {n}: ");
    let exit = format!("irqlock-harness: step {n}: exit=");
    let mut lines = Vec::new();
    let mut inside = false;
    for line in harness.lines() {
        if line.starts_with(&exit) {
            break;
        }
        if inside {
            lines.push(line);
        } else if line.starts_with(&start) {
            inside = true;
        }
    }
    lines
}

/// The sum of the per-CPU counts of the `/proc/interrupts` lines that name `irq_name`.
pub fn kernel_irq_count(interrupts: &[&str], irq_name: &str) -> Option<u64> {
    let lines: Vec<&&str> = interrupts
        .iter()
        .filter(|l| l.split_whitespace().any(|w| w.trim_end_matches(',') == irq_name))
        .collect();
    if lines.is_empty() {
        return None;
    }
    Some(
        lines
            .iter()
            .map(|l| l.split_whitespace().skip(1).map_while(|w| w.parse::<u64>().ok()).sum::<u64>())
            .sum(),
    )
}

/// `interrupts=X counter=Y` of a frame line with `nonce`.
fn check_values(line: &str, nonce: u32) -> Option<(u64, u64)> {
    let rest = &line[line.find(CHECK_LINE)? + CHECK_LINE.len()..];
    let mut fields = rest.split_whitespace();
    let value = |field: Option<&str>, name: &str| -> Option<u64> {
        let text = field?.strip_prefix(name)?.strip_prefix('=')?;
        text.chars().take_while(char::is_ascii_digit).collect::<String>().parse().ok()
    };
    (value(fields.next(), "nonce")? == u64::from(nonce)).then_some(())?;
    Some((value(fields.next(), "interrupts")?, value(fields.next(), "counter")?))
}

/// Judges a boot of `check` with `nonce`.
pub fn judge(spec: &Spec, check: &Check, nonce: u32, boot: &Boot) -> Verdict {
    let steps = steps(spec, check, nonce);
    // The harness's markers come from its own channel only: the module under test writes to
    // the console, and could print them there itself.
    let harness = boot.harness;
    let marks = markers(harness);
    let reports = triage::parse(boot.console);
    let mut failures = Vec::new();
    let mut fail = |what: &str, message: String| failures.push(Failure { what: what.to_string(), message });

    match boot.end {
        End::TimedOut | End::Hung | End::BootHang if !marks.ended => fail(
            "hang",
            format!("the VM did not finish within {}s and was stopped (a hang, or a flood)", boot.timeout_s),
        ),
        _ if !marks.ended => {
            fail("panic", "the VM ended before the check did: the kernel panicked or crashed".into())
        }
        _ => {}
    }
    for report in &reports {
        fail(&report.title, format!("the kernel reported \"{}\"", report.title));
    }
    let status = |n: usize| marks.exits.iter().find(|(i, _)| *i == n).map(|(_, s)| *s);
    match status(1) {
        Some(0) => {}
        Some(code) => {
            let said = boot.console.lines().find(|l| l.contains("insmod: can't insert")).unwrap_or("");
            fail("insmod", format!("insmod failed (exit {code}): {}", said.trim()));
        }
        None if marks.ended => fail("insmod", "insmod's exit status is missing".into()),
        None => {}
    }
    let rmmod =
        steps.iter().position(|s| matches!(s, Step::Shell(c) if c.starts_with("rmmod"))).unwrap_or(0) + 1;
    let failed = |n: usize| status(n).is_some_and(|s| s != 0);
    if status(1) == Some(0) && (failed(rmmod) || failed(rmmod + 1)) {
        fail("rmmod", format!("the module did not unload: `rmmod {}` failed", spec.module));
    }
    let lockdep = step_output(harness, rmmod + 2);
    if marks.ended {
        match lockdep.iter().find_map(|l| l.split_once("debug_locks:")).map(|(_, v)| v.trim()) {
            Some("1") => {}
            Some(value) => fail("lockdep-off", format!("lockdep turned itself off (debug_locks: {value})")),
            None => fail("lockdep-off", "/proc/lockdep_stats has no debug_locks line".into()),
        }
    }
    let prefix = format!("{}: ", spec.module);
    let printed = boot.console.lines().filter(|l| l.contains(&prefix) && !l.contains(CHECK_LINE)).count();
    if printed > FLOOD_LINES {
        fail("flood", format!("the module printed {printed} lines: more than {FLOOD_LINES} is a flood"));
    }
    if let Some(mask) = marks.tainted {
        if mask & !TAINT_OOT_MODULE != 0 {
            fail("taint", format!("the kernel is tainted {mask:#x}, beyond the out-of-tree flag"));
        }
    }

    if status(1) == Some(0) && marks.ended {
        let lines: Vec<(u64, u64)> = boot.console.lines().filter_map(|l| check_values(l, nonce)).collect();
        let count = check.count().unwrap_or(0);
        let waits = !check.params.iter().any(|p| p == "wait=0");
        match lines.as_slice() {
            [] => fail("check-line", "the module printed no check line at unload".into()),
            [(interrupts, counter)] => {
                if (waits && *interrupts != count) || *interrupts == 0 {
                    fail(
                        "interrupts",
                        format!("{interrupts} of {} interrupts arrived", if waits { count } else { 1 }),
                    );
                }
                if let Some(name) = &spec.irq_name {
                    let counted = kernel_irq_count(&step_output(harness, 2), name);
                    match counted {
                        Some(n) if n >= *interrupts && n >= count => {}
                        Some(n) => fail(
                            "interrupts",
                            format!("/proc/interrupts counts {n} for {name}; the module says {interrupts}"),
                        ),
                        None => fail("interrupts", format!("/proc/interrupts has no line for {name}")),
                    }
                }
                if *counter != interrupts + 1 {
                    fail(
                        "counter",
                        format!(
                            "counter={counter}, but {interrupts} interrupts and one process-context \
                             increment make {}",
                            interrupts + 1
                        ),
                    );
                }
            }
            more => {
                fail(
                    "check-line",
                    format!("{} check lines: only the frame prints one, at unload", more.len()),
                );
                if let Some((interrupts, counter)) = more.last() {
                    if *counter != interrupts + 1 {
                        fail(
                            "counter",
                            format!("the last check line says counter={counter}, interrupts={interrupts}"),
                        );
                    }
                }
            }
        }
    }
    Verdict { failures, reports }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(irq_name: Option<&str>) -> Spec {
        let mut text = String::from(
            "title='t'\nlab='l'\nmodule='ex09'\n[starter_fails_with]\ndefault='counter'\n\
             [[check]]\nname='c'\ndescription='d'\nparams=['count=8']\n[[hint]]\nwhen='counter'\ntext='x'\n",
        );
        if let Some(name) = irq_name {
            text = format!("irq_name='{name}'\n{text}");
        }
        toml::from_str(&text).unwrap()
    }

    /// A boot that went well: steps 1 (insmod) to 5 on the harness channel.
    fn harness(interrupts: &str, debug_locks: u32, tainted: u32) -> String {
        format!(
            "irqlock-harness: step 1: insmod /irqlock.ko count=8 nonce=7\nirqlock-harness: step 1: exit=0\n\
             irqlock-harness: step 2: cat /proc/interrupts\n{interrupts}irqlock-harness: step 2: exit=0\n\
             irqlock-harness: step 3: rmmod ex09\nirqlock-harness: step 3: exit=0\n\
             irqlock-harness: step 4: test ! -e /sys/module/ex09\nirqlock-harness: step 4: exit=0\n\
             irqlock-harness: step 5: grep debug_locks: /proc/lockdep_stats\n debug_locks:     {debug_locks}\n\
             irqlock-harness: step 5: exit=0\nirqlock-harness: tainted={tainted}\nirqlock-harness: end\n"
        )
    }

    fn judged(spec: &Spec, console: &str, harness: &str, end: End) -> Verdict {
        judge(spec, &spec.checks[0], 7, &Boot { console, harness, end, timeout_s: 60 })
    }

    const GOOD: &str = "[ 1.0] ex09: exercise-check: nonce=7 interrupts=8 counter=9\n";

    #[test]
    fn a_clean_boot_with_the_right_count_passes() {
        let s = spec(None);
        let v = judged(&s, GOOD, &harness("", 1, 4096), End::Seen);
        assert!(v.passed(), "{:?}", v.failures);
    }

    #[test]
    fn each_kernel_fact_can_fail_the_check() {
        let s = spec(None);
        let ok = harness("", 1, 4096);
        let kinds = |v: Verdict| v.failures.into_iter().map(|f| f.what).collect::<Vec<_>>();
        assert_eq!(kinds(judged(&s, GOOD, &harness("", 0, 4096), End::Seen)), ["lockdep-off"]);
        assert_eq!(kinds(judged(&s, GOOD, &harness("", 1, 4096 | 512), End::Seen)), ["taint"]);
        let wrong = GOOD.replace("counter=9", "counter=6");
        assert_eq!(kinds(judged(&s, &wrong, &ok, End::Seen)), ["counter"]);
        let few = GOOD.replace("interrupts=8 counter=9", "interrupts=1 counter=2");
        assert_eq!(kinds(judged(&s, &few, &ok, End::Seen)), ["interrupts"]);
        let other_nonce = GOOD.replace("nonce=7", "nonce=8");
        assert_eq!(kinds(judged(&s, &other_nonce, &ok, End::Seen)), ["check-line"]);
        let faked = format!("{GOOD}{}", GOOD.replace("counter=9", "counter=1"));
        assert_eq!(kinds(judged(&s, &faked, &ok, End::Seen)), ["check-line", "counter"]);
        let flood = format!("{}{GOOD}", "[ 1.0] ex09: expiry 1\n".repeat(FLOOD_LINES + 1));
        assert_eq!(kinds(judged(&s, &flood, &ok, End::Seen)), ["flood"]);
        let chatty = format!("{}{GOOD}", "[ 1.0] ex09: expiry 1\n".repeat(FLOOD_LINES));
        assert!(judged(&s, &chatty, &ok, End::Seen).passed());
        let stuck = ok.replace("step 3: exit=0", "step 3: exit=1");
        assert_eq!(kinds(judged(&s, GOOD, &stuck, End::Seen)), ["rmmod"]);
        let report = format!("WARNING: a.c:1 at f+0x1/0x2, CPU#0: x/1\n---[ end trace 0 ]---\n{GOOD}");
        assert_eq!(kinds(judged(&s, &report, &ok, End::Seen)), ["WARNING in f"]);
        let hung = "irqlock-harness: step 1: insmod /irqlock.ko\n";
        assert_eq!(kinds(judged(&s, "", hung, End::TimedOut)), ["hang"]);
        assert_eq!(kinds(judged(&s, "", hung, End::Exited(Some(0)))), ["panic"]);
        let refused = ok.replace("step 1: exit=0", "step 1: exit=1");
        assert_eq!(
            kinds(judged(
                &s,
                "insmod: can't insert '/irqlock.ko': Operation not permitted\n",
                &refused,
                End::Seen
            )),
            ["insmod"]
        );
    }

    #[test]
    fn the_kernels_interrupt_count_must_agree() {
        let s = spec(Some("ex09"));
        let table = "           CPU0       CPU1\n 11:          5          3   IO-APIC   11-fasteoi   ex09\n";
        let v = judged(&s, GOOD, &harness(table, 1, 4096), End::Seen);
        assert!(v.passed(), "{:?}", v.failures);
        let short = table.replace("5          3", "1          3");
        let v = judged(&s, GOOD, &harness(&short, 1, 4096), End::Seen);
        assert!(v.failed_with("interrupts"), "{:?}", v.failures);
        let v = judged(&s, GOOD, &harness("", 1, 4096), End::Seen);
        assert!(v.failures[0].message.contains("no line for ex09"), "{:?}", v.failures);
    }
}
