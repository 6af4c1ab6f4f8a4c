// SPDX-License-Identifier: GPL-2.0

//! An exercise's `exercise.toml`: its title, its lab, its checks (visible and hidden), its
//! hints per failure, and the wrong solutions `cargo xtask test` expects to fail.

use crate::error::{Context, Error, Result};
use crate::kernel::Flavour;
use crate::paths::project_dir;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The annotated source of every exercise, in its directory.
pub const SOURCE: &str = "exercise.rs";
/// The file a learner edits, in the exercise's directory (git-ignored).
pub const MINE: &str = "mine.rs";

/// In `starter_fails_with`: on this kernel the starter passes every check.
pub const STARTER_PASSES: &str = "none";

/// A failure that is not a kernel report: what the checker found by itself. A hint's `when`
/// names one of these, or the start of a report's title.
pub const FAILURE_KINDS: &[&str] = &[
    "build",
    "frame",
    "insmod",
    "interrupts",
    "counter",
    "rmmod",
    "lockdep-off",
    "taint",
    "hang",
    "panic",
    "check-line",
    "flood",
];

/// One exercise, as `exercise.toml` describes it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    pub title: String,
    /// The lab that teaches it, relative to the project.
    pub lab: String,
    /// The module's name: its `module!` name and the `.ko` file's.
    pub module: String,
    /// The kernel's own count of the interrupt, as `/proc/interrupts` names the line (edu);
    /// without it, the count rests on the frame's counter of timer expiries.
    #[serde(default)]
    pub irq_name: Option<String>,
    /// Seconds after which a boot is stopped and the check fails as hung.
    #[serde(default = "default_timeout")]
    pub timeout_s: u64,
    /// What the starter must fail with on each kernel: a report title's start or a failure
    /// kind, per kernel flavour name; [`STARTER_PASSES`] where the lesson differs and the
    /// starter's code is right on that kernel.
    pub starter_fails_with: std::collections::BTreeMap<String, String>,
    #[serde(rename = "check")]
    pub checks: Vec<Check>,
    #[serde(rename = "hint")]
    pub hints: Vec<Hint>,
    #[serde(default, rename = "wrong")]
    pub wrongs: Vec<Wrong>,
}

fn default_timeout() -> u64 {
    60
}

/// One boot of a check.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct Check {
    pub name: String,
    /// Shown in the starter's listing; hidden ones run all the same.
    #[serde(default)]
    pub hidden: bool,
    pub description: String,
    /// Module parameters; `count=N` is required, as the checker compares with it.
    pub params: Vec<String>,
    /// QEMU `-device` values.
    #[serde(default)]
    pub devices: Vec<String>,
    /// The kernels the check runs on; by default the default kernel only.
    #[serde(default = "default_kernels")]
    pub kernels: Vec<String>,
    /// Seconds to leave the module loaded, and its interrupt firing, before rmmod.
    #[serde(default)]
    pub sleep_before_rmmod: f64,
    /// Its share of the grade.
    #[serde(default = "default_weight")]
    pub weight: u32,
}

fn default_kernels() -> Vec<String> {
    vec!["default".to_string()]
}

fn default_weight() -> u32 {
    1
}

impl Check {
    /// The interrupts the module must take: its `count=` parameter.
    pub fn count(&self) -> Option<u64> {
        self.params.iter().find_map(|p| p.strip_prefix("count=")?.parse().ok())
    }

    pub fn runs_on(&self, flavour: Flavour) -> bool {
        self.kernels.iter().any(|k| k == flavour.name())
    }
}

/// A hint, shown when a check fails in its way.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hint {
    /// A failure kind ([`FAILURE_KINDS`]) or the start of a report's title.
    pub when: String,
    pub text: String,
}

/// A wrong solution, generated from the annotated source, and how it must fail.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Wrong {
    /// Its variant name in the annotated source.
    pub name: String,
    pub description: String,
    /// A failure kind or the start of a report's title.
    pub fails_with: String,
    /// The one check to run it on (a wrong solution that hangs costs the time limit per check);
    /// by default every check.
    #[serde(default)]
    pub check: Option<String>,
}

