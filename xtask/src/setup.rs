// SPDX-License-Identifier: GPL-2.0

//! `cargo xtask setup`: is everything there, and if not, install it or say how.
//!
//! Every command that builds (`kernel`, `module`, `lint`, and the booting ones) calls
//! [`setup`] first, as `cargo xtask setup` does: it installs what is missing (Debian 12, as
//! root), stops before any build with the message `setup --check` prints where it cannot, and
//! does nothing when every tool is present.

use crate::cmd;
use crate::error::{Context, Error, Result};
use crate::paths::cache_dir;
use crate::settings::Settings;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The tools every build and boot uses, all known to be present.
#[derive(Debug, Clone)]
pub struct Toolchain {
    /// A rustc whose sysroot has core's source, as the kernel needs.
    pub rustc: PathBuf,
    /// Clippy for that rustc.
    pub clippy_driver: PathBuf,
    pub bindgen: PathBuf,
    /// The directory that holds libclang.so, for bindgen.
    pub libclang_dir: PathBuf,
    pub qemu: PathBuf,
    pub busybox: PathBuf,
}

impl Toolchain {
    /// `make -C dir` with the compilers the kernel build needs: the one place that says so.
    pub fn make(&self, dir: &Path) -> Command {
        let mut make = Command::new("make");
        make.arg("-C")
            .arg(dir)
            .arg(format!("RUSTC={}", self.rustc.display()))
            .arg(format!("BINDGEN={}", self.bindgen.display()))
            .env("LIBCLANG_PATH", &self.libclang_dir);
        make
    }

    /// Versions of every tool that shapes the kernel build, for the cache key.
    pub fn versions(&self) -> String {
        let version = |program: &Path, arg: &str| {
            cmd::output(Command::new(program).arg(arg)).unwrap_or_default().trim().to_string()
        };
        [
            version(&self.rustc, "--version"),
            version(&self.bindgen, "--version"),
            version(Path::new("gcc"), "--version").lines().next().unwrap_or("").to_string(),
            version(Path::new("ld"), "--version").lines().next().unwrap_or("").to_string(),
            self.libclang_dir.display().to_string(),
        ]
        .join("\n")
    }
}

const RUSTC: &str = "/usr/bin/rustc";
const CLIPPY_DRIVER: &str = "/usr/bin/clippy-driver";
const LIBCLANG_DIR: &str = "/usr/lib/llvm-22/lib";
const BUSYBOX: &str = "/bin/busybox";
/// bindgen for kernel 7.3 with libclang 22: at least 0.72.1. This one is known to work.
const BINDGEN_VERSION: &str = "0.73.2";

/// How a missing piece is installed.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Install {
    /// Debian packages from the distribution's own suites.
    Apt(&'static [&'static str]),
    /// Debian packages from bookworm-backports (QEMU 10: bookworm's 7.2 conflicts with the
    /// qemu-utils these machines carry, and lacks nothing else we need).
    AptBackports(&'static [&'static str]),
    /// `cargo install bindgen-cli` into the cache.
    Bindgen,
}

struct Requirement {
    what: &'static str,
    present: fn() -> bool,
    install: Install,
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false)
}

fn bindgen_path() -> PathBuf {
    cache_dir().join("tools/bin/bindgen")
}

fn requirements() -> Vec<Requirement> {
    vec![
        Requirement {
            what: "C toolchain and kernel build tools (gcc, make, flex, bison, bc, pkg-config)",
            present: || ["gcc", "make", "ld", "flex", "bison", "bc", "pkg-config"].iter().all(|p| on_path(p)),
            install: Install::Apt(&["gcc", "make", "binutils", "flex", "bison", "bc", "pkgconf"]),
        },
        Requirement {
            what: "libelf and OpenSSL headers for the kernel build",
            present: || {
                Path::new("/usr/include/gelf.h").exists()
                    && Path::new("/usr/include/openssl/opensslv.h").exists()
            },
            install: Install::Apt(&["libelf-dev", "libssl-dev"]),
        },
        Requirement {
            what: "rustc 1.96 with core's source at /usr/bin/rustc",
            present: || {
                Path::new(RUSTC).exists()
                    && cmd::output(Command::new(RUSTC).args(["--print", "sysroot"]))
                        .map(|root| {
                            Path::new(root.trim())
                                .join("lib/rustlib/src/rust/library/core/src/lib.rs")
                                .exists()
                        })
                        .unwrap_or(false)
            },
            install: Install::Apt(&["rustc-web", "rust-web-src"]),
        },
        Requirement {
            what: "clippy for that rustc, for the kernel's CLIPPY=1 lint of the module",
            present: || Path::new(CLIPPY_DRIVER).exists(),
            install: Install::Apt(&["rust-web-clippy"]),
        },
        Requirement {
            what: "libclang 22 for bindgen",
            present: || Path::new(LIBCLANG_DIR).join("libclang.so").exists(),
            install: Install::Apt(&["libclang-22-dev"]),
        },
        Requirement {
            what: "static busybox for the initramfs",
            present: || std::fs::read(BUSYBOX).map(|elf| is_static_elf64(&elf)).unwrap_or(false),
            install: Install::Apt(&["busybox-static"]),
        },
        Requirement {
            what: "bubblewrap, the sandbox `cargo xtask grade` builds each submission in",
            present: || on_path("bwrap"),
            install: Install::Apt(&["bubblewrap"]),
        },
        Requirement {
            what: "QEMU for x86_64 with the edu device",
            present: || on_path("qemu-system-x86_64"),
            install: Install::AptBackports(&["qemu-system-x86"]),
        },
        Requirement {
            what: "bindgen >= 0.72.1 in the irqlock cache",
            present: || {
                cmd::output(Command::new(bindgen_path()).arg("--version"))
                    .is_some_and(|v| v.trim() == format!("bindgen {BINDGEN_VERSION}"))
            },
            install: Install::Bindgen,
        },
    ]
}

