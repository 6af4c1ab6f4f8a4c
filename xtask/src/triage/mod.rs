// SPDX-License-Identifier: GPL-2.0

//! Kernel reports in a console log: what they are, where they start and end, and whose fault.
//!
//! Titles follow syzkaller's style (`BUG: sleeping function called from invalid context in
//! f`), so that they are stable across boots: no addresses, PIDs or timestamps. This module
//! knows nothing of scenarios or QEMU; it reads any kernel log.

pub mod score;

use crate::error::{Error, Result, EXIT_FAIL, EXIT_PASS};
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
    /// The log ended before the report did.
    pub truncated: bool,
    /// The report's lines, without timestamps.
    pub lines: Vec<String>,
}

/// Strips the printk timestamp and caller id: `[    3.544154][    C0] text` -> `text`.
pub fn strip_prefix(line: &str) -> &str {
    let mut rest = line.trim_end_matches(['\r', '\n']);
    for _ in 0..2 {
        let Some(after) = rest.strip_prefix('[') else {
            break;
        };
        let Some(end) = after.find(']') else { break };
        let inside = after[..end].trim();
        let is_time = !inside.is_empty() && inside.chars().all(|c| c.is_ascii_digit() || c == '.');
        let is_caller = (inside.starts_with('C') || inside.starts_with('T'))
            && inside.len() > 1
            && inside[1..].chars().all(|c| c.is_ascii_digit());
        if !is_time && !is_caller {
            break;
        }
        rest = &after[end + 1..];
    }
    rest.strip_prefix(' ').unwrap_or(rest)
}

/// What a line that starts a report says.
struct Start {
    kind: Kind,
    /// The title, with `{}` where the guilty function goes.
    title: String,
    location: Option<String>,
    /// The function the header itself names (WARNING's and KASAN's do), if any.
    named_function: Option<String>,
    /// The report ends with a `---[ end ... ]---` line rather than after its call trace.
    ends_with_marker: bool,
    /// The report ends before its first line that is not indented.
    indented: bool,
    /// Lockdep's reports under a row of `=` print `stack backtrace:` before their last trace.
    backtrace_last: bool,
    /// A later line that names the guilty function after these words.
    named_after: Option<&'static str>,
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
    lockdep("WARNING: possible circular locking dependency detected", "possible deadlock in {}"),
    lockdep("WARNING: possible recursive locking detected", "possible deadlock in {}"),
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
    lockdep("[ INFO: possible circular locking dependency detected", "possible deadlock in {}"),
    lockdep("[ INFO: possible recursive locking detected ]", "possible deadlock in {}"),
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

fn after<'a>(text: &'a str, marker: &str) -> Option<&'a str> {
    text.find(marker).map(|i| &text[i + marker.len()..])
}

/// `file.c:123` at the start of `text`, if there is one.
fn location_at(text: &str) -> Option<String> {
    let word = text.split_whitespace().next()?.trim_end_matches(['!', ',', ':']);
    let (file, line) = word.rsplit_once(':')?;
    let line = line.split(':').next()?;
    (file.contains('.') && !line.is_empty() && line.chars().all(|c| c.is_ascii_digit()))
        .then(|| format!("{file}:{line}"))
}

