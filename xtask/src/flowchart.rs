// SPDX-License-Identifier: GPL-2.0

//! The lesson as a flowchart for slides, drawn from real boots: "Wrong: a mutex in the
//! interrupt handler" next to "Correct: a spinlock in the interrupt handler". Every box carries
//! what the boot printed: the module's lines with their timestamps, the kernel's report and its
//! guilty frame, the counter, and the measured spinning of the two-CPU run. A plain SVG: white
//! background, 1280 px wide, text as text, no external fonts or scripts.

use crate::demo::decode_preempt_count;
use crate::triage::{self, Report};

/// What one boot showed, as the flowchart needs it.
pub struct Boot<'a> {
    pub console: &'a str,
    pub reports: &'a [Report],
}

/// The boots a flowchart is drawn from, and where they came from.
pub struct Sources<'a> {
    /// `spinlock_irqsave`: the correct lock, one CPU.
    pub correct: Boot<'a>,
    /// `mutex`: the bug.
    pub wrong: Boot<'a>,
    /// `two_cpus_spinlock_irqsave`: the correct lock, contended by a handler on another CPU.
    pub contended: Option<Boot<'a>>,
    /// `file:line` of the guilty frame, when the module's debug info is at hand.
    pub guilty_source: Option<String>,
    /// How it was made, for the caption after the kernel version.
    pub caption: String,
}

const WIDTH: i32 = 1280;
const COLUMN: i32 = 600;
const LINE: i32 = 16;
/// The width of a character of the log lines' monospace font at 11 px, rounded up.
const CHAR_WIDTH: i32 = 7;
/// The correct column: its main boxes, and the spinning branch on their right.
const MAIN: i32 = 320;
const RED: &str = "#b3261e";
const GREEN: &str = "#1e7b34";
const GREY: &str = "#5f6368";

/// A box: a heading and the lines the boot printed for it.
struct Node {
    heading: String,
    lines: Vec<String>,
    colour: &'static str,
    decision: bool,
}

impl Node {
    fn new(heading: &str, lines: Vec<String>, colour: &'static str) -> Self {
        Self { heading: heading.to_string(), lines, colour, decision: false }
    }

    /// The lines as they fit in a box `width` wide (a diamond's text gets its middle half).
    fn wrapped(&self, width: i32) -> Vec<String> {
        let usable = if self.decision { width / 2 } else { width - 20 };
        wrap_to(&self.lines, (usable / CHAR_WIDTH).max(10) as usize)
    }

    fn decision(heading: &str, lines: Vec<String>) -> Self {
        Self { decision: true, ..Self::new(heading, lines, GREY) }
    }

    /// The height in a box `width` wide; a decision's diamond is twice as tall as its text.
    fn height(&self, width: i32) -> i32 {
        let text = LINE * (1 + self.wrapped(width).len() as i32) + 16;
        if self.decision {
            2 * text
        } else {
            text
        }
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The console line that contains `needle`, with its timestamp.
fn line_with<'a>(console: &'a str, needle: &str) -> Option<&'a str> {
    triage::whole_lines(console).into_iter().find(|l| l.contains(needle))
}

/// Every console line that contains `needle`, with its timestamp.
fn lines_with<'a>(console: &'a str, needle: &'a str) -> impl Iterator<Item = &'a str> {
    triage::whole_lines(console).into_iter().filter(move |l| l.contains(needle))
}

/// `preempt_count=0x...` of a module line, decoded.
fn decoded_count(line: &str) -> Option<String> {
    let hex = line.split_whitespace().find_map(|w| w.strip_prefix("preempt_count=0x"))?;
    let count = u32::from_str_radix(hex, 16).ok()?;
    Some(format!("preempt_count {:#x}: {}", count, decode_preempt_count(count)))
}

