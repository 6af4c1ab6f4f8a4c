// SPDX-License-Identifier: GPL-2.0

//! Kernel reports in a console log: what they are, where they start and end, and whose fault.
//!
//! Titles follow syzkaller's style (`BUG: sleeping function called from invalid context in
//! f`), so that they are stable across boots: no addresses, PIDs or timestamps. This module
//! knows nothing of scenarios or QEMU; it reads any kernel log.

mod console;
mod families;
mod frames;
pub mod score;

pub use console::{caller_id, strip_prefix, whole_lines};
pub use frames::{demangle, demangle_line};

use crate::error::{Error, Result, EXIT_FAIL, EXIT_PASS};
use families::{after, location_at, start, Start};
use frames::{clean_symbol, frame, is_entry, is_lock_code, is_machinery, is_trace_start};
use serde::Serialize;

/// The family a report belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Sleeping or scheduling where the kernel must not: might_sleep(), scheduling while atomic.
    AtomicSleep,
    /// Lockdep's reports.
    Lockdep,
    /// `WARNING: CPU: ... at file:line`.
    Warning,
    /// `kernel BUG at file:line!` and other `BUG:` lines.
    Bug,
    /// Oops, general protection fault, bad pointer dereference.
    Oops,
    /// KASAN, KFENCE, UBSAN.
    MemorySafety,
    /// Soft and hard lockups, RCU stalls, hung tasks.
    Stall,
    /// `Kernel panic - not syncing`.
    Panic,
}

/// The first lines of the reports after which the kernel is broken by design and carries on
/// regardless: it scheduled from atomic context (schedule() then resets the preempt count under
/// the interrupted code, which trips its own checks later), or it oopsed (the task is killed
/// with its locks held). What it prints next is open ended. A panic is not here: it stops the
/// kernel itself.
pub const POINTS_OF_NO_RETURN: &[&str] = &[
    "BUG: scheduling while atomic",
    "kernel BUG at ",
    "BUG: kernel NULL pointer dereference",
    "BUG: unable to handle ",
    "general protection fault",
    "Oops: ",
];

/// Whether the kernel does not come back from `report` (see [`POINTS_OF_NO_RETURN`]).
pub fn is_point_of_no_return(report: &Report) -> bool {
    report.kind == Kind::Oops
        || report.title.starts_with("BUG: scheduling while atomic")
        || report.title.starts_with("kernel BUG in ")
}

/// What a title names instead of a function when the report cannot be trusted, as syzkaller
/// marks it (`BUG: scheduling while atomic in corrupted`).
pub const CORRUPTED: &str = "corrupted";

/// One kernel report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub title: String,
    pub kind: Kind,
    /// The first frame of the call trace outside the locking, scheduling, printing and
    /// debugging machinery; Rust symbols demangled.
    pub guilty_function: Option<String>,
    /// The source location the kernel printed, such as `kernel/locking/mutex.c:623`.
    pub location: Option<String>,
    /// 1-based line numbers in the log, inclusive.
    pub first_line: usize,
    pub last_line: usize,
    /// The log ended before the report did. Without a guilty function, its title names
    /// [`CORRUPTED`] instead.
    pub truncated: bool,
    /// The report's lines, without timestamps.
    pub lines: Vec<String>,
}

/// The title once the report's body is known: what a generic WARNING was about, and which
/// way a KASAN access went, as syzkaller titles them. A WARNING from lockdep's own checks
/// (`DEBUG_LOCKS_WARN_ON`, or any in kernel/locking/lockdep.c) is a locking bug.
fn refine_title(title: &str, body: &[&str], location: Option<&str>) -> String {
    let has = |prefix: &str| body.iter().any(|l| l.trim_start().starts_with(prefix));
    if let Some(rest) = title.strip_prefix("WARNING in ") {
        if has("refcount_t: ") {
            return format!("WARNING: refcount bug in {rest}");
        }
        let in_lockdep = location.is_some_and(|l| l.starts_with("kernel/locking/lockdep"));
        if has("DEBUG_LOCKS_WARN_ON(") || in_lockdep {
            return format!("WARNING: locking bug in {rest}");
        }
    }
    // Before 5.14 UBSAN said "Undefined behaviour" and named the check on the next line.
    if let Some(rest) = title.strip_prefix("UBSAN: Undefined behaviour in ") {
        const CHECKS: &[(&str, &str)] = &[
            ("shift exponent", "shift-out-of-bounds"),
            ("left shift of", "shift-out-of-bounds"),
            ("is out of range for type", "array-index-out-of-bounds"),
            ("signed integer overflow", "signed-integer-overflow"),
            ("division by zero", "division-by-zero"),
            ("load of value", "invalid-load"),
            ("null pointer", "null-ptr-deref"),
            ("misaligned address", "misaligned-access"),
        ];
        if let Some((_, check)) = CHECKS.iter().find(|(words, _)| body.iter().any(|l| l.contains(words))) {
            return format!("UBSAN: {check} in {rest}");
        }
    }
    if title.starts_with("KASAN: ") && !title.contains(" Read in ") && !title.contains(" Write in ") {
        let access = if has("Read of size") {
            " Read"
        } else if has("Write of size") {
            " Write"
        } else {
            ""
        };
        if let Some((what, rest)) = title.split_once(" in ") {
            return format!("{what}{access} in {rest}");
        }
    }
    title.to_string()
}

