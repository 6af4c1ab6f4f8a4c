// SPDX-License-Identifier: GPL-2.0

//! The families of kernel reports, one row each, and the line that starts a report.

use super::frames::{clean_symbol, demangle, frame_symbol};
use super::Kind;

/// What a line that starts a report says.
pub(super) struct Start {
    pub(super) kind: Kind,
    /// The title, with `{}` where the guilty function goes.
    pub(super) title: String,
    pub(super) location: Option<String>,
    /// The function the header itself names (WARNING's and KASAN's do), if any.
    pub(super) named_function: Option<String>,
    /// The report ends with a `---[ end ... ]---` line rather than after its call trace.
    pub(super) ends_with_marker: bool,
    /// The report ends before its first line that is not indented.
    pub(super) indented: bool,
    /// Lockdep's reports under a row of `=` print `stack backtrace:` before their last trace.
    pub(super) backtrace_last: bool,
    /// A later line that names the guilty function after these words.
    pub(super) named_after: Option<&'static str>,
}

/// What a header line gives besides its family, for the title and the guilty function.
#[derive(Clone, Copy)]
enum Header {
    /// Nothing: the title is fixed.
    Plain,
    /// `... at file.c:123`: where the check fired.
    AtLocation,
    /// `file.c:123 ...` right after the prefix (`kernel BUG at`).
    Location,
    /// `WHAT in func+0x1/0x2`: the kind of bad access, and the function the tool names.
    WhatInFunction,
    /// `WHAT in f+0x1/0x2 / g+0x3/0x4`: a data race names both sides.
    WhatInPair,
    /// `WHAT in file.c:123`: UBSAN's check and where it fired.
    WhatAtLocation,
    /// `BUG: using X in preemptible ...`: the title keeps `BUG: using X`.
    BeforePreemptible,
    /// 7.3: `file.c:12 at func+0x1/0x2 [mod], CPU#0: task/1`, or `at func+0x1/0x2, CPU#0: ...`.
    Warning,
    /// Before 6.19: `0 PID: 1 at kernel/foo.c:12 func+0x1/0x2 [mod]`.
    WarningBefore619,
    /// The rest of the line is the title's `WHAT` (a panic's message).
    Message,
    /// Any other `BUG: WHAT`: the title keeps WHAT, without a CPU, task or address.
    What,
}

/// One family of kernel reports: how its first line looks, and what it is called.
struct Family {
    /// Only directly under a row of `=` (lockdep, RCU): its header is the line after it.
    under_rule: bool,
    /// The line starts with this (after the timestamp)...
    prefix: &'static str,
    /// ... and contains all of these.
    contains: &'static [&'static str],
    kind: Kind,
    /// syzkaller's title: `{what}` is what the header says, `{}` the guilty function.
    title: &'static str,
    header: Header,
    /// The report ends with `---[ end ... ]---` (or the row of `=` that opened it) rather
    /// than after its call trace.
    marker: bool,
    /// The report's lines after the first are indented, and the first line that is not ends
    /// it (kmemleak).
    indented: bool,
    /// A later line names the guilty function after these words.
    named_after: Option<&'static str>,
}

/// A row of [`FAMILIES`]: a line that starts with `prefix`, reported as `kind` and `title`.
const fn family(prefix: &'static str, kind: Kind, title: &'static str, header: Header) -> Family {
    Family {
        under_rule: false,
        prefix,
        contains: &[],
        kind,
        title,
        header,
        marker: false,
        indented: false,
        named_after: None,
    }
}

/// A lockdep report: its header stands under a row of `=`.
const fn lockdep(prefix: &'static str, title: &'static str) -> Family {
    Family { under_rule: true, ..family(prefix, Kind::Lockdep, title, Header::Plain) }
}

impl Family {
    /// The line must also contain these words.
    const fn containing(self, words: &'static [&'static str]) -> Self {
        Family { contains: words, ..self }
    }

    /// The report ends with its `---[ end ... ]---` line (or its closing row of `=`).
    const fn marked(self) -> Self {
        Family { marker: true, ..self }
    }

    /// The report's lines are indented; the first one that is not ends it.
    const fn indented(self) -> Self {
        Family { indented: true, ..self }
    }

    /// A later line names the guilty function after `words` (a workqueue's last function).
    const fn named_after(self, words: &'static str) -> Self {
        Family { named_after: Some(words), ..self }
    }

    /// Whether `line`, under `previous` (the row of `=` above it, or nothing), starts a
    /// report of this family.
    fn matches(&self, line: &str, previous: &str) -> bool {
        (!self.under_rule || previous.starts_with("===="))
            && line.starts_with(self.prefix)
            && self.contains.iter().all(|c| line.contains(c))
    }
}

