// SPDX-License-Identifier: GPL-2.0

//! `cargo xtask kernel`: the kernel source, the merged config, and a cached out-of-tree build.
//!
//! A build lives in `<cache>/kernel/<key>/`, where the key hashes the kernel version and source,
//! the config fragments, and the versions of the tools. A build counts only once its stamp file
//! is written, last; an exclusive lock on `<cache>/kernel/.lock` keeps two runs from building at
//! once. The tree is built in place rather than renamed into place, because the kernel's
//! generated `Makefile` in an `O=` tree records the tree's absolute path.

use crate::arch::Arch;
use crate::children;
use crate::cmd;
use crate::error::{Context, Error, Result};
use crate::paths::{self, cache_dir, files_with_extension, hex, project_dir};
use crate::settings::Settings;
use crate::setup::{Apt, Toolchain};
use sha2::{Digest, Sha256};
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The kernel release the module's Rust API is written against.
pub const SUPPORTED: (u32, u32) = (7, 3);

/// Where the kernel source comes from.
#[derive(Debug, Clone, Default)]
pub enum SourceChoice {
    /// The Debian package `linux-source-7.3`, downloaded and extracted into the cache.
    #[default]
    Debian,
    /// An extracted or git tree of the user's.
    Dir(PathBuf),
    /// A `linux-*.tar.*` of the user's, extracted into the cache.
    Tarball(PathBuf),
}

/// Which kernel to build from the source: the project's debug kernel, or the same with
/// PREEMPT_RT.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Flavour {
    /// PREEMPT=y: `configs/*.config`.
    #[default]
    Default,
    /// PREEMPT_RT=y: `configs/*.config`, then `configs/rt/*.config`.
    Rt,
}

impl Flavour {
    pub fn name(self) -> &'static str {
        match self {
            Flavour::Default => "default",
            Flavour::Rt => "rt",
        }
    }
}

/// The kernel to build: where its source comes from, and which flavour.
#[derive(Debug, Clone, Default)]
pub struct Choice {
    pub source: SourceChoice,
    pub flavour: Flavour,
    /// The guest's architecture (`--arch`).
    pub arch: Arch,
}

/// A kernel source tree of a supported version.
#[derive(Debug, Clone)]
pub struct Source {
    pub dir: PathBuf,
    pub version: String,
    /// What the build depends on of the tree: its path for a tree the cache extracted (never
    /// edited), its content for a user's tree (see [`content_id`]).
    pub id: String,
}

/// A finished kernel build: the image to boot and the tree to build modules against.
#[derive(Debug, Clone)]
pub struct Build {
    pub dir: PathBuf,
    pub bzimage: PathBuf,
}

/// The version `VERSION.PATCHLEVEL.SUBLEVEL` from a kernel's top Makefile.
pub fn makefile_version(makefile: &str) -> Option<(u32, u32, u32)> {
    let field = |name: &str| {
        makefile.lines().take(20).find_map(|l| {
            let (key, value) = l.split_once('=')?;
            (key.trim() == name).then(|| value.trim().parse().ok()).flatten()
        })
    };
    Some((field("VERSION")?, field("PATCHLEVEL")?, field("SUBLEVEL")?))
}

fn check_source(settings: &Settings, dir: &Path, origin: &str) -> Result<Source> {
    if settings.dry_run && !dir.join("Makefile").exists() {
        // Not there yet: the commands that would fetch it were printed.
        let version = format!("{}.{}.x", SUPPORTED.0, SUPPORTED.1);
        return Ok(Source { dir: dir.to_path_buf(), version, id: dir.display().to_string() });
    }
    let makefile = fs::read_to_string(dir.join("Makefile"))
        .context(|| format!("{} is not a kernel source tree (no readable Makefile)", dir.display()))?;
    let (major, minor, sub) = makefile_version(&makefile)
        .ok_or_else(|| Error::unavailable(format!("{}: no kernel version in its Makefile", dir.display())))?;
    if (major, minor) != SUPPORTED {
        return Err(Error::unavailable(format!(
            "{origin} is kernel {major}.{minor}.{sub}; irqlock needs {}.{}.x, whose Rust API it is \
             written against. Bring a {}.{} tree, or leave out --kernel-src/--kernel-tarball to use \
             Debian's linux-source-{}.{}",
            SUPPORTED.0, SUPPORTED.1, SUPPORTED.0, SUPPORTED.1, SUPPORTED.0, SUPPORTED.1
        )));
    }
    if dir.join(".config").exists() {
        return Err(Error::unavailable(format!(
            "{} has a .config: out-of-tree builds need a clean source tree; run `make mrproper` in it",
            dir.display()
        )));
    }
    Ok(Source {
        dir: dir.to_path_buf(),
        version: format!("{major}.{minor}.{sub}"),
        id: dir.display().to_string(),
    })
}

