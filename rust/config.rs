// SPDX-License-Identifier: GPL-2.0

//! What the module parameters ask for, checked as a whole before anything starts.

use crate::param::Choice;
use kernel::prelude::*;

/// Declares a fieldless enum whose values users choose by name, in declaration order.
macro_rules! choice_enum {
    ($(#[$meta:meta])* $name:ident, $param:literal, { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub(crate) enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl Choice for $name {
            const PARAM: &'static str = $param;
            const ALL: &'static [Self] = &[$(Self::$variant,)+];

            fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }
        }
    };
}

choice_enum!(
    /// How the interrupt path and process context take the shared lock.
    LockMode, "lock", {
        /// `SpinLockIrq` everywhere: interrupts off while it is held. Correct, except in a
        /// handler that stays in hard-IRQ context on PREEMPT_RT (`source=hrtimer_hard`).
        SpinlockIrqsave = "spinlock_irqsave",
        /// `mutex_lock()` in the interrupt handler: it may sleep.
        Mutex = "mutex",
        /// Plain `spin_lock()` in process context with interrupts on, and in the handler.
        Spinlock = "spinlock",
        /// `mutex_lock()` in the handler while process context holds the mutex on that CPU.
        MutexContended = "mutex_contended",
        /// `mutex_trylock()` in the handler: silent, and still wrong. With a timer source,
        /// process context holds the mutex for the first half of the interrupts, whose
        /// updates are lost.
        MutexTrylock = "mutex_trylock",
        /// `raw_spin_lock_irqsave()` everywhere: the lock that never sleeps, even on PREEMPT_RT.
        RawSpinlockIrqsave = "raw_spinlock_irqsave",
    }
);

choice_enum!(
    /// Where the interrupts come from.
    Source, "source", {
        /// A high-resolution timer, pinned to the CPU that starts it, in the default mode: hard-IRQ
        /// context, which PREEMPT_RT moves to a thread.
        Hrtimer = "hrtimer",
        /// The same timer in `HARD` mode: hard-IRQ context on every kernel.
        HrtimerHard = "hrtimer_hard",
        /// The same timer in `SOFT` mode: softirq context.
        HrtimerSoft = "hrtimer_soft",
        /// QEMU's `edu` PCI device (`-device edu`).
        Edu = "edu",
    }
);

choice_enum!(
    /// Where the lock is taken.
    HandlerMode, "handler", {
        /// In the hard interrupt handler itself.
        Hard = "hard",
        /// In the IRQ thread of a threaded handler (`source=edu`).
        Threaded = "threaded",
        /// In a work item that the hard handler queues.
        Workqueue = "workqueue",
    }
);

choice_enum!(
    /// How the `edu` device signals its interrupts.
    IrqKind, "irq", {
        /// The legacy PCI interrupt line, shared.
        Intx = "intx",
        /// Message-signalled interrupts.
        Msi = "msi",
    }
);

/// The named parameters as `insmod` sets them, in a module of their own: their statics take the
/// names `lock`, `source`, `handler` and `irq`, which patterns elsewhere use.
pub(crate) mod named {
    use super::{
        HandlerMode,
        IrqKind,
        LockMode,
        Source, //
    };
    use crate::param::choice_param;

    choice_param!(
        lock: LockMode = LockMode::SpinlockIrqsave,
        "How the handler takes the shared lock: spinlock_irqsave (default), mutex, spinlock, mutex_contended, mutex_trylock, raw_spinlock_irqsave"
    );
    choice_param!(
        source: Source = Source::Hrtimer,
        "Interrupt source: hrtimer (default), hrtimer_hard, hrtimer_soft, or edu (QEMU -device edu)"
    );
    choice_param!(
        handler: HandlerMode = HandlerMode::Hard,
        "Where the lock is taken: hard (default), threaded (edu), workqueue"
    );
    choice_param!(
        irq: IrqKind = IrqKind::Intx,
        "Interrupt kind of the edu device: intx (default) or msi"
    );
}

