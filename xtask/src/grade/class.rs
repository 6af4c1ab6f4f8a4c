// SPDX-License-Identifier: GPL-2.0

//! A generated class for exercise 1: 31 students, each with what their grade must be, from
//! the exercise's own variants (solution, starter, the wrong solutions) and hostile files
//! written here. `cargo xtask grade --class-test` grades it (real builds, real boots) and
//! checks every row of the gradebook; `cargo xtask bench` times a part of it.

use super::{report::Row, Options};
use crate::error::{Context, Error, Result, EXIT_FAIL, EXIT_PASS};
use crate::exercise::spec::{self, Exercise};
use crate::kernel::Choice;
use crate::settings::Settings;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What one check's row must say.
#[derive(Debug, Clone, Copy)]
pub enum Expect {
    Pass,
    /// Failed, with one of these among its reasons (empty: any reason).
    Fail(&'static [&'static str]),
    /// Failed, or not run after an earlier hang.
    FailOrNotRun,
    /// Refused before the build, or by the build, with this kind.
    Refused(&'static str),
}

impl Expect {
    /// Why `row` is not what was expected, or `None`.
    pub fn mismatch(&self, row: &Row) -> Option<String> {
        let ok = match self {
            Expect::Pass => row.status == "passed" && row.score == row.max_score,
            Expect::Fail(kinds) => {
                row.status == "failed"
                    && row.score == 0
                    && (kinds.is_empty() || kinds.iter().any(|k| row.reason.contains(k)))
            }
            Expect::FailOrNotRun => ["failed", "not-run"].contains(&row.status.as_str()) && row.score == 0,
            Expect::Refused(kind) => {
                row.status == "refused" && row.score == 0 && row.reason.starts_with(&format!("{kind}:"))
            }
        };
        (!ok).then(|| {
            format!("expected {self:?}, got {} ({}/{}): {}", row.status, row.score, row.max_score, row.reason)
        })
    }
}

/// One generated student: their files, and what each check of exercise 1 must say (the
/// visible `timer`, then the hidden `unload-while-firing`).
pub struct Student {
    pub name: &'static str,
    pub files: Vec<(String, Vec<u8>)>,
    pub expect: [Expect; 2],
}

const BUG: &[&str] = &["BUG: sleeping function called from invalid context"];

/// Exercise 1's solution with the first `from` replaced by `to`.
fn edited(solution: &str, from: &str, to: &str) -> Vec<u8> {
    assert!(solution.contains(from), "exercise 1 has no {from:?}");
    solution.replacen(from, to, 1).into_bytes()
}

/// The line of TODO 4 in exercise 1's solution, which runs in module init.
const INIT_LINE: &str = "                value <- new_spinlock_irq!(0, \"ex01_counter\"),\n";
/// The line of TODO 3, which runs in the timer's hard-IRQ handler.
const HANDLER_LINE: &str = "        *this.value.lock() += 1;\n";

/// TODO 4 with `code` run in module init first.
fn at_load(solution: &str, code: &str) -> Vec<u8> {
    edited(
        solution,
        INIT_LINE,
        &format!(
            "                value <- {{\n{code}                    new_spinlock_irq!(0, \"ex01_counter\")\n                }},\n"
        ),
    )
}

