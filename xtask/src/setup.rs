// SPDX-License-Identifier: GPL-2.0

//! `cargo xtask setup`: is everything there, and if not, install it or say how.
//!
//! Every command that builds (`kernel`, `module`, `lint`, and the booting ones) calls
//! [`setup`] first, as `cargo xtask setup` does: it installs what is missing (Debian 12, as
//! root), stops before any build with the message `setup --check` prints where it cannot, and
//! does nothing when every tool is present.

use crate::arch::Arch;
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
    /// The QEMU for the guest's architecture.
    pub qemu: PathBuf,
    /// A static busybox of the guest's architecture.
    pub busybox: PathBuf,
    /// The guest's architecture, which the compilers, QEMU and busybox above are for.
    pub arch: Arch,
}

impl Toolchain {
    /// `make -C dir` with the compilers the kernel build needs, for the guest's architecture
    /// (`ARCH=`, `CROSS_COMPILE=`): the one place that says so.
    pub fn make(&self, dir: &Path) -> Command {
        let mut make = Command::new("make");
        make.arg("-C")
            .arg(dir)
            .args(self.arch.make_vars())
            .arg(format!("RUSTC={}", self.rustc.display()))
            .arg(format!("BINDGEN={}", self.bindgen.display()))
            .env("LIBCLANG_PATH", &self.libclang_dir);
        make
    }

    /// Versions of every tool that shapes the kernel build for `arch`, for the cache key.
    pub fn versions(&self, arch: Arch) -> String {
        let gcc = format!("{}gcc", arch.cross_prefix());
        let ld = format!("{}ld", arch.cross_prefix());
        let version = |program: &Path, arg: &str| {
            cmd::output(Command::new(program).arg(arg)).unwrap_or_default().trim().to_string()
        };
        [
            version(&self.rustc, "--version"),
            version(&self.bindgen, "--version"),
            version(Path::new(&gcc), "--version").lines().next().unwrap_or("").to_string(),
            version(Path::new(&ld), "--version").lines().next().unwrap_or("").to_string(),
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
    /// busybox-static of another architecture (the guest's), downloaded from bookworm with a
    /// private apt state of that architecture and extracted into the cache.
    ForeignBusybox(Arch),
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

/// Where the static busybox for an `arch` guest is: the system's for the host's architecture,
/// else the one [`Install::ForeignBusybox`] extracted into the cache.
fn busybox_path(arch: Arch) -> PathBuf {
    if arch == Arch::host() {
        BUSYBOX.into()
    } else {
        cache_dir().join("tools").join(arch.debian()).join("busybox")
    }
}

/// What an `arch` guest needs besides the host's own tools: nothing for the host's
/// architecture; for another, the cross compiler, its QEMU and its busybox.
fn arch_requirements(arch: Arch) -> Vec<Requirement> {
    match arch {
        Arch::X86_64 => vec![Requirement {
            what: "QEMU for x86_64 with the edu device",
            present: || on_path("qemu-system-x86_64"),
            install: Install::AptBackports(&["qemu-system-x86"]),
        }],
        Arch::Arm64 => {
            let mut needs = vec![Requirement {
                what: "QEMU for arm64 (virt) with the edu device",
                present: || on_path("qemu-system-aarch64"),
                install: Install::AptBackports(&["qemu-system-arm"]),
            }];
            if Arch::host() != Arch::Arm64 {
                needs.push(Requirement {
                    what: "the arm64 cross compiler (aarch64-linux-gnu-gcc)",
                    present: || on_path("aarch64-linux-gnu-gcc") && on_path("aarch64-linux-gnu-ld"),
                    install: Install::Apt(&["gcc-aarch64-linux-gnu"]),
                });
                needs.push(Requirement {
                    what: "static arm64 busybox for the arm64 guest's initramfs",
                    present: || {
                        std::fs::read(busybox_path(Arch::Arm64)).is_ok_and(|elf| {
                            is_static_elf64(&elf) && elf_machine(&elf) == Some(Arch::Arm64.elf_machine())
                        })
                    },
                    install: Install::ForeignBusybox(Arch::Arm64),
                });
            }
            needs
        }
    }
}

fn requirements(arch: Arch) -> Vec<Requirement> {
    let mut all = vec![
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
            what: "bindgen >= 0.72.1 in the irqlock cache",
            present: || {
                cmd::output(Command::new(bindgen_path()).arg("--version"))
                    .is_some_and(|v| v.trim() == format!("bindgen {BINDGEN_VERSION}"))
            },
            install: Install::Bindgen,
        },
    ];
    all.extend(arch_requirements(arch));
    all
}

/// An ELF file's `e_machine` (EM_X86_64 = 62, EM_AARCH64 = 183; the ELF gABI).
fn elf_machine(elf: &[u8]) -> Option<u16> {
    elf.get(18..20).map(|b| u16::from_le_bytes([b[0], b[1]]))
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
    /// Another architecture than the host's, whose packages this state downloads.
    arch: Option<Arch>,
}

const DEBIAN_KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

impl Apt {
    /// An apt state with the given `deb` lines, updated if its lists are missing.
    pub fn new(settings: &Settings, name: &str, suites: &[(&str, &str)]) -> Result<Self> {
        Self::new_for(settings, name, suites, None)
    }

    fn new_for(settings: &Settings, name: &str, suites: &[(&str, &str)], arch: Option<Arch>) -> Result<Self> {
        let dir = cache_dir().join("apt").join(name);
        for sub in ["lists/partial", "archives/partial"] {
            std::fs::create_dir_all(dir.join(sub))
                .context(|| format!("could not create {}", dir.display()))?;
        }
        let only = arch.map(|a| format!("arch={} ", a.debian())).unwrap_or_default();
        let sources: String = suites
            .iter()
            .map(|(archive, suite)| {
                format!(
                    "deb [{only}signed-by={DEBIAN_KEYRING}] http://deb.debian.org/{archive} {suite} main\n"
                )
            })
            .collect();
        let list = dir.join("sources.list");
        let stale = std::fs::read_to_string(&list).map(|old| old != sources).unwrap_or(true);
        std::fs::write(&list, &sources).context(|| format!("could not write {}", list.display()))?;
        let apt = Self { dir, arch };
        let has_lists = std::fs::read_dir(apt.dir.join("lists"))
            .map(|entries| entries.flatten().any(|e| e.file_name().to_string_lossy().ends_with("_Packages")))
            .unwrap_or(false);
        if stale || !has_lists {
            cmd::run(settings, apt.command("apt-get").arg("update"))?;
        }
        Ok(apt)
    }

    /// An apt state for packages of another architecture than the host's (its own lists,
    /// `-o APT::Architecture=`), for downloading them, never installing them.
    pub fn foreign(settings: &Settings, arch: Arch, suites: &[(&str, &str)]) -> Result<Self> {
        let apt = Self::new_for(settings, &format!("foreign-{}", arch.debian()), suites, Some(arch))?;
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
        if let Some(arch) = self.arch {
            command.arg(format!("-o=APT::Architecture={}", arch.debian()));
            command.arg(format!("-o=APT::Architectures::={}", arch.debian()));
        }
        command.env("DEBIAN_FRONTEND", "noninteractive");
        command
    }
}

fn is_root() -> bool {
    cmd::output(Command::new("id").arg("-u")).is_some_and(|id| id.trim() == "0")
}

/// What `setup --check` found missing for an `arch` guest, with the command that installs each.
fn missing(arch: Arch) -> Vec<(&'static str, Install)> {
    requirements(arch).into_iter().filter(|r| !(r.present)()).map(|r| (r.what, r.install)).collect()
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
        Install::ForeignBusybox(arch) => format!(
            "apt-get download busybox-static:{} and extract its bin/busybox to {}",
            arch.debian(),
            busybox_path(arch).display()
        ),
    }
}

fn missing_message(missing: &[(&str, Install)]) -> String {
    let mut message = String::from("missing:\n");
    for (what, install) in missing {
        message += &format!("  - {what}: {}\n", how_to_install(*install));
    }
    message + "run `cargo xtask setup` (with the same --arch) to install them (Debian 12, as root)"
}

/// The toolchain for an `arch` guest, or an error that names what is missing and how to
/// install it.
pub fn ensure(arch: Arch) -> Result<Toolchain> {
    let missing = missing(arch);
    if !missing.is_empty() {
        return Err(Error::unavailable(missing_message(&missing)));
    }
    Ok(expected(arch))
}

/// Where each tool is once installed (for `--dry-run`, also before).
fn expected(arch: Arch) -> Toolchain {
    let qemu = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join(arch.qemu()))
        .find(|p| p.is_file())
        .unwrap_or_else(|| Path::new("/usr/bin").join(arch.qemu()));
    Toolchain {
        rustc: RUSTC.into(),
        clippy_driver: CLIPPY_DRIVER.into(),
        bindgen: bindgen_path(),
        libclang_dir: LIBCLANG_DIR.into(),
        qemu,
        busybox: busybox_path(arch),
        arch,
    }
}