/// A report being read: where it starts, whose lines it takes, which lines it has.
struct Open<'a> {
    start: Start,
    caller: Option<&'a str>,
    members: Vec<usize>,
}

/// Splits a log into reports.
///
/// With caller ids, a report takes only the lines of the CPU or task that started it, so that
/// lines printed by others in between are left out of it.
pub fn parse(log: &str) -> Vec<Report> {
    let raw = whole_lines(log);
    let count = raw.len();
    let lines: Vec<&str> = raw.iter().map(|l| strip_prefix(l)).collect();
    let callers: Vec<Option<&str>> = raw[..count].iter().map(|l| caller_id(l)).collect();
    let mut reports: Vec<Report> = Vec::new();
    let mut open: Option<Open> = None;
    for i in 0..count {
        let caller = callers[i];
        // The row of `=` a header stands under: on the line before, or two lines up when
        // another CPU's message came in between (a console without caller ids).
        let same_caller = (0..i).rev().filter(|&j| caller.is_none() || callers[j] == caller);
        let rule = same_caller.take(2).find(|&j| lines[j].trim_start().starts_with("===="));
        let previous = rule.map_or("", |j| lines[j].trim_start());
        // A log pasted with an indent (a Rust doctest's) indents its headers too.
        let found = start(lines[i].trim_start(), previous).filter(|found| {
            // "Oops: ..." follows the first line of a fault or a kernel BUG: it belongs to it.
            let continues = found.title == "Oops in {}"
                && open.as_ref().is_some_and(|o| matches!(o.start.kind, Kind::Oops | Kind::Bug));
            !continues
        });
        if let Some(found) = found {
            if let Some(o) = open.take() {
                reports.push(finish(o, &lines, false));
            }
            let mut members = Vec::new();
            // WARN() and BUG() begin at their "cut here" line, and WARN()'s message stands
            // between it and the "WARNING:" line. Before 4.19 DEBUG_LOCKS_WARN_ON() printed its
            // condition first, then WARN_ON(1) (include/linux/debug_locks.h).
            if matches!(found.kind, Kind::Warning | Kind::Bug) {
                let back = i.saturating_sub(3);
                if let Some(cut) = (back..i).rev().find(|&j| lines[j].contains("[ cut here ]")) {
                    let first = match cut.checked_sub(1) {
                        Some(j) if lines[j].starts_with("DEBUG_LOCKS_WARN_ON(") => j,
                        _ => cut,
                    };
                    members.extend((first..i).filter(|&j| caller.is_none() || callers[j] == caller));
                }
            }
            // Lockdep's header begins at the row of `=` above the title.
            if let (Kind::Lockdep, Some(j)) = (found.kind, rule) {
                members.push(j);
            }
            members.push(i);
            open = Some(Open { start: found, caller, members });
            continue;
        }
        let Some(o) = open.as_mut() else { continue };
        if o.caller.is_some() && caller.is_some() && o.caller != caller {
            continue;
        }
        if o.start.indented && !lines[i].is_empty() && !lines[i].starts_with([' ', '\t']) {
            reports.push(finish(open.take().expect("open"), &lines, false));
            continue;
        }
        let body: Vec<&str> = o.members.iter().map(|&j| lines[j]).collect();
        if trace_ended_before(&o.start, &body, lines[i]) {
            reports.push(finish(open.take().expect("open"), &lines, false));
            continue;
        }
        o.members.push(i);
        let body: Vec<&str> = o.members.iter().map(|&j| lines[j]).collect();
        if ends_here(&o.start, &body) {
            reports.push(finish(open.take().expect("open"), &lines, false));
        }
    }
    // The log ends: a report whose last call trace had begun, without `</TASK>` to wait for,
    // ends with it; any other report was cut off.
    if let Some(o) = open.take() {
        let body: Vec<&str> = o.members.iter().map(|&j| lines[j]).collect();
        let complete = trace_complete(&o.start, &body);
        reports.push(finish(o, &lines, !complete));
    }
    reports
}

