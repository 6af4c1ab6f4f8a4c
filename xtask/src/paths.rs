// SPDX-License-Identifier: GPL-2.0

//! Where things are: the project, the cache, and each run's own output directory.

use crate::error::{Context, Result};
use std::path::{Path, PathBuf};

/// Where the kernel builds, the kernel source and the project's own tools live.
///
/// `IRQLOCK_CACHE` overrides it; else `$XDG_CACHE_HOME/irqlock`, else `~/.cache/irqlock`.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("IRQLOCK_CACHE").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("irqlock");
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    PathBuf::from(home).join(".cache/irqlock")
}

/// The project's root directory (the parent of `xtask/`).
pub fn project_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask/ has a parent").to_path_buf()
}

/// The files in `dir` whose names end in `.ext`, in name order.
pub fn files_with_extension(dir: &Path, ext: &str) -> Result<Vec<PathBuf>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .context(|| format!("could not read {}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    paths.sort();
    Ok(paths)
}

/// `bytes` in lower-case hexadecimal: the names of cached things, from their hashes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A new output directory for one run of `command`, `target/irqlock/<command>-<time>-<pid>/`,
/// which `target/irqlock/latest` then points to. Two runs at once never share one. Older runs
/// of `command` beyond the newest [`KEEP_RUNS`] are removed.
pub fn run_dir(settings: &crate::settings::Settings, command: &str) -> Result<PathBuf> {
    let root = project_dir().join("target/irqlock");
    let name = format!("{command}-{}-{}", utc_stamp(std::time::SystemTime::now()), std::process::id());
    let dir = root.join(&name);
    if settings.dry_run {
        return Ok(dir);
    }
    std::fs::create_dir_all(&dir).context(|| format!("could not create {}", dir.display()))?;
    prune_runs(&root, command, KEEP_RUNS);
    // Replace the link in one step, so that it always names a complete directory.
    let link = root.join("latest");
    let partial = root.join(format!(".latest-{}", std::process::id()));
    let _ = std::fs::remove_file(&partial);
    std::os::unix::fs::symlink(&name, &partial)
        .and_then(|()| std::fs::rename(&partial, &link))
        .context(|| format!("could not point {} to {name}", link.display()))?;
    Ok(dir)
}

/// How many of one command's run directories [`run_dir`] keeps, the newest ones (a run of
/// `test` is about 40 MB, each further run of a `--repeat` under 1 MB).
pub const KEEP_RUNS: usize = 10;

/// Removes `command`'s run directories in `root`, keeping the newest `keep` and any whose
/// process still runs. Best effort: a directory that cannot be removed stays.
fn prune_runs(root: &Path, command: &str, keep: usize) {
    let Ok(entries) = std::fs::read_dir(root) else { return };
    let mut runs: Vec<(String, u32)> = entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter_map(|name| run_pid(&name, command).map(|pid| (name, pid)))
        .collect();
    // `<time>-<pid>` sorts by time.
    runs.sort();
    let old = runs.len().saturating_sub(keep);
    for (name, pid) in &runs[..old] {
        if !is_running(*pid) {
            let _ = std::fs::remove_dir_all(root.join(name));
        }
    }
}

/// Whether `pid` is a running `cargo xtask` (its executable is `xtask`, or a test binary
/// `xtask-<hash>`): a pid of a run long ended may have been given to another program since.
pub fn is_running(pid: u32) -> bool {
    std::fs::read_link(format!("/proc/{pid}/exe"))
        .is_ok_and(|exe| exe.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("xtask")))
}

/// The pid in `name` if it is a run directory of `command`: `<command>-YYYYmmdd-HHMMSS-<pid>`.
pub fn run_pid(name: &str, command: &str) -> Option<u32> {
    let rest = name.strip_prefix(command)?.strip_prefix('-')?;
    let mut parts = rest.split('-');
    let (date, time, pid) = (parts.next()?, parts.next()?, parts.next()?);
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    (parts.next().is_none() && digits(date, 8) && digits(time, 6)).then_some(())?;
    pid.parse().ok()
}

