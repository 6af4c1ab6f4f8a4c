// SPDX-License-Identifier: GPL-2.0

//! What the module parameters ask for, checked as a whole before anything starts.

use crate::param::{
    choice_param,
    Choice, //
};
use kernel::prelude::*;

/// Declares a fieldless enum whose values users choose by name, in declaration order.
macro_rules! choice_enum {
    ($(#[$meta:meta])* $name:ident, $param:literal, { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq)]
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

impl Config {
    /// Reads the parameters and refuses combinations that do not make sense, naming the fix.
    pub(crate) fn from_params(
        count: u32,
        period_us: u32,
        defer_us: u32,
        cpus: u32,
    ) -> Result<Self> {
        let config = Self {
            lock: lock.get(),
            source: source.get(),
            handler: handler.get(),
            irq: irq.get(),
            count,
            period_us,
            defer_us,
            cpus,
        };
        let refuse = |why: core::fmt::Arguments<'_>| {
            pr_err!("{}\n", why);
            Err(EINVAL)
        };
        for (name, value, range) in [
            ("period_us", period_us, PERIOD_US_RANGE),
            ("defer_us", defer_us, DEFER_US_RANGE),
            ("cpus", cpus, CPUS_RANGE),
        ] {
            if !range.contains(&value) {
                return refuse(format_args!(
                    "{}={} is out of range; accepted: {} to {}",
                    name,
                    value,
                    range.start(),
                    range.end()
                ));
            }
        }
        if defer_us != 0 && config.handler == HandlerMode::Hard {
            return refuse(format_args!(
                "defer_us needs handler=workqueue or handler=threaded: the hard handler must not sleep"
            ));
        }
        if irq.given() && config.source != Source::Edu {
            return refuse(format_args!(
                "irq={} needs source=edu: only the edu device has an interrupt kind to choose",
                config.irq.name()
            ));
        }
        if config.handler == HandlerMode::Threaded && config.source.is_timer() {
            return refuse(format_args!(
                "handler=threaded needs source=edu: a timer callback has no IRQ thread"
            ));
        }
        if matches!(
            config.lock,
            LockMode::MutexContended | LockMode::MutexTrylock
        ) && config.handler != HandlerMode::Hard
        {
            return refuse(format_args!(
                "lock={} shows a mistake in the hard handler; use handler=hard",
                config.lock.name()
            ));
        }
        if config.lock == LockMode::MutexContended && !config.source.is_timer() {
            return refuse(format_args!(
                "lock=mutex_contended needs a timer source (hrtimer, hrtimer_hard, hrtimer_soft): \
                 only a pinned timer is sure to interrupt the CPU that holds the mutex"
            ));
        }
        if matches!(
            config.lock,
            LockMode::MutexContended | LockMode::MutexTrylock
        ) && config.cpus != 1
        {
            return refuse(format_args!(
                "lock={} holds the mutex in process context on one CPU; use cpus=1",
                config.lock.name()
            ));
        }
        if config.cpus != 1 && !config.source.is_timer() {
            return refuse(format_args!(
                "cpus={} needs a timer source (hrtimer, hrtimer_hard, hrtimer_soft): the edu \
                 device has one interrupt",
                config.cpus
            ));
        }
        if config.cpus != 1 && (config.handler != HandlerMode::Hard || config.count == 0) {
            return refuse(format_args!(
                "cpus={} makes the handlers contend for the lock: it needs handler=hard and a \
                 count",
                config.cpus
            ));
        }
        if config.count == 0 && !config.source.is_timer() {
            return refuse(format_args!(
                "count=0 (interrupts until rmmod) needs a timer source; give source=edu a count"
            ));
        }
        Ok(config)
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
