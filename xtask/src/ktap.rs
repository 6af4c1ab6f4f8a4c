// SPDX-License-Identifier: GPL-2.0

//! KTAP output (Documentation/dev-tools/ktap.rst): one line per scenario, and totals.

/// One scenario's line of results.
pub struct Line<'a> {
    pub name: &'a str,
    pub ok: bool,
    /// Why it failed, one item per line; also extra diagnostics such as timings.
    pub diagnostics: Vec<String>,
    /// `# SKIP reason` or `# ERROR reason`-style directive, when there is one.
    pub directive: Option<String>,
}

pub fn header(count: usize) -> String {
    format!("KTAP version 1\n1..{count}\n")
}

/// `ok N name` or `not ok N name`, then its diagnostics as `#` lines.
pub fn line(number: usize, line: &Line) -> String {
    let mut text = format!("{} {number} {}", if line.ok { "ok" } else { "not ok" }, line.name);
    if let Some(directive) = &line.directive {
        text += &format!(" # {directive}");
    }
    text.push('\n');
    for diagnostic in &line.diagnostics {
        for part in diagnostic.lines() {
            text += &format!("# {part}\n");
        }
    }
    text
}

/// kselftest's totals line.
pub fn totals(pass: usize, fail: usize, error: usize) -> String {
    format!("# Totals: pass:{pass} fail:{fail} xfail:0 xpass:0 skip:0 error:{error}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_ktap() {
        let failing = Line {
            name: "mutex",
            ok: false,
            diagnostics: vec!["expected reports [\"a\"]\n  saw []".into(), "console: /x/console.log".into()],
            directive: None,
        };
        let text = header(2)
            + &line(1, &Line { name: "clean", ok: true, diagnostics: vec![], directive: None })
            + &line(2, &failing)
            + &totals(1, 1, 0);
        assert_eq!(
            text,
            "KTAP version 1\n1..2\nok 1 clean\nnot ok 2 mutex\n# expected reports [\"a\"]\n#   saw []\n\
             # console: /x/console.log\n# Totals: pass:1 fail:1 xfail:0 xpass:0 skip:0 error:0\n"
        );
    }
}