/// A patch from `before` to `after` of `exercises/NAME/mine.rs`, as `git diff` writes it.
fn patch(exercise: &Exercise, before: &str, after: &str) -> Result<String> {
    let dir = std::env::temp_dir().join(format!("irqlock-class-patch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).context(|| format!("could not create {}", dir.display()))?;
    let (a, b) = (dir.join("a.rs"), dir.join("b.rs"));
    std::fs::write(&a, before)
        .and_then(|()| std::fs::write(&b, after))
        .context(|| "could not write".into())?;
    let out = std::process::Command::new("diff")
        .arg("-u")
        .arg(&a)
        .arg(&b)
        .output()
        .context(|| "could not run diff (diffutils)".into())?;
    let _ = std::fs::remove_dir_all(&dir);
    let target = format!("exercises/{}/mine.rs", exercise.name);
    let body: Vec<String> =
        String::from_utf8_lossy(&out.stdout).lines().skip(2).map(str::to_string).collect();
    Ok(format!("--- a/{target}\n+++ b/{target}\n{}\n", body.join("\n")))
}

/// The class, with files that name `other` (another student's file) and `marker` (a file a
/// student's Makefile would create).
pub fn students(exercise: &Exercise, other: &Path, marker: &Path) -> Result<Vec<Student>> {
    let v = |variant: &str| super::variant_text(exercise, variant);
    let solution = v("solution")?;
    let name = format!("{}.rs", exercise.name);
    let file = |bytes: Vec<u8>| vec![(name.clone(), bytes)];
    let pass = [Expect::Pass, Expect::Pass];
    let refused = |kind| [Expect::Refused(kind), Expect::Refused(kind)];
    let mut class = vec![
        // Correct, in each layout a student may hand in.
        Student { name: "correct-flat", files: file(solution.clone().into_bytes()), expect: pass },
        Student {
            name: "correct-in-its-directory",
            files: vec![(format!("{}/mine.rs", exercise.name), solution.clone().into_bytes())],
            expect: pass,
        },
        Student {
            name: "correct-git-clone",
            files: vec![
                (format!("exercises/{}/mine.rs", exercise.name), solution.clone().into_bytes()),
                (".git/HEAD".into(), b"ref: refs/heads/main\n".to_vec()),
                (".git/refs/heads/main".into(), b"0123456789abcdef0123456789abcdef01234567\n".to_vec()),
            ],
            expect: pass,
        },
        Student {
            name: "correct-as-patch",
            files: vec![("fix.patch".into(), patch(exercise, &v("starter")?, &solution)?.into_bytes())],
            expect: pass,
        },
        Student { name: "correct-crlf", files: file(solution.replace('\n', "\r\n").into_bytes()), expect: pass },
        Student {
            name: "correct-with-own-makefile",
            files: vec![
                (name.clone(), solution.clone().into_bytes()),
                ("Makefile".into(), format!("all:\n\ttouch {}\n", marker.display()).into_bytes()),
                ("Kbuild".into(), format!("$(shell touch {})\nobj-m := ex01.o\n", marker.display()).into_bytes()),
            ],
            expect: pass,
        },
        // The exercise's own starter and wrong solutions.
        Student { name: "starter", files: file(v("starter")?.into_bytes()), expect: [Expect::Fail(BUG), Expect::Fail(BUG)] },
        Student {
            name: "wrong-stops-interrupt",
            files: file(v("stops-interrupt")?.into_bytes()),
            // Unloading while the timer fires needs only one expiry: the hidden check passes.
            expect: [Expect::Fail(&["interrupts"]), Expect::Pass],
        },
        Student {
            name: "wrong-irq-off-mutex",
            files: file(v("irq-off-mutex")?.into_bytes()),
            expect: [Expect::Fail(BUG), Expect::Fail(BUG)],
        },
        Student {
            name: "wrong-fake-line",
            files: file(v("fake-line")?.into_bytes()),
            expect: [Expect::Fail(&["check-line"]), Expect::Fail(&["counter"])],
        },
        Student { name: "wrong-panics", files: file(v("panics")?.into_bytes()), expect: [Expect::Fail(&["panic"]), Expect::Fail(&["panic"])] },
        Student { name: "wrong-spins", files: file(v("spins")?.into_bytes()), expect: [Expect::Fail(&["hang"]), Expect::FailOrNotRun] },
        Student {
            name: "wrong-floods",
            files: file(v("floods")?.into_bytes()),
            // Eight lines for eight expiries are no flood; thousands while unloading are.
            expect: [Expect::Pass, Expect::Fail(&["flood"])],
        },
        // Wrong kinds of file.
        Student { name: "no-file", files: vec![("README.txt".into(), b"I forgot".to_vec())], expect: refused("no-file") },
        Student { name: "wrong-file-name", files: vec![("ex1.rs".into(), solution.clone().into_bytes())], expect: refused("file-name") },
        Student {
            name: "not-utf8",
            files: file(edited(&solution, HANDLER_LINE, "        // caf\u{e9}\n        *this.value.lock() += 1;\n").into_iter().map(|b| if b == 0xc3 { 0xe9 } else { b }).collect()),
            expect: refused("encoding"),
        },
        Student {
            name: "ten-megabytes",
            files: file({
                let mut bytes = solution.clone().into_bytes();
                bytes.extend(std::iter::repeat_n(b"// padding\n".as_slice(), 10 * 1024 * 1024 / 11).flatten());
                bytes
            }),
            expect: refused("size"),
        },
        Student { name: "empty-file", files: file(Vec::new()), expect: refused("frame") },
        Student {
            name: "compile-error",
            files: file(edited(&solution, HANDLER_LINE, "        *this.value.lock() += \"one\";\n")),
            expect: refused("build"),
        },
        Student {
            name: "frame-changed",
            files: file(edited(&solution, "name: \"ex01\"", "name: \"ex99\"")),
            expect: refused("frame"),
        },
        // Hostile.
        Student {
            name: "hostile-reads-etc-shadow",
            files: file(edited(&solution, HANDLER_LINE, "        let _ = include_str!(\"/etc/shadow\");\n        *this.value.lock() += 1;\n")),
            expect: refused("build"),
        },
        Student {
            name: "hostile-reads-another-student",
            files: file(edited(
                &solution,
                HANDLER_LINE,
                &format!("        let _ = include_bytes!({:?});\n        *this.value.lock() += 1;\n", other.display().to_string()),
            )),
            expect: refused("build"),
        },
        Student {
            name: "hostile-links-etc-shadow",
            files: Vec::new(), // made a link below
            expect: refused("link"),
        },
        Student {
            name: "hostile-never-unloads",
            files: file(at_load(
                &solution,
                "                    // SAFETY: a reference to this module, never put back.\n                    unsafe { kernel::bindings::__module_get(_module.as_ptr()) };\n",
            )),
            expect: refused("forbidden"),
        },
        Student {
            name: "hostile-global-asm",
            files: file(edited(&solution, HANDLER_LINE, "        *this.value.lock() += 1;\n        core::arch::global_asm!(\"nop\");\n")),
            expect: refused("forbidden"),
        },
        Student {
            name: "hostile-panics-at-load",
            files: file(at_load(&solution, "                    if count > 0 {\n                        panic!(\"a submission that panics at load\");\n                    }\n")),
            expect: [Expect::Fail(&["panic"]), Expect::Fail(&["panic"])],
        },
        Student {
            name: "hostile-hangs-init",
            files: file(at_load(&solution, "                    while count > 0 {\n                        fsleep(Delta::from_millis(100));\n                    }\n")),
            expect: [Expect::Fail(&["hang"]), Expect::FailOrNotRun],
        },
        Student {
            name: "hostile-spins-irqs-off",
            files: file(at_load(
                &solution,
                "                    let _irqs_off = kernel::interrupt::local_interrupt_disable();\n                    while count > 0 {\n                        core::hint::spin_loop();\n                    }\n",
            )),
            expect: [Expect::Fail(&[]), Expect::FailOrNotRun],
        },
        Student {
            name: "hostile-prints-megabytes",
            files: file(at_load(
                &solution,
                "                    for i in 0..200_000u32 {\n                        pr_info!(\"flood {i} ..........................................................................\\n\");\n                    }\n",
            )),
            expect: [Expect::Fail(&["flood"]), Expect::Fail(&["flood"])],
        },
        Student {
            name: "hostile-fakes-harness-lines",
            files: file(at_load(
                &solution,
                "                    pr_info!(\"\\nirqlock-harness: step 1: exit=0\\nirqlock-harness: step 5: exit=0\\n\");\n                    pr_info!(\"irqlock-harness: tainted=4096\\nirqlock-harness: end\\n\");\n                    pr_info!(\"exercise-check: nonce={} interrupts=8 counter=9\\n\", module_parameters::nonce.value());\n                    pr_info!(\"irqlock-harness: console flushed\\n\");\n",
            )),
            expect: [Expect::Fail(&[]), Expect::Fail(&[])],
        },
        Student { name: "hostile-directory-link", files: Vec::new(), expect: refused("link") },
    ];
    class.sort_by_key(|s| s.name);
    Ok(class)
}

/// Writes `class` into `root`, one directory per student (links for the two link cases).
pub fn write(root: &Path, class: &[Student]) -> Result<()> {
    let _ = std::fs::remove_dir_all(root);
    for student in class {
        let dir = root.join(student.name);
        match student.name {
            "hostile-directory-link" => {
                std::os::unix::fs::symlink(root.join("correct-flat"), &dir)
                    .context(|| format!("could not link {}", dir.display()))?;
                continue;
            }
            _ => std::fs::create_dir_all(&dir).context(|| format!("could not create {}", dir.display()))?,
        }
        if student.name == "hostile-links-etc-shadow" {
            std::os::unix::fs::symlink("/etc/shadow", dir.join("01-mutex-in-hard-irq.rs"))
                .context(|| "could not make a link".into())?;
        }
        for (name, bytes) in &student.files {
            let path = dir.join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .context(|| format!("could not create {}", parent.display()))?;
            }
            std::fs::write(&path, bytes).context(|| format!("could not write {}", path.display()))?;
        }
    }
    Ok(())
}

/// `cargo xtask grade --class-test`: the generated class graded into `output`, every row of
/// the gradebook checked against what it must be. Exit 0 all right, 1 a row wrong.
pub fn test(settings: &Settings, choice: &Choice, output: &Path, jobs: usize) -> Result<i32> {
    std::fs::create_dir_all(output).context(|| format!("could not create {}", output.display()))?;
    let output = std::fs::canonicalize(output).context(|| "could not resolve the output".into())?;
    let all = spec::load_all(&spec::root())?;
    let exercise = spec::find(&all, "1")?;
    let root = output.join("class");
    let other = root.join("correct-flat").join(format!("{}.rs", exercise.name));
    let marker = output.join("makefile-ran");
    let _ = std::fs::remove_file(&marker);
    let class = students(exercise, &other, &marker)?;
    write(&root, &class)?;
    let started = Instant::now();
    let options = Options {
        submissions: root.clone(),
        output: output.join("graded"),
        exercises: vec![exercise.name.clone()],
        jobs,
        shard: None,
        hidden_visibility: "after_due_date".into(),
    };
    let code = super::command(settings, choice, &options)?;
    let seconds = started.elapsed().as_secs_f64();
    let text = std::fs::read_to_string(options.output.join("gradebook.json"))
        .context(|| "could not read the gradebook".into())?;
    let book: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| Error::unavailable(e.to_string()))?;
    let rows: Vec<Row> = book["students"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["exercises"].as_array().into_iter().flatten())
        .flat_map(|e| e["checks"].as_array().into_iter().flatten())
        .filter_map(|r| serde_json::from_value::<RowIn>(r.clone()).ok().map(RowIn::into_row))
        .collect();
    let (mut passed, mut failed) = (0, 0);
    for student in &class {
        for (check, expect) in ["timer", "unload-while-firing"].iter().zip(&student.expect) {
            let row = rows.iter().find(|r| r.student == student.name && r.check == *check);
            let problem = match row {
                None => Some("no row in the gradebook".to_string()),
                Some(row) => expect.mismatch(row),
            };
            match problem {
                None => {
                    passed += 1;
                    println!("ok {} {check}", student.name);
                }
                Some(p) => {
                    failed += 1;
                    println!("not ok {} {check}: {p}", student.name);
                }
            }
        }
    }
    let extra = rows.len().saturating_sub(passed + failed);
    if extra > 0 {
        failed += 1;
        println!("not ok the gradebook has {extra} rows for no generated student");
    }
    if marker.exists() {
        failed += 1;
        println!("not ok a student's Makefile or Kbuild ran: {} exists", marker.display());
    } else {
        passed += 1;
        println!("ok no student's Makefile or Kbuild ran");
    }
    eprintln!(
        "grade --class-test: {} students, {} rows, graded in {:.0}s at --jobs {jobs}; output in {}",
        class.len(),
        rows.len(),
        seconds,
        output.display()
    );
    println!("{passed} passed, {failed} failed");
    if code != EXIT_PASS {
        return Ok(code);
    }
    Ok(if failed == 0 { EXIT_PASS } else { EXIT_FAIL })
}

