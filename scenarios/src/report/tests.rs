//! Report tests on the synthetic run.

use super::html::html_report;
use super::junit::junit_xml;
use super::sample::synthetic_results;
use super::*;

#[test]
fn summary_table_columns_and_failures() {
    let t = summary_table(&synthetic_results());
    let lines: Vec<&str> = t.lines().collect();
    assert!(lines[0].starts_with("scenario"), "{t}");
    assert!(lines[0].contains("steps  result"), "{t}");
    assert!(
        lines[2].starts_with("swap-depreciated-manufacturer-key    3/3  passed"),
        "{t}"
    );
    assert!(t.contains("deliberately-wrong (tests/deliberately-wrong.toml): step 2 \"power_on phone-a\" (line 31)\n    expected sms_sent = \"handset_changed\"\n    seen     card \"alice\""), "{t}");
    assert!(
        t.contains("not-playable (x.toml): error: engine not built yet"),
        "{t}"
    );
    assert!(
        t.ends_with("3 scenarios: 1 passed, 1 failed, 1 errors\n"),
        "{t}"
    );
    assert_eq!(
        plain_line(&synthetic_results()[0]),
        "passed  swap-depreciated-manufacturer-key  3/3 steps  14 ms"
    );
}

#[test]
fn junit_counts_and_escapes() {
    let x = junit_xml("imeitrack", &synthetic_results());
    assert!(
        x.contains("<testsuite name=\"imeitrack\" tests=\"3\" failures=\"1\" errors=\"1\""),
        "{x}"
    );
    assert!(x.contains("<failure type=\"expectation\" message=\"step 2 &quot;power_on phone-a&quot;: expected sms_sent = &quot;handset_changed&quot;, seen card"), "{x}");
    assert!(
        x.contains("A scenario whose expectation is wrong &lt;on purpose&gt;"),
        "{x}"
    );
    assert!(x.contains("<error type=\"error\" message=\"engine not built yet\">"));
    // Balanced: every testcase closed.
    assert_eq!(
        x.matches("<testcase ").count(),
        x.matches("</testcase>").count()
    );
}

#[test]
fn junit_is_well_formed_per_xmllint_if_present() {
    let Ok(out) = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys,xml.dom.minidom as m; m.parseString(sys.stdin.read()); print('ok')",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin
                .take()
                .unwrap()
                .write_all(junit_xml("s", &synthetic_results()).as_bytes())?;
            c.wait_with_output()
        })
    else {
        return; // no python3: the structural test above still holds
    };
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
}

#[test]
fn html_is_self_contained_with_titles_and_panel_data() {
    let h = html_report("imeitrack run", &synthetic_results());
    // No external assets: the only URL is the SVG namespace.
    assert!(!h.contains("src="), "no external scripts or images");
    assert!(!h.contains("<link"), "no external stylesheets");
    assert_eq!(
        h.matches("http").count(),
        h.matches("http://www.w3.org/2000/svg").count()
    );
    assert_eq!(h.matches("<svg ").count(), 3);
    // Every arrow has a hover title and panel data.
    assert_eq!(h.matches("<g class=\"ev\"").count(), 18);
    assert_eq!(h.matches("<title>").count(), 1 + 18);
    assert!(
        h.contains("data-hex=\"D0 09 81 03 01 26 00 82 02 81 82\""),
        "hex grouped by byte"
    );
    assert!(h.contains("<title>TERMINAL RESPONSE (IMEI)&#10;result: 00 performed successfully&#10;IMEI 352099100000021"));
    assert!(h.contains("step 2 · power_on phone-a · t=0.000s · FAILED"));
    assert!(h.contains("A scenario whose expectation is wrong &lt;on purpose&gt;"));
}
