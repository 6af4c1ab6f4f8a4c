// SPDX-License-Identifier: GPL-2.0

//! Exercise 4: the edu device's interrupt handler, and the IRQ thread that may sleep.
//!
//! Needs QEMU's `-device edu`. The driver raises `count` interrupts through the device's raise
//! register, one at a time; the handler acknowledges each and adds it to a counter guarded by
//! a mutex, which probe, in process context, adds one to as well. `irq=1` asks for MSI instead
//! of INTx. The checker loads the module as `insmod ex04.ko count=8 nonce=N`, reads the kernel's
//! own count in `/proc/interrupts` (the line named `ex04`), unloads it, and reads the line the
//! module prints then:
//!
//! ```text
//! exercise-check: nonce=N interrupts=8 counter=9
//! ```
//!
//! Only the lines from a `// TODO n:` line to its `// END TODO n` are yours to change: the
//! checker compares every other line with the exercise's.

use kernel::{
    device::Core,
    driver,
    io::Io,
    irq::{
        self,
        Flags,
        IrqRequest,
        IrqReturn, //
    },
    new_mutex, pci,
    prelude::*,
    sync::{
        atomic::{
            ordering,
            Atomic, //
        },
        Arc,
        Mutex, //
    },
    time::{
        delay::fsleep,
        Delta, //
    },
};
// TODO 1: The handler runs in hard-IRQ context; a threaded handler has a second part that
// runs in a kernel thread.
//# solution
use kernel::irq::ThreadedIrqReturn;
//# starter
//# end

module! {
    type: Exercise,
    name: "ex04",
    authors: ["irqlock developers"],
    description: "Exercise 4: the edu device's handler and its IRQ thread",
    license: "GPL",
    params: {
        count: u32 {
            default: 8,
            description: "Interrupts to raise",
        },
        irq: u32 {
            default: 0,
            description: "0: INTx; 1: MSI",
        },
        nonce: u32 {
            default: 0,
            description: "The checker's number for this load",
        },
    },
}

const EDU_VENDOR: u16 = 0x1234;
const EDU_DEVICE: u16 = 0x11e8;
const REG_IRQ_STATUS: usize = 0x24;
const REG_IRQ_RAISE: usize = 0x60;
const REG_IRQ_ACK: usize = 0x64;
const BAR_SIZE: usize = 0x80;

/// The counter, and the interrupts taken.
#[pin_data]
struct State {
    #[pin]
    value: Mutex<u64>,
    /// Interrupts acknowledged, counted before the handler's own code runs.
    fired: Atomic<u32>,
    /// Interrupts whose update is still to be made.
    pending: Atomic<u32>,
}

impl State {
    /// Adds every pending interrupt to the counter; takes the mutex, which may sleep.
    fn update(&self) {
        let mut value = self.value.lock();
        *value += u64::from(self.pending.xchg(0, ordering::Relaxed));
    }
}

/// The handler's data: the device's registers and the state.
struct EduIrq<'bound> {
    bar: pci::Bar<'bound, BAR_SIZE>,
    state: Arc<State>,
}

impl EduIrq<'_> {
    /// Reads and acknowledges the device's interrupt status, and counts the interrupt; false
    /// if it was not the device's (INTx lines are shared).
    fn acknowledge(&self) -> bool {
        let status = self.bar.read32(REG_IRQ_STATUS);
        if status == 0 {
            return false;
        }
        self.bar.write32(status, REG_IRQ_ACK);
        self.state.fired.fetch_add(1, ordering::Relaxed);
        self.state.pending.fetch_add(1, ordering::Relaxed);
        true
    }
}

// TODO 2: Acknowledge the device in hard-IRQ context, and update the counter where sleeping
// is allowed.
//# solution
impl irq::ThreadedHandler for EduIrq<'_> {
    fn handle(&self) -> ThreadedIrqReturn {
        if !self.acknowledge() {
            return ThreadedIrqReturn::None;
        }
        ThreadedIrqReturn::WakeThread
    }

    fn handle_threaded(&self) -> IrqReturn {
        self.state.update();
        IrqReturn::Handled
    }
}

type Registration<'bound> = irq::ThreadedRegistration<'bound, EduIrq<'bound>>;