/// A gradebook row as read back from `gradebook.json`.
#[derive(serde::Deserialize)]
struct RowIn {
    student: String,
    exercise: String,
    check: String,
    hidden: bool,
    weight: u32,
    score: u32,
    max_score: u32,
    status: String,
    reason: String,
}

impl RowIn {
    fn into_row(self) -> Row {
        Row {
            student: self.student,
            exercise: self.exercise,
            check: self.check,
            hidden: self.hidden,
            weight: self.weight,
            score: self.score,
            max_score: self.max_score,
            status: self.status,
            reason: self.reason,
        }
    }
}

/// `cargo xtask bench`'s grading figure: submissions of exercise 1 that build and boot (the
/// solution twice, the starter, three wrong solutions), graded `jobs` at a time with the
/// kernel cached, after one warm-up; submissions per minute, and a class of 300.
pub fn bench(settings: &Settings, choice: &Choice, jobs: usize, out: &Path) -> Result<String> {
    let all = spec::load_all(&spec::root())?;
    let exercise = spec::find(&all, "1")?;
    let names = [
        "correct-flat",
        "correct-crlf",
        "starter",
        "wrong-stops-interrupt",
        "wrong-irq-off-mutex",
        "wrong-floods",
    ];
    let class: Vec<Student> = students(exercise, Path::new("/nonexistent"), Path::new("/nonexistent"))?
        .into_iter()
        .filter(|s| names.contains(&s.name))
        .collect();
    let root = out.join("grade-class");
    write(&root, &class)?;
    let options = |output: PathBuf, shard| Options {
        submissions: root.clone(),
        output,
        exercises: vec![exercise.name.clone()],
        jobs,
        shard,
        hidden_visibility: "after_due_date".into(),
    };
    // Warm: the kernel, the toolchain and the page cache, with one submission.
    let warm = out.join("grade-warm-class");
    write(&warm, &class[..1])?;
    super::command(
        settings,
        choice,
        &Options { submissions: warm, ..options(out.join("grade-warm-up"), None) },
    )?;
    let started = Instant::now();
    let code = super::command(settings, choice, &options(out.join("grade"), None))?;
    let seconds = started.elapsed().as_secs_f64();
    let per_minute = class.len() as f64 * 60.0 / seconds;
    Ok(format!(
        "grading, exercise 1 (a sandboxed build, a snapshot and 2 checks each), {} submissions at --jobs {jobs}: {seconds:.1}s, \
         {per_minute:.1} submissions/min; a class of 300: about {:.0} min{}\n",
        class.len(),
        300.0 / per_minute,
        if code == EXIT_PASS { "" } else { " (some could not be graded)" }
    ))
}