/// Whether the report whose lines so far are `lines` ends with its last line.
fn ends_here(st: &Start, lines: &[&str]) -> bool {
    let line = lines[lines.len() - 1].trim();
    // KASAN and KFENCE close their report with the row of `=` that opened it.
    if st.kind == Kind::MemorySafety && lines.len() > 1 && line.starts_with("=====") {
        return true;
    }
    let marker = line.starts_with("---[ end ");
    if st.ends_with_marker || lines.iter().any(|l| l.starts_with("Oops:")) {
        return marker;
    }
    if marker {
        return true;
    }
    // Without a marker the report ends with its (last) call trace: lockdep prints its
    // backtrace last, after the "stack backtrace:" line.
    if line != "</TASK>" {
        return false;
    }
    let seen_trace = lines.iter().any(|l| is_trace_start(l));
    let final_trace = !st.backtrace_last || lines.iter().any(|l| l.starts_with("stack backtrace:"));
    seen_trace && final_trace
}

/// Whether `line` comes after the report whose lines are `lines`, in a kernel that does not
/// close its call traces with `</TASK>` (x86 before 5.8, whose frames read ` [<addr>] f+0x…/0x…`
/// or ` f+0x…/0x…`; arm64, arm, riscv: see [`frames::frame`]): the report's last trace has
/// begun and has frames, and `line` is none of them.
fn trace_ended_before(st: &Start, lines: &[&str], line: &str) -> bool {
    !line.is_empty() && !is_trace_line(line) && trace_complete(st, lines)
}

/// A line of a call trace: a frame, or an indented line or `<IRQ>`-style mark within it.
fn is_trace_line(l: &str) -> bool {
    l.starts_with([' ', '\t'])
        || l.starts_with("[<")
        || (l.starts_with('<') && l.ends_with('>'))
        || frame(l).is_some()
}

/// Whether the report whose lines are `lines` may end after its last line: its last trace
/// has begun and has frames, and nothing after it is awaited (a `---[ end ... ]---` line, a
/// `</TASK>`).
fn trace_complete(st: &Start, lines: &[&str]) -> bool {
    let Some(trace) = lines.iter().rposition(|l| is_trace_start(l)) else { return false };
    let framed = lines.len() > trace + 1 && is_trace_line(lines[lines.len() - 1]);
    if !framed || st.ends_with_marker {
        return false;
    }
    let final_trace = !st.backtrace_last || lines[..trace].iter().any(|l| l.starts_with("stack backtrace:"));
    let waits_for_marker = lines.iter().any(|l| l.starts_with("Oops:"));
    // x86 closes `<TASK>` (since 5.16) and `<IRQ>`, `<NMI>`, `<SOFTIRQ>` (since 5.8; before,
    // `<EOI>` led the first frame after an `<IRQ>`): a trace with one still open goes on.
    let (mut task, mut old_irq, mut open) = (false, false, [0i32; 3]);
    for mark in lines[trace..].iter().map(|l| l.trim_start()).filter(|l| l.starts_with('<')) {
        let mark = mark.trim_end();
        match mark {
            "<TASK>" => task = true,
            "<IRQ>" => open[0] += 1,
            "</IRQ>" => open[0] -= 1,
            "<NMI>" => open[1] += 1,
            "</NMI>" => open[1] -= 1,
            "<SOFTIRQ>" => open[2] += 1,
            "</SOFTIRQ>" => open[2] -= 1,
            _ => old_irq |= mark.starts_with("<EOI>"),
        }
    }
    let awaits_close = task || (open[0] > 0 && !old_irq) || open[1] > 0 || open[2] > 0;
    final_trace && !waits_for_marker && !awaits_close
}