/// Writes `bytes` to `path` as a hard link to one copy per content in `store`: a run boots
/// the same initramfs in every repeat, and keeps it once.
pub fn write_shared(path: &Path, store: &Path, bytes: &[u8]) -> Result<()> {
    use sha2::Digest;
    std::fs::create_dir_all(store).context(|| format!("could not create {}", store.display()))?;
    let copy = store.join(format!("{}.cpio", &hex(&sha2::Sha256::digest(bytes))[..20]));
    if !copy.exists() {
        // Boots of one run write at once, and two may have the same initramfs: each writes
        // its own partial file, and the last rename leaves the same bytes.
        static WRITES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let partial = copy.with_extension(format!("partial-{}-{n}", std::process::id()));
        std::fs::write(&partial, bytes)
            .and_then(|()| std::fs::rename(&partial, &copy))
            .context(|| format!("could not write {}", copy.display()))?;
    }
    let _ = std::fs::remove_file(path);
    std::fs::hard_link(&copy, path)
        .or_else(|_| std::fs::copy(&copy, path).map(drop))
        .context(|| format!("could not write {}", path.display()))
}

/// `YYYYmmdd-HHMMSS` in UTC.
fn utc_stamp(time: std::time::SystemTime) -> String {
    let secs = time.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (days, rest) = ((secs / 86_400) as i64, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}{month:02}{day:02}-{:02}{:02}{:02}", rest / 3600, rest / 60 % 60, rest % 60)
}

/// Takes the lock file at `path`, creating it, and says `waiting` first when another run holds
/// it. The lock lasts while the returned file is open, in this process or in a child that
/// inherited it ([`crate::children::inherit`]).
pub fn lock(path: &Path, waiting: &str) -> Result<std::fs::File> {
    let lock = std::fs::File::create(path).context(|| format!("could not create {}", path.display()))?;
    if lock.try_lock().is_err() {
        eprintln!("{waiting}");
        lock.lock().context(|| format!("could not lock {}", path.display()))?;
    }
    Ok(lock)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn stamps_are_utc_calendar_times() {
        assert_eq!(utc_stamp(UNIX_EPOCH), "19700101-000000");
        // 2024-02-29 23:59:58 UTC, a leap day.
        assert_eq!(utc_stamp(UNIX_EPOCH + Duration::from_secs(1_709_251_198)), "20240229-235958");
    }

    #[test]
    fn only_the_newest_runs_of_the_command_and_running_ones_are_kept() {
        let root = std::env::temp_dir().join(format!("irqlock-runs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        // This test's own process runs, pid 1 is not xtask, and 999999999 is above any pid_max.
        let running = format!("test-20260102-000000-{}", std::process::id());
        let names = [
            "test-20260101-000000-999999999",
            running.as_str(),
            "test-20260102-000000-1",
            "test-20260103-000000-999999999",
            "test-20260104-000000-999999999",
            "test-20260105-000000-999999999",
            "test-exercise-20260101-000000-999999999",
            "run-20260101-000000-999999999",
            "latest-notes",
        ];
        for name in names {
            std::fs::create_dir_all(root.join(name)).unwrap();
        }
        prune_runs(&root, "test", 2);
        let mut left: Vec<String> = std::fs::read_dir(&root)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().into_string().unwrap())
            .collect();
        left.sort();
        std::fs::remove_dir_all(&root).unwrap();
        assert_eq!(
            left,
            [
                "latest-notes",
                "run-20260101-000000-999999999",
                running.as_str(),
                "test-20260104-000000-999999999",
                "test-20260105-000000-999999999",
                "test-exercise-20260101-000000-999999999",
            ]
        );
    }

    #[test]
    fn equal_contents_are_stored_once() {
        use std::os::unix::fs::MetadataExt;
        let dir = std::env::temp_dir().join(format!("irqlock-shared-{}", std::process::id()));
        let store = dir.join("store");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("a")).unwrap();
        std::fs::create_dir_all(dir.join("b")).unwrap();
        write_shared(&dir.join("a/x.cpio"), &store, b"same").unwrap();
        write_shared(&dir.join("b/x.cpio"), &store, b"same").unwrap();
        write_shared(&dir.join("b/y.cpio"), &store, b"other").unwrap();
        let stored = std::fs::read_dir(&store).unwrap().count();
        let (a, b) = (dir.join("a/x.cpio"), dir.join("b/x.cpio"));
        let same_inode = std::fs::metadata(&a).unwrap().ino() == std::fs::metadata(&b).unwrap().ino();
        let (bytes_a, bytes_y) = (std::fs::read(&a).unwrap(), std::fs::read(dir.join("b/y.cpio")).unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(stored, 2);
        assert!(same_inode);
        assert_eq!((bytes_a.as_slice(), bytes_y.as_slice()), (&b"same"[..], &b"other"[..]));
    }
}
