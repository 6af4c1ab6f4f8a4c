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
/// which `target/irqlock/latest` then points to. Two runs at once never share one.
pub fn run_dir(settings: &crate::settings::Settings, command: &str) -> Result<PathBuf> {
    let root = project_dir().join("target/irqlock");
    let name = format!("{command}-{}-{}", utc_stamp(std::time::SystemTime::now()), std::process::id());
    let dir = root.join(&name);
    if settings.dry_run {
        return Ok(dir);
    }
    std::fs::create_dir_all(&dir).context(|| format!("could not create {}", dir.display()))?;
    // Replace the link in one step, so that it always names a complete directory.
    let link = root.join("latest");
    let partial = root.join(format!(".latest-{}", std::process::id()));
    let _ = std::fs::remove_file(&partial);
    std::os::unix::fs::symlink(&name, &partial)
        .and_then(|()| std::fs::rename(&partial, &link))
        .context(|| format!("could not point {} to {name}", link.display()))?;
    Ok(dir)
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
}
