// SPDX-License-Identifier: GPL-2.0

//! Booting a VM: QEMU started, its console copied to a file and watched, and stopped at the
//! end the harness waits for, at the timeout, or when the kernel never reached user space.

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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

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
                if let Some(monitor) = monitor.as_mut() {
                    self.diagnose(monitor, console, timed_out, seen);
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
    fn qemu_refusing_to_start_is_an_error_not_a_verdict() {
        let d = dir("refuses");
        let err = vm("echo 'qemu: -device edu: unknown' >&2; exit 1", &d).boot(&d.join("console.log"), false);
        assert!(err.unwrap_err().message.contains("QEMU failed"));
    }
}
