// SPDX-License-Identifier: GPL-2.0

//! The guest's architecture (`--arch`): every fact that differs between an x86_64 guest and an
//! arm64 one lives here, so that the rest of the harness asks instead of knowing.
//!
//! Two facts depend on the host, and only these: [`Arch::host`] (the default `--arch` is the
//! host's own, so that an arm64 laptop or CI runner tests arm64), and [`Arch::kvm_possible`]
//! (KVM runs only a guest of the host's architecture).

use crate::vm::accel::Accel;

/// A guest architecture the harness builds a kernel for and boots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Arch {
    /// x86_64 on QEMU's `q35` machine: 8250 UARTs, the local APIC timer, PCI with MSI
    /// through the local APIC.
    #[value(name = "x86_64")]
    X86_64,
    /// arm64 on QEMU's `virt` machine: PL011 UARTs, the architected timer behind a GICv3,
    /// PCI behind the generic ECAM host bridge with MSI through the GIC's ITS.
    #[value(name = "arm64")]
    Arm64,
}

impl Default for Arch {
    fn default() -> Self {
        Self::host()
    }
}

impl Arch {
    /// The kernel's name for it (`ARCH=`, and the name in caches and messages).
    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Arm64 => "arm64",
        }
    }

    /// Host-dependent: the host's own architecture, the default `--arch`; x86_64 on any other
    /// host (the harness is tested on x86_64 hosts; arm64 hosts are untested).
    pub fn host() -> Self {
        Self::from_host(std::env::consts::ARCH)
    }

    fn from_host(rust_arch: &str) -> Self {
        match rust_arch {
            "aarch64" => Arch::Arm64,
            _ => Arch::X86_64,
        }
    }

    /// Host-dependent: KVM can run this guest only on a host of the same architecture; for a
    /// foreign guest the harness uses TCG without probing.
    pub fn kvm_possible(self) -> bool {
        self == Self::host()
    }

    /// `make` variables that select the architecture and, for a foreign one, Debian's cross
    /// compiler (`gcc-aarch64-linux-gnu`).
    pub fn make_vars(self) -> Vec<String> {
        let mut vars = vec![format!("ARCH={}", self.name())];
        if !self.cross_prefix().is_empty() {
            vars.push(format!("CROSS_COMPILE={}", self.cross_prefix()));
        }
        vars
    }

    /// The prefix of the GNU tools that build for this architecture (empty: the host's).
    pub fn cross_prefix(self) -> &'static str {
        match (self, Self::host()) {
            (a, h) if a == h => "",
            (Arch::Arm64, _) => "aarch64-linux-gnu-",
            (Arch::X86_64, _) => "x86_64-linux-gnu-",
        }
    }

    /// The kernel image `make` leaves in the build tree, and its target
    /// (arch/x86/Makefile: bzImage; arch/arm64/Makefile: Image, which QEMU's `-kernel` boots).
    pub fn image(self) -> (&'static str, &'static str) {
        match self {
            Arch::X86_64 => ("bzImage", "arch/x86/boot/bzImage"),
            Arch::Arm64 => ("Image", "arch/arm64/boot/Image"),
        }
    }

    /// The directory under `configs/` whose fragments are merged after `configs/*.config`
    /// (which are written for x86_64) and override what does not apply to this architecture.
    pub fn config_dir(self) -> Option<&'static str> {
        match self {
            Arch::X86_64 => None,
            Arch::Arm64 => Some("arm64"),
        }
    }

    /// The QEMU program for this guest.
    pub fn qemu(self) -> &'static str {
        match self {
            Arch::X86_64 => "qemu-system-x86_64",
            Arch::Arm64 => "qemu-system-aarch64",
        }
    }

    /// The machine and CPU: `q35`; or `virt` with a GICv3, whose ITS takes MSIs (on by default
    /// for virt ≥ 6.2 under TCG too), and a CPU that computes pointer authentication codes
    /// with QEMU's cheap implementation-defined algorithm instead of QARMA5, which dominates
    /// the run time under TCG (target/arm/cpu64.c, `pauth-impdef`).
    pub fn machine_args(self, accel: Accel) -> &'static [&'static str] {
        match (self, accel) {
            (Arch::X86_64, _) => &["-machine", "q35"],
            (Arch::Arm64, Accel::Tcg) => &["-machine", "virt,gic-version=3", "-cpu", "max,pauth-impdef=on"],
            // KVM gives the host's CPU (`-cpu host`, in the accelerator's arguments) and its GIC.
            (Arch::Arm64, Accel::Kvm) => &["-machine", "virt,gic-version=max"],
        }
    }

    /// The guest's console and the harness's own channel, the first and second `-serial`
    /// (8250: ttyS0/ttyS1; on virt the second PL011 exists only with a second `-serial`,
    /// QEMU ≥ 9.0, docs/system/arm/virt.rst).
    pub fn serial_ttys(self) -> (&'static str, &'static str) {
        match self {
            Arch::X86_64 => ("ttyS0", "ttyS1"),
            Arch::Arm64 => ("ttyAMA0", "ttyAMA1"),
        }
    }

    /// How many times an x86_64 guest's time this guest's kernel takes to reach user space
    /// under TCG, for the deadlines of a boot: the same kernel config reached `/init` in 17 to
    /// 69 s on arm64 on a 2-core host loaded by kernel builds, against 14 s (51 s wall) for
    /// x86_64 at the same load (`pty_init` alone took 15 s: 256 legacy ptys, under lockdep).
    pub fn boot_factor(self) -> u32 {
        match self {
            Arch::X86_64 => 1,
            Arch::Arm64 => 3,
        }
    }

    /// Kernel command-line options this architecture's guest needs: on arm64, pseudo-NMIs
    /// (GICv3 priorities), so that a CPU spinning with interrupts off still answers the
    /// hard-lockup detector's backtrace request and panic's stop, as on x86 (configs/arm64/).
    pub fn kernel_args(self) -> &'static [&'static str] {
        match self {
            Arch::X86_64 => &[],
            Arch::Arm64 => &["irqchip.gicv3_pseudo_nmi=1"],
        }
    }

    /// The name of the program counter in QEMU's `info registers`, for where a hung CPU is.
    pub fn pc_register(self) -> &'static str {
        match self {
            Arch::X86_64 => "RIP",
            Arch::Arm64 => "PC",
        }
    }

    /// The Debian architecture of the guest's user space (busybox-static).
    pub fn debian(self) -> &'static str {
        match self {
            Arch::X86_64 => "amd64",
            Arch::Arm64 => "arm64",
        }
    }

    /// The ELF `e_machine` of this architecture's executables (EM_X86_64, EM_AARCH64).
    pub fn elf_machine(self) -> u16 {
        match self {
            Arch::X86_64 => 62,
            Arch::Arm64 => 183,
        }
    }

    /// The architecture an ELF file is for, from its header's `e_machine` (bytes 18-19, little
    /// endian); `None` for anything else or a file that cannot be read.
    pub fn of_elf(path: &std::path::Path) -> Option<Self> {
        use std::io::Read;
        let mut header = [0u8; 20];
        std::fs::File::open(path).ok()?.read_exact(&mut header).ok()?;
        if !header.starts_with(b"\x7fELF") {
            return None;
        }
        let machine = u16::from_le_bytes([header[18], header[19]]);
        [Arch::X86_64, Arch::Arm64].into_iter().find(|a| a.elf_machine() == machine)
    }

    /// The binutils program `name` (`strip`, `addr2line`) that reads this architecture's
    /// objects: the host's, or the cross one (`aarch64-linux-gnu-strip`), since Debian's
    /// binutils knows only the host's architecture.
    pub fn binutil(self, name: &str) -> String {
        format!("{}{name}", self.cross_prefix())
    }

    /// [`Arch::binutil`] for the architecture of the object `path`, the host's if unknown.
    pub fn binutil_for(path: &std::path::Path, name: &str) -> String {
        Self::of_elf(path).unwrap_or_else(Self::host).binutil(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_architecture_of_an_object() {
        let me = std::env::current_exe().unwrap();
        assert_eq!(Arch::of_elf(&me), Some(Arch::host()));
        assert_eq!(Arch::binutil_for(&me, "strip"), "strip");
        let dir = std::env::temp_dir().join(format!("irqlock-arch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut header = vec![0u8; 64];
        header[..4].copy_from_slice(b"\x7fELF");
        header[18] = 183;
        std::fs::write(dir.join("a.ko"), &header).unwrap();
        assert_eq!(Arch::of_elf(&dir.join("a.ko")), Some(Arch::Arm64));
        std::fs::write(dir.join("b"), b"#!/bin/sh\n").unwrap();
        assert_eq!(Arch::of_elf(&dir.join("b")), None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_host_names_the_default() {
        assert_eq!(Arch::from_host("aarch64"), Arch::Arm64);
        assert_eq!(Arch::from_host("x86_64"), Arch::X86_64);
        assert_eq!(Arch::from_host("riscv64"), Arch::X86_64);
    }

    #[test]
    fn a_foreign_guest_is_cross_built_and_never_on_kvm() {
        let foreign = if Arch::host() == Arch::Arm64 { Arch::X86_64 } else { Arch::Arm64 };
        assert!(!foreign.kvm_possible());
        assert!(Arch::host().kvm_possible());
        assert!(foreign.make_vars().iter().any(|v| v.starts_with("CROSS_COMPILE=")));
        assert!(!Arch::host().make_vars().iter().any(|v| v.starts_with("CROSS_COMPILE=")));
    }
}
