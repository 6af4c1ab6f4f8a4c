// SPDX-License-Identifier: GPL-2.0

//! irqlock: a mutex may sleep, and an interrupt handler must never sleep.
//!
//! The module takes interrupts from a high-resolution timer or from QEMU's `edu` PCI device,
//! and on every interrupt increments a counter that process context shares, under the lock
//! that the `lock` parameter names:
//!
//! ```text
//! insmod irqlock.ko                          # spinlock_irqsave: the correct way, no report
//! insmod irqlock.ko lock=mutex               # BUG: sleeping function called from invalid context
//! insmod irqlock.ko lock=spinlock            # WARNING: inconsistent lock state
//! insmod irqlock.ko lock=mutex_contended     # the CPU spins in IRQ context: hard LOCKUP
//! insmod irqlock.ko lock=mutex_trylock       # silence, and lost updates
//! insmod irqlock.ko lock=mutex handler=workqueue   # the fix: take the mutex in a work item
//! insmod irqlock.ko cpus=2                   # two handlers on two CPUs contend for the lock
//! insmod irqlock.ko source=hrtimer_soft lock=mutex # the same BUG in softirq context
//! insmod irqlock.ko source=hrtimer_hard lock=raw_spinlock_irqsave # hard IRQ even on PREEMPT_RT
//! insmod irqlock.ko source=edu irq=msi lock=mutex handler=threaded   # needs -device edu
//! insmod irqlock.ko count=0                  # the timer runs until `rmmod irqlock`
//! ```
//!
//! It needs a kernel with `CONFIG_DEBUG_ATOMIC_SLEEP` and `CONFIG_PROVE_LOCKING` for the
//! reports, and logs with the `irqlock: ` prefix:
//!
//! ```text
//! irqlock: loading: lock=mutex source=hrtimer handler=hard count=8 period_us=1000
//! irqlock: process: in_hardirq=0 in_serving_softirq=0 irqs_disabled=0 preempt_count=0x0 cpu=1
//! irqlock: handler: in_hardirq=1 in_serving_softirq=0 irqs_disabled=1 preempt_count=0x1000001 cpu=1
//! irqlock: done: 8 interrupts handled, counter=9 expected=9
//! irqlock: unloaded: timer cancelled, 8 interrupts handled, counter=9 expected=9
//! ```

mod config;
mod context;
mod edu;
mod ffi;
mod lesson;
mod param;
mod raw_spinlock;
mod shared;
mod ticker;

use config::{
    Config,
    HandlerMode,
    LockMode,
    Params,
    Source, //
};
use context::{
    Context,
    NoPreempt, //
};
use kernel::{
    driver,
    pci,
    prelude::*,
    sync::{
        atomic::ordering,
        Arc, //
    },
    time::{
        delay::udelay,
        hrtimer::{
            RelativePinnedHardMode,
            RelativePinnedMode,
            RelativePinnedSoftMode, //
        },
        Delta,
        Monotonic, //
    }, //
};
use lesson::Lesson;
use ticker::{
    TickerMode,
    Tickers,
    TimerHandle, //
};

module! {
    type: IrqLock,
    name: "irqlock",
    authors: ["irqlock developers"],
    description: "Locks in interrupt handlers: the correct spinlock and the classic mistakes",
    license: "GPL",
    params: {
        count: u32 {
            default: 8,
            description: "Interrupts to take (0: until rmmod, source=hrtimer only)",
        },
        period_us: u32 {
            default: 1000,
            description: "Microseconds between interrupts (10 to 1000000)",
        },
        cpus: u32 {
            default: 1,
            description: "CPUs whose handlers contend for the lock, each with its own timer (1 or 2; timer sources)",
        },
        defer_us: u32 {
            default: 0,
            description: "Microseconds each run of the deferred path sleeps first (handler=workqueue or threaded; 0 to 100000)",
        },
    },
}