fn start(line: &str, previous: &str) -> Option<Start> {
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

/// The symbol of a call-trace frame such as `? func+0x13/0x96 [mod]`.
fn frame_symbol(word: &str) -> Option<String> {
    let word = word.trim();
    let (name, offset) = word.split_once('+')?;
    (offset.starts_with("0x") && offset.contains("/0x") && !name.is_empty()).then(|| name.to_string())
}

/// A frame line of a call trace: `  ? func+0x13/0x96 [irqlock]`, or `RIP: 0010:func+0x1/0x2`.
fn frame(line: &str) -> Option<(String, bool)> {
    let trimmed = line.trim_start();
    // `RIP: 0010:f+0x1/0x2`; before 4.15 `RIP: 0010:[<addr>]  [<addr>] f+0x1/0x2`, and the
    // fault's first lines `IP: [<addr>] f+0x1/0x2`.
    let rip = trimmed.strip_prefix("RIP: ").map(|r| r.split_once(':').map_or(r, |(_, s)| s));
    if let Some(rest) = rip.or_else(|| trimmed.strip_prefix("IP: ")) {
        let symbol = rest.split_whitespace().find(|w| !w.starts_with("[<"))?;
        return frame_symbol(symbol).map(|s| (s, true));
    }
    let (reliable, rest) = match trimmed.strip_prefix("? ") {
        Some(rest) => (false, rest),
        None => (true, trimmed),
    };
    // Before 4.15, x86 printed each frame's address first: `[<ffffffff81234567>] func+0x1/0x2`.
    let rest = match rest.strip_prefix("[<").and_then(|r| r.split_once(">] ")) {
        Some((_, after)) => after,
        None => rest,
    };
    let first = rest.split_whitespace().next()?;
    let rest_words = rest.split_whitespace().count();
    // A frame line holds the symbol and, for a module, `[name]`; nothing else.
    if rest_words > 2 || !line.starts_with(' ') && !line.starts_with('\t') {
        return None;
    }
    frame_symbol(first).map(|s| (s, reliable))
}

/// Demangles a Rust symbol (v0 `_R...` or legacy `_ZN...`), leaving C symbols as they are, and
/// writes inherent methods as `crate::Type::method`.
pub fn demangle(symbol: &str) -> String {
    let name = match rustc_demangle::try_demangle(symbol) {
        Ok(d) => format!("{d:#}"),
        Err(_) => return symbol.to_string(),
    };
    // `<irqlock::shared::Shared>::increment` -> `irqlock::shared::Shared::increment`.
    if let Some(inner) = name.strip_prefix('<') {
        if let Some(end) = inner.find(">::") {
            let ty = &inner[..end];
            if !ty.contains(" as ") && !ty.contains('<') {
                return format!("{ty}{}", &inner[end + 1..]);
            }
        }
    }
    name
}

/// The line with every Rust symbol in it demangled, e.g. in call-trace frames.
pub fn demangle_line(line: &str) -> String {
    if !line.contains("_R") && !line.contains("_ZN") {
        return line.to_string();
    }
    let mut out = String::with_capacity(line.len());
    for (i, word) in line.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let (symbol, rest) = match word.find('+') {
            Some(at) => word.split_at(at),
            None => (word, ""),
        };
        let (prefix, symbol) = match symbol.find("_R").or_else(|| symbol.find("_ZN")) {
            Some(at) => symbol.split_at(at),
            None => (symbol, ""),
        };
        out += prefix;
        out += &demangle(symbol);
        out += rest;
    }
    out
}

/// The locks' own functions and the checkers', which a warning's header may name when the
/// caller is at fault.
fn is_lock_code(function: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "mutex_",
        "_mutex_",
        "__mutex_",
        "rt_mutex",
        "rt_spin",
        "rtlock_",
        "spin_",
        "_raw_spin",
        "__raw_spin",
        "lock_acquire",
        "lock_release",
        "__lock_",
        "lockdep_",
        "refcount_",
    ];
    PREFIXES.iter().any(|p| function.starts_with(p))
}

/// A symbol without the suffixes the compiler adds to a function's copies (`.isra.0`,
/// `.constprop.3`, `.part.1`, `.cold`, `.llvm.123`): the title names the function.
fn clean_symbol(symbol: &str) -> String {
    const SUFFIXES: &[&str] = &["isra", "constprop", "part", "cold", "llvm", "lto_priv"];
    let mut name = symbol;
    while let Some((head, tail)) = name.rsplit_once('.') {
        if SUFFIXES.contains(&tail) {
            name = head;
            continue;
        }
        let numbered = !tail.is_empty() && tail.chars().all(|c| c.is_ascii_digit());
        match head.rsplit_once('.') {
            Some((before, word)) if numbered && SUFFIXES.contains(&word) => name = before,
            _ => break,
        }
    }
    name.to_string()
}

