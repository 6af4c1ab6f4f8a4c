// SPDX-License-Identifier: GPL-2.0

//! Call-trace frames: their symbols, demangled and cleaned, and which of them belong to the
//! kernel's machinery rather than to the code at fault.

/// The symbol of a call-trace frame such as `? func+0x13/0x96 [mod]`.
pub(super) fn frame_symbol(word: &str) -> Option<String> {
    let word = word.trim();
    let (name, offset) = word.split_once('+')?;
    (offset.starts_with("0x") && offset.contains("/0x") && !name.is_empty()).then(|| name.to_string())
}

/// Whether `line` (without its printk prefix) opens a call trace: `Call Trace:` on x86
/// (arch/x86/kernel/dumpstack.c), riscv and loongarch, `Call trace:` on arm64
/// (arch/arm64/kernel/stacktrace.c) and arm (arch/arm/kernel/unwind.c, traps.c; followed by a
/// note on the frame pointer when it has none).
pub(super) fn is_trace_start(line: &str) -> bool {
    let line = line.trim_start_matches([' ', '\t']);
    (line.starts_with("Call Trace:") && line[11..].trim_end().is_empty()) || line.starts_with("Call trace:")
}

/// Whether the text after a frame's symbol is only what each architecture prints there: the
/// module and its build id (`[mod]`, `[mod 1a2b...]`, `%pSb`), and arm64's unwinder marks
/// (`(P)`, `(C)`, `(T)`, `(F)`, `(K)`).
fn only_annotations(mut rest: &str) -> bool {
    loop {
        rest = rest.trim_start();
        let close = match rest.as_bytes().first() {
            None => return true,
            Some(b'[') => ']',
            Some(b'(') => ')',
            Some(_) => return false,
        };
        match rest.find(close) {
            Some(end) => rest = &rest[end + 1..],
            None => return false,
        }
    }
}

