// SPDX-License-Identifier: GPL-2.0

//! `cargo xtask triage --score DIR`: the parser against a directory of console logs whose
//! expected titles stand on top, as in syzkaller's report test data (`TITLE: ...` lines, then
//! an empty line, then the log): how many logs with a report it finds, and for the locking and
//! atomic-sleep reports, how many get the same family and the same title.

use crate::error::{Error, Result, EXIT_FAIL, EXIT_PASS};
use crate::triage::parse;
use std::path::Path;

/// Words of the titles that count as locking or atomic-sleep reports.
const LOCKING: &[&str] = &[
    "deadlock",
    "lock state",
    "locking bug",
    "unlock balance",
    "held lock freed",
    "locks held",
    "lock held when returning",
    "suspicious RCU usage",
    "sleeping function called from invalid context",
    "scheduling while atomic",
    "in preemptible code",
    "spinlock",
    "non-static key",
    "workqueue leaked",
];

/// One log of the directory: its expected titles (the first, then its alternatives) and the
/// log itself.
pub(super) struct Case {
    name: String,
    pub(super) titles: Vec<String>,
    pub(super) log: String,
}

/// Splits the `KEY: value` lines on top of `text` from the log below them; the titles are the
/// `TITLE:` and `ALT:` values.
pub(super) fn case(name: &str, text: &str) -> Case {
    let mut titles = Vec::new();
    let mut rest = text;
    while let Some((line, after)) = rest.split_once('\n') {
        let Some((key, value)) = line.split_once(": ") else { break };
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_uppercase()) {
            break;
        }
        if key == "TITLE" || key == "ALT" {
            titles.push(value.trim().to_string());
        }
        rest = after;
    }
    // The empty line under the keys.
    let log = if titles.is_empty() { rest } else { rest.strip_prefix('\n').unwrap_or(rest) };
    Case { name: name.to_string(), titles, log: log.to_string() }
}

/// A title without the function it names: `possible deadlock in f` is `possible deadlock`.
fn family(title: &str) -> &str {
    title.rsplit_once(" in ").map_or(title, |(family, _)| family)
}

/// What the parser got right, over a set of cases.
#[derive(Debug, Default, PartialEq)]
struct Score {
    with_report: usize,
    found: usize,
    locking: usize,
    same_family: usize,
    same_title: usize,
    /// `(case, expected, got)` for each locking report whose title differs.
    misses: Vec<(String, String, String)>,
}

fn score(cases: &[Case]) -> Score {
    let mut s = Score::default();
    for case in cases.iter().filter(|c| !c.titles.is_empty()) {
        s.with_report += 1;
        let got = parse(&case.log).into_iter().next().map(|r| r.title).unwrap_or_default();
        s.found += usize::from(!got.is_empty());
        let expected = &case.titles[0];
        if LOCKING.iter().any(|w| expected.contains(w)) {
            s.locking += 1;
            s.same_family += usize::from(case.titles.iter().any(|t| family(t) == family(&got)));
            let same = case.titles.contains(&got);
            s.same_title += usize::from(same);
            if !same {
                s.misses.push((case.name.clone(), expected.clone(), got));
            }
        }
    }
    s
}

fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

/// Scores the parser on every file of `dir`; exit 0 when the goals are met (95% of the
/// logs with a report found, 95% of the locking reports in the right family, 50% with the same
/// title), 1 when not.
pub fn command(dir: &Path) -> Result<i32> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        Error::unavailable(format!(
            "could not read the directory {}: {e}; --score takes a directory of logs",
            dir.display()
        ))
    })?;
    let mut cases = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_file() {
            let bytes = std::fs::read(&path)
                .map_err(|e| Error::unavailable(format!("could not read {}: {e}", path.display())))?;
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            cases.push(case(&name, &String::from_utf8_lossy(&bytes)));
        }
    }
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    let s = score(&cases);
    for (name, expected, got) in &s.misses {
        println!("{name}: expected {expected:?}, got {got:?}");
    }
    let found = percent(s.found, s.with_report);
    let family = percent(s.same_family, s.locking);
    let title = percent(s.same_title, s.locking);
    println!(
        "{} logs, {} with a report: {} found ({found:.1}%); {} locking or atomic-sleep reports: {} \
         in the same family ({family:.1}%), {} with the same title ({title:.1}%)",
        cases.len(),
        s.with_report,
        s.found,
        s.locking,
        s.same_family,
        s.same_title
    );
    Ok(if found >= 95.0 && family >= 95.0 && title >= 50.0 { EXIT_PASS } else { EXIT_FAIL })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEADLOCK: &str = "[    1.000000] ======================================================\n\
        [    1.000001] WARNING: possible circular locking dependency detected\n\
        [    1.000002] 6.1.0 #1 Not tainted\n";

    #[test]
    fn reads_the_titles_on_top() {
        let c = case(
            "7",
            "TITLE: possible deadlock in f\nALT: possible deadlock in g\nTYPE: LOCKDEP\n\nlog line\n",
        );
        assert_eq!(c.titles, ["possible deadlock in f", "possible deadlock in g"]);
        assert_eq!(c.log, "log line\n");
        assert!(case("8", "[    1.0] no header\n").titles.is_empty());
    }

    #[test]
    fn counts_families_titles_and_misses() {
        let cases = [
            case("1", &format!("TITLE: possible deadlock in corrupted\n\n{DEADLOCK}")),
            case("2", &format!("TITLE: possible deadlock in lab_ioctl\n\n{DEADLOCK}")),
            case("3", "TITLE: inconsistent lock state in f\n\nnothing here\n"),
            case("4", "TITLE: KASAN: use-after-free Read in f\n\nnothing here\n"),
            case("5", "no report at all\n"),
        ];
        let s = score(&cases);
        assert_eq!((s.with_report, s.found, s.locking, s.same_family, s.same_title), (4, 2, 3, 2, 1));
        assert_eq!(
            s.misses[0],
            ("2".into(), "possible deadlock in lab_ioctl".into(), "possible deadlock in corrupted".into())
        );
        assert_eq!(s.misses[1].2, "");
    }
}
