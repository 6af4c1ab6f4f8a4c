// SPDX-License-Identifier: GPL-2.0

//! Booting the guest under QEMU, capturing its serial console, and stopping it on a timeout.

use crate::children::{self, Kind};
use crate::cmd;
use crate::error::{Context, Error, Result};
use crate::guest;
pub use crate::guest::End;
use crate::vm::accel::Accel;
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What to boot and how.
#[derive(Debug, Clone)]
pub struct Vm {
    pub qemu: PathBuf,
    pub accel: Accel,
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    pub cpus: u32,
    pub memory_mb: u32,
    /// Extra `-device` values, such as `edu`.
    pub devices: Vec<String>,
    /// Extra kernel command-line options.
    pub cmdline: Vec<String>,
    pub timeout: Duration,
    /// Give the console to the user (keyboard in, screen out) instead of only capturing it.
    pub interactive: bool,
    /// A line the guest prints once user space runs, and how long the kernel may take to get
    /// there; past that the boot itself hung, whatever the scenario.
    pub boot_marker: Option<(String, Duration)>,
    /// The file behind the guest's second serial port (ttyS1), where the init script writes
    /// its markers and step output, apart from kernel messages.
    pub harness_log: Option<PathBuf>,
    /// Resume this booted guest instead of booting (a snapshot of [`crate::vm::snapshot`]), and
    /// send it its steps on ttyS1.
    pub resume: Option<Resume>,
    /// Stop QEMU as soon as the console shows this text (`cargo xtask bench`: the shell's
    /// prompt).
    pub until: Option<String>,
}

/// A saved guest to resume, and what to tell it.
#[derive(Debug, Clone)]
pub struct Resume {
    pub snapshot: PathBuf,
    /// The initramfs the saved guest was booted with (the VM's own `initrd` boots the steps
    /// from scratch, as `qemu.sh` does by hand).
    pub initrd: PathBuf,
    /// The steps, written to the guest's ttyS1 once it runs (see `send_steps`).
    pub send: String,
}

/// A finished boot: how it ended, its console, and how long it took.
#[derive(Debug, Clone)]
pub struct Run {
    pub end: End,
    pub console: PathBuf,
    pub wall: Duration,
}

impl Vm {
    /// The QEMU command line; every option says why it is there.
    pub fn command(&self) -> Command {
        let mut qemu = Command::new(&self.qemu);
        qemu.args(self.accel_args());
        // Real SMP: lockup detectors need a second CPU to watch the first.
        qemu.args(["-smp", &self.cpus.to_string()]);
        qemu.args(["-m", &self.memory_mb.to_string()]);
        // No default devices (VGA, NIC, floppy): only what a scenario asks for.
        qemu.arg("-nodefaults");
        // No window; the serial port is the console.
        qemu.arg("-nographic");
        // A guest reboot (`reboot -f`, or a panic with panic=-1) ends QEMU instead.
        qemu.arg("-no-reboot");
        // The guest's ttyS0 on QEMU's stdin/stdout.
        qemu.args(["-serial", "stdio"]);
        if let Some(path) = &self.harness_log {
            // ttyS1: the harness's own channel, which kernel messages never cut into.
            if self.resume.is_some() {
                // Both ways: the harness sends the steps on it, and copies what comes back.
                qemu.arg("-chardev").arg(format!(
                    "socket,id=harness,path={},server=on,wait=off",
                    socket_path(path, "sock").display()
                ));
                qemu.args(["-serial", "chardev:harness"]);
            } else {
                qemu.arg("-serial").arg(format!("file:{}", path.display()));
            }
        }
        // The same machine every run.
        qemu.args(["-machine", "q35"]);
        qemu.arg("-kernel").arg(&self.kernel);
        qemu.arg("-initrd").arg(self.resume.as_ref().map_or(&self.initrd, |r| &r.initrd));
        for device in &self.devices {
            qemu.args(["-device", device]);
        }
        qemu.arg("-append").arg(self.kernel_cmdline());
        if let (Some(resume), Some(log)) = (&self.resume, &self.harness_log) {
            // Load the saved guest instead of booting; it stays paused until `cont`.
            qemu.arg("-incoming").arg(format!("file:{}", resume.snapshot.display()));
            qemu.arg("-monitor")
                .arg(format!("unix:{},server=on,wait=off", socket_path(log, "mon").display()));
        }
        qemu
    }

