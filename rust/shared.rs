// SPDX-License-Identifier: GPL-2.0

//! The state shared by the interrupt handler and process context, and the locks that guard it.

use crate::LockMode;
use kernel::{
    prelude::*,
    sync::{
        new_mutex,
        new_spinlock_irq,
        Mutex,
        SpinLockIrq, //
    },
};

/// A counter that both the interrupt handler and process context increment.
///
/// Each lock mode guards its own copy, so the mode alone decides which lock is taken.
#[pin_data]
pub(crate) struct Shared {
    #[pin]
    spinlock_irqsave: SpinLockIrq<u64>,
    #[pin]
    mutex: Mutex<u64>,
}

impl Shared {
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            spinlock_irqsave <- new_spinlock_irq!(0, "irqlock_spinlock_irqsave"),
            mutex <- new_mutex!(0, "irqlock_mutex"),
        })
    }

    /// Adds one to the counter under the lock that `mode` names.
    ///
    /// The handler and process context call this alike: the correct path and the bug differ
    /// only in the lock they take.
    pub(crate) fn increment(&self, mode: LockMode) {
        match mode {
            // Correct: `spin_lock_irqsave()`. A spinlock never sleeps, and interrupts stay off
            // on this CPU while it is held, so the handler cannot interrupt its own lock holder.
            LockMode::SpinlockIrqsave => *self.spinlock_irqsave.lock() += 1,
            // The bug in an interrupt handler: `mutex_lock()` may sleep, and its might_sleep()
            // check reports "BUG: sleeping function called from invalid context".
            LockMode::Mutex => *self.mutex.lock() += 1,
        }
    }

    /// Reads the counter under the lock that `mode` names.
    pub(crate) fn value(&self, mode: LockMode) -> u64 {
        match mode {
            LockMode::SpinlockIrqsave => *self.spinlock_irqsave.lock(),
            LockMode::Mutex => *self.mutex.lock(),
        }
    }
}
