// SPDX-License-Identifier: GPL-2.0

//! `cargo xtask demo`: the lesson as a slide. Boots three scenarios: compares what the handler
//! did under `spinlock_irqsave` and under `mutex`, shows with `two_cpus_spinlock_irqsave` that
//! a handler finding the spinlock held spins rather than sleeps, then walks through the real
//! kernel report line by line, and ends with the fix.

use crate::error::Context;
use crate::error::{Error, Result, EXIT_FAIL, EXIT_PASS};
use crate::flowchart;
use crate::harness::{self, Prepared};
use crate::kernel::{Choice, Flavour};
use crate::paths::project_dir;
use crate::scenario;
use crate::settings::Settings;
use crate::symbols;
use crate::triage::{self, Report};
use crate::verdict;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// ANSI styles, or nothing when the output is not a terminal or NO_COLOR is set.
struct Style {
    on: bool,
}

impl Style {
    fn detect() -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Self { on: std::io::stdout().is_terminal() && !no_color }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn heading(&self, text: &str) -> String {
        self.paint("1", text)
    }

    fn bad(&self, text: &str) -> String {
        self.paint("31", text)
    }

    fn good(&self, text: &str) -> String {
        self.paint("32", text)
    }

    fn note(&self, text: &str) -> String {
        self.paint("36", text)
    }
}

/// What `preempt_count` says, field by field (include/linux/preempt.h in 7.3).
pub fn decode_preempt_count(count: u32) -> String {
    let mut parts = Vec::new();
    let field = |shift: u32, bits: u32| (count >> shift) & ((1 << bits) - 1);
    if field(28, 4) != 0 {
        parts.push(format!("in NMI ({})", field(28, 4)));
    }
    if field(24, 4) != 0 {
        parts.push(format!("hard-IRQ count {}", field(24, 4)));
    }
    if field(16, 8) != 0 {
        parts.push(format!("hard IRQs disabled {}", field(16, 8)));
    }
    if field(8, 8) != 0 {
        parts.push(format!("softirq {:#x}", field(8, 8)));
    }
    if field(0, 8) != 0 {
        parts.push(format!("preemption disabled {}", field(0, 8)));
    }
    if parts.is_empty() {
        "0: preemptible task context, where sleeping is allowed".to_string()
    } else {
        parts.join(", ")
    }
}

