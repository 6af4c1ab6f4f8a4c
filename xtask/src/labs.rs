// SPDX-License-Identifier: GPL-2.0

//! The lab exercises under `docs/labs/`: their expected-output blocks are checked against the
//! console of a real boot of the scenario they name, so the docs cannot drift from the kernel.
//!
//! A checked block is a fenced block whose info string names the scenario:
//!
//! ````text
//! ```console scenario=mutex
//! [    2.172012] BUG: sleeping function called from invalid context at kernel/locking/mutex.c:...
//! ```
//! ````
//!
//! Each line must appear in the scenario's console, in order; timestamps are ignored, runs of
//! white space count as one, and `...` stands for any text (a CPU number, an address).
//! `kernel=rt` checks it on the PREEMPT_RT kernel; `arch=x86_64` or `arch=arm64` on that
//! architecture only (a block that shows an architecture's own trace), else on every one.

use crate::arch::Arch;
use crate::error::{Context, Result};
use crate::kernel::Flavour;
use crate::paths::files_with_extension;
use crate::verdict;
use std::path::{Path, PathBuf};

/// One checked block.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub file: PathBuf,
    /// 1-based line of the opening fence.
    pub line: usize,
    pub scenario: String,
    /// The kernel its boot runs on: `kernel=rt` after the scenario's name, else the default.
    pub kernel: Flavour,
    /// The only architecture it is checked on (`arch=...`), or every one.
    pub arch: Option<Arch>,
    pub lines: Vec<String>,
}

impl Block {
    /// A short name for KTAP: `docs/labs/01-mutex.md:23`.
    pub fn name(&self, root: &Path) -> String {
        let file = self.file.strip_prefix(root).unwrap_or(&self.file);
        format!("{}:{}", file.display(), self.line)
    }

    /// Whether the block is checked on `arch`.
    pub fn applies(&self, arch: Arch) -> bool {
        self.arch.is_none_or(|only| only == arch)
    }

    /// The block's lines the console lacks, as messages (empty when it matches).
    pub fn check(&self, console: &str) -> Vec<String> {
        verdict::missing_in_order(console, &self.lines).into_iter().map(|(_, message)| message).collect()
    }
}

/// The checked blocks of one Markdown text.
pub fn blocks(file: &Path, text: &str) -> Vec<Block> {
    let mut found = Vec::new();
    let mut open: Option<Block> = None;
    let mut unchecked = false;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let fence = trimmed.starts_with("```");
        if unchecked {
            unchecked = !fence;
            continue;
        }
        if let Some(block) = open.as_mut() {
            if fence {
                found.push(open.take().expect("open"));
            } else if !line.trim().is_empty() {
                block.lines.push(line.to_string());
            }
            continue;
        }
        if let Some(info) = trimmed.strip_prefix("```") {
            match info.split_whitespace().find_map(|w| w.strip_prefix("scenario=")) {
                Some(name) => {
                    let rt = info.split_whitespace().any(|w| w == "kernel=rt");
                    let arch = info.split_whitespace().find_map(|w| match w.strip_prefix("arch=")? {
                        "x86_64" => Some(Arch::X86_64),
                        "arm64" => Some(Arch::Arm64),
                        _ => None,
                    });
                    open = Some(Block {
                        file: file.to_path_buf(),
                        line: i + 1,
                        scenario: name.to_string(),
                        kernel: if rt { Flavour::Rt } else { Flavour::Default },
                        arch,
                        lines: Vec::new(),
                    })
                }
                None => unchecked = true,
            }
        }
    }
    found
}

/// The captured boot of `scenario` on `kernel` and `arch`: `tests/fixtures/NAME.log`, under
/// `rt/` for the PREEMPT_RT kernel, and under `arm64/` (`arm64/rt/`) for an arm64 guest.
#[cfg(test)]
pub fn fixture_path(kernel: Flavour, arch: Arch, scenario: &str) -> PathBuf {
    let dir = crate::paths::project_dir().join("tests/fixtures");
    let dir = if arch == Arch::Arm64 { dir.join("arm64") } else { dir };
    let dir = if kernel == Flavour::Rt { dir.join("rt") } else { dir };
    dir.join(format!("{scenario}.log"))
}

/// Every checked block under `dir`, files in name order.
pub fn load(dir: &Path) -> Result<Vec<Block>> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let paths = files_with_extension(dir, "md")?;
    let mut all = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).context(|| format!("could not read {}", path.display()))?;
        all.extend(blocks(&path, &text));
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paths::project_dir;

    #[test]
    fn a_block_names_its_kernel() {
        let text =
            "```console scenario=mutex kernel=rt\nBUG: x\n```\n```console scenario=mutex\nBUG: y\n```\n";
        let found = blocks(Path::new("lab.md"), text);
        assert_eq!(found.iter().map(|b| b.kernel).collect::<Vec<_>>(), [Flavour::Rt, Flavour::Default]);
    }

    #[test]
    fn a_block_may_name_its_architecture() {
        let text = "```console scenario=mutex arch=arm64\nCall trace:\n```\n```console scenario=mutex\nBUG: y\n```\n";
        let found = blocks(Path::new("lab.md"), text);
        assert_eq!(found[0].arch, Some(Arch::Arm64));
        assert!(found[0].applies(Arch::Arm64) && !found[0].applies(Arch::X86_64));
        assert!(found[1].applies(Arch::Arm64) && found[1].applies(Arch::X86_64));
    }

    #[test]
    fn finds_only_blocks_that_name_a_scenario() {
        let text = "# Lab\n```sh\ninsmod irqlock.ko\n```\n\n```console scenario=mutex\n[ 1.0] BUG: x\n\nin_atomic(): 1\n```\n```text\nnot checked\n```\n";
        let found = blocks(Path::new("lab.md"), text);
        assert_eq!(
            found,
            [Block {
                file: "lab.md".into(),
                line: 6,
                scenario: "mutex".into(),
                kernel: Flavour::Default,
                arch: None,
                lines: vec!["[ 1.0] BUG: x".into(), "in_atomic(): 1".into()]
            }]
        );
        assert!(found[0].check("[ 2.0] BUG: x\n[ 2.1] in_atomic(): 1\n").is_empty());
        assert_eq!(found[0].check("[ 2.1] in_atomic(): 1\n[ 2.0] BUG: x\n").len(), 1);
    }

    /// The docs against the consoles captured from real boots (tests/fixtures/); `cargo xtask
    /// test` checks them against fresh boots too.
    #[test]
    fn every_lab_block_matches_its_captured_boot() {
        let root = project_dir();
        let all = load(&root.join("docs/labs")).unwrap();
        assert!(!all.is_empty(), "docs/labs has no checked blocks");
        for block in all {
            for arch in [Arch::X86_64, Arch::Arm64].into_iter().filter(|a| block.applies(*a)) {
                let fixture = fixture_path(block.kernel, arch, &block.scenario);
                if arch == Arch::Arm64 && block.arch.is_none() && !fixture.exists() {
                    // A block for every architecture whose arm64 boot was not captured: `cargo
                    // xtask test --arch arm64` checks it against a fresh boot.
                    continue;
                }
                let console = std::fs::read_to_string(&fixture)
                    .unwrap_or_else(|_| panic!("{}: no scenario {}", block.name(&root), block.scenario));
                let missing = block.check(&console);
                assert!(missing.is_empty(), "{} on {}: {missing:?}", block.name(&root), arch.name());
            }
        }
    }
}
