// SPDX-License-Identifier: GPL-2.0

//! irqlock: a mutex may sleep, and an interrupt handler must never sleep.
//!
//! The module starts a high-resolution timer whose callback runs in hard-IRQ context. On every
//! interrupt the handler increments a counter that process context shares, under the lock
//! chosen by the `lock` parameter:
//!
//! ```text
//! insmod irqlock.ko                   # lock=spinlock_irqsave: the correct way, no report
//! insmod irqlock.ko lock=mutex        # BUG: sleeping function called from invalid context
//! insmod irqlock.ko count=0           # the timer runs until `rmmod irqlock`
//! ```
//!
//! It needs a kernel with `CONFIG_DEBUG_ATOMIC_SLEEP` and `CONFIG_PROVE_LOCKING` for the reports,
//! and logs with the `irqlock: ` prefix:
//!
//! ```text
//! irqlock: loading: lock=mutex source=hrtimer count=8 period_us=1000
//! irqlock: process: in_hardirq=0 irqs_disabled=0 preempt_count=0x0 cpu=1
//! irqlock: handler: in_hardirq=1 irqs_disabled=1 preempt_count=0x10001 cpu=1
//! irqlock: done: 8 interrupts handled, counter=9 expected=9
//! irqlock: unloaded: timer cancelled, 8 interrupts handled, counter=9
//! ```

mod context;
mod param;
mod shared;
mod ticker;

use context::Context;
use kernel::{
    prelude::*,
    sync::Arc,
    time::{
        hrtimer::{
            ArcHrTimerHandle,
            HrTimerHandle,
            HrTimerPointer, //
        },
        Delta,
    },
};
use param::{
    choice_param,
    Choice, //
};
use shared::Shared;
use ticker::Ticker;

module! {
    type: IrqLock,
    name: "irqlock",
    authors: ["irqlock developers"],
    description: "Locks in interrupt handlers: the correct spinlock and the sleeping mutex",
    license: "GPL",
    params: {
        count: u32 {
            default: 8,
            description: "Interrupts to take before the timer stops (0: until rmmod)",
        },
        period_us: u32 {
            default: 1000,
            description: "Microseconds between timer interrupts (10 to 1000000)",
        },
    },
}

/// How the interrupt handler and process context take the shared lock.
///
/// [`Choice::ALL`] lists the values in declaration order, so `as i32` gives their index.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum LockMode {
    /// `spin_lock_irqsave()`: the correct way.
    SpinlockIrqsave,
    /// `mutex_lock()`: sleeps, which an interrupt handler must never do.
    Mutex,
}

impl Choice for LockMode {
    const PARAM: &'static str = "lock";
    const ALL: &'static [Self] = &[Self::SpinlockIrqsave, Self::Mutex];

    fn name(self) -> &'static str {
        match self {
            Self::SpinlockIrqsave => "spinlock_irqsave",
            Self::Mutex => "mutex",
        }
    }
}

choice_param!(
    lock: LockMode = LockMode::SpinlockIrqsave,
    "How the interrupt handler takes the shared lock: spinlock_irqsave (default) or mutex"
);

/// Accepted range of `period_us`: faster than 10 us starves an emulated CPU.
const PERIOD_US_RANGE: core::ops::RangeInclusive<u32> = 10..=1_000_000;

struct IrqLock {
    ticker: Arc<Ticker>,
    shared: Arc<Shared>,
    mode: LockMode,
    /// Dropping or cancelling it stops the timer and waits for a running handler to return.
    timer: ArcHrTimerHandle<Ticker>,
}

impl kernel::Module for IrqLock {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let mode = lock.get();
        let count = module_parameters::count.value();
        let period_us = module_parameters::period_us.value();
        if !PERIOD_US_RANGE.contains(&period_us) {
            pr_err!(
                "period_us={} is out of range; accepted: {} to {}\n",
                period_us,
                PERIOD_US_RANGE.start(),
                PERIOD_US_RANGE.end()
            );
            return Err(EINVAL);
        }
        pr_info!(
            "loading: lock={} source=hrtimer count={} period_us={}\n",
            mode.name(),
            count,
            period_us
        );

        // Process context takes the same lock as the handler, before the first interrupt and
        // after the last, the way a driver shares state with its interrupt handler.
        let shared = Arc::pin_init(Shared::new(), GFP_KERNEL)?;
        pr_info!("process: {}\n", Context::current());
        shared.increment(mode);

        let period = Delta::from_micros(i64::from(period_us));
        let ticker = Arc::pin_init(Ticker::new(shared.clone(), mode, count, period), GFP_KERNEL)?;
        let timer = ticker.clone().start(period);

        if count != 0 {
            ticker.wait_done();
            let handled = ticker.handled();
            pr_info!(
                "done: {} interrupts handled, counter={} expected={}\n",
                handled,
                shared.value(mode),
                u64::from(handled) + 1
            );
        }

        Ok(IrqLock {
            ticker,
            shared,
            mode,
            timer,
        })
    }
}

impl Drop for IrqLock {
    fn drop(&mut self) {
        self.timer.cancel();
        pr_info!(
            "unloaded: timer cancelled, {} interrupts handled, counter={}\n",
            self.ticker.handled(),
            self.shared.value(self.mode)
        );
    }
}
