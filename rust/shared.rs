// SPDX-License-Identifier: GPL-2.0

//! The state shared by the interrupt path and process context, and the locks that guard it.

use crate::{
    config::LockMode,
    raw_spinlock::{
        new_raw_spinlock_irqsave,
        RawSpinLockIrqsave, //
    }, //
};
use kernel::{
    prelude::*,
    sync::{
        new_mutex,
        new_spinlock,
        new_spinlock_irq,
        Mutex,
        SpinLock,
        SpinLockIrq, //
    }, //
};

/// A counter that both the interrupt path and process context increment.
///
/// Each lock guards its own copy, so the lock mode alone decides which lock is taken.
#[pin_data]
pub(crate) struct Shared {
    #[pin]
    spinlock_irqsave: SpinLockIrq<u64>,
    #[pin]
    spinlock: SpinLock<u64>,
    #[pin]
    mutex: Mutex<u64>,
    #[pin]
    raw_spinlock_irqsave: RawSpinLockIrqsave<u64>,
}

impl Shared {
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            spinlock_irqsave <- new_spinlock_irq!(0, "irqlock_spinlock_irqsave"),
            spinlock <- new_spinlock!(0, "irqlock_spinlock"),
            mutex <- new_mutex!(0, "irqlock_mutex"),
            raw_spinlock_irqsave <- new_raw_spinlock_irqsave!(0, c"irqlock_raw_spinlock_irqsave"),
        })
    }

    /// Adds one to the counter under the lock that `lock` names, from any context, and runs
    /// `while_held` before letting go. Returns `false` when a trylock failed and the update
    /// was lost.
    ///
    /// The interrupt path and process context call this alike: the correct way and each
    /// mistake differ only in the lock they take. Kept out of line, so that every report names
    /// this function.
    #[inline(never)]
    pub(crate) fn increment(&self, lock: LockMode, while_held: &mut dyn FnMut()) -> bool {
        let mut update = |counter: &mut u64| {
            *counter += 1;
            while_held();
        };
        match lock {
            // Correct: a spinlock never sleeps, and interrupts stay off on this CPU while it is
            // held, so the handler cannot interrupt its own lock holder. `SpinLockIrq` takes
            // `spin_lock_irq_disable()`, 7.3's nestable successor of `spin_lock_irqsave()`: it
            // counts the disabling in `preempt_count` (0x10000) instead of saving the flags.
            LockMode::SpinlockIrqsave => update(&mut self.spinlock_irqsave.lock()),
            // Wrong: process context holds it with interrupts on, so the handler can interrupt
            // the holder on the same CPU and spin forever; lockdep sees the two usages.
            LockMode::Spinlock => update(&mut self.spinlock.lock()),
            // Wrong in an interrupt handler: `mutex_lock()` may sleep.
            LockMode::Mutex | LockMode::MutexContended => update(&mut self.mutex.lock()),
            // Silent, and still wrong: a mutex is owned by a task, and an interrupt is none.
            LockMode::MutexTrylock => match self.mutex.try_lock() {
                Some(mut counter) => update(&mut counter),
                None => return false,
            },
            // Correct even where a `spinlock_t` would sleep (PREEMPT_RT).
            LockMode::RawSpinlockIrqsave => update(&mut self.raw_spinlock_irqsave.lock()),
        }
        true
    }

    /// Reads the counter under the lock that `lock` names (process context).
    pub(crate) fn value(&self, lock: LockMode) -> u64 {
        match lock {
            LockMode::SpinlockIrqsave => *self.spinlock_irqsave.lock(),
            LockMode::Spinlock => *self.spinlock.lock(),
            LockMode::Mutex | LockMode::MutexContended | LockMode::MutexTrylock => {
                *self.mutex.lock()
            }
            LockMode::RawSpinlockIrqsave => *self.raw_spinlock_irqsave.lock(),
        }
    }

    /// The mutex, for process context to hold while an interrupt arrives.
    pub(crate) fn mutex(&self) -> &Mutex<u64> {
        &self.mutex
    }
}
