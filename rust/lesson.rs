// SPDX-License-Identifier: GPL-2.0

//! What every interrupt does, whatever its source: take the shared lock in the hard handler,
//! or defer that to an IRQ thread or a work item.

use crate::{
    config::{
        Config,
        HandlerMode,
        LockMode, //
    },
    context::Context,
    shared::Shared, //
};
use kernel::{
    bindings,
    prelude::*,
    processor::cpu_relax,
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
        Delta,
        Instant,
        Monotonic, //
    },
    workqueue::{
        self,
        impl_has_work,
        new_work,
        Work,
        WorkItem, //
    }, //
};

/// The most CPUs that take interrupts at once (`cpus`).
pub(crate) const MAX_LANES: usize = 2;

/// The longest a handler holds the lock waiting for the other CPU's handler to want it.
const HANDOFF_MAX: Delta = Delta::from_millis(50);

/// The longest the second CPU's first interrupt waits for the first CPU's first update.
const FIRST_MAX: Delta = Delta::from_millis(500);

/// The interrupts of one CPU: its own timer's, or the edu device's.
pub(crate) struct Lane {
    interrupts: Atomic<u32>,
    /// Updates made by this lane's hard handler.
    increments: Atomic<u32>,
    /// The context of the first interrupt ([`Context::to_bits`]).
    context: Atomic<u64>,
    /// The handler is waiting for the lock, or about to.
    waiting: Atomic<bool>,
    /// Times the handler found the lock held by the other CPU's handler, and the wait.
    contended: Atomic<u32>,
    waited_ns: Atomic<i64>,
}

impl Lane {
    fn new() -> Self {
        Self {
            interrupts: Atomic::new(0),
            increments: Atomic::new(0),
            context: Atomic::new(0),
            waiting: Atomic::new(false),
            contended: Atomic::new(0),
            waited_ns: Atomic::new(0),
        }
    }
}

