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
        /// `spin_lock_irqsave()` everywhere: correct.
        SpinlockIrqsave = "spinlock_irqsave",
        /// `mutex_lock()` in the interrupt handler: it may sleep.
        Mutex = "mutex",
        /// Plain `spin_lock()` in process context with interrupts on, and in the handler.
        Spinlock = "spinlock",
        /// `mutex_lock()` in the handler while process context holds the mutex on that CPU.
        MutexContended = "mutex_contended",
        /// `mutex_trylock()` in the handler: silent, and still wrong.
        MutexTrylock = "mutex_trylock",
    }
);

choice_enum!(
    /// Where the interrupts come from.
    Source, "source", {
        /// A high-resolution timer, pinned to the CPU that starts it.
        Hrtimer = "hrtimer",
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
    "How the handler takes the shared lock: spinlock_irqsave (default), mutex, spinlock, mutex_contended, mutex_trylock"
);
choice_param!(
    source: Source = Source::Hrtimer,
    "Interrupt source: hrtimer (default) or edu (QEMU -device edu)"
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
}

impl Config {
    /// Reads the parameters and refuses combinations that do not make sense, naming the fix.
    pub(crate) fn from_params(count: u32, period_us: u32, defer_us: u32) -> Result<Self> {
        let config = Self {
            lock: lock.get(),
            source: source.get(),
            handler: handler.get(),
            irq: irq.get(),
            count,
            period_us,
            defer_us,
        };
        let refuse = |why: core::fmt::Arguments<'_>| {
            pr_err!("{}\n", why);
            Err(EINVAL)
        };
        if !PERIOD_US_RANGE.contains(&period_us) {
            return refuse(format_args!(
                "period_us={} is out of range; accepted: {} to {}",
                period_us,
                PERIOD_US_RANGE.start(),
                PERIOD_US_RANGE.end()
            ));
        }
        if !DEFER_US_RANGE.contains(&defer_us) {
            return refuse(format_args!(
                "defer_us={} is out of range; accepted: {} to {}",
                defer_us,
                DEFER_US_RANGE.start(),
                DEFER_US_RANGE.end()
            ));
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
        if config.handler == HandlerMode::Threaded && config.source != Source::Edu {
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
        if config.lock == LockMode::MutexContended && config.source != Source::Hrtimer {
            return refuse(format_args!(
                "lock=mutex_contended needs source=hrtimer: only a pinned timer is sure to \
                 interrupt the CPU that holds the mutex"
            ));
        }
        if config.count == 0 && config.source != Source::Hrtimer {
            return refuse(format_args!(
                "count=0 (interrupts until rmmod) needs source=hrtimer; give source=edu a count"
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
        write!(f, " count={} period_us={}", self.count, self.period_us)?;
        if self.defer_us != 0 {
            write!(f, " defer_us={}", self.defer_us)?;
        }
        Ok(())
    }
}
