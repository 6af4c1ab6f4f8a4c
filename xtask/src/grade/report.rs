// SPDX-License-Identifier: GPL-2.0

//! What a grading run writes: the gradebook (CSV and JSON, one row per student, exercise and
//! check), each student's feedback and Gradescope `results.json`, and JUnit for CI.
//!
//! Gradescope's format is its autograder specification's "Output format"
//! (gradescope-autograders.readthedocs.io, `specs/`): a top-level `score`, `execution_time`,
//! `output`, `visibility`, `stdout_visibility` and `tests`, each test with `score`,
//! `max_score`, `status` (`passed`, `failed`), `name`, `output` and `visibility` (`hidden`,
//! `after_due_date`, `after_published`, `visible`).

use super::Graded;
use crate::results::{Kind, Status, TestResult};
use serde::Serialize;
use serde_json::json;

/// One row of the gradebook.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Row {
    pub student: String,
    pub exercise: String,
    pub check: String,
    pub hidden: bool,
    pub weight: u32,
    pub score: u32,
    pub max_score: u32,
    /// `passed`, `failed`, `refused` (not built: the reason says why), `not-run` (an earlier
    /// check hung), or `error` (the harness could not grade it).
    pub status: String,
    /// Empty for a pass; else the failure kinds or report titles, or the refusal.
    pub reason: String,
}

/// The gradebook's rows, in the order graded (student, then exercise, then check).
pub fn rows(graded: &[Graded]) -> Vec<Row> {
    graded
        .iter()
        .flat_map(|g| {
            g.checks.iter().map(move |c| Row {
                student: g.student.clone(),
                exercise: g.exercise.clone(),
                check: c.name.clone(),
                hidden: c.hidden,
                weight: c.weight,
                score: c.score,
                max_score: c.weight,
                status: c.status.to_string(),
                reason: short(&c.reason),
            })
        })
        .collect()
}

/// A reason in one line for the gradebook: its first three non-empty lines (a compile error's
/// header, rustc's message and its `-->` line); the feedback has it whole.
fn short(reason: &str) -> String {
    reason.lines().map(str::trim).filter(|l| !l.is_empty()).take(3).collect::<Vec<_>>().join(" ")
}

/// A spreadsheet runs a field that starts with `=`, `+`, `-` or `@` as a formula (CSV
/// injection): such a field (a student's directory name, a reason) gets a leading `'`.
fn inert(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_string()
    }
}

/// RFC 4180 text of `header` and `records`, by the `csv` crate (quotes what needs quoting).
fn write_csv(header: &[&str], records: impl IntoIterator<Item = Vec<String>>) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let written = writer
        .write_record(header)
        .and_then(|()| records.into_iter().try_for_each(|r| writer.write_record(r.iter().map(|f| inert(f)))));
    written.expect("writing CSV into memory cannot fail");
    let bytes = writer.into_inner().expect("flushing CSV into memory cannot fail");
    String::from_utf8(bytes).expect("CSV of UTF-8 fields is UTF-8")
}

/// `gradebook.csv`.
pub fn csv(rows: &[Row]) -> String {
    let header =
        ["student", "exercise", "check", "hidden", "weight", "score", "max_score", "status", "reason"];
    write_csv(
        &header,
        rows.iter().map(|r| {
            vec![
                r.student.clone(),
                r.exercise.clone(),
                r.check.clone(),
                r.hidden.to_string(),
                r.weight.to_string(),
                r.score.to_string(),
                r.max_score.to_string(),
                r.status.clone(),
                r.reason.clone(),
            ]
        }),
    )
}

/// `gradebook-totals.csv`: one row per student, their commit (a clone's), score and maximum.
pub fn totals_csv(graded: &[Graded]) -> String {
    let mut students: Vec<&str> = graded.iter().map(|g| g.student.as_str()).collect();
    students.dedup();
    let records = students.into_iter().map(|s| {
        let mine: Vec<&Graded> = graded.iter().filter(|g| g.student == s).collect();
        let commit = mine.first().and_then(|g| g.commit.clone()).unwrap_or_default();
        let score: u32 = mine.iter().map(|g| g.score()).sum();
        let max: u32 = mine.iter().map(|g| g.max_score()).sum();
        vec![s.to_string(), commit, score.to_string(), max.to_string()]
    });
    write_csv(&["student", "commit", "score", "max_score"], records)
}

