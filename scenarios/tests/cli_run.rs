//! The `imeitrack` binary itself, as CI and a user run it: the whole shipped library on
//! the embedded default (exit 0, every story passed, plain lines when stdout is not a
//! terminal, JUnit and HTML written, `--jobs 2`), and a deliberately wrong expectation
//! (exit 1, the step, the expectation and what was seen instead).

use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn imeitrack() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_imeitrack"));
    c.current_dir(workspace());
    c
}

#[test]
fn the_whole_library_passes_through_the_imeitrack_binary() {
    let out_dir = tempfile::tempdir().unwrap();
    let junit = out_dir.path().join("junit.xml");
    let report = out_dir.path().join("report");
    let out = imeitrack()
        .args(["run", "scenarios/", "--jobs", "2", "--junit"])
        .arg(&junit)
        .arg("--report")
        .arg(&report)
        .output()
        .expect("run imeitrack");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let library: Vec<_> = std::fs::read_dir(workspace().join("scenarios"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .filter(|p| p.file_name().is_some_and(|n| n != "Cargo.toml"))
        .collect();
    assert!(library.len() >= 18, "{library:?}");
    let n = library.len();
    assert!(
        stdout.contains(&format!("{n} scenarios: {n} passed, 0 failed, 0 errors")),
        "{stdout}"
    );
    // Not a terminal: one plain line per scenario, no progress bar escapes.
    for p in &library {
        let stem = p.file_stem().unwrap().to_string_lossy();
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with("passed") && l.contains(&*stem)),
            "no plain line for {stem}:\n{stdout}"
        );
    }
    assert!(!stdout.contains('\u{1b}') && !stderr.contains('\u{1b}'));
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains(&format!("tests=\"{n}\" failures=\"0\" errors=\"0\"")),
        "{xml}"
    );
    let html = std::fs::read_to_string(report.join("index.html")).unwrap();
    assert!(html.contains("18-ten-thousand-swaps-in-an-hour"));
}

#[test]
fn a_wrong_expectation_exits_1_naming_step_expectation_and_what_was_seen() {
    let out = imeitrack()
        .args(["run", "scenarios/tests/fixtures/deliberately-wrong.toml"])
        .output()
        .expect("run imeitrack");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("step 2 \"power_on phone-a\" (line 29)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("expected sms_sent = \"handset_changed\""),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "seen     card \"alice\" sent 1 registration SMS during this step: first_use"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("1 scenarios: 0 passed, 1 failed, 0 errors"));
}
