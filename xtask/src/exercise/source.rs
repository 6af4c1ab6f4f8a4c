// SPDX-License-Identifier: GPL-2.0

//! One annotated source per exercise, and the variants generated from it: the solution, the
//! starter a learner receives, and the wrong solutions `cargo xtask test` expects to fail.
//!
//! As in linux-kernel-labs, the lines a learner changes sit in numbered TODO blocks:
//!
//! ```text
//!         // TODO 2: Say what to change, not how.
//!         //# solution
//!         *this.counter.lock() += 1;
//!         //# starter no-flush
//!         // self.mutex.lock();
//!         //# end
//! ```
//!
//! `//# solution` opens a block (the last `// TODO n:` line above it gives its number) and its
//! lines are live code, so that the annotated source is itself the solution. Each further
//! section (`//# NAME...`) holds the same lines for the variants it names, commented out with
//! `// `. A variant takes each block's section that names it, else the solution's. Every
//! variant keeps the TODO text and ends each block with `// END TODO n`, so that a learner's
//! file shows where the blocks are, and the lines outside them (the frame, which the checker
//! owns) can be compared with the reference: [`frame`].

/// The section marker prefix.
const MARK: &str = "//#";

/// A parse error: the 1-based line and what is wrong there.
#[derive(Debug, PartialEq)]
pub struct SourceError {
    pub line: usize,
    pub message: String,
}

/// The variant of the annotated `source` named `variant` (`solution`, `starter`, or the name
/// of a wrong solution).
pub fn generate(source: &str, variant: &str) -> Result<String, SourceError> {
    let blocks = parse(source)?;
    if variant != "solution" && !blocks.iter().any(|b| b.names().any(|n| n == variant)) {
        return Err(SourceError { line: 0, message: format!("no block has a section for {variant:?}") });
    }
    let mut out = String::new();
    let lines: Vec<&str> = source.lines().collect();
    let mut at = 0;
    for block in &blocks {
        for line in &lines[at..block.open] {
            out += line;
            out.push('\n');
        }
        let section = block
            .sections
            .iter()
            .find(|s| s.names.iter().any(|n| n == variant))
            .unwrap_or(&block.sections[0]);
        for line in &lines[section.first..section.end] {
            if section.names[0] == "solution" {
                out += line;
            } else {
                out += &uncomment(line);
            }
            out.push('\n');
        }
        out += &format!("{}// END TODO {}\n", block.indent, block.number);
        at = block.close + 1;
    }
    for line in &lines[at..] {
        out += line;
        out.push('\n');
    }
    Ok(out)
}

/// The names of the variants the annotated `source` names: `solution`, `starter` and the
/// wrong solutions, each once, in the order they first appear.
pub fn variants(source: &str) -> Result<Vec<String>, SourceError> {
    let mut names = vec!["solution".to_string()];
    for block in parse(source)? {
        for name in block.names() {
            if !names.iter().any(|n| n == name) {
                names.push(name.to_string());
            }
        }
    }
    Ok(names)
}

/// The frame of a generated variant or of a learner's file: every line outside the TODO
/// blocks, each with its 1-based line number. A block runs from its `// TODO n:` line to its
/// `// END TODO n` line.
pub fn frame(text: &str) -> Vec<(usize, String)> {
    let mut frame = Vec::new();
    let mut inside: Option<String> = None;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        match &inside {
            Some(end) if trimmed == end => inside = None,
            Some(_) => {}
            None => match todo_number(trimmed) {
                Some(n) => inside = Some(format!("// END TODO {n}")),
                None => frame.push((i + 1, line.trim_end().to_string())),
            },
        }
    }
    frame
}

/// Where a learner's file leaves the reference frame: the first line of `mine` outside the
/// TODO blocks that differs from `reference`'s, as a message naming it; `None` if the two
/// frames are the same.
pub fn frame_difference(reference: &str, mine: &str) -> Option<String> {
    let (want, have) = (frame(reference), frame(mine));
    for (i, (line, text)) in have.iter().enumerate() {
        match want.get(i) {
            Some((_, expected)) if expected == text => {}
            Some((_, expected)) => {
                return Some(format!(
                    "line {line} is outside the TODO blocks and differs from the exercise's: \
                     expected {expected:?}, found {text:?}"
                ))
            }
            None => return Some(format!("line {line} is outside the TODO blocks and was added")),
        }
    }
    (have.len() < want.len()).then(|| {
        let (line, text) = &want[have.len()];
        format!("the exercise's line {line} ({text:?}), outside the TODO blocks, is missing")
    })
}