/// Accepted range of `period_us`: faster than 10 us starves an emulated CPU.
const PERIOD_US_RANGE: core::ops::RangeInclusive<u32> = 10..=1_000_000;

/// Accepted range of `defer_us`.
const DEFER_US_RANGE: core::ops::RangeInclusive<u32> = 0..=100_000;

/// Accepted range of `cpus`.
const CPUS_RANGE: core::ops::RangeInclusive<u32> = 1..=2;

impl Source {
    /// Whether the interrupts come from an hrtimer, in any mode.
    pub(crate) fn is_timer(self) -> bool {
        self != Source::Edu
    }
}

/// The parameters of one load of the module, as given: the four named choices and the numbers.
#[derive(Clone, Copy)]
pub(crate) struct Params {
    pub(crate) lock: LockMode,
    pub(crate) source: Source,
    pub(crate) handler: HandlerMode,
    /// `None` when the command line leaves `irq` out.
    pub(crate) irq: Option<IrqKind>,
    pub(crate) count: u32,
    pub(crate) period_us: u32,
    pub(crate) defer_us: u32,
    pub(crate) cpus: u32,
}

/// The parameters of one load of the module.
#[derive(Clone, Copy)]
pub(crate) struct Config {
    pub(crate) lock: LockMode,
    pub(crate) source: Source,
    pub(crate) handler: HandlerMode,
    pub(crate) irq: IrqKind,
    /// Interrupts to take; 0 runs until `rmmod` (`source=hrtimer` only).
    pub(crate) count: u32,
    pub(crate) period_us: u32,
    /// Microseconds each run of the deferred path sleeps before taking the lock.
    pub(crate) defer_us: u32,
    /// CPUs that take interrupts at once, each from its own pinned timer.
    pub(crate) cpus: u32,
}

/// A combination of parameters that [`Config::from_params`] refuses; its `Display` is the
/// message that names the fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// A number outside its accepted range: the parameter's name, its value, the range.
    OutOfRange(&'static str, u32, core::ops::RangeInclusive<u32>),
    /// `defer_us` with `handler=hard`.
    DeferInHardHandler,
    /// `irq` given for a timer source.
    IrqWithoutEdu(IrqKind),
    /// `handler=threaded` with a timer source.
    ThreadedWithoutEdu,
    /// `lock=mutex_contended` or `lock=mutex_trylock` with a deferred handler.
    HeldMutexNotHard(LockMode),
    /// `lock=mutex_contended` with `source=edu`.
    ContendedWithoutTimer,
    /// `lock=mutex_contended` or `lock=mutex_trylock` with `cpus=2`.
    HeldMutexOnCpus(LockMode),
    /// `cpus=2` with `source=edu`.
    CpusWithoutTimer(u32),
    /// `cpus=2` with a deferred handler or `count=0`.
    CpusNeedHardAndCount(u32),
    /// `count=0` with `source=edu`.
    EndlessWithoutTimer,
}

