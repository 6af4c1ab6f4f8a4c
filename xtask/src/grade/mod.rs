// SPDX-License-Identifier: GPL-2.0

//! `cargo xtask grade`: every exercise's checks, visible and hidden, on every student's
//! submission, `--jobs` at a time, into a gradebook, feedback per student, Gradescope's
//! `results.json` and JUnit, all under `--output`.
//!
//! Each (student, exercise) is taken in ([`intake`]: only the exercise's Rust file), screened
//! (frame, forbidden constructs), built with the project's own `Kbuild` in a sandbox
//! ([`sandbox`]), and judged as `cargo xtask exercise check` judges it: each check resumes a
//! snapshot of a guest booted with the module in its initramfs, never loaded (`--no-snapshot`:
//! each check boots the kernel), so nothing a submission did is kept. Every step is bounded:
//! the file's size, the build's time, each check's VM time and console bytes; a check that hung
//! ends the submission's later checks (`not-run`); a guest that never reached user space is
//! booted again.

pub mod class;
pub mod intake;
pub mod report;
pub mod sandbox;

use crate::error::{Context, Error, Result, EXIT_FAIL, EXIT_PASS, EXIT_UNAVAILABLE};
use crate::exercise::spec::{self, Exercise};
use crate::exercise::{self, build, source, Lab};
use crate::kernel::Choice;
use crate::paths::cache_dir;
use crate::settings::Settings;
use intake::{Refusal, Submission};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The longest a submission's build may take: a correct one takes 2-5 s on 2 busy cores.
pub const BUILD_DEADLINE: Duration = Duration::from_secs(120);

/// What `cargo xtask grade` was asked.
pub struct Options {
    /// One directory per student.
    pub submissions: PathBuf,
    /// Where everything goes; the gradebook at its top.
    pub output: PathBuf,
    /// Exercises by number or name; empty: every exercise with a check on this kernel.
    pub exercises: Vec<String>,
    pub jobs: usize,
    /// `(K, N)`: only the students of shard K of N.
    pub shard: Option<(u32, u32)>,
    /// Gradescope visibility of the hidden checks' results.
    pub hidden_visibility: String,
}

/// One check's grade.
#[derive(Debug, Clone)]
pub struct CheckGrade {
    pub name: String,
    pub hidden: bool,
    pub weight: u32,
    pub score: u32,
    /// `passed`, `failed`, `refused`, `not-run`, `error`.
    pub status: &'static str,
    pub reason: String,
    /// What the student reads about it.
    pub feedback: String,
}

/// One student's grade on one exercise.
#[derive(Debug, Clone)]
pub struct Graded {
    pub student: String,
    pub exercise: String,
    pub commit: Option<String>,
    /// Not built, and why.
    pub refused: Option<Refusal>,
    /// The harness could not grade it (not the student's doing).
    pub error: Option<String>,
    pub seconds: f64,
    pub checks: Vec<CheckGrade>,
}

impl Graded {
    pub fn score(&self) -> u32 {
        self.checks.iter().map(|c| c.score).sum()
    }
    pub fn max_score(&self) -> u32 {
        self.checks.iter().map(|c| c.weight).sum()
    }
}

/// The checks of `exercise` that run on the lab's kernel.
fn checks<'a>(lab: &Lab, exercise: &'a Exercise) -> Vec<&'a spec::Check> {
    exercise.spec.checks.iter().filter(|c| c.runs_on(lab.flavour)).collect()
}

/// Every check at 0 with `status` and `reason`.
fn all_zero(lab: &Lab, exercise: &Exercise, status: &'static str, reason: &str) -> Vec<CheckGrade> {
    checks(lab, exercise)
        .into_iter()
        .map(|c| CheckGrade {
            name: c.name.clone(),
            hidden: c.hidden,
            weight: c.weight,
            score: 0,
            status,
            reason: reason.to_string(),
            feedback: format!("FAIL {}: {} ({status})\n", c.name, c.description),
        })
        .collect()
}

/// A copy of `lab` whose checks write under `out`.
fn lab_for(lab: &Lab, out: PathBuf) -> Lab {
    Lab {
        settings: lab.settings,
        tools: lab.tools.clone(),
        kernel: lab.kernel.clone(),
        flavour: lab.flavour,
        out,
        snapshots: lab.snapshots,
        accel: lab.accel,
    }
}

