// SPDX-License-Identifier: GPL-2.0

//! Running external commands: each is printed before it runs, and long ones log to a file.

use crate::children::{self, Kind};
use crate::error::{Context, Error, Result};
use crate::settings::Settings;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The command line as a user would type it.
pub fn display(cmd: &Command) -> String {
    let mut line = String::new();
    for (key, value) in cmd.get_envs() {
        if let Some(value) = value {
            line += &format!("{}={} ", key.to_string_lossy(), quote(&value.to_string_lossy()));
        }
    }
    if let Some(dir) = cmd.get_current_dir() {
        line = format!("(cd {} && {line}", dir.display());
    }
    line += &quote(&cmd.get_program().to_string_lossy());
    for arg in cmd.get_args() {
        line.push(' ');
        line += &quote(&arg.to_string_lossy());
    }
    if cmd.get_current_dir().is_some() {
        line.push(')');
    }
    line
}

/// `word` as one word of a POSIX shell command line, quoted only when it needs it.
pub fn quote(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Prints the command, runs it with inherited stdio, and fails unless it succeeds; with
/// `--dry-run`, only prints it.
pub fn run(settings: &Settings, cmd: &mut Command) -> Result<()> {
    if settings.dry_run {
        println!("{}", display(cmd));
        return Ok(());
    }
    eprintln!("$ {}", display(cmd));
    let mut tracked = spawn(cmd)?;
    let status = tracked.child.wait().context(|| format!("waiting for `{}`", display(cmd)))?;
    if !status.success() {
        return Err(Error::unavailable(format!("`{}` failed ({status})", display(cmd))));
    }
    Ok(())
}

/// Runs the command quietly and returns its stdout, or `None` if it could not run or failed.
pub fn output(cmd: &mut Command) -> Option<String> {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null());
    let mut tracked = children::spawn(cmd, &program_name(cmd), Kind::Group).ok()?;
    let mut stdout = String::new();
    tracked.child.stdout.take()?.read_to_string(&mut stdout).ok()?;
    tracked.child.wait().ok()?.success().then_some(stdout)
}

/// Prints the command, runs it with its output going to `log`, and prints a progress line
/// every `every` while it runs. On failure, the error shows the last lines of the log.
pub fn run_logged(
    settings: &Settings,
    cmd: &mut Command,
    log: &Path,
    label: &str,
    every: Duration,
) -> Result<()> {
    run_logged_expecting(settings, cmd, log, label, every, None)
}

/// As [`run_logged`]; when the log of a whole run is known to have about `expected` lines,
/// the progress line says how far along it is and how long is left.
pub fn run_logged_expecting(
    settings: &Settings,
    cmd: &mut Command,
    log: &Path,
    label: &str,
    every: Duration,
    expected: Option<usize>,
) -> Result<()> {
    if settings.dry_run {
        println!("{} > {}", display(cmd), log.display());
        return Ok(());
    }
    eprintln!("$ {} > {}", display(cmd), log.display());
    let file = File::create(log).context(|| format!("could not create {}", log.display()))?;
    let err = file.try_clone().context(|| format!("could not open {}", log.display()))?;
    let mut tracked = spawn(cmd.stdin(Stdio::null()).stdout(file).stderr(err))?;
    let child = &mut tracked.child;
    let start = Instant::now();
    let mut last = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().context(|| format!("waiting for {label}"))? {
            break status;
        }
        std::thread::sleep(Duration::from_millis(200));
        if last.elapsed() >= every {
            last = Instant::now();
            let lines = count_lines(log);
            let elapsed = start.elapsed().as_secs();
            eprintln!("  {label}: {elapsed}s, {}", progress(lines, expected, elapsed));
        }
    };
    if !status.success() {
        return Err(Error::unavailable(format!(
            "{label} failed ({status}); full log: {}\n--- last lines ---\n{}",
            log.display(),
            tail(log, 30)
        )));
    }
    eprintln!("  {label}: done in {}s", start.elapsed().as_secs());
    Ok(())
}

/// `N log lines`, or with an expected total, how far along and about how long is left.
fn progress(lines: usize, expected: Option<usize>, elapsed: u64) -> String {
    match expected {
        Some(total) if total > 0 && lines > 0 => {
            let done = (lines as f64 / total as f64).min(0.99);
            let left = elapsed as f64 * (1.0 - done) / done;
            format!("{lines} of about {total} log lines, {:.0}% done, about {left:.0}s left", done * 100.0)
        }
        _ => format!("{lines} log lines"),
    }
}

/// Starts `cmd` as a recorded child in its own process group (see [`children`]).
pub fn spawn(cmd: &mut Command) -> Result<children::Tracked> {
    children::spawn(cmd, &program_name(cmd), Kind::Group)
        .context(|| format!("could not start `{}`", display(cmd)))
}

/// The program's file name, for messages such as "stopped make (pid 12)".
pub fn program_name(cmd: &Command) -> String {
    let program = std::path::Path::new(cmd.get_program());
    program.file_name().unwrap_or(program.as_os_str()).to_string_lossy().into_owned()
}

fn count_lines(path: &Path) -> usize {
    File::open(path).map(|f| BufReader::new(f).lines().count()).unwrap_or(0)
}

/// The last `n` lines of a file, for error messages.
pub fn tail(path: &Path, n: usize) -> String {
    let mut text = String::new();
    if let Ok(mut f) = File::open(path) {
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        let _ = f.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)));
        let mut bytes = Vec::new();
        let _ = f.read_to_end(&mut bytes);
        text = String::from_utf8_lossy(&bytes).into_owned();
    }
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_estimates_from_an_earlier_logs_length() {
        assert_eq!(progress(10, None, 30), "10 log lines");
        assert_eq!(progress(500, Some(2000), 60), "500 of about 2000 log lines, 25% done, about 180s left");
        assert!(progress(2500, Some(2000), 400).contains("99% done"));
    }

    #[test]
    fn display_quotes_only_what_needs_it() {
        let mut cmd = Command::new("make");
        cmd.args(["-C", "/tmp/a b", "M=/x", "it's"]).env("LIBCLANG_PATH", "/usr/lib");
        assert_eq!(display(&cmd), "LIBCLANG_PATH=/usr/lib make -C '/tmp/a b' M=/x 'it'\\''s'");
    }
}