/// `n` of a `// TODO n: ...` line.
fn todo_number(trimmed: &str) -> Option<u32> {
    let rest = trimmed.strip_prefix("// TODO ")?;
    let (number, _) = rest.split_once(':')?;
    number.parse().ok()
}

/// `// code` -> `code`, keeping the indentation; `//` -> an empty line.
fn uncomment(line: &str) -> String {
    let indent = &line[..line.len() - line.trim_start().len()];
    let rest = line.trim_start();
    match rest.strip_prefix("// ") {
        Some(code) => format!("{indent}{code}"),
        None if rest == "//" => String::new(),
        None => line.to_string(),
    }
}

/// A section of a block: the variants it is for and its lines (0-based, end exclusive).
struct Section {
    names: Vec<String>,
    first: usize,
    end: usize,
}

/// A TODO block: its number, indentation, the line of `//# solution` and of `//# end`.
struct Block {
    number: u32,
    indent: String,
    open: usize,
    close: usize,
    sections: Vec<Section>,
}

impl Block {
    /// The variant names of the sections after the solution's.
    fn names(&self) -> impl Iterator<Item = &str> {
        self.sections.iter().flat_map(|s| s.names.iter()).map(String::as_str).filter(|n| *n != "solution")
    }
}

fn parse(source: &str) -> Result<Vec<Block>, SourceError> {
    let mut blocks: Vec<Block> = Vec::new();
    let mut todo: Option<u32> = None;
    let mut open: Option<Block> = None;
    let error = |i: usize, message: String| SourceError { line: i + 1, message };
    for (i, line) in source.lines().enumerate() {
        let trimmed = line.trim();
        let Some(marker) = trimmed.strip_prefix(MARK) else {
            if let Some(n) = todo_number(trimmed) {
                if open.is_some() {
                    return Err(error(i, format!("TODO {n} inside another block")));
                }
                todo = Some(n);
            }
            if trimmed.starts_with("// END TODO") {
                return Err(error(i, "`// END TODO` is written by the generator: use `//# end`".into()));
            }
            continue;
        };
        let names: Vec<String> = marker.split_whitespace().map(str::to_string).collect();
        match (names.first().map(String::as_str), open.as_mut()) {
            (Some("solution"), None) => {
                let Some(number) = todo.take() else {
                    return Err(error(i, "`//# solution` without a `// TODO n:` line above it".into()));
                };
                if blocks.iter().any(|b| b.number == number) {
                    return Err(error(i, format!("a second block numbered TODO {number}")));
                }
                let indent = line[..line.len() - line.trim_start().len()].to_string();
                open = Some(Block {
                    number,
                    indent,
                    open: i,
                    close: i,
                    sections: vec![Section { names, first: i + 1, end: i + 1 }],
                });
            }
            (Some("end"), Some(block)) => {
                block.sections.last_mut().expect("a block has its solution").end = i;
                block.close = i;
                blocks.push(open.take().expect("open"));
            }
            (Some("solution" | "end"), _) | (None, _) => {
                return Err(error(i, format!("unexpected `{trimmed}`")));
            }
            (Some(_), None) => return Err(error(i, format!("`{trimmed}` outside a block"))),
            (Some(_), Some(block)) => {
                block.sections.last_mut().expect("a block has its solution").end = i;
                if let Some(line) = source
                    .lines()
                    .skip(i + 1)
                    .take_while(|l| !l.trim().starts_with(MARK))
                    .find(|l| !l.trim().is_empty() && !l.trim().starts_with("//"))
                {
                    return Err(error(i, format!("a variant's lines must be commented out: {line:?}")));
                }
                block.sections.push(Section { names, first: i + 1, end: i + 1 });
            }
        }
    }
    if let Some(block) = open {
        return Err(error(block.open, format!("TODO {} has no `//# end`", block.number)));
    }
    if blocks.is_empty() {
        return Err(SourceError { line: 0, message: "no TODO block (`//# solution` ... `//# end`)".into() });
    }
    if !blocks.iter().any(|b| b.names().any(|n| n == "starter")) {
        return Err(SourceError { line: 0, message: "no block has a `starter` section".into() });
    }
    Ok(blocks)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = "\
use a;
// TODO 1: Pick the lock.
//   It is taken in hard-IRQ context.
//# solution
type L = SpinLockIrq;
//# starter irq-off
// type L = Mutex;
//# end
fn f() {
    // TODO 2: Count.
    //# solution
    x += 1;
    //# irq-off
    // let _off = disable();
    // x += 1;
    //
    // y();
    //# end
}
";

    #[test]
    fn the_solution_is_the_live_code() {
        let solution = generate(SOURCE, "solution").unwrap();
        assert_eq!(
            solution,
            "use a;\n// TODO 1: Pick the lock.\n//   It is taken in hard-IRQ context.\ntype L = SpinLockIrq;\n\
             // END TODO 1\nfn f() {\n    // TODO 2: Count.\n    x += 1;\n    // END TODO 2\n}\n"
        );
    }

    #[test]
    fn a_variant_takes_its_sections_and_the_solution_elsewhere() {
        let starter = generate(SOURCE, "starter").unwrap();
        assert!(starter.contains("\ntype L = Mutex;\n// END TODO 1\n"), "{starter}");
        assert!(starter.contains("    // TODO 2: Count.\n    x += 1;\n    // END TODO 2\n"), "{starter}");
        let wrong = generate(SOURCE, "irq-off").unwrap();
        assert!(wrong.contains("\ntype L = Mutex;\n"), "{wrong}");
        assert!(
            wrong.contains("    let _off = disable();\n    x += 1;\n\n    y();\n    // END TODO 2\n"),
            "{wrong}"
        );
        assert!(!wrong.contains("//#"));
        assert_eq!(variants(SOURCE).unwrap(), ["solution", "starter", "irq-off"]);
        assert!(generate(SOURCE, "nothing").is_err());
    }

    #[test]
    fn every_variant_has_the_same_frame() {
        let reference = generate(SOURCE, "starter").unwrap();
        for variant in variants(SOURCE).unwrap() {
            let text = generate(SOURCE, &variant).unwrap();
            assert_eq!(frame_difference(&reference, &text), None, "{variant}");
        }
        assert_eq!(
            frame(&reference).iter().map(|(_, l)| l.as_str()).collect::<Vec<_>>(),
            ["use a;", "fn f() {", "}"]
        );
    }

    #[test]
    fn edits_outside_the_blocks_are_found() {
        let reference = generate(SOURCE, "starter").unwrap();
        let inside = reference.replace("type L = Mutex;", "type L = SpinLockIrq;\nconst X: u32 = 1;");
        assert_eq!(frame_difference(&reference, &inside), None);
        let outside = reference.replace("fn f() {", "fn f() {\n    pr_info!(\"fake\");");
        let message = frame_difference(&reference, &outside).unwrap();
        assert!(message.contains("line 7") && message.contains("fake"), "{message}");
        let removed = reference.replace("use a;\n", "");
        assert!(frame_difference(&reference, &removed).unwrap().contains("differs"));
        let cut = reference.replace("\n}\n", "\n");
        assert!(frame_difference(&reference, &cut).unwrap().contains("is missing"));
        // A block whose end marker is removed swallows the rest of the frame.
        let unended = reference.replace("    // END TODO 2\n", "");
        assert!(frame_difference(&reference, &unended).unwrap().contains("is missing"));
    }

    #[test]
    fn malformed_sources_are_refused_with_their_line() {
        let no_todo = "//# solution\nx\n//# starter\n// y\n//# end\n";
        assert_eq!(generate(no_todo, "starter").unwrap_err().line, 1);
        let live = "// TODO 1: x\n//# solution\nx\n//# starter\ny\n//# end\n";
        assert!(generate(live, "starter").unwrap_err().message.contains("commented out"));
        let open = "// TODO 1: x\n//# solution\nx\n";
        assert!(generate(open, "starter").unwrap_err().message.contains("no `//# end`"));
        let no_starter = "// TODO 1: x\n//# solution\nx\n//# end\n";
        assert!(generate(no_starter, "solution").unwrap_err().message.contains("starter"));
        let twice = "// TODO 1: x\n//# solution\nx\n//# starter\n// y\n//# end\n// TODO 1: z\n//# solution\n//# end\n";
        assert!(generate(twice, "starter").unwrap_err().message.contains("second block"));
    }
}
