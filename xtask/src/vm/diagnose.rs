// SPDX-License-Identifier: GPL-2.0

//! What the harness records of a guest before it stops it: where each CPU was at a timeout,
//! and each CPU's local APIC once the kernel saw a CPU stop.

use super::monitor::Monitor;
use super::Vm;
use std::path::Path;

impl Vm {
    /// Records what explains a stop: at a timeout (`timed_out`, the awaited text not `seen`),
    /// where each CPU was; and when the console shows a hard lockup, each CPU's local APIC.
    pub(super) fn diagnose(&self, monitor: &mut Monitor, console: &Path, timed_out: bool, seen: bool) {
        if timed_out && !seen {
            self.record_hang(monitor, console);
        }
        // A CPU the hard-lockup detector saw stop: its local APIC (what it has accepted and not
        // yet ended, what waits) tells a stuck interrupt from a quiet timer.
        let lockup = || {
            std::fs::read(console).is_ok_and(|b| String::from_utf8_lossy(&b).contains("detected hard LOCKUP"))
        };
        if (timed_out || seen) && lockup() {
            self.record_lapics(monitor, console);
        }
    }

    /// Each CPU's local APIC, from QEMU's monitor, into `lapic.txt` beside the console.
    fn record_lapics(&self, monitor: &mut Monitor, console: &Path) {
        // Without the monitor's echo of the command (terminal escapes) and its prompt.
        let text: Vec<String> = (0..self.cpus)
            .filter_map(|cpu| monitor.run(&format!("info lapic {cpu}")).ok())
            .flat_map(|out| {
                out.lines()
                    .filter(|l| !l.contains('\x1b') && !l.starts_with("(qemu)"))
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect();
        let file = console.with_file_name("lapic.txt");
        if std::fs::write(&file, text.join("\n")).is_ok() {
            eprintln!("qemu: the kernel saw a CPU stop; each CPU's local APIC is in {}", file.display());
        }
    }

    /// Where each CPU of a hung guest was when the harness stopped it: the registers in
    /// `cpus-at-hang.txt` beside the console, and each CPU's instruction pointer, named from
    /// the kernel's `System.map`, on stderr.
    fn record_hang(&self, monitor: &mut Monitor, console: &Path) {
        let Ok(registers) = monitor.run("info registers -a") else { return };
        let file = console.with_file_name("cpus-at-hang.txt");
        let _ = std::fs::write(&file, &registers);
        // `<build>/arch/x86/boot/bzImage`: the build tree, and its System.map, are 4 levels up.
        let map = self.kernel.ancestors().nth(4).map(|dir| dir.join("System.map"));
        let symbols = map.and_then(|m| std::fs::read_to_string(m).ok()).unwrap_or_default();
        let places: Vec<String> = registers
            .lines()
            .filter_map(|line| line.split_once("RIP=")?.1.split_whitespace().next())
            .enumerate()
            .map(|(cpu, rip)| format!("CPU{cpu} at {}", name_address(&symbols, rip)))
            .collect();
        eprintln!("qemu: stopped at the timeout; {}; registers in {}", places.join(", "), file.display());
    }
}

/// `symbol+0xoff` for a hexadecimal kernel address, from `System.map`'s text; the address
/// itself when it is outside the kernel image (a module, user space).
fn name_address(system_map: &str, address: &str) -> String {
    let Ok(value) = u64::from_str_radix(address, 16) else { return address.to_string() };
    let mut best: Option<(u64, &str)> = None;
    let mut last = 0;
    for line in system_map.lines() {
        let mut fields = line.split_whitespace();
        let (Some(at), Some(kind), Some(name)) = (fields.next(), fields.next(), fields.next()) else {
            continue;
        };
        let Ok(at) = u64::from_str_radix(at, 16) else { continue };
        last = last.max(at);
        if matches!(kind, "T" | "t") && at <= value && best.is_none_or(|(b, _)| at >= b) {
            best = Some((at, name));
        }
    }
    match best {
        Some((at, name)) if value <= last => format!("{name}+{:#x}", value - at),
        _ => format!("{address} (outside the kernel image)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_kernel_addresses_from_system_map() {
        let map = "ffffffff81000000 T _stext\nffffffff81001000 t osq_lock\nffffffff81001080 d osq_data\n\
                   ffffffff81001100 T delay_tsc\nffffffff81002000 D _edata\n";
        assert_eq!(name_address(map, "ffffffff8100103c"), "osq_lock+0x3c");
        // Only text symbols name code: a data symbol in between does not.
        assert_eq!(name_address(map, "ffffffff81001090"), "osq_lock+0x90");
        assert_eq!(name_address(map, "ffffffff81001100"), "delay_tsc+0x0");
        assert_eq!(name_address(map, "ffffffffa0000010"), "ffffffffa0000010 (outside the kernel image)");
    }
}
