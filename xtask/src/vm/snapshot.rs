// SPDX-License-Identifier: GPL-2.0

//! Booted guests kept as QEMU snapshots, so that a scenario resumes a guest that has just
//! reached user space instead of booting one.
//!
//! The guest is booted once with an init that says it is ready and then waits on ttyS1 for its
//! steps; it is saved there (`migrate file:`), paused, before any step ran: irqlock was never
//! loaded, lockdep has seen none of its locks, no taint. A snapshot is keyed like the kernel
//! cache, by everything it was made from: the kernel image, the initramfs (busybox, the module,
//! the init script), QEMU's version, and the machine (CPUs, memory, devices, command line). A
//! snapshot counts only once its file is complete: it is written under another name and
//! renamed last, and made under a lock, so a stopped or concurrent run never uses half of one.

use super::monitor::Monitor;
use super::steps::{waiting_init_script, READY};
use super::{socket_path, Vm};
use crate::children::{self, Kind};
use crate::cmd;
use crate::error::{Context, Error, Result};
use crate::initramfs;
use crate::paths::{self, cache_dir, hex};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Bump when the way a snapshot is made changes.
const RECIPE: &str = "waiting init on ttyS1; migrate file:; v1";
/// Snapshots kept in the cache (about 40 MB each); older ones are removed. A run needs up to 4
/// per kernel (device sets, command lines): 24 hold all four kernels' (x86_64 and arm64, default
/// and PREEMPT_RT) with room, so that runs on several kernels at once, as CI's or a `--repeat`
/// beside another, do not push out each other's and boot them again (8 did: 11 needed at once).
const KEEP: usize = 24;
/// A guest that is not ready after this hung while booting.
const READY_DEADLINE: Duration = Duration::from_secs(60);

/// A saved guest and the initramfs it was booted with (the resumed QEMU needs the same).
pub struct Snapshot {
    pub file: PathBuf,
    pub initrd: PathBuf,
}

/// The snapshot of `vm`'s machine (its kernel, CPUs, memory, devices and command line) with
/// `module` in its initramfs; made first if the cache has none.
pub fn ensure(vm: &Vm, busybox: &Path, module: &Path) -> Result<Snapshot> {
    ensure_in(&cache_dir().join("snapshots"), KEEP, vm, busybox, module)
}

/// As [`ensure`], with the snapshots kept under `root`, the `keep` used last: the
/// exercises' modules, one per learner's build, keep their own so as not to push out
/// irqlock's.
pub fn ensure_in(root: &Path, keep: usize, vm: &Vm, busybox: &Path, module: &Path) -> Result<Snapshot> {
    // The key of a machine whose snapshot this process already found: every scenario of a run
    // resumes one of a few, and making the key (the initramfs archived and hashed, QEMU asked
    // its version) took 0.1-0.2 s of each scenario's boot-to-verdict. The module and busybox
    // are named with their size and time, as the kernel is: a file written again is another key.
    let stamp = |path: &Path| fs::metadata(path).map(|m| (m.len(), m.modified().ok())).ok();
    let memo_key = format!(
        "{}\n{}\n{}\n{:?}\n{}\n{:?}\n{:?}",
        root.display(),
        vm.qemu.display(),
        busybox.display(),
        stamp(busybox),
        module.display(),
        stamp(module),
        vm_facts(vm)
    );
    static FOUND: Mutex<Option<HashMap<String, String>>> = Mutex::new(None);
    let known = FOUND.lock().expect("not poisoned").get_or_insert_with(HashMap::new).get(&memo_key).cloned();
    if let Some(key) = known {
        let dir = root.join(&key);
        let snapshot = Snapshot { file: dir.join("guest.snap"), initrd: dir.join("initramfs.cpio") };
        // Still there: another run prunes the oldest.
        if snapshot.file.exists() && snapshot.initrd.exists() {
            used(&dir);
            return Ok(snapshot);
        }
    }
    let snapshot = ensure_made(root, keep, vm, busybox, module)?;
    if let Some(key) = snapshot.file.parent().and_then(|d| d.file_name()) {
        FOUND
            .lock()
            .expect("not poisoned")
            .get_or_insert_with(HashMap::new)
            .insert(memo_key, key.to_string_lossy().into_owned());
    }
    Ok(snapshot)
}

