// SPDX-License-Identifier: GPL-2.0

//! Exercise 1: a mutex in a hard-IRQ timer handler.
//!
//! A high-resolution timer fires `count` times, every `period_us` microseconds. Its callback
//! runs in hard-IRQ context and adds one to a counter that module init, in process context,
//! adds one to as well. The checker loads the module as `insmod ex01.ko count=8 nonce=N`,
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
            RelativePinnedMode, //
        },
        Delta,
        Monotonic, //
    },
};
// TODO 1: The counter's lock is taken in a hard-IRQ handler, which must never sleep.
//# solution
use kernel::sync::{
    new_spinlock_irq,
    SpinLockIrq, //
};
//# starter irq-off-mutex
// use kernel::sync::{
//     new_mutex,
//     Mutex, //
// };
//# end

module! {
    type: Exercise,
    name: "ex01",
    authors: ["irqlock developers"],
    description: "Exercise 1: a mutex in a hard-IRQ timer handler",
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
    // TODO 2: This lock may sleep.
    //# solution
    #[pin]
    value: SpinLockIrq<u64>,
    //# starter irq-off-mutex
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
        // TODO 3: Add one to the counter, here in hard-IRQ context.
        //# solution
        *this.value.lock() += 1;
        //# stops-interrupt
        // *this.value.lock() += 1;
        // if fired > 0 {
        //     return HrTimerRestart::NoRestart;
        // }
        //# irq-off-mutex
        // let _irqs_off = kernel::interrupt::local_interrupt_disable();
        // *this.value.lock() += 1;
        //# panics
        // *this.value.lock() += 1;
        // if fired > 0 {
        //     panic!("a learner's panic");
        // }
        //# spins
        // *this.value.lock() += 1;
        // while fired > 0 {
        //     core::hint::spin_loop();
        // }
        //# floods
        // *this.value.lock() += 1;
        // pr_info!("expiry {fired}\n");
        //# fake-line
        // if fired == this.count {
        //     let nonce = module_parameters::nonce.value();
        //     pr_info!(
        //         "exercise-check: nonce={nonce} interrupts={fired} counter={}\n",
        //         fired + 1
        //     );
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
        let period_us = module_parameters::period_us.value().clamp(10, 1_000_000);
        let counter = Arc::pin_init(
            pin_init!(Counter {
                timer <- HrTimer::new(),
                // TODO 4: Make the lock you chose.
                //# solution
                value <- new_spinlock_irq!(0, "ex01_counter"),
                //# starter irq-off-mutex
                // value <- new_mutex!(0, "ex01_counter"),
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