/// Extracts `tarball` into `<cache>/src/<name>/` (once) and returns the tree inside it.
fn extract(settings: &Settings, tarball: &Path, name: &str) -> Result<PathBuf> {
    let root = cache_dir().join("src");
    let dest = root.join(name);
    let tree = |dest: &Path| -> Option<PathBuf> {
        fs::read_dir(dest).ok()?.flatten().map(|e| e.path()).find(|p| p.join("Makefile").exists())
    };
    if dest.join(".irqlock-extracted").exists() {
        if let Some(dir) = tree(&dest) {
            return Ok(dir);
        }
    }
    if settings.dry_run {
        let package = format!("linux-source-{}.{}", SUPPORTED.0, SUPPORTED.1);
        cmd::run(settings, Command::new("tar").arg("-xf").arg(tarball).arg("-C").arg(&dest))?;
        return Ok(dest.join(package));
    }
    let partial = root.join(format!(".{name}.partial-{}", std::process::id()));
    let _ = fs::remove_dir_all(&partial);
    fs::create_dir_all(&partial).context(|| format!("could not create {}", partial.display()))?;
    eprintln!("kernel: extracting {}", tarball.display());
    cmd::run(settings, Command::new("tar").arg("-xf").arg(tarball).arg("-C").arg(&partial))?;
    File::create(partial.join(".irqlock-extracted")).context(|| "could not mark the extraction".into())?;
    let _ = fs::remove_dir_all(&dest);
    fs::rename(&partial, &dest).context(|| format!("could not move the source to {}", dest.display()))?;
    tree(&dest).ok_or_else(|| Error::unavailable(format!("{} holds no kernel tree", tarball.display())))
}

/// The Debian package's tarball, downloaded into the cache without touching the system's
/// apt sources.
fn debian_tarball(settings: &Settings) -> Result<PathBuf> {
    let package = format!("linux-source-{}.{}", SUPPORTED.0, SUPPORTED.1);
    let dir = cache_dir().join("debian");
    let tarball = dir.join(format!("{package}.tar.xz"));
    if tarball.exists() {
        return Ok(tarball);
    }
    fs::create_dir_all(&dir).context(|| format!("could not create {}", dir.display()))?;
    let apt = Apt::new(settings, "kernel-source", &[("debian", "trixie-backports")])?;
    cmd::run(settings, apt.command("apt-get").arg("download").arg(&package).current_dir(&dir))?;
    if settings.dry_run {
        println!(
            "dpkg-deb --fsys-tarfile {package}_*.deb | tar -xO ./usr/src/{package}.tar.xz > {}",
            tarball.display()
        );
        return Ok(tarball);
    }
    let deb = fs::read_dir(&dir)
        .context(|| format!("could not read {}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .ok_or_else(|| {
            Error::unavailable(format!("apt-get download {package} left no .deb in {}", dir.display()))
        })?;
    let partial = dir.join("partial.tar.xz");
    let script = format!(
        "dpkg-deb --fsys-tarfile '{}' | tar -xO ./usr/src/{package}.tar.xz > '{}'",
        deb.display(),
        partial.display()
    );
    cmd::run(settings, Command::new("sh").args(["-c", &script]))?;
    fs::rename(&partial, &tarball).context(|| format!("could not write {}", tarball.display()))?;
    let _ = fs::remove_file(&deb);
    Ok(tarball)
}

