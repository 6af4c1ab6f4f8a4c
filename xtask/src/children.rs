// SPDX-License-Identifier: GPL-2.0

//! Every process the harness starts, and stopping them all.
//!
//! Each child is started through [`spawn`], which records it and arranges that it cannot
//! outlive the harness:
//! - SIGINT, SIGTERM and SIGHUP to the harness are taken by one thread ([`install`]), which
//!   stops every recorded child (its whole process group: `make` and its compilers), says what
//!   it stopped, and exits 130, 143 or 129;
//! - if the harness dies without a chance to do that (SIGKILL), the kernel sends each child its
//!   parent-death signal (`PR_SET_PDEATHSIG`): SIGKILL for QEMU, SIGTERM for `make`, which then
//!   stops its own children.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How a child is started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Its own process group, stopped as a whole; the parent-death signal is SIGTERM, so that
    /// a `make` can pass it on to its compilers.
    Group,
    /// Its own process group; a parent-death SIGKILL (QEMU: nothing to clean up).
    Vm,
    /// The user's terminal stays its own (an interactive QEMU reads the keyboard), so it stays
    /// in the harness's process group; a parent-death SIGKILL.
    Foreground,
}

struct Running {
    pid: i32,
    name: String,
    kind: Kind,
}

struct Registry {
    stopping: bool,
    children: Vec<Running>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry { stopping: false, children: Vec::new() });

/// How long children get to stop after SIGTERM before they are killed.
const GRACE: Duration = Duration::from_millis(1000);

/// A child that is forgotten by the registry once dropped (after it has been waited for).
pub struct Tracked {
    pub child: Child,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        let pid = self.child.id() as i32;
        let mut registry = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
        registry.children.retain(|c| c.pid != pid);
    }
}

/// Whether the harness is stopping (a signal came): nothing more may start.
pub fn stopping() -> bool {
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner()).stopping
}