/// The checked parameters of this load. A refusal is logged, naming the fix, and fails the load
/// with `EINVAL`.
pub(crate) fn config() -> Result<Config> {
    let params = Params {
        lock: config::named::lock.get(),
        source: config::named::source.get(),
        handler: config::named::handler.get(),
        irq: config::named::irq.given().then(|| config::named::irq.get()),
        count: module_parameters::count.value(),
        period_us: module_parameters::period_us.value(),
        defer_us: module_parameters::defer_us.value(),
        cpus: module_parameters::cpus.value(),
    };
    Config::from_params(params).map_err(|refusal| {
        pr_err!("{}\n", refusal);
        EINVAL
    })
}

/// The longest process context busy-waits, preemption off, for the interrupts (`count` times
/// `period_us`); longer loads sleep instead.
const BUSY_WAIT_MAX_US: u64 = 100_000;

/// The longest process context keeps waiting for interrupts that are due, on a guest whose
/// host starves it: the interrupts of a busy load end the wait after `count` times
/// `period_us` (at most `BUSY_WAIT_MAX_US`), but a starved vCPU can take seconds of its own
/// clock to take them (seen under emulation with a host load of 12 on 2 CPUs). Below the soft
/// lockup detector's 2 x `watchdog_thresh` (`get_softlockup_thresh`, kernel/watchdog.c:652),
/// 4 s at the lowest `watchdog_thresh=2` a scenario boots with.
const STARVED_LIMIT: Delta = Delta::from_millis(2000);

/// How long process context holds the mutex for `lock=mutex_contended`: far longer than the
/// timer period, so that the interrupt arrives while it is held.
const CONTENDED_HOLD: Delta = Delta::from_millis(200);

/// Spins, in steps of 10 us, until `done` says so or `limit` has passed.
fn busy_wait(limit: Delta, done: impl Fn() -> bool) {
    let mut waited = Delta::ZERO;
    while !done() && waited < limit {
        udelay(Delta::from_micros(10));
        waited += Delta::from_micros(10);
    }
}

enum Running {
    Timer {
        lesson: Arc<Lesson>,
        /// Cancelling them stops the timers and waits for a running callback to return.
        timers: [Option<TimerHandle>; lesson::MAX_LANES],
    },
    /// The PCI driver; the bound device's data reports on unbind.
    Edu {
        _driver: Pin<KBox<driver::Registration<pci::Adapter<edu::EduDriver>>>>,
    },
}

struct IrqLock {
    running: Running,
}