    /// How QEMU runs the guest's code.
    pub fn accel_args(&self) -> &'static [&'static str] {
        match self.accel {
            // Software emulation: works everywhere, the same everywhere. One host thread runs
            // both vCPUs in turn (a spinning vCPU gives way at each PAUSE, and after 100 ms at
            // the latest). With a thread per vCPU, a CPU was seen to stop taking interrupts: its
            // local APIC kept the timer's vector in service while the CPU idled (about 1 boot in
            // 130 with 6 VMs on 2 cores, once in a CI run). One thread is also faster here.
            Accel::Tcg => &["-accel", "tcg,thread=single"],
            // Hardware virtualisation, once a probe has shown it boots this kernel.
            Accel::Kvm => &["-accel", "kvm", "-cpu", "host"],
        }
    }

    /// The kernel's command line: the harness's options, then the scenario's.
    pub fn kernel_cmdline(&self) -> String {
        let mut append = vec![
            // Kernel messages and init's output on the serial port.
            "console=ttyS0".to_string(),
            // Reboot at once on a panic, which -no-reboot turns into QEMU exiting.
            "panic=-1".to_string(),
            // ... without first trying for a second to stop the other CPUs, which a CPU
            // spinning with interrupts off (a hard lockup) never answers.
            "reboot=force".to_string(),
        ];
        append.extend(self.cmdline.iter().cloned());
        append.join(" ")
    }

    /// Boots, writes the console to `console` (and, when `echo`, to stdout as it comes), and
    /// waits until QEMU exits or the timeout passes.
    pub fn boot(&self, console: &Path, echo: bool) -> Result<Run> {
        let mut command = self.command();
        eprintln!("$ {}", cmd::display(&command));
        // Kept beside the console, to boot the same guest again by hand (scripts/qemu-command):
        // from the kernel on, with the initramfs that runs the steps, even when this run
        // resumed a snapshot.
        let by_hand = Vm { resume: None, ..self.clone() };
        let script = console.with_file_name("qemu.sh");
        std::fs::write(&script, format!("#!/bin/sh\nexec {}\n", cmd::display(&by_hand.command())))
            .context(|| format!("could not write {}", script.display()))?;
        let mut log = File::create(console).context(|| format!("could not create {}", console.display()))?;
        let start = Instant::now();
        if self.interactive {
            command.stdin(Stdio::inherit());
        } else {
            command.stdin(Stdio::null());
        }
        let kind = if self.interactive { Kind::Foreground } else { Kind::Vm };
        let mut tracked =
            children::spawn(command.stdout(Stdio::piped()).stderr(Stdio::piped()), "qemu", kind)
                .context(|| format!("could not start {}; run `cargo xtask setup`", self.qemu.display()))?;
        let child = &mut tracked.child;
        let mut stdout = child.stdout.take().expect("piped");
        let mut stderr = child.stderr.take().expect("piped");
        // The console is copied to its file by this thread, which also watches it for `until`.
        let until_seen = Arc::new(AtomicBool::new(false));
        let reader = {
            let (until, seen) = (self.until.clone(), until_seen.clone());
            std::thread::spawn(move || -> std::io::Result<()> {
                let mut buffer = [0u8; 4096];
                let mut out = std::io::stdout();
                // The end of what came so far, long enough to hold `until` cut by a read.
                let mut tail: Vec<u8> = Vec::new();
                loop {
                    let n = stdout.read(&mut buffer)?;
                    if n == 0 {
                        return Ok(());
                    }
                    log.write_all(&buffer[..n])?;
                    if let Some(text) = &until {
                        tail.extend_from_slice(&buffer[..n]);
                        if tail.windows(text.len()).any(|w| w == text.as_bytes()) {
                            seen.store(true, Ordering::Relaxed);
                        }
                        let keep = tail.len().saturating_sub(text.len());
                        tail.drain(..keep);
                    }
                    if echo {
                        out.write_all(&buffer[..n])?;
                        out.flush()?;
                    }
                }
            })
        };
        let errors = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let (copier, mut monitor) = match (&self.resume, &self.harness_log) {
            (Some(resume), Some(log)) => {
                let (copier, monitor) = start_resumed(resume, log)?;
                (Some(copier), Some(monitor))
            }
            _ => (None, None),
        };
        let mut booted = self.boot_marker.is_none();
        let mut boot_hang = false;
        let status: Option<ExitStatus> = loop {
            if let Some(status) = child.try_wait().context(|| "waiting for QEMU".into())? {
                break Some(status);
            }
            if let (false, Some((marker, deadline))) = (booted, &self.boot_marker) {
                if start.elapsed() >= *deadline {
                    booted = std::fs::read(console)
                        .is_ok_and(|bytes| String::from_utf8_lossy(&bytes).contains(marker.as_str()));
                    boot_hang = !booted;
                }
            }
            let seen = until_seen.load(Ordering::Relaxed);
            let timed_out = !self.interactive && start.elapsed() >= self.timeout;
            if seen || boot_hang || timed_out {
                if let (true, false, Some(monitor)) = (timed_out, seen, monitor.as_mut()) {
                    self.record_hang(monitor, console);
                }
                // A CPU the hard-lockup detector saw stop: its local APIC (what it has
                // accepted and not yet ended, what waits) tells a stuck interrupt from a quiet
                // timer.
                let lockup = || {
                    std::fs::read(console)
                        .is_ok_and(|b| String::from_utf8_lossy(&b).contains("detected hard LOCKUP"))
                };
                if let (true, Some(monitor)) = (timed_out || seen, monitor.as_mut()) {
                    if lockup() {
                        self.record_lapics(monitor, console);
                    }
                }
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let wall = start.elapsed();
        let _ = reader.join();
        if let Some(copier) = copier {
            let _ = copier.join();
        }
        if let (Some(_), Some(log)) = (&self.resume, &self.harness_log) {
            let _ = std::fs::remove_file(socket_path(log, "sock"));
            let _ = std::fs::remove_file(socket_path(log, "mon"));
        }
        let qemu_errors = errors.join().unwrap_or_default();
        let end = match status {
            None if until_seen.load(Ordering::Relaxed) => End::Seen,
            None if boot_hang => End::BootHang,
            None => End::TimedOut,
            Some(status) => {
                // QEMU exits non-zero without booting when its options or files are wrong.
                if !status.success() && !qemu_errors.trim().is_empty() {
                    return Err(Error::unavailable(format!(
                        "QEMU failed ({status}): {}\ncommand: {}",
                        qemu_errors.trim(),
                        cmd::display(&self.command())
                    )));
                }
                End::Exited(status.code())
            }
        };
        Ok(Run { end, console: console.to_path_buf(), wall })
    }
}

impl Vm {
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

/// The socket of one VM's channel (`sock`) or monitor (`mon`), named after its harness log.
/// It lives in the temporary directory, because a Unix socket's path may not exceed 107 bytes,
/// which a checkout's run directories can.
pub fn socket_path(harness_log: &Path, ext: &str) -> PathBuf {
    use sha2::{Digest, Sha256};
    let id = crate::paths::hex(&Sha256::digest(harness_log.display().to_string())[..8]);
    std::env::temp_dir().join(format!("irqlock-{id}.{ext}"))
}

/// Connects to a socket QEMU serves, once it is there.
pub fn connect(path: &Path) -> Result<UnixStream> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match UnixStream::connect(path) {
            Ok(stream) => return Ok(stream),
            Err(e) if Instant::now() >= deadline => {
                return Err(Error::unavailable(format!(
                    "could not connect to QEMU's {}: {e}; `--no-snapshot` boots every VM instead",
                    path.display()
                )))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// QEMU's human monitor on a socket: one command at a time, its answer up to the next prompt.
pub struct Monitor {
    stream: UnixStream,
}

impl Monitor {
    pub fn connect(path: &Path) -> Result<Self> {
        let mut monitor = Self { stream: connect(path)? };
        monitor.read_to_prompt()?;
        Ok(monitor)
    }

    fn read_to_prompt(&mut self) -> Result<String> {
        let mut text = Vec::new();
        let mut buffer = [0u8; 4096];
        while !text.ends_with(b"(qemu) ") {
            let n = self.stream.read(&mut buffer).context(|| "reading QEMU's monitor".into())?;
            if n == 0 {
                return Err(Error::unavailable(
                    "QEMU's monitor closed (QEMU exited; its console says why); `--no-snapshot` boots \
                     every VM instead of resuming one",
                ));
            }
            text.extend_from_slice(&buffer[..n]);
        }
        Ok(String::from_utf8_lossy(&text).into_owned())
    }

    /// Runs `command` and returns what QEMU answered.
    pub fn run(&mut self, command: &str) -> Result<String> {
        self.stream
            .write_all(format!("{command}\n").as_bytes())
            .context(|| "writing to QEMU's monitor".into())?;
        self.read_to_prompt()
    }

    /// Waits until `info status` says `want`, for at most `limit`.
    pub fn wait_status(&mut self, want: &str, limit: Duration) -> Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            let status = self.run("info status")?;
            if status.contains(want) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Error::unavailable(format!(
                    "QEMU did not reach \"{want}\": {} (a snapshot it cannot load?); `--no-snapshot` \
                     boots every VM instead",
                    status.trim()
                )));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Sends `steps` to a resumed guest, which answers with how many bytes it received: the first
/// bytes to a freshly resumed guest can be lost (seen on PREEMPT_RT, whose serial port is
/// served by a thread), so each copy follows [`guest::SYNC`] lines, and a copy that arrived
/// short is sent again.
fn send_steps(channel: &mut UnixStream, steps: &str) -> Result<()> {
    let want = steps.len().to_string();
    let payload = format!("{sync}\n{sync}\n{sync}\n{steps}{go}\n", sync = guest::SYNC, go = guest::GO);
    channel.set_read_timeout(Some(Duration::from_secs(30))).context(|| "the guest's channel".into())?;
    for attempt in 1..=3 {
        channel.write_all(payload.as_bytes()).context(|| "sending the steps to the guest".into())?;
        let line = read_line(channel).map_err(|e| {
            Error::unavailable(format!(
                "the resumed guest did not say what steps it received within 30 s ({e}); its \
                 console says why; `--no-snapshot` boots every VM with its steps in the initramfs"
            ))
        })?;
        let got = line.trim().strip_prefix(guest::STEPS_RECEIVED).unwrap_or("").to_string();
        if got == want {
            channel.write_all(b"OK\n").context(|| "answering the guest".into())?;
            channel.set_read_timeout(None).context(|| "the guest's channel".into())?;
            return Ok(());
        }
        eprintln!(
            "qemu: the guest received {got} bytes of its {want} bytes of steps (attempt {attempt}); sending them again"
        );
        channel.write_all(b"AGAIN\n").context(|| "answering the guest".into())?;
    }
    Err(Error::unavailable(
        "the resumed guest received its steps damaged 3 times; `--no-snapshot` boots with the steps \
         in the initramfs instead",
    ))
}

/// One line from `channel`, read a byte at a time so that nothing after it is consumed.
fn read_line(channel: &mut UnixStream) -> std::io::Result<String> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while byte[0] != b'\n' {
        if channel.read(&mut byte)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the guest closed its channel",
            ));
        }
        line.push(byte[0]);
    }
    Ok(String::from_utf8_lossy(&line).into_owned())
}