/// Starts `cmd` as a recorded child named `name`. Refused once the harness is stopping.
pub fn spawn(cmd: &mut Command, name: &str, kind: Kind) -> io::Result<Tracked> {
    let parent = std::process::id() as i32;
    let death_signal = if kind == Kind::Group { libc::SIGTERM } else { libc::SIGKILL };
    let own_group = kind != Kind::Foreground;
    // SAFETY: The closure runs in the child between fork and exec and calls only
    // async-signal-safe functions (sigprocmask, setpgid, prctl, getppid, _exit); it touches no
    // memory shared with the parent.
    unsafe {
        cmd.pre_exec(move || {
            // The harness blocks these signals in all its threads; the child must not inherit that.
            let mut none: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut none);
            libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
            if own_group {
                libc::setpgid(0, 0);
            }
            libc::prctl(libc::PR_SET_PDEATHSIG, death_signal as libc::c_ulong, 0, 0, 0);
            // The harness may have died before prctl: then nobody would send the signal.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
    let mut registry = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    if registry.stopping {
        return Err(io::Error::new(io::ErrorKind::Interrupted, "the harness is stopping"));
    }
    let child = cmd.spawn()?;
    registry.children.push(Running { pid: child.id() as i32, name: name.to_string(), kind });
    Ok(Tracked { child })
}

/// Lets the child started by `cmd` (and its own children) inherit `file`, so that a lock held
/// on it (`flock`) stays held until the last of them has exited, even if the harness is gone.
pub fn inherit(cmd: &mut Command, file: &std::fs::File) {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    // SAFETY: The closure runs in the child between fork and exec and calls only fcntl, which
    // is async-signal-safe; it changes the child's copy of the descriptor's flags only.
    unsafe {
        cmd.pre_exec(move || {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            if flags < 0 || libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Blocks SIGINT, SIGTERM and SIGHUP in this thread (and so in every thread started after it)
/// and starts the thread that takes them. Call first thing in `main`.
///
/// SIGPIPE goes back to its default action, as in any Unix filter: when the reader of the
/// harness's output goes away (`cargo xtask triage --json F | head`), the harness ends
/// quietly instead of panicking on the failed write; every child still dies with it, by its
/// parent-death signal.
pub fn install() {
    // SAFETY: setting a signal's disposition to SIG_DFL installs no handler; called before any
    // thread is started.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    // SAFETY: sigset_t is plain data that sigemptyset/sigaddset initialise; pthread_sigmask
    // only changes this thread's signal mask.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            libc::sigaddset(&mut set, signal);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    };
    std::thread::spawn(move || {
        let mut signal: libc::c_int = 0;
        // SAFETY: `set` is an initialised signal set and `signal` a valid place to write to.
        while unsafe { libc::sigwait(&set, &mut signal) } != 0 {}
        let stopped = stop_all();
        let name = match signal {
            libc::SIGINT => "SIGINT",
            libc::SIGTERM => "SIGTERM",
            _ => "SIGHUP",
        };
        let what = if stopped.is_empty() { "nothing was running".to_string() } else { stopped.join(", ") };
        eprintln!("\ncargo xtask: {name}: stopped {what}");
        std::process::exit(128 + signal);
    });
}

/// Stops every recorded child: a VM at once with SIGKILL (it has nothing to clean up, and a
/// guest stuck in a lockup can keep QEMU from acting on SIGTERM for seconds); the others with
/// SIGTERM to their process group, then SIGKILL to what is left after the grace period.
/// Returns what was stopped, as `name (pid N)`.
fn stop_all() -> Vec<String> {
    stop(&mut REGISTRY.lock().unwrap_or_else(|e| e.into_inner()))
}

fn stop(registry: &mut Registry) -> Vec<String> {
    registry.stopping = true;
    let target = |c: &Running| if c.kind == Kind::Foreground { c.pid } else { -c.pid };
    for child in &registry.children {
        let signal = if child.kind == Kind::Vm { libc::SIGKILL } else { libc::SIGTERM };
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(target(child), signal) };
    }
    let deadline = Instant::now() + GRACE;
    while Instant::now() < deadline && registry.children.iter().any(|c| !exited(c.pid)) {
        std::thread::sleep(Duration::from_millis(20));
    }
    for child in &registry.children {
        // Whatever is left of the group (a compiler that ignored SIGTERM) goes now.
        // SAFETY: as above.
        unsafe { libc::kill(target(child), libc::SIGKILL) };
    }
    registry.children.iter().map(|c| format!("{} (pid {})", c.name, c.pid)).collect()
}

/// Whether the child has exited (it may still be waiting for its parent to collect it).
fn exited(pid: i32) -> bool {
    // SAFETY: siginfo_t is plain data; waitid with WNOWAIT only looks at the child's state.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let r = libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        );
        r != 0 || info.si_pid() != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_is_recorded_until_dropped_and_in_its_own_group() {
        let mut tracked = spawn(Command::new("sleep").arg("5"), "sleep", Kind::Group).unwrap();
        let pid = tracked.child.id() as i32;
        assert!(REGISTRY.lock().unwrap().children.iter().any(|c| c.pid == pid));
        // SAFETY: getpgid has no memory-safety preconditions.
        assert_eq!(unsafe { libc::getpgid(pid) }, pid);
        tracked.child.kill().unwrap();
        tracked.child.wait().unwrap();
        drop(tracked);
        assert!(!REGISTRY.lock().unwrap().children.iter().any(|c| c.pid == pid));
    }

    /// Whether `pid` is gone or a zombie.
    fn dead(pid: i32) -> bool {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => true,
            Ok(stat) => stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z')),
        }
    }

    /// Stopping a group stops the processes its leader started too, as `make`'s compilers.
    #[test]
    fn stopping_a_group_stops_its_children() {
        let dir = std::env::temp_dir().join(format!("irqlock-stop-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("pid");
        let script = format!("sleep 100 & echo $! > {}; wait", file.display());
        let mut command = Command::new("sh");
        command.args(["-c", &script]);
        // SAFETY: setpgid is async-signal-safe and touches only the child.
        unsafe {
            command.pre_exec(|| {
                libc::setpgid(0, 0);
                Ok(())
            });
        }
        let mut leader = command.spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::fs::read_to_string(&file).map_or(true, |s| s.trim().is_empty())
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        let worker: i32 = std::fs::read_to_string(&file).unwrap().trim().parse().unwrap();
        let pid = leader.id() as i32;
        let mut registry = Registry {
            stopping: false,
            children: vec![Running { pid, name: "sh".into(), kind: Kind::Group }],
        };
        let started = Instant::now();
        assert_eq!(stop(&mut registry), [format!("sh (pid {pid})")]);
        leader.wait().unwrap();
        while !dead(worker) && started.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(dead(worker), "the leader's child {worker} outlived the stop");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