/// The title once the report's body is known: what a generic WARNING was about, and which
/// way a KASAN access went, as syzkaller titles them.
fn refine_title(title: &str, body: &[&str]) -> String {
    let has = |prefix: &str| body.iter().any(|l| l.trim_start().starts_with(prefix));
    if let Some(rest) = title.strip_prefix("WARNING in ") {
        if has("refcount_t: ") {
            return format!("WARNING: refcount bug in {rest}");
        }
        if has("DEBUG_LOCKS_WARN_ON(") {
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

/// Frames that belong to the machinery that detects or reports the bug, or takes the lock,
/// rather than to the code at fault.
fn is_machinery(function: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "dump_stack",
        "show_stack",
        "console_lock",
        "console_unlock",
        "debug_check_no_locks_freed",
        "debug_check_no_locks_held",
        "register_lock_class",
        "kmem_cache_alloc",
        "kmemleak_",
        "__kmalloc",
        "kmalloc",
        "kzalloc",
        "kvmalloc",
        "__kvmalloc",
        "krealloc",
        "slab_post_alloc_hook",
        "_copy_to_user",
        "_copy_from_user",
        "flush_workqueue",
        "__flush_workqueue",
        "process_one_work",
        "worker_thread",
        "entry_SYSENTER_compat",
        "entry_SYSCALL",
        "do_syscall_",
        "refcount_",
        "__show_trace",
        "show_trace",
        "__dump_stack",
        "print_report",
        "print_address_description",
        "print_usage_bug",
        "print_circular_bug",
        "print_deadlock_bug",
        "print_bad_irq_dependency",
        "print_lock",
        "print_held_locks",
        "print_irqtrace_events",
        "print_unlock_imbalance_bug",
        "print_freed_lock_bug",
        "print_lock_nested_lock_not_held",
        "print_shortest_lock_dependencies",
        "print_stack_trace",
        "print_ip_sym",
        "print_modules",
        "__print_",
        "printk",
        "_printk",
        "vprintk",
        "__warn",
        "warn_",
        "__WARN",
        "report_bug",
        "handle_bug",
        "exc_invalid_op",
        "asm_exc_",
        "do_error_trap",
        "do_trap",
        "die",
        "__die",
        "oops_",
        "panic",
        "nmi_",
        "watchdog",
        "__might_",
        "might_",
        "___might_",
        "__cant_",
        "mutex_lock",
        "__mutex_",
        "mutex_",
        "_raw_spin",
        "__raw_spin",
        "do_raw_spin",
        "spin_bug",
        "spin_dump",
        "spin_lock",
        "spin_unlock",
        "_raw_read",
        "_raw_write",
        "rt_mutex",
        "_mutex_",
        // PREEMPT_RT's sleeping spinlocks and their slow path.
        "rt_spin",
        "rtlock_",
        "rt_read",
        "rt_write",
        "rwsem",
        "down_",
        "__down",
        "up_",
        "lock_",
        "__lock_",
        "lockdep_",
        "__lockdep",
        "validate_chain",
        "check_prev_add",
        "check_prevs_add",
        "check_irq_usage",
        "check_noncircular",
        "check_deadlock",
        "check_wait_context",
        "check_flags",
        "check_usage",
        "check_chain_key",
        "mark_lock",
        "mark_usage",
        "valid_state",
        "__schedule",
        "schedule",
        "preempt_schedule",
        "__cond_resched",
        "kasan_",
        "__kasan",
        "__asan",
        "kfence_",
        "__kfence",
        "ubsan_",
        "__ubsan",
        "check_preemption_disabled",
        "debug_smp_processor_id",
        "rcu_",
        "lockdep_rcu",
        "trigger_",
        "arch_trigger",
        "kernel::sync::",
        "kernel::print",
        "kernel::bug",
        "kernel::panic",
        "<kernel::sync::",
        "core::panicking",
        "rust_begin_unwind",
        "rust_helper_",
        "msleep",
        "usleep",
        "ssleep",
        "fsleep",
        "wait_for_",
        "__wait_",
        "kernel::time::delay",
        "bindings::",
    ];
    PREFIXES.iter().any(|p| function.starts_with(p))
}

/// The printk caller id of a line (`C0` for CPU 0 in interrupt context, `T123` for a task),
/// when the kernel prints them (CONFIG_PRINTK_CALLER).
pub fn caller_id(line: &str) -> Option<&str> {
    let after_time = line.strip_prefix('[')?.split_once(']')?.1;
    let inside = after_time.strip_prefix('[')?.split_once(']')?.0.trim();
    let valid = (inside.starts_with('C') || inside.starts_with('T'))
        && inside.len() > 1
        && inside[1..].chars().all(|c| c.is_ascii_digit());
    valid.then_some(inside)
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
/// The console's lines, one per entry (the first line is line 1 of the file), with a line
/// that the console cut and printed again in full left empty: a console whose printing was
/// taken over mid-line (nbcon) prints the line again after `** replaying previous printk
/// message **`.
pub fn whole_lines(log: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = log.lines().map(|l| l.trim_end_matches('\r')).collect();
    for i in 1..lines.len() {
        if lines[i].trim_end() == "** replaying previous printk message **" {
            lines[i - 1] = "";
            lines[i] = "";
        }
    }
    lines
}

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
        let rule = same_caller.take(2).find(|&j| lines[j].starts_with("===="));
        let previous = rule.map_or("", |j| lines[j]);
        let found = start(lines[i], previous).filter(|found| {
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
            // between it and the "WARNING:" line.
            if matches!(found.kind, Kind::Warning | Kind::Bug) {
                let back = i.saturating_sub(3);
                if let Some(cut) = (back..i).rev().find(|&j| lines[j].contains("[ cut here ]")) {
                    members.extend((cut..i).filter(|&j| caller.is_none() || callers[j] == caller));
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
    if let Some(o) = open.take() {
        reports.push(finish(o, &lines, true));
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
    let seen_trace = lines.iter().any(|l| l.trim() == "Call Trace:");
    let final_trace = !st.backtrace_last || lines.iter().any(|l| l.starts_with("stack backtrace:"));
    seen_trace && final_trace && line == "</TASK>"
}

/// Whether `line` comes after the report whose lines are `lines`, in a kernel that does not
/// close its call traces with `</TASK>` (before 5.8; its frames read ` [<addr>] f+0x…/0x…` or
/// ` f+0x…/0x…`): the report's last trace has begun and has frames, and `line` is none of
/// them. A report that ends with a `---[ end ... ]---` line waits for it instead.
fn trace_ended_before(st: &Start, lines: &[&str], line: &str) -> bool {
    let is_trace_line = |l: &str| {
        l.starts_with([' ', '\t']) || l.starts_with("[<") || (l.starts_with('<') && l.ends_with('>'))
    };
    let Some(trace) = lines.iter().rposition(|l| l.trim() == "Call Trace:") else { return false };
    let final_trace = !st.backtrace_last || lines[..trace].iter().any(|l| l.starts_with("stack backtrace:"));
    let framed = lines.len() > trace + 1 && is_trace_line(lines[lines.len() - 1]);
    let waits_for_marker = st.ends_with_marker || lines.iter().any(|l| l.starts_with("Oops:"));
    let closes_with_task = lines[trace..].iter().any(|l| l.trim() == "<TASK>");
    final_trace
        && framed
        && !waits_for_marker
        && !closes_with_task
        && !line.is_empty()
        && !is_trace_line(line)
}

fn finish(open: Open, lines: &[&str], truncated: bool) -> Report {
    let st = open.start;
    let body: Vec<&str> = open.members.iter().map(|&j| lines[j]).collect();
    // A later line may name the function: the first symbol after its words, past a
    // `[<address>]` (`at: [<ffffffff81234567>] f+0x1/0x2`).
    let named_later = st.named_after.and_then(|words| {
        let rest = body.iter().find_map(|l| after(l, words))?;
        let word = rest.split_whitespace().find(|w| !w.starts_with("[<"))?;
        Some(demangle(word.split('+').next().unwrap_or(word)))
    });
    // A function named there or by the header counts unless it is a lock's own code (a WARN_ON
    // in `_mutex_trylock_nest_lock`, for one) or a checker's: then the call trace names the
    // code at fault.
    let named = named_later.or_else(|| st.named_function.clone()).filter(|f| !is_lock_code(f));
    let guilty_function =
        named.or_else(|| guilty(&body)).or_else(|| st.named_function.clone()).map(|f| clean_symbol(&f));
    let st = Start { title: refine_title(&st.title, &body), ..st };
    // Without a guilty function (no call trace, as when the stuck CPU was idle), the title
    // names only the report.
    let title = match &guilty_function {
        Some(function) => st.title.replace("{}", function),
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
fn guilty(body: &[&str]) -> Option<String> {
    // kmemleak's allocation trace follows `backtrace (crc ...):` (`backtrace:` before 6.7).
    let trace_start =
        body.iter().rposition(|l| l.trim() == "Call Trace:" || l.trim_start().starts_with("backtrace"));
    // A RIP before the call trace is where the CPU faulted (Oops, WARNING); one inside it is
    // the interrupted context's, below the <IRQ> frames, and says nothing of the fault.
    let before_trace = &body[..trace_start.unwrap_or(body.len())];
    let is_rip = |l: &&&str| l.trim_start().starts_with("RIP: ") || l.trim_start().starts_with("IP: ");
    let rip = before_trace.iter().filter(is_rip).find_map(|l| frame(l));
    let frames: Vec<(String, bool)> = match trace_start {
        Some(at) => body[at + 1..].iter().filter(|l| !is_rip(l)).filter_map(|l| frame(l)).collect(),
        None => Vec::new(),
    };
    let pick = |reliable_only: bool| {
        rip.iter()
            .chain(frames.iter())
            .filter(|(_, reliable)| *reliable || !reliable_only)
            .map(|(symbol, _)| demangle(symbol))
            .find(|f| !is_machinery(f))
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
    fn strips_timestamps_and_caller_ids() {
        assert_eq!(strip_prefix("[    2.778658] BUG: x"), "BUG: x");
        assert_eq!(strip_prefix("[    3.544154][    C0] BUG: x"), "BUG: x");
        assert_eq!(strip_prefix("[   12.000001][  T123] hello"), "hello");
        assert_eq!(strip_prefix("[ BUG: Invalid wait context ]"), "[ BUG: Invalid wait context ]");
        assert_eq!(strip_prefix("plain"), "plain");
    }

    #[test]
    fn demangles_rust_v0_symbols() {
        assert_eq!(
            demangle("_RNvMNtCs4asRcsLwItn_7irqlock6sharedNtB2_6Shared9increment"),
            "irqlock::shared::Shared::increment"
        );
        assert_eq!(demangle("__mutex_lock"), "__mutex_lock");
    }

    #[test]
    fn demangles_whole_lines() {
        assert_eq!(
            demangle_line(
                " ? _RNvMNtCs4asRcsLwItn_7irqlock6sharedNtB2_6Shared9increment+0x13/0x96 [irqlock]"
            ),
            " ? irqlock::shared::Shared::increment+0x13/0x96 [irqlock]"
        );
        assert_eq!(demangle_line("at: _RNvXs_INVALID+0x1/0x2"), "at: _RNvXs_INVALID+0x1/0x2");
        assert_eq!(demangle_line("plain text"), "plain text");
    }

    #[test]
    fn reads_frames() {
        assert_eq!(frame("  ? __mutex_lock+0x64/0x4fa"), Some(("__mutex_lock".into(), false)));
        assert_eq!(frame(" hrtimer_interrupt+0x8b/0xf5"), Some(("hrtimer_interrupt".into(), true)));
        assert_eq!(frame(" f+0x13/0x96 [irqlock]"), Some(("f".into(), true)));
        assert_eq!(frame("RIP: 0010:f+0x1/0x2"), Some(("f".into(), true)));
        assert_eq!(frame("irqlock: counter=1+0x2/0x3 more words"), None);
    }

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
        ("hung-task", &["INFO: task hung in lab_wait"]),
        ("locks-held", &["WARNING: still has locks held in lab_exit_to_user"]),
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
            let open_ended =
                ["old-lockdep-circular", "old-lockdep-bugs", "lockdep-without-rule"].contains(name);
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

    #[test]
    fn titles_drop_compiler_suffixes() {
        assert_eq!(clean_symbol("lab_put.constprop.0"), "lab_put");
        assert_eq!(clean_symbol("f.isra.12"), "f");
        assert_eq!(clean_symbol("f.cold"), "f");
        assert_eq!(clean_symbol("f.part.0.cold"), "f");
        assert_eq!(clean_symbol("handle_softirqs"), "handle_softirqs");
        assert_eq!(clean_symbol("a.b"), "a.b");
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
        let dirs = [root.clone(), root.join("rt"), root.join("synthetic")];
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