/// An exercise: its number, directory name and spec.
#[derive(Debug)]
pub struct Exercise {
    pub number: u32,
    /// `01-mutex-in-hard-irq`.
    pub name: String,
    pub dir: PathBuf,
    pub spec: Spec,
}

impl Exercise {
    pub fn source_path(&self) -> PathBuf {
        self.dir.join(SOURCE)
    }

    pub fn mine_path(&self) -> PathBuf {
        self.dir.join(MINE)
    }

    /// The annotated source.
    pub fn source(&self) -> Result<String> {
        let path = self.source_path();
        std::fs::read_to_string(&path).context(|| format!("could not read {}", path.display()))
    }

    /// The hint for a failure whose kind or report title is `what`.
    pub fn hint(&self, what: &str) -> Option<&str> {
        self.spec.hints.iter().find(|h| what == h.when || what.starts_with(&h.when)).map(|h| h.text.as_str())
    }
}

/// `exercises/`.
pub fn root() -> PathBuf {
    project_dir().join("exercises")
}

/// Every exercise under `root`, in number order.
pub fn load_all(root: &Path) -> Result<Vec<Exercise>> {
    let mut exercises = Vec::new();
    for entry in std::fs::read_dir(root).context(|| format!("could not read {}", root.display()))?.flatten() {
        let dir = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(number) = name.split('-').next().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if !dir.is_dir() {
            continue;
        }
        let toml_path = dir.join("exercise.toml");
        let text = std::fs::read_to_string(&toml_path)
            .context(|| format!("could not read {}", toml_path.display()))?;
        let spec: Spec =
            toml::from_str(&text).map_err(|e| Error::unavailable(format!("{}: {e}", toml_path.display())))?;
        let exercise = Exercise { number, name, dir, spec };
        validate(&exercise).map_err(|m| Error::unavailable(format!("{}: {m}", toml_path.display())))?;
        exercises.push(exercise);
    }
    exercises.sort_by_key(|e| e.number);
    Ok(exercises)
}

/// The exercise that `which` names: its number (`1`, `01`) or its directory name.
pub fn find<'a>(exercises: &'a [Exercise], which: &str) -> Result<&'a Exercise> {
    exercises.iter().find(|e| which.parse::<u32>().ok() == Some(e.number) || e.name == which).ok_or_else(
        || {
            let known: Vec<String> = exercises.iter().map(|e| e.number.to_string()).collect();
            Error {
                message: format!(
                    "no exercise {which}; name one by its number ({}) or its directory name, such as {}",
                    known.join(", "),
                    exercises.first().map_or("01-...", |e| e.name.as_str())
                ),
                exit_code: crate::error::EXIT_USAGE,
            }
        },
    )
}

