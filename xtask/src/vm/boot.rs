// SPDX-License-Identifier: GPL-2.0

//! Booting a VM: QEMU started, its console copied to a file and watched, and stopped at the
//! end the harness waits for, at a point of no return, at a hang, at the timeout, or when the
//! kernel never reached user space.

use super::monitor::{connect, Monitor};
use super::steps::send_steps;
use super::{socket_path, End, Resume, Run, Vm};
use crate::children::{self, Kind};
use crate::cmd;
use crate::error::{Context, Error, Result};
use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a point of no return's report may take to end before QEMU is stopped anyway (the
/// CPU printing it may itself be stuck), counted from the guest's last byte: this much wall
/// time, in which QEMU also ran [`BROKEN_QUIET_RAN`] of host CPU time. A report without an end
/// marker (arm64 has no `</TASK>`; `scheduling while atomic` no `---[ end trace`) ends so; a
/// guest the host starves is not cut off in the middle of its call trace (700 ms of wall time
/// alone once did, on arm64 under load).
const BROKEN_QUIET: Duration = Duration::from_millis(700);
const BROKEN_QUIET_RAN: Duration = Duration::from_millis(500);
/// ... or this much wall time, however little QEMU ran: a guest left idle after its report.
const BROKEN_QUIET_IDLE: Duration = Duration::from_secs(10);

/// What the threads copying the guest's output have seen, for the loop that decides when to
/// stop it. Times are milliseconds since QEMU's start.
#[derive(Default)]
struct Watch {
    /// The last byte from the guest, on the console or the channel.
    last_output_ms: AtomicU64,
    until_seen: AtomicBool,
    /// When a point of no return's first line came (0: none yet).
    broken_at_ms: AtomicU64,
    /// Its report has ended (`</TASK>` or `---[ end trace` after it).
    broken_ended: AtomicBool,
    /// The console reached [`Vm::console_cap`].
    capped: AtomicBool,
}

