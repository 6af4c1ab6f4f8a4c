// SPDX-License-Identifier: GPL-2.0

//! What every interrupt does, whatever its source: take the shared lock in the hard handler,
//! or defer that to an IRQ thread or a work item.

use crate::{
    config::{
        Config,
        HandlerMode, //
    },
    context::Context,
    shared::Shared,
};
use kernel::{
    prelude::*,
    sync::{
        atomic::{
            ordering,
            Atomic, //
        },
        completion::Completion,
        Arc,
        ArcBorrow, //
    },
    time::{
        delay::fsleep,
        Delta, //
    },
    workqueue::{
        self,
        impl_has_work,
        new_work,
        Work,
        WorkItem, //
    },
};

extern "C" {
    fn irqlock_flush_work(work: *mut kernel::bindings::work_struct);
}

/// The counts of one load of the module, and the deferred work.
#[pin_data]
pub(crate) struct Lesson {
    #[pin]
    shared: Shared,
    /// Completed once `count` increments have been made by the interrupt path.
    #[pin]
    done: Completion,
    #[pin]
    work: Work<Lesson>,
    /// Interrupts taken by the hard handler.
    interrupts: Atomic<u32>,
    /// Increments made by the interrupt path (hard handler, IRQ thread or work item).
    increments: Atomic<u32>,
    /// Updates lost to a failed trylock.
    lost: Atomic<u32>,
    pub(crate) config: Config,
}

impl_has_work! {
    impl HasWork<Self> for Lesson { self.work }
}

impl Lesson {
    pub(crate) fn new(config: Config) -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(Self {
                shared <- Shared::new(),
                done <- Completion::new(),
                work <- new_work!("irqlock::Lesson::work"),
                interrupts: Atomic::new(0),
                increments: Atomic::new(0),
                lost: Atomic::new(0),
                config,
            }),
            GFP_KERNEL,
        )
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }

    pub(crate) fn interrupts(&self) -> u32 {
        self.interrupts.load(ordering::Acquire)
    }

    /// Process context takes the lock once before the first interrupt, the way a driver
    /// shares state with its handler.
    pub(crate) fn process_increment(&self) {
        pr_info!("process: {}\n", Context::current());
        self.shared.increment(self.config.lock);
    }

    /// The hard-IRQ part of every interrupt. Returns whether more interrupts are wanted.
    pub(crate) fn hard_irq(this: ArcBorrow<'_, Self>) -> bool {
        let interrupts = this.interrupts.fetch_add(1, ordering::Relaxed) + 1;
        if interrupts == 1 {
            pr_info!("handler: {}\n", Context::current());
        }
        match this.config.handler {
            HandlerMode::Hard => this.locked_increment(),
            // The work item catches up with every interrupt taken so far; one already queued
            // will see this one too.
            HandlerMode::Workqueue => {
                let _ = workqueue::system().enqueue(Arc::<Self>::from(this));
            }
            // The IRQ thread runs `deferred` once the hard part returns.
            HandlerMode::Threaded => {}
        }
        this.config.count == 0 || interrupts < this.config.count
    }

    /// The deferred part: in the IRQ thread or the work item, in process context.
    pub(crate) fn deferred(&self, what: &str) {
        if self.increments.load(ordering::Relaxed) == 0 {
            pr_info!("{}: {}\n", what, Context::current());
        }
        if self.config.defer_us != 0 {
            // A slow deferred path, as in a driver that waits for its hardware here.
            fsleep(Delta::from_micros(i64::from(self.config.defer_us)));
        }
        while self.increments.load(ordering::Acquire) < self.interrupts() {
            self.locked_increment();
        }
    }

    fn locked_increment(&self) {
        if !self.shared.increment(self.config.lock) {
            self.lost.fetch_add(1, ordering::Relaxed);
        }
        let increments = self.increments.fetch_add(1, ordering::Release) + 1;
        if increments == self.config.count {
            self.done.complete_all();
        }
    }

    /// Sleeps until the interrupt path has made `count` increments.
    pub(crate) fn wait_done(&self) {
        self.done.wait_for_completion();
    }

    /// Whether the interrupt path has made `count` increments.
    pub(crate) fn is_done(&self) -> bool {
        self.config.count != 0 && self.increments.load(ordering::Acquire) >= self.config.count
    }

    /// Waits until the work item, if queued or running, has finished. Call it once nothing
    /// can queue it again (the timer cancelled, the IRQ freed), before the module goes away.
    pub(crate) fn flush_work(&self) {
        // SAFETY: `raw_get` needs an aligned, non-dangling pointer: `self.work` is a field of
        // this live `Lesson`. `irqlock_flush_work` (`rust/flush_work.c`) calls `flush_work()`
        // on that initialised `work_struct`, which may sleep: every caller runs in process
        // context at unload.
        unsafe { irqlock_flush_work(Work::raw_get(&self.work)) };
    }

    /// Logs what happened after `what` (such as `done: `): interrupts, the counter, and what
    /// it should be.
    pub(crate) fn report(&self, what: &str) {
        let increments = self.increments.load(ordering::Acquire);
        let lost = self.lost.load(ordering::Relaxed);
        pr_info!(
            "{}{} interrupts handled, counter={} expected={}\n",
            what,
            self.interrupts(),
            self.shared.value(self.config.lock),
            u64::from(increments) + 1
        );
        if lost != 0 {
            pr_info!(
                "{}: mutex_trylock failed {} times; those updates are lost\n",
                what,
                lost
            );
        }
    }
}

impl WorkItem for Lesson {
    type Pointer = Arc<Lesson>;

    fn run(this: Arc<Lesson>) {
        this.deferred("work");
    }
}