/// True for a 64-bit little-endian ELF executable without a program interpreter (PT_INTERP),
/// which runs in an initramfs that has no dynamic loader.
fn is_static_elf64(elf: &[u8]) -> bool {
    const PT_INTERP: u32 = 3;
    let u16_at = |at: usize| elf.get(at..at + 2).map(|b| u16::from_le_bytes([b[0], b[1]]) as usize);
    let u32_at = |at: usize| elf.get(at..at + 4).map(|b| u32::from_le_bytes(b.try_into().unwrap()));
    let u64_at = |at: usize| elf.get(at..at + 8).map(|b| u64::from_le_bytes(b.try_into().unwrap()) as usize);
    if !elf.starts_with(b"\x7fELF\x02\x01") {
        return false;
    }
    let (Some(phoff), Some(phentsize), Some(phnum)) = (u64_at(0x20), u16_at(0x36), u16_at(0x38)) else {
        return false;
    };
    (0..phnum).all(|i| u32_at(phoff + i * phentsize).is_some_and(|kind| kind != PT_INTERP))
}

/// The machine's Debian codename, if it is Debian.
fn debian_codename() -> Option<String> {
    let release = std::fs::read_to_string("/etc/os-release").ok()?;
    if !release.lines().any(|l| l == "ID=debian") {
        return None;
    }
    release.lines().find_map(|l| l.strip_prefix("VERSION_CODENAME=")).map(|c| c.trim_matches('"').to_string())
}

/// Private apt state under the cache, so that suites the system's sources lack
/// (bookworm-backports, trixie-backports) can be used without touching /etc/apt.
pub struct Apt {
    dir: PathBuf,
}

const DEBIAN_KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

impl Apt {
    /// An apt state with the given `deb` lines, updated if its lists are missing.
    pub fn new(settings: &Settings, name: &str, suites: &[(&str, &str)]) -> Result<Self> {
        let dir = cache_dir().join("apt").join(name);
        for sub in ["lists/partial", "archives/partial"] {
            std::fs::create_dir_all(dir.join(sub))
                .context(|| format!("could not create {}", dir.display()))?;
        }
        let sources: String = suites
            .iter()
            .map(|(archive, suite)| {
                format!("deb [signed-by={DEBIAN_KEYRING}] http://deb.debian.org/{archive} {suite} main\n")
            })
            .collect();
        let list = dir.join("sources.list");
        let stale = std::fs::read_to_string(&list).map(|old| old != sources).unwrap_or(true);
        std::fs::write(&list, &sources).context(|| format!("could not write {}", list.display()))?;
        let apt = Self { dir };
        let has_lists = std::fs::read_dir(apt.dir.join("lists"))
            .map(|entries| entries.flatten().any(|e| e.file_name().to_string_lossy().ends_with("_Packages")))
            .unwrap_or(false);
        if stale || !has_lists {
            cmd::run(settings, apt.command("apt-get").arg("update"))?;
        }
        Ok(apt)
    }

    /// `apt-get` or `apt-cache` with this state's options.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        let d = |sub: &str| self.dir.join(sub).display().to_string();
        command.args([
            "-q".to_string(),
            format!("-o=Dir::Etc::SourceList={}", d("sources.list")),
            "-o=Dir::Etc::SourceParts=/dev/null".to_string(),
            format!("-o=Dir::State::Lists={}", d("lists")),
            format!("-o=Dir::Cache::Archives={}", d("archives")),
            "-o=Dir::Cache::pkgcache=".to_string(),
            "-o=Dir::Cache::srcpkgcache=".to_string(),
            // The cache belongs to the user, not to apt's sandbox user.
            "-o=APT::Sandbox::User=root".to_string(),
        ]);
        command.env("DEBIAN_FRONTEND", "noninteractive");
        command
    }
}

fn is_root() -> bool {
    cmd::output(Command::new("id").arg("-u")).is_some_and(|id| id.trim() == "0")
}

/// What `setup --check` found missing, with the command that installs each.
fn missing() -> Vec<(&'static str, Install)> {
    requirements().into_iter().filter(|r| !(r.present)()).map(|r| (r.what, r.install)).collect()
}