/// The kernel version the reports name: `... Tainted: G W O 7.3.4 #1 PREEMPT`.
pub fn kernel_version(console: &str) -> Option<String> {
    console.lines().find_map(|l| {
        let words: Vec<&str> = l.split_whitespace().collect();
        let build =
            words.iter().position(|w| w.starts_with('#') && w[1..].chars().all(|c| c.is_ascii_digit()))?;
        let version = words.get(build.checked_sub(1)?)?;
        version.chars().next()?.is_ascii_digit().then(|| version.to_string())
    })
}

fn or_missing(line: Option<&str>, what: &str) -> String {
    line.map_or_else(|| format!("({what}: not in this boot)"), str::to_string)
}

fn handler_box(boot: &Boot<'_>) -> Node {
    let handler = line_with(boot.console, "irqlock: handler: ");
    let mut lines = vec![or_missing(handler, "the handler's line")];
    lines.extend(handler.and_then(decoded_count));
    Node::new("Interrupt: the timer's handler runs", lines, GREY)
}

fn wrong_column(sources: &Sources<'_>) -> Vec<Node> {
    let boot = &sources.wrong;
    let sleeping = boot.reports.iter().find(|r| r.title.starts_with("BUG: sleeping function"));
    let lockdep = boot.reports.iter().find(|r| r.lines.iter().any(|l| l.contains("Invalid wait context")));
    let report_line = |report: Option<&Report>, needle: &str| {
        let line = report?.lines.iter().find(|l| l.contains(needle))?;
        let line = triage::demangle_line(line.trim());
        // A lock's address, `ffff8880002c58a8 (irqlock_mutex)...`, says nothing on a slide.
        Some(match line.split_once(' ') {
            Some((first, rest)) if first.len() == 16 && first.chars().all(|c| c.is_ascii_hexdigit()) => {
                rest.to_string()
            }
            _ => line,
        })
    };
    let guilty =
        sleeping.and_then(|r| r.guilty_function.clone()).unwrap_or_else(|| "(no guilty frame)".into());
    let guilty = match &sources.guilty_source {
        Some(at) => format!("{guilty} ({at})"),
        None => guilty,
    };
    let mut bug = vec![or_missing(line_with(boot.console, "BUG: sleeping function called"), "the report")];
    bug.extend(report_line(sleeping, "in_atomic():"));
    bug.extend(report_line(sleeping, "preempt_count:"));
    bug.push(format!("guilty frame: {guilty}"));
    let mut lockdep_lines: Vec<String> = ["[ BUG: Invalid wait context ]", "-{4:4}", "context-{"]
        .iter()
        .filter_map(|needle| report_line(lockdep, needle))
        .collect();
    if lockdep_lines.is_empty() {
        lockdep_lines.push("(no lockdep report in this boot)".into());
    }
    let titles: Vec<String> = boot.reports.iter().map(|r| r.title.clone()).collect();
    let mut end = vec![or_missing(line_with(boot.console, "irqlock: done: "), "the result")];
    end.push(format!("kernel reports: {}", titles.len()));
    end.extend(titles.iter().map(|t| format!("  {t}")));
    vec![
        handler_box(boot),
        Node::new("The handler calls mutex_lock()", vec![format!("in {guilty}")], GREY),
        Node::decision(
            "May this context sleep?",
            vec!["might_sleep() asks first, whether the mutex is free or not".into()],
        ),
        Node::new("No: BUG, sleeping function called from invalid context", bug, RED),
        Node::new("Lockdep: a sleeping lock (4) where at most 3 is allowed", lockdep_lines, RED),
        Node::new("Carries on with a broken rule", end, RED),
    ]
}