/// A deadlock's report names the lock the task is trying to acquire, and where, on the line
/// after these words (kernel/locking/lockdep.c, `print_circular_bug_header`,
/// `print_deadlock_bug`): syzkaller names the report after that place.
const TRYING_TO_ACQUIRE: &str = "is trying to acquire lock:";

/// Every family the parser knows, one row each; the first that matches a line wins, so the
/// catch-all `BUG:` comes last.
const FAMILIES: &[Family] = &[
    family(
        "BUG: sleeping function called from invalid context",
        Kind::AtomicSleep,
        "BUG: sleeping function called from invalid context in {}",
        Header::AtLocation,
    ),
    family(
        "BUG: scheduling while atomic",
        Kind::AtomicSleep,
        "BUG: scheduling while atomic in {}",
        Header::Plain,
    ),
    family(
        "BUG: using smp_processor_id() in preemptible",
        Kind::AtomicSleep,
        "{what} in preemptible code in {}",
        Header::BeforePreemptible,
    ),
    family(
        "BUG: using __this_cpu_",
        Kind::AtomicSleep,
        "{what} in preemptible code in {}",
        Header::BeforePreemptible,
    ),
    lockdep("WARNING: possible circular locking dependency detected", "possible deadlock in {}")
        .named_after(TRYING_TO_ACQUIRE),
    lockdep("WARNING: possible recursive locking detected", "possible deadlock in {}")
        .named_after(TRYING_TO_ACQUIRE),
    lockdep("WARNING: possible irq lock inversion dependency detected", "possible deadlock in {}"),
    lockdep("WARNING: ", "possible deadlock in {}").containing(&["-safe -> ", "-unsafe lock order detected"]),
    lockdep("WARNING: inconsistent lock state", "inconsistent lock state in {}"),
    lockdep("[ BUG: Invalid wait context ]", "WARNING: locking bug in {}"),
    lockdep("WARNING: bad unlock balance detected!", "WARNING: bad unlock balance in {}"),
    // Before 4.15 the same reports said BUG, in brackets, and syzkaller's titles keep it.
    lockdep("[ BUG: bad unlock balance detected! ]", "BUG: bad unlock balance in {}"),
    lockdep("WARNING: held lock freed!", "WARNING: held lock freed in {}").named_after(", at: "),
    lockdep("[ BUG: held lock freed! ]", "BUG: held lock freed in {}").named_after(", at: "),
    lockdep(
        "[ BUG: lock held when returning to user space! ]",
        "BUG: lock held when returning to user space in {}",
    )
    .named_after(", at: "),
    lockdep("WARNING: suspicious RCU usage", "WARNING: suspicious RCU usage in {}"),
    lockdep(
        "WARNING: lock held when returning to user space!",
        "WARNING: lock held when returning to user space in {}",
    )
    .named_after(", at: "),
    lockdep("WARNING: ", "WARNING: still has locks held in {}")
        .containing(&["still has locks held!"])
        .named_after(", at: "),
    lockdep("WARNING: Nested lock was not taken", "WARNING: locking bug in {}"),
    lockdep("WARNING: nested lock was not taken", "WARNING: locking bug in {}"),
    lockdep("WARNING: held lock released with different context", "WARNING: locking bug in {}"),
    lockdep("[ BUG: bad contention detected! ]", "WARNING: locking bug in {}"),
    lockdep("BUG: MAX_LOCKDEP_KEYS too low!", "BUG: MAX_LOCKDEP_KEYS too low!"),
    // Before 4.15 lockdep's headers read `[ INFO: ... ]`.
    lockdep("[ INFO: possible circular locking dependency detected", "possible deadlock in {}")
        .named_after(TRYING_TO_ACQUIRE),
    lockdep("[ INFO: possible recursive locking detected ]", "possible deadlock in {}")
        .named_after(TRYING_TO_ACQUIRE),
    lockdep("[ INFO: possible irq lock inversion dependency detected ]", "possible deadlock in {}"),
    lockdep("[ INFO: inconsistent lock state ]", "inconsistent lock state in {}"),
    lockdep("[ INFO: suspicious RCU usage. ]", "INFO: suspicious RCU usage in {}"),
    lockdep(
        "[ INFO: lock held when returning to user space! ]",
        "WARNING: lock held when returning to user space in {}",
    )
    .named_after(", at: "),
    family("WARNING: CPU: ", Kind::Warning, "WARNING in {}", Header::WarningBefore619).marked(),
    family("WARNING: ", Kind::Warning, "WARNING in {}", Header::Warning).containing(&[", CPU#"]).marked(),
    family("kernel BUG at ", Kind::Bug, "kernel BUG in {}", Header::Location).marked(),
    family(
        "BUG: kernel NULL pointer dereference",
        Kind::Oops,
        "BUG: unable to handle kernel NULL pointer dereference in {}",
        Header::Plain,
    )
    .marked(),
    family(
        "BUG: unable to handle kernel NULL pointer dereference",
        Kind::Oops,
        "BUG: unable to handle kernel NULL pointer dereference in {}",
        Header::Plain,
    )
    .marked(),
    family(
        "BUG: unable to handle page fault",
        Kind::Oops,
        "BUG: unable to handle kernel paging request in {}",
        Header::Plain,
    )
    .marked(),
    family(
        "BUG: unable to handle kernel paging request",
        Kind::Oops,
        "BUG: unable to handle kernel paging request in {}",
        Header::Plain,
    )
    .marked(),
    family("general protection fault", Kind::Oops, "general protection fault in {}", Header::Plain).marked(),
    family("Oops: general protection fault", Kind::Oops, "general protection fault in {}", Header::Plain)
        .marked(),
    family("Oops: ", Kind::Oops, "Oops in {}", Header::Plain).marked(),
    family("BUG: KCSAN: ", Kind::MemorySafety, "KCSAN: {what} in {}", Header::WhatInPair).marked(),
    family("BUG: KMSAN: ", Kind::MemorySafety, "KMSAN: {what} in {}", Header::WhatInFunction).marked(),
    family("BUG: KASAN: ", Kind::MemorySafety, "KASAN: {what} in {}", Header::WhatInFunction).marked(),
    family("BUG: KFENCE: ", Kind::MemorySafety, "KFENCE: {what} in {}", Header::WhatInFunction),
    family("UBSAN: ", Kind::MemorySafety, "UBSAN: {what} in {}", Header::WhatAtLocation),
    family("", Kind::Stall, "BUG: soft lockup in {}", Header::Plain).containing(&["BUG: soft lockup - CPU#"]),
    family("", Kind::Stall, "BUG: hard lockup in {}", Header::Plain)
        .containing(&["Watchdog detected hard LOCKUP on cpu"]),
    family("", Kind::Stall, "INFO: rcu detected stall in {}", Header::Plain)
        .containing(&["rcu: INFO: ", "detected stall"]),
    family("INFO: rcu_", Kind::Stall, "INFO: rcu detected stall in {}", Header::Plain).containing(&["stall"]),
    family("INFO: task ", Kind::Stall, "INFO: task hung in {}", Header::Plain)
        .containing(&[" blocked", " for more than "]),
    family("Kernel panic - not syncing: ", Kind::Panic, "kernel panic: {what}", Header::Message).marked(),
    family("unreferenced object 0x", Kind::MemorySafety, "memory leak in {}", Header::Plain)
        .containing(&["(size "])
        .indented(),
    // Lockdep's reports without a row of `=`.
    family(
        "INFO: trying to register non-static key",
        Kind::Lockdep,
        "INFO: trying to register non-static key in {}",
        Header::Plain,
    ),
    family("BUG: ", Kind::Lockdep, "BUG: still has locks held in {}", Header::Plain)
        .containing(&["still has locks held!"])
        .named_after(", at: "),
    family(
        "BUG: workqueue leaked lock or atomic",
        Kind::Lockdep,
        "BUG: workqueue leaked lock or atomic in {}",
        Header::Plain,
    )
    .named_after("last function: "),
    family(
        "BUG: workqueue leaked atomic, lock or RCU",
        Kind::Lockdep,
        "BUG: workqueue leaked atomic, lock or RCU in {}",
        Header::Plain,
    )
    .named_after("workfn="),
    family("BUG: ", Kind::Bug, "BUG: {what} in {}", Header::What),
];