fn finish(open: Open, lines: &[&str], truncated: bool) -> Report {
    let st = open.start;
    let body: Vec<&str> = open.members.iter().map(|&j| lines[j]).collect();
    // A later line may name the function: the first symbol after its words, past a
    // `[<address>]` (`at: [<ffffffff81234567>] f+0x1/0x2`), or, when nothing follows them, the
    // one after `at: ` on the next line (lockdep's lock that a task is trying to acquire,
    // `ffff888003a0c0a8 (lock_b){+.+.}-{4:4}, at: take_both+0x40/0x80`).
    let named_later = st.named_after.and_then(|words| {
        let at = body.iter().position(|l| l.contains(words))?;
        let mut rest = after(body[at], words)?;
        if rest.trim().is_empty() {
            rest = after(body.get(at + 1)?, "at: ")?;
        }
        let word = rest.split_whitespace().find(|w| !w.starts_with("[<"))?;
        frames::frame_symbol(word).or_else(|| Some(word.to_string())).map(|w| demangle(&w))
    });
    // A function named there counts unless it is machinery, and one the header names unless it
    // is a lock's own code (a WARN_ON in `_mutex_trylock_nest_lock`, for one): then the call
    // trace names the code at fault.
    let named = named_later
        .filter(|f| !is_machinery(f))
        .or_else(|| st.named_function.clone().filter(|f| !is_lock_code(f)));
    let loops = st.title.starts_with("BUG: soft lockup") || st.title.starts_with("INFO: rcu detected stall");
    let guilty_function = named
        .or_else(|| guilty(&body, loops))
        .or_else(|| st.named_function.clone())
        .map(|f| clean_symbol(&f));
    let title = refine_title(&st.title, &body, st.location.as_deref());
    let kind = if title.starts_with("WARNING: locking bug in ") { Kind::Lockdep } else { st.kind };
    let st = Start { title, kind, ..st };
    // Without a guilty function the report is corrupted when the log cut it off, or when its
    // call trace has no frame left to read (lines of others printed over it), and is titled
    // `... in corrupted` as syzkaller titles it; otherwise (no call trace at all, as when the
    // stuck CPU was idle) the title names only the report.
    let unreadable_trace = || {
        body.iter()
            .rposition(|l| is_trace_start(l))
            .is_some_and(|at| body[at + 1..].iter().all(|l| frame(l).is_none()))
    };
    let title = match &guilty_function {
        Some(function) => st.title.replace("{}", function),
        None if st.title.contains("{}") && (truncated || unreadable_trace()) => {
            st.title.replace("{}", CORRUPTED)
        }
        None => st.title.replace(" in {}", "").replace("{}", "unknown"),
    };
    let location =
        st.location.clone().or_else(|| body.iter().find_map(|l| after(l, " at ").and_then(location_at)));
    Report {
        title,
        kind: st.kind,
        guilty_function,
        location,
        first_line: open.members[0] + 1,
        last_line: open.members[open.members.len() - 1] + 1,
        truncated,
        lines: body.iter().map(|l| l.to_string()).collect(),
    }
}

/// The first frame of the report's last call trace outside the machinery; reliable frames
/// first, then `?` frames when there are no reliable ones.
///
/// A CPU stuck in a loop (a soft lockup, an RCU stall: `stall`) is caught at a random point of
/// it, so, as syzkaller does, the culprit is the frame before the syscall or fault entry the
/// loop was reached through, in the same context (no `<IRQ>` or `</IRQ>` between them), when
/// there is one.
fn guilty(body: &[&str], stall: bool) -> Option<String> {
    // kmemleak's allocation trace follows `backtrace (crc ...):` (`backtrace:` before 6.7).
    let trace_start = body.iter().rposition(|l| is_trace_start(l) || l.trim_start().starts_with("backtrace"));
    // A RIP before the call trace is where the CPU faulted (Oops, WARNING); one inside it is
    // the interrupted context's, below the <IRQ> frames, and says nothing of the fault.
    let before_trace = &body[..trace_start.unwrap_or(body.len())];
    // arm64's `pc : `, riscv's `epc : `, arm's `PC is at ` are the same.
    let is_rip = |l: &&&str| {
        let l = l.trim_start();
        ["RIP: ", "IP: ", "pc : ", "epc : ", "PC is at "].iter().any(|p| l.starts_with(p))
    };
    let rip = before_trace.iter().filter(is_rip).find_map(|l| frame(l));
    // Each frame with its context: the number of `<IRQ>`-style marks above it.
    let mut context = 0;
    let mut frames: Vec<(String, bool, usize)> = Vec::new();
    for l in trace_start.map_or(&[][..], |at| &body[at + 1..]).iter().filter(|l| !is_rip(l)) {
        let t = l.trim();
        if t.starts_with('<') && t.ends_with('>') {
            context += 1;
        } else if let Some((symbol, reliable)) = frame(l) {
            frames.push((symbol, reliable, context));
        }
    }
    // A RIP before the trace is where its innermost context was.
    let innermost = frames.first().map_or(0, |f| f.2);
    let rip = rip.map(|(symbol, reliable)| (symbol, reliable, innermost));
    let pick = |reliable_only: bool| {
        let mut candidates = rip
            .iter()
            .chain(frames.iter())
            .filter(|(_, reliable, _)| *reliable || !reliable_only)
            .map(|(symbol, _, context)| (demangle(symbol), *context));
        if !stall {
            return candidates.find(|(f, _)| !is_machinery(f)).map(|(f, _)| f);
        }
        let candidates: Vec<(String, usize)> = candidates.collect();
        let first = candidates.iter().position(|(f, _)| !is_machinery(f))?;
        // The frames from the first outside the machinery down to an entry, or to the end
        // of their context.
        let context = candidates[first].1;
        let same = &candidates[first..];
        let end = same.iter().position(|(f, c)| *c != context || is_entry(f)).unwrap_or(same.len());
        let entered = same.get(end).is_some_and(|(_, c)| *c == context);
        let before_entry = same[..end].iter().rev().find(|(f, _)| !is_machinery(f)).filter(|_| entered);
        Some(before_entry.unwrap_or(&candidates[first]).0.clone())
    };
    pick(true).or_else(|| pick(false))
}

