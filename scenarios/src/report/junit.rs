//! JUnit XML (the de-facto schema read by Jenkins, GitLab and GitHub test reporters):
//! one `<testsuite>` per run, one `<testcase>` per scenario, `<failure>` for a failed
//! expectation and `<error>` for a scenario that could not be played.

use super::escape;
use crate::runner::{Outcome, ScenarioResult};

/// The JUnit XML document for a run; `suite` names the test suite.
pub fn junit_xml(suite: &str, results: &[ScenarioResult]) -> String {
    let failures = results
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Failed(_)))
        .count();
    let errors = results
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Error(_)))
        .count();
    let total: f64 = results.iter().map(|r| r.elapsed.as_secs_f64()).sum();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.push_str(&format!(
        "<testsuites name=\"{s}\" tests=\"{n}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{total:.3}\">\n  <testsuite name=\"{s}\" tests=\"{n}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"0\" time=\"{total:.3}\">\n",
        s = escape(suite),
        n = results.len(),
    ));
    for r in results {
        x.push_str(&format!(
            "    <testcase classname=\"{}\" name=\"{}\" file=\"{}\" time=\"{:.3}\">\n",
            escape(suite),
            escape(&r.name),
            escape(&r.path.display().to_string()),
            r.elapsed.as_secs_f64()
        ));
        match &r.outcome {
            Outcome::Passed => {}
            Outcome::Failed(f) => {
                let first = f
                    .mismatches
                    .first()
                    .map(|m| format!(": expected {}, seen {}", m.expectation, m.seen))
                    .unwrap_or_default();
                x.push_str(&format!(
                    "      <failure type=\"expectation\" message=\"{}\">{}</failure>\n",
                    escape(&format!("step {} \"{}\"{first}", f.step, f.label)),
                    escape(&f.to_string())
                ));
            }
            Outcome::Error(e) => x.push_str(&format!(
                "      <error type=\"error\" message=\"{}\">{}</error>\n",
                escape(e),
                escape(e)
            )),
        }
        x.push_str(&format!(
            "      <system-out>{}</system-out>\n    </testcase>\n",
            escape(&format!(
                "{}\nseed {}; {}/{} steps; virtual time {} ms",
                r.title, r.seed, r.steps_run, r.steps_total, r.virtual_ms
            ))
        ));
    }
    x.push_str("  </testsuite>\n</testsuites>\n");
    x
}
