// SPDX-License-Identifier: GPL-2.0

//! Evidence of the context code runs in, as the kernel itself sees it, and a way to stay on
//! one CPU.

use crate::ffi::{
    irqlock_in_hardirq,
    irqlock_in_serving_softirq,
    irqlock_irqs_disabled,
    irqlock_preempt_count,
    irqlock_preempt_disable,
    irqlock_preempt_enable, //
};
use core::marker::PhantomData;
use kernel::cpu::CpuId;

/// Whether the kernel is PREEMPT_RT, where interrupt handlers and timers that are not `HARD` run
/// in threads.
pub(crate) fn preempt_rt() -> bool {
    cfg!(CONFIG_PREEMPT_RT)
}

/// The kernel's preemption model, such as `PREEMPT` or `PREEMPT_RT`, as its config names it.
pub(crate) fn preempt_model() -> &'static str {
    if cfg!(CONFIG_PREEMPT_RT) {
        "PREEMPT_RT"
    } else if cfg!(CONFIG_PREEMPT) {
        "PREEMPT"
    } else if cfg!(CONFIG_PREEMPT_VOLUNTARY) {
        "PREEMPT_VOLUNTARY"
    } else {
        "PREEMPT_NONE"
    }
}

/// Preemption off, and so migration too, until dropped: the task keeps its CPU and nothing
/// else runs there but interrupts.
pub(crate) struct NoPreempt {
    /// `preempt_enable()` must run in the task that disabled it: not `Send`.
    _not_send: PhantomData<*mut ()>,
}

impl NoPreempt {
    pub(crate) fn new() -> Self {
        // SAFETY: `preempt_disable()` may be called from any context; `Drop` pairs it with
        // `preempt_enable()` in the same task, since the guard cannot leave it.
        unsafe { irqlock_preempt_disable() };
        Self {
            _not_send: PhantomData,
        }
    }
}

impl Drop for NoPreempt {
    fn drop(&mut self) {
        // SAFETY: `new` disabled preemption in this task, once; this undoes exactly that.
        unsafe { irqlock_preempt_enable() };
    }
}

/// A snapshot of the current CPU's execution context.
pub(crate) struct Context {
    in_hardirq: bool,
    in_serving_softirq: bool,
    irqs_disabled: bool,
    preempt_count: u32,
    cpu: u32,
}

impl Context {
    /// Reads the context of the caller.
    pub(crate) fn current() -> Self {
        Self {
            in_hardirq: irqlock_in_hardirq() != 0,
            in_serving_softirq: irqlock_in_serving_softirq() != 0,
            irqs_disabled: irqlock_irqs_disabled() != 0,
            preempt_count: irqlock_preempt_count(),
            cpu: CpuId::current().as_u32(),
        }
    }

    pub(crate) fn cpu(&self) -> u32 {
        self.cpu
    }

    /// The context in one word, to keep in an atomic: the preempt count, the CPU, the flags.
    pub(crate) fn to_bits(&self) -> u64 {
        u64::from(self.preempt_count) << 32
            | u64::from(self.cpu & 0xffff) << 16
            | u64::from(self.in_hardirq)
            | u64::from(self.in_serving_softirq) << 1
            | u64::from(self.irqs_disabled) << 2
    }

    /// The context that [`Context::to_bits`] kept.
    pub(crate) fn from_bits(bits: u64) -> Self {
        Self {
            in_hardirq: bits & 1 != 0,
            in_serving_softirq: bits & 2 != 0,
            irqs_disabled: bits & 4 != 0,
            preempt_count: (bits >> 32) as u32,
            cpu: ((bits >> 16) & 0xffff) as u32,
        }
    }
}

impl kernel::fmt::Display for Context {
    fn fmt(&self, f: &mut kernel::fmt::Formatter<'_>) -> kernel::fmt::Result {
        write!(
            f,
            "in_hardirq={} in_serving_softirq={} irqs_disabled={} preempt_count={:#x} cpu={}",
            u8::from(self.in_hardirq),
            u8::from(self.in_serving_softirq),
            u8::from(self.irqs_disabled),
            self.preempt_count,
            self.cpu
        )
    }
}