/// `cargo xtask triage`: exit 0 without reports, 1 with reports, 69 when unreadable.
pub fn command(file: &std::path::Path, json: bool) -> Result<i32> {
    let bytes = std::fs::read(file)
        .map_err(|e| Error::unavailable(format!("could not read {}: {e}", file.display())))?;
    let reports = parse(&String::from_utf8_lossy(&bytes));
    if json {
        let text = serde_json::to_string_pretty(&reports).expect("reports serialize");
        println!("{text}");
    } else {
        for r in &reports {
            let truncated = if r.truncated { " (truncated)" } else { "" };
            println!("{}:{}-{}: {}{truncated}", file.display(), r.first_line, r.last_line, r.title);
        }
    }
    Ok(if reports.is_empty() { EXIT_PASS } else { EXIT_FAIL })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut seed = 0x2545F4914F6CDD1Du64;
        for _ in 0..300 {
            let len = (seed % 512) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    b"[] 0123456789.:+/xCTBUG=-<>?\n \tWARNING: CPU at Call Trace:</TASK>"
                        [(seed % 64) as usize]
                })
                .collect();
            parse(&String::from_utf8_lossy(&bytes));
        }
    }

    /// The parser's throughput on a large log: every fixture, concatenated 50 times, or the
    /// file `IRQLOCK_BENCH_LOG` names (the same log, to compare two versions of the parser).
    /// `cargo test --release -p xtask -- --ignored --nocapture parser_throughput`
    #[test]
    #[ignore]
    fn parser_throughput() {
        fn logs(dir: &std::path::Path, into: &mut String) {
            let mut paths: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().map(|e| e.path()).collect();
            paths.sort();
            for path in paths {
                if path.is_dir() {
                    logs(&path, into);
                } else if path.extension().is_some_and(|e| e == "log") {
                    *into += &String::from_utf8_lossy(&std::fs::read(&path).unwrap());
                    into.push('\n');
                }
            }
        }
        let log = match std::env::var_os("IRQLOCK_BENCH_LOG") {
            Some(path) => String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned(),
            None => {
                let mut once = String::new();
                logs(&crate::paths::project_dir().join("tests/fixtures"), &mut once);
                once.repeat(50)
            }
        };
        let mut best = f64::MAX;
        let mut count = 0;
        for _ in 0..5 {
            let started = std::time::Instant::now();
            count = parse(&log).len();
            best = best.min(started.elapsed().as_secs_f64());
        }
        let mib = log.len() as f64 / (1024.0 * 1024.0);
        println!("{mib:.1} MiB, {count} reports: best of 5 {best:.3} s, {:.1} MiB/s", mib / best);
    }
}

/// Console logs captured from real boots of the scenarios.
#[cfg(test)]
mod fixtures {
    use super::*;
    use crate::paths::project_dir;

    fn parse_fixture(name: &str) -> Vec<Report> {
        let path = project_dir().join("tests/fixtures").join(format!("{name}.log"));
        parse(&String::from_utf8_lossy(&std::fs::read(path).unwrap()))
    }

    #[test]
    fn mutex_in_hardirq() {
        let reports = parse_fixture("mutex");
        assert_eq!(reports.len(), 2, "{reports:#?}");
        let (sleep, lockdep) = (&reports[0], &reports[1]);
        assert_eq!(
            sleep.title,
            "BUG: sleeping function called from invalid context in irqlock::shared::Shared::increment"
        );
        assert_eq!(sleep.kind, Kind::AtomicSleep);
        assert_eq!(sleep.location.as_deref(), Some("kernel/locking/mutex.c:623"));
        assert!(sleep.lines[0].starts_with("BUG: sleeping function called"));
        assert_eq!(sleep.lines.last().unwrap().trim(), "</TASK>");
        assert!(!sleep.truncated);
        assert_eq!(lockdep.title, "WARNING: locking bug in irqlock::shared::Shared::increment");
        assert_eq!(lockdep.kind, Kind::Lockdep);
        assert!(lockdep.lines[0].starts_with("====="));
        assert_eq!(lockdep.lines[1], "[ BUG: Invalid wait context ]");
        assert!(lockdep.first_line > sleep.last_line);
    }

