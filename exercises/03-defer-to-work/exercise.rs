// SPDX-License-Identifier: GPL-2.0

//! Exercise 3: a handler that sleeps, and the work item it should hand that part to.
//!
//! A high-resolution timer fires `count` times, every `period_us` microseconds. Each expiry
//! must add one to a counter guarded by a mutex, and the update made in process context is
//! slow: it sleeps a millisecond first. Module init, in process context, adds one too. The
//! checker loads the module as `insmod ex03.ko count=8 nonce=N`, unloads it, and reads the
//! line the module prints then:
//!
//! ```text
//! exercise-check: nonce=N interrupts=8 counter=9
//! ```
//!
//! Only the lines from a `// TODO n:` line to its `// END TODO n` are yours to change: the
//! checker compares every other line with the exercise's.

use kernel::{
    impl_has_hr_timer, new_mutex,
    prelude::*,
    sync::{
        atomic::{
            ordering,
            Atomic, //
        },
        Arc,
        ArcBorrow,
        Mutex, //
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
    workqueue::{
        impl_has_work,
        new_work,
        Work,
        WorkItem, //
    },
};

module! {
    type: Exercise,
    name: "ex03",
    authors: ["irqlock developers"],
    description: "Exercise 3: a sleeping handler and its work item",
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

/// The counter, the timer that adds to it, and the work item that may.
#[pin_data]
struct Counter {
    #[pin]
    timer: HrTimer<Self>,
    #[pin]
    work: Work<Counter>,
    #[pin]
    value: Mutex<u64>,
    /// The timer's expiries, counted before the handler's own code runs.
    fired: Atomic<u32>,
    /// Expiries whose update is still to be made.
    pending: Atomic<u32>,
    count: u32,
    period: Delta,
}

impl Counter {
    /// Adds `n` to the counter, slowly: it sleeps a millisecond, then takes the mutex.
    fn add(&self, n: u32) {
        fsleep(Delta::from_millis(1));
        *self.value.lock() += u64::from(n);
    }

    /// Waits until the work item, if queued or running, has finished; it may sleep.
    fn flush_work(&self) {
        // SAFETY: `raw_get` needs a pointer to a live `Work`: `self.work` is a field of this
        // live `Counter`, initialised by `new_work!`. `flush_work()` (bindgen's, from
        // `include/linux/workqueue.h`) may sleep, which every caller (module unload) allows.
        // Whether it waited for anything does not matter here.
        unsafe { kernel::bindings::flush_work(Work::raw_get(&self.work)) };
    }
}

impl HrTimerCallback for Counter {
    type Pointer<'a> = Arc<Self>;

    fn run(this: ArcBorrow<'_, Self>, mut ctx: HrTimerCallbackContext<'_, Self>) -> HrTimerRestart {
        let fired = this.fired.fetch_add(1, ordering::Relaxed) + 1;
        this.pending.fetch_add(1, ordering::Relaxed);
        // TODO 1: The update takes a mutex, which may sleep, and this runs in hard-IRQ context.
        // Hand the update to process context, where `Counter::add` makes it.
        //# solution
        let _ = kernel::workqueue::system_highpri().enqueue(Arc::<Self>::from(this));
        //# starter
        // *this.value.lock() += u64::from(this.pending.xchg(0, ordering::Relaxed));
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

impl_has_work! {
    impl HasWork<Self> for Counter { self.work }
}

impl WorkItem for Counter {
    type Pointer = Arc<Counter>;

    /// Process context: a kernel worker thread, where sleeping is allowed.
    fn run(this: Arc<Counter>) {
        // Every update pending so far; one queued while this runs comes back here.
        this.add(this.pending.xchg(0, ordering::Relaxed));
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
                work <- new_work!("ex03::Counter::work"),
                value <- new_mutex!(0, "ex03_counter"),
                fired: Atomic::new(0),
                pending: Atomic::new(0),
                count,
                period: Delta::from_micros(i64::from(period_us)),
            }),
            GFP_KERNEL,
        )?;
        counter.add(1);
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
        // TODO 2: No code of the module may run once it is unloaded, and the counter must be
        // complete before it is read below.
        //# solution
        self.counter.flush_work();
        //# no-flush
        //# end
        pr_info!(
            "exercise-check: nonce={} interrupts={} counter={}\n",
            module_parameters::nonce.value(),
            self.counter.fired.load(ordering::Relaxed),
            *self.counter.value.lock()
        );
    }
}