/// The kernel source to build, extracting or downloading it if needed.
pub fn source(settings: &Settings, choice: &SourceChoice) -> Result<Source> {
    match choice {
        SourceChoice::Dir(dir) => {
            let source = check_source(settings, dir, &format!("--kernel-src {}", dir.display()))?;
            Ok(Source { id: content_id(dir)?, ..source })
        }
        SourceChoice::Tarball(file) => {
            if !file.is_file() {
                return Err(Error::unavailable(format!("--kernel-tarball {}: no such file", file.display())));
            }
            let meta = fs::metadata(file).context(|| format!("could not read {}", file.display()))?;
            let id = hex(&Sha256::digest(format!(
                "{}:{}:{:?}",
                file.canonicalize().unwrap_or(file.clone()).display(),
                meta.len(),
                meta.modified().ok()
            )))[..16]
                .to_string();
            let dir = extract(settings, file, &format!("tarball-{id}"))?;
            check_source(settings, &dir, &format!("--kernel-tarball {}", file.display()))
        }
        SourceChoice::Debian => {
            let dir = extract(settings, &debian_tarball(settings)?, "debian")?;
            check_source(settings, &dir, "Debian's linux-source package")
        }
    }
}

/// The content of a user's tree, so that an edited tree is rebuilt: for a git tree, its HEAD,
/// its uncommitted changes and its untracked files; otherwise the path, size and modification
/// time of every file.
fn content_id(dir: &Path) -> Result<String> {
    let git = |args: &[&str]| cmd::output(Command::new("git").arg("-C").arg(dir).args(args));
    let mut hash = Sha256::new();
    if let Some(head) = git(&["rev-parse", "HEAD"]) {
        hash.update(head);
        hash.update(git(&["diff", "HEAD", "--binary"]).unwrap_or_default());
        hash.update(git(&["status", "--porcelain", "--untracked-files=all"]).unwrap_or_default());
        return Ok(format!("git:{}", hex(&hash.finalize())));
    }
    let mut stack = vec![dir.to_path_buf()];
    let mut files = Vec::new();
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).context(|| format!("could not read {}", d.display()))?.flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                files.push(format!("{} {} {:?}", entry.path().display(), meta.len(), meta.modified().ok()));
            }
        }
    }
    files.sort();
    for file in files {
        hash.update(file);
    }
    Ok(format!("files:{}", hex(&hash.finalize())))
}

/// The config fragments of `flavour` on `arch`, in the order they are merged, with their
/// contents: `configs/*.config` in name order (written for x86_64), then the architecture's
/// own (`configs/arm64/*.config`, which override what does not apply there), then, for `rt`,
/// `configs/rt/*.config`.
pub fn fragments(flavour: Flavour, arch: Arch) -> Result<Vec<(PathBuf, String)>> {
    let dir = project_dir().join("configs");
    let mut paths = files_with_extension(&dir, "config")?;
    if let Some(sub) = arch.config_dir() {
        paths.extend(files_with_extension(&dir.join(sub), "config")?);
    }
    if flavour == Flavour::Rt {
        paths.extend(files_with_extension(&dir.join("rt"), "config")?);
    }
    paths
        .into_iter()
        .map(|p| {
            let text = fs::read_to_string(&p).context(|| format!("could not read {}", p.display()))?;
            Ok((p, text))
        })
        .collect()
}

/// Every option the fragments ask for, once: a later fragment overrides an earlier one, as
/// `merge_config.sh` does.
pub fn wanted(fragments: &[(PathBuf, String)]) -> Vec<(String, String)> {
    let mut wanted: Vec<(String, String)> = Vec::new();
    for (name, value) in fragments.iter().flat_map(|(_, text)| requested(text)) {
        wanted.retain(|(n, _)| *n != name);
        wanted.push((name, value));
    }
    wanted
}