    /// The same scenarios booted on an arm64 guest (`tests/fixtures/arm64/`): `Call trace:`,
    /// no `<IRQ>` markers, the interrupt entered through el1h_64_irq. Each is titled as its
    /// x86_64 boot is, and names the same guilty frame.
    #[test]
    fn arm64_boots_are_titled_as_x86_boots() {
        let arm64 = |name: &str| {
            let path = project_dir().join("tests/fixtures/arm64").join(format!("{name}.log"));
            parse(&String::from_utf8_lossy(&std::fs::read(path).unwrap()))
        };
        let reports = arm64("mutex");
        assert_eq!(reports.len(), 2, "{reports:#?}");
        let sleep = &reports[0];
        assert_eq!(sleep.kind, Kind::AtomicSleep);
        assert_eq!(sleep.location.as_deref(), Some("kernel/locking/mutex.c:623"));
        assert_eq!(sleep.guilty_function.as_deref(), Some("irqlock::shared::Shared::increment"));
        assert!(sleep.lines.iter().any(|l| l.trim() == "Call trace:"), "{:#?}", sleep.lines);
        assert!(sleep.lines.iter().any(|l| l.trim().starts_with("el1h_64_irq+")));
        assert!(!sleep.lines.iter().any(|l| l.contains("<IRQ>")));
        assert!(!sleep.truncated);
        for name in ["mutex", "spinlock_irqsave", "edu_mutex_intx", "edu_mutex_msi", "workqueue_mutex"] {
            let titles = |reports: Vec<Report>| reports.into_iter().map(|r| r.title).collect::<Vec<_>>();
            assert_eq!(titles(arm64(name)), titles(parse_fixture(name)), "{name}");
        }
    }

    #[test]
    fn clean_boots_have_no_reports() {
        for name in ["spinlock_irqsave", "bad_parameter", "unload_while_firing"] {
            assert_eq!(parse_fixture(name), [], "{name}");
        }
    }

    #[test]
    fn a_log_cut_mid_report_is_truncated_not_dropped() {
        let path = project_dir().join("tests/fixtures/mutex.log");
        let log = String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned();
        let cut = &log[..log.find("hrtimer_interrupt+").unwrap()];
        let reports = parse(cut);
        assert_eq!(reports.len(), 1);
        assert!(reports[0].truncated);
        assert!(reports[0].title.ends_with("in irqlock::shared::Shared::increment"));
        // Cut before its call trace, nothing names the function.
        let cut = &log[..log.find("in_atomic():").unwrap()];
        let reports = parse(cut);
        assert_eq!(reports.len(), 1);
        assert!(reports[0].truncated && reports[0].guilty_function.is_none());
        assert_eq!(reports[0].title, "BUG: sleeping function called from invalid context in corrupted");
    }
}

/// Excerpts built from the printk formats of the 7.3 source, for the families the lab's own
/// scenarios do not provoke.
#[cfg(test)]
mod synthetic {
    use super::*;
    use crate::paths::project_dir;

