// SPDX-License-Identifier: GPL-2.0

//! Exercise 6: a HARD timer, where only a raw spinlock is right.
//!
//! A high-resolution timer in `HARD` mode fires `count` times, every `period_us` microseconds.
//! Its callback runs in hard-IRQ context on every kernel, PREEMPT_RT included, and adds one to a counter that module init, in process context,
//! adds one to as well. The checker loads the module as `insmod ex06.ko count=8 nonce=N`,
//! unloads it, and reads the line the module prints then:
//!
//! ```text
//! exercise-check: nonce=N interrupts=8 counter=9
//! ```
//!
//! Only the lines from a `// TODO n:` line to its `// END TODO n` are yours to change: the
//! checker compares every other line with the exercise's.

use kernel::{
    bindings, impl_has_hr_timer,
    prelude::*,
    sync::{
        atomic::{
            ordering,
            Atomic, //
        },
        lock::{
            Backend,
            Lock, //
        },
        Arc,
        ArcBorrow, //
    },
    time::{
        delay::fsleep,
        hrtimer::{
            ArcHrTimerHandle,
            HrTimer,
            HrTimerCallback,
            HrTimerCallbackContext,
            HrTimerHandle,
            HrTimerPointer,
            HrTimerRestart,
            RelativePinnedHardMode, //
        },
        Delta,
        Monotonic, //
    },
};
// TODO 1: This callback stays in hard-IRQ context even on PREEMPT_RT, where a `spinlock_t`
// sleeps. Lockdep checks that on every kernel.
//# solution
//# starter
// use kernel::sync::{
//     new_spinlock_irq,
//     SpinLockIrq, //
// };
//# end

module! {
    type: Exercise,
    name: "ex06",
    authors: ["irqlock developers"],
    description: "Exercise 6: a HARD timer, where only a raw spinlock is right",
    license: "GPL",
    params: {
        count: u32 {
            default: 8,
            description: "Timer expiries to take",
        },
        period_us: u32 {
            default: 1000,
            description: "Microseconds between expiries",
        },
        nonce: u32 {
            default: 0,
            description: "The checker's number for this load",
        },
        wait: u32 {
            default: 1,
            description: "1: init waits for every expiry; 0: it returns at once",
        },
    },
}

// The starter does not use the raw spinlock yet.
#[allow(dead_code)]
extern "C" {
    fn ex06_raw_spin_lock_init(
        lock: *mut bindings::raw_spinlock_t,
        name: *const c_char,
        key: *mut bindings::lock_class_key,
    );
    fn ex06_raw_spin_lock_irqsave(lock: *mut bindings::raw_spinlock_t) -> c_ulong;
    fn ex06_raw_spin_trylock_irqsave(
        lock: *mut bindings::raw_spinlock_t,
        flags: *mut c_ulong,
    ) -> c_int;
    fn ex06_raw_spin_unlock_irqrestore(lock: *mut bindings::raw_spinlock_t, flags: c_ulong);
    fn ex06_raw_spin_assert_held(lock: *mut bindings::raw_spinlock_t);
}

/// A `raw_spinlock_t` taken with `raw_spin_lock_irqsave()`, which the 7.3 kernel crate lacks:
/// a spinning lock on every kernel, PREEMPT_RT included (`raw_spinlock.c`).
#[allow(dead_code)]
type RawSpinLockIrqsave<T> = Lock<T, RawSpinLockIrqsaveBackend>;

/// The [`Backend`] of [`RawSpinLockIrqsave`]; its guard keeps the saved interrupt flags.
#[allow(dead_code)]
struct RawSpinLockIrqsaveBackend;

// SAFETY: A `raw_spinlock_t` gives mutual exclusion: `lock` and `try_lock` return only once the
// caller owns it, until `unlock`. `relock` is the default, which calls `lock` again and stores
// the fresh flags in the guard state that `unlock` restores.
unsafe impl Backend for RawSpinLockIrqsaveBackend {
    type State = bindings::raw_spinlock_t;
    type GuardState = c_ulong;

    unsafe fn init(ptr: *mut Self::State, name: *const c_char, key: *mut bindings::lock_class_key) {
        // SAFETY: The caller guarantees that `ptr` is valid for writes and that `name` and `key`
        // stay valid for reads for ever, as `__raw_spin_lock_init()` needs.
        unsafe { ex06_raw_spin_lock_init(ptr, name, key) }
    }