impl Watch {
    fn output(&self, start: Instant) {
        self.last_output_ms.store(start.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// Reads one whole console line for a point of no return and the end of its report.
    fn line(&self, line: &str, start: Instant) {
        let text = crate::triage::strip_prefix(line);
        if self.broken_at_ms.load(Ordering::Relaxed) == 0 {
            if crate::triage::POINTS_OF_NO_RETURN.iter().any(|h| text.starts_with(h)) {
                self.broken_at_ms.store(start.elapsed().as_millis().max(1) as u64, Ordering::Relaxed);
            }
        } else if text.contains("</TASK>") || text.contains("---[ end trace") {
            self.broken_ended.store(true, Ordering::Relaxed);
        }
    }
}

impl Vm {
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
        // The console is copied to its file by this thread, which also watches it for `until`
        // and for a point of no return.
        let watch = Arc::new(Watch::default());
        let reader = {
            let (until, watch, cap) = (self.until.clone(), watch.clone(), self.console_cap);
            std::thread::spawn(move || -> std::io::Result<()> {
                let mut buffer = [0u8; 4096];
                let mut out = std::io::stdout();
                // The end of what came so far, long enough to hold `until` cut by a read.
                let mut tail: Vec<u8> = Vec::new();
                // The console line being read (its first 4 KiB).
                let mut line: Vec<u8> = Vec::new();
                let mut written: u64 = 0;
                loop {
                    let n = stdout.read(&mut buffer)?;
                    if n == 0 {
                        return Ok(());
                    }
                    if let Some(cap) = cap {
                        // Past the cap nothing more is kept; QEMU is stopped, its pipe drained.
                        if watch.capped.load(Ordering::Relaxed) {
                            continue;
                        }
                        let room = cap.saturating_sub(written).min(n as u64) as usize;
                        log.write_all(&buffer[..room])?;
                        written += room as u64;
                        if room < n {
                            writeln!(log, "\n{}", super::CONSOLE_CAPPED)?;
                            watch.capped.store(true, Ordering::Relaxed);
                            continue;
                        }
                    } else {
                        log.write_all(&buffer[..n])?;
                    }
                    watch.output(start);
                    for &byte in &buffer[..n] {
                        if byte == b'\n' {
                            watch.line(&String::from_utf8_lossy(&line), start);
                            line.clear();
                        } else if line.len() < 4096 {
                            line.push(byte);
                        }
                    }
                    if let Some(text) = &until {
                        tail.extend_from_slice(&buffer[..n]);
                        if tail.windows(text.len()).any(|w| w == text.as_bytes()) {
                            watch.until_seen.store(true, Ordering::Relaxed);
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
                let (copier, monitor) = start_resumed(resume, log, watch.clone(), start)?;
                (Some(copier), Some(monitor))
            }
            _ => (None, None),
        };
        let mut booted = self.boot_marker.is_none();
        let mut boot_hang = false;
        let (mut hung, mut broken) = (false, false);
        // When the next look for a hang may be taken, in milliseconds since the start.
        let mut next_look_ms = 0;
        // After a point of no return: the guest's last output seen, and QEMU's CPU time then.
        let mut silent_since: Option<(u64, f64)> = None;
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
            let seen = watch.until_seen.load(Ordering::Relaxed);
            let now_ms = start.elapsed().as_millis() as u64;
            let silent_ms = now_ms.saturating_sub(watch.last_output_ms.load(Ordering::Relaxed));
            broken = false;
            if self.stop_when_broken && watch.broken_at_ms.load(Ordering::Relaxed) != 0 {
                let last = watch.last_output_ms.load(Ordering::Relaxed);
                let ran_now = super::diagnose::cpu_seconds(child.id()).unwrap_or(0.0);
                if silent_since.is_none_or(|(at, _)| at != last) {
                    silent_since = Some((last, ran_now));
                }
                let ran = ran_now - silent_since.map_or(ran_now, |(_, ran)| ran);
                broken = watch.broken_ended.load(Ordering::Relaxed)
                    || (silent_ms >= BROKEN_QUIET.as_millis() as u64
                        && ran >= BROKEN_QUIET_RAN.as_secs_f64())
                    || silent_ms >= BROKEN_QUIET_IDLE.as_millis() as u64;
            }
            if let (Some(quiet), Some(monitor), false) = (self.quiet, monitor.as_mut(), self.interactive) {
                if silent_ms >= quiet.as_millis() as u64 && now_ms >= next_look_ms && !seen && !broken {
                    hung = self.is_stuck(monitor, console, child.id());
                    next_look_ms = start.elapsed().as_millis() as u64 + quiet.as_millis() as u64;
                }
            }
            let timed_out = !self.interactive && start.elapsed() >= self.timeout;
            let capped = watch.capped.load(Ordering::Relaxed);
            if seen || boot_hang || timed_out || hung || broken || capped {
                if let Some(monitor) = monitor.as_mut() {
                    self.diagnose(monitor, console, timed_out, seen || hung || broken || capped);
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
            None if watch.until_seen.load(Ordering::Relaxed) => End::Seen,
            None if broken => End::Broken,
            None if hung => End::Hung,
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
        Ok(Run { end, console: console.to_path_buf(), wall, capped: watch.capped.load(Ordering::Relaxed) })
    }
}

/// Lets a resumed guest run: waits for the snapshot to be loaded, `cont`, sends the steps on
/// ttyS1, and copies what comes back on it to the harness log, in a thread that ends with QEMU.
/// Returns that thread and the monitor.
fn start_resumed(
    resume: &Resume,
    log: &Path,
    watch: Arc<Watch>,
    start: Instant,
) -> Result<(std::thread::JoinHandle<()>, Monitor)> {
    let mut channel = connect(&socket_path(log, "sock"))?;
    let mut monitor = Monitor::connect(&socket_path(log, "mon"))?;
    monitor.wait_status("paused", Duration::from_secs(30))?;
    send_steps(&mut channel, &resume.send, || {
        monitor.run("cont")?;
        Ok(())
    })?;
    let mut file = File::create(log).context(|| format!("could not create {}", log.display()))?;
    let copier = std::thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        while let Ok(n @ 1..) = channel.read(&mut buffer) {
            watch.output(start);
            if file.write_all(&buffer[..n]).is_err() {
                return;
            }
        }
    });
    Ok((copier, monitor))
}

/// The harness's own timeouts, with stand-ins for QEMU: shell scripts that hang or exit.
#[cfg(test)]
mod timeouts {
    use super::*;
    use std::path::PathBuf;
    use std::process::Command;

    fn vm(script: &str, dir: &Path) -> Vm {
        let qemu = dir.join("qemu");
        std::fs::write(&qemu, format!("#!/bin/sh\n{script}\n")).unwrap();
        Command::new("chmod").arg("+x").arg(&qemu).status().unwrap();
        Vm {
            qemu,
            cpus: 1,
            memory_mb: 64,
            timeout: Duration::from_secs(3),
            boot_marker: Some(("irqlock-harness: begin".into(), Duration::from_secs(1))),
            ..crate::testutil::vm()
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
    fn a_guest_is_stopped_once_its_point_of_no_return_has_been_reported() {
        let d = dir("broken");
        let report = "echo 'irqlock-harness: begin'; echo '[ 2.1][ C1] BUG: scheduling while atomic: insmod/71/0x00010002'; \
                      echo ' <TASK>'; echo ' </TASK>'; echo 'BUG: more'; exec sleep 30";
        let mut broken = vm(report, &d);
        broken.stop_when_broken = true;
        let run = broken.boot(&d.join("console.log"), false).unwrap();
        assert_eq!(run.end, End::Broken);
        assert!(run.wall < Duration::from_secs(3), "{:?}", run.wall);
        // Cut short: the CPU printing it stopped while the guest runs on; the harness stops the
        // guest all the same.
        let cut = "echo 'irqlock-harness: begin'; echo 'Oops: general protection fault'; while :; do :; done";
        let mut cut = vm(cut, &d);
        cut.stop_when_broken = true;
        assert_eq!(cut.boot(&d.join("console.log"), false).unwrap().end, End::Broken);
        // Silent but not running (starved by the host, or idle): its report may not be over,
        // so it is not cut off after 700 ms of silence; here it runs to the 3 s timeout.
        let starved = "echo 'irqlock-harness: begin'; echo 'Oops: general protection fault'; exec sleep 30";
        let mut starved = vm(starved, &d);
        starved.stop_when_broken = true;
        assert_eq!(starved.boot(&d.join("console.log"), false).unwrap().end, End::TimedOut);
        // Only when asked: `cargo xtask run` shows what follows.
        let run = vm(report, &d).boot(&d.join("console.log"), false).unwrap();
        assert_eq!(run.end, End::TimedOut);
    }

    #[test]
    fn a_console_past_its_cap_is_cut_and_the_guest_stopped() {
        let d = dir("flood");
        let mut flood =
            vm("echo 'irqlock-harness: begin'; yes 'flood flood flood' | head -c 1000000; exec sleep 30", &d);
        flood.console_cap = Some(4096);
        let run = flood.boot(&d.join("console.log"), false).unwrap();
        assert!(run.capped);
        let text = std::fs::read_to_string(&run.console).unwrap();
        assert_eq!(text.len(), 4096 + crate::vm::CONSOLE_CAPPED.len() + 2, "{}", text.len());
        assert!(text.ends_with(&format!("{}\n", crate::vm::CONSOLE_CAPPED)));
        // Stopped once the cap was reached, long before the 3 s timeout.
        assert!(run.wall < Duration::from_secs(3), "{:?}", run.wall);
        // Without a cap, the same guest is kept whole and runs to its timeout.
        let whole =
            vm("echo 'irqlock-harness: begin'; yes 'flood flood flood' | head -c 100000; exec sleep 30", &d)
                .boot(&d.join("console.log"), false)
                .unwrap();
        assert!(!whole.capped);
        assert_eq!(
            std::fs::metadata(&whole.console).unwrap().len(),
            100000 + "irqlock-harness: begin\n".len() as u64
        );
    }

    #[test]
    fn qemu_refusing_to_start_is_an_error_not_a_verdict() {
        let d = dir("refuses");
        let err = vm("echo 'qemu: -device edu: unknown' >&2; exit 1", &d).boot(&d.join("console.log"), false);
        assert!(err.unwrap_err().message.contains("QEMU failed"));
    }
}