/// The explanation of one report line, if it needs one.
fn annotate(line: &str, guilty: Option<&str>, source: Option<&str>) -> Option<String> {
    let trimmed = line.trim();
    if let Some(rest) = trimmed.strip_prefix("BUG: sleeping function called from invalid context at ") {
        return Some(format!(
            "might_sleep() at {rest}, inside mutex_lock(), found the caller where sleeping is forbidden"
        ));
    }
    if trimmed.starts_with("do not call blocking ops when !TASK_RUNNING") {
        return Some(
            "the interrupt landed on a task already on its way to sleep; might_sleep() warns about \
             that first (it depends on timing, not on the module)"
                .to_string(),
        );
    }
    if trimmed.starts_with("in_atomic(): 1, irqs_disabled(): 1") {
        return Some(
            "in_atomic(): 1: preemption is off, here because this is hard-IRQ context; \
             irqs_disabled(): 1: interrupts are off on this CPU; pid/name: the task that was \
             interrupted, not the culprit"
                .to_string(),
        );
    }
    if let Some(rest) = trimmed.strip_prefix("preempt_count: ") {
        let value = rest.split(',').next().unwrap_or("").trim();
        if let Ok(count) = u32::from_str_radix(value, 16) {
            return Some(format!("{value} = {}; sleeping needs 0", decode_preempt_count(count)));
        }
    }
    match trimmed {
        "<IRQ>" => return Some("from here to </IRQ>: the interrupt stack, hard-IRQ context".to_string()),
        "</IRQ>" => return Some("end of the interrupt; below, the task it interrupted".to_string()),
        // arm64 marks no interrupt stack: the exception entry frames show where it began.
        "Call trace:" => {
            return Some(
                "arm64 prints no <IRQ> markers: the interrupt is the frames down to el1h_64_irq, \
                 its entry from the kernel (EL1)"
                    .to_string(),
            )
        }
        "[ BUG: Invalid wait context ]" => {
            return Some("lockdep: this lock may not be taken in this context".to_string())
        }
        "context-{3:3}" => {
            return Some(
                "the context allows locks up to wait type 3 (spinlock_t); a mutex is 4 (may sleep)"
                    .to_string(),
            )
        }
        _ => {}
    }
    if trimmed.contains("(irqlock_mutex){") {
        return Some("irqlock_mutex, wait type {4:4}: a sleeping lock".to_string());
    }
    let symbol = trimmed.trim_start_matches("? ").split('+').next().unwrap_or("");
    let function = triage::demangle(symbol);
    if guilty == Some(function.as_str()) {
        return Some(format!("the guilty frame: {}", source.unwrap_or("the module's code")));
    }
    let explain = [
        ("dump_stack_lvl", "printing this report"),
        ("__might_resched", "might_sleep()'s check"),
        ("__mutex_lock", "mutex_lock(): the call that may sleep"),
        ("__hrtimer_run_queues", "the timer core runs expired timers' callbacks"),
        ("hrtimer_interrupt", "the local timer interrupt"),
        ("__handle_irq_event_percpu", "the IRQ core calls the device's handler"),
        // arm64 (arch/arm64/kernel/entry-common.c, entry.S; drivers/irqchip/irq-gic-v3.c;
        // drivers/clocksource/arm_arch_timer.c).
        ("arch_timer_handler_virt", "the architected timer's interrupt (its virtual timer)"),
        ("arch_timer_handler_phys", "the architected timer's interrupt (its physical timer)"),
        ("gic_handle_irq", "the GIC's handler: it reads which interrupt fired"),
        ("call_on_irq_stack", "the switch to this CPU's interrupt stack"),
        ("el1_interrupt", "interrupts are entered with interrupts off: hard-IRQ context"),
        ("el1h_64_irq", "the exception vector: an interrupt taken in the kernel (EL1)"),
        ("el0t_64_irq", "the exception vector: an interrupt taken in user space (EL0)"),
    ];
    if let Some((_, text)) = explain.iter().find(|(name, _)| function == *name) {
        return Some(text.to_string());
    }
    if function.starts_with("<irqlock::ticker::Ticker") {
        return Some("irqlock's timer callback; the type names the timer's mode".to_string());
    }
    if function == "irqlock::lesson::Lesson::interrupt" {
        return Some("what irqlock's handler does on every interrupt, whatever its source".to_string());
    }
    None
}

/// The module's lines from a console: `irqlock: process: ...` and friends.
fn module_line<'a>(console: &'a str, prefix: &str) -> Option<&'a str> {
    triage::whole_lines(console).into_iter().map(triage::strip_prefix).find_map(|l| {
        let at = l.find(prefix)?;
        Some(l[at + prefix.len()..].trim())
    })
}

fn short_context(line: Option<&str>) -> String {
    let Some(line) = line else { return "-".to_string() };
    line.split_whitespace().filter(|w| !w.starts_with("cpu=")).collect::<Vec<_>>().join(" ")
}

struct Boot {
    console: String,
    verdict: verdict::Verdict,
    seconds: f64,
}

fn boot(prepared: &Prepared, name: &str) -> Result<Boot> {
    let arch = prepared.tools.arch;
    let scenario = scenario::load(name)?
        .for_target(Flavour::Default, arch)
        .ok_or_else(|| Error::unavailable(format!("scenario {name} does not run on {}", arch.name())))?;
    let (verdict, console, seconds) = harness::boot_scenario(prepared, &scenario, &prepared.out)?;
    Ok(Boot { console, verdict, seconds })
}

/// The correct way, the bug, and the correct way under contention from a second CPU.
const DEMO_SCENARIOS: [&str; 3] = ["spinlock_irqsave", "mutex", "two_cpus_spinlock_irqsave"];

