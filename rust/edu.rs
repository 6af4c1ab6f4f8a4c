// SPDX-License-Identifier: GPL-2.0

//! Interrupt source `edu`: QEMU's educational PCI device (`-device edu`, 1234:11e8).
//!
//! Writing to the device's raise register makes it assert its interrupt, INTx or MSI; the
//! handler reads the status register and acknowledges it, or the line stays raised. See
//! QEMU's `docs/specs/edu.rst`.

use crate::{
    config::{
        HandlerMode,
        IrqKind, //
    },
    lesson::Lesson,
    param::Choice, //
};
use kernel::{
    device::Core,
    io::Io,
    irq::{
        self,
        Flags,
        IrqRequest,
        IrqReturn,
        ThreadedIrqReturn, //
    },
    pci,
    prelude::*,
    sync::{
        atomic::{
            ordering,
            Atomic, //
        },
        Arc, //
    },
    time::{
        delay::fsleep,
        Delta, //
    }, //
};

const EDU_VENDOR: u16 = 0x1234;
const EDU_DEVICE: u16 = 0x11e8;

/// The registers used here; all accesses are 4 bytes wide, below 0x80.
const REG_IDENT: usize = 0x00;
const REG_IRQ_STATUS: usize = 0x24;
const REG_IRQ_RAISE: usize = 0x60;
const REG_IRQ_ACK: usize = 0x64;
const BAR_SIZE: usize = 0x80;
/// The status bit the raise register sets.
const IRQ_BIT: u32 = 1;

/// How the probe of this load went, for init: [`NOT_PROBED`], [`PROBED`], or the negative
/// errno the probe failed with.
pub(crate) static PROBE: Atomic<i32> = Atomic::new(NOT_PROBED);
pub(crate) const NOT_PROBED: i32 = 0;
pub(crate) const PROBED: i32 = 1;

/// The name of an errno the probe can fail with. `Error`'s own `Debug` names errnos only on
/// kernels with `CONFIG_SYMBOLIC_ERRNAME`, and prints `Error(110)` elsewhere.
pub(crate) fn probe_error_name(error: Error) -> &'static str {
    [
        (ETIMEDOUT, "ETIMEDOUT"),
        (ENODEV, "ENODEV"),
        (EBUSY, "EBUSY"),
        (ENOMEM, "ENOMEM"),
        (ENOSPC, "ENOSPC"),
        (EINVAL, "EINVAL"),
        (EIO, "EIO"),
    ]
    .into_iter()
    .find(|(known, _)| *known == error)
    .map_or("an error", |(_, name)| name)
}

/// The handler: acknowledges the device, then hands the interrupt to the [`Lesson`].
struct EduIrq<'bound> {
    bar: pci::Bar<'bound, BAR_SIZE>,
    lesson: Arc<Lesson>,
}

impl EduIrq<'_> {
    /// Reads and acknowledges the device's interrupt status; false if it was not ours (INTx
    /// lines are shared).
    fn acknowledge(&self) -> bool {
        let status = self.bar.read32(REG_IRQ_STATUS);
        if status == 0 {
            return false;
        }
        self.bar.write32(status, REG_IRQ_ACK);
        true
    }

    /// The hard-IRQ part for both kinds of handler; false if the interrupt was not ours.
    fn take(&self) -> bool {
        if !self.acknowledge() {
            return false;
        }
        Lesson::interrupt(self.lesson.as_arc_borrow(), 0);
        true
    }
}

impl irq::Handler for EduIrq<'_> {
    fn handle(&self) -> IrqReturn {
        if self.take() {
            IrqReturn::Handled
        } else {
            IrqReturn::None
        }
    }
}

impl irq::ThreadedHandler for EduIrq<'_> {
    fn handle(&self) -> ThreadedIrqReturn {
        if self.take() {
            ThreadedIrqReturn::WakeThread
        } else {
            ThreadedIrqReturn::None
        }
    }

    fn handle_threaded(&self) -> IrqReturn {
        self.lesson.deferred("thread");
        IrqReturn::Handled
    }
}

/// The registered handler, in the kind `handler=` asks for.
enum Registration<'bound> {
    Hard(Pin<KBox<irq::Registration<'bound, EduIrq<'bound>>>>),
    Threaded(Pin<KBox<irq::ThreadedRegistration<'bound, EduIrq<'bound>>>>),
}

impl Registration<'_> {
    fn bar(&self) -> &pci::Bar<'_, BAR_SIZE> {
        match self {
            Self::Hard(r) => &r.handler().bar,
            Self::Threaded(r) => &r.handler().bar,
        }
    }
}

/// A bound device.
///
/// # Invariants
///
/// `irq` is `Some` until `drop`, which frees it first: the handler is gone before the vectors
/// it was requested on (a rule of `pci::IrqVectorRegistration`) and before the work item is
/// flushed, whatever the order of the fields.
pub(crate) struct EduData<'bound> {
    irq: Option<Registration<'bound>>,
    _vectors: Pin<KBox<pci::IrqVectorRegistration<'bound>>>,
    lesson: Arc<Lesson>,
}

impl Drop for EduData<'_> {
    fn drop(&mut self) {
        // Frees the IRQ, after waiting for a running handler (and its IRQ thread).
        drop(self.irq.take());
        // Nothing queues the work item any more; wait for one already queued.
        self.lesson.flush_work();
        self.lesson.report("unloaded: irq freed, ");
    }
}

pub(crate) struct EduDriver;

