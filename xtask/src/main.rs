// SPDX-License-Identifier: GPL-2.0

//! `cargo xtask`: builds the irqlock kernel and module, boots them under QEMU, and checks
//! what the kernel reports. `main` only parses arguments and dispatches.

// What is tested: the scenarios, and the module's parameter names.
mod scenario;
mod vocab;
// Build: the guest's architecture, the toolchain, the cached kernel, the module, the guest's init and its archive.
mod arch;
mod guest;
mod initramfs;
mod kernel;
mod module;
mod setup;
// Boot: QEMU, snapshots, the accelerator, the steps handshake.
mod vm;
// Read the console: the kernel's reports, and module symbols to source lines.
mod symbols;
mod triage;
// Judge a boot against its scenario.
mod verdict;
// Results and their renderings.
mod junit;
mod ktap;
mod results;
// The commands, and what the booting ones share.
mod bench;
mod demo;
mod exercise;
mod flowchart;
mod grade;
mod harness;
mod kunit;
mod labs;
mod run;
mod test;
// Underneath every stage: child processes, commands, errors, paths.
mod children;
mod cmd;
mod error;
mod paths;
mod settings;
#[cfg(test)]
mod testutil;

use clap::{Args, Parser, Subcommand};
use error::{Result, EXIT_PASS};
use settings::Settings;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Build, boot and test irqlock on a real kernel under QEMU")]
struct Cli {
    #[command(subcommand)]
    command: Commands,
    /// Print every command that would change something (make, QEMU with all its arguments,
    /// apt-get), and what each initramfs would hold, without running them; exit 0.
    #[arg(long, global = true)]
    dry_run: bool,
    /// Boot every VM from the kernel on, instead of resuming the cached snapshot of a guest
    /// that has just booted (slower; for comparison).
    #[arg(long, global = true)]
    no_snapshot: bool,
    /// QEMU's accelerator: KVM only after a probe shows it boots the kernel (auto), KVM or
    /// stop (kvm), or software emulation (tcg).
    #[arg(long, global = true, value_enum, default_value_t = vm::accel::Choice::Auto)]
    accel: vm::accel::Choice,
}

/// Where the kernel source comes from (default: Debian's linux-source-7.3, in the cache).
#[derive(Args, Clone, Default)]
struct KernelArgs {
    /// An extracted or git kernel 7.3.x tree to build instead.
    #[arg(long, value_name = "DIR", conflicts_with = "kernel_tarball")]
    kernel_src: Option<PathBuf>,
    /// A kernel 7.3.x tarball to extract and build instead.
    #[arg(long, value_name = "FILE")]
    kernel_tarball: Option<PathBuf>,
    /// The kernel flavour: the debug kernel (PREEMPT), or the same with PREEMPT_RT.
    #[arg(long = "kernel", value_enum, default_value_t = kernel::Flavour::Default)]
    flavour: kernel::Flavour,
    /// The guest's architecture: x86_64 (QEMU q35) or arm64 (QEMU virt, cross-built on an
    /// x86_64 host). Default: the host's.
    #[arg(long, value_enum, default_value_t = arch::Arch::host())]
    arch: arch::Arch,
}

impl KernelArgs {
    fn choice(&self) -> kernel::Choice {
        let source = match (&self.kernel_src, &self.kernel_tarball) {
            (Some(dir), _) => kernel::SourceChoice::Dir(dir.clone()),
            (None, Some(file)) => kernel::SourceChoice::Tarball(file.clone()),
            (None, None) => kernel::SourceChoice::Debian,
        };
        kernel::Choice { source, flavour: self.flavour, arch: self.arch }
    }
}