/// `cargo xtask demo`, and the flowchart of its boots when `svg` or `html` names a file;
/// with `--kernel rt`, the default kernel and PREEMPT_RT side by side.
pub fn demo(
    settings: &Settings,
    source: &Choice,
    svg: Option<PathBuf>,
    html: Option<PathBuf>,
) -> Result<i32> {
    if source.flavour == Flavour::Rt {
        return demo_rt(settings, source);
    }
    let prepared = harness::prepare(settings, source, "demo")?;
    if settings.dry_run {
        for name in DEMO_SCENARIOS {
            harness::show_boot(&prepared, &scenario::load(name)?, &prepared.out)?;
        }
        return Ok(EXIT_PASS);
    }
    eprintln!("demo: booting the {} scenarios", DEMO_SCENARIOS.join(", "));
    let (good, bad) = std::thread::scope(|scope| {
        let good = scope.spawn(|| boot(&prepared, "spinlock_irqsave"));
        let bad = scope.spawn(|| boot(&prepared, "mutex"));
        (good.join().expect("boot thread"), bad.join().expect("boot thread"))
    });
    let (good, bad) = (good?, bad?);
    let contended = boot(&prepared, "two_cpus_spinlock_irqsave")?;
    let style = Style::detect();
    print!("{}", render(&style, &good, &bad, &contended, &prepared.module));
    if svg.is_some() || html.is_some() {
        write_flowchart(&good, &bad, &contended, &prepared.module, svg, html)?;
    }
    let boots = [&good, &bad, &contended];
    if !boots.iter().all(|b| b.verdict.passed()) {
        let failures: Vec<String> = boots.iter().flat_map(|b| b.verdict.failures.iter()).cloned().collect();
        return Err(Error {
            message: format!("the boots did not go as the lesson says:\n{}", failures.join("\n")),
            exit_code: EXIT_FAIL,
        });
    }
    Ok(EXIT_PASS)
}

/// The scenarios whose lesson PREEMPT_RT changes, for `demo --kernel rt`.
const RT_SCENARIOS: [(&str, &str); 4] = [
    ("mutex", "a mutex in the timer's callback"),
    ("spinlock", "a plain spinlock shared with the callback"),
    ("mutex_trylock", "mutex_trylock() while process context holds the mutex"),
    ("hrtimer_hard_spinlock_irqsave", "SpinLockIrq in a HARD timer's callback"),
];

/// The lines of a boot that show what changed: the handler's context, the interrupted task or
/// thread, the atomic-context evidence, and the result.
fn evidence(console: &str) -> Vec<(&'static str, String)> {
    let after = |prefix: &str| module_line(console, prefix).unwrap_or("-").to_string();
    vec![
        ("handler", after("irqlock: handler: ")),
        ("in_atomic() (might_sleep's check)", after("in_atomic(): ")),
        ("RCU nest depth", after("RCU nest depth: ")),
        ("result", after("irqlock: done: ")),
    ]
}

/// `cargo xtask demo --kernel rt`: the same scenarios on the default kernel and on PREEMPT_RT.
fn demo_rt(settings: &Settings, source: &Choice) -> Result<i32> {
    let default = Choice { flavour: Flavour::Default, ..source.clone() };
    let (plain, rt) =
        (harness::prepare(settings, &default, "demo")?, harness::prepare(settings, source, "demo-rt")?);
    let mut scenarios = Vec::new();
    for (name, what) in RT_SCENARIOS {
        let loaded = scenario::load(name)?;
        let scenario = loaded.for_target(Flavour::Default, source.arch).ok_or_else(|| {
            Error::unavailable(format!("scenario {name} does not run on {}", source.arch.name()))
        })?;
        let on_rt = loaded.for_target(Flavour::Rt, source.arch).ok_or_else(|| {
            Error::unavailable(format!(
                "scenario {name} says nothing of PREEMPT_RT: add an [expect_rt] table to \
                 tests/scenarios/{name}.toml (see tests/README.md)"
            ))
        })?;
        scenarios.push((scenario, on_rt, what));
    }
    if settings.dry_run {
        for (scenario, on_rt, _) in &scenarios {
            harness::show_boot(&plain, scenario, &plain.out)?;
            harness::show_boot(&rt, on_rt, &rt.out)?;
        }
        return Ok(EXIT_PASS);
    }
    let style = Style::detect();
    let mut out = style.heading(
        "irqlock on PREEMPT_RT: the same module and scenarios, two kernels
",
    );
    out += "On PREEMPT_RT, timer callbacks that are not HARD run in the ktimers thread, interrupt\n\
            handlers in irq/NN threads, and spinlock_t sleeps. Lab 9 (docs/labs/09-preempt-rt.md)\n\
            explains each line.\n";
    let mut failures = Vec::new();
    for (scenario, on_rt, what) in &scenarios {
        eprintln!("demo: booting {} on both kernels", scenario.name);
        let (left, right) = std::thread::scope(|scope| {
            let left = scope.spawn(|| harness::boot_scenario(&plain, scenario, &plain.out));
            let right = scope.spawn(|| harness::boot_scenario(&rt, on_rt, &rt.out));
            (left.join().expect("boot thread"), right.join().expect("boot thread"))
        });
        let ((left, left_console, _), (right, right_console, _)) = (left?, right?);
        out += &format!("\n{}\n", style.heading(&format!("{} ({what})", scenario.name)));
        let titles = |v: &verdict::Verdict| {
            if v.reports.is_empty() {
                "none".to_string()
            } else {
                v.reports.iter().map(|r| r.title.as_str()).collect::<Vec<_>>().join("; ")
            }
        };
        let rows = evidence(&left_console).into_iter().zip(evidence(&right_console));
        for ((label, plain_value), (_, rt_value)) in rows.filter(|((_, a), (_, b))| a != "-" || b != "-") {
            out += &format!(
                "  {label}\n    {}  {plain_value}\n    {}  {rt_value}\n",
                style.good("default"),
                style.bad("rt     ")
            );
        }
        out += &format!(
            "  reports\n    {}  {}\n    {}  {}\n",
            style.good("default"),
            titles(&left),
            style.bad("rt     "),
            titles(&right)
        );
        failures.extend(left.failures.iter().map(|f| format!("{} (default): {f}", scenario.name)));
        failures.extend(right.failures.iter().map(|f| format!("{} (rt): {f}", scenario.name)));
    }
    print!("{out}");
    if !failures.is_empty() {
        return Err(Error {
            message: format!("the boots did not go as the lesson says:\n{}", failures.join("\n")),
            exit_code: EXIT_FAIL,
        });
    }
    Ok(EXIT_PASS)
}