fn correct_column(sources: &Sources<'_>) -> (Vec<Node>, Node) {
    let boot = &sources.correct;
    let mut end = vec![or_missing(line_with(boot.console, "irqlock: done: "), "the result")];
    end.push(if boot.reports.is_empty() {
        "kernel reports: none".to_string()
    } else {
        format!("kernel reports: {} (unexpected)", boot.reports.len())
    });
    let spin = match &sources.contended {
        Some(two) => {
            let mut lines: Vec<String> = vec!["two CPUs' timers, one lock (cpus=2):".into()];
            lines.extend(lines_with(two.console, "irqlock: done: cpu=").map(str::to_string));
            lines.extend(line_with(two.console, "irqlock: done: 16 interrupts").map(str::to_string));
            lines
        }
        None => vec!["(no two-CPU boot in this run)".into()],
    };
    let column = vec![
        handler_box(boot),
        Node::new(
            "The handler calls spin_lock()",
            vec!["SpinLockIrq: spin_lock_irq_disable(), 7.3's spin_lock_irqsave()".into()],
            GREY,
        ),
        Node::decision("Lock free?", vec!["one CPU: yes, always".into()]),
        Node::new("Yes: acquired, counter += 1, unlock", vec!["never sleeps".into()], GREY),
        Node::new("Correct, and silent", end, GREEN),
    ];
    (column, Node::new("No: it spins, then proceeds", spin, GREEN))
}

/// Draws a node at (`x`, `y`), `width` wide; returns the SVG.
fn draw(node: &Node, x: i32, y: i32, width: i32) -> String {
    let height = node.height(width);
    let lines = node.wrapped(width);
    let mut out = if node.decision {
        let (cx, cy) = (x + width / 2, y + height / 2);
        format!(
            "<polygon points=\"{cx},{y} {},{cy} {cx},{} {x},{cy}\" fill=\"#fff\" stroke=\"{}\" stroke-width=\"2\"/>\n",
            x + width,
            y + height,
            node.colour
        )
    } else {
        format!(
            "<rect x=\"{x}\" y=\"{y}\" width=\"{width}\" height=\"{height}\" rx=\"8\" fill=\"#fff\" stroke=\"{}\" stroke-width=\"2\"/>\n",
            node.colour
        )
    };
    let (anchor, text_x) = if node.decision { ("middle", x + width / 2) } else { ("start", x + 10) };
    let top = y + if node.decision { height / 4 - 4 } else { 0 };
    out += &format!(
        "<text x=\"{text_x}\" y=\"{}\" text-anchor=\"{anchor}\" font-weight=\"bold\" fill=\"{}\">{}</text>\n",
        top + 20,
        node.colour,
        escape(&node.heading)
    );
    for (i, line) in lines.iter().enumerate() {
        out += &format!(
            "<text x=\"{text_x}\" y=\"{}\" text-anchor=\"{anchor}\" class=\"log\">{}</text>\n",
            top + 20 + LINE * (i as i32 + 1),
            escape(line)
        );
    }
    out
}

fn arrow(x1: i32, y1: i32, x2: i32, y2: i32, label: &str) -> String {
    let mut out = format!(
        "<line x1=\"{x1}\" y1=\"{y1}\" x2=\"{x2}\" y2=\"{y2}\" stroke=\"#333\" stroke-width=\"2\" marker-end=\"url(#arrow)\"/>\n"
    );
    if !label.is_empty() {
        // Beside a vertical arrow, above a horizontal one.
        let (x, y) = if x1 == x2 { (x1 + 6, (y1 + y2) / 2 + 4) } else { ((x1 + x2) / 2 - 8, y1 - 6) };
        out += &format!("<text x=\"{x}\" y=\"{y}\" font-weight=\"bold\">{}</text>\n", escape(label));
    }
    out
}

/// A column of nodes joined by arrows, from `y`; returns the SVG, each node's top, and the end.
fn stack(nodes: &[Node], x: i32, y: i32, width: i32, labels: &[&str]) -> (String, Vec<i32>, i32) {
    let mut out = String::new();
    let mut tops = Vec::new();
    let mut y = y;
    for (i, node) in nodes.iter().enumerate() {
        if i > 0 {
            let label = labels.get(i - 1).copied().unwrap_or("");
            out += &arrow(x + width / 2, y - 36, x + width / 2, y - 4, label);
        }
        tops.push(y);
        out += &draw(node, x, y, width);
        y += node.height(width) + 36;
    }
    (out, tops, y)
}

