// SPDX-License-Identifier: GPL-2.0

//! The console's lines as the kernel's printk writes them: the timestamp and caller id that
//! lead each line, and lines the console cut and printed again.

/// Strips the printk timestamp and caller id: `[    3.544154][    C0] text` -> `text`.
pub fn strip_prefix(line: &str) -> &str {
    let mut rest = line.trim_end_matches(['\r', '\n']);
    for _ in 0..2 {
        let Some(after) = rest.strip_prefix('[') else {
            break;
        };
        let Some(end) = after.find(']') else { break };
        let inside = after[..end].trim();
        let is_time = !inside.is_empty() && inside.chars().all(|c| c.is_ascii_digit() || c == '.');
        if !is_time && !is_caller(inside) {
            break;
        }
        rest = &after[end + 1..];
    }
    rest.strip_prefix(' ').unwrap_or(rest)
}

/// The printk caller id of a line (`C0` for CPU 0 in interrupt context, `T123` for a task),
/// when the kernel prints them (CONFIG_PRINTK_CALLER).
pub fn caller_id(line: &str) -> Option<&str> {
    let after_time = line.strip_prefix('[')?.split_once(']')?.1;
    let inside = after_time.strip_prefix('[')?.split_once(']')?.0.trim();
    is_caller(inside).then_some(inside)
}

/// A printk caller id without its brackets: `C` and a CPU number, or `T` and a task id.
fn is_caller(inside: &str) -> bool {
    (inside.starts_with('C') || inside.starts_with('T'))
        && inside.len() > 1
        && inside[1..].chars().all(|c| c.is_ascii_digit())
}

/// The console's lines, one per entry (the first line is line 1 of the file), with a line
/// that the console cut and printed again in full left empty: a console whose printing was
/// taken over mid-line (nbcon) prints the line again after `** replaying previous printk
/// message **`.
pub fn whole_lines(log: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = log.lines().map(|l| l.trim_end_matches('\r')).collect();
    for i in 1..lines.len() {
        if lines[i].trim_end() == "** replaying previous printk message **" {
            lines[i - 1] = "";
            lines[i] = "";
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_timestamps_and_caller_ids() {
        assert_eq!(strip_prefix("[    2.778658] BUG: x"), "BUG: x");
        assert_eq!(strip_prefix("[    3.544154][    C0] BUG: x"), "BUG: x");
        assert_eq!(strip_prefix("[   12.000001][  T123] hello"), "hello");
        assert_eq!(strip_prefix("[ BUG: Invalid wait context ]"), "[ BUG: Invalid wait context ]");
        assert_eq!(strip_prefix("plain"), "plain");
    }
}
