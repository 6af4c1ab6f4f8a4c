// SPDX-License-Identifier: GPL-2.0

//! Interrupt source `hrtimer`: a high-resolution timer whose callback runs in hard-IRQ context.
//!
//! The timer is pinned to the CPU that starts it, and uses the default (not `HARD`) mode. On a
//! kernel without PREEMPT_RT its callback still runs from `hrtimer_interrupt()` in hard-IRQ
//! context, while lockdep treats it as threadable, so a `spinlock_t` is valid there and only
//! the real mistakes are reported.

use crate::lesson::Lesson;
use kernel::{
    impl_has_hr_timer,
    prelude::*,
    sync::{
        Arc,
        ArcBorrow, //
    },
    time::{
        hrtimer::{
            HrTimer,
            HrTimerCallback,
            HrTimerCallbackContext,
            HrTimerRestart,
            RelativePinnedMode, //
        },
        Delta,
        Monotonic, //
    },
};

/// A periodic timer that hands every expiry to the [`Lesson`].
#[pin_data]
pub(crate) struct Ticker {
    #[pin]
    timer: HrTimer<Self>,
    lesson: Arc<Lesson>,
    period: Delta,
}

impl Ticker {
    pub(crate) fn new(lesson: Arc<Lesson>) -> Result<Arc<Self>> {
        let period = Delta::from_micros(i64::from(lesson.config.period_us));
        Arc::pin_init(
            pin_init!(Self {
                timer <- HrTimer::new(),
                lesson,
                period,
            }),
            GFP_KERNEL,
        )
    }

    pub(crate) fn period(&self) -> Delta {
        self.period
    }
}

impl HrTimerCallback for Ticker {
    type Pointer<'a> = Arc<Self>;

    fn run(this: ArcBorrow<'_, Self>, mut ctx: HrTimerCallbackContext<'_, Self>) -> HrTimerRestart {
        if !Lesson::hard_irq(this.lesson.as_arc_borrow()) {
            return HrTimerRestart::NoRestart;
        }
        ctx.forward_now(this.period);
        HrTimerRestart::Restart
    }
}

impl_has_hr_timer! {
    impl HasHrTimer<Self> for Ticker {
        mode: RelativePinnedMode<Monotonic>, field: self.timer
    }
}