/// A frame line of a call trace, and whether it is reliable (not `?`), in each
/// architecture's layout:
/// - x86: ` ? func+0x13/0x96 [irqlock]` (arch/x86/kernel/dumpstack.c), before 4.15
///   ` [<ffffffff81234567>] func+0x1/0x2`, and the fault's `RIP: 0010:func+0x1/0x2`;
/// - arm64: ` func+0x1/0x2 [mod] (P)` (arch/arm64/kernel/stacktrace.c; before 5.x without the
///   space), and `pc : func+0x1/0x2` (arch/arm64/kernel/process.c);
/// - riscv and loongarch: `[<ffffffff80006a0c>] func+0x1c/0x24` (`print_ip_sym`,
///   include/linux/kallsyms.h), and riscv's `epc : func+0x1/0x2`;
/// - arm: `[<c0111>] (func) from [<c0222>] (caller+0x10/0x14)` with
///   CONFIG_BACKTRACE_VERBOSE, else ` func from caller+0x10/0x14`
///   (arch/arm/kernel/traps.c), and `PC is at func+0x1/0x2` (arch/arm/kernel/process.c).
pub(super) fn frame(line: &str) -> Option<(String, bool)> {
    let trimmed = line.trim_start();
    // `RIP: 0010:f+0x1/0x2`; before 4.15 `RIP: 0010:[<addr>]  [<addr>] f+0x1/0x2`, and the
    // fault's first lines `IP: [<addr>] f+0x1/0x2`.
    let rip = trimmed.strip_prefix("RIP: ").map(|r| r.split_once(':').map_or(r, |(_, s)| s));
    let pc = || ["IP: ", "pc : ", "epc : ", "PC is at "].iter().find_map(|p| trimmed.strip_prefix(p));
    if let Some(rest) = rip.or_else(pc) {
        let symbol = rest.split_whitespace().find(|w| !w.starts_with("[<"))?;
        return frame_symbol(symbol).map(|s| (s, true));
    }
    let (reliable, rest) = match trimmed.strip_prefix("? ") {
        Some(rest) => (false, rest),
        None => (true, trimmed),
    };
    // An address first: `[<ffffffff81234567>] func+0x1/0x2`.
    let rest = match rest.strip_prefix("[<").and_then(|r| r.split_once(">] ")) {
        Some((_, after)) => after,
        None => rest,
    };
    // arm: the function, without its offset (in parentheses when verbose, with its module),
    // `from` its caller.
    if let Some((function, caller)) = rest.split_once(" from ") {
        let function = function.strip_prefix('(').and_then(|f| f.strip_suffix(')')).unwrap_or(function);
        let (name, annotations) = function.split_once(' ').unwrap_or((function, ""));
        let name = name.split('+').next().unwrap_or(name);
        let caller = caller.strip_prefix("[<").and_then(|r| r.split_once(">] ")).map_or(caller, |(_, c)| c);
        let caller = caller.trim_start_matches('(').split([')', ' ']).next().unwrap_or("");
        let is_name =
            !name.is_empty() && name.bytes().all(|c| c.is_ascii_alphanumeric() || b"_.$".contains(&c));
        let framed = is_name && only_annotations(annotations) && frame_symbol(caller).is_some();
        return framed.then(|| (name.to_string(), reliable));
    }
    let (first, after) = rest.split_once(' ').unwrap_or((rest, ""));
    // A frame line holds the symbol and what the architecture prints after it; nothing else.
    if !only_annotations(after) {
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

/// A symbol without the suffixes the compiler adds to a function's copies (`.isra.0`,
/// `.constprop.3`, `.part.1`, `.cold`, `.llvm.123`): the title names the function.
///
/// A Rust method of a generic type is named without the type's parameters:
/// `<irqlock::Lab<u32>>::handle` is `irqlock::Lab::handle`; a trait's stays as it is.
pub(super) fn clean_symbol(symbol: &str) -> String {
    if let Some(inner) = symbol.strip_prefix('<').filter(|s| !s.contains(" as ")) {
        if let Some((ty, method)) = inner.rsplit_once(">::") {
            let mut plain = String::with_capacity(ty.len());
            let mut depth = 0;
            for c in ty.chars() {
                match c {
                    '<' => depth += 1,
                    '>' => depth -= 1,
                    _ if depth == 0 => plain.push(c),
                    _ => {}
                }
            }
            return clean_symbol(&format!("{plain}::{method}"));
        }
    }
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

/// What a group of [`MACHINERY`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Machinery {
    /// Lockdep's own functions (kernel/locking/lockdep.c).
    Lockdep,
    /// The locks' own code: mutexes, spinlocks, rwsems, semaphores, PREEMPT_RT's sleeping
    /// spinlocks (kernel/locking/), and refcount_t's checks (lib/refcount.c).
    Lock,
    /// The checks that report sleeping or preemption where it is not allowed
    /// (kernel/sched/core.c's `__might_sleep`, lib/smp_processor_id.c).
    Check,
    /// Sleeping and waking primitives a report passes through on its way to the scheduler
    /// (kernel/sched/, kernel/time/timer.c, kernel/workqueue.c).
    Sleep,
    /// Compiler and tracing instrumentation (kcov, KASAN, KCSAN, KMSAN, UBSAN, KFENCE, irq
    /// tracing).
    Instrumentation,
    /// Printing and unwinding the report, and the traps and handlers that lead to it
    /// (lib/dump_stack.c, kernel/panic.c, each arch's traps.c and stacktrace.c).
    Report,
    /// Allocators, user copies and the entries a call comes through (syscalls, workqueues).
    Plumbing,
    /// The Rust kernel crate's wrappers of the above (rust/kernel/).
    Rust,
}

/// The machinery of the kernel, by kind: frames of a call trace that detect, report or take
/// the lock rather than being at fault. A name is exact, or, ending with `*`, a prefix; the
/// prefixes are the namespaces of one subsystem, never a word a driver would start a
/// function with (`lock_`, `up_`, `trigger_`, `schedule`, `wait_for_`, `die`).
pub(super) const MACHINERY: &[(Machinery, &[&str])] = &[
    (
        Machinery::Lockdep,
        &[
            "lock_acquire",
            "lock_release",
            "lock_acquired",
            "lock_contended",
            "lock_is_held_type",
            "lock_sync",
            "lock_downgrade",
            "lock_pin_lock",
            "lock_unpin_lock",
            "__lock_*",
            "lockdep_*",
            "__lockdep_*",
            "hlock_class",
            "register_lock_class",
            "look_up_lock_class",
            "mark_held_locks",
            "mark_lock",
            "mark_lock_irq",
            "mark_usage",
            "valid_state",
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
            "add_chain_cache",
            "lookup_chain_cache_add",
            "debug_check_no_locks_freed",
            "debug_check_no_locks_held",
            "debug_locks_off",
            "print_usage_bug",
            "print_circular_bug",
            "print_deadlock_bug",
            "print_bad_irq_dependency",
            "print_lock",
            "print_held_locks_bug",
            "print_irqtrace_events",
            "print_unlock_imbalance_bug",
            "print_freed_lock_bug",
            "print_lock_nested_lock_not_held",
            "print_shortest_lock_dependencies",
            "print_lock_invalid_wait_context",
            "__print_lock_name",
        ],
    ),
    (
        Machinery::Lock,
        &[
            "mutex_*",
            "_mutex_*",
            "__mutex_*",
            "ww_mutex_*",
            "__ww_mutex_*",
            "rt_mutex*",
            "__rt_mutex*",
            "rt_spin_*",
            "rtlock_*",
            "rt_read_*",
            "rt_write_*",
            "rwbase_*",
            "spin_lock*",
            "spin_unlock*",
            "spin_bug",
            "spin_dump",
            "_raw_spin_*",
            "__raw_spin_*",
            "do_raw_spin_*",
            "_raw_read_*",
            "_raw_write_*",
            "do_raw_read_*",
            "do_raw_write_*",
            "queued_spin_*",
            "native_queued_spin_*",
            "__pv_queued_spin_*",
            "queued_read_*",
            "queued_write_*",
            "osq_lock",
            "rwsem_*",
            "__rwsem_*",
            "down",
            "down_read*",
            "down_write*",
            "down_interruptible",
            "down_killable",
            "down_trylock",
            "down_timeout",
            "__down*",
            "up",
            "__up",
            "up_read",
            "up_write",
            "__up_read",
            "__up_write",
            "percpu_down_*",
            "percpu_up_*",
            "refcount_*",
            "__refcount_*",
        ],
    ),
    (
        Machinery::Check,
        &[
            "__might_*",
            "___might_sleep",
            "might_sleep",
            "might_fault",
            "__cant_*",
            "__schedule_bug",
            "schedule_debug",
            "check_preemption_disabled",
            "debug_smp_processor_id",
            "__this_cpu_preempt_check",
        ],
    ),
    (
        Machinery::Sleep,
        &[
            "__schedule",
            "schedule",
            "schedule_loop",
            "schedule_rtlock",
            "schedule_idle",
            "schedule_preempt_disabled",
            "schedule_timeout*",
            "schedule_hrtimeout*",
            "io_schedule*",
            "preempt_schedule*",
            "__cond_resched*",
            "_cond_resched",
            "msleep",
            "msleep_interruptible",
            "usleep_range*",
            "ssleep",
            "fsleep",
            "do_nanosleep",
            "complete",
            "complete_all",
            "wait_for_completion*",
            "__wait_for_common",
            "wait_for_common*",
            "do_wait_for_common",
            "__wake_up*",
            "try_to_wake_up",
            "wake_up_process",
            "wake_up_q",
            "del_timer_sync",
            "timer_delete_sync",
            "__timer_delete_sync",
            "flush_work",
            "__flush_work",
            "flush_workqueue",
            "__flush_workqueue",
            "cancel_work_sync",
            "__cancel_work_sync",
            "cancel_delayed_work_sync",
            "synchronize_rcu",
            "synchronize_srcu",
            "kthread_stop",
        ],
    ),
    (
        Machinery::Instrumentation,
        &[
            "__sanitizer_*",
            "kasan_*",
            "__kasan_*",
            "__asan_*",
            "kfence_*",
            "__kfence_*",
            "ubsan_*",
            "__ubsan_*",
            "kcsan_*",
            "__kcsan_*",
            "__tsan_*",
            "kmsan_*",
            "__msan_*",
            "trace_hardirqs_on",
            "trace_hardirqs_off",
            "trace_hardirqs_on_prepare",
            "trace_hardirqs_off_finish",
            "rcu_read_lock*",
            "rcu_read_unlock*",
            "__rcu_read_lock",
            "__rcu_read_unlock",
            "rcu_lockdep_current_cpu_online",
            "rcu_preempt_sleep_check",
            "rcu_note_context_switch",
        ],
    ),
    (
        Machinery::Report,
        &[
            "dump_stack",
            "dump_stack_lvl",
            "__dump_stack",
            "dump_backtrace",
            "dump_backtrace_entry",
            "show_stack",
            "show_trace",
            "__show_trace",
            "show_trace_log_lvl",
            "show_regs",
            "__show_regs",
            "unwind_backtrace",
            "c_backtrace",
            "walk_stackframe",
            "print_trace_address",
            "arch_stack_walk",
            "stack_trace_save",
            "print_report",
            "print_address_description",
            "print_stack_trace",
            "print_ip_sym",
            "print_modules",
            "printk",
            "_printk",
            "vprintk*",
            "console_lock",
            "console_unlock",
            "console_flush_all",
            "__warn",
            "__warn_printk",
            "warn_slowpath*",
            "__WARN*",
            "report_bug",
            "handle_bug",
            "bug_handler",
            "brk_handler",
            "call_break_hook",
            "do_debug_exception",
            "el1_dbg",
            "el1h_64_sync_handler",
            "el1h_64_sync",
            "exc_invalid_op",
            "asm_exc_*",
            "do_error_trap",
            "do_trap",
            "die",
            "__die",
            "__die_body",
            "oops_begin",
            "oops_end",
            "panic",
            "nmi_cpu_backtrace",
            "nmi_cpu_backtrace_handler",
            "nmi_trigger_cpumask_backtrace",
            "nmi_handle",
            "default_do_nmi",
            "exc_nmi",
            "arch_trigger_cpumask_backtrace",
            "trigger_all_cpu_backtrace",
            "trigger_single_cpu_backtrace",
            "watchdog_timer_fn",
            "watchdog_overflow_callback",
            "watchdog_hardlockup_check",
            "watchdog_buddy_check_hardlockup",
            "rcu_dump_cpu_stacks",
            "print_cpu_stall",
            "print_other_cpu_stall",
            "check_cpu_stall",
            "rcu_pending",
            "rcu_sched_clock_irq",
        ],
    ),
    (
        Machinery::Plumbing,
        &[
            "kmem_cache_alloc*",
            "kmemleak_*",
            "__kmalloc*",
            "kmalloc*",
            "kzalloc*",
            "kvmalloc*",
            "__kvmalloc*",
            "krealloc*",
            "slab_post_alloc_hook",
            "_copy_to_user",
            "_copy_from_user",
            "process_one_work",
            "worker_thread",
            "entry_SYSENTER_compat*",
            "entry_SYSCALL*",
            "do_syscall_*",
        ],
    ),
    (
        Machinery::Rust,
        &[
            "kernel::sync::*",
            "kernel::print*",
            "kernel::bug*",
            "kernel::panic*",
            "kernel::time::delay*",
            "core::panicking*",
            "rust_begin_unwind",
            "rust_helper_*",
            "bindings::*",
        ],
    ),
];

/// The group of [`MACHINERY`] that `function` (a symbol as a call trace prints it) belongs to, if any. A Rust function of the
/// `kernel` crate counts by its own name too (`kernel::io::poll::might_sleep` is
/// `might_sleep`), and a generic one by its path (`<kernel::sync::lock::Lock<T, B>>::lock`).
pub(super) fn machinery(function: &str) -> Option<Machinery> {
    // Without the suffixes of a compiler's copies (`print_usage_bug.part.0`).
    let function = function.trim_start_matches('<').split('.').next().unwrap_or(function);
    let matches = |name: &str| {
        MACHINERY.iter().find_map(|(group, names)| {
            let hit = names.iter().any(|n| match n.strip_suffix('*') {
                Some(prefix) => name.starts_with(prefix),
                None => name == *n,
            });
            hit.then_some(*group)
        })
    };
    matches(function).or_else(|| {
        let (_, own) = function.strip_prefix("kernel::")?.rsplit_once("::")?;
        matches(own)
    })
}

/// The entries a CPU comes into the kernel's code through: syscalls (and the generic
/// syscalls that dispatch to a file's or socket's own code, such as `ioctl` and `read`), and
/// page faults (arch/x86/entry/, arch/arm64/kernel/entry-common.c, arch/x86/mm/fault.c,
/// arch/arm64/mm/fault.c, fs/read_write.c, fs/ioctl.c).
const ENTRIES: &[&str] = &[
    "do_syscall_*",
    "entry_SYSCALL*",
    "do_fast_syscall_32",
    "__do_fast_syscall_32",
    "do_int80_syscall_32",
    "el0_svc*",
    "invoke_syscall",
    "ksys_*",
    "vfs_read",
    "vfs_write",
    "vfs_ioctl",
    "do_vfs_ioctl",
    "exc_page_fault",
    "asm_exc_page_fault",
    "do_user_addr_fault",
    "do_kern_addr_fault",
    "do_page_fault",
    "do_mem_abort",
    "el0_da",
    "el1_abort",
];

/// The syscalls that only dispatch to the code of a file, socket or device.
const GENERIC_SYSCALLS: &[&str] = &[
    "ioctl",
    "read",
    "write",
    "readv",
    "writev",
    "pread64",
    "pwrite64",
    "sendmsg",
    "recvmsg",
    "sendto",
    "recvfrom",
    "connect",
    "accept",
    "accept4",
    "bind",
    "listen",
    "poll",
    "ppoll",
    "select",
    "pselect6",
    "splice",
    "sendfile64",
];

/// Whether `function` is a syscall or fault entry (see [`ENTRIES`]), or a generic syscall's
/// own function (`__x64_sys_ioctl`, `__arm64_sys_read`, `__se_sys_write`, `__do_sys_poll`).
pub(super) fn is_entry(function: &str) -> bool {
    let function = function.split('.').next().unwrap_or(function);
    let generic = function
        .split_once("_sys_")
        .is_some_and(|(arch, call)| arch.starts_with("__") && GENERIC_SYSCALLS.contains(&call));
    generic
        || ENTRIES.iter().any(|n| match n.strip_suffix('*') {
            Some(prefix) => function.starts_with(prefix),
            None => function == *n,
        })
}

/// Frames that belong to the machinery that detects or reports the bug, or takes the lock,
/// rather than to the code at fault (see [`MACHINERY`]).
pub(super) fn is_machinery(function: &str) -> bool {
    machinery(function).is_some()
}

/// The locks' own functions and lockdep's, which a warning's header may name when the caller
/// is at fault (a WARN_ON in `_mutex_trylock_nest_lock`, a DEBUG_LOCKS_WARN_ON in
/// `register_lock_class`).
pub(super) fn is_lock_code(function: &str) -> bool {
    matches!(machinery(function), Some(Machinery::Lock | Machinery::Lockdep))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let arm = frame(" [<c0111111>] (unwind_backtrace) from [<c0222222>] (show_stack+0x10/0x14)");
        assert_eq!(arm, Some(("unwind_backtrace".into(), true)));
        assert_eq!(
            frame(" lab_irq from __handle_irq_event_percpu+0x4c/0x1a0"),
            Some(("lab_irq".into(), true))
        );
        assert_eq!(
            frame("[<ffffffff80006a0c>] dump_backtrace+0x1c/0x24"),
            Some(("dump_backtrace".into(), true))
        );
        assert_eq!(frame("dump_backtrace+0x0/0x1b8"), Some(("dump_backtrace".into(), true)));
        assert_eq!(
            frame(" f+0x48/0x390 [i915 0f1e2d3c4b5a69788796a5b4c3d2e1f0] (P)"),
            Some(("f".into(), true))
        );
        assert_eq!(frame("pc : lab_probe+0x2c/0x60 [lab]"), Some(("lab_probe".into(), true)));
        assert_eq!(frame("lab: went from 3 to 4"), None);
        assert_eq!(frame("#0: ffff8881 (&lock){+.+.}-{2:2}, at: f+0x3f/0x390"), None);
        assert_eq!(frame("hardirqs last  enabled at (8): [<ffffffff81527da9>] f+0x99/0x170"), None);
    }

    /// A driver's own function is the culprit even when its name begins like the kernel's
    /// machinery.
    #[test]
    fn a_drivers_own_functions_are_not_machinery() {
        for f in [
            "lock_bus",
            "trigger_dma",
            "schedule_tx",
            "up_link",
            "wait_for_ack",
            "die_roll",
            "watchdog_kick",
            "rcu_lab_callback",
            "lock_sock_nested",
            "panic_button",
            "downstream_poll",
            "completer_fn",
            "irqlock::shared::Shared::increment",
            "irqlock::lock",
        ] {
            assert_eq!(machinery(f), None, "{f}");
        }
    }

    #[test]
    fn the_machinery_is_known_by_kind() {
        use Machinery::*;
        for (f, kind) in [
            ("lock_release", Lockdep),
            ("__lock_acquire.constprop.0", Lockdep),
            ("hlock_class", Lockdep),
            ("register_lock_class", Lockdep),
            ("look_up_lock_class", Lockdep),
            ("mark_held_locks", Lockdep),
            ("print_usage_bug.part.0", Lockdep),
            ("rtlock_slowlock_locked", Lock),
            ("down", Lock),
            ("up_read", Lock),
            ("_raw_spin_lock_irqsave", Lock),
            ("__might_resched_precision", Check),
            ("__this_cpu_preempt_check", Check),
            ("complete", Sleep),
            ("del_timer_sync", Sleep),
            ("__wake_up_common_lock", Sleep),
            ("schedule_timeout_uninterruptible", Sleep),
            ("__sanitizer_cov_trace_pc", Instrumentation),
            ("trace_hardirqs_on", Instrumentation),
            ("dump_backtrace", Report),
            ("die", Report),
            ("do_syscall_64", Plumbing),
            ("<kernel::sync::lock::Lock<T, B>>::lock", Rust),
            ("kernel::io::poll::might_sleep", Check),
        ] {
            assert_eq!(machinery(f), Some(kind), "{f}");
        }
        assert!(is_lock_code("register_lock_class") && is_lock_code("mutex_lock_nested"));
        assert!(!is_lock_code("__might_sleep") && !is_lock_code("lock_bus"));
    }

    #[test]
    fn titles_drop_compiler_suffixes() {
        assert_eq!(clean_symbol("lab_put.constprop.0"), "lab_put");
        assert_eq!(clean_symbol("f.isra.12"), "f");
        assert_eq!(clean_symbol("f.cold"), "f");
        assert_eq!(clean_symbol("f.part.0.cold"), "f");
        assert_eq!(clean_symbol("handle_softirqs"), "handle_softirqs");
        assert_eq!(clean_symbol("a.b"), "a.b");
        assert_eq!(clean_symbol("<lab::Lab<u32>>::handle"), "lab::Lab::handle");
        assert_eq!(clean_symbol("<lab::Drv as lab::Module>::init"), "<lab::Drv as lab::Module>::init");
    }
}