fn how_to_install(install: Install) -> String {
    match install {
        Install::Apt(packages) => format!("apt-get install {}", packages.join(" ")),
        Install::AptBackports(packages) => {
            format!("apt-get install -t bookworm-backports {}", packages.join(" "))
        }
        Install::Bindgen => format!(
            "cargo install --locked bindgen-cli@{BINDGEN_VERSION} --root {}",
            cache_dir().join("tools").display()
        ),
    }
}

fn missing_message(missing: &[(&str, Install)]) -> String {
    let mut message = String::from("missing:\n");
    for (what, install) in missing {
        message += &format!("  - {what}: {}\n", how_to_install(*install));
    }
    message + "run `cargo xtask setup` to install them (Debian 12, as root)"
}

/// The toolchain, or an error that names what is missing and how to install it.
pub fn ensure() -> Result<Toolchain> {
    let missing = missing();
    if !missing.is_empty() {
        return Err(Error::unavailable(missing_message(&missing)));
    }
    Ok(expected())
}

/// Where each tool is once installed (for `--dry-run`, also before).
fn expected() -> Toolchain {
    let qemu = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join("qemu-system-x86_64"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| "/usr/bin/qemu-system-x86_64".into());
    Toolchain {
        rustc: RUSTC.into(),
        clippy_driver: CLIPPY_DRIVER.into(),
        bindgen: bindgen_path(),
        libclang_dir: LIBCLANG_DIR.into(),
        qemu,
        busybox: BUSYBOX.into(),
    }
}

/// `cargo xtask setup [--check]`.
pub fn setup(settings: &Settings, check_only: bool) -> Result<Toolchain> {
    let missing = missing();
    if missing.is_empty() {
        eprintln!("setup: every tool is present; nothing to install");
        return ensure();
    }
    if check_only {
        return Err(Error::unavailable(missing_message(&missing)));
    }
    let codename = debian_codename();
    let apt_missing = missing.iter().any(|(_, i)| matches!(i, Install::Apt(_) | Install::AptBackports(_)));
    if apt_missing && (codename.as_deref() != Some("bookworm") || !is_root()) {
        return Err(Error::unavailable(format!(
            "setup installs packages on Debian 12 (bookworm) as root; here: {}, {}.\n{}",
            codename.as_deref().unwrap_or("not Debian"),
            if is_root() { "root" } else { "not root" },
            missing_message(&missing)
        )));
    }

    let mut plain: Vec<&str> = Vec::new();
    let mut backports: Vec<&str> = Vec::new();
    for (_, install) in &missing {
        match install {
            Install::Apt(p) => plain.extend_from_slice(p),
            Install::AptBackports(p) => backports.extend_from_slice(p),
            Install::Bindgen => {}
        }
    }
    if !plain.is_empty() || !backports.is_empty() {
        let apt = Apt::new(
            settings,
            "host",
            &[
                ("debian", "bookworm"),
                ("debian", "bookworm-updates"),
                ("debian-security", "bookworm-security"),
                ("debian", "bookworm-backports"),
            ],
        )?;
        if !plain.is_empty() {
            cmd::run(
                settings,
                apt.command("apt-get").args(["install", "-y", "--no-install-recommends"]).args(&plain),
            )?;
        }
        if !backports.is_empty() {
            cmd::run(
                settings,
                apt.command("apt-get")
                    .args(["install", "-y", "--no-install-recommends", "-t", "bookworm-backports"])
                    .args(&backports),
            )?;
        }
    }
    if missing.iter().any(|(_, i)| *i == Install::Bindgen) {
        // bindgen needs libclang at run time, not at build time.
        // The cargo that runs this command (`$CARGO`), not whichever is first on PATH.
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        cmd::run(
            settings,
            Command::new(cargo).args([
                "install",
                "--locked",
                &format!("bindgen-cli@{BINDGEN_VERSION}"),
                "--root",
                &cache_dir().join("tools").display().to_string(),
            ]),
        )?;
    }
    if settings.dry_run {
        return Ok(expected());
    }
    let still = self::missing();
    if !still.is_empty() {
        return Err(Error::unavailable(format!(
            "setup installed what it could, but still {}",
            missing_message(&still)
        )));
    }
    eprintln!("setup: done");
    ensure()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_static_from_dynamic_executables() {
        // The test binary itself is dynamically linked: it has a PT_INTERP.
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        assert!(!is_static_elf64(&me));
        assert!(!is_static_elf64(b"#!/bin/sh\n"));
        // A minimal ELF64 header with no program headers at all.
        let mut elf = vec![0u8; 64];
        elf[..6].copy_from_slice(b"\x7fELF\x02\x01");
        assert!(is_static_elf64(&elf));
        // ... and with one PT_INTERP program header.
        elf[0x20] = 64;
        elf[0x36] = 56;
        elf[0x38] = 1;
        elf.extend_from_slice(&[3, 0, 0, 0]);
        elf.resize(64 + 56, 0);
        assert!(!is_static_elf64(&elf));
    }
}