/// What the grade of a check's run says, for the gradebook: the failure kinds and report
/// titles, each once.
fn reason_of(run: &exercise::CheckRun) -> String {
    let mut whats: Vec<&str> = Vec::new();
    for f in &run.verdict.failures {
        if !whats.contains(&f.what.as_str()) {
            whats.push(&f.what);
        }
    }
    whats.join("; ")
}

/// Grades `submission` on `exercise`, its files under `work`.
pub fn grade_one(
    lab: &Lab,
    bwrap: &Path,
    exercise: &Exercise,
    submission: &Submission,
    work: &Path,
) -> Graded {
    let started = Instant::now();
    let mut graded = Graded {
        student: submission.student.clone(),
        exercise: exercise.name.clone(),
        commit: submission.commit.clone(),
        refused: None,
        error: None,
        seconds: 0.0,
        checks: Vec::new(),
    };
    let refused = |mut graded: Graded, refusal: Refusal| {
        graded.checks = all_zero(lab, exercise, "refused", &format!("{}: {}", refusal.what, refusal.reason));
        graded.refused = Some(refusal);
        graded.seconds = started.elapsed().as_secs_f64();
        graded
    };
    let annotated = match exercise.source() {
        Ok(a) => a,
        Err(e) => {
            graded.error = Some(e.message.clone());
            graded.checks = all_zero(lab, exercise, "error", &e.message);
            return graded;
        }
    };
    let (text, _file) = match intake::take(submission, exercise) {
        Ok(taken) => taken,
        Err(refusal) if ["no-file", "file-name"].contains(&refusal.what) => {
            let starter = source::generate(&annotated, "starter").unwrap_or_default();
            match intake::take_patch(
                submission,
                exercise,
                &starter,
                bwrap,
                &work.join(&exercise.name).join("patch"),
            ) {
                Some(Ok(taken)) => taken,
                Some(Err(refusal)) => return refused(graded, refusal),
                None => return refused(graded, refusal),
            }
        }
        Err(refusal) => return refused(graded, refusal),
    };
    if let Err(refusal) = intake::screen(&text, &annotated) {
        return refused(graded, refusal);
    }
    let dir = work.join(&exercise.name);
    let _ = std::fs::remove_dir_all(&dir);
    let build_dir = dir.join("build");
    if let Err(e) = std::fs::create_dir_all(&build_dir) {
        graded.error = Some(format!("could not create {}: {e}", build_dir.display()));
        graded.checks = all_zero(lab, exercise, "error", graded.error.as_deref().unwrap_or(""));
        return graded;
    }
    let readable = sandbox::build_inputs(&lab.kernel.dir, &cache_dir().join("tools"));
    let wrap = |make: std::process::Command| sandbox::wrap(bwrap, &make, &readable, &build_dir);
    let origin = PathBuf::from(format!("{}.rs", exercise.name));
    let built = match build::build(
        &lab.settings,
        &lab.tools,
        &lab.kernel,
        exercise,
        &text,
        &origin,
        &build_dir,
        &wrap,
        BUILD_DEADLINE,
    ) {
        Ok(built) => built,
        Err(e) if e.exit_code == EXIT_FAIL => {
            let what = if e.message.contains("took longer than") { "build-time" } else { "build" };
            return refused(graded, Refusal { what, reason: e.message });
        }
        Err(e) => {
            graded.error = Some(e.message.clone());
            graded.checks = all_zero(lab, exercise, "error", &e.message);
            graded.seconds = started.elapsed().as_secs_f64();
            return graded;
        }
    };
    let check_lab = lab_for(lab, dir.join("checks"));
    let mut hung = false;
    for check in checks(lab, exercise) {
        if hung {
            graded.checks.push(CheckGrade {
                name: check.name.clone(),
                hidden: check.hidden,
                weight: check.weight,
                score: 0,
                status: "not-run",
                reason: "not run: an earlier check hung".into(),
                feedback: format!("FAIL {}: not run: an earlier check hung\n", check.name),
            });
            continue;
        }
        let only = [check.name.clone()];
        // A guest that never reached user space ran nothing of the submission (a boot starved
        // of CPU: the kernel's timer check failing, the time limit passing during the boot):
        // it is booted again, and after BOOTS such boots the check is the harness's error.
        let mut outcome = exercise::run_checks(&check_lab, exercise, &built, "submission", Some(&only));
        for _ in 1..BOOTS {
            match &outcome {
                Ok(runs) if runs.iter().any(|r| !r.verdict.passed() && !started_user_space(r)) => {
                    eprintln!(
                        "grade: {} {}: the guest never reached user space; booting again",
                        submission.student, check.name
                    );
                    outcome = exercise::run_checks(&check_lab, exercise, &built, "submission", Some(&only));
                }
                _ => break,
            }
        }
        if let Ok(runs) = &outcome {
            if runs.iter().any(|r| !r.verdict.passed() && !started_user_space(r)) {
                outcome = Err(Error::unavailable(format!(
                    "the guest of check {} never reached user space in {BOOTS} boots: not the submission's doing",
                    check.name
                )));
            }
        }
        match outcome {
            Ok(runs) => {
                for run in runs {
                    let passed = run.verdict.passed();
                    hung |= run.verdict.failed_with("hang");
                    let feedback = if run.check.hidden && !passed {
                        format!(
                            "FAIL {} (hidden): {}\n  a hidden check: what it saw is not shown\n",
                            run.check.name, run.check.description
                        )
                    } else {
                        exercise::explain(exercise, &built, &run)
                    };
                    graded.checks.push(CheckGrade {
                        name: run.check.name.clone(),
                        hidden: run.check.hidden,
                        weight: run.check.weight,
                        score: if passed { run.check.weight } else { 0 },
                        status: if passed { "passed" } else { "failed" },
                        reason: reason_of(&run),
                        feedback,
                    });
                }
            }
            Err(e) => {
                graded.error = Some(e.message.clone());
                graded.checks.push(CheckGrade {
                    name: check.name.clone(),
                    hidden: check.hidden,
                    weight: check.weight,
                    score: 0,
                    status: "error",
                    reason: e.message.clone(),
                    feedback: format!("FAIL {}: the grader could not run it\n", check.name),
                });
            }
        }
    }
    // The objects and the debug build are large; the module and the log are kept.
    for stale in ["build/src", "build/.tmp_versions"] {
        let _ = std::fs::remove_dir_all(dir.join(stale));
    }
    graded.seconds = started.elapsed().as_secs_f64();
    graded
}

