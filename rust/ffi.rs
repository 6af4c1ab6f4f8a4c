// SPDX-License-Identifier: GPL-2.0

//! The module's own C helpers, for what the kernel has only as macros and inline functions, so
//! that neither the kernel crate nor its bindings offer it: the execution context and
//! preemption control (`rust/irq_context.c`), and raw spinlocks (`rust/raw_spinlock.c`).

// Clippy takes an `unsafe extern` block for one that needs no proof; it needs the one below.
#![expect(clippy::unnecessary_safety_comment)]

use kernel::{
    bindings,
    prelude::*, //
};

// SAFETY: Each declaration matches its C definition, and the prototype that precedes it, in
// `rust/irq_context.c` or `rust/raw_spinlock.c`: the same name, parameter types and return
// type (`int` is `c_int`, `unsigned int` is `c_uint`, `unsigned long` is `c_ulong`, pointers
// to kernel types are pointers to their `bindings`). The functions declared `safe` take no
// arguments, only read the calling CPU's state or the online CPU mask, and may be called in
// any context; the others have preconditions, which their callers state.
unsafe extern "C" {
    /// `in_hardirq()`: 1 in hard-IRQ context, else 0.
    pub(crate) safe fn irqlock_in_hardirq() -> c_int;

    /// `in_serving_softirq()`: 1 while a softirq runs, else 0.
    pub(crate) safe fn irqlock_in_serving_softirq() -> c_int;

    /// `irqs_disabled()`: 1 if interrupts are off on this CPU, else 0.
    pub(crate) safe fn irqlock_irqs_disabled() -> c_int;

    /// `preempt_count()`.
    pub(crate) safe fn irqlock_preempt_count() -> c_uint;

    /// An online CPU other than the caller's, or -1.
    pub(crate) safe fn irqlock_other_cpu() -> c_int;

    /// `preempt_disable()`: must be undone by [`irqlock_preempt_enable`] in the same task.
    pub(crate) fn irqlock_preempt_disable();

    /// `preempt_enable()`: undoes one [`irqlock_preempt_disable`] of the same task.
    pub(crate) fn irqlock_preempt_enable();

    /// Initialises a raw spinlock with lockdep's wait type `LD_WAIT_SPIN`; `lock` is valid for
    /// writes, `name` and `key` for reads for as long as the lock exists.
    pub(crate) fn irqlock_raw_spin_lock_init(
        lock: *mut bindings::raw_spinlock_t,
        name: *const c_char,
        key: *mut bindings::lock_class_key,
    );

    /// `raw_spin_lock_irqsave()` on an initialised lock; returns the saved flags.
    pub(crate) fn irqlock_raw_spin_lock_irqsave(lock: *mut bindings::raw_spinlock_t) -> c_ulong;

    /// `raw_spin_trylock_irqsave()` on an initialised lock: 1 and the saved flags in `flags`
    /// if taken, else 0.
    pub(crate) fn irqlock_raw_spin_trylock_irqsave(
        lock: *mut bindings::raw_spinlock_t,
        flags: *mut c_ulong,
    ) -> c_int;

    /// `raw_spin_unlock_irqrestore()` of a lock the caller holds, with the flags its lock saved.
    pub(crate) fn irqlock_raw_spin_unlock_irqrestore(
        lock: *mut bindings::raw_spinlock_t,
        flags: c_ulong,
    );

    /// `lockdep_assert_held()` on an initialised lock.
    pub(crate) fn irqlock_raw_spin_assert_held(lock: *mut bindings::raw_spinlock_t);
}