/// An option a fragment asks for: its name and wanted value (`n` for "is not set").
pub fn requested(fragment: &str) -> Vec<(String, String)> {
    fragment
        .lines()
        .filter_map(|line| {
            let line = line.trim();
            if let Some(name) = line.strip_prefix("# ").and_then(|l| l.strip_suffix(" is not set")) {
                return Some((name.to_string(), "n".to_string()));
            }
            let (name, value) = line.split_once('=')?;
            name.starts_with("CONFIG_").then(|| (name.to_string(), value.to_string()))
        })
        .collect()
}

/// The requested options that the final `.config` does not have, as `CONFIG_X=y (got n)`.
pub fn missing_options(requested: &[(String, String)], config: &str) -> Vec<String> {
    let value_of = |name: &str| -> String {
        for line in config.lines() {
            if let Some((key, value)) = line.split_once('=') {
                if key == name {
                    return value.to_string();
                }
            }
        }
        "n".to_string()
    };
    requested
        .iter()
        .filter_map(|(name, want)| {
            let got = value_of(name);
            (got != *want).then(|| format!("{name}={want} (got {got})"))
        })
        .collect()
}

/// Bump when the way a tree is built changes, so old builds are not taken as hits.
const BUILD_RECIPE: &str = "tinyconfig+fragments+olddefconfig; bzImage modules; v1";

/// The cache key: architecture, kernel version and source, config fragments, tool versions,
/// recipe. (x86_64, the first architecture, adds nothing for itself: its keys stay those of
/// the builds already cached.)
pub fn cache_key(
    arch: Arch,
    source: &Source,
    fragments: &[(PathBuf, String)],
    tool_versions: &str,
) -> String {
    let mut hash = Sha256::new();
    if arch != Arch::X86_64 {
        hash.update(format!("arch={}\n", arch.name()));
    }
    hash.update(format!("{BUILD_RECIPE}\n{}\n{}\n", source.version, source.id));
    let configs = project_dir().join("configs");
    // Only the options count: a comment in a fragment does not change the kernel.
    for (path, text) in fragments {
        let name = path.strip_prefix(&configs).unwrap_or(path);
        hash.update(format!("{}\n", name.display()));
        for (name, value) in requested(text) {
            hash.update(format!("{name}={value}\n"));
        }
    }
    hash.update(tool_versions);
    hex(&hash.finalize())[..20].to_string()
}

/// `make` in the kernel tree, holding the build lock: the lock stays held until `make` and all
/// its compilers have exited, even if the harness was killed.
/// (`--dry-run` takes no lock.)
fn make(tools: &Toolchain, arch: Arch, source: &Source, out: &Path, lock: Option<&File>) -> Command {
    let mut make = tools.make(&source.dir);
    if let Some(lock) = lock {
        children::inherit(&mut make, lock);
    }
    debug_assert_eq!(tools.arch, arch, "the toolchain is for the kernel's architecture");
    make.arg(format!("O={}", out.display()));
    make
}

const STAMP: &str = ".irqlock-build-complete";

