// SPDX-License-Identifier: GPL-2.0

//! What the harness reads of a guest before it stops it: whether a silent guest is stuck,
//! where each CPU was at a hang or a timeout, and each CPU's local APIC once the kernel saw a
//! CPU stop.

use super::monitor::Monitor;
use super::Vm;
use crate::arch::Arch;
use std::path::Path;
use std::time::{Duration, Instant};

impl Vm {
    /// Records what explains a stop: at a timeout (`timed_out`, the awaited text not `seen`),
    /// where each CPU was; and when the console shows a hard lockup, each CPU's local APIC.
    pub(super) fn diagnose(&self, monitor: &mut Monitor, console: &Path, timed_out: bool, seen: bool) {
        if timed_out && !seen {
            self.record_hang(monitor, console, "at the timeout");
        }
        // A CPU the hard-lockup detector saw stop: its local APIC (what it has accepted and not
        // yet ended, what waits) tells a stuck interrupt from a quiet timer.
        let lockup = || {
            std::fs::read(console).is_ok_and(|b| String::from_utf8_lossy(&b).contains("detected hard LOCKUP"))
        };
        if (timed_out || seen) && self.arch == Arch::X86_64 && lockup() {
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

    /// Each CPU's registers, from the monitor, and its instruction pointer named from the
    /// kernel's `System.map` (`symbol+0xoff`).
    fn cpu_places(&self, monitor: &mut Monitor) -> Option<(String, Vec<String>)> {
        let registers = monitor.run("info registers -a").ok()?;
        // ` PC=ffff800080a1b2c4 ` on arm64 (target/arm/cpu.c), `RIP=...` on x86.
        let pc = &format!("{}=", self.arch.pc_register());
        // `<build>/arch/*/boot/<image>`: the build tree, and its System.map, are 4 levels up.
        let map = self.kernel.ancestors().nth(4).map(|dir| dir.join("System.map")).unwrap_or_default();
        let symbols = text_symbols(&map);
        let places = registers
            .lines()
            .filter_map(|line| line.split_once(pc)?.1.split_whitespace().next())
            .map(|rip| symbols.name(rip))
            .collect();
        Some((registers, places))
    }

    /// Whether a silent guest is stuck: every CPU in the same function (outside the kernel
    /// image, the same 4 KiB page) in at least [`LOOKS`] looks [`LOOK_APART`] apart, while QEMU
    /// (process `qemu`) ran the guest for [`STUCK_CPU`] of host CPU time, and not every CPU
    /// idle. Host CPU time, not the time between looks, is the guest's progress: a guest the
    /// host starves (four guests on two cores) can sit in one long function (lockdep's graph
    /// walk) for a few hundred milliseconds of wall time, but not for a second of its own
    /// running; a CPU spinning in place keeps QEMU's thread busy, so the second passes in about
    /// a second. Gives up (not stuck) after [`LOOKING_AT_MOST`]; the next silence looks again.
    pub(super) fn is_stuck(&self, monitor: &mut Monitor, console: &Path, qemu: u32) -> bool {
        let Some((_, first)) = self.cpu_places(monitor) else { return false };
        // Every CPU in the idle loop is a guest waiting for a timer or a sleep to end (a
        // module's init that waits for interrupts that never come): the timeout judges it.
        if first.is_empty() || first.iter().all(|p| IDLE.contains(&place_key(p).as_str())) {
            return false;
        }
        let started = Instant::now();
        let ran_from = cpu_seconds(qemu);
        let mut looks = 1;
        loop {
            std::thread::sleep(LOOK_APART);
            let Some((registers, places)) = self.cpu_places(monitor) else { return false };
            if !first.iter().map(|p| place_key(p)).eq(places.iter().map(|p| place_key(p))) {
                return false;
            }
            looks += 1;
            // Without /proc (not Linux), the time between looks stands for it.
            let ran = match (ran_from, cpu_seconds(qemu)) {
                (Some(from), Some(now)) => now - from,
                _ => started.elapsed().as_secs_f64(),
            };
            if looks >= LOOKS && ran >= STUCK_CPU.as_secs_f64() {
                let why = format!(
                    "silent, each CPU in the same place {looks} times over {:.1} s while QEMU ran it for {ran:.1} s",
                    started.elapsed().as_secs_f64()
                );
                write_hang(console, &registers, &first, &why);
                return true;
            }
            if started.elapsed() >= LOOKING_AT_MOST {
                return false;
            }
        }
    }

    /// Where each CPU of a hung guest was when the harness stopped it: the registers in
    /// `cpus-at-hang.txt` beside the console, and each CPU's instruction pointer, named from
    /// the kernel's `System.map`, on stderr.
    fn record_hang(&self, monitor: &mut Monitor, console: &Path, when: &str) {
        if let Some((registers, places)) = self.cpu_places(monitor) {
            write_hang(console, &registers, &places, when);
        }
    }
}

/// Writes a hung guest's registers to `cpus-at-hang.txt` beside the console, and says on
/// stderr where each CPU was.
fn write_hang(console: &Path, registers: &str, places: &[String], when: &str) {
    let file = console.with_file_name("cpus-at-hang.txt");
    let _ = std::fs::write(&file, registers);
    let places: Vec<String> =
        places.iter().enumerate().map(|(cpu, at)| format!("CPU{cpu} at {at}")).collect();
    eprintln!("qemu: stopped a hung guest ({when}); {}; registers in {}", places.join(", "), file.display());
}

/// The fewest looks at a silent guest's CPUs before it is called stuck, how far apart, the
/// host CPU time QEMU must have had between the first and the last (see [`Vm::is_stuck`]),
/// and how long the looks may go on before the guest is left to run (a guest the host barely
/// runs is looked at again after its next silence). A guest the host starved once took two
/// looks 300 ms apart for a hang, deep in lockdep: a second of its own running is several
/// times what that walk took.
const LOOKS: usize = 3;
const LOOK_APART: Duration = Duration::from_millis(250);
const STUCK_CPU: Duration = Duration::from_secs(1);
const LOOKING_AT_MOST: Duration = Duration::from_secs(4);

/// The host CPU time process `pid` has had (every thread, user and system), in seconds: the
/// 14th and 15th fields of `/proc/PID/stat`, in clock ticks of 1/100 s (`USER_HZ`; proc(5)).
pub(super) fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

/// Where an idle CPU waits for its next interrupt: on x86 the `HLT` of `default_idle` and the
/// paravirtual halts (`arch/x86/kernel/process.c`); on arm64 the `WFI` of `cpu_do_idle`
/// (`arch/arm64/kernel/idle.c`); `kernel/sched/idle.c`'s polling loop on both.
const IDLE: &[&str] = &[
    "default_idle",
    "native_safe_halt",
    "pv_native_safe_halt",
    "cpu_idle_poll",
    "arch_cpu_idle",
    "cpu_do_idle",
];

/// What stays the same while a CPU is stuck in one place: the function, without the offset;
/// outside the kernel image, the 4 KiB page.
fn place_key(place: &str) -> String {
    match place.split_once(" (outside") {
        Some((address, _)) => {
            u64::from_str_radix(address, 16).map(|a| format!("{:x}", a >> 12)).unwrap_or_default()
        }
        None => place.split('+').next().unwrap_or(place).to_string(),
    }
}

/// A kernel's text symbols from its `System.map`, sorted by address, to name the addresses
/// the looks at a silent guest read: parsed once per file in a run (3 MB, 57,000 lines for the
/// debug kernel; parsed at each look, a look took over a second).
struct TextSymbols {
    /// `(address, name)` of each `T`/`t` symbol, by address.
    text: Vec<(u64, String)>,
    /// The highest address of any symbol: the kernel image's end.
    last: u64,
}

impl TextSymbols {
    fn parse(system_map: &str) -> Self {
        let mut text = Vec::new();
        let mut last = 0;
        for line in system_map.lines() {
            let mut fields = line.split_whitespace();
            let (Some(at), Some(kind), Some(name)) = (fields.next(), fields.next(), fields.next()) else {
                continue;
            };
            let Ok(at) = u64::from_str_radix(at, 16) else { continue };
            last = last.max(at);
            if matches!(kind, "T" | "t") {
                text.push((at, name.to_string()));
            }
        }
        // Stable: of two symbols at one address, the later line names it, as before.
        text.sort_by_key(|(at, _)| *at);
        Self { text, last }
    }

    /// `symbol+0xoff` for a hexadecimal kernel address; the address itself when it is outside
    /// the kernel image (a module, user space).
    fn name(&self, address: &str) -> String {
        let Ok(value) = u64::from_str_radix(address, 16) else { return address.to_string() };
        let below = self.text.partition_point(|(at, _)| *at <= value);
        match below.checked_sub(1).map(|i| &self.text[i]) {
            Some((at, name)) if value <= self.last => format!("{name}+{:#x}", value - at),
            _ => format!("{address} (outside the kernel image)"),
        }
    }
}

/// The text symbols of the `System.map` at `path` (none when it cannot be read), parsed once.
fn text_symbols(path: &Path) -> std::sync::Arc<TextSymbols> {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    static PARSED: Mutex<Option<HashMap<std::path::PathBuf, Arc<TextSymbols>>>> = Mutex::new(None);
    let mut parsed = PARSED.lock().expect("not poisoned");
    parsed
        .get_or_insert_with(HashMap::new)
        .entry(path.to_path_buf())
        .or_insert_with(|| Arc::new(TextSymbols::parse(&std::fs::read_to_string(path).unwrap_or_default())))
        .clone()
}

/// `symbol+0xoff` for a hexadecimal kernel address, from `System.map`'s text.
#[cfg(test)]
fn name_address(system_map: &str, address: &str) -> String {
    TextSymbols::parse(system_map).name(address)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This process's own CPU time grows while it spins, and an unknown process has none.
    #[test]
    fn cpu_seconds_counts_what_a_process_ran() {
        let me = std::process::id();
        let before = cpu_seconds(me).expect("this process's /proc/PID/stat");
        // However loaded the host, spinning adds CPU time; a reading that never moves fails.
        let spin = Instant::now();
        while cpu_seconds(me).unwrap() - before < 0.1 {
            assert!(spin.elapsed() < Duration::from_secs(30), "no CPU time counted in 30 s of spinning");
            std::hint::black_box((0..10_000u64).sum::<u64>());
        }
        assert_eq!(cpu_seconds(u32::MAX), None);
    }

    #[test]
    fn a_stuck_cpu_is_one_function_or_one_page() {
        assert_eq!(place_key("mutex_spin_on_owner+0x8c"), place_key("mutex_spin_on_owner+0x41"));
        assert_ne!(place_key("mutex_spin_on_owner+0x8c"), place_key("default_idle+0x8c"));
        let module = |a: &str| place_key(&format!("{a} (outside the kernel image)"));
        assert_eq!(module("ffffffffa0001010"), module("ffffffffa0001ff0"));
        assert_ne!(module("ffffffffa0001010"), module("ffffffffa0002010"));
    }

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