/// Boots of a check whose guest never reached user space, before it is the harness's error.
const BOOTS: usize = 3;

/// Whether the guest of `run` reached user space: its init said so on the harness channel
/// (the module is loaded only after that).
fn started_user_space(run: &exercise::CheckRun) -> bool {
    std::fs::read_to_string(run.console.with_file_name("harness.log"))
        .is_ok_and(|log| log.contains(&crate::guest::boot_marker()))
}

/// Minutes and seconds, for the progress line.
fn clock(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    format!("{}m{:02}s", s / 60, s % 60)
}

/// Grades every (submission, exercise) pair, `jobs` at a time, with a progress line on stderr.
pub fn grade_all(
    lab: &Lab,
    bwrap: &Path,
    exercises: &[&Exercise],
    submissions: &[Submission],
    work: &Path,
    jobs: usize,
) -> Vec<Graded> {
    let units: Vec<(&Submission, &Exercise)> =
        submissions.iter().flat_map(|s| exercises.iter().map(move |e| (s, *e))).collect();
    let results: Mutex<Vec<Option<Graded>>> = Mutex::new(vec![None; units.len()]);
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1).min(units.len().max(1)) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some((submission, exercise)) = units.get(i) else { return };
                if crate::children::stopping() {
                    return;
                }
                let graded = grade_one(lab, bwrap, exercise, submission, &work.join(&submission.student));
                let line = format!(
                    "{} {}: {} of {}{}",
                    graded.student,
                    graded.exercise,
                    graded.score(),
                    graded.max_score(),
                    graded.refused.as_ref().map(|r| format!(" (not built: {})", r.what)).unwrap_or_default()
                );
                results.lock().expect("results")[i] = Some(graded);
                let finished = done.fetch_add(1, Ordering::SeqCst) + 1;
                let left = units.len() - finished;
                let elapsed = started.elapsed().as_secs_f64();
                eprintln!(
                    "grade: {line}; {finished} done, {left} left, about {} to go",
                    clock(elapsed / finished as f64 * left as f64)
                );
            });
        }
    });
    results.into_inner().expect("results").into_iter().flatten().collect()
}