/// Downloads busybox-static for `arch` from bookworm, with a private apt state of that
/// architecture (its own package lists; the system's dpkg is not touched), and extracts its
/// `bin/busybox` to [`busybox_path`].
fn install_foreign_busybox(settings: &Settings, arch: Arch) -> Result<()> {
    let apt =
        Apt::foreign(settings, arch, &[("debian", "bookworm"), ("debian-security", "bookworm-security")])?;
    let dir = cache_dir().join("tools").join(arch.debian());
    let download = dir.join("deb");
    let _ = std::fs::remove_dir_all(&download);
    std::fs::create_dir_all(&download).context(|| format!("could not create {}", download.display()))?;
    cmd::run(settings, apt.command("apt-get").args(["download", "busybox-static"]).current_dir(&download))?;
    if settings.dry_run {
        return Ok(());
    }
    let deb = std::fs::read_dir(&download)
        .context(|| format!("could not read {}", download.display()))?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .ok_or_else(|| Error::unavailable("apt-get download busybox-static left no .deb".to_string()))?;
    let tree = download.join("tree");
    cmd::run(settings, Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&tree))?;
    let target = busybox_path(arch);
    std::fs::rename(tree.join("bin/busybox"), &target)
        .context(|| format!("could not move busybox to {}", target.display()))?;
    let _ = std::fs::remove_dir_all(&download);
    Ok(())
}

/// `cargo xtask setup [--check] [--arch A]`.
pub fn setup(settings: &Settings, check_only: bool, arch: Arch) -> Result<Toolchain> {
    let missing = missing(arch);
    if missing.is_empty() {
        eprintln!("setup: every tool is present; nothing to install");
        return ensure(arch);
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
            Install::Bindgen | Install::ForeignBusybox(_) => {}
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
    for (_, install) in &missing {
        if let Install::ForeignBusybox(arch) = install {
            install_foreign_busybox(settings, *arch)?;
        }
    }
    if settings.dry_run {
        return Ok(expected(arch));
    }
    let still = self::missing(arch);
    if !still.is_empty() {
        return Err(Error::unavailable(format!(
            "setup installed what it could, but still {}",
            missing_message(&still)
        )));
    }
    eprintln!("setup: done");
    ensure(arch)
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