    const CASES: &[(&str, &[&str])] = &[
        ("scheduling-while-atomic", &["BUG: scheduling while atomic in irqlock::sleep"]),
        ("smp-processor-id", &["BUG: using smp_processor_id() in preemptible code in pick_cpu_counter"]),
        ("circular-locking", &["possible deadlock in take_both"]),
        ("circular-cut", &["possible deadlock in take_both", "possible deadlock in lab_relock"]),
        ("inconsistent-lock-state", &["inconsistent lock state in irqlock::shared::Shared::increment"]),
        ("warning", &["WARNING in lab_probe"]),
        ("kernel-bug", &["kernel BUG in kfree"]),
        (
            "null-deref-then-panic",
            &[
                "BUG: unable to handle kernel NULL pointer dereference in irqlock::read",
                "kernel panic: Fatal exception",
            ],
        ),
        ("gpf", &["general protection fault in list_del_entry"]),
        ("paging-request", &["BUG: unable to handle kernel paging request in lab_fill"]),
        ("kasan", &["KASAN: slab-use-after-free Read in lab_read"]),
        ("kcsan", &["KCSAN: data-race in lab_count_read / lab_count_write"]),
        ("kmsan", &["KMSAN: uninit-value in lab_parse"]),
        ("refcount", &["WARNING: refcount bug in lab_put"]),
        ("debug-locks-warn-on", &["WARNING: locking bug in lab_setup"]),
        (
            "lockdep-warn-on",
            &["WARNING: locking bug in lab_use_uninit_lock", "WARNING: locking bug in lab_unlock_twice"],
        ),
        ("spinlock-lockup", &["BUG: spinlock lockup suspected in lab_check_status"]),
        ("spinlock-recursion", &["BUG: spinlock recursion in check_status"]),
        ("old-lockdep-circular", &["possible deadlock in lab_ioctl"]),
        (
            "old-lockdep-bugs",
            &[
                "BUG: bad unlock balance in lab_release",
                "BUG: held lock freed in lab_remove",
                "INFO: suspicious RCU usage in lab_lookup",
                "BUG: lock held when returning to user space in lab_open",
            ],
        ),
        (
            "lockdep-without-rule",
            &[
                "INFO: trying to register non-static key in lab_setup",
                "BUG: workqueue leaked atomic, lock or RCU in lab_work_fn",
                "BUG: still has locks held in lab_exit_path",
                "BUG: workqueue leaked lock or atomic in lab_old_work_fn",
            ],
        ),
        ("old-paging-request", &["BUG: unable to handle kernel paging request in lab_fill"]),
        (
            "old-traces-end",
            &[
                "BUG: sleeping function called from invalid context in lab_timer_fn",
                "possible deadlock in lab_work_fn",
            ],
        ),
        ("memory-leak", &["memory leak in lab_init", "memory leak in lab_add_node"]),
        ("ubsan-before-5.14", &["UBSAN: shift-out-of-bounds in lab_mask_old"]),
        ("lockdep-header-not-first", &["possible deadlock in take_both"]),
        ("kfence", &["KFENCE: out-of-bounds read in lab_peek"]),
        ("ubsan", &["UBSAN: shift-out-of-bounds in lab_mask"]),
        ("soft-lockup", &["BUG: soft lockup in lab_spin"]),
        (
            "hard-lockup-panic",
            &["BUG: hard lockup in irqlock::shared::Shared::increment", "kernel panic: Hard LOCKUP"],
        ),
        ("rcu-stall", &["INFO: rcu detected stall in lab_busy_loop"]),
        (
            "stall-entry",
            &[
                "BUG: soft lockup in lab_ioctl",
                "INFO: rcu detected stall in lab_irq_poll",
                "INFO: task hung in lab_wait_ready",
            ],
        ),
        ("hung-task", &["INFO: task hung in lab_wait"]),
        ("locks-held", &["WARNING: still has locks held in lab_exit_to_user"]),
        (
            "driver-frames",
            &[
                "BUG: sleeping function called from invalid context in lock_bus",
                "BUG: sleeping function called from invalid context in trigger_dma",
                "BUG: sleeping function called from invalid context in schedule_tx",
                "BUG: sleeping function called from invalid context in up_link",
                "BUG: sleeping function called from invalid context in wait_for_ack",
                "BUG: sleeping function called from invalid context in die_roll",
            ],
        ),
        (
            "arm64",
            &[
                "BUG: sleeping function called from invalid context in lab_timer_fn",
                "WARNING: locking bug in lab_setup",
            ],
        ),
        ("arm64-4.19", &["BUG: scheduling while atomic in lab_irq_handler"]),
        (
            "arm32",
            &[
                "BUG: sleeping function called from invalid context in lab_timer_fn",
                "BUG: sleeping function called from invalid context in lab_timer_fn",
            ],
        ),
        ("riscv64", &["BUG: sleeping function called from invalid context in lab_timer_fn"]),
        (
            "console-layouts",
            &[
                "BUG: sleeping function called from invalid context in lab_timer_fn",
                "BUG: scheduling while atomic in lab_irq_handler",
                "BUG: spinlock recursion in lab_check_status",
            ],
        ),
        (
            "rust-generic",
            &[
                "BUG: sleeping function called from invalid context in lab::Lab::handle",
                "BUG: scheduling while atomic in <lab::Drv as lab::Module>::init",
            ],
        ),
        (
            "corrupted",
            &[
                "BUG: sleeping function called from invalid context in corrupted",
                "BUG: scheduling while atomic in corrupted",
            ],
        ),
        (
            "interleaved-cpus",
            &["BUG: sleeping function called from invalid context in irqlock::shared::Shared::increment"],
        ),
    ];

    fn parse_case(name: &str) -> Vec<Report> {
        let path = project_dir().join("tests/fixtures/synthetic").join(format!("{name}.log"));
        parse(&std::fs::read_to_string(path).unwrap())
    }

    #[test]
    fn every_family_gets_its_title() {
        for (name, titles) in CASES {
            let reports = parse_case(name);
            let seen: Vec<&str> = reports.iter().map(|r| r.title.as_str()).collect();
            assert_eq!(&seen, titles, "{name}");
            // These logs stop in the middle of a report.
            let open_ended = [
                "old-lockdep-circular",
                "old-lockdep-bugs",
                "lockdep-without-rule",
                "corrupted",
                "circular-cut",
            ]
            .contains(name);
            assert!(open_ended || reports.iter().all(|r| !r.truncated), "{name}: {reports:#?}");
        }
    }

    /// Before 5.8 a call trace has no `</TASK>`: a report ends with its last frame, and the
    /// line after it belongs to neither report.
    #[test]
    fn an_old_call_trace_ends_with_its_last_frame() {
        let reports = parse_case("old-traces-end");
        let last_lines: Vec<&str> = reports.iter().map(|r| r.lines.last().unwrap().trim()).collect();
        assert_eq!(last_lines, ["<EOI>  [<ffffffff81064a1d>] irq_exit+0x8d/0xa0", "ret_from_fork+0x25/0x30"]);
        assert!(reports.iter().all(|r| !r.truncated && r.lines.iter().all(|l| !l.contains("lab: "))));
    }

