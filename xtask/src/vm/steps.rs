// SPDX-License-Identifier: GPL-2.0

//! The steps handshake, both halves: a guest booted once and saved waits on ttyS1; once
//! resumed, the harness sends it its steps ([`send_steps`]), and the guest's receive loop
//! ([`waiting_init_script`]) counts what it received and runs the steps once the harness says
//! they arrived whole.

use crate::error::{Context, Error, Result};
use crate::guest::{library, HARNESS_TTY, PRELUDE};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// The line a waiting guest prints on ttyS1 once it is ready to be saved as a snapshot.
pub const READY: &str = "irqlock-harness: ready";
/// The line that ends the steps the harness sends to a resumed guest.
pub const GO: &str = "irqlock-go";
/// The line after which the steps begin; a guest ignores what comes before it.
pub const SYNC: &str = "irqlock-steps";
/// How a guest says what it received: this, then the number of bytes between [`SYNC`] and
/// [`GO`]. What a serial port loses is bytes, so their count shows a damaged copy; counting
/// is done by the shell, where a checksum would start a process.
pub const STEPS_RECEIVED: &str = "irqlock-harness: steps received ";

/// The init script of a guest that is booted once and kept as a snapshot: once the boot has
/// settled (the TSC clocksource is in use, 5 s at most, and the console has caught up), it
/// opens ttyS1 until it has its steps (a tty closed and opened again drops what came in
/// between), says it is ready, then waits on ttyS1 for the steps (the lines from [`SYNC`] to
/// [`GO`]), says how much it received ([`STEPS_RECEIVED`]), and runs them once the harness
/// answers that they arrived whole. The steps keep ttyS1 open on fd 3 alone (fd 4 closed): the
/// steps' last close of the port must be the one that waits until their output has been sent.
/// Every scenario resumes the same waiting guest, in which nothing of the module ever ran.
/// ttyS1 runs at 115200 baud with the receive FIFO's interrupt at 14 bytes: QEMU hands the
/// port at most the FIFO's trigger level at a time, and a shorter tail waits four characters'
/// time, so the steps arrive in fewer, shorter waits.
pub fn waiting_init_script() -> String {
    format!(
        "{PRELUDE}{library}\
         stty -F {HARNESS_TTY} raw -echo 115200\n\
         echo 14 > /sys/class/tty/ttyS1/rx_trig_bytes 2>/dev/null\n\
         exec 4<> {HARNESS_TTY}\n\
         i=0\n\
         while [ \"$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)\" != tsc ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done\n\
         sleep 0.2\n\
         echo '{READY}' >&4\n\
         {receive}         exec 3>&4 4<&-; harness_open=1\n\
         eval \"$steps\"\n",
        library = library(),
        receive = receive_steps()
    )
}

/// The waiting guest's loop that reads the steps from ttyS1 (fd 4) into `$steps`, keeping what
/// follows the last sync line (bytes before it may be lost or stale). Until the harness answers
/// `OK` to the byte count, each copy is received anew.
fn receive_steps() -> String {
    format!(
        "while :; do\n\
         \x20 steps=\n\
         \x20 while IFS= read -r line <&4; do\n\
         \x20   [ \"$line\" = '{GO}' ] && break\n\
         \x20   if [ \"$line\" = '{SYNC}' ]; then steps=; continue; fi\n\
         \x20   steps=\"$steps$line\n\"\n\
         \x20 done\n\
         \x20 echo \"{STEPS_RECEIVED}${{#steps}}\" >&4\n\
         \x20 IFS= read -r answer <&4\n\
         \x20 [ \"$answer\" = AGAIN ] || break\n\
         done\n"
    )
}

/// Sends `steps` to a resumed guest, which answers with how many bytes it received: the first
/// bytes to a freshly resumed guest can be lost (seen on PREEMPT_RT, whose serial port is
/// served by a thread), so each copy follows [`SYNC`] lines, and a copy that arrived
/// short is sent again. `after_first_copy` runs once the first copy is written (the harness
/// lets the paused guest run there, so that it finds its steps already waiting).
pub(super) fn send_steps(
    channel: &mut UnixStream,
    steps: &str,
    after_first_copy: impl FnOnce() -> Result<()>,
) -> Result<()> {
    let mut after_first_copy = Some(after_first_copy);
    let want = steps.len().to_string();
    let payload = format!("{sync}\n{sync}\n{sync}\n{steps}{go}\n", sync = SYNC, go = GO);
    channel.set_read_timeout(Some(Duration::from_secs(30))).context(|| "the guest's channel".into())?;
    for attempt in 1..=3 {
        channel.write_all(payload.as_bytes()).context(|| "sending the steps to the guest".into())?;
        if let Some(then) = after_first_copy.take() {
            then()?;
        }
        let line = read_line(channel).map_err(|e| {
            Error::unavailable(format!(
                "the resumed guest did not say what steps it received within 30 s ({e}); its \
                 console says why; `--no-snapshot` boots every VM with its steps in the initramfs"
            ))
        })?;
        let got = line.trim().strip_prefix(STEPS_RECEIVED).unwrap_or("").to_string();
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The steps' output on ttyS1 is complete once the steps close it: only the last close
    /// of a tty waits until its output has been sent, so the waiting guest's own descriptor
    /// must be closed before the steps run, fd 3 left the only one.
    #[test]
    fn the_waiting_guest_lets_go_of_ttys1_before_its_steps() {
        let script = waiting_init_script();
        let closed = script.find("exec 3>&4 4<&-").expect("the waiting guest hands ttyS1 to fd 3");
        let steps = script.find("eval \"$steps\"").expect("the waiting guest runs its steps");
        assert!(closed < steps);
    }

    /// What [`send_steps`] sends is what the waiting guest's receive loop takes: run with the
    /// host's `sh` on one end of a socket (its fd 4, as ttyS1 is the guest's), the harness's
    /// function on the other, with stale bytes before the first sync line as a resumed guest
    /// may see. The loop counts the steps as the harness does, and keeps them byte for byte.
    #[test]
    fn the_waiting_guest_receives_what_the_harness_sends() {
        use crate::guest::{steps_script, Finish, Step};
        use std::os::fd::OwnedFd;
        use std::process::{Command, Stdio};
        let steps = [
            Step::Insmod(vec!["lock=mutex".into(), "x=a b".into()]),
            Step::Shell("echo \"a  b\\\\c\"\n  indented".into()),
        ];
        let sent = steps_script(&steps, Finish::PowerOff);
        let (mut host, guest) = UnixStream::pair().unwrap();
        let script = format!("exec 4<&0 0</dev/null\n{}printf '%s' \"$steps\"", receive_steps());
        let shell = Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::from(OwnedFd::from(guest)))
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        host.write_all(b"rt-lost-this").unwrap();
        send_steps(&mut host, &sent, || Ok(())).unwrap();
        let out = shell.wait_with_output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), sent);
    }
}