    unsafe fn lock(ptr: *mut Self::State) -> Self::GuardState {
        // SAFETY: The caller guarantees that `ptr` was initialised by `init`.
        unsafe { ex06_raw_spin_lock_irqsave(ptr) }
    }

    unsafe fn try_lock(ptr: *mut Self::State) -> Option<Self::GuardState> {
        let mut flags: c_ulong = 0;
        // SAFETY: The caller guarantees that `ptr` was initialised by `init`; `flags` is a live
        // local for the C function to store the saved flags in.
        let taken = unsafe { ex06_raw_spin_trylock_irqsave(ptr, &mut flags) };
        (taken != 0).then_some(flags)
    }

    unsafe fn unlock(ptr: *mut Self::State, guard_state: &Self::GuardState) {
        // SAFETY: The caller owns the lock, and `guard_state` holds the flags its `lock` or
        // `try_lock` saved.
        unsafe { ex06_raw_spin_unlock_irqrestore(ptr, *guard_state) }
    }

    unsafe fn assert_is_held(ptr: *mut Self::State) {
        // SAFETY: The caller guarantees that `ptr` was initialised by `init`.
        unsafe { ex06_raw_spin_assert_held(ptr) }
    }
}

/// The counter, and the timer that adds to it.
#[pin_data]
struct Counter {
    #[pin]
    timer: HrTimer<Self>,
    // TODO 2: On PREEMPT_RT this lock sleeps.
    //# solution
    #[pin]
    value: RawSpinLockIrqsave<u64>,
    //# starter
    // #[pin]
    // value: SpinLockIrq<u64>,
    //# end
    /// The timer's expiries, counted before the handler's own code runs.
    fired: Atomic<u32>,
    count: u32,
    period: Delta,
}

impl HrTimerCallback for Counter {
    type Pointer<'a> = Arc<Self>;

    fn run(this: ArcBorrow<'_, Self>, mut ctx: HrTimerCallbackContext<'_, Self>) -> HrTimerRestart {
        let fired = this.fired.fetch_add(1, ordering::Relaxed) + 1;
        *this.value.lock() += 1;
        if fired >= this.count {
            return HrTimerRestart::NoRestart;
        }
        ctx.forward_now(this.period);
        HrTimerRestart::Restart
    }
}

impl_has_hr_timer! {
    impl HasHrTimer<Self> for Counter {
        mode: RelativePinnedHardMode<Monotonic>, field: self.timer
    }
}

struct Exercise {
    counter: Arc<Counter>,
    timer: ArcHrTimerHandle<Counter>,
}

impl kernel::Module for Exercise {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let count = module_parameters::count.value().clamp(1, 10_000);
        let period_us = module_parameters::period_us.value().clamp(10, 1_000_000);
        let counter = Arc::pin_init(
            pin_init!(Counter {
                timer <- HrTimer::new(),
                // TODO 3: Make the lock you chose.
                //# solution
                value <- RawSpinLockIrqsave::new(0, c"ex06_counter", kernel::static_lock_class!()),
                //# starter
                // value <- new_spinlock_irq!(0, "ex06_counter"),
                //# end
                fired: Atomic::new(0),
                count,
                period: Delta::from_micros(i64::from(period_us)),
            }),
            GFP_KERNEL,
        )?;
        // Process context adds its one first, with interrupts on.
        *counter.value.lock() += 1;
        let timer = counter.clone().start(counter.period);
        // Waits for every expiry, a few seconds at most.
        let mut waited_ms = 0;
        while module_parameters::wait.value() != 0
            && counter.fired.load(ordering::Relaxed) < count
            && waited_ms < 5000
        {
            fsleep(Delta::from_millis(1));
            waited_ms += 1;
        }
        Ok(Self { counter, timer })
    }
}

impl Drop for Exercise {
    fn drop(&mut self) {
        self.timer.cancel();
        pr_info!(
            "exercise-check: nonce={} interrupts={} counter={}\n",
            module_parameters::nonce.value(),
            self.counter.fired.load(ordering::Relaxed),
            *self.counter.value.lock()
        );
    }
}
