// SPDX-License-Identifier: GPL-2.0

//! A `raw_spinlock_t` taken with `raw_spin_lock_irqsave()`, as a backend of the kernel crate's
//! generic [`Lock`], which has none in 7.3.
//!
//! On PREEMPT_RT a `spinlock_t` becomes a sleeping lock; a raw spinlock still spins with
//! interrupts off, so it is the only lock valid in code that stays in hard-IRQ context there
//! (an hrtimer in `HARD` mode). Lockdep checks that on every kernel: its wait type is
//! `LD_WAIT_SPIN`.

use crate::ffi::{
    irqlock_raw_spin_assert_held,
    irqlock_raw_spin_lock_init,
    irqlock_raw_spin_lock_irqsave,
    irqlock_raw_spin_trylock_irqsave,
    irqlock_raw_spin_unlock_irqrestore, //
};
use kernel::{
    bindings,
    prelude::*,
    sync::lock::{
        Backend,
        Lock, //
    }, //
};

/// A raw spinlock; see the module documentation.
pub(crate) type RawSpinLockIrqsave<T> = Lock<T, RawSpinLockIrqsaveBackend>;

/// Creates a [`RawSpinLockIrqsave`] initialiser with the given name and a new lock class.
macro_rules! new_raw_spinlock_irqsave {
    ($inner:expr, $name:literal $(,)?) => {
        $crate::raw_spinlock::RawSpinLockIrqsave::new($inner, $name, kernel::static_lock_class!())
    };
}
pub(crate) use new_raw_spinlock_irqsave;

/// The [`Backend`] of [`RawSpinLockIrqsave`]; its guard keeps the saved interrupt flags.
pub(crate) struct RawSpinLockIrqsaveBackend;

// SAFETY: A `raw_spinlock_t` gives mutual exclusion: `lock` and `try_lock` return only once the
// caller owns it, until `unlock`. `relock` is the default, which calls `lock` again and stores
// the fresh flags in the guard state that `unlock` restores.
unsafe impl Backend for RawSpinLockIrqsaveBackend {
    type State = bindings::raw_spinlock_t;
    type GuardState = c_ulong;

    unsafe fn init(ptr: *mut Self::State, name: *const c_char, key: *mut bindings::lock_class_key) {
        // SAFETY: The caller guarantees that `ptr` is valid for writes and that `name` and `key`
        // stay valid for reads for ever, as `__raw_spin_lock_init()` needs.
        unsafe { irqlock_raw_spin_lock_init(ptr, name, key) }
    }

    unsafe fn lock(ptr: *mut Self::State) -> Self::GuardState {
        // SAFETY: The caller guarantees that `ptr` was initialised by `init`.
        unsafe { irqlock_raw_spin_lock_irqsave(ptr) }
    }

    unsafe fn try_lock(ptr: *mut Self::State) -> Option<Self::GuardState> {
        let mut flags: c_ulong = 0;
        // SAFETY: The caller guarantees that `ptr` was initialised by `init`; `flags` is a live
        // local for the C function to store the saved flags in.
        let taken = unsafe { irqlock_raw_spin_trylock_irqsave(ptr, &mut flags) };
        (taken != 0).then_some(flags)
    }

    unsafe fn unlock(ptr: *mut Self::State, guard_state: &Self::GuardState) {
        // SAFETY: The caller owns the lock, and `guard_state` holds the flags its `lock` or
        // `try_lock` saved.
        unsafe { irqlock_raw_spin_unlock_irqrestore(ptr, *guard_state) }
    }

    unsafe fn assert_is_held(ptr: *mut Self::State) {
        // SAFETY: The caller guarantees that `ptr` was initialised by `init`.
        unsafe { irqlock_raw_spin_assert_held(ptr) }
    }
}
