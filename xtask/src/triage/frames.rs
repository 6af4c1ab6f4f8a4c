// SPDX-License-Identifier: GPL-2.0

//! Call-trace frames: their symbols, demangled and cleaned, and which of them belong to the
//! kernel's machinery rather than to the code at fault.

/// The symbol of a call-trace frame such as `? func+0x13/0x96 [mod]`.
pub(super) fn frame_symbol(word: &str) -> Option<String> {
    let word = word.trim();
    let (name, offset) = word.split_once('+')?;
    (offset.starts_with("0x") && offset.contains("/0x") && !name.is_empty()).then(|| name.to_string())
}

/// A frame line of a call trace: `  ? func+0x13/0x96 [irqlock]`, or `RIP: 0010:func+0x1/0x2`.
pub(super) fn frame(line: &str) -> Option<(String, bool)> {
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
pub(super) fn is_lock_code(function: &str) -> bool {
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
pub(super) fn clean_symbol(symbol: &str) -> String {
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

/// Frames that belong to the machinery that detects or reports the bug, or takes the lock,
/// rather than to the code at fault.
pub(super) fn is_machinery(function: &str) -> bool {
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
}
