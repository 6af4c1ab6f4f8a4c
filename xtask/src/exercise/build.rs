// SPDX-License-Identifier: GPL-2.0

//! Building an exercise's module from one `.rs` file (a learner's, or a variant generated from
//! the annotated source) with the project's own `Kbuild`, which the harness writes, against
//! the cached lab kernel, into its own directory under `target/`.

use super::spec::Exercise;
use crate::children::{self, Kind};
use crate::cmd;
use crate::error::{Context, Error, Result, EXIT_FAIL};
use crate::kernel;
use crate::settings::Settings;
use crate::setup::Toolchain;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A build that takes longer than this is stopped: a learner's file cannot keep the harness.
pub const BUILD_DEADLINE: Duration = Duration::from_secs(180);
/// The most of the build log shown for a compile error.
const SHOWN_LINES: usize = 60;

/// A built module and where its source was compiled from.
pub struct Built {
    /// `<out>/<module>.ko`, with debug info.
    pub ko: PathBuf,
    /// The copy of the source the compiler saw; its lines are the learner's file's lines.
    pub compiled: PathBuf,
    /// The file the copy was taken from, to name in messages.
    pub origin: PathBuf,
}

/// The `Kbuild` the harness writes for an exercise: the module is the Rust file, named after
/// the module, and any C file of the exercise's own directory (a helper of its frame, such as
/// `flush_work()`, which the 7.3 kernel crate lacks).
pub fn kbuild(module: &str, helpers: &[String]) -> String {
    let mut objects = vec![format!("src/{module}.o")];
    objects.extend(helpers.iter().map(|c| format!("{}.o", c.trim_end_matches(".c"))));
    format!(
        "# SPDX-License-Identifier: GPL-2.0\n# Written by `cargo xtask exercise`; not the learner's.\n\
         obj-m := {module}.o\n{module}-y := {}\n",
        objects.join(" ")
    )
}

/// The C helpers in the exercise's directory, by file name.
fn helpers(exercise: &Exercise) -> Result<Vec<String>> {
    Ok(crate::paths::files_with_extension(&exercise.dir, "c")?
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect())
}

/// Writes the build tree of `exercise`'s module into `out`: the harness's `Kbuild`, the
/// exercise's own C helpers, and `text` as `src/<module>.rs`, whose path it returns.
fn write_tree(exercise: &Exercise, text: &str, out: &Path) -> Result<PathBuf> {
    let module = &exercise.spec.module;
    let src = out.join("src");
    std::fs::create_dir_all(&src).context(|| format!("could not create {}", src.display()))?;
    let helpers = helpers(exercise)?;
    std::fs::write(out.join("Kbuild"), kbuild(module, &helpers))
        .context(|| format!("could not write {}", out.join("Kbuild").display()))?;
    for helper in &helpers {
        std::fs::copy(exercise.dir.join(helper), out.join(helper))
            .context(|| format!("could not copy {helper} to {}", out.display()))?;
    }
    let compiled = src.join(format!("{module}.rs"));
    std::fs::write(&compiled, text).context(|| format!("could not write {}", compiled.display()))?;
    Ok(compiled)
}

/// Builds `text` (the contents of `origin`) as `exercise`'s module in `out`, with the `make`
/// command passed through `wrap` first (`cargo xtask grade` runs it in a sandbox; a learner's
/// check passes it as it is) and stopped past `deadline`. A compile error is the learner's
/// failure (exit 1) and shows the compiler's own words, naming `origin`.
#[allow(clippy::too_many_arguments)]
pub fn build(
    settings: &Settings,
    tools: &Toolchain,
    kernel: &kernel::Build,
    exercise: &Exercise,
    text: &str,
    origin: &Path,
    out: &Path,
    wrap: &dyn Fn(Command) -> Command,
    deadline: Duration,
) -> Result<Built> {
    let module = &exercise.spec.module;
    let compiled = write_tree(exercise, text, out)?;
    let ko = out.join(format!("{module}.ko"));
    let _ = std::fs::remove_file(&ko);
    let mut make = tools.make(&kernel.dir);
    make.arg(format!("M={}", out.display()))
        // Debug info, so that a report's frames name the learner's lines.
        .arg("KRUSTFLAGS=-Cdebuginfo=2")
        .arg("modules");
    let mut make = wrap(make);
    let log = out.join("build.log");
    if settings.dry_run {
        println!("{} > {}", cmd::display(&make), log.display());
        return Ok(Built { ko, compiled, origin: origin.to_path_buf() });
    }
    let status = run_bounded(&mut make, &log, deadline)?;
    let text = String::from_utf8_lossy(&std::fs::read(&log).unwrap_or_default()).into_owned();
    match status {
        Some(true) if ko.is_file() => Ok(Built { ko, compiled, origin: origin.to_path_buf() }),
        Some(_) if compiled_error(&text) => Err(Error {
            message: format!(
                "{} does not compile:\n{}\nfull log: {}",
                origin.display(),
                compiler_message(&text, &compiled, origin),
                log.display()
            ),
            exit_code: EXIT_FAIL,
        }),
        Some(_) => Err(Error::unavailable(format!(
            "the module build failed for another reason than the source; log: {}\n{}",
            log.display(),
            cmd::tail(&log, 20)
        ))),
        None => Err(Error {
            message: format!(
                "building {} took longer than {}s and was stopped; log: {}",
                origin.display(),
                deadline.as_secs(),
                log.display()
            ),
            exit_code: EXIT_FAIL,
        }),
    }
}

