// SPDX-License-Identifier: GPL-2.0

//! Interrupt sources `hrtimer`, `hrtimer_hard` and `hrtimer_soft`: a high-resolution timer
//! pinned to one CPU, in one of three modes.
//!
//! - The default mode (`hrtimer`): the callback runs from `hrtimer_interrupt()` in hard-IRQ
//!   context, while lockdep treats it as threadable, because PREEMPT_RT moves it to a thread.
//!   A `spinlock_t` is valid there, so only the real mistakes are reported.
//! - `HARD` mode (`hrtimer_hard`): hard-IRQ context on every kernel, so lockdep also reports
//!   a `spinlock_t`, which sleeps on PREEMPT_RT: only a raw spinlock is valid there.
//! - `SOFT` mode (`hrtimer_soft`): the callback runs in the `HRTIMER_SOFTIRQ` softirq, with
//!   interrupts on.
//!
//! With `cpus=2` a second timer runs on another CPU, started there by an IPI: the kernel crate
//! can only start a pinned timer on the CPU that calls it.

use crate::{
    context::NoPreempt,
    ffi::irqlock_other_cpu,
    lesson::{
        Lesson,
        MAX_LANES, //
    }, //
};
use core::marker::PhantomData;
use kernel::{
    bindings,
    impl_has_hr_timer,
    prelude::*,
    sync::{
        Arc,
        ArcBorrow, //
    },
    time::{
        hrtimer::{
            ArcHrTimerHandle,
            HrTimer,
            HrTimerCallback,
            HrTimerCallbackContext,
            HrTimerHandle,
            HrTimerMode,
            HrTimerPointer,
            HrTimerRestart,
            RelativePinnedHardMode,
            RelativePinnedMode,
            RelativePinnedSoftMode, //
        },
        Delta,
        Monotonic, //
    }, //
};

/// A running timer of any mode; dropping it cancels the timer.
pub(crate) enum TimerHandle {
    Default(ArcHrTimerHandle<Ticker<RelativePinnedMode<Monotonic>>>),
    Hard(ArcHrTimerHandle<Ticker<RelativePinnedHardMode<Monotonic>>>),
    Soft(ArcHrTimerHandle<Ticker<RelativePinnedSoftMode<Monotonic>>>),
}

impl TimerHandle {
    /// Stops the timer and waits for a running callback to return.
    pub(crate) fn cancel(&mut self) {
        match self {
            Self::Default(handle) => handle.cancel(),
            Self::Hard(handle) => handle.cancel(),
            Self::Soft(handle) => handle.cancel(),
        };
    }
}

/// The timer modes a [`Ticker`] runs in: pinned, relative, on the monotonic clock.
pub(crate) trait TickerMode:
    HrTimerMode<Clock = Monotonic, Expires = Delta> + Sized + 'static
{
    fn handle(handle: ArcHrTimerHandle<Ticker<Self>>) -> TimerHandle;
}

impl TickerMode for RelativePinnedMode<Monotonic> {
    fn handle(handle: ArcHrTimerHandle<Ticker<Self>>) -> TimerHandle {
        TimerHandle::Default(handle)
    }
}

impl TickerMode for RelativePinnedHardMode<Monotonic> {
    fn handle(handle: ArcHrTimerHandle<Ticker<Self>>) -> TimerHandle {
        TimerHandle::Hard(handle)
    }
}

impl TickerMode for RelativePinnedSoftMode<Monotonic> {
    fn handle(handle: ArcHrTimerHandle<Ticker<Self>>) -> TimerHandle {
        TimerHandle::Soft(handle)
    }
}

/// A periodic timer that hands every expiry to the [`Lesson`], as one lane.
#[pin_data]
pub(crate) struct Ticker<M: TickerMode> {
    #[pin]
    timer: HrTimer<Self>,
    lesson: Arc<Lesson>,
    period: Delta,
    lane: usize,
    _mode: PhantomData<fn() -> M>,
}

impl<M: TickerMode> Ticker<M> {
    fn new(lesson: Arc<Lesson>, lane: usize) -> Result<Arc<Self>> {
        let period = Delta::from_micros(i64::from(lesson.config.period_us));
        Arc::pin_init(
            pin_init!(Self {
                timer <- HrTimer::new(),
                lesson,
                period,
                lane,
                _mode: PhantomData,
            }),
            GFP_KERNEL,
        )
    }

