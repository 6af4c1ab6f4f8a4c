// SPDX-License-Identifier: GPL-2.0

//! Exercise 7: a trylock that loses updates.
//!
//! A high-resolution timer fires `count` times, every `period_us` microseconds. Its callback
//! runs in hard-IRQ context and adds one to a counter that module init, in process context,
//! adds one to as well, holding the lock for a few milliseconds while the timer fires. The
//! kernel reports nothing: the mistake shows only in the count. The checker loads the module as `insmod ex07.ko count=8 nonce=N`,
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
        delay::{
            fsleep,
            udelay, //
        },
        hrtimer::{
            ArcHrTimerHandle,
            HrTimer,
            HrTimerCallback,
            HrTimerCallbackContext,
            HrTimerHandle,
            HrTimerPointer,
            HrTimerRestart,
            RelativePinnedMode, //
        },
        Delta,
        Monotonic, //
    },
};
// TODO 1: The counter's lock is taken in a hard-IRQ handler, which must never sleep, and
// must never give up an update either.
//# solution
use kernel::sync::{
    new_spinlock_irq,
    SpinLockIrq, //
};
//# starter
// use kernel::sync::{
//     new_mutex,
//     Mutex, //
// };
//# end

module! {
    type: Exercise,
    name: "ex07",
    authors: ["irqlock developers"],
    description: "Exercise 7: a trylock that loses updates",
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
    // TODO 2: A mutex is owned by a task; an interrupt is none.
    //# solution
    #[pin]
    value: SpinLockIrq<u64>,
    //# starter
    // #[pin]
    // value: Mutex<u64>,
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
        // TODO 3: Add one to the counter, here in hard-IRQ context, every time.
        //# solution
        *this.value.lock() += 1;
        //# starter
        // if let Some(mut value) = this.value.try_lock() {
        //     *value += 1;
        // }
        //# end
        if fired >= this.count {
            return HrTimerRestart::NoRestart;
        }
        ctx.forward_now(this.period);
        HrTimerRestart::Restart
    }
}

impl_has_hr_timer! {
    impl HasHrTimer<Self> for Counter {
        mode: RelativePinnedMode<Monotonic>, field: self.timer
    }
}

struct Exercise {
    counter: Arc<Counter>,
    timer: ArcHrTimerHandle<Counter>,
}

impl kernel::Module for Exercise {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let count = module_parameters::count.value().clamp(1, 10_000);
        let period_us = module_parameters::period_us.value().clamp(10, 1000);
        let counter = Arc::pin_init(
            pin_init!(Counter {
                timer <- HrTimer::new(),
                // TODO 4: Make the lock you chose.
                //# solution
                value <- new_spinlock_irq!(0, "ex07_counter"),
                //# starter
                // value <- new_mutex!(0, "ex07_counter"),
                //# end
                fired: Atomic::new(0),
                count,
                period: Delta::from_micros(i64::from(period_us)),
            }),
            GFP_KERNEL,
        )?;
        // Process context adds its one first, and holds the lock while the timer, started on
        // this CPU, expires three times.
        let mut value = counter.value.lock();
        let timer = counter.clone().start(counter.period);
        udelay(Delta::from_micros(i64::from(period_us) * 7 / 2));
        *value += 1;
        drop(value);
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