/// Builds the kernel if the cache has no complete build for this key.
pub fn build(settings: &Settings, tools: &Toolchain, choice: &Choice) -> Result<Build> {
    let source = source(settings, &choice.source)?;
    let arch = choice.arch;
    let fragments = fragments(choice.flavour, arch)?;
    let key = cache_key(arch, &source, &fragments, &tools.versions(arch));
    let root = cache_dir().join("kernel");
    let arch_name = match arch {
        Arch::X86_64 => String::new(),
        other => format!("{}-", other.name()),
    };
    let dir = match choice.flavour {
        Flavour::Default => root.join(format!("{}-{arch_name}{key}", source.version)),
        Flavour::Rt => root.join(format!("{}-{arch_name}rt-{key}", source.version)),
    };
    let (target, image) = arch.image();
    let done = |dir: &Path| Build { dir: dir.to_path_buf(), bzimage: dir.join(image) };
    if dir.join(STAMP).exists() {
        return Ok(done(&dir));
    }
    // `--dry-run` takes no lock and changes nothing: it prints the commands below.
    let lock = if settings.dry_run {
        None
    } else {
        fs::create_dir_all(&root).context(|| format!("could not create {}", root.display()))?;
        let waiting = format!("kernel: another run is building in {}; waiting for it", root.display());
        let lock = paths::lock(&root.join(".lock"), &waiting)?;
        if dir.join(STAMP).exists() {
            return Ok(done(&dir));
        }
        // An earlier build of this key was interrupted or failed: start it afresh.
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).context(|| format!("could not create {}", dir.display()))?;
        eprintln!(
            "kernel: building {} ({}, {}) into {} (about 5-8 minutes on 2 cores{})",
            source.version,
            arch.name(),
            choice.flavour.name(),
            dir.display(),
            if arch == Arch::X86_64 { "" } else { "; a cross build takes longer" }
        );
        Some(lock)
    };
    let lock = lock.as_ref();
    let log = |name: &str| dir.join(format!("irqlock-{name}.log"));
    let minute = Duration::from_secs(60);
    cmd::run_logged(
        settings,
        make(tools, arch, &source, &dir, lock).arg("tinyconfig"),
        &log("config"),
        "tinyconfig",
        minute,
    )?;
    let mut merge = Command::new(source.dir.join("scripts/kconfig/merge_config.sh"));
    if let Some(lock) = lock {
        children::inherit(&mut merge, lock);
    }
    merge.arg("-m").arg("-O").arg(&dir).arg(dir.join(".config"));
    merge.args(fragments.iter().map(|(p, _)| p));
    cmd::run_logged(settings, merge.current_dir(&dir), &log("merge"), "merge_config", minute)?;
    cmd::run_logged(
        settings,
        make(tools, arch, &source, &dir, lock).arg("olddefconfig"),
        &log("olddefconfig"),
        "olddefconfig",
        minute,
    )?;

    if !settings.dry_run {
        check_config(tools, arch, &source, &dir, lock, &fragments)?;
    }
    let jobs = std::thread::available_parallelism().map(|n| n.get() + 1).unwrap_or(3);
    cmd::run_logged_expecting(
        settings,
        make(tools, arch, &source, &dir, lock).arg(format!("-j{jobs}")).args([target, "modules"]),
        &log("build"),
        "kernel build",
        Duration::from_secs(30),
        Some(expected_build_lines(&root)),
    )?;
    if !settings.dry_run {
        File::create(dir.join(STAMP)).context(|| "could not write the build stamp".into())?;
        eprintln!("kernel: cached at {}", dir.display());
    }
    Ok(done(&dir))
}

/// Every option `fragments` asks for survived `olddefconfig` in `dir`'s `.config`, or an error
/// that names the ones Kconfig dropped (for `CONFIG_RUST`, with `make rustavailable`'s reason).
fn check_config(
    tools: &Toolchain,
    arch: Arch,
    source: &Source,
    dir: &Path,
    lock: Option<&File>,
    fragments: &[(PathBuf, String)],
) -> Result<()> {
    let config =
        fs::read_to_string(dir.join(".config")).context(|| "could not read the merged .config".into())?;
    let missing = missing_options(&wanted(fragments), &config);
    if !missing.is_empty() {
        let mut message = format!(
            "the merged kernel config lacks options that configs/ asks for:\n  {}\n\
             Kconfig drops an option whose dependencies are not met on {}.",
            missing.join("\n  "),
            arch.name()
        );
        if missing.iter().any(|m| m.starts_with("CONFIG_RUST=")) {
            let why = make(tools, arch, source, dir, lock)
                .arg("rustavailable")
                .output()
                .map(|o| {
                    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
                })
                .unwrap_or_default();
            message += &format!("\nCONFIG_RUST: `make rustavailable` says:\n{why}");
        }
        return Err(Error::unavailable(message));
    }
    Ok(())
}