impl kernel::fmt::Display for Refusal {
    fn fmt(&self, f: &mut kernel::fmt::Formatter<'_>) -> kernel::fmt::Result {
        match self {
            Self::OutOfRange(name, value, range) => write!(
                f,
                "{}={} is out of range; accepted: {} to {}",
                name,
                value,
                range.start(),
                range.end()
            ),
            Self::DeferInHardHandler => f.write_str(
                "defer_us needs handler=workqueue or handler=threaded: the hard handler must not \
                 sleep",
            ),
            Self::IrqWithoutEdu(irq) => write!(
                f,
                "irq={} needs source=edu: only the edu device has an interrupt kind to choose",
                irq.name()
            ),
            Self::ThreadedWithoutEdu => {
                f.write_str("handler=threaded needs source=edu: a timer callback has no IRQ thread")
            }
            Self::HeldMutexNotHard(lock) => write!(
                f,
                "lock={} shows a mistake in the hard handler; use handler=hard",
                lock.name()
            ),
            Self::ContendedWithoutTimer => f.write_str(
                "lock=mutex_contended needs a timer source (hrtimer, hrtimer_hard, hrtimer_soft): \
                 only a pinned timer is sure to interrupt the CPU that holds the mutex",
            ),
            Self::HeldMutexOnCpus(lock) => write!(
                f,
                "lock={} holds the mutex in process context on one CPU; use cpus=1",
                lock.name()
            ),
            Self::CpusWithoutTimer(cpus) => write!(
                f,
                "cpus={} needs a timer source (hrtimer, hrtimer_hard, hrtimer_soft): the edu \
                 device has one interrupt",
                cpus
            ),
            Self::CpusNeedHardAndCount(cpus) => write!(
                f,
                "cpus={} makes the handlers contend for the lock: it needs handler=hard and a \
                 count",
                cpus
            ),
            Self::EndlessWithoutTimer => f.write_str(
                "count=0 (interrupts until rmmod) needs a timer source; give source=edu a count",
            ),
        }
    }
}

impl Config {
    /// Checks the parameters as a whole and refuses combinations that do not make sense.
    pub(crate) fn from_params(params: Params) -> core::result::Result<Self, Refusal> {
        let Params {
            lock,
            source,
            handler,
            irq,
            count,
            period_us,
            defer_us,
            cpus,
        } = params;
        for (name, value, range) in [
            ("period_us", period_us, PERIOD_US_RANGE),
            ("defer_us", defer_us, DEFER_US_RANGE),
            ("cpus", cpus, CPUS_RANGE),
        ] {
            if !range.contains(&value) {
                return Err(Refusal::OutOfRange(name, value, range));
            }
        }
        let held_mutex = matches!(lock, LockMode::MutexContended | LockMode::MutexTrylock);
        if defer_us != 0 && handler == HandlerMode::Hard {
            return Err(Refusal::DeferInHardHandler);
        }
        if let Some(kind) = irq.filter(|_| source.is_timer()) {
            return Err(Refusal::IrqWithoutEdu(kind));
        }
        if handler == HandlerMode::Threaded && source.is_timer() {
            return Err(Refusal::ThreadedWithoutEdu);
        }
        if held_mutex && handler != HandlerMode::Hard {
            return Err(Refusal::HeldMutexNotHard(lock));
        }
        if lock == LockMode::MutexContended && !source.is_timer() {
            return Err(Refusal::ContendedWithoutTimer);
        }
        if held_mutex && cpus != 1 {
            return Err(Refusal::HeldMutexOnCpus(lock));
        }
        if cpus != 1 && !source.is_timer() {
            return Err(Refusal::CpusWithoutTimer(cpus));
        }
        if cpus != 1 && (handler != HandlerMode::Hard || count == 0) {
            return Err(Refusal::CpusNeedHardAndCount(cpus));
        }
        if count == 0 && !source.is_timer() {
            return Err(Refusal::EndlessWithoutTimer);
        }
        Ok(Self {
            lock,
            source,
            handler,
            // The default of `irq`, as its `choice_param!` above declares it.
            irq: irq.unwrap_or(IrqKind::Intx),
            count,
            period_us,
            defer_us,
            cpus,
        })
    }
}

impl kernel::fmt::Display for Config {
    fn fmt(&self, f: &mut kernel::fmt::Formatter<'_>) -> kernel::fmt::Result {
        write!(
            f,
            "lock={} source={} handler={}",
            self.lock.name(),
            self.source.name(),
            self.handler.name()
        )?;
        if self.source == Source::Edu {
            write!(f, " irq={}", self.irq.name())?;
        }
        if self.cpus != 1 {
            write!(f, " cpus={}", self.cpus)?;
        }
        write!(f, " count={} period_us={}", self.count, self.period_us)?;
        if self.defer_us != 0 {
            write!(f, " defer_us={}", self.defer_us)?;
        }
        write!(f, " preempt={}", crate::context::preempt_model())
    }
}