impl IrqLock {
    fn start_timer<M: TickerMode>(config: Config) -> Result<Running> {
        let lesson = Lesson::new(config)?;
        lesson.process_increment();
        let tickers = Tickers::<M>::new(&lesson)?;
        // On PREEMPT_RT a timer that is not `HARD` expires in the `ktimers` thread of its CPU,
        // which must be able to run there: process context then never disables preemption.
        let threaded = context::preempt_rt() && config.source != Source::HrtimerHard;
        let no_preempt = || (!threaded).then(NoPreempt::new);
        let busy = config.handler == HandlerMode::Hard
            && config.lock != LockMode::MutexContended
            && config.count != 0
            && u64::from(config.count) * u64::from(config.period_us) <= BUSY_WAIT_MAX_US
            && !threaded;

        let timers = match config.lock {
            // Process context holds the mutex, busy, while the timer pinned to this CPU fires:
            // the handler cannot sleep, so it spins on an owner that cannot run again. With
            // preemption off, the owner cannot move to the other CPU (where it would run on and
            // release the mutex): the interrupt always lands on the owner.
            LockMode::MutexContended => {
                let guard = lesson.shared().mutex().lock();
                let no_preempt = no_preempt();
                pr_info!("process: holding irqlock_mutex while the timer fires on this CPU\n");
                let timers = tickers.start()?;
                busy_wait(CONTENDED_HOLD, || false);
                drop(no_preempt);
                drop(guard);
                timers
            }
            // Process context holds the mutex for the first half of the interrupts: each of
            // those finds it held, and its trylock fails. The timer pauses after the last of
            // them, until process context has let go.
            LockMode::MutexTrylock => {
                let guard = lesson.shared().mutex().lock();
                let no_preempt = no_preempt();
                let half = config.count / 2;
                pr_info!(
                    "process: holding irqlock_mutex on cpu={} for the first {} interrupts\n",
                    Context::current().cpu(),
                    half
                );
                let timers = tickers.start()?;
                // count=0 never ends the wait: hold for as long as a busy load may last.
                let limit = if config.count != 0 {
                    STARVED_LIMIT
                } else {
                    Delta::from_micros(BUSY_WAIT_MAX_US as i64)
                };
                busy_wait(limit, || config.count != 0 && lesson.attempts() >= half);
                drop(guard);
                pr_info!("process: released irqlock_mutex\n");
                drop(no_preempt);
                if lesson.take_paused() {
                    // The old handles first: dropping one cancels its timer.
                    drop(timers);
                    tickers.start()?
                } else {
                    timers
                }
            }
            _ if busy => {
                // Every interrupt of this load interrupts this task, running, on this CPU: with
                // preemption off, the timer starts pinned here and nothing else runs here, so
                // what the kernel reports about the interrupted task is the same in every run.
                let no_preempt = NoPreempt::new();
                pr_info!(
                    "process: busy on cpu={} until the interrupts are done\n",
                    Context::current().cpu()
                );
                let timers = tickers.start()?;
                busy_wait(STARVED_LIMIT, || lesson.is_done());
                drop(no_preempt);
                timers
            }
            _ => tickers.start()?,
        };

        if config.count != 0 {
            lesson.wait_done();
            lesson.report_done();
        }
        Ok(Running::Timer { lesson, timers })
    }

    fn start_edu(module: &'static ThisModule) -> Result<Running> {
        edu::PROBE.store(edu::NOT_PROBED, ordering::Relaxed);
        let registration = KBox::pin_init(
            driver::Registration::<pci::Adapter<edu::EduDriver>>::new(c"irqlock", module),
            GFP_KERNEL,
        )?;
        match edu::PROBE.load(ordering::Acquire) {
            edu::PROBED => {}
            edu::NOT_PROBED => {
                pr_err!(
                    "source=edu: no edu device (PCI 1234:11e8) was probed; start QEMU with `-device edu`\n"
                );
                return Err(ENODEV);
            }
            errno => {
                let error = Error::from_errno(errno);
                pr_err!(
                    "source=edu: the edu device is there, but its probe failed with {} (errno {})\n",
                    edu::probe_error_name(error),
                    -errno
                );
                return Err(error);
            }
        }
        Ok(Running::Edu {
            _driver: registration,
        })
    }
}

impl kernel::Module for IrqLock {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let config = config()?;
        pr_info!("loading: {}\n", config);
        let running = match config.source {
            Source::Hrtimer => Self::start_timer::<RelativePinnedMode<Monotonic>>(config)?,
            Source::HrtimerHard => Self::start_timer::<RelativePinnedHardMode<Monotonic>>(config)?,
            Source::HrtimerSoft => Self::start_timer::<RelativePinnedSoftMode<Monotonic>>(config)?,
            Source::Edu => Self::start_edu(module)?,
        };
        Ok(IrqLock { running })
    }
}

impl Drop for IrqLock {
    fn drop(&mut self) {
        if let Running::Timer { lesson, timers } = &mut self.running {
            for timer in timers.iter_mut().flatten() {
                timer.cancel();
            }
            // Nothing queues the work item once the timer is cancelled; wait for a queued one.
            lesson.flush_work();
            lesson.report("unloaded: timer cancelled, ");
        }
        // `Running::Edu` unregisters the driver when dropped; the device's data reports then.
    }
}