pub(super) fn after<'a>(text: &'a str, marker: &str) -> Option<&'a str> {
    text.find(marker).map(|i| &text[i + marker.len()..])
}

/// `file.c:123` at the start of `text`, if there is one.
pub(super) fn location_at(text: &str) -> Option<String> {
    let word = text.split_whitespace().next()?.trim_end_matches(['!', ',', ':']);
    let (file, line) = word.rsplit_once(':')?;
    let line = line.split(':').next()?;
    (file.contains('.') && !line.is_empty() && line.chars().all(|c| c.is_ascii_digit()))
        .then(|| format!("{file}:{line}"))
}

/// The report that `line` starts, if it starts one: the first row of [`FAMILIES`] that matches
/// it (`previous` is the row of `=` a lockdep header stands under, or empty).
pub(super) fn start(line: &str, previous: &str) -> Option<Start> {
    let family = FAMILIES.iter().find(|f| f.matches(line, previous))?;
    let rest = &line[family.prefix.len()..];
    let function = |word: &str| frame_symbol(word.trim_end_matches(',')).map(|f| demangle(&f));
    let (mut what, mut location, mut named_function) = (String::new(), None, None);
    match family.header {
        Header::Plain => {}
        Header::AtLocation => location = after(rest, " at ").and_then(location_at),
        Header::Location => location = location_at(rest),
        Header::WhatInFunction => {
            let (w, func) = rest.split_once(" in ").unwrap_or((rest, ""));
            what = w.to_string();
            named_function = func.split_whitespace().next().and_then(function);
        }
        Header::WhatInPair => {
            // BUG: KCSAN: data-race in f / g: both functions, without offsets, name the race.
            let (w, funcs) = rest.split_once(" in ").unwrap_or((rest, ""));
            what = w.to_string();
            let names: Vec<String> = funcs
                .split(" / ")
                .map(|f| clean_symbol(&demangle(f.split('+').next().unwrap_or(f).trim())))
                .collect();
            named_function = Some(names.join(" / "));
        }
        Header::WhatAtLocation => {
            let (w, at) = rest.split_once(" in ").unwrap_or((rest, ""));
            what = w.to_string();
            location = location_at(at);
        }
        Header::BeforePreemptible => what = line.split(" in preemptible").next().unwrap_or(line).to_string(),
        Header::Warning => {
            let (loc, at) = match rest.strip_prefix("at ") {
                Some(at) => (None, Some(at)),
                None => (location_at(rest), after(rest, " at ")),
            };
            location = loc;
            named_function = at.and_then(|a| a.split_whitespace().next()).and_then(function);
        }
        Header::WarningBefore619 => {
            let at = after(rest, " at ");
            location = at.and_then(location_at);
            named_function = at.and_then(|a| a.split_whitespace().nth(1)).and_then(function);
        }
        Header::Message => what = rest.trim().to_string(),
        Header::What => {
            // Never a CPU number, a task or an address: `BUG: spinlock lockup suspected on
            // CPU#2, syz-executor/12636` is `BUG: spinlock lockup suspected in {}`.
            let w = rest.split(" in process").next().unwrap_or(rest).split(':').next().unwrap_or(rest);
            let w = w.split(" on CPU#").next().unwrap_or(w).split(", ").next().unwrap_or(w);
            what = w.trim().trim_end_matches(['!', '.']).to_string();
        }
    }
    Some(Start {
        kind: family.kind,
        title: family.title.replace("{what}", &what),
        location,
        named_function,
        ends_with_marker: family.marker,
        indented: family.indented,
        backtrace_last: family.under_rule,
        named_after: family.named_after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No row hides behind an earlier one: a line made of a row's own prefix and words is
    /// recognised as that row.

    #[test]
    fn every_family_row_can_match() {
        for (i, row) in FAMILIES.iter().enumerate() {
            let line = format!("{}{}", row.prefix, row.contains.join(" "));
            let previous = if row.under_rule { "=====" } else { "" };
            let first = FAMILIES.iter().position(|f| f.matches(&line, previous));
            assert_eq!(first, Some(i), "row {i} ({:?}) is shadowed by an earlier row", row.prefix);
        }
    }
}
