// SPDX-License-Identifier: GPL-2.0

//! The module's KUnit suites (`#[kunit_tests]` in `rust/`), run in the lab kernel: one boot
//! that loads the module with the suites switched on, and their cases as results of
//! `cargo xtask test`.
//!
//! The kernel runs a module's suites once the module has loaded, when KUnit's `filter_glob`
//! lets them through. `configs/debug.config` sets a filter that no suite matches, so that no
//! scenario's console shows them; this boot sets the module's own filter first. The kernel's
//! KTAP is kept whole in `kunit/ktap.txt` (for `kunit.py parse`), and each case becomes one
//! result.

use crate::error::Result;
use crate::guest::{Finish, Step};
use crate::harness::{read_harness_log, Prepared};
use crate::results::{Kind, Status, TestResult};
use std::path::Path;
use std::time::{Duration, Instant};

/// The suites of the module: every `#[kunit_tests(irqlock_...)]`.
const SUITES: &str = "irqlock_*";

/// KUnit's suite filter, which a module's load consults.
const FILTER_GLOB: &str = "/sys/module/kunit/parameters/filter_glob";

/// A default load runs the suites, and the correct lesson, in well under a second.
const TIMEOUT: Duration = Duration::from_secs(120);

/// The guest's steps: let the module's suites through, load it (the suites run once it is
/// live), unload it.
fn steps() -> Vec<Step> {
    vec![
        // Without a newline: the kernel keeps what is written, and a glob that ends in one
        // matches no suite.
        Step::Shell(format!("printf %s '{SUITES}' > {FILTER_GLOB}")),
        Step::Insmod(Vec::new()),
        Step::Rmmod,
    ]
}

/// Boots the guest that runs the suites, its files under `out/kunit/`, and returns one result
/// per case; or one result that says why there are none.
pub fn run(prepared: &Prepared, out: &Path) -> Vec<TestResult> {
    let dir = out.join("kunit");
    let started = Instant::now();
    eprintln!("test: booting kunit: the module's KUnit suites");
    let results = match boot(prepared, &dir) {
        Ok((console, insmod)) => judge(&console, insmod, &dir),
        Err(e) => vec![whole("could not run", Status::Error, vec![], Some(e.message), &dir)],
    };
    let failed = results.iter().filter(|r| !r.passed()).count();
    eprintln!(
        "test: kunit: {} cases, {failed} not passed, in {:.1}s",
        results.len(),
        started.elapsed().as_secs_f64()
    );
    results
}

/// The console and insmod's exit status (`None` if it never ran).
fn boot(prepared: &Prepared, dir: &Path) -> Result<(String, Option<i32>)> {
    let vm = prepared.guest_vm(dir, &steps(), Finish::PowerOff, TIMEOUT, &[], &[])?;
    let run = vm.boot(&dir.join("console.log"), false)?;
    let bytes = std::fs::read(&run.console).unwrap_or_default();
    let insmod = crate::guest::markers(&read_harness_log(&vm))
        .exits
        .iter()
        .find(|(step, _)| *step == 2)
        .map(|&(_, status)| status);
    Ok((String::from_utf8_lossy(&bytes).into_owned(), insmod))
}

/// The results of a boot: one per case, or one that says why there are none. Writes the
/// kernel's KTAP to `dir/ktap.txt`.
fn judge(console: &str, insmod: Option<i32>, dir: &Path) -> Vec<TestResult> {
    if insmod != Some(0) {
        let why = match insmod {
            Some(status) => format!("insmod exited {status}; see the console"),
            None => "the guest never got to insmod".to_string(),
        };
        return vec![whole("could not run", Status::Error, vec![], Some(why), dir)];
    }
    let Some(ktap) = extract(console) else {
        let why = "the kernel printed no KTAP after insmod: does it have CONFIG_KUNIT=y, and does \
                   rust/ declare #[kunit_tests(irqlock_...)]?";
        return vec![whole("no KTAP", Status::Fail, vec![why.to_string()], None, dir)];
    };
    let _ = std::fs::write(dir.join("ktap.txt"), ktap.join("\n") + "\n");
    cases(&ktap)
        .into_iter()
        .map(|case| TestResult {
            name: case.name,
            kind: Kind::KUnit,
            description: "a KUnit case of the module, in the lab kernel".to_string(),
            status: if case.ok { Status::Pass } else { Status::Fail },
            seconds: 0.0,
            failures: if case.ok { Vec::new() } else { case.diagnostics },
            error: None,
            reports: Vec::new(),
            ending: None,
            after: Vec::new(),
            console: dir.join("console.log"),
        })
        .collect()
}