#[kunit_tests(irqlock_config)]
mod tests {
    use super::*;
    use kernel::str::CString;

    /// What `insmod irqlock.ko` alone gives.
    const DEFAULTS: Params = Params {
        lock: LockMode::SpinlockIrqsave,
        source: Source::Hrtimer,
        handler: HandlerMode::Hard,
        irq: None,
        count: 8,
        period_us: 1000,
        defer_us: 0,
        cpus: 1,
    };

    /// Why `params` are refused, or `None` when they are accepted.
    fn refusal(params: Params) -> Option<Refusal> {
        Config::from_params(params).err()
    }

    /// The message a refusal logs.
    fn message(refusal: Option<Refusal>) -> Result<CString> {
        let refusal = refusal.ok_or(EINVAL)?;
        CString::try_from_fmt(fmt!("{}", refusal))
    }

    #[test]
    fn period_us_out_of_range() {
        for period_us in [0, 9, 1_000_001] {
            assert_eq!(
                refusal(Params {
                    period_us,
                    ..DEFAULTS
                }),
                Some(Refusal::OutOfRange("period_us", period_us, PERIOD_US_RANGE))
            );
        }
    }

    #[test]
    fn defer_us_out_of_range() {
        let params = Params {
            handler: HandlerMode::Workqueue,
            defer_us: 100_001,
            ..DEFAULTS
        };
        assert_eq!(
            refusal(params),
            Some(Refusal::OutOfRange("defer_us", 100_001, DEFER_US_RANGE))
        );
    }

    #[test]
    fn cpus_out_of_range() {
        for cpus in [0, 3] {
            assert_eq!(
                refusal(Params { cpus, ..DEFAULTS }),
                Some(Refusal::OutOfRange("cpus", cpus, CPUS_RANGE))
            );
        }
    }

    #[test]
    fn defer_us_in_the_hard_handler() {
        let params = Params {
            defer_us: 100,
            ..DEFAULTS
        };
        assert_eq!(refusal(params), Some(Refusal::DeferInHardHandler));
    }

    #[test]
    fn irq_for_a_timer() {
        for source in [Source::Hrtimer, Source::HrtimerHard, Source::HrtimerSoft] {
            let params = Params {
                source,
                irq: Some(IrqKind::Intx),
                ..DEFAULTS
            };
            assert_eq!(refusal(params), Some(Refusal::IrqWithoutEdu(IrqKind::Intx)));
        }
    }

    #[test]
    fn threaded_handler_for_a_timer() {
        let params = Params {
            handler: HandlerMode::Threaded,
            ..DEFAULTS
        };
        assert_eq!(refusal(params), Some(Refusal::ThreadedWithoutEdu));
    }

    #[test]
    fn held_mutex_outside_the_hard_handler() {
        for (lock, source, handler) in [
            (
                LockMode::MutexContended,
                Source::Hrtimer,
                HandlerMode::Workqueue,
            ),
            (LockMode::MutexTrylock, Source::Edu, HandlerMode::Threaded),
        ] {
            let params = Params {
                lock,
                source,
                handler,
                ..DEFAULTS
            };
            assert_eq!(refusal(params), Some(Refusal::HeldMutexNotHard(lock)));
        }
    }

    #[test]
    fn contended_mutex_without_a_timer() {
        let params = Params {
            lock: LockMode::MutexContended,
            source: Source::Edu,
            ..DEFAULTS
        };
        assert_eq!(refusal(params), Some(Refusal::ContendedWithoutTimer));
    }

    #[test]
    fn held_mutex_on_two_cpus() {
        for lock in [LockMode::MutexContended, LockMode::MutexTrylock] {
            let params = Params {
                lock,
                cpus: 2,
                ..DEFAULTS
            };
            assert_eq!(refusal(params), Some(Refusal::HeldMutexOnCpus(lock)));
        }
    }