/// Lets a resumed guest run: waits for the snapshot to be loaded, `cont`, sends the steps on
/// ttyS1, and copies what comes back on it to the harness log, in a thread that ends with QEMU.
/// Returns that thread and the monitor.
fn start_resumed(resume: &Resume, log: &Path) -> Result<(std::thread::JoinHandle<()>, Monitor)> {
    let mut channel = connect(&socket_path(log, "sock"))?;
    let mut monitor = Monitor::connect(&socket_path(log, "mon"))?;
    monitor.wait_status("paused", Duration::from_secs(30))?;
    monitor.run("cont")?;
    send_steps(&mut channel, &resume.send)?;
    let mut file = File::create(log).context(|| format!("could not create {}", log.display()))?;
    let copier = std::thread::spawn(move || {
        let _ = std::io::copy(&mut channel, &mut file);
    });
    Ok((copier, monitor))
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

    #[test]
    fn command_line_carries_devices_and_options() {
        let vm = Vm {
            qemu: "qemu-system-x86_64".into(),
            accel: Accel::Tcg,
            kernel: "/k/bzImage".into(),
            initrd: "/i.cpio".into(),
            cpus: 2,
            memory_mb: 512,
            devices: vec!["edu".into()],
            cmdline: vec!["watchdog_thresh=2".into()],
            timeout: Duration::from_secs(1),
            interactive: false,
            boot_marker: None,
            harness_log: Some("/t/harness.log".into()),
            resume: None,
            until: None,
        };
        let line = cmd::display(&vm.command());
        assert!(line.contains(" -smp 2 -m 512 "), "{line}");
        assert!(line.contains(" -device edu "), "{line}");
        assert!(line.contains(" -serial stdio -serial file:/t/harness.log "), "{line}");
        assert!(line.ends_with("-append 'console=ttyS0 panic=-1 reboot=force watchdog_thresh=2'"), "{line}");
    }
}