    fn start_here(self: &Arc<Self>) -> TimerHandle {
        M::handle(self.clone().start(self.period))
    }
}

impl<M: TickerMode> HrTimerCallback for Ticker<M> {
    type Pointer<'a> = Arc<Self>;

    fn run(this: ArcBorrow<'_, Self>, mut ctx: HrTimerCallbackContext<'_, Self>) -> HrTimerRestart {
        // Gives each mode's callback its own code: the compiler merges identical functions,
        // and a stack trace would then name another mode's `Ticker`.
        core::hint::black_box(M::C_MODE);
        if !Lesson::interrupt(this.lesson.as_arc_borrow(), this.lane) {
            return HrTimerRestart::NoRestart;
        }
        ctx.forward_now(this.period);
        HrTimerRestart::Restart
    }
}

impl_has_hr_timer! {
    impl{M: TickerMode} HasHrTimer<Self> for Ticker<M> {
        mode: M, field: self.timer
    }
}

/// The timers of one load: one per lane, made before any starts.
pub(crate) struct Tickers<M: TickerMode> {
    tickers: KVec<Arc<Ticker<M>>>,
}

impl<M: TickerMode> Tickers<M> {
    pub(crate) fn new(lesson: &Arc<Lesson>) -> Result<Self> {
        let mut tickers = KVec::new();
        for lane in 0..lesson.config.cpus as usize {
            tickers.push(Ticker::new(lesson.clone(), lane)?, GFP_KERNEL)?;
        }
        Ok(Self { tickers })
    }

    /// Starts the first timer on this CPU and the second, if any, on another one. It neither
    /// sleeps nor allocates, so it may run with preemption off.
    pub(crate) fn start(&self) -> Result<[Option<TimerHandle>; MAX_LANES]> {
        let _stay = NoPreempt::new();
        let mut handles = [None, None];
        for (ticker, handle) in self.tickers.iter().zip(handles.iter_mut()) {
            *handle = Some(if ticker.lane == 0 {
                ticker.start_here()
            } else {
                start_on_other_cpu(ticker)?
            });
        }
        Ok(handles)
    }
}

/// What the IPI of [`start_on_other_cpu`] reads and writes.
struct RemoteStart<'a, M: TickerMode> {
    ticker: &'a Arc<Ticker<M>>,
    handle: Option<TimerHandle>,
}

/// Runs in the IPI, in hard-IRQ context on the other CPU: starts the timer pinned there.
///
/// # Safety
///
/// `info` must point to a live `RemoteStart<'_, M>` that nothing else uses until this returns.
unsafe extern "C" fn start_remote<M: TickerMode>(info: *mut c_void) {
    // SAFETY: `start_on_other_cpu` passes a pointer to a live `RemoteStart<'_, M>` and waits
    // for this function to return before it touches that value again.
    let start = unsafe { &mut *info.cast::<RemoteStart<'_, M>>() };
    start.handle = Some(start.ticker.start_here());
}

/// Starts `ticker` pinned to a CPU other than the caller's, which must not migrate meanwhile.
fn start_on_other_cpu<M: TickerMode>(ticker: &Arc<Ticker<M>>) -> Result<TimerHandle> {
    let cpu = irqlock_other_cpu();
    if cpu < 0 {
        pr_err!("cpus=2 needs a second online CPU; start QEMU with -smp 2\n");
        return Err(ENODEV);
    }
    let mut start = RemoteStart {
        ticker,
        handle: None,
    };
    // SAFETY: `start_remote::<M>` takes the `RemoteStart<'_, M>` passed here; with `wait` set,
    // `smp_call_function_single` returns only after it ran, so `start` outlives its use. The
    // caller is in process context with interrupts on, as the function requires.
    let ret = unsafe {
        bindings::smp_call_function_single(
            cpu,
            Some(start_remote::<M>),
            (&raw mut start).cast(),
            true,
        )
    };
    if ret != 0 {
        return Err(Error::from_errno(ret));
    }
    start.handle.ok_or(EIO)
}