/// The kernel's own gate for the module's Rust, on `text` (a generated variant): a `CLIPPY=1`
/// build in which any warning is an error, as `cargo xtask lint` does for `rust/`.
pub fn clippy(
    settings: &Settings,
    tools: &Toolchain,
    kernel: &kernel::Build,
    exercise: &Exercise,
    text: &str,
    out: &Path,
) -> Result<()> {
    let module = &exercise.spec.module;
    write_tree(exercise, text, out)?;
    // A fresh tree each time, so that every file is checked, not only the changed ones.
    for stale in ["src/.{module}.o.cmd", "src/{module}.o"] {
        let _ = std::fs::remove_file(out.join(stale.replace("{module}", module)));
    }
    let mut make = tools.make(&kernel.dir);
    make.arg(format!("M={}", out.display()))
        .arg("CLIPPY=1")
        .arg(format!("CLIPPY_DRIVER={}", tools.clippy_driver.display()))
        .arg("KRUSTFLAGS=-Dwarnings")
        .arg("modules");
    let log = out.join("lint.log");
    if settings.dry_run {
        println!("{} > {}", cmd::display(&make), log.display());
        return Ok(());
    }
    match run_bounded(&mut make, &log, BUILD_DEADLINE)? {
        Some(true) => Ok(()),
        _ => Err(Error {
            message: format!(
                "clippy refuses {}; log: {}\n{}",
                out.display(),
                log.display(),
                cmd::tail(&log, 30)
            ),
            exit_code: EXIT_FAIL,
        }),
    }
}

/// Runs `command` with its output in `log`; `None` if it ran past `deadline` and was stopped.
fn run_bounded(command: &mut Command, log: &Path, deadline: Duration) -> Result<Option<bool>> {
    eprintln!("$ {} > {}", cmd::display(command), log.display());
    let file = File::create(log).context(|| format!("could not create {}", log.display()))?;
    let err = file.try_clone().context(|| format!("could not open {}", log.display()))?;
    command.stdin(Stdio::null()).stdout(file).stderr(err);
    let mut tracked = children::spawn(command, "make", Kind::Group)
        .context(|| format!("could not start `{}`", cmd::display(command)))?;
    let started = Instant::now();
    loop {
        if let Some(status) = tracked.child.try_wait().context(|| "waiting for make".into())? {
            return Ok(Some(status.success()));
        }
        if started.elapsed() > deadline {
            let group = tracked.child.id() as i32;
            // SAFETY: `kill` only sends a signal; the group is make's own (Kind::Group).
            unsafe { libc::kill(-group, libc::SIGKILL) };
            let _ = tracked.child.wait();
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Whether the log shows the compiler refusing the source (not a broken tree or toolchain).
fn compiled_error(log: &str) -> bool {
    log.lines().any(|l| l.starts_with("error") || l.contains(": error:"))
}

/// The compiler's messages from the first error on, with the compiled copy's path replaced by
/// the learner's file, at most [`SHOWN_LINES`] lines.
pub fn compiler_message(log: &str, compiled: &Path, origin: &Path) -> String {
    let lines: Vec<&str> = log.lines().collect();
    let first = lines.iter().position(|l| l.starts_with("error") || l.contains(": error:")).unwrap_or(0);
    let copy = compiled.display().to_string();
    // rustc names the file as kbuild passed it: relative to the module's directory.
    let relative =
        compiled.file_name().map(|name| format!("--> src/{}", name.to_string_lossy())).unwrap_or_default();
    let shown = origin.display().to_string();
    lines[first..]
        .iter()
        .filter(|l| !l.starts_with("make") && !l.starts_with("  RUSTC") && !l.starts_with("  CC"))
        .take(SHOWN_LINES)
        .map(|l| l.replace(&copy, &shown).replace(&relative, &format!("--> {shown}")))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kbuild_takes_only_the_rust_file_and_the_exercises_helpers() {
        assert_eq!(
            kbuild("ex01", &[]),
            "# SPDX-License-Identifier: GPL-2.0\n# Written by `cargo xtask exercise`; not the learner's.\n\
             obj-m := ex01.o\nex01-y := src/ex01.o\n"
        );
        assert!(kbuild("ex06", &["raw_spinlock.c".into()]).ends_with("ex06-y := src/ex06.o raw_spinlock.o\n"));
    }

    #[test]
    fn compile_errors_name_the_learners_file() {
        let log =
            "make[1]: Entering directory\n  RUSTC [M] src/ex01.o\nerror[E0425]: cannot find value `x`\n  \
                   --> /t/out/src/ex01.rs:12:5\n   |\n12 |     x += 1;\nerror: x\n   --> src/ex01.rs:13:1\n\nmake[2]: *** Error 1\n";
        assert!(compiled_error(log));
        let shown =
            compiler_message(log, Path::new("/t/out/src/ex01.rs"), Path::new("exercises/01-x/mine.rs"));
        assert!(shown.starts_with("error[E0425]"), "{shown}");
        assert!(shown.contains("--> exercises/01-x/mine.rs:12:5"), "{shown}");
        assert!(shown.contains("--> exercises/01-x/mine.rs:13:1"), "{shown}");
        assert!(!shown.contains("make[2]"), "{shown}");
        assert!(!compiled_error("make: *** No rule to make target\n"));
    }
}
