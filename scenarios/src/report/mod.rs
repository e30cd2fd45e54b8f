//! What a run says: the summary table and plain progress lines ([`summary_table`],
//! [`plain_line`]), JUnit XML for CI ([`junit`]), and the self-contained HTML report
//! with one ladder diagram per scenario ([`html`]).

pub mod html;
pub mod junit;
#[doc(hidden)]
pub mod sample;

use std::time::Duration;

use crate::runner::{Outcome, ScenarioResult};

/// Wall time as `12 ms` / `1.43 s`.
pub fn fmt_wall(d: Duration) -> String {
    if d.as_millis() < 1000 {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

/// Virtual time as `1h 30m 0.250s`-style compact text.
pub fn fmt_virtual(ms: u64) -> String {
    let (h, m, s, milli) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    if h > 0 {
        format!("{h}h{m:02}m{s:02}s")
    } else if m > 0 {
        format!("{m}m{s:02}s")
    } else {
        format!("{s}.{milli:03}s")
    }
}

/// One line per finished scenario, for logs when standard error is not a terminal:
/// `passed  swap-supported  5/5 steps  12 ms`.
pub fn plain_line(r: &ScenarioResult) -> String {
    format!(
        "{:<6}  {}  {}/{} steps  {}",
        r.outcome.word(),
        r.name,
        r.steps_run,
        r.steps_total,
        fmt_wall(r.elapsed)
    )
}

/// The summary table (scenario, steps, result, time, virtual time) followed by the
/// failing expectation or error of every scenario that did not pass, and a totals line.
pub fn summary_table(results: &[ScenarioResult]) -> String {
    let headers = ["scenario", "steps", "result", "time", "virtual"];
    let rows: Vec<[String; 5]> = results
        .iter()
        .map(|r| {
            [
                r.name.clone(),
                format!("{}/{}", r.steps_run, r.steps_total),
                r.outcome.word().to_owned(),
                fmt_wall(r.elapsed),
                fmt_virtual(r.virtual_ms),
            ]
        })
        .collect();
    let mut widths = headers.map(str::len);
    for row in &rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: &[String], out: &mut String| {
        let mut l = String::new();
        for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
            if i > 0 {
                l.push_str("  ");
            }
            // Numbers right-aligned, text left-aligned.
            if i == 1 || i >= 3 {
                l.push_str(&format!("{c:>w$}"));
            } else {
                l.push_str(&format!("{c:<w$}"));
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&headers.map(String::from), &mut out);
    line(&widths.map(|w| "-".repeat(w)), &mut out);
    for row in &rows {
        line(row, &mut out);
    }
    for r in results {
        match &r.outcome {
            Outcome::Passed => {}
            Outcome::Failed(f) => {
                out.push_str(&format!("\n{} ({}): {}\n", r.name, r.path.display(), f));
            }
            Outcome::Error(e) => {
                out.push_str(&format!(
                    "\n{} ({}): error: {e}\n",
                    r.name,
                    r.path.display()
                ));
            }
        }
    }
    let count = |w: &str| results.iter().filter(|r| r.outcome.word() == w).count();
    out.push_str(&format!(
        "\n{} scenarios: {} passed, {} failed, {} errors\n",
        results.len(),
        count("passed"),
        count("FAILED"),
        count("ERROR")
    ));
    out
}

/// Escapes text for XML and HTML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            '\n' => o.push_str("&#10;"),
            // Characters XML 1.0 forbids.
            c if (c as u32) < 0x20 && c != '\t' && c != '\r' => o.push('\u{FFFD}'),
            c => o.push(c),
        }
    }
    o
}

#[cfg(test)]
pub(crate) mod tests;
