//! The guest's initramfs: static busybox, the module, and an init script that runs the
//! scenario's steps and reports each step's exit status on the console.
//!
//! The archive is written here in the kernel's `newc` cpio format, so that it can hold
//! `/dev/console` without root privileges or a `cpio` tool.

use crate::error::{Context, Result};
use std::path::Path;

/// Prefix of the lines the init script prints for the harness.
pub const MARKER: &str = "irqlock-harness:";

/// The guest's second serial port, which only the init script writes to.
pub const HARNESS_TTY: &str = "/dev/ttyS1";

/// Where the module sits in the guest.
pub const MODULE_PATH: &str = "/irqlock.ko";

/// One thing the init script does.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// `insmod /irqlock.ko PARAMS...`
    Insmod(Vec<String>),
    /// `rmmod irqlock`
    Rmmod,
    /// `sleep SECONDS`
    Sleep(f64),
    /// A shell command, such as `cat /proc/interrupts`.
    Shell(String),
}

impl Step {
    fn command(&self) -> String {
        match self {
            Step::Insmod(params) => {
                let mut line = format!("insmod {MODULE_PATH}");
                for p in params {
                    line.push(' ');
                    line += &shell_quote(p);
                }
                line
            }
            Step::Rmmod => "rmmod irqlock".to_string(),
            Step::Sleep(seconds) => format!("sleep {seconds}"),
            Step::Shell(command) => command.clone(),
        }
    }
}

fn shell_quote(word: &str) -> String {
    if word.chars().all(|c| c.is_ascii_alphanumeric() || "_-=.,/:".contains(c)) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// What the guest does after its steps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Finish {
    /// Power off, so QEMU exits (`reboot -f` with QEMU's `-no-reboot`).
    PowerOff,
    /// Start an interactive shell on the console; leaving it powers off.
    Shell,
}

/// The init script for `steps`. Each step prints `irqlock-harness: step N: COMMAND` before and
/// `irqlock-harness: step N: exit=STATUS` after; the end prints the taint mask and `end`.
pub fn init_script(steps: &[Step], finish: Finish) -> String {
    let mut script = String::from(
        "#!/bin/busybox sh\n\
         /bin/busybox --install -s /bin\n\
         mount -t proc proc /proc\n\
         mount -t sysfs sysfs /sys\n\
         mount -t devtmpfs devtmpfs /dev\n",
    );
    // Markers and step output go to the console for people, and to ttyS1, which carries
    // nothing else, for the harness: on the console, kernel messages can cut a line in two.
    script += &format!("echo '{MARKER} begin' | tee -a {HARNESS_TTY}\n");
    for (i, step) in steps.iter().enumerate() {
        script += &step_script(i + 1, step, HARNESS_TTY);
    }
    match finish {
        Finish::PowerOff => {
            let tainted = format!("{MARKER} tainted=$(cat /proc/sys/kernel/tainted)");
            script += &format!("echo \"{tainted}\" | tee -a {HARNESS_TTY}\n");
            script += &format!("echo '{MARKER} end' | tee -a {HARNESS_TTY}\n");
        }
        Finish::Shell => {
            script += "echo 'irqlock lab shell: the module is /irqlock.ko; exit powers the VM off'\n";
            // A shell with job control on the console; when it exits, power off.
            script += "setsid cttyhack sh -l\n";
        }
    }
    script += "reboot -f\n";
    script
}

/// The init script's lines for step `n`: announce it, run it whole (a subshell, so that
/// `a; b && c | d` is captured entirely), and report the exit status of the whole entry.
fn step_script(n: usize, step: &Step, tty: &str) -> String {
    let command = step.command();
    let announce = shell_quote(&format!("{MARKER} step {n}: {command}"));
    let mut lines = format!("echo {announce} | tee -a {tty}\n");
    // The newline before `)` keeps a trailing `# comment` from swallowing it.
    lines += &format!("( {command}\n) > /tmp/out 2>&1\n");
    lines += "status=$?\n";
    lines += &format!("cat /tmp/out; cat /tmp/out >> {tty}\n");
    lines += &format!("echo \"{MARKER} step {n}: exit=$status\" | tee -a {tty}\n");
    lines
}

/// A `newc` cpio archive being written.
#[derive(Default)]
pub struct Cpio {
    bytes: Vec<u8>,
    inode: u32,
}

impl Cpio {
    fn entry(&mut self, name: &str, mode: u32, data: &[u8], rdev: (u32, u32)) {
        self.inode += 1;
        let fields =
            [self.inode, mode, 0, 0, 1, 0, data.len() as u32, 0, 0, rdev.0, rdev.1, name.len() as u32 + 1, 0];
        self.bytes.extend_from_slice(b"070701");
        for field in fields {
            self.bytes.extend_from_slice(format!("{field:08x}").as_bytes());
        }
        self.bytes.extend_from_slice(name.as_bytes());
        self.bytes.push(0);
        self.pad();
        self.bytes.extend_from_slice(data);
        self.pad();
    }

