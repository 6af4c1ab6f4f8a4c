// SPDX-License-Identifier: GPL-2.0

//! Scenarios: one TOML file each under `tests/scenarios/` (schema in tests/README.md).
//!
//! A scenario says what to load and what the kernel must report, exactly; [`crate::verdict`]
//! judges a boot against it.

use crate::arch::Arch;
use crate::error::{Context, Error, Result};
use crate::guest::Step;
use crate::kernel::Flavour;
use crate::paths::files_with_extension;
use crate::vocab;
use serde::Deserialize;
use std::path::Path;

/// How a scenario's boot must end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Every step ran, and the kernel reported nothing and added no taint but the module's.
    Clean,
    /// Every step ran, and the kernel reported exactly `reports`.
    Reports,
    /// The kernel panicked (QEMU exited before the init script's end) after `reports`.
    Panic,
    /// The guest stopped making progress and the kernel said nothing that ended it: the
    /// harness saw it stuck (silent, every CPU in the same place three times, not all
    /// idle) or reached
    /// the timeout.
    Hang,
    /// The kernel printed a report it does not come back from (a point of no return:
    /// `scheduling while atomic`, an oops; [`crate::triage::is_point_of_no_return`]). That
    /// report is the last one judged: what a broken kernel prints next, and whether it then
    /// hangs, panics or finishes the steps, is left out, and the harness stops the guest.
    Broken,
}

/// The expectation on `insmod`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// A short name for the main ending (`expected` when left out), as for an alternative.
    pub ending: Option<String>,
    pub outcome: Outcome,
    /// The report titles, in order, exactly.
    #[serde(default)]
    pub reports: Vec<String>,
    /// `ok`, or the errno name insmod must fail with (`EINVAL`, `ENODEV`).
    #[serde(default = "ok")]
    pub insmod: String,
    /// Lines (or parts of lines) the console must show, in this order.
    #[serde(default)]
    pub log: Vec<String>,
    /// Other endings that are just as right, where the kernel's path depends on timing the
    /// module cannot control; each says why.
    #[serde(default)]
    pub alternative: Vec<Alternative>,
    /// Reports the kernel may add, or not, depending on timing the module cannot control; they
    /// are left out before `reports` is compared. Each says why.
    #[serde(default)]
    pub tolerated: Vec<Tolerated>,
    /// Reports the kernel rate-limits by time rather than printing once: the later copies of
    /// such a report, wherever they fall, count as the first. Each says why. might_sleep's
    /// report is one in every scenario ([`crate::verdict`]'s `RATE_LIMITED`).
    #[serde(default)]
    pub repeats: Vec<Tolerated>,
}

/// Another ending of the same scenario: its outcome (the main one's when left out) and its
/// reports, exactly; then, any number of reports whose titles start with `then_any`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alternative {
    /// A short name for the ending, shown in the results and counted by `--repeat`
    /// (`alternative N` when left out).
    pub name: Option<String>,
    pub reason: String,
    pub outcome: Option<Outcome>,
    pub reports: Vec<String>,
    #[serde(default)]
    pub then_any: Vec<String>,
    /// The console lines this ending shows, in place of the main `log` (left out: the main
    /// one's), where its path prints other lines than the main ending's.
    pub log: Option<Vec<String>>,
}

/// A report title and why it is treated specially.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tolerated {
    pub title: String,
    pub reason: String,
}

/// The default silence before a guest is looked at for a hang. A healthy guest running its
/// steps writes to its console or its channel far more often: the longest gap measured in the
/// fixtures of scenarios that do not wait for a lockup detector is well under a second. A
/// silence is only where the looks begin: a guest is called hung only once its CPUs stayed in
/// place while QEMU ran it for a second of host CPU time (`vm/diagnose.rs`), which a guest the
/// host starves does not reach by waiting.
pub const QUIET: std::time::Duration = std::time::Duration::from_secs(1);

fn ok() -> String {
    "ok".to_string()
}

fn default_timeout() -> u64 {
    120
}

fn default_true() -> bool {
    true
}