    #[test]
    fn every_fixture_is_in_the_table() {
        let dir = project_dir().join("tests/fixtures/synthetic");
        for entry in std::fs::read_dir(dir).unwrap() {
            let name = entry.unwrap().path().file_stem().unwrap().to_string_lossy().into_owned();
            assert!(CASES.iter().any(|(n, _)| *n == name), "{name} has no expected titles");
        }
    }

    /// A title names what went wrong and where, never which CPU, task or address: the same
    /// bug gets the same title on every run. Checked on every report of every fixture.
    #[test]
    fn no_title_carries_a_cpu_a_task_or_an_address() {
        let root = project_dir().join("tests/fixtures");
        let dirs = [root.clone(), root.join("rt"), root.join("synthetic"), root.join("parser-cases")];
        let mut titles = Vec::new();
        for dir in dirs {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|e| e == "log") {
                    let log = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
                    titles.extend(parse(&log).into_iter().map(|r| (path.clone(), r.title)));
                }
            }
        }
        assert!(titles.len() > 50, "{} titles", titles.len());
        for (path, title) in titles {
            let volatile =
                ["CPU#", "CPU:", "PID", "0x", "ffff", "syz-executor", "insmod", "kworker", "swapper"];
            let numbered_task =
                title.split(['/', '[']).skip(1).any(|w| w.starts_with(|c: char| c.is_ascii_digit()));
            assert!(
                !numbered_task && volatile.iter().all(|v| !title.contains(v)),
                "{}: {title}",
                path.display()
            );
        }
    }

    #[test]
    fn kinds_and_locations() {
        let kind = |name: &str| parse_case(name)[0].kind;
        assert_eq!(kind("scheduling-while-atomic"), Kind::AtomicSleep);
        assert_eq!(kind("circular-locking"), Kind::Lockdep);
        assert_eq!(kind("warning"), Kind::Warning);
        assert_eq!(kind("kernel-bug"), Kind::Bug);
        assert_eq!(kind("gpf"), Kind::Oops);
        assert_eq!(kind("kasan"), Kind::MemorySafety);
        assert_eq!(kind("lockdep-warn-on"), Kind::Lockdep);
        assert_eq!(kind("hung-task"), Kind::Stall);
        assert_eq!(parse_case("hard-lockup-panic")[1].kind, Kind::Panic);
        let location = |name: &str| parse_case(name)[0].location.clone();
        assert_eq!(location("warning").as_deref(), Some("drivers/misc/lab.c:42"));
        assert_eq!(location("kernel-bug").as_deref(), Some("mm/slub.c:4567"));
        assert_eq!(location("ubsan").as_deref(), Some("drivers/misc/lab.c:77:12"));
    }

    #[test]
    fn other_cpus_lines_stay_out_of_a_report() {
        let report = &parse_case("interleaved-cpus")[0];
        assert_eq!((report.first_line, report.last_line), (1, 15));
        assert!(report.lines.iter().all(|l| !l.contains("other_cpu_frame") && !l.contains("harness")));
        assert_eq!(report.lines.len(), 12);
    }

    #[test]
    fn a_null_dereference_takes_its_oops_line() {
        let report = &parse_case("null-deref-then-panic")[0];
        assert_eq!(report.kind, Kind::Oops);
        assert!(report.lines.iter().any(|l| l.starts_with("Oops: Oops: 0000")));
        assert_eq!(report.lines.last().unwrap(), "---[ end trace 0000000000000000 ]---");
    }
}

/// Real logs pasted into public bug reports (`tests/fixtures/parser-cases/`, each with the
/// titles syzkaller's rules give it on top): every one gets its title or an alternative.
#[cfg(test)]
mod parser_cases {
    use super::*;
    use crate::paths::project_dir;

    #[test]
    fn every_public_log_gets_its_title() {
        let dir = project_dir().join("tests/fixtures/parser-cases");
        let logs = crate::paths::files_with_extension(&dir, "log").unwrap();
        assert!(logs.len() >= 5, "{logs:?}");
        for path in logs {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let case = score::case(&name, &std::fs::read_to_string(&path).unwrap());
            assert!(!case.titles.is_empty(), "{name}: no TITLE");
            let title = parse(&case.log).into_iter().next().map(|r| r.title);
            assert!(
                title.as_ref().is_some_and(|t| case.titles.contains(t)),
                "{name}: expected one of {:?}, got {title:?}",
                case.titles
            );
        }
    }
}