    fn pad(&mut self) {
        while !self.bytes.len().is_multiple_of(4) {
            self.bytes.push(0);
        }
    }

    pub fn dir(&mut self, name: &str) {
        self.entry(name, 0o040755, &[], (0, 0));
    }

    pub fn file(&mut self, name: &str, mode: u32, data: &[u8]) {
        self.entry(name, 0o100000 | mode, data, (0, 0));
    }

    pub fn char_device(&mut self, name: &str, major: u32, minor: u32) {
        self.entry(name, 0o020600, &[], (major, minor));
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.entry("TRAILER!!!", 0, &[], (0, 0));
        while !self.bytes.len().is_multiple_of(512) {
            self.bytes.push(0);
        }
        self.bytes
    }
}

/// Writes the initramfs for `steps` to `out`.
pub fn write(out: &Path, busybox: &Path, module: &Path, steps: &[Step], finish: Finish) -> Result<()> {
    let busybox = std::fs::read(busybox).context(|| format!("could not read {}", busybox.display()))?;
    let module = std::fs::read(module).context(|| format!("could not read {}", module.display()))?;
    let mut cpio = Cpio::default();
    for dir in ["bin", "dev", "proc", "sys", "tmp"] {
        cpio.dir(dir);
    }
    // The kernel opens /dev/console for init's stdio before init can mount devtmpfs.
    cpio.char_device("dev/console", 5, 1);
    cpio.file("bin/busybox", 0o755, &busybox);
    cpio.file(MODULE_PATH.trim_start_matches('/'), 0o644, &module);
    cpio.file("init", 0o755, init_script(steps, finish).as_bytes());
    std::fs::write(out, cpio.finish()).context(|| format!("could not write {}", out.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newc_entries_are_aligned_and_terminated() {
        let mut cpio = Cpio::default();
        cpio.file("init", 0o755, b"#!/bin/sh\n");
        let bytes = cpio.finish();
        assert!(bytes.starts_with(b"070701"));
        // Mode field (second): a regular file, rwxr-xr-x.
        assert_eq!(&bytes[14..22], b"000081ed");
        // Name size (twelfth field) counts the NUL.
        assert_eq!(&bytes[6 + 11 * 8..6 + 12 * 8], b"00000005");
        // Header (110) + "init\0" = 115, padded to 116; data 10 bytes padded to 12.
        assert_eq!(&bytes[116..126], b"#!/bin/sh\n");
        assert_eq!(&bytes[128..134], b"070701");
        assert!(bytes.windows(10).any(|w| w == b"TRAILER!!!"));
        assert_eq!(bytes.len() % 512, 0);
    }

    #[test]
    fn init_reports_every_step() {
        let script = init_script(
            &[Step::Insmod(vec!["lock=mutex".into(), "x=a b".into()]), Step::Rmmod],
            Finish::PowerOff,
        );
        let step1 = r"echo 'irqlock-harness: step 1: insmod /irqlock.ko lock=mutex '\''x=a b'\''' | tee -a /dev/ttyS1";
        assert!(script.contains(&format!("{step1}\n")), "{script}");
        assert!(script.contains("( insmod /irqlock.ko lock=mutex 'x=a b'\n) > /tmp/out 2>&1\nstatus=$?\n"));
        assert!(script.contains("cat /tmp/out; cat /tmp/out >> /dev/ttyS1\n"));
        assert!(script.contains("echo \"irqlock-harness: step 2: exit=$status\" | tee -a /dev/ttyS1\n"));
        assert!(script.ends_with("echo 'irqlock-harness: end' | tee -a /dev/ttyS1\nreboot -f\n"));
    }

    /// A compound entry is captured whole, with the status of the whole entry; run with the
    /// host's `sh`, with a file standing in for ttyS1.
    #[test]
    fn a_compound_command_is_captured_whole() {
        let dir = std::env::temp_dir().join(format!("irqlock-step-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let tty = dir.join("ttyS1");
        let step = Step::Shell("echo a; echo b && echo c | tr c d; false # a comment".into());
        let script = step_script(3, &step, &tty.display().to_string());
        let out = std::process::Command::new("sh").arg("-c").arg(&script).output().unwrap();
        let console = String::from_utf8_lossy(&out.stdout);
        let channel = std::fs::read_to_string(&tty).unwrap();
        assert!(console.contains("a\nb\nd\nirqlock-harness: step 3: exit=1\n"), "{console}");
        assert!(channel.contains("a\nb\nd\nirqlock-harness: step 3: exit=1\n"), "{channel}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