/// One scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    #[serde(skip)]
    pub name: String,
    pub description: String,
    /// The module's `source=`, `lock=`, `handler=`, `irq=` and `count=`, when given.
    pub source: Option<String>,
    pub lock: Option<String>,
    pub handler: Option<String>,
    pub irq: Option<String>,
    pub count: Option<u32>,
    /// Other module parameters, e.g. `["period_us=200"]`.
    #[serde(default)]
    pub params: Vec<String>,
    /// Shell commands to run after insmod, such as `cat /proc/interrupts`.
    #[serde(default)]
    pub commands: Vec<String>,
    /// Seconds to wait between insmod and rmmod.
    #[serde(default)]
    pub sleep_before_rmmod: f64,
    /// Whether to unload the module at the end.
    #[serde(default = "default_true")]
    pub rmmod: bool,
    /// QEMU `-device` values.
    #[serde(default)]
    pub devices: Vec<String>,
    /// Extra kernel command-line options.
    #[serde(default)]
    pub cmdline: Vec<String>,
    /// Seconds after which the harness stops the VM and calls it a hang.
    #[serde(default = "default_timeout")]
    pub timeout_s: u64,
    /// Seconds of silence (no console, no step output) after which the harness looks at where
    /// the guest's CPUs are, and calls it a hang if each stays in the same function while the
    /// guest runs for a second ([`Scenario::quiet`]). A scenario that waits for the kernel's own
    /// lockup detector sets it above the detector's threshold.
    pub quiet_s: Option<f64>,
    /// What the default kernel must show.
    pub expect: Expect,
    /// What the PREEMPT_RT kernel (`--kernel rt`) must show; a scenario without it does not
    /// run there.
    pub expect_rt: Option<Expect>,
    /// What differs on an arm64 guest (`--arch arm64`), where it differs; absent, the
    /// scenario runs there as on x86_64.
    pub arm64: Option<ArchDiff>,
}

/// What a scenario does or shows differently on another architecture, and why, as seen on a
/// real boot there: `[arm64]`, with `[arm64.expect]` and `[arm64.expect_rt]` in place of
/// `[expect]` and `[expect_rt]` where given.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchDiff {
    /// Why it differs there (what the architecture does differently).
    pub reason: String,
    /// False when the scenario cannot run on that architecture at all (`reason` says why).
    #[serde(default = "default_true")]
    pub runs: bool,
    /// Shell commands in place of the scenario's `commands`.
    pub commands: Option<Vec<String>>,
    /// `log` lines of `[expect]` and `[expect_rt]` that read differently there: each key, a
    /// line of those tables, becomes its value (an empty value drops the line). A key that no
    /// table has is refused when the scenario is read.
    #[serde(default)]
    pub log: std::collections::BTreeMap<String, String>,
    pub expect: Option<Expect>,
    pub expect_rt: Option<Expect>,
}

impl Scenario {
    pub fn parse(name: &str, text: &str) -> Result<Self> {
        let mut scenario: Scenario =
            toml::from_str(text).map_err(|e| Error::unavailable(format!("scenario {name}: {e}")))?;
        scenario.name = name.to_string();
        // The module's names, checked before anything is built (unless the scenario is about
        // the module refusing them).
        if scenario.expect.insmod == "ok" {
            vocab::check_params(&scenario.insmod_params())
                .map_err(|e| Error::unavailable(format!("scenario {name}: {e}")))?;
        }
        let edu = vocab::value_of(&scenario.insmod_params(), "source") == Some("edu");
        if edu && !scenario.devices.iter().any(|d| d == "edu") && scenario.expect.insmod == "ok" {
            return Err(Error::unavailable(format!(
                "scenario {name}: source = \"edu\" needs devices = [\"edu\"] (QEMU's edu device)"
            )));
        }
        check_expect(name, &scenario.expect)?;
        if let Some(rt) = &scenario.expect_rt {
            check_expect(&format!("{name} (expect_rt)"), rt)?;
        }
        if let Some(diff) = &scenario.arm64 {
            if diff.reason.trim().is_empty() {
                return Err(Error::unavailable(format!("scenario {name}: [arm64] needs its reason")));
            }
            for (table, expect) in [("arm64.expect", &diff.expect), ("arm64.expect_rt", &diff.expect_rt)] {
                if let Some(expect) = expect {
                    check_expect(&format!("{name} ({table})"), expect)?;
                }
            }
            let lines: Vec<&String> = [Some(&scenario.expect), diff.expect.as_ref()]
                .into_iter()
                .chain([scenario.expect_rt.as_ref(), diff.expect_rt.as_ref()])
                .flatten()
                .flat_map(|e| &e.log)
                .collect();
            if let Some(key) = diff.log.keys().find(|k| !lines.contains(k)) {
                return Err(Error::unavailable(format!(
                    "scenario {name}: [arm64.log] names {key:?}, which no log list of the scenario has"
                )));
            }
        }
        Ok(scenario)
    }

