// SPDX-License-Identifier: GPL-2.0

//! The sandbox a submission is built in: bubblewrap (`bwrap`, Debian's `bubblewrap`), which
//! shows the build only the toolchain (`/usr`), the kernel's build and source trees, the
//! harness's tools, and the one submission's build directory, with no network.
//!
//! Rust reads files at build time (`include_bytes!`, `include_str!`, `#[path]`): outside the
//! sandbox a submission could compile the grader's files, or other students', into its module.
//! Inside it, every path but those is missing, the network namespace has only a loopback
//! device, every capability is dropped, and the build is a new session (no `TIOCSTI` into the
//! grader's terminal). See bwrap(1).

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The files of `/etc` a build reads: the `awk` and `cc` alternatives, the loader's cache.
const ETC: &[&str] = &["/etc/alternatives", "/etc/ld.so.cache"];

/// `bwrap` on `PATH`, or an error that names the package and the command that installs it.
pub fn bwrap() -> Result<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join("bwrap"))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            Error::unavailable(
                "bwrap (bubblewrap) is missing: grading builds every submission in its sandbox; \
                 run `cargo xtask setup` (or `apt-get install bubblewrap`)",
            )
        })
}

/// `command` (its program, arguments and environment) run inside the sandbox, which can read
/// `readable` and read and write `writable`, each at its own path. The environment is only
/// `command`'s own, with `PATH` and `HOME` set.
pub fn wrap(bwrap: &Path, command: &Command, readable: &[PathBuf], writable: &Path) -> Command {
    let mut sandbox = Command::new(bwrap);
    sandbox.args(["--ro-bind", "/usr", "/usr"]);
    // Debian's merged /usr: the top-level directories are links into it.
    for (link, target) in
        [("/bin", "usr/bin"), ("/sbin", "usr/sbin"), ("/lib", "usr/lib"), ("/lib64", "usr/lib64")]
    {
        sandbox.args(["--symlink", target, link]);
    }
    // The kernel's file systems and an empty /tmp first: a bind below /tmp goes on top.
    sandbox.args(["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]);
    for path in ETC.iter().map(Path::new).filter(|p| p.exists()) {
        sandbox.arg("--ro-bind").arg(path).arg(path);
    }
    for path in readable {
        sandbox.arg("--ro-bind").arg(path).arg(path);
    }
    sandbox.arg("--bind").arg(writable).arg(writable);
    sandbox.args(["--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--clearenv"]);
    sandbox.args(["--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/tmp"]);
    for (key, value) in command.get_envs() {
        if let Some(value) = value {
            sandbox.arg("--setenv").arg(key).arg(value);
        }
    }
    sandbox.arg("--chdir").arg(writable);
    sandbox.arg("--").arg(command.get_program()).args(command.get_args());
    sandbox
}

/// Runs `true` in the sandbox: an error names why bwrap cannot run here (user namespaces
/// turned off, a container without the rights to make mount namespaces).
pub fn probe(bwrap: &Path) -> Result<()> {
    let dir = std::env::temp_dir();
    let mut check = wrap(bwrap, &Command::new("/usr/bin/true"), &[], &dir);
    let out = check.stdin(Stdio::null()).output().map_err(|e| Error::unavailable(format!("bwrap: {e}")))?;
    if out.status.success() {
        return Ok(());
    }
    Err(Error::unavailable(format!(
        "bwrap cannot make its sandbox here: {}; it needs mount and network namespaces \
         (as root, or /proc/sys/kernel/unprivileged_userns_clone = 1)",
        String::from_utf8_lossy(&out.stderr).trim()
    )))
}

/// The directories a module build reads: the kernel's build tree, its source tree (the
/// `source` link of an `O=` tree), and the directory of the harness's tools (`bindgen`).
pub fn build_inputs(kernel_dir: &Path, tools_dir: &Path) -> Vec<PathBuf> {
    let mut paths = vec![kernel_dir.to_path_buf()];
    if let Ok(source) = std::fs::canonicalize(kernel_dir.join("source")) {
        if source != kernel_dir {
            paths.push(source);
        }
    }
    if tools_dir.exists() {
        paths.push(tools_dir.to_path_buf());
    }
    paths
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(script: &str, writable: &Path, readable: &[PathBuf]) -> Option<(bool, String)> {
        let bwrap = bwrap().ok()?;
        let mut sh = Command::new("/usr/bin/bash");
        sh.args(["-c", script]).env("GRADE_TEST", "1");
        let out = wrap(&bwrap, &sh, readable, writable).stdin(Stdio::null()).output().unwrap();
        let text =
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        Some((out.status.success(), text))
    }

    /// Inside: the build directory (writable), what it was given (read-only), /usr; not the
    /// host's /etc/shadow, a sibling directory, the network, or the grader's environment.
    #[test]
    fn the_sandbox_shows_only_what_it_was_given() {
        let root = std::env::temp_dir().join(format!("irqlock-sandbox-{}", std::process::id()));
        let (mine, other, given) = (root.join("mine"), root.join("other"), root.join("given"));
        for dir in [&mine, &other, &given] {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(other.join("secret.rs"), "another student's").unwrap();
        std::fs::write(given.join("kernel"), "the kernel tree").unwrap();
        if bwrap().is_err() {
            eprintln!("bwrap is not installed: not checked");
            return;
        }
        probe(&bwrap().unwrap()).unwrap();
        let check = |script: &str| run(script, &mine, std::slice::from_ref(&given)).unwrap();
        let (ok, text) =
            check(&format!("echo built > {}/out && cat {}/kernel", mine.display(), given.display()));
        assert!(ok, "{text}");
        assert_eq!(std::fs::read_to_string(mine.join("out")).unwrap(), "built\n");
        assert!(!check(&format!("echo x > {}/kernel", given.display())).0, "the kernel tree is read-only");
        assert!(!check("cat /etc/shadow").0, "/etc/shadow is readable");
        assert!(!check(&format!("cat {}/secret.rs", other.display())).0, "a sibling is readable");
        let (ok, text) = check("exec 3<>/dev/tcp/1.1.1.1/80");
        assert!(!ok, "the network is reachable: {text}");
        assert!(text.contains("unreachable"), "{text}");
        let (ok, text) = check("env");
        assert!(ok && text.contains("GRADE_TEST=1") && !text.contains("CARGO"), "{text}");
        let _ = std::fs::remove_dir_all(&root);
    }
}
