// SPDX-License-Identifier: GPL-2.0

//! Evidence of the context code runs in, as the kernel itself sees it.

use kernel::prelude::*;

extern "C" {
    fn irqlock_in_hardirq() -> c_int;
    fn irqlock_irqs_disabled() -> c_int;
    fn irqlock_preempt_count() -> c_uint;
    fn irqlock_cpu() -> c_uint;
}

/// A snapshot of the current CPU's execution context.
pub(crate) struct Context {
    in_hardirq: bool,
    irqs_disabled: bool,
    preempt_count: u32,
    cpu: u32,
}

impl Context {
    /// Reads the context of the caller.
    pub(crate) fn current() -> Self {
        // SAFETY: These functions only read the current CPU's preempt count and interrupt flag;
        // they are safe to call from any context.
        unsafe {
            Self {
                in_hardirq: irqlock_in_hardirq() != 0,
                irqs_disabled: irqlock_irqs_disabled() != 0,
                preempt_count: irqlock_preempt_count(),
                cpu: irqlock_cpu(),
            }
        }
    }
}

impl kernel::fmt::Display for Context {
    fn fmt(&self, f: &mut kernel::fmt::Formatter<'_>) -> kernel::fmt::Result {
        write!(
            f,
            "in_hardirq={} irqs_disabled={} preempt_count={:#x} cpu={}",
            u8::from(self.in_hardirq),
            u8::from(self.irqs_disabled),
            self.preempt_count,
            self.cpu
        )
    }
}