#[derive(Subcommand)]
enum Commands {
    /// Check the toolchain and install what is missing (Debian 12, as root).
    Setup {
        /// Only report what is missing; install nothing.
        #[arg(long)]
        check: bool,
        /// Also what guests of this architecture need (default: the host's).
        #[arg(long, value_enum, default_value_t = arch::Arch::host())]
        arch: arch::Arch,
    },
    /// The lesson: boot spinlock_irqsave, mutex and two_cpus_spinlock_irqsave, and explain the
    /// kernel's report line by line.
    Demo {
        /// Also draw the lesson as a flowchart for slides, from these boots, to this SVG file.
        #[arg(long, value_name = "FILE")]
        svg: Option<PathBuf>,
        /// The same flowchart in a self-contained HTML page.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
        #[command(flatten)]
        kernel: KernelArgs,
    },
    /// Boot the lab VM to an interactive shell with /irqlock.ko at hand; `exit` powers off.
    Shell {
        /// Add QEMU's edu PCI device, for source=edu.
        #[arg(long)]
        edu: bool,
        /// Extra kernel command-line options (repeatable).
        #[arg(long = "cmdline", value_name = "OPTION")]
        cmdline: Vec<String>,
        #[command(flatten)]
        kernel: KernelArgs,
    },
    /// Build the debug kernel (cached) and print where it is.
    Kernel(KernelArgs),
    /// Build irqlock.ko against the cached kernel and print where it is.
    Module(KernelArgs),
    /// Check the module with the kernel's gates: rustfmt settings and CLIPPY=1, warnings denied.
    Lint(KernelArgs),
    /// Boot once, load the module with these parameters, show the console and a verdict.
    ///
    /// Exit status: 0 when the guest ran to its end and insmod succeeded, whatever the kernel
    /// reported; 1 when insmod failed, the kernel panicked or the VM hung; 69 when it could not
    /// run. Parameters left out take the module's own defaults.
    Run {
        /// How the handler takes the lock (module default: spinlock_irqsave).
        #[arg(long, value_name = "NAME", value_parser = names(&vocab::LOCK))]
        lock: Option<String>,
        /// Interrupt source; edu adds QEMU's `-device edu` (module default: hrtimer).
        #[arg(long, value_name = "NAME", value_parser = names(&vocab::SOURCE))]
        source: Option<String>,
        /// Where the lock is taken (module default: hard).
        #[arg(long, value_name = "NAME", value_parser = names(&vocab::HANDLER))]
        handler: Option<String>,
        /// The edu device's interrupt kind (module default: intx).
        #[arg(long, value_name = "NAME", value_parser = names(&vocab::IRQ))]
        irq: Option<String>,
        /// An extra QEMU device, such as edu (repeatable).
        #[arg(long = "device", value_name = "DEVICE")]
        devices: Vec<String>,
        /// Extra kernel command-line options (repeatable).
        #[arg(long = "cmdline", value_name = "OPTION")]
        cmdline: Vec<String>,
        /// Another module parameter, such as count=16 (repeatable).
        #[arg(long = "param", value_name = "KEY=VALUE")]
        params: Vec<String>,
        /// Leave the module loaded (no rmmod before power-off).
        #[arg(long)]
        no_rmmod: bool,
        /// Seconds before a VM that has not powered off is stopped and called hung.
        #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..))]
        timeout: u64,
        #[command(flatten)]
        kernel: KernelArgs,
    },
    /// Boot every scenario under tests/scenarios/ and check the kernel's reports, then run
    /// the module's KUnit suites (KTAP).
    Test {
        /// Only the scenarios (and exercises, `exercises/NN-name`) whose name contains this;
        /// the KUnit suites run when `kunit` contains it.
        #[arg(long)]
        filter: Option<String>,
        /// VMs to run at once (default: the number of CPUs).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        jobs: Option<u32>,
        /// Run the whole matrix N times and count, per test, which verdicts it gave and how
        /// each scenario ended; any test whose verdict changed between runs fails the whole
        /// command. Exercises take part when --filter names them (`--filter exercises/`).
        #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
        repeat: u32,
        /// Also write the results as JSON to this file.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// Also write the results as JUnit XML to this file.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// Leave the exercises out: each of their variants builds a module and boots a guest of
        /// its own (on arm64 under TCG, about 40 minutes for all of them).
        #[arg(long)]
        no_exercises: bool,
        /// Boot nothing: judge the boots an earlier `test` kept in DIR (its output directory,
        /// e.g. target/irqlock/latest) again with this checkout's parser and scenarios, and
        /// check their lab blocks; a --repeat's runs are counted as it counted them. Give the
        /// --kernel and --arch that run had. KUnit and exercises are not judged again.
        #[arg(long, value_name = "DIR", conflicts_with = "repeat")]
        rejudge: Option<PathBuf>,
        #[command(flatten)]
        kernel: KernelArgs,
    },
    /// Measure what a boot costs: bare boots of the kernel, every scenario's boot-to-verdict,
    /// the whole matrix and the shell's prompt, with their ratios to the bare boot.
    Bench {
        /// VMs to run at once (default: the number of CPUs).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        jobs: Option<u32>,
        /// Also the bare boot and the whole matrix on this architecture, in the same run, with
        /// their ratios to --arch's (e.g. `--other-arch arm64`).
        #[arg(long, value_enum, value_name = "ARCH")]
        other_arch: Option<arch::Arch>,
        #[command(flatten)]
        kernel: KernelArgs,
    },
    /// Exercises a learner solves: list them and where each stands, or start, check or open
    /// one in the lab VM (see exercises/README.md).
    Exercise {
        #[command(subcommand)]
        action: Option<ExerciseAction>,
        #[command(flatten)]
        kernel: KernelArgs,
    },
    /// Grade a class: every exercise's checks on each student's directory under DIR, into a
    /// gradebook (CSV, JSON), feedback and Gradescope results.json per student, and JUnit.
    Grade {
        /// One sub-directory per student, holding the exercise's file (`01-mutex-in-hard-irq.rs`,
        /// `01-mutex-in-hard-irq/mine.rs`, a clone of this repository, or a patch to the starter).
        #[arg(required_unless_present = "class_test")]
        dir: Option<PathBuf>,
        /// Where everything goes; the gradebook at its top.
        #[arg(long, value_name = "DIR", default_value = "target/irqlock-grade")]
        output: PathBuf,
        /// Only this exercise, by number or name (repeatable; default: every exercise).
        #[arg(long = "exercise", value_name = "N")]
        exercises: Vec<String>,
        /// Submissions graded at once (default: the number of CPUs).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        jobs: Option<u32>,
        /// Only the students of shard K of N, split by a hash of each student's name.
        #[arg(long, value_name = "K/N", value_parser = grade::intake::parse_shard)]
        shard: Option<(u32, u32)>,
        /// Gradescope visibility of the hidden checks' results.
        #[arg(long, default_value = "after_due_date", value_parser = ["hidden", "after_due_date", "after_published"])]
        hidden_visibility: String,
        /// Grade a generated class of 31 (correct, wrong and hostile submissions of exercise 1)
        /// and check every row of its gradebook.
        #[arg(long, conflicts_with = "dir")]
        class_test: bool,
        #[command(flatten)]
        kernel: KernelArgs,
    },
    /// Print the kernel reports in a console log, one per line.
    Triage {
        /// The console log (with --score, a directory of them).
        file: PathBuf,
        /// A JSON array instead of lines.
        #[arg(long)]
        json: bool,
        /// FILE is a directory of logs, each headed by its expected titles as in syzkaller's
        /// report test data (`TITLE: ...` lines, an empty line, the log): print how many reports
        /// are found, and how many locking ones get the same family and title; exit 1 below
        /// 95% found, 95% same family or 50% same title.
        #[arg(long, conflicts_with = "json")]
        score: bool,
    },
}