/// Draws the flowchart of the demo's boots to `svg` and `html`.
fn write_flowchart(
    good: &Boot,
    bad: &Boot,
    contended: &Boot,
    ko: &Path,
    svg: Option<PathBuf>,
    html: Option<PathBuf>,
) -> Result<()> {
    let guilty_source = bad.verdict.reports.iter().find_map(|r| {
        let guilty = r.guilty_function.as_deref()?;
        let frame = r.lines.iter().filter(|l| !l.trim().starts_with("? ")).find_map(|l| {
            let frame = l.split_whitespace().next()?;
            let (symbol, offset) = symbols::split_frame(frame)?;
            (triage::demangle(symbol) == guilty).then_some((symbol.to_string(), offset))
        })?;
        symbols::source_line(ko, &frame.0, frame.1, &project_dir())
    });
    let mut command = "cargo xtask demo".to_string();
    if let Some(file) = &svg {
        command += &format!(" --svg {}", file.display());
    }
    if let Some(file) = &html {
        command += &format!(" --html {}", file.display());
    }
    let picture = flowchart::svg(&flowchart::Sources {
        correct: flowchart::Boot { console: &good.console, reports: &good.verdict.reports },
        wrong: flowchart::Boot { console: &bad.console, reports: &bad.verdict.reports },
        contended: Some(flowchart::Boot { console: &contended.console, reports: &contended.verdict.reports }),
        guilty_source,
        caption: format!("drawn by `{command}` from the boots it ran"),
    });
    for (file, text) in [(svg, picture.clone()), (html, flowchart::html(&picture))] {
        if let Some(file) = file {
            std::fs::write(&file, text).context(|| format!("could not write {}", file.display()))?;
            eprintln!("demo: the flowchart is in {}", file.display());
        }
    }
    Ok(())
}