/// The counts of one load of the module, and the deferred work.
#[pin_data]
pub(crate) struct Lesson {
    #[pin]
    shared: Shared,
    #[pin]
    work: Work<Lesson>,
    /// Interrupts taken by the hard handlers, all lanes together.
    interrupts: Atomic<u32>,
    /// Per CPU (`cpus=2`), or one lane for every other load.
    lanes: [Lane; MAX_LANES],
    /// A handler holds the lock (`cpus=2`).
    held: Atomic<bool>,
    /// Increments made by the interrupt path (hard handler, IRQ thread or work item).
    increments: Atomic<u32>,
    /// Updates lost to a failed trylock.
    lost: Atomic<u32>,
    /// The timer stopped at the `lock=mutex_trylock` interrupt that ends the held half.
    paused: Atomic<bool>,
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
                work <- new_work!("irqlock::Lesson::work"),
                interrupts: Atomic::new(0),
                lanes: [Lane::new(), Lane::new()],
                held: Atomic::new(false),
                increments: Atomic::new(0),
                lost: Atomic::new(0),
                paused: Atomic::new(false),
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
        self.shared.increment(self.config.lock, &mut || {});
    }

    /// The interrupts expected in all: `count` per lane.
    fn expected_increments(&self) -> u32 {
        self.config.count.saturating_mul(self.config.cpus)
    }

    /// What the handler does on every interrupt of `lane`, in the context of the interrupt
    /// (hard IRQ, or softirq for `source=hrtimer_soft`). Returns whether more interrupts are
    /// wanted on that lane.
    pub(crate) fn interrupt(this: ArcBorrow<'_, Self>, lane: usize) -> bool {
        let interrupts = this.lanes[lane].interrupts.fetch_add(1, ordering::Relaxed) + 1;
        this.interrupts.fetch_add(1, ordering::Release);
        if interrupts == 1 && lane != 0 {
            // The first lock of each CPU is the one the kernel reports on: let the first CPU's
            // reports end before the second CPU's handler says anything, so that they never
            // interleave.
            let since = Instant::<Monotonic>::now();
            while this.lanes[0].increments.load(ordering::Acquire) == 0
                && since.elapsed() < FIRST_MAX
            {
                cpu_relax();
            }
        }
        if interrupts == 1 {
            let context = Context::current();
            this.lanes[lane]
                .context
                .store(context.to_bits(), ordering::Relaxed);
            // The second CPU's line waits for the report: a message printed now would wake
            // the printk thread, and a reschedule pending on a CPU is what makes a mutex
            // spinner there give up and sleep.
            if lane == 0 {
                pr_info!("handler: {}\n", context);
            }
        }
        let mut paused = false;
        match this.config.handler {
            HandlerMode::Hard => {
                paused = this.locked_increment(lane, this.pauses_after(interrupts))
            }
            // The work item catches up with every interrupt taken so far; one already queued
            // will see this one too.
            HandlerMode::Workqueue => {
                // SAFETY: `system_percpu_wq` is a C global that the kernel allocates at boot
                // and never frees. (The kernel crate's `system()` is `system_wq`, which 7.3
                // deprecates with a warning on the first use.)
                let queue = unsafe { workqueue::Queue::from_raw(bindings::system_percpu_wq) };
                let _ = queue.enqueue(Arc::<Self>::from(this));
            }
            // The IRQ thread runs `deferred` once the hard part returns.
            HandlerMode::Threaded => {}
        }
        !paused && (this.config.count == 0 || interrupts < this.config.count)
    }

    /// Whether interrupt number `n` ends the half of `lock=mutex_trylock` during which process
    /// context holds the mutex: when its trylock fails, the timer stops there, and process
    /// context starts it again once it has let go. Without the pause, a late timer could fire
    /// once more before process context lets go, and the count of lost updates would be luck.
    fn pauses_after(&self, n: u32) -> bool {
        self.config.lock == LockMode::MutexTrylock
            && self.config.source.is_timer()
            && n == self.config.count / 2
    }

    /// Whether the timer paused (see [`Lesson::pauses_after`]); clears it.
    pub(crate) fn take_paused(&self) -> bool {
        self.paused.xchg(false, ordering::Acquire)
    }

    /// The interrupts whose update was made or lost, so far.
    pub(crate) fn attempts(&self) -> u32 {
        self.increments.load(ordering::Acquire)
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
            self.locked_increment(0, false);
        }
    }

    /// Makes this interrupt's update; returns whether the timer pauses after it (a failed
    /// trylock when `pause_if_lost`).
    fn locked_increment(&self, lane: usize, pause_if_lost: bool) -> bool {
        let updated = if self.config.cpus == 1 {
            self.lanes[lane].increments.fetch_add(1, ordering::Relaxed);
            self.shared.increment(self.config.lock, &mut || {})
        } else {
            self.contended_increment(lane)
        };
        let pause = pause_if_lost && !updated;
        if !updated {
            self.lost.fetch_add(1, ordering::Relaxed);
        }
        if pause {
            self.paused.store(true, ordering::Relaxed);
        }
        // Process context polls this count (`wait_done`): a completion's `complete_all()` is
        // not valid in a `HARD` timer's callback.
        self.increments.fetch_add(1, ordering::Release);
        pause
    }

    /// The increment of `cpus=2`: each handler holds the lock until the other CPU's handler
    /// wants it, so that every interrupt after the first finds the lock held, and measures how
    /// long it waited for it.
    fn contended_increment(&self, lane: usize) -> bool {
        let me = &self.lanes[lane];
        let other = &self.lanes[1 - lane];
        let arrived = Instant::<Monotonic>::now();
        me.waiting.store(true, ordering::Release);
        let found_held = self.held.load(ordering::Acquire);
        self.shared.increment(self.config.lock, &mut || {
            me.waiting.store(false, ordering::Relaxed);
            self.held.store(true, ordering::Relaxed);
            if found_held {
                me.contended.fetch_add(1, ordering::Relaxed);
                me.waited_ns
                    .fetch_add(arrived.elapsed().as_nanos(), ordering::Relaxed);
            }
            me.increments.fetch_add(1, ordering::Release);
            let holding = Instant::<Monotonic>::now();
            while !other.waiting.load(ordering::Acquire)
                && other.increments.load(ordering::Acquire) < self.config.count
                && holding.elapsed() < HANDOFF_MAX
            {
                cpu_relax();
            }
            self.held.store(false, ordering::Release);
        })
    }

    /// Sleeps until the interrupt path has made every increment it was asked for.
    pub(crate) fn wait_done(&self) {
        while !self.is_done() {
            fsleep(Delta::from_millis(1));
        }
    }

    /// Whether the interrupt path has made every increment it was asked for.
    pub(crate) fn is_done(&self) -> bool {
        self.config.count != 0
            && self.increments.load(ordering::Acquire) >= self.expected_increments()
    }

    /// Waits until the work item, if queued or running, has finished. Call it once nothing
    /// can queue it again (the timer cancelled, the IRQ freed), before the module goes away.
    pub(crate) fn flush_work(&self) {
        // SAFETY: `raw_get` needs an aligned, non-dangling pointer: `self.work` is a field of
        // this live `Lesson`. `flush_work()` needs an initialised `work_struct`, which
        // `Lesson::new` made it, and may sleep: every caller runs in process context at unload.
        // Whether it waited for anything does not matter here.
        unsafe { bindings::flush_work(Work::raw_get(&self.work)) };
    }

    /// Logs the end of this load's interrupts: the handler lines that `interrupt` kept back,
    /// then what [`Lesson::report`] logs, after `done: `.
    pub(crate) fn report_done(&self) {
        for lane in &self.lanes[1..self.config.cpus as usize] {
            let context = Context::from_bits(lane.context.load(ordering::Relaxed));
            pr_info!("handler: {}\n", context);
        }
        self.report("done: ");
    }

    /// Logs what happened after `what` (such as `unloaded: irq freed, `): interrupts, the
    /// counter, and what it should be.
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
                "{}mutex_trylock failed {} times; those updates are lost\n",
                what,
                lost
            );
        }
        if self.config.cpus == 1 {
            return;
        }
        for lane in &self.lanes[..self.config.cpus as usize] {
            let context = Context::from_bits(lane.context.load(ordering::Relaxed));
            pr_info!(
                "{}cpu={}: {} interrupts; the handler found the lock held {} times and spun {} us in all\n",
                what,
                context.cpu(),
                lane.interrupts.load(ordering::Relaxed),
                lane.contended.load(ordering::Relaxed),
                lane.waited_ns.load(ordering::Relaxed) / 1000
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