    /// The scenario as `flavour` runs it on `arch`, with that kernel's expectation there;
    /// `None` when it does not run there.
    pub fn for_target(&self, flavour: Flavour, arch: Arch) -> Option<Scenario> {
        let diff = match (arch, &self.arm64) {
            (Arch::Arm64, Some(diff)) => diff,
            _ => return self.for_kernel(flavour),
        };
        if !diff.runs {
            return None;
        }
        let mut on_arch = self.clone();
        if let Some(commands) = &diff.commands {
            on_arch.commands = commands.clone();
        }
        if let Some(expect) = &diff.expect {
            on_arch.expect = expect.clone();
        }
        if let Some(expect_rt) = &diff.expect_rt {
            on_arch.expect_rt = Some(expect_rt.clone());
        }
        let rewrite = |expect: &mut Expect| {
            expect.log = std::mem::take(&mut expect.log)
                .into_iter()
                .filter_map(|line| match diff.log.get(&line) {
                    Some(other) if other.is_empty() => None,
                    Some(other) => Some(other.clone()),
                    None => Some(line),
                })
                .collect();
        };
        rewrite(&mut on_arch.expect);
        if let Some(expect_rt) = on_arch.expect_rt.as_mut() {
            rewrite(expect_rt);
        }
        on_arch.for_kernel(flavour)
    }

    /// Why the scenario does not run on `arch`, if it does not.
    pub fn not_on(&self, arch: Arch) -> Option<&str> {
        match (arch, &self.arm64) {
            (Arch::Arm64, Some(diff)) if !diff.runs => Some(&diff.reason),
            _ => None,
        }
    }

    /// The scenario as `flavour` runs it, with that kernel's expectation; `None` when it does
    /// not run there.
    pub fn for_kernel(&self, flavour: Flavour) -> Option<Scenario> {
        match flavour {
            Flavour::Default => Some(self.clone()),
            Flavour::Rt => Some(Scenario { expect: self.expect_rt.clone()?, ..self.clone() }),
        }
    }

    /// The silence after which the guest is looked at for a hang: `quiet_s`, else
    /// [`QUIET`] plus the steps' own sleep.
    pub fn quiet(&self) -> std::time::Duration {
        let seconds = self.quiet_s.unwrap_or(QUIET.as_secs_f64() + self.sleep_before_rmmod);
        std::time::Duration::from_secs_f64(seconds.max(0.5))
    }

    /// The insmod parameters, the named ones first.
    pub fn insmod_params(&self) -> Vec<String> {
        let named = [
            ("source", self.source.clone()),
            ("lock", self.lock.clone()),
            ("handler", self.handler.clone()),
            ("irq", self.irq.clone()),
            ("count", self.count.map(|c| c.to_string())),
        ];
        vocab::insmod_params(named, self.params.clone())
    }

    /// What the init script runs.
    pub fn steps(&self) -> Vec<Step> {
        let mut steps = vec![Step::Insmod(self.insmod_params())];
        steps.extend(self.commands.iter().map(|c| Step::Shell(c.clone())));
        if self.sleep_before_rmmod > 0.0 {
            steps.push(Step::Sleep(self.sleep_before_rmmod));
        }
        if self.rmmod && self.expect.insmod == "ok" {
            steps.push(Step::Rmmod);
        }
        steps
    }
}

/// The scenario `tests/scenarios/<name>.toml`.
pub fn load(name: &str) -> Result<Scenario> {
    let path = crate::paths::project_dir().join("tests/scenarios").join(format!("{name}.toml"));
    let text = std::fs::read_to_string(&path).context(|| format!("could not read {}", path.display()))?;
    Scenario::parse(name, &text)
}