/// A result for the KUnit boot as a whole.
fn whole(what: &str, status: Status, failures: Vec<String>, error: Option<String>, dir: &Path) -> TestResult {
    TestResult {
        name: format!("kunit ({what})"),
        kind: Kind::KUnit,
        description: "the module's KUnit suites".to_string(),
        status,
        seconds: 0.0,
        failures,
        error,
        reports: Vec::new(),
        ending: None,
        after: Vec::new(),
        console: dir.join("console.log"),
    }
}

/// A console line without its printk prefix (`[    3.141592] `, and a caller id if any).
fn message(line: &str) -> &str {
    let mut rest = line;
    while rest.starts_with('[') {
        match rest.find(']') {
            Some(end) => rest = &rest[end + 1..],
            None => break,
        }
    }
    if rest.len() == line.len() {
        return line;
    }
    rest.strip_prefix(' ').unwrap_or(rest)
}

/// A top-level KTAP result line: `ok N name` or `not ok N name`, with its directive.
fn result_line(line: &str) -> Option<(bool, &str)> {
    let (ok, rest) = match line.strip_prefix("not ok ") {
        Some(rest) => (false, rest),
        None => (true, line.strip_prefix("ok ")?),
    };
    let (number, name) = rest.split_once(' ').unwrap_or((rest, ""));
    number.parse::<usize>().ok()?;
    Some((ok, name))
}

/// The KTAP document of the last load's suites: from the last top-level `KTAP version 1` to
/// the last of the results its plan announces, without printk prefixes.
pub fn extract(console: &str) -> Option<Vec<String>> {
    let lines: Vec<&str> = console.lines().map(message).collect();
    let start = lines.iter().rposition(|l| *l == "KTAP version 1")?;
    let planned: usize = lines.get(start + 1)?.strip_prefix("1..")?.trim().parse().ok()?;
    if planned == 0 {
        return None;
    }
    let mut ktap = Vec::new();
    let mut seen = 0;
    for line in &lines[start..] {
        let ktap_like = line.starts_with(' ')
            || line.starts_with('#')
            || line.starts_with("KTAP version")
            || line.starts_with("1..")
            || result_line(line).is_some();
        if !ktap_like {
            continue;
        }
        ktap.push(line.to_string());
        if result_line(line).is_some() {
            seen += 1;
            if seen == planned {
                return Some(ktap);
            }
        }
    }
    None
}

/// One case's result.
#[derive(Debug, PartialEq)]
pub struct Case {
    /// `suite.case`.
    pub name: String,
    pub ok: bool,
    /// The lines KUnit printed for it before its result, such as `ASSERTION FAILED at ...`.
    pub diagnostics: Vec<String>,
}