/// [`ensure_in`] without the memo: the key made from the files, and the snapshot saved if the
/// cache has none.
fn ensure_made(root: &Path, keep: usize, vm: &Vm, busybox: &Path, module: &Path) -> Result<Snapshot> {
    let initrd_bytes = initramfs::archive(busybox, module, &waiting_init_script())?;
    let key = key(vm, &initrd_bytes);
    let root = root.to_path_buf();
    let dir = root.join(&key);
    let snapshot = Snapshot { file: dir.join("guest.snap"), initrd: dir.join("initramfs.cpio") };
    if snapshot.file.exists() {
        used(&dir);
        return Ok(snapshot);
    }
    fs::create_dir_all(&dir).context(|| format!("could not create {}", dir.display()))?;
    let waiting = format!("snapshot: another run is saving {}; waiting for it", dir.display());
    let _lock = paths::lock(&root.join(format!("{key}.lock")), &waiting)?;
    // Newest while it is being made, so that no prune removes it half-made.
    used(&dir);
    if snapshot.file.exists() {
        return Ok(snapshot);
    }
    fs::write(&snapshot.initrd, &initrd_bytes)
        .context(|| format!("could not write {}", snapshot.initrd.display()))?;
    let started = Instant::now();
    eprintln!("snapshot: booting a guest to keep at {}", dir.display());
    if let Err(first) = save(vm, &snapshot, &dir) {
        if crate::children::stopping() {
            return Err(first);
        }
        // A kernel that hangs while booting is not the snapshot's fault: boot once more.
        eprintln!("snapshot: {}; booting once more", first.message);
        save(vm, &snapshot, &dir)?;
    }
    eprintln!("snapshot: saved in {:.1}s", started.elapsed().as_secs_f64());
    prune(&root, keep);
    Ok(snapshot)
}

fn key(vm: &Vm, initrd: &[u8]) -> String {
    let qemu_version = cmd::output(Command::new(&vm.qemu).arg("--version"))
        .unwrap_or_default()
        .lines()
        .next()
        .unwrap_or("")
        .to_string();
    let mut hash = Sha256::new();
    hash.update(format!("{RECIPE}\n{qemu_version}\n{}\n", vm_facts(vm)));
    hash.update(Sha256::digest(initrd));
    hex(&hash.finalize()[..10])
}

/// What of `vm` its snapshot is made of, but for the initramfs: the accelerator, the kernel
/// image (path, size, time), CPUs, memory, devices and command line. The same text is the same
/// machine.
fn vm_facts(vm: &Vm) -> String {
    let kernel = fs::metadata(&vm.kernel).map(|m| (m.len(), m.modified().ok())).ok();
    format!(
        "{:?}\n{}\n{kernel:?}\n{} {}\n{:?}\n{}",
        vm.accel_args(),
        vm.kernel.display(),
        vm.cpus,
        vm.memory_mb,
        vm.devices,
        vm.kernel_cmdline()
    )
}

