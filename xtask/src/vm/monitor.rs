// SPDX-License-Identifier: GPL-2.0

//! QEMU's sockets: the human monitor, and connecting to what QEMU serves.

use crate::error::{Context, Error, Result};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

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