kernel::pci_device_table!(
    PCI_TABLE,
    <EduDriver as pci::Driver>::IdInfo,
    // The 7.3 crate names no constant for QEMU's vendor 0x1234, and builds IDs only from
    // named vendors, so match the device's class (0x00ff00, "unclassified, other") and check
    // the IDs in probe.
    [(pci::DeviceId::from_class(0x00_ff00, 0xff_ff00), ())]
);

impl EduDriver {
    fn register<'bound>(
        pdev: &'bound pci::Device<Core<'_>>,
        request: IrqRequest<'bound>,
        lesson: &Arc<Lesson>,
    ) -> Result<Registration<'bound>> {
        let bar = pdev.iomap_region_sized::<BAR_SIZE>(0, c"irqlock")?;
        let ident = bar.read32(REG_IDENT);
        if ident & 0xff != 0xed {
            dev_err!(pdev, "not an edu device: identification {:#x}\n", ident);
            return Err(ENODEV);
        }
        let handler = EduIrq {
            bar,
            lesson: lesson.clone(),
        };
        let flags = match lesson.config.irq {
            IrqKind::Intx => Flags::SHARED,
            IrqKind::Msi => Flags::TRIGGER_NONE,
        };
        Ok(match lesson.config.handler {
            HandlerMode::Threaded => Registration::Threaded(KBox::pin_init(
                // SAFETY: The registration is kept in `EduData` until the device is unbound
                // and dropped then; it is never forgotten.
                unsafe {
                    irq::ThreadedRegistration::new(
                        request,
                        flags,
                        c"irqlock",
                        Ok::<_, Error>(handler),
                    )
                },
                GFP_KERNEL,
            )?),
            HandlerMode::Hard | HandlerMode::Workqueue => Registration::Hard(KBox::pin_init(
                // SAFETY: As above: kept in `EduData` and dropped, never forgotten.
                unsafe {
                    irq::Registration::new(request, flags, c"irqlock", Ok::<_, Error>(handler))
                },
                GFP_KERNEL,
            )?),
        })
    }

    /// Raises `count` interrupts, one at a time, and waits for the interrupt path; fails with
    /// `ETIMEDOUT` if an interrupt never reaches the handler.
    fn raise(pdev: &pci::Device<Core<'_>>, irq: &Registration<'_>, lesson: &Lesson) -> Result {
        let period = Delta::from_micros(i64::from(lesson.config.period_us));
        for n in 1..=lesson.config.count {
            irq.bar().write32(IRQ_BIT, REG_IRQ_RAISE);
            // Wait up to a second for the handler to take it.
            let mut waited = 0;
            while lesson.interrupts() < n && waited < 100_000 {
                fsleep(Delta::from_micros(10));
                waited += 1;
            }
            if lesson.interrupts() < n {
                dev_err!(pdev, "interrupt {} never reached the handler in 1 s\n", n);
                return Err(ETIMEDOUT);
            }
            fsleep(period);
        }
        lesson.wait_done();
        Ok(())
    }

    fn bind<'bound>(pdev: &'bound pci::Device<Core<'_>>) -> Result<EduData<'bound>> {
        let lesson = Lesson::new(crate::config()?)?;
        lesson.process_increment();
        pdev.enable_device_mem()?;
        pdev.set_master();

        let kind = match lesson.config.irq {
            IrqKind::Intx => pci::IrqType::Intx,
            IrqKind::Msi => pci::IrqType::Msi,
        };
        let vectors = KBox::pin(
            pdev.alloc_irq_vectors(1, 1, pci::IrqTypes::default().with(kind))?,
            GFP_KERNEL,
        )?;
        // SAFETY: The vectors live in a heap allocation that `EduData` owns, so this reference
        // stays valid while the allocation does. Its only user is the handler registration,
        // which is dropped before the vectors: by `EduData::drop` (its type invariant), or, on
        // the error paths below, because `irq` is declared after `vectors` and locals drop in
        // reverse order.
        let vectors_ref: &'bound pci::IrqVectorRegistration<'bound> =
            unsafe { &*core::ptr::from_ref(&*vectors) };
        let vector = vectors_ref.index(0)?;
        let number = IrqRequest::from(vector);
        dev_info!(
            pdev,
            "edu: irq={} vector {}\n",
            lesson.config.irq.name(),
            number.irq()
        );
        let irq = Self::register(pdev, number, &lesson)?;
        Self::raise(pdev, &irq, &lesson)?;
        lesson.report_done();
        // INVARIANT: `irq` is `Some`.
        Ok(EduData {
            irq: Some(irq),
            _vectors: vectors,
            lesson,
        })
    }
}

impl pci::Driver for EduDriver {
    type IdInfo = ();
    type Data<'bound> = EduData<'bound>;

    const ID_TABLE: pci::IdTable<Self::IdInfo> = &PCI_TABLE;

    fn probe<'bound>(
        pdev: &'bound pci::Device<Core<'_>>,
        _info: Option<&'bound Self::IdInfo>,
    ) -> impl PinInit<Self::Data<'bound>, Error> + 'bound {
        if pdev.vendor_id().as_raw() != EDU_VENDOR || pdev.device_id() != EDU_DEVICE {
            return Err(ENODEV);
        }
        let bound = Self::bind(pdev);
        PROBE.store(
            match &bound {
                Ok(_) => PROBED,
                Err(e) => e.to_errno(),
            },
            ordering::Release,
        );
        bound
    }
}