fn check_expect(name: &str, expect: &Expect) -> Result<()> {
    if expect.insmod != "ok" && errno_text(&expect.insmod).is_none() {
        return Err(Error::unavailable(format!(
            "scenario {name}: insmod = {:?} is not ok or a known errno ({})",
            expect.insmod,
            ERRNOS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
        )));
    }
    let reasons = expect.alternative.iter().map(|a| &a.reason);
    let reasons = reasons.chain(expect.tolerated.iter().chain(&expect.repeats).map(|t| &t.reason));
    if reasons.clone().any(|r| r.trim().is_empty()) {
        return Err(Error::unavailable(format!(
            "scenario {name}: every alternative, tolerated and repeated report needs its reason"
        )));
    }
    if expect.outcome == Outcome::Clean && !expect.reports.is_empty() {
        return Err(Error::unavailable(format!("scenario {name}: a clean outcome cannot expect reports")));
    }
    Ok(())
}

/// Every scenario under `dir`, in name order.
pub fn load_all(dir: &Path) -> Result<Vec<Scenario>> {
    let paths = files_with_extension(dir, "toml")?;
    paths
        .iter()
        .map(|path| {
            let name = path.file_stem().unwrap_or_default().to_string_lossy().into_owned();
            let text =
                std::fs::read_to_string(path).context(|| format!("could not read {}", path.display()))?;
            Scenario::parse(&name, &text)
        })
        .collect()
}

/// The error text busybox's insmod prints for each errno a scenario may expect.
pub const ERRNOS: &[(&str, &str)] = &[
    ("EINVAL", "Invalid argument"),
    ("ENODEV", "No such device"),
    ("ENOENT", "No such file or directory"),
    ("EBUSY", "Device or resource busy"),
    ("ENOMEM", "Out of memory"),
    ("EEXIST", "File exists"),
];

pub fn errno_text(name: &str) -> Option<&'static str> {
    ERRNOS.iter().find(|(n, _)| *n == name).map(|(_, text)| *text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_arm64_table_rewrites_log_lines_and_names_only_lines_that_exist() {
        let base = "description = 'd'\n[expect]\noutcome = 'clean'\nlog = ['a', '-fasteoi irqlock', 'c']\n";
        let text = format!(
            "{base}[arm64]\nreason = 'GIC'\n[arm64.log]\n'-fasteoi irqlock' = 'Level irqlock'\n'c' = ''\n"
        );
        let s = Scenario::parse("s", &text).unwrap();
        assert_eq!(s.for_target(Flavour::Default, Arch::Arm64).unwrap().expect.log, ["a", "Level irqlock"]);
        assert_eq!(
            s.for_target(Flavour::Default, Arch::X86_64).unwrap().expect.log,
            ["a", "-fasteoi irqlock", "c"]
        );
        let stale = format!("{base}[arm64]\nreason = 'GIC'\n[arm64.log]\n'gone' = 'x'\n");
        assert!(Scenario::parse("s", &stale).unwrap_err().message.contains("\"gone\""));
        let skipped = format!("{base}[arm64]\nreason = 'no such device'\nruns = false\n");
        let s = Scenario::parse("s", &skipped).unwrap();
        assert!(s.for_target(Flavour::Default, Arch::Arm64).is_none());
        assert_eq!(s.not_on(Arch::Arm64), Some("no such device"));
    }

    #[test]
    fn an_unknown_errno_is_refused_in_either_table() {
        let base = "description = 'd'\n[expect]\noutcome = 'clean'\n";
        assert!(Scenario::parse("s", base).is_ok());
        let main = base.replace("outcome = 'clean'", "outcome = 'clean'\ninsmod = 'EINVALL'");
        assert!(Scenario::parse("s", &main).unwrap_err().message.contains("EINVALL"));
        let rt = format!("{base}[expect_rt]\noutcome = 'clean'\ninsmod = 'EINVALL'\n");
        let err = Scenario::parse("s", &rt).unwrap_err().message;
        assert!(err.contains("(expect_rt)") && err.contains("EINVALL"), "{err}");
    }
}