/// `gradebook.json`: per student, the total and each exercise with its checks.
pub fn json(graded: &[Graded]) -> String {
    let mut students: Vec<&str> = graded.iter().map(|g| g.student.as_str()).collect();
    students.dedup();
    let value: Vec<serde_json::Value> = students
        .iter()
        .map(|s| {
            let mine: Vec<&Graded> = graded.iter().filter(|g| g.student == *s).collect();
            json!({
                "student": s,
                "commit": mine.first().and_then(|g| g.commit.clone()),
                "score": mine.iter().map(|g| g.score()).sum::<u32>(),
                "max_score": mine.iter().map(|g| g.max_score()).sum::<u32>(),
                "exercises": mine.iter().map(|g| json!({
                    "exercise": g.exercise,
                    "score": g.score(),
                    "max_score": g.max_score(),
                    "refused": g.refused.as_ref().map(|r| json!({"what": r.what, "reason": r.reason})),
                    "error": g.error,
                    "seconds": (g.seconds * 10.0).round() / 10.0,
                    "checks": rows(std::slice::from_ref(*g)),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    serde_json::to_string_pretty(&json!({ "students": value })).expect("serializes") + "\n"
}

/// A student's Gradescope `results.json`. Hidden checks get `hidden_visibility` (`hidden`,
/// `after_due_date` or `after_published`) and an output that names them without the details.
pub fn gradescope(mine: &[&Graded], hidden_visibility: &str) -> String {
    let mut tests = Vec::new();
    for g in mine {
        for c in &g.checks {
            tests.push(json!({
                "name": format!("{} {}", g.exercise, c.name),
                "score": c.score,
                "max_score": c.weight,
                "status": if c.status == "passed" { "passed" } else { "failed" },
                "output": c.feedback,
                "visibility": if c.hidden { hidden_visibility } else { "visible" },
            }));
        }
    }
    let output: String = mine
        .iter()
        .filter_map(|g| g.refused.as_ref().map(|r| format!("{}: not built: {}\n", g.exercise, r.reason)))
        .collect();
    let value = json!({
        "score": mine.iter().map(|g| g.score()).sum::<u32>(),
        "execution_time": mine.iter().map(|g| g.seconds).sum::<f64>().round() as u64,
        "output": output,
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    });
    serde_json::to_string_pretty(&value).expect("serializes") + "\n"
}

/// A student's feedback: per exercise, what `cargo xtask exercise check` would say.
pub fn feedback(mine: &[&Graded]) -> String {
    let mut text = String::new();
    for g in mine {
        text += &format!("{}: {} of {}\n", g.exercise, g.score(), g.max_score());
        if let Some(r) = &g.refused {
            text += &format!("  not built ({}): {}\n", r.what, r.reason);
        }
        if let Some(e) = &g.error {
            text += &format!("  the grader could not grade it: {e}\n");
        }
        for c in g.checks.iter().filter(|_| g.refused.is_none()) {
            text += &c.feedback;
        }
        text.push('\n');
    }
    text
}

/// The rows as tests for JUnit (`<student>/<exercise>/<check>`). A hidden check's failure is
/// only named: students see the CI of their own repository.
pub fn junit(rows: &[Row]) -> String {
    let results: Vec<TestResult> = rows
        .iter()
        .map(|r| TestResult {
            name: format!("{}/{}/{}", r.student, r.exercise, r.check),
            kind: Kind::Scenario,
            description: format!("score {} of {}", r.score, r.max_score),
            status: match r.status.as_str() {
                "passed" => Status::Pass,
                "error" => Status::Error,
                _ => Status::Fail,
            },
            seconds: 0.0,
            failures: match (r.status.as_str(), r.hidden) {
                ("passed", _) => Vec::new(),
                (_, true) => vec!["a hidden check failed".into()],
                (_, false) => vec![r.reason.clone()],
            },
            error: (r.status == "error").then(|| r.reason.clone()),
            reports: Vec::new(),
            ending: None,
            after: Vec::new(),
            console: Default::default(),
        })
        .collect();
    crate::results::to_junit(&results)
}

#[cfg(test)]
mod tests {
    use super::super::{CheckGrade, Graded};
    use super::*;
    use crate::grade::intake::Refusal;

    fn graded() -> Vec<Graded> {
        let check = |name: &str, hidden, weight, passed: bool| CheckGrade {
            name: name.into(),
            hidden,
            weight,
            score: if passed { weight } else { 0 },
            status: if passed { "passed" } else { "failed" },
            reason: if passed { String::new() } else { "BUG: sleeping function called".into() },
            feedback: format!("{} {name}\n", if passed { "ok" } else { "FAIL" }),
        };
        vec![
            Graded {
                student: "ada, \"the first\"".into(),
                exercise: "01-x".into(),
                commit: Some("abc".into()),
                refused: None,
                error: None,
                seconds: 12.4,
                checks: vec![check("timer", false, 2, true), check("unload", true, 1, false)],
            },
            Graded {
                student: "=cmd".into(),
                exercise: "01-x".into(),
                commit: None,
                refused: Some(Refusal { what: "no-file", reason: "no file".into() }),
                error: None,
                seconds: 0.0,
                checks: vec![check("timer", false, 2, false), check("unload", true, 1, false)],
            },
        ]
    }

    /// The documented fields of Gradescope's results.json, with their types and values.
    #[test]
    fn gradescope_results_have_the_documented_shape() {
        let g = graded();
        let value: serde_json::Value = serde_json::from_str(&gradescope(&[&g[0]], "after_due_date")).unwrap();
        let top = value.as_object().unwrap();
        for key in top.keys() {
            assert!(
                [
                    "score",
                    "execution_time",
                    "output",
                    "visibility",
                    "stdout_visibility",
                    "tests",
                    "extra_data"
                ]
                .contains(&key.as_str()),
                "undocumented top-level field {key}"
            );
        }
        assert_eq!(value["score"], 2);
        assert!(value["execution_time"].is_u64());
        let visibilities = ["hidden", "after_due_date", "after_published", "visible"];
        assert!(visibilities.contains(&value["visibility"].as_str().unwrap()));
        assert!(visibilities.contains(&value["stdout_visibility"].as_str().unwrap()));
        let tests = value["tests"].as_array().unwrap();
        assert_eq!(tests.len(), 2);
        for test in tests {
            for key in test.as_object().unwrap().keys() {
                assert!(
                    [
                        "score",
                        "max_score",
                        "status",
                        "name",
                        "name_format",
                        "number",
                        "output",
                        "output_format",
                        "tags",
                        "visibility",
                        "extra_data"
                    ]
                    .contains(&key.as_str()),
                    "undocumented test field {key}"
                );
            }
            assert!(test["score"].is_number() && test["max_score"].is_number() && test["name"].is_string());
            assert!(["passed", "failed"].contains(&test["status"].as_str().unwrap()));
            assert!(visibilities.contains(&test["visibility"].as_str().unwrap()));
        }
        assert_eq!(tests[0]["visibility"], "visible");
        assert_eq!(tests[1]["visibility"], "after_due_date");
        assert_eq!((tests[1]["score"].as_u64(), tests[1]["max_score"].as_u64()), (Some(0), Some(1)));
        let hidden: serde_json::Value = serde_json::from_str(&gradescope(&[&g[0]], "hidden")).unwrap();
        assert_eq!(hidden["tests"][1]["visibility"], "hidden");
    }

    #[test]
    fn the_gradebook_quotes_what_a_spreadsheet_would_misread() {
        let rows = rows(&graded());
        assert_eq!(rows.len(), 4);
        let text = csv(&rows);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "student,exercise,check,hidden,weight,score,max_score,status,reason");
        assert_eq!(lines[1], "\"ada, \"\"the first\"\"\",01-x,timer,false,2,2,2,passed,");
        assert!(lines[3].starts_with("'=cmd,01-x,timer,false,2,0,2,failed,"), "{}", lines[3]);
        let mut long = graded();
        long[1].checks[0].reason =
            "build: x.rs does not compile:\nerror[E0277]: no\n  --> x.rs:9:1\n   |\n9 | y".into();
        assert_eq!(
            super::rows(&long)[2].reason,
            "build: x.rs does not compile: error[E0277]: no --> x.rs:9:1"
        );
        let value: serde_json::Value = serde_json::from_str(&json(&graded())).unwrap();
        assert_eq!(value["students"][0]["score"], 2);
        assert_eq!(value["students"][0]["max_score"], 3);
        assert_eq!(value["students"][1]["exercises"][0]["refused"]["what"], "no-file");
        assert_eq!(
            totals_csv(&graded()),
            "student,commit,score,max_score\n\"ada, \"\"the first\"\"\",abc,2,3\n'=cmd,,0,3\n"
        );
        let junit = junit(&rows);
        assert!(junit.contains("tests=\"4\" failures=\"3\""), "{junit}");
        assert!(junit.contains("a hidden check failed") && !junit.contains("unload\">BUG"), "{junit}");
    }
}