/// What `load_all` refuses, as rustlings' `dev check` does: an empty hint, a check without
/// `count=`, an unknown kernel, a wrong solution the source does not define, a lab that is
/// not there, a module name that is not a C identifier.
fn validate(exercise: &Exercise) -> std::result::Result<(), String> {
    let spec = &exercise.spec;
    if !spec.module.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        || spec.module.starts_with(|c: char| c.is_ascii_digit())
    {
        return Err(format!("module = {:?} is not a C identifier", spec.module));
    }
    if !project_dir().join(&spec.lab).is_file() {
        return Err(format!("lab = {:?} is not a file of the project", spec.lab));
    }
    if spec.checks.is_empty() || !spec.checks.iter().any(|c| !c.hidden) {
        return Err("an exercise needs at least one visible check".into());
    }
    for check in &spec.checks {
        if check.count().is_none() {
            return Err(format!("check {} needs count=N among its params", check.name));
        }
        if let Some(kernel) = check.kernels.iter().find(|k| !["default", "rt"].contains(&k.as_str())) {
            return Err(format!("check {}: unknown kernel {kernel:?} (default, rt)", check.name));
        }
    }
    if let Some(hint) = spec.hints.iter().find(|h| h.text.trim().is_empty() || h.when.trim().is_empty()) {
        return Err(format!("the hint for {:?} is empty", hint.when));
    }
    for kernel in spec.starter_fails_with.keys() {
        if !["default", "rt"].contains(&kernel.as_str()) {
            return Err(format!("starter_fails_with: unknown kernel {kernel:?}"));
        }
    }
    // A one-word `when` or `fails_with` is a failure kind; a report title has spaces.
    let named = spec
        .hints
        .iter()
        .map(|h| &h.when)
        .chain(spec.wrongs.iter().map(|w| &w.fails_with))
        .chain(spec.starter_fails_with.values().filter(|v| *v != STARTER_PASSES));
    for what in named {
        if !what.contains(' ') && !FAILURE_KINDS.contains(&what.as_str()) {
            return Err(format!(
                "{what:?} is neither a failure kind ({}) nor a report title",
                FAILURE_KINDS.join(", ")
            ));
        }
    }
    let source = exercise.source().map_err(|e| e.message)?;
    let variants =
        super::source::variants(&source).map_err(|e| format!("{}:{}: {}", SOURCE, e.line, e.message))?;
    for wrong in &spec.wrongs {
        if !variants.contains(&wrong.name) {
            return Err(format!("wrong solution {:?} has no section in {SOURCE}", wrong.name));
        }
        if let Some(check) = wrong.check.as_ref().filter(|c| !spec.checks.iter().any(|k| &k.name == *c)) {
            return Err(format!("wrong solution {:?}: no check {check:?}", wrong.name));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every exercise in the repository loads, and every failure its wrong solutions and
    /// starter are expected to show has a hint.
    #[test]
    fn every_exercise_loads_and_has_its_hints() {
        let exercises = load_all(&root()).unwrap();
        assert!(exercises.len() >= 6, "{} exercises", exercises.len());
        for exercise in &exercises {
            for expected in exercise.spec.starter_fails_with.values().filter(|v| *v != STARTER_PASSES) {
                assert!(exercise.hint(expected).is_some(), "{}: no hint for {expected}", exercise.name);
            }
            for wrong in &exercise.spec.wrongs {
                assert!(
                    exercise.hint(&wrong.fails_with).is_some(),
                    "{}: no hint for {}",
                    exercise.name,
                    wrong.fails_with
                );
            }
            assert!(exercise.spec.starter_fails_with.contains_key("default"), "{}", exercise.name);
        }
    }

    /// As rustlings' `dev check`: an empty hint, or one for a failure no check can report, is
    /// refused, and so is a wrong solution the source does not define.
    #[test]
    fn a_spec_that_cannot_help_is_refused() {
        let mut exercise = load_all(&root()).unwrap().remove(0);
        assert_eq!(validate(&exercise), Ok(()));
        exercise.spec.hints[0].when = "countr".into();
        assert!(validate(&exercise).unwrap_err().contains("neither a failure kind"));
        exercise.spec.hints[0].when = "counter".into();
        exercise.spec.hints[0].text = " ".into();
        assert!(validate(&exercise).unwrap_err().contains("is empty"));
        exercise.spec.hints[0].text = "x".into();
        exercise.spec.wrongs[0].name = "no-such-variant".into();
        assert!(validate(&exercise).unwrap_err().contains("has no section"));
    }

    #[test]
    fn exercises_are_found_by_number_or_name() {
        let exercises = load_all(&root()).unwrap();
        assert_eq!(find(&exercises, "1").unwrap().number, 1);
        assert_eq!(find(&exercises, "01").unwrap().number, 1);
        let name = exercises[0].name.clone();
        assert_eq!(find(&exercises, &name).unwrap().number, exercises[0].number);
        assert!(find(&exercises, "99").unwrap_err().message.contains("no exercise 99"));
    }
}