fn render(style: &Style, good: &Boot, bad: &Boot, contended: &Boot, ko: &Path) -> String {
    let mut out = String::new();
    out += &style.heading("irqlock: the same interrupt handler, two locks\n");
    out += "A timer interrupt increments a counter shared with process context, 8 times.\n\n";

    let column = |boot: &Boot| -> Vec<String> {
        let reports = &boot.verdict.reports;
        vec![
            short_context(module_line(&boot.console, "irqlock: process: ")),
            short_context(module_line(&boot.console, "irqlock: handler: ")),
            module_line(&boot.console, "irqlock: done: ").unwrap_or("-").to_string(),
            if reports.is_empty() { "none".to_string() } else { format!("{} (below)", reports.len()) },
            format!("{:.1}s", boot.seconds),
        ]
    };
    let labels = ["process context", "handler", "result", "kernel reports", "boot to verdict"];
    let (left, right) = (column(good), column(bad));
    let names = [style.good("spinlock_irqsave"), style.bad(&format!("{:<16}", "mutex"))];
    for (i, label) in labels.iter().enumerate() {
        out += &format!("{}\n", style.heading(label));
        out += &format!("  {}  {}\n", names[0], left[i]);
        out += &format!("  {}  {}\n", names[1], right[i]);
    }
    out += &style.note(
        "Both handlers run in hard-IRQ context (in_hardirq=1, interrupts off), on top of the task\n\
         they interrupted, where nothing may sleep. They differ only in the lock they take: the\n\
         spinlock never sleeps; mutex_lock() may, and the kernel says so below.\n",
    );

    out += &format!("\n{}\n", style.heading("Two CPUs, one spinlock: the handler that finds it held spins"));
    out += "Each CPU's timer handler holds the lock until the other CPU's handler wants it\n\
            (two_cpus_spinlock_irqsave): the other one spins, never sleeps, then proceeds.\n";
    for line in triage::whole_lines(&contended.console).into_iter().map(triage::strip_prefix) {
        if let Some(rest) = line.strip_prefix("irqlock: done: ") {
            out += &format!("  {}\n", style.good(rest.trim()));
        }
    }
    let reports = contended.verdict.reports.len();
    out += &format!(
        "  kernel reports: {}\n",
        if reports == 0 { "none".to_string() } else { reports.to_string() }
    );

    for report in &bad.verdict.reports {
        out += &format!("\n{}\n", style.heading(&format!("The kernel's report: {}", report.title)));
        out += &walk(style, report, ko);
    }

    out += &format!("\n{}\n", style.heading("The fix"));
    out += "An interrupt handler must not sleep, and mutex_lock() may. Either take a lock that never\n\
            sleeps, with interrupts disabled where process context shares it (rust/shared.rs):\n\n\
            \x20   LockMode::SpinlockIrqsave => update(&mut self.spinlock_irqsave.lock()), // interrupts off\n\
            \x20   LockMode::Mutex => update(&mut self.mutex.lock()),                      // may sleep: the bug\n\n\
            (SpinLockIrq takes spin_lock_irq_disable(), 7.3's successor of spin_lock_irqsave().)\n\n\
            or keep the mutex and take it where sleeping is allowed, out of the hard handler:\n\n\
            \x20   cargo xtask run --lock mutex --handler workqueue            # a work item takes it\n\
            \x20   cargo xtask run --lock mutex --source edu --handler threaded # the IRQ thread takes it\n\n\
            The left column is the first fix: the same handler, no report.\n";
    out
}

/// The function a call-trace line names (` el1h_64_irq+0x6c/0x70`, `? foo+0x1/0x2`).
fn frame_name(trimmed: &str) -> Option<&str> {
    let frame = trimmed.trim_start_matches("? ").split_whitespace().next()?;
    symbols::split_frame(frame).map(|(symbol, _)| symbol)
}