/// The flowchart as an SVG document.
pub fn svg(sources: &Sources<'_>) -> String {
    let kernel = kernel_version(sources.wrong.console)
        .or_else(|| kernel_version(sources.correct.console))
        .unwrap_or_else(|| "(version not in the console)".into());
    let (left_x, right_x) = (20, WIDTH - 20 - COLUMN);
    let top = 110;
    let wrong = wrong_column(sources);
    let (correct, spin) = correct_column(sources);
    let (left, _, left_end) = stack(&wrong, left_x, top, COLUMN, &["", "", "no"]);
    let (right, tops, right_end) = stack(&correct, right_x, top, MAIN, &["", "", "yes"]);
    let branch_x = right_x + MAIN + 30;
    let branch_width = COLUMN - MAIN - 30;
    let decision_mid = tops[2] + correct[2].height(MAIN) / 2;
    let branch_top = decision_mid - 20;
    let mut branch = draw(&spin, branch_x, branch_top, branch_width);
    branch += &arrow(right_x + MAIN, decision_mid, branch_x - 4, decision_mid, "no");
    let acquired_mid = tops[3] + correct[3].height(MAIN) / 2;
    let branch_end = branch_top + spin.height(branch_width);
    // Back from spinning to "acquired", level with it when the branch reaches down that far.
    let back_y = acquired_mid.clamp(branch_top + 20, branch_end - 10);
    branch += &arrow(branch_x, back_y, right_x + MAIN + 4, acquired_mid, "");
    let height = left_end.max(right_end).max(branch_end + 60) + 20;
    let caption = format!("Linux {kernel} under QEMU; {}", sources.caption);
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" viewBox=\"0 0 {WIDTH} {height}\" font-family=\"DejaVu Sans, Arial, Helvetica, sans-serif\" font-size=\"13\">\n\
         <title>irqlock: a mutex in an interrupt handler, and the spinlock that is correct</title>\n\
         <style>.log {{ font-family: 'DejaVu Sans Mono', Menlo, Consolas, monospace; font-size: 11px; fill: #202124; }}</style>\n\
         <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"8\" markerHeight=\"8\" orient=\"auto-start-reverse\"><path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"#333\"/></marker></defs>\n\
         <rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n\
         <text x=\"{}\" y=\"36\" text-anchor=\"middle\" font-size=\"22\" font-weight=\"bold\">A mutex may sleep; an interrupt handler must never sleep; a spinlock never sleeps</text>\n\
         <text x=\"{}\" y=\"84\" text-anchor=\"middle\" font-size=\"18\" font-weight=\"bold\" fill=\"{RED}\">Wrong: mutex in the interrupt handler</text>\n\
         <text x=\"{}\" y=\"84\" text-anchor=\"middle\" font-size=\"18\" font-weight=\"bold\" fill=\"{GREEN}\">Correct: spinlock in the interrupt handler</text>\n\
         {left}{right}{branch}\
         <text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"{GREY}\">{}</text>\n</svg>\n",
        WIDTH / 2,
        left_x + COLUMN / 2,
        right_x + COLUMN / 2,
        WIDTH / 2,
        height - 10,
        escape(&caption)
    )
}

/// The flowchart in a self-contained HTML page.
pub fn html(svg: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>irqlock: the flowchart</title></head>\n\
         <body style=\"margin:0;background:#fff\">\n{svg}</body></html>\n"
    )
}

/// Lines wrapped to `chars` columns.
fn wrap_to(lines: &[String], chars: usize) -> Vec<String> {
    let mut out = Vec::new();
    for line in lines {
        let mut rest = line.as_str();
        while rest.chars().count() > chars {
            let cut = rest.char_indices().nth(chars).map_or(rest.len(), |(i, _)| i);
            let at = rest[..cut].rfind(' ').filter(|&i| i > chars / 2).unwrap_or(cut);
            out.push(rest[..at].trim_end().to_string());
            rest = rest[at..].trim_start();
        }
        out.push(rest.to_string());
    }
    out
}