/// The cases of a KTAP document of suites (KUnit's layout: each suite a subtest, its cases
/// one level further in); a suite that shows no case counts as one case.
pub fn cases(ktap: &[String]) -> Vec<Case> {
    let mut found = Vec::new();
    let mut suite = String::new();
    let mut in_suite = 0;
    let mut pending: Vec<String> = Vec::new();
    for line in ktap {
        let indent = line.len() - line.trim_start().len();
        let text = line.trim_start();
        if indent == 0 {
            if let Some((ok, name)) = result_line(text) {
                let name = name.split(" # ").next().unwrap_or(name);
                if in_suite == 0 {
                    found.push(Case {
                        name: name.to_string(),
                        ok,
                        diagnostics: std::mem::take(&mut pending),
                    });
                }
                in_suite = 0;
                pending.clear();
            }
            continue;
        }
        if let Some(name) = text.strip_prefix("# Subtest: ") {
            suite = name.to_string();
            pending.clear();
        } else if text.starts_with("1..") || text.starts_with("KTAP version") {
            pending.clear();
        } else if let Some((ok, name)) = result_line(text).filter(|_| indent == 4) {
            let name = name.split(" # ").next().unwrap_or(name);
            // Not its attributes (`# NAME.speed: normal`): only what KUnit said about the run.
            let attribute = format!("# {name}.");
            let diagnostics =
                std::mem::take(&mut pending).into_iter().filter(|l| !l.starts_with(&attribute)).collect();
            found.push(Case { name: format!("{suite}.{name}"), ok, diagnostics });
            in_suite += 1;
        } else {
            pending.push(text.to_string());
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A console as the guest shows it: the boot's empty KTAP, the module's lines, then its
    /// suite with a passing and a failing case.
    const CONSOLE: &str = "\
[    0.912345] KTAP version 1
[    0.912346] 1..0
irqlock-harness: step 2: insmod /irqlock.ko
[    3.100000] irqlock: loading: lock=spinlock_irqsave source=hrtimer handler=hard count=8 period_us=1000 preempt=PREEMPT
[    3.200000] KTAP version 1
[    3.200001] 1..1
[    3.200002]     KTAP version 1
[    3.200003]     # Subtest: irqlock_config
[    3.200004]     # module: irqlock
[    3.200005]     1..2
[    3.200006]     # period_us_out_of_range.speed: normal
[    3.200006]     ok 1 period_us_out_of_range
[    3.200007]     # cpus_out_of_range.speed: normal
[    3.200007]     # cpus_out_of_range: ASSERTION FAILED at rust/config.rs:400
[    3.200008]     Expected refusal(Params { cpus, ..DEFAULTS }) == None to be true, but is false
[    3.200009]     not ok 2 cpus_out_of_range
[    3.200010] # irqlock_config: pass:1 fail:1 skip:0 total:2
[    3.200011] # Totals: pass:1 fail:1 skip:0 total:2
[    3.200012] not ok 1 irqlock_config
[    3.300000] irqlock: unloaded: timer cancelled, 8 interrupts handled, counter=9 expected=9
";

    #[test]
    fn the_last_ktap_document_is_extracted_without_prefixes() {
        let ktap = extract(CONSOLE).unwrap();
        assert_eq!(ktap.first().map(String::as_str), Some("KTAP version 1"));
        assert_eq!(ktap[1], "1..1");
        assert_eq!(ktap[2], "    KTAP version 1");
        assert_eq!(ktap.last().map(String::as_str), Some("not ok 1 irqlock_config"));
        assert_eq!(ktap.len(), 15);
        assert_eq!(extract("[    0.9] KTAP version 1\n[    0.9] 1..0\n"), None);
        assert_eq!(extract("no kunit here\n"), None);
    }

    #[test]
    fn each_case_is_a_result_with_its_diagnostics() {
        let cases = cases(&extract(CONSOLE).unwrap());
        assert_eq!(
            cases,
            [
                Case { name: "irqlock_config.period_us_out_of_range".into(), ok: true, diagnostics: vec![] },
                Case {
                    name: "irqlock_config.cpus_out_of_range".into(),
                    ok: false,
                    diagnostics: vec![
                        "# cpus_out_of_range: ASSERTION FAILED at rust/config.rs:400".into(),
                        "Expected refusal(Params { cpus, ..DEFAULTS }) == None to be true, but is false"
                            .into(),
                    ],
                },
            ]
        );
    }

    /// A suite that failed before any case ran (its init, say) is one failed result.
    #[test]
    fn a_suite_without_cases_is_one_result() {
        let ktap: Vec<String> =
            ["KTAP version 1", "1..1", "    # Subtest: irqlock_x", "    1..0", "not ok 1 irqlock_x"]
                .map(String::from)
                .to_vec();
        assert_eq!(cases(&ktap), [Case { name: "irqlock_x".into(), ok: false, diagnostics: vec![] }]);
    }

    #[test]
    fn a_failed_case_fails_the_run_and_no_ktap_is_a_failure() {
        let dir = std::env::temp_dir().join(format!("irqlock-kunit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let results = judge(CONSOLE, Some(0), &dir);
        let statuses: Vec<Status> = results.iter().map(|r| r.status).collect();
        assert_eq!(statuses, [Status::Pass, Status::Fail]);
        assert!(results[1].failures[0].contains("ASSERTION FAILED"), "{:?}", results[1].failures);
        assert!(std::fs::read_to_string(dir.join("ktap.txt")).unwrap().starts_with("KTAP version 1\n1..1\n"));
        let none = judge("[    3.1] irqlock: loading\n", Some(0), &dir);
        assert_eq!((none.len(), none[0].status), (1, Status::Fail));
        let refused = judge("", Some(1), &dir);
        assert_eq!(refused[0].status, Status::Error);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn printk_prefixes_come_off_and_indentation_stays() {
        assert_eq!(message("[    3.200002]     ok 1 x"), "    ok 1 x");
        assert_eq!(message("[    3.2][  T123] KTAP version 1"), "KTAP version 1");
        assert_eq!(message("ok 1 plain"), "ok 1 plain");
    }
}
