// SPDX-License-Identifier: GPL-2.0

//! The protocol between the harness and the guest, in one place: the init script that runs a
//! scenario's steps and reports them (`irqlock-harness:` lines on ttyS1, copied to the
//! console), and the reader of those lines.

use crate::cmd;

/// Prefix of the lines the init script prints for the harness.
pub const MARKER: &str = "irqlock-harness:";

/// The line the init script prints first: user space runs.
pub fn boot_marker() -> String {
    format!("{MARKER} begin")
}

/// The guest's second serial port, which only the init script writes to: ttyS1, or the one
/// the kernel command line names (`irqlock_tty=ttyAMA1` on arm64, see
/// [`crate::arch::Arch::serial_ttys`]).
pub const HARNESS_TTY: &str = "/dev/${irqlock_tty:-ttyS1}";

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
                    line += &cmd::quote(p);
                }
                line
            }
            Step::Rmmod => "rmmod irqlock".to_string(),
            Step::Sleep(seconds) => format!("sleep {seconds}"),
            Step::Shell(command) => command.clone(),
        }
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

/// The start of every init script: busybox's applets, the kernel's file systems, expedited RCU.
pub(crate) const PRELUDE: &str = "#!/bin/busybox sh\n\
     /bin/busybox --install -s /bin\n\
     mount -t proc proc /proc\n\
     mount -t sysfs sysfs /sys\n\
     mount -t devtmpfs devtmpfs /dev\n\
     echo 1 > /sys/kernel/rcu_expedited\n";

/// The shell functions every init script defines, so that the steps themselves are a few
/// short lines (a resumed guest receives them over a serial port, at a few kilobytes a
/// second). Builtins only, as under emulation every process started costs milliseconds, but
/// for the taint: a sysctl file read a byte at a time (as `read` does) gives one digit.
/// - `irqlock_say LINE` writes a line to the console, for people, and to ttyS1 (fd 3), which
///   carries nothing else, for the harness: on the console, kernel messages can cut a line.
/// - `irqlock_begin` opens ttyS1 (unless the waiting guest kept it open) and says that user
///   space runs.
/// - `irqlock_run N COMMAND` runs step N: announces it, runs the command whole in a subshell
///   (`a; b && c | d` is captured entirely, `exit` ends the step only), copies its output, and
///   reports its exit status. A step is then one short line, written once.
/// - `irqlock_end` reports the taint mask and `end`, closes ttyS1 (its last close waits until
///   its output has been sent), and writes [`FLUSHED`] through the kernel's log.
/// - `irqlock_rescan_pci` forgets QEMU's edu devices (vendor 0x1234) and finds them again.
/// - `irqlock_shell` starts a shell with job control on the console.
pub(crate) fn library() -> String {
    format!(
        "irqlock_say() {{ printf '%s\\n' \"$1\"; printf '%s\\n' \"$1\" >&3; }}\n\
         irqlock_begin() {{ [ -n \"$harness_open\" ] || exec 3>> {HARNESS_TTY}; irqlock_say '{begin}'; }}\n\
         irqlock_run() {{\n\
         \x20 irqlock_say \"{MARKER} step $1: $2\"\n\
         \x20 ( eval \"$2\"\n\
         \x20 ) > /tmp/out 2>&1\n\
         \x20 set -- \"$1\" $?\n\
         \x20 while IFS= read -r line || [ -n \"$line\" ]; do irqlock_say \"$line\"; done < /tmp/out\n\
         \x20 irqlock_say \"{MARKER} step $1: exit=$2\"\n\
         }}\n\
         irqlock_end() {{\n\
         \x20 tainted=$(cat /proc/sys/kernel/tainted)\n\
         \x20 irqlock_say \"{MARKER} tainted=$tainted\"\n\
         \x20 irqlock_say '{MARKER} end'\n\
         \x20 exec 3>&-\n\
         \x20 echo '<4>{FLUSHED}' > /dev/kmsg\n\
         }}\n\
         irqlock_rescan_pci() {{\n\
         \x20 for d in /sys/bus/pci/devices/*; do read -r v < $d/vendor; [ \"$v\" = 0x1234 ] && echo 1 > $d/remove; done\n\
         \x20 echo 1 > /sys/bus/pci/rescan\n\
         }}\n\
         irqlock_shell() {{\n\
         \x20 exec 3>&-\n\
         \x20 echo 'irqlock lab shell: the module is /irqlock.ko; exit powers the VM off'\n\
         \x20 setsid cttyhack sh -l\n\
         }}\n",
        begin = boot_marker()
    )
}

/// The init script for `steps`. Each step prints `irqlock-harness: step N: COMMAND` before and
/// `irqlock-harness: step N: exit=STATUS` after; the end prints the taint mask and `end`.
pub fn init_script(steps: &[Step], finish: Finish) -> String {
    format!("{PRELUDE}{}{}", library(), steps_script(steps, finish))
}