/// The flowchart from the captured boots in `tests/fixtures/`, as committed in
/// `docs/flowchart.svg`.
#[cfg(test)]
fn from_fixtures() -> String {
    from_fixtures_in("tests/fixtures")
}

/// The same from the boots under `dir` (`tests/fixtures/arm64`: an arm64 guest's).
#[cfg(test)]
fn from_fixtures_in(dir: &str) -> String {
    let dir = crate::paths::project_dir().join(dir);
    let read = |name: &str| std::fs::read_to_string(dir.join(format!("{name}.log"))).unwrap_or_default();
    let (correct, wrong, contended) =
        (read("spinlock_irqsave"), read("mutex"), read("two_cpus_spinlock_irqsave"));
    let (good_reports, bad_reports, two_reports) =
        (triage::parse(&correct), triage::parse(&wrong), triage::parse(&contended));
    svg(&Sources {
        correct: Boot { console: &correct, reports: &good_reports },
        wrong: Boot { console: &wrong, reports: &bad_reports },
        contended: Some(Boot { console: &contended, reports: &two_reports }),
        guilty_source: None,
        caption:
            "drawn from the boots in tests/fixtures/; `cargo xtask demo --svg FILE` draws it from fresh ones"
                .into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paths::project_dir;

    /// Every piece of text in the drawing, in document order.
    fn texts(svg: &str) -> Vec<String> {
        let doc = roxmltree::Document::parse(svg).expect("the flowchart is well-formed XML");
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        doc.descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text())
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn draws_both_columns_from_the_boots() {
        draws_both_columns_from("tests/fixtures");
    }

    #[test]
    fn draws_both_columns_from_arm64_boots() {
        draws_both_columns_from("tests/fixtures/arm64");
    }

    fn draws_both_columns_from(dir: &str) {
        let all = texts(&from_fixtures_in(dir)).join("\n");
        for expected in [
            "Wrong: mutex in the interrupt handler",
            "Correct: spinlock in the interrupt handler",
            "The handler calls mutex_lock()",
            "May this context sleep?",
            "BUG: sleeping function called from invalid context at",
            "in_atomic(): 1, irqs_disabled(): 1",
            "guilty frame: irqlock::shared::Shared::increment",
            "[ BUG: Invalid wait context ]",
            "context-{3:3}",
            "Lock free?",
            "No: it spins, then proceeds",
            "found the lock held",
            "counter=9 expected=9",
            "kernel reports: none",
            "Linux 7.3.4 under QEMU",
        ] {
            assert!(all.contains(expected), "the flowchart lacks {expected:?}:\n{all}");
        }
        assert!(!all.contains("not in this boot"), "{all}");
    }

    /// A boot without the report cannot pass for one that has it.
    #[test]
    fn says_what_a_boot_did_not_show() {
        let clean =
            std::fs::read_to_string(project_dir().join("tests/fixtures/spinlock_irqsave.log")).unwrap();
        let picture = svg(&Sources {
            correct: Boot { console: &clean, reports: &[] },
            wrong: Boot { console: &clean, reports: &[] },
            contended: None,
            guilty_source: None,
            caption: String::new(),
        });
        let all = texts(&picture).join("\n");
        assert!(all.contains("(the report: not in this boot)"), "{all}");
        assert!(all.contains("(no two-CPU boot in this run)"), "{all}");
        assert!(!all.contains("BUG: sleeping function called from invalid context at"), "{all}");
    }

    /// `docs/flowchart.svg`, which the README shows, is the drawing of the captured boots;
    /// `IRQLOCK_BLESS=1 cargo test -p xtask flowchart` writes it again.
    #[test]
    fn the_committed_flowchart_is_up_to_date() {
        let path = project_dir().join("docs/flowchart.svg");
        let fresh = from_fixtures();
        if std::env::var_os("IRQLOCK_BLESS").is_some() {
            std::fs::write(&path, &fresh).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == fresh,
            "{} is not the drawing of tests/fixtures/; run `IRQLOCK_BLESS=1 cargo test -p xtask flowchart`",
            path.display()
        );
    }
}
