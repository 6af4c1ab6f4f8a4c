//! Building `irqlock.ko` against a cached kernel build tree, as `make KDIR=...` would.

use crate::cmd;
use crate::error::{Context, Result};
use crate::kernel;
use crate::setup::{project_dir, Toolchain};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// Builds the module out of tree (`MO=`), so the source directory stays clean, and returns
/// the path of `irqlock.ko`.
pub fn build(tools: &Toolchain, kernel: &kernel::Build) -> Result<PathBuf> {
    let name = kernel.dir.file_name().unwrap_or_default().to_string_lossy().into_owned();
    let out = project_dir().join("target/irqlock-module").join(name);
    std::fs::create_dir_all(&out).context(|| format!("could not create {}", out.display()))?;
    let mut make = Command::new("make");
    make.arg("-C")
        .arg(&kernel.dir)
        .arg(format!("M={}", project_dir().display()))
        .arg(format!("MO={}", out.display()))
        .arg(format!("RUSTC={}", tools.rustc.display()))
        .arg(format!("BINDGEN={}", tools.bindgen.display()))
        // Debug info, so that `demo` can name the source line of each frame of the module.
        .arg("KRUSTFLAGS=-Cdebuginfo=2")
        .env("LIBCLANG_PATH", &tools.libclang_dir);
    cmd::run_logged(&mut make, &out.join("build.log"), "module build", Duration::from_secs(30))?;
    Ok(out.join("irqlock.ko"))
}
