// SPDX-License-Identifier: GPL-2.0

//! The console's lines as the kernel's printk writes them: the timestamp and caller id that
//! lead each line, and lines the console cut and printed again.

/// Strips what leads a console line before the kernel's text: the printk level that `dmesg
/// -r` and some consoles keep (`<3>`, from `KERN_ERR` in include/linux/kern_levels.h), the
/// timestamp and the caller id (`[    3.544154][    C0] text` -> `text`, as
/// kernel/printk/printk.c's `info_print_prefix` writes them), and text that another program
/// wrote before the timestamp on the same line (`host login: [  562.3] BUG: ...`).
pub fn strip_prefix(line: &str) -> &str {
    let line = line.trim_end_matches(['\r', '\n']);
    match printk_prefix(line) {
        Some((end, _)) => {
            let rest = &line[end..];
            rest.strip_prefix(' ').unwrap_or(rest)
        }
        None => line,
    }
}

/// Where the text after the printk prefix of `line` starts, and the caller id in it, when
/// the line has a timestamp (or a printk level).
fn printk_prefix(line: &str) -> Option<(usize, Option<&str>)> {
    let mut at = 0;
    // `<3>`: a printk level, with or without a space before the timestamp.
    if let Some(level) = line.strip_prefix('<') {
        let digits = level.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && level[digits..].starts_with('>') {
            at = digits + 2;
            at += usize::from(line[at..].starts_with(' '));
        }
    }
    // `[    3.544154]`; glued after other text, only with its decimal point.
    let timestamp = |from: usize, point: bool| -> Option<usize> {
        let after = line[from..].strip_prefix('[')?;
        let end = after.find(']')?;
        let inside = after[..end].trim();
        let is_time = !inside.is_empty()
            && (!point || inside.contains('.'))
            && inside.bytes().all(|c| c.is_ascii_digit() || c == b'.');
        is_time.then_some(from + end + 2)
    };
    let after_time = match timestamp(at, false) {
        Some(end) => end,
        // A timestamp after other text: another program's output glued to the line.
        None if at == 0 && !line.starts_with(['[', ' ', '\t']) => {
            line.match_indices(" [").find_map(|(i, _)| timestamp(i + 1, true))?
        }
        None if at > 0 => return Some((at, None)),
        None => return None,
    };
    let caller = line[after_time..]
        .strip_prefix('[')
        .and_then(|r| r.split_once(']'))
        .map(|(inside, _)| inside.trim())
        .filter(|inside| is_caller(inside));
    match caller {
        Some(id) => {
            let end = after_time + 1 + line[after_time + 1..].find(']').expect("caller id") + 1;
            Some((end, Some(id)))
        }
        None => Some((after_time, None)),
    }
}

/// The printk caller id of a line (`C0` for CPU 0 in interrupt context, `T123` for a task),
/// when the kernel prints them (CONFIG_PRINTK_CALLER).
pub fn caller_id(line: &str) -> Option<&str> {
    if !line.contains("][") {
        return None;
    }
    printk_prefix(line)?.1
}

/// A printk caller id without its brackets: `C` and a CPU number, or `T` and a task id.
fn is_caller(inside: &str) -> bool {
    (inside.starts_with('C') || inside.starts_with('T'))
        && inside.len() > 1
        && inside[1..].chars().all(|c| c.is_ascii_digit())
}

/// The console's lines, one per entry (the first line is line 1 of the file), with the
/// console's replay notes left empty, and a line that the console cut and printed again in
/// full left empty too. A console whose printing was taken over (nbcon) prints the record it
/// was on again after `** replaying previous printk message **` (kernel/printk/nbcon.c:1034,
/// printk.c:3005). The takeover may come mid-line, and the line before the note is then a cut
/// copy of the line after it; or after a whole line, which the note then follows and nothing
/// repeats (seen: the BUG line of `softirq_mutex`, and a frame of its trace, each whole before
/// the note): only a cut copy is dropped.
pub fn whole_lines(log: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = log.lines().map(|l| l.trim_end_matches('\r')).collect();
    for i in 1..lines.len() {
        if lines[i].trim_end() == "** replaying previous printk message **" {
            let before = lines[i - 1].trim_end();
            let replayed = lines.get(i + 1).map_or("", |l| l.trim_end());
            if !before.is_empty() && replayed.starts_with(before) {
                lines[i - 1] = "";
            }
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
        assert_eq!(strip_prefix("<3> [  133.631044] BUG: x"), "BUG: x");
        assert_eq!(strip_prefix("<4>[  133.631290]  <TASK>"), " <TASK>");
        assert_eq!(strip_prefix("host login: [  562.316860] BUG: x"), "BUG: x");
        assert_eq!(strip_prefix(" [<ffffffff81234567>] f+0x1/0x2"), " [<ffffffff81234567>] f+0x1/0x2");
        assert_eq!(strip_prefix("<TASK>"), "<TASK>");
        assert_eq!(caller_id("<6>[    3.5][  T123] hello"), Some("T123"));
        assert_eq!(caller_id("[    3.5] [T1] hello"), None);
    }
}