    #[test]
    fn two_cpus_without_a_timer() {
        let params = Params {
            source: Source::Edu,
            cpus: 2,
            ..DEFAULTS
        };
        assert_eq!(refusal(params), Some(Refusal::CpusWithoutTimer(2)));
    }

    #[test]
    fn two_cpus_without_the_hard_handler_or_a_count() {
        for (handler, count) in [(HandlerMode::Workqueue, 8), (HandlerMode::Hard, 0)] {
            let params = Params {
                handler,
                count,
                cpus: 2,
                ..DEFAULTS
            };
            assert_eq!(refusal(params), Some(Refusal::CpusNeedHardAndCount(2)));
        }
    }

    #[test]
    fn endless_without_a_timer() {
        let params = Params {
            source: Source::Edu,
            count: 0,
            ..DEFAULTS
        };
        assert_eq!(refusal(params), Some(Refusal::EndlessWithoutTimer));
    }

    /// The crate documentation's examples, and the ends of every range.
    #[test]
    fn accepted_combinations() {
        for params in [
            DEFAULTS,
            Params {
                lock: LockMode::Mutex,
                handler: HandlerMode::Workqueue,
                defer_us: 100_000,
                ..DEFAULTS
            },
            Params {
                lock: LockMode::MutexContended,
                period_us: 10,
                ..DEFAULTS
            },
            Params {
                lock: LockMode::MutexTrylock,
                source: Source::HrtimerSoft,
                period_us: 1_000_000,
                ..DEFAULTS
            },
            Params {
                cpus: 2,
                ..DEFAULTS
            },
            Params {
                count: 0,
                ..DEFAULTS
            },
            Params {
                lock: LockMode::RawSpinlockIrqsave,
                source: Source::HrtimerHard,
                ..DEFAULTS
            },
            Params {
                lock: LockMode::Mutex,
                source: Source::Edu,
                handler: HandlerMode::Threaded,
                irq: Some(IrqKind::Msi),
                defer_us: 0,
                ..DEFAULTS
            },
        ] {
            assert_eq!(refusal(params), None);
        }
    }

    /// `irq` left out is `intx`; given, it is kept.
    #[test]
    fn irq_defaults_to_intx() {
        let edu = Params {
            source: Source::Edu,
            ..DEFAULTS
        };
        let irq = |irq| Config::from_params(Params { irq, ..edu }).map(|config| config.irq);
        assert_eq!(irq(None), Ok(IrqKind::Intx));
        assert_eq!(irq(Some(IrqKind::Msi)), Ok(IrqKind::Msi));
    }

    /// A few of the messages, word for word: they name the fix, and scenarios match them.
    #[test]
    fn messages_name_the_fix() -> Result {
        let threaded = Params {
            handler: HandlerMode::Threaded,
            ..DEFAULTS
        };
        assert_eq!(
            message(refusal(threaded))?.to_bytes(),
            b"handler=threaded needs source=edu: a timer callback has no IRQ thread"
        );
        let msi = Params {
            irq: Some(IrqKind::Msi),
            ..DEFAULTS
        };
        assert_eq!(
            message(refusal(msi))?.to_bytes(),
            b"irq=msi needs source=edu: only the edu device has an interrupt kind to choose"
        );
        let period = Params {
            period_us: 5,
            ..DEFAULTS
        };
        assert_eq!(
            message(refusal(period))?.to_bytes(),
            b"period_us=5 is out of range; accepted: 10 to 1000000"
        );
        let defer = Params {
            defer_us: 1,
            ..DEFAULTS
        };
        assert_eq!(
            message(refusal(defer))?.to_bytes(),
            b"defer_us needs handler=workqueue or handler=threaded: the hard handler must not sleep"
        );
        let two = Params {
            source: Source::Edu,
            cpus: 2,
            ..DEFAULTS
        };
        assert_eq!(
            message(refusal(two))?.to_bytes(),
            b"cpus=2 needs a timer source (hrtimer, hrtimer_hard, hrtimer_soft): the edu device \
              has one interrupt"
        );
        Ok(())
    }
}