/// The harness's own timeouts, with stand-ins for QEMU: shell scripts that hang or exit.
#[cfg(test)]
mod timeouts {
    use super::*;

    fn vm(script: &str, dir: &Path) -> Vm {
        let qemu = dir.join("qemu");
        std::fs::write(&qemu, format!("#!/bin/sh\n{script}\n")).unwrap();
        Command::new("chmod").arg("+x").arg(&qemu).status().unwrap();
        Vm {
            qemu,
            accel: Accel::Tcg,
            kernel: "bzImage".into(),
            initrd: "initrd".into(),
            cpus: 1,
            memory_mb: 64,
            devices: Vec::new(),
            cmdline: Vec::new(),
            timeout: Duration::from_secs(3),
            interactive: false,
            boot_marker: Some(("irqlock-harness: begin".into(), Duration::from_secs(1))),
            harness_log: None,
            resume: None,
            until: None,
        }
    }

    fn dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("irqlock-qemu-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_silent_boot_is_a_boot_hang() {
        let d = dir("silent");
        let mut silent = vm("exec sleep 60", &d);
        silent.timeout = Duration::from_secs(50);
        let run = silent.boot(&d.join("console.log"), false).unwrap();
        assert_eq!(run.end, End::BootHang);
        // Stopped at the boot deadline (1 s), not at the timeout: not a speed target, the
        // two are 49 s apart.
        assert!(run.wall < Duration::from_secs(50), "{:?}", run.wall);
    }