/// Registers `handler` for `request`.
fn register<'bound>(
    request: IrqRequest<'bound>,
    flags: Flags,
    handler: EduIrq<'bound>,
) -> Result<Pin<KBox<Registration<'bound>>>> {
    KBox::pin_init(
        // SAFETY: The registration is kept in `EduData` until the device is unbound, and
        // dropped then; it is never forgotten.
        unsafe { irq::ThreadedRegistration::new(request, flags, c"ex04", Ok::<_, Error>(handler)) },
        GFP_KERNEL,
    )
}
//# starter
// impl irq::Handler for EduIrq<'_> {
//     fn handle(&self) -> IrqReturn {
//         if !self.acknowledge() {
//             return IrqReturn::None;
//         }
//         self.state.update();
//         IrqReturn::Handled
//     }
// }
//
// type Registration<'bound> = irq::Registration<'bound, EduIrq<'bound>>;
//
// /// Registers `handler` for `request`.
// fn register<'bound>(
//     request: IrqRequest<'bound>,
//     flags: Flags,
//     handler: EduIrq<'bound>,
// ) -> Result<Pin<KBox<Registration<'bound>>>> {
//     KBox::pin_init(
//         // SAFETY: The registration is kept in `EduData` until the device is unbound, and
//         // dropped then; it is never forgotten.
//         unsafe { irq::Registration::new(request, flags, c"ex04", Ok::<_, Error>(handler)) },
//         GFP_KERNEL,
//     )
// }
//# end

/// A bound device.
///
/// # Invariants
///
/// `irq` is `Some` until `drop`, which frees it first: the handler is gone before the vectors
/// it was requested on.
struct EduData<'bound> {
    irq: Option<Pin<KBox<Registration<'bound>>>>,
    _vectors: Pin<KBox<pci::IrqVectorRegistration<'bound>>>,
    state: Arc<State>,
}

impl Drop for EduData<'_> {
    fn drop(&mut self) {
        // Frees the IRQ, after its running handler and IRQ thread have returned.
        drop(self.irq.take());
        pr_info!(
            "exercise-check: nonce={} interrupts={} counter={}\n",
            module_parameters::nonce.value(),
            self.state.fired.load(ordering::Relaxed),
            *self.state.value.lock()
        );
    }
}

struct EduDriver;

kernel::pci_device_table!(
    PCI_TABLE,
    <EduDriver as pci::Driver>::IdInfo,
    // The 7.3 crate builds IDs only from named vendors: match the class, check the IDs in probe.
    [(pci::DeviceId::from_class(0x00_ff00, 0xff_ff00), ())]
);

impl EduDriver {
    fn bind<'bound>(pdev: &'bound pci::Device<Core<'_>>) -> Result<EduData<'bound>> {
        let state = Arc::pin_init(
            pin_init!(State {
                value <- new_mutex!(0, "ex04_counter"),
                fired: Atomic::new(0),
                pending: Atomic::new(0),
            }),
            GFP_KERNEL,
        )?;
        *state.value.lock() += 1;
        pdev.enable_device_mem()?;
        pdev.set_master();
        let (kind, flags) = match module_parameters::irq.value() {
            0 => (pci::IrqType::Intx, Flags::SHARED),
            _ => (pci::IrqType::Msi, Flags::TRIGGER_NONE),
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
        let request = IrqRequest::from(vectors_ref.index(0)?);
        let bar = pdev.iomap_region_sized::<BAR_SIZE>(0, c"ex04")?;
        let handler = EduIrq {
            bar,
            state: state.clone(),
        };
        let irq = register(request, flags, handler)?;
        let count = module_parameters::count.value().clamp(1, 10_000);
        for n in 1..=count {
            irq.handler().bar.write32(1, REG_IRQ_RAISE);
            // Waits up to a second for the handler to take it.
            let mut waited = 0;
            while state.fired.load(ordering::Relaxed) < n && waited < 1000 {
                fsleep(Delta::from_millis(1));
                waited += 1;
            }
            if state.fired.load(ordering::Relaxed) < n {
                dev_err!(pdev, "interrupt {} never reached the handler in 1 s\n", n);
                break;
            }
        }
        // INVARIANT: `irq` is `Some`.
        Ok(EduData {
            irq: Some(irq),
            _vectors: vectors,
            state,
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
        Self::bind(pdev)
    }
}

struct Exercise {
    _driver: Pin<KBox<driver::Registration<pci::Adapter<EduDriver>>>>,
}

impl kernel::Module for Exercise {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let driver = KBox::pin_init(
            driver::Registration::<pci::Adapter<EduDriver>>::new(c"ex04", module),
            GFP_KERNEL,
        )?;
        Ok(Self { _driver: driver })
    }
}
