// SPDX-License-Identifier: GPL-2.0

//! The interrupt source: a high-resolution timer whose callback runs in hard-IRQ context.
//!
//! The timer uses the default (not `HARD`) mode. On a kernel without PREEMPT_RT its callback
//! still runs from `hrtimer_interrupt()` in hard-IRQ context, while lockdep treats it as
//! threadable, so a `spinlock_t` is valid there and only the real mistakes are reported.

use crate::{
    context::Context,
    shared::Shared,
    LockMode, //
};
use kernel::{
    impl_has_hr_timer,
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
        hrtimer::{
            HrTimer,
            HrTimerCallback,
            HrTimerCallbackContext,
            HrTimerRestart,
            RelativeMode, //
        },
        Delta,
        Monotonic, //
    },
};

/// A periodic timer that takes the shared lock on every expiry.
#[pin_data]
pub(crate) struct Ticker {
    #[pin]
    timer: HrTimer<Self>,
    #[pin]
    done: Completion,
    handled: Atomic<u32>,
    shared: Arc<Shared>,
    mode: LockMode,
    /// Interrupts to take before stopping; 0 runs until the timer is cancelled.
    count: u32,
    period: Delta,
}

impl Ticker {
    pub(crate) fn new(
        shared: Arc<Shared>,
        mode: LockMode,
        count: u32,
        period: Delta,
    ) -> impl PinInit<Self> {
        pin_init!(Self {
            timer <- HrTimer::new(),
            done <- Completion::new(),
            handled: Atomic::new(0),
            shared,
            mode,
            count,
            period,
        })
    }

    /// Interrupts handled so far.
    pub(crate) fn handled(&self) -> u32 {
        self.handled.load(ordering::Acquire)
    }

    /// Sleeps until the handler has taken `count` interrupts.
    pub(crate) fn wait_done(&self) {
        self.done.wait_for_completion();
    }
}

impl HrTimerCallback for Ticker {
    type Pointer<'a> = Arc<Self>;

    fn run(this: ArcBorrow<'_, Self>, mut ctx: HrTimerCallbackContext<'_, Self>) -> HrTimerRestart {
        if this.handled() == 0 {
            pr_info!("handler: {}\n", Context::current());
        }

        this.shared.increment(this.mode);

        let handled = this.handled.fetch_add(1, ordering::Release) + 1;
        if this.count != 0 && handled >= this.count {
            this.done.complete_all();
            return HrTimerRestart::NoRestart;
        }
        ctx.forward_now(this.period);
        HrTimerRestart::Restart
    }
}

impl_has_hr_timer! {
    impl HasHrTimer<Self> for Ticker {
        mode: RelativeMode<Monotonic>, field: self.timer
    }
}