/// Writes the gradebook (`gradebook.csv`, `gradebook-totals.csv`, `gradebook.json`,
/// `junit.xml`) at the top of `out`,
/// and each student's `feedback.txt` and Gradescope `results.json` under `students/<name>/`.
pub fn write_outputs(out: &Path, graded: &[Graded], hidden_visibility: &str) -> Result<()> {
    let rows = report::rows(graded);
    let write = |path: PathBuf, text: String| -> Result<()> {
        std::fs::write(&path, text).context(|| format!("could not write {}", path.display()))
    };
    write(out.join("gradebook.csv"), report::csv(&rows))?;
    write(out.join("gradebook.json"), report::json(graded))?;
    write(out.join("gradebook-totals.csv"), report::totals_csv(graded))?;
    write(out.join("junit.xml"), report::junit(&rows))?;
    let mut students: Vec<&str> = graded.iter().map(|g| g.student.as_str()).collect();
    students.dedup();
    for student in students {
        let mine: Vec<&Graded> = graded.iter().filter(|g| g.student == student).collect();
        let dir = out.join("students").join(student);
        std::fs::create_dir_all(&dir).context(|| format!("could not create {}", dir.display()))?;
        write(dir.join("feedback.txt"), report::feedback(&mine))?;
        write(dir.join("results.json"), report::gradescope(&mine, hidden_visibility))?;
    }
    Ok(())
}

/// The lab, with the sandbox checked: the tools, the kernel (built if missing), `out`.
fn lab(settings: &Settings, choice: &Choice, out: &Path) -> Result<(Lab, PathBuf)> {
    let bwrap = sandbox::bwrap().or_else(|_| {
        crate::setup::setup(settings, false, choice.arch)?;
        sandbox::bwrap()
    })?;
    sandbox::probe(&bwrap)?;
    let base = Lab::new(settings, choice, "grade")?;
    Ok((lab_for(&base, out.join("work")), bwrap))
}

/// The exercises `names` names, or every one with a check on `lab`'s kernel.
fn chosen<'a>(all: &'a [Exercise], names: &[String], lab: &Lab) -> Result<Vec<&'a Exercise>> {
    if names.is_empty() {
        return Ok(all.iter().filter(|e| !checks(lab, e).is_empty()).collect());
    }
    names.iter().map(|n| spec::find(all, n)).collect()
}

/// `cargo xtask grade DIR`.
pub fn command(settings: &Settings, choice: &Choice, options: &Options) -> Result<i32> {
    let mut submissions = intake::discover(&options.submissions).map_err(|e| Error {
        message: format!(
            "could not read the submissions directory {} ({e}): give a directory with one sub-directory per student",
            options.submissions.display()
        ),
        exit_code: crate::error::EXIT_USAGE,
    })?;
    if let Some((k, n)) = options.shard {
        submissions.retain(|s| intake::shard_of(&s.student, n) == k);
    }
    let all = spec::load_all(&spec::root())?;
    std::fs::create_dir_all(&options.output)
        .context(|| format!("could not create {}", options.output.display()))?;
    let output = std::fs::canonicalize(&options.output)
        .context(|| format!("could not resolve {}", options.output.display()))?;
    let (lab, bwrap) = lab(settings, choice, &output)?;
    let exercises = chosen(&all, &options.exercises, &lab)?;
    eprintln!(
        "grade: {} submissions{} x {} exercises, {} at a time, into {}",
        submissions.len(),
        options.shard.map(|(k, n)| format!(" (shard {k}/{n})")).unwrap_or_default(),
        exercises.len(),
        options.jobs,
        output.display()
    );
    if settings.dry_run {
        return Ok(EXIT_PASS);
    }
    let started = Instant::now();
    let graded = grade_all(&lab, &bwrap, &exercises, &submissions, &output.join("work"), options.jobs);
    write_outputs(&output, &graded, &options.hidden_visibility)?;
    let errors = graded.iter().filter(|g| g.error.is_some()).count();
    let full = graded.iter().filter(|g| g.score() == g.max_score()).count();
    println!(
        "graded {} submissions of {} students in {}: {full} with full marks; gradebook: {}",
        graded.len(),
        submissions.len(),
        clock(started.elapsed().as_secs_f64()),
        output.join("gradebook.csv").display()
    );
    if errors > 0 {
        eprintln!(
            "grade: {errors} submissions could not be graded by the harness (status error in the gradebook)"
        );
        return Ok(EXIT_UNAVAILABLE);
    }
    Ok(EXIT_PASS)
}

/// The solution of exercise `which`, for a generated class.
pub fn variant_text(exercise: &Exercise, variant: &str) -> Result<String> {
    source::generate(&exercise.source()?, variant).map_err(|e| Error::unavailable(e.message))
}