    #[test]
    fn a_guest_that_never_ends_is_stopped_at_the_timeout() {
        let d = dir("stuck");
        let run = vm("echo 'irqlock-harness: begin'; exec sleep 30", &d)
            .boot(&d.join("console.log"), false)
            .unwrap();
        assert_eq!(run.end, End::TimedOut);
        assert!(std::fs::read_to_string(&run.console).unwrap().contains("begin"));
    }

    #[test]
    fn a_guest_that_powers_off_has_exited() {
        let d = dir("exits");
        let run =
            vm("echo 'irqlock-harness: begin'; echo bye", &d).boot(&d.join("console.log"), false).unwrap();
        assert_eq!(run.end, End::Exited(Some(0)));
        assert_eq!(std::fs::read_to_string(&run.console).unwrap(), "irqlock-harness: begin\nbye\n");
    }

    #[test]
    fn a_guest_is_stopped_once_the_console_shows_what_was_awaited() {
        let d = dir("until");
        let mut waiting =
            vm("echo 'irqlock-harness: begin'; printf 'all done'; echo ' here'; exec sleep 30", &d);
        waiting.until = Some("done here".into());
        let run = waiting.boot(&d.join("console.log"), false).unwrap();
        assert_eq!(run.end, End::Seen);
        // Long before the 3 s timeout, which would be `TimedOut`.
        assert!(run.wall < Duration::from_secs(3), "{:?}", run.wall);
    }

    #[test]
    fn qemu_refusing_to_start_is_an_error_not_a_verdict() {
        let d = dir("refuses");
        let err = vm("echo 'qemu: -device edu: unknown' >&2; exit 1", &d).boot(&d.join("console.log"), false);
        assert!(err.unwrap_err().message.contains("QEMU failed"));
    }
}