/// The report's lines with their explanations; register dumps and the second copy of the
/// call trace are left out.
fn walk(style: &Style, report: &Report, ko: &Path) -> String {
    let root = project_dir();
    let guilty = report.guilty_function.as_deref();
    let mut out = String::new();
    let mut skipping_registers = false;
    let mut in_trace = false;
    for line in &report.lines {
        let trimmed = line.trim();
        // x86 `Call Trace:`, arm64 `Call trace:`.
        if trimmed.eq_ignore_ascii_case("Call Trace:") {
            in_trace = true;
        }
        if report.kind == triage::Kind::Lockdep && trimmed == "stack backtrace:" {
            out += &style.note("  (its call trace is the one above)\n");
            break;
        }
        let is_register = trimmed.starts_with("RIP: ")
            || trimmed.starts_with("Code: ")
            || trimmed.starts_with("RSP: ")
            || trimmed.starts_with("RAX: ")
            || trimmed.starts_with("RDX: ")
            || trimmed.starts_with("RBP: ")
            || trimmed.starts_with("R10: ")
            || trimmed.starts_with("R13: ")
            // arm64's register dump (arch/arm64/kernel/process.c, __show_regs).
            || ["pc : ", "lr : ", "sp : ", "pstate: "].iter().any(|p| trimmed.starts_with(p))
            || trimmed.strip_prefix('x').is_some_and(|r| r.split(':').next().is_some_and(|n| n.trim().parse::<u8>().is_ok()));
        if is_register {
            if !skipping_registers {
                out += &style.note("  (registers of the interrupted task left out)\n");
            }
            skipping_registers = true;
            continue;
        }
        skipping_registers = false;
        if trimmed.starts_with("hardirqs last") || trimmed.starts_with("softirqs last") {
            continue;
        }
        // "? " frames are stale return addresses the unwinder found on the stack.
        if in_trace && trimmed.starts_with("? ") {
            continue;
        }
        let shown = triage::demangle_line(line);
        let source = in_trace
            .then(|| {
                let frame = trimmed.trim_start_matches("? ").split_whitespace().next()?;
                let (symbol, offset) = symbols::split_frame(frame)?;
                (triage::demangle(symbol) == guilty.unwrap_or("")).then_some(())?;
                symbols::source_line(ko, symbol, offset, &root)
            })
            .flatten();
        let painted = if trimmed.starts_with("BUG:") || trimmed.starts_with("[ BUG") {
            style.bad(&shown)
        } else {
            shown
        };
        out += &format!("  {painted}\n");
        if let Some(text) = annotate(line, guilty, source.as_deref()) {
            out += &format!("      {}\n", style.note(&format!("^ {text}")));
        }
        let irq_entered = trimmed == "</IRQ>" || frame_name(trimmed).is_some_and(|f| f == "el1h_64_irq");
        if in_trace && irq_entered && report.kind != triage::Kind::Lockdep {
            out += &style.note("  (the interrupted task's frames left out)\n");
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_preempt_counts() {
        assert_eq!(decode_preempt_count(0x1000001), "hard-IRQ count 1, preemption disabled 1");
        assert_eq!(decode_preempt_count(0x1000101), "hard-IRQ count 1, softirq 0x1, preemption disabled 1");
        assert_eq!(decode_preempt_count(0), "0: preemptible task context, where sleeping is allowed");
    }

    #[test]
    fn annotates_the_key_lines() {
        let guilty = Some("irqlock::shared::Shared::increment");
        let note = |l: &str| annotate(l, guilty, Some("rust/shared.rs:54"));
        assert!(note("preempt_count: 1000001, expected: 0").unwrap().contains("hard-IRQ count 1"));
        assert!(note(" <IRQ>").unwrap().contains("hard-IRQ context"));
        assert_eq!(
            note(" _RNvMNtCs4asRcsLwItn_7irqlock6sharedNtB2_6Shared9increment+0x13/0x96 [irqlock]")
                .as_deref(),
            Some("the guilty frame: rust/shared.rs:54")
        );
        assert_eq!(note("RCU nest depth: 0, expected: 0"), None);
    }

    /// arm64's report (tests/fixtures/arm64/mutex.log): `Call trace:`, the interrupt's entry
    /// frames explained, and the walk stops at el1h_64_irq, below which is the task.
    #[test]
    fn explains_an_arm64_trace() {
        let note = |l: &str| annotate(l, None, None);
        assert!(note(" Call trace:").unwrap().contains("el1h_64_irq"));
        assert!(note(" gic_handle_irq+0x40/0x9c").unwrap().contains("GIC"));
        assert!(note(" el1h_64_irq+0x6c/0x70").unwrap().contains("EL1"));
        let path = project_dir().join("tests/fixtures/arm64/mutex.log");
        let reports = triage::parse(&std::fs::read_to_string(path).unwrap());
        let walked = walk(&Style { on: false }, &reports[0], Path::new("/nonexistent.ko"));
        assert!(walked.contains("arch_timer_handler_virt"), "{walked}");
        let entry = walked.find("el1h_64_irq+").unwrap();
        assert!(walked[entry..].contains("(the interrupted task's frames left out)"), "{walked}");
        assert!(!walked.contains("el0t_64_sync"), "{walked}");
    }

    /// A real PREEMPT_RT boot whose console cut the handler's line and printed it again.
    #[test]
    fn reads_the_whole_line_the_console_printed_again() {
        let path = project_dir().join("tests/fixtures/rt/mutex-replayed-line.log");
        let console = std::fs::read_to_string(path).unwrap();
        assert!(console.contains("** replaying previous printk message **"));
        assert_eq!(
            module_line(&console, "irqlock: handler: "),
            Some("in_hardirq=0 in_serving_softirq=1 irqs_disabled=0 preempt_count=0x0 cpu=0")
        );
    }

    #[test]
    fn colour_only_when_asked() {
        assert_eq!(Style { on: false }.bad("BUG"), "BUG");
        assert_eq!(Style { on: true }.bad("BUG"), "\x1b[31mBUG\x1b[0m");
    }
}