/// What the init script does once user space runs: the steps, then the end.
pub fn steps_script(steps: &[Step], finish: Finish) -> String {
    let mut script = "irqlock_begin\n".to_string();
    for (i, step) in steps.iter().enumerate() {
        script += &step_script(i + 1, step);
    }
    script += match finish {
        Finish::PowerOff => "irqlock_end\n",
        Finish::Shell => "irqlock_shell\n",
    };
    script += "reboot -f\n";
    script
}

/// The last line of a guest that ran to its end, printed through the kernel's log after the
/// `end` marker. The console prints kernel messages in order, so when it shows this line it
/// has shown every report before it, and ttyS1 has drained (its last close waits for its
/// output to be sent). The harness then stops the VM rather than wait for it to reboot.
pub const FLUSHED: &str = "irqlock-harness: console flushed";

/// The init script's line for step `n`: `irqlock_run` announces it, runs it whole and reports
/// the exit status of the whole entry.
fn step_script(n: usize, step: &Step) -> String {
    format!("irqlock_run {n} {}\n", cmd::quote(&step.command()))
}

/// What the init script's markers say: each step's exit status, the taint, the end.
#[derive(Debug, Default, PartialEq)]
pub struct Markers {
    pub exits: Vec<(usize, i32)>,
    pub tainted: Option<u64>,
    pub ended: bool,
}

pub fn markers(log: &str) -> Markers {
    // The console is shared: a kernel message may follow a marker on the same line, without
    // a newline between them, so only the leading digits of a value count.
    let number = |text: &str| -> Option<u64> {
        let digits: String = text.chars().take_while(|c| c.is_ascii_digit()).collect();
        digits.parse().ok()
    };
    let mut found = Markers::default();
    for line in log.lines() {
        let Some(at) = line.find(MARKER) else {
            continue;
        };
        let rest = line[at + MARKER.len()..].trim_start();
        if rest.starts_with("end") {
            found.ended = true;
        } else if let Some(mask) = rest.strip_prefix("tainted=") {
            found.tainted = number(mask);
        } else if let Some(step) = rest.strip_prefix("step ") {
            if let Some((n, status)) = step.split_once(": exit=") {
                if let (Ok(n), Some(status)) = (n.parse(), number(status)) {
                    found.exits.push((n, status as i32));
                }
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_reports_every_step() {
        let script = init_script(
            &[Step::Insmod(vec!["lock=mutex".into(), "x=a b".into()]), Step::Rmmod],
            Finish::PowerOff,
        );
        let step1 = r"irqlock_run 1 'insmod /irqlock.ko lock=mutex '\''x=a b'\'''";
        assert!(script.contains(&format!("\nirqlock_begin\n{step1}\n")), "{script}");
        assert!(script.ends_with("\nirqlock_run 2 'rmmod irqlock'\nirqlock_end\nreboot -f\n"), "{script}");
    }

    /// Runs `script` with the host's `sh`, a file standing in for ttyS1 (fd 3); returns what
    /// the console and the file received.
    fn run_with_host_sh(name: &str, script: &str) -> (String, String) {
        let dir = std::env::temp_dir().join(format!("irqlock-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let tty = dir.join("ttyS1");
        // Each test its own output file: tests run at once.
        let script = format!("{}exec 3>> {}\n{script}", library(), tty.display()).replace("/tmp/out", "out");
        let out = std::process::Command::new("sh").arg("-c").arg(&script).current_dir(&dir).output().unwrap();
        let channel = std::fs::read_to_string(&tty).unwrap_or_default();
        let _ = std::fs::remove_dir_all(&dir);
        (String::from_utf8_lossy(&out.stdout).into_owned(), channel)
    }

    /// The steps' markers, on both the console and ttyS1, as the harness reads them.
    #[test]
    fn the_steps_say_each_step_and_its_status() {
        let steps = [Step::Shell("echo one".into()), Step::Shell("exit 3".into())];
        let script = steps_script(&steps, Finish::PowerOff)
            .replace("irqlock_begin\n", "")
            .replace("irqlock_end\nreboot -f\n", "");
        let (console, channel) = run_with_host_sh("steps", &script);
        let want = "irqlock-harness: step 1: echo one\none\nirqlock-harness: step 1: exit=0\n\
                    irqlock-harness: step 2: exit 3\nirqlock-harness: step 2: exit=3\n";
        assert_eq!(console, want);
        assert_eq!(channel, want);
        assert_eq!(markers(&channel).exits, vec![(1, 0), (2, 3)]);
    }

    /// A compound entry is captured whole, with the status of the whole entry; run with the
    /// host's `sh`, with a file standing in for ttyS1.
    #[test]
    fn a_compound_command_is_captured_whole() {
        let step = Step::Shell("echo a; echo b && echo c | tr c d; false # a comment".into());
        let (console, channel) = run_with_host_sh("compound", &step_script(3, &step));
        assert!(console.contains("a\nb\nd\nirqlock-harness: step 3: exit=1\n"), "{console}");
        assert!(channel.contains("a\nb\nd\nirqlock-harness: step 3: exit=1\n"), "{channel}");
    }
}