/// What `cargo xtask exercise` does; without one, it lists the exercises.
#[derive(Subcommand)]
enum ExerciseAction {
    /// Write exercise N's starter to exercises/NN-.../mine.rs, where you edit it.
    Start {
        /// The exercise's number or directory name.
        exercise: String,
        /// Overwrite mine.rs even if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Build your mine.rs and judge it, check by check, from what the kernel does.
    Check {
        /// The exercise's number or directory name.
        exercise: String,
        /// Check this file instead of mine.rs.
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// Print KTAP instead of the explanation.
        #[arg(long)]
        ktap: bool,
        /// Also write the results as JSON to this file.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// Also write the results as JUnit XML to this file.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
    },
    /// Every exercise's solution and starter through the kernel's CLIPPY=1 build (teachers).
    Lint,
    /// Boot the lab VM with your module in it as /irqlock.ko; `exit` powers off.
    Shell {
        /// The exercise's number or directory name.
        exercise: String,
        /// The reference solution's module instead of yours.
        #[arg(long)]
        solution: bool,
    },
}

/// VMs at once unless `--jobs` says otherwise: one per CPU.
fn default_jobs() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// A parser that accepts only the module's names for `param`, listed in `--help`.
fn names(param: &'static vocab::Param) -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(param.values)
}

fn run(cli: Cli) -> Result<i32> {
    let settings = Settings { dry_run: cli.dry_run, no_snapshot: cli.no_snapshot, accel: cli.accel };
    let settings = &settings;
    match cli.command {
        Commands::Setup { check, arch } => {
            setup::setup(settings, check, arch)?;
        }
        Commands::Demo { svg, html, kernel } => return demo::demo(settings, &kernel.choice(), svg, html),
        Commands::Shell { edu, cmdline, kernel } => {
            return run::shell(settings, &kernel.choice(), edu, cmdline);
        }
        Commands::Kernel(args) => {
            let tools = setup::setup(settings, false, args.arch)?;
            let build = kernel::build(settings, &tools, &args.choice())?;
            println!("{}", build.dir.display());
        }
        Commands::Lint(args) => {
            let built = harness::build(settings, &args.choice(), "lint")?;
            module::lint(settings, &built.tools, &built.kernel, &built.out)?;
        }
        Commands::Module(args) => {
            let built = harness::build(settings, &args.choice(), "module")?;
            let module = module::build(settings, &built.tools, &built.kernel, &built.out)?;
            println!("{}", module.display());
        }
        Commands::Run { lock, source, handler, irq, devices, cmdline, params, no_rmmod, timeout, kernel } => {
            let named = [("lock", lock), ("source", source), ("handler", handler), ("irq", irq)];
            return run::run(
                settings,
                &run::RunOptions {
                    source: kernel.choice(),
                    params: vocab::insmod_params(named, params),
                    rmmod: !no_rmmod,
                    timeout: Duration::from_secs(timeout),
                    devices,
                    cmdline,
                },
            );
        }
        Commands::Test { filter, jobs, repeat, json, junit, no_exercises, rejudge, kernel } => {
            let jobs = jobs.map_or_else(default_jobs, |n| n as usize);
            return test::test(
                settings,
                &test::TestOptions {
                    source: kernel.choice(),
                    filter,
                    jobs,
                    repeat: repeat as usize,
                    json,
                    junit,
                    no_exercises,
                    rejudge,
                },
            );
        }
        Commands::Bench { jobs, other_arch, kernel } => {
            let jobs = jobs.map_or_else(default_jobs, |n| n as usize);
            return bench::bench(settings, &kernel.choice(), jobs, other_arch);
        }
        Commands::Exercise { action, kernel } => {
            return match action {
                None => exercise::list(),
                Some(ExerciseAction::Start { exercise: which, force }) => {
                    exercise::start(settings, &which, force)
                }
                Some(ExerciseAction::Check { exercise: which, file, ktap, json, junit }) => exercise::check(
                    settings,
                    &kernel.choice(),
                    &exercise::CheckOptions { which, file, json, junit, ktap },
                ),
                Some(ExerciseAction::Lint) => exercise::lint(settings, &kernel.choice()),
                Some(ExerciseAction::Shell { exercise: which, solution }) => {
                    exercise::shell(settings, &kernel.choice(), &which, solution)
                }
            };
        }
        Commands::Grade { dir, output, exercises, jobs, shard, hidden_visibility, class_test, kernel } => {
            let jobs = jobs.map_or_else(default_jobs, |n| n as usize);
            if class_test {
                return grade::class::test(settings, &kernel.choice(), &output, jobs);
            }
            let submissions = dir.unwrap_or_default();
            let options = grade::Options { submissions, output, exercises, jobs, shard, hidden_visibility };
            return grade::command(settings, &kernel.choice(), &options);
        }
        Commands::Triage { file, score: true, .. } => return triage::score::command(&file),
        Commands::Triage { file, json, .. } => return triage::command(&file, json),
    }
    Ok(EXIT_PASS)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    children::install();
    match run(cli) {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code as u8)
        }
    }
}
