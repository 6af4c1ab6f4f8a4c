// SPDX-License-Identifier: GPL-2.0

//! Exercise 5: a spinlock shared with a softirq.
//!
//! A high-resolution timer in `SOFT` mode fires `count` times, every `period_us` microseconds.
//! Its callback runs in softirq context (`HRTIMER_SOFTIRQ`), with interrupts on, and adds one to a counter that module init, in process context,
//! adds one to as well. The checker loads the module as `insmod ex05.ko count=8 nonce=N`,
//! unloads it, and reads the line the module prints then:
//!
//! ```text
//! exercise-check: nonce=N interrupts=8 counter=9
//! ```
//!
//! Only the lines from a `// TODO n:` line to its `// END TODO n` are yours to change: the
//! checker compares every other line with the exercise's.

use kernel::{
    impl_has_hr_timer,
    prelude::*,
    sync::{
        atomic::{
            ordering,
            Atomic, //
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
            RelativePinnedSoftMode, //
        },
        Delta,
        Monotonic, //
    },
};
// TODO 1: Process context shares this lock with a softirq on the same CPU. The 7.3 kernel
// crate has no `spin_lock_bh()`.
//# solution
use kernel::sync::{
    new_spinlock_irq,
    SpinLockIrq, //
};
//# starter
// use kernel::sync::{
//     new_spinlock,
//     SpinLock, //
// };
//# end

module! {
    type: Exercise,
    name: "ex05",
    authors: ["irqlock developers"],
    description: "Exercise 5: a spinlock shared with a softirq",
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

/// The counter, and the timer that adds to it.
#[pin_data]
struct Counter {
    #[pin]
    timer: HrTimer<Self>,
    // TODO 2: While process context holds this lock, can the handler interrupt it?
    //# solution
    #[pin]
    value: SpinLockIrq<u64>,
    //# starter
    // #[pin]
    // value: SpinLock<u64>,
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
        mode: RelativePinnedSoftMode<Monotonic>, field: self.timer
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
                value <- new_spinlock_irq!(0, "ex05_counter"),
                //# starter
                // value <- new_spinlock!(0, "ex05_counter"),
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
