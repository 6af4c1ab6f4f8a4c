// SPDX-License-Identifier: GPL-2.0

//! One result set for a test run, scenarios and lab blocks alike, rendered the same way to
//! KTAP (stdout), JSON and JUnit, so that every output lists the same tests.

use crate::triage;
use crate::{junit, ktap};
use serde::Serialize;
use std::path::PathBuf;

/// How a test ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    /// It could not be run at all.
    Error,
}

/// What is being checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A boot of `tests/scenarios/<name>.toml`.
    Scenario,
    /// An expected-output block of a lab under `docs/labs/`, against its scenario's boot.
    LabBlock,
    /// A case of the module's KUnit suites, run in the lab kernel ([`crate::kunit`]).
    #[serde(rename = "kunit")]
    KUnit,
}

/// One test's result.
#[derive(Debug, Clone, Serialize)]
pub struct TestResult {
    pub name: String,
    pub kind: Kind,
    pub description: String,
    pub status: Status,
    /// From QEMU's start to the verdict (scenarios; 0 for lab blocks and for boots judged
    /// again by `test --rejudge`).
    pub seconds: f64,
    pub failures: Vec<String>,
    pub error: Option<String>,
    /// The reports judged: up to and including the first point of no return.
    pub reports: Vec<triage::Report>,
    /// The ending the boot matched: `expected`, or an alternative's name (scenarios only).
    pub ending: Option<String>,
    /// Reports after the point of no return: shown, not judged.
    pub after: Vec<triage::Report>,
    /// The console this result was judged on.
    pub console: PathBuf,
}

impl TestResult {
    pub fn passed(&self) -> bool {
        self.status == Status::Pass
    }
}

/// Passed, failed and could-not-run counts.
pub fn counts(results: &[TestResult]) -> (usize, usize, usize) {
    let count = |status: Status| results.iter().filter(|r| r.status == status).count();
    (count(Status::Pass), count(Status::Fail), count(Status::Error))
}

/// The KTAP document: one line per test, diagnostics as `#` lines, and the totals.
pub fn to_ktap(results: &[TestResult]) -> String {
    let mut text = ktap::header(results.len());
    for (i, result) in results.iter().enumerate() {
        let mut diagnostics = Vec::new();
        if result.kind == Kind::Scenario && result.seconds > 0.0 {
            diagnostics.push(format!("boot-to-verdict: {:.1}s", result.seconds));
        }
        diagnostics.extend(result.error.iter().map(|e| format!("could not run: {e}")));
        diagnostics.extend(result.failures.iter().cloned());
        if result.status != Status::Pass {
            diagnostics.push(format!("console: {}", result.console.display()));
        }
        diagnostics.extend(result.ending.iter().map(|e| format!("ending: {e}")));
        diagnostics.extend(result.reports.iter().map(|r| format!("report: {}", r.title)));
        diagnostics.extend(
            result.after.iter().map(|r| format!("after the point of no return, not judged: {}", r.title)),
        );
        let line = ktap::Line {
            name: &result.name,
            ok: result.passed(),
            diagnostics,
            directive: (result.status == Status::Error).then(|| "ERROR could not run".to_string()),
        };
        text += &ktap::line(i + 1, &line);
    }
    let (pass, fail, error) = counts(results);
    text + &ktap::totals(pass, fail, error)
}

pub fn to_json(results: &[TestResult]) -> String {
    serde_json::to_string_pretty(results).expect("results serialize") + "\n"
}

pub fn to_junit(results: &[TestResult]) -> String {
    junit::render(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(name: &str, kind: Kind, status: Status) -> TestResult {
        let failures: &[&str] = if status == Status::Fail { &["the console lacks \"x\""] } else { &[] };
        crate::testutil::result(name, kind, status, failures)
    }

    #[test]
    fn every_format_lists_the_same_tests() {
        let results = [
            result("mutex", Kind::Scenario, Status::Pass),
            result("docs/labs/01-mutex-in-interrupt.md:18 (mutex)", Kind::LabBlock, Status::Fail),
        ];
        let ktap = to_ktap(&results);
        let json: serde_json::Value = serde_json::from_str(&to_json(&results)).unwrap();
        let junit = to_junit(&results);
        assert!(ktap.contains("1..2\nok 1 mutex\n"), "{ktap}");
        assert!(ktap.contains("not ok 2 docs/labs/01-mutex-in-interrupt.md:18 (mutex)\n"), "{ktap}");
        assert_eq!(json.as_array().unwrap().len(), 2);
        assert_eq!(json[1]["kind"], "lab-block");
        assert!(junit.contains("tests=\"2\" failures=\"1\""), "{junit}");
        assert!(junit.contains("name=\"docs/labs/01-mutex-in-interrupt.md:18 (mutex)\""), "{junit}");
    }
}