/// Boots the waiting guest, and once it is ready, pauses and saves it.
fn save(vm: &Vm, snapshot: &Snapshot, dir: &Path) -> Result<()> {
    let harness = dir.join("harness.log");
    let _ = fs::remove_file(&harness);
    let boot = Vm {
        initrd: snapshot.initrd.clone(),
        harness_log: Some(harness.clone()),
        resume: None,
        boot_marker: None,
        ..vm.clone()
    };
    let monitor_path = socket_path(&harness, "mon");
    let mut command = boot.command();
    command.arg("-monitor").arg(format!("unix:{},server=on,wait=off", monitor_path.display()));
    eprintln!("$ {}", cmd::display(&command));
    let console = File::create(dir.join("boot.log")).context(|| "could not create the boot log".into())?;
    let errors = dir.join("qemu-errors.log");
    let stderr = File::create(&errors).context(|| "could not create the QEMU error log".into())?;
    command.stdin(Stdio::null()).stdout(console).stderr(stderr);
    let mut tracked = children::spawn(&mut command, "qemu", Kind::Vm)
        .context(|| format!("could not start {}; run `cargo xtask setup`", vm.qemu.display()))?;
    let started = Instant::now();
    let ready = loop {
        if fs::read_to_string(&harness).is_ok_and(|t| t.contains(READY)) {
            break true;
        }
        if tracked.child.try_wait().ok().flatten().is_some()
            || started.elapsed() > READY_DEADLINE * vm.arch.boot_factor()
        {
            break false;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    if !ready {
        let _ = tracked.child.kill();
        let _ = tracked.child.wait();
        return Err(Error::unavailable(format!(
            "the guest to snapshot did not reach user space in {}s; its console: {}; QEMU said: {}. \
             `--no-snapshot` boots every VM instead",
            (READY_DEADLINE * vm.arch.boot_factor()).as_secs(),
            dir.join("boot.log").display(),
            fs::read_to_string(&errors).unwrap_or_default().trim()
        )));
    }
    let partial = dir.join("guest.snap.partial");
    let mut monitor = Monitor::connect(&monitor_path)?;
    monitor.run("stop")?;
    monitor.run(&format!("migrate file:{}", partial.display()))?;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let status = monitor.run("info migrate")?;
        if status.contains("completed") {
            break;
        }
        if status.contains("failed") || status.contains("cancelled") || Instant::now() > deadline {
            let _ = tracked.child.kill();
            return Err(Error::unavailable(format!(
                "saving the guest failed: {}; `--no-snapshot` boots every VM instead",
                status.trim()
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = monitor.run("quit");
    let _ = tracked.child.wait();
    let _ = fs::remove_file(&monitor_path);
    fs::rename(&partial, &snapshot.file)
        .context(|| format!("could not move the snapshot to {}", snapshot.file.display()))
}

/// Marks the snapshot in `dir` as just used (its directory's time), so that [`prune`] keeps
/// the snapshots used last, not those made last: a run that makes a new one must not remove
/// an old one it is still resuming (a bench once did, and booted it again inside a timing).
fn used(dir: &Path) {
    if let Ok(handle) = File::open(dir) {
        let _ = handle.set_modified(std::time::SystemTime::now());
    }
}

/// Keeps the `keep` snapshots used last ([`used`]).
fn prune(root: &Path, keep: usize) {
    let Ok(entries) = fs::read_dir(root) else { return };
    let mut dirs: Vec<(std::time::SystemTime, PathBuf)> = entries
        .flatten()
        .filter(|e| e.path().is_dir())
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    dirs.sort_by_key(|d| std::cmp::Reverse(d.0));
    for (_, dir) in dirs.into_iter().skip(keep) {
        let _ = fs::remove_dir_all(&dir);
        let _ = fs::remove_file(dir.with_extension("lock"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::testutil::vm;

    #[test]
    fn the_key_follows_what_the_guest_is_made_of() {
        let key0 = key(&vm(), b"initramfs");
        assert_eq!(key0, key(&vm(), b"initramfs"));
        // Where this run keeps its files does not matter.
        assert_eq!(
            key0,
            key(
                &Vm { initrd: "/elsewhere.cpio".into(), timeout: Duration::from_secs(9), ..vm() },
                b"initramfs"
            )
        );
        assert_ne!(key0, key(&vm(), b"initramfs with another module"));
        assert_ne!(key0, key(&Vm { devices: vec!["edu".into()], ..vm() }, b"initramfs"));
        assert_ne!(key0, key(&Vm { cmdline: vec!["watchdog_thresh=2".into()], ..vm() }, b"initramfs"));
        assert_ne!(key0, key(&Vm { kernel: "/k2/bzImage".into(), ..vm() }, b"initramfs"));
        assert_ne!(key0, key(&Vm { memory_mb: 256, ..vm() }, b"initramfs"));
    }

    /// The snapshots used last are kept, however old.
    #[test]
    fn pruning_keeps_the_snapshots_used_last() {
        let root = std::env::temp_dir().join(format!("irqlock-snapshot-prune-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        for (n, name) in ["made-first", "made-second", "made-third"].iter().enumerate() {
            let dir = root.join(name);
            fs::create_dir_all(&dir).unwrap();
            let at = std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + n as u64);
            File::open(&dir).unwrap().set_modified(at).unwrap();
        }
        used(&root.join("made-first"));
        prune(&root, 2);
        let mut left: Vec<String> =
            fs::read_dir(&root).unwrap().flatten().map(|e| e.file_name().into_string().unwrap()).collect();
        left.sort();
        fs::remove_dir_all(&root).unwrap();
        assert_eq!(left, ["made-first", "made-third"]);
    }

    /// A kernel rebuilt in place (same path, another size or time) is another guest.
    #[test]
    fn the_key_follows_the_kernel_image_at_the_same_path() {
        let dir = std::env::temp_dir().join(format!("irqlock-snapshot-key-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let bzimage = dir.join("bzImage");
        let at = |len: usize, mtime: u64| {
            let file = File::create(&bzimage).unwrap();
            file.set_len(len as u64).unwrap();
            file.set_modified(std::time::UNIX_EPOCH + Duration::from_secs(mtime)).unwrap();
            key(&Vm { kernel: bzimage.clone(), ..vm() }, b"initramfs")
        };
        let first = at(1000, 1_700_000_000);
        assert_eq!(first, at(1000, 1_700_000_000));
        assert_ne!(first, at(1001, 1_700_000_000), "a kernel of another size");
        assert_ne!(first, at(1000, 1_700_000_001), "a kernel written again");
        let _ = fs::remove_dir_all(&dir);
    }
}
