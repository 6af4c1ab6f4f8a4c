// SPDX-License-Identifier: GPL-2.0

//! JUnit XML for CI dashboards: one `testcase` per scenario and per lab block.

use crate::results::{Kind, Status, TestResult};

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out += "&amp;",
            '<' => out += "&lt;",
            '>' => out += "&gt;",
            '"' => out += "&quot;",
            '\'' => out += "&apos;",
            // XML 1.0 has no escape for most control characters: leave them out.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

pub fn render(results: &[TestResult]) -> String {
    let count = |status: Status| results.iter().filter(|r| r.status == status).count();
    let total: f64 = results.iter().map(|r| r.seconds).sum();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    xml += &format!(
        "<testsuites>\n<testsuite name=\"irqlock\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{total:.1}\">\n",
        results.len(),
        count(Status::Fail),
        count(Status::Error)
    );
    for r in results {
        xml += &format!(
            "  <testcase classname=\"{}\" name=\"{}\" time=\"{:.1}\">\n",
            match r.kind {
                Kind::Scenario => "irqlock.scenario",
                Kind::LabBlock => "irqlock.lab",
                Kind::KUnit => "irqlock.kunit",
            },
            escape(&r.name),
            r.seconds
        );
        match r.status {
            Status::Pass => {}
            Status::Fail => {
                let first = r.failures.first().map(String::as_str).unwrap_or("failed");
                let first = first.lines().next().unwrap_or(first);
                xml += &format!(
                    "    <failure message=\"{}\">{}\nconsole: {}</failure>\n",
                    escape(first),
                    escape(&r.failures.join("\n")),
                    escape(&r.console.display().to_string())
                );
            }
            Status::Error => {
                let message = r.error.as_deref().unwrap_or("could not run");
                xml += &format!("    <error message=\"could not run\">{}</error>\n", escape(message));
            }
        }
        let titles: Vec<&str> = r.reports.iter().map(|rep| rep.title.as_str()).collect();
        xml += &format!("    <system-out>{}</system-out>\n", escape(&titles.join("\n")));
        xml += "  </testcase>\n";
    }
    xml + "</testsuite>\n</testsuites>\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(name: &str, status: Status, failures: &[&str]) -> TestResult {
        TestResult {
            seconds: 1.25,
            error: (status == Status::Error).then(|| "QEMU failed".to_string()),
            console: "/c <1>.log".into(),
            ..crate::testutil::result(name, Kind::Scenario, status, failures)
        }
    }

    #[test]
    fn renders_pass_fail_and_error() {
        let xml = render(&[
            result("ok", Status::Pass, &[]),
            result("bad", Status::Fail, &["expected reports [\"a<b\"]\n  saw []"]),
            result("broken", Status::Error, &[]),
        ]);
        assert!(xml.contains("tests=\"3\" failures=\"1\" errors=\"1\" time=\"3.8\""), "{xml}");
        assert!(xml.contains(
            "<testcase classname=\"irqlock.scenario\" name=\"ok\" time=\"1.2\">\n    <system-out>"
        ));
        assert!(xml.contains("<failure message=\"expected reports [&quot;a&lt;b&quot;]\">"), "{xml}");
        assert!(xml.contains("console: /c &lt;1&gt;.log</failure>"));
        assert!(xml.contains("<error message=\"could not run\">QEMU failed</error>"));
    }

    #[test]
    fn leaves_out_control_characters() {
        assert_eq!(escape("a\u{1b}[31mb\n"), "a[31mb\n");
    }
}