/// How many lines a kernel build's log has: as many as the longest complete build in the
/// cache, else as a build of this project's configs had (7.3.4: 1772 lines).
fn expected_build_lines(root: &Path) -> usize {
    const MEASURED: usize = 1772;
    fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|dir| dir.join(STAMP).exists())
        .filter_map(|dir| fs::read_to_string(dir.join("irqlock-build.log")).ok())
        .map(|log| log.lines().count())
        .max()
        .unwrap_or(MEASURED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_version_from_the_top_makefile() {
        let makefile = "# SPDX\nVERSION = 7\nPATCHLEVEL = 3\nSUBLEVEL = 4\nEXTRAVERSION =\n";
        assert_eq!(makefile_version(makefile), Some((7, 3, 4)));
        assert_eq!(makefile_version("VERSION = 6\nPATCHLEVEL = 12\n"), None);
    }

    #[test]
    fn fragments_ask_for_set_and_unset_options() {
        let fragment =
            "# A comment\nCONFIG_RUST=y\n\n# CONFIG_MODULE_SIG is not set\nCONFIG_NR=4\nCONFIG_X=n\n";
        assert_eq!(
            requested(fragment),
            [("CONFIG_RUST", "y"), ("CONFIG_MODULE_SIG", "n"), ("CONFIG_NR", "4"), ("CONFIG_X", "n")]
                .map(|(k, v)| (k.to_string(), v.to_string()))
        );
    }

    #[test]
    fn names_the_options_olddefconfig_dropped() {
        let wanted = requested("CONFIG_RUST=y\nCONFIG_SMP=y\nCONFIG_MODULE_SIG=n\nCONFIG_NR_CPUS=4\n");
        let config = "CONFIG_SMP=y\n# CONFIG_RUST is not set\nCONFIG_NR_CPUS=64\n";
        assert_eq!(missing_options(&wanted, config), ["CONFIG_RUST=y (got n)", "CONFIG_NR_CPUS=4 (got 64)"]);
        assert!(missing_options(&wanted[1..3], config).is_empty());
    }

    #[test]
    fn the_cache_key_follows_every_input() {
        let source = Source { dir: "/src".into(), version: "7.3.4".into(), id: "/src".into() };
        let frags = vec![(PathBuf::from("configs/a.config"), "CONFIG_RUST=y\n".to_string())];
        let key = cache_key(Arch::X86_64, &source, &frags, "rustc 1.96.0");
        assert_eq!(key, cache_key(Arch::X86_64, &source, &frags, "rustc 1.96.0"));
        assert_ne!(key, cache_key(Arch::X86_64, &source, &frags, "rustc 1.97.0"));
        let other = vec![(PathBuf::from("configs/a.config"), "CONFIG_RUST=n\n".to_string())];
        assert_ne!(key, cache_key(Arch::X86_64, &source, &other, "rustc 1.96.0"));
        let newer = Source { version: "7.3.5".into(), ..source.clone() };
        assert_ne!(key, cache_key(Arch::X86_64, &newer, &frags, "rustc 1.96.0"));
        let edited = Source { id: "git:1234".into(), ..source.clone() };
        assert_ne!(key, cache_key(Arch::X86_64, &edited, &frags, "rustc 1.96.0"));
        let commented = vec![(PathBuf::from("configs/a.config"), "# why\nCONFIG_RUST=y\n".to_string())];
        assert_eq!(key, cache_key(Arch::X86_64, &source, &commented, "rustc 1.96.0"));
        assert_ne!(key, cache_key(Arch::Arm64, &source, &frags, "rustc 1.96.0"));
    }

    #[test]
    fn a_users_tree_is_known_by_its_content() {
        let dir = std::env::temp_dir().join(format!("irqlock-tree-{}", std::process::id()));
        fs::create_dir_all(dir.join("sub")).unwrap();
        fs::write(dir.join("sub/a.c"), "int a;\n").unwrap();
        let before = content_id(&dir).unwrap();
        assert_eq!(before, content_id(&dir).unwrap());
        fs::write(dir.join("sub/a.c"), "int a = 1;\n").unwrap();
        assert_ne!(before, content_id(&dir).unwrap());
        let _ = fs::remove_dir_all(&dir);
    }
}
