// SPDX-License-Identifier: GPL-2.0

//! Building `irqlock.ko` against a cached kernel build tree, as `make KDIR=...` would.

use crate::children;
use crate::cmd;
use crate::error::{Context, Error, Result, EXIT_FAIL};
use crate::kernel;
use crate::paths::{self, project_dir};
use crate::settings::Settings;
use crate::setup::Toolchain;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Builds the module out of tree (`MO=`), so the source directory stays clean, and copies
/// `irqlock.ko` into `dest`, whose copy it returns. Runs in the same checkout take turns on
/// the build tree (a lock that `make` holds until it exits); each boots its own copy.
pub fn build(settings: &Settings, tools: &Toolchain, kernel: &kernel::Build, dest: &Path) -> Result<PathBuf> {
    let name = kernel.dir.file_name().unwrap_or_default().to_string_lossy().into_owned();
    let out = project_dir().join("target/irqlock-module").join(name);
    let copy = dest.join("irqlock.ko");
    if settings.dry_run {
        let mut make = module_make(tools, kernel, &out);
        cmd::run_logged(
            settings,
            &mut make,
            &out.join("build.log"),
            "module build",
            Duration::from_secs(30),
        )?;
        println!("cp {} {}", out.join("irqlock.ko").display(), copy.display());
        return Ok(copy);
    }
    std::fs::create_dir_all(&out).context(|| format!("could not create {}", out.display()))?;
    let waiting = format!("module: another run is building in {}; waiting for it", out.display());
    let lock = paths::lock(&out.join(".lock"), &waiting)?;
    let mut make = module_make(tools, kernel, &out);
    children::inherit(&mut make, &lock);
    // A module that does not compile is the user's failure (exit 1), rustc's message shown.
    cmd::run_logged(settings, &mut make, &out.join("build.log"), "module build", Duration::from_secs(30))
        .map_err(|e| Error { exit_code: EXIT_FAIL, ..e })?;
    std::fs::copy(out.join("irqlock.ko"), &copy)
        .context(|| format!("could not copy irqlock.ko to {}", dest.display()))?;
    Ok(copy)
}

/// The module as the guest gets it: without its debug information (a tenth of the size, so
/// insmod reads and copies less). The harness keeps the full copy to name source lines.
pub fn guest_copy(settings: &Settings, module: &Path) -> Result<PathBuf> {
    let guest = module.with_file_name("irqlock-guest.ko");
    let strip = crate::arch::Arch::binutil_for(module, "strip");
    cmd::run(settings, Command::new(strip).arg("--strip-debug").arg("-o").arg(&guest).arg(module))?;
    Ok(guest)
}

/// `make` of the module against `kernel`, its objects in `out`.
fn module_make(tools: &Toolchain, kernel: &kernel::Build, out: &Path) -> Command {
    let mut make = tools.make(&kernel.dir);
    make.arg(format!("M={}", project_dir().display()))
        .arg(format!("MO={}", out.display()))
        // Debug info, so that `demo` can name the source line of each frame of the module.
        .arg("KRUSTFLAGS=-Cdebuginfo=2");
    make
}

/// The settings lines of a rustfmt.toml, without comments and blank lines.
fn rustfmt_settings(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).context(|| format!("could not read {}", path.display()))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect())
}

/// `cargo xtask lint`: the module against the kernel's own gates: rustfmt with the kernel's
/// settings, and a `CLIPPY=1` build in which any warning is an error.
pub fn lint(settings: &Settings, tools: &Toolchain, kernel: &kernel::Build, out: &Path) -> Result<()> {
    let root = project_dir();
    let mut sources: Vec<PathBuf> = std::fs::read_dir(root.join("rust"))
        .context(|| "could not read rust/".into())?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .collect();
    sources.sort();
    // A check that ran and found something is a failure (exit 1), not "could not run".
    let failed = |e: Error| Error { exit_code: EXIT_FAIL, ..e };
    let kernel_settings = rustfmt_settings(&kernel.dir.join("source/.rustfmt.toml"))?;
    if rustfmt_settings(&root.join("rust/.rustfmt.toml"))? != kernel_settings {
        return Err(failed(Error::unavailable(format!(
            "rust/.rustfmt.toml no longer matches the kernel's settings: make its settings {kernel_settings:?}"
        ))));
    }
    // The Makefile's target, as a user would run it: one definition of the check.
    let mut rustfmt = Command::new("make");
    rustfmt.arg("-C").arg(&root).arg(format!("KDIR={}", kernel.dir.display())).arg("rustfmtcheck");
    cmd::run(settings, &mut rustfmt).map_err(failed)?;

    // A fresh tree (this run's own), so that every file is checked, not only the changed ones.
    let out = out.join("lint");
    std::fs::create_dir_all(&out).context(|| format!("could not create {}", out.display()))?;
    let mut make = tools.make(&kernel.dir);
    make.arg(format!("M={}", root.display()))
        .arg(format!("MO={}", out.display()))
        .arg("CLIPPY=1")
        .arg(format!("CLIPPY_DRIVER={}", tools.clippy_driver.display()))
        .arg("KRUSTFLAGS=-Dwarnings");
    cmd::run_logged(settings, &mut make, &out.join("lint.log"), "module clippy", Duration::from_secs(30))
        .map_err(failed)?;
    eprintln!("lint: rustfmt and clippy are clean for rust/");
    Ok(())
}
