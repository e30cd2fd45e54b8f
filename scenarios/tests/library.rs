//! The shipped scenario library (`scenarios/*.toml`) and `imeitrack run | list | check`.

use std::path::{Path, PathBuf};
use std::process::Command;

use scenarios::scenario;

fn imeitrack(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_imeitrack"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run imeitrack");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn library() -> Vec<PathBuf> {
    scenario::discover(&[PathBuf::from(env!("CARGO_MANIFEST_DIR"))]).unwrap()
}

/// Issue 7's list, one file each.
const REQUIRED: [&str; 18] = [
    "01-first-use",
    "02-reboot-same-handset",
    "03-swap-supported",
    "04-swap-depreciated-local-key",
    "05-swap-depreciated-manufacturer-key",
    "06-swap-back",
    "07-no-toolkit",
    "08-invalid-imei",
    "09-sms-failure-then-retry",
    "10-retries-exhausted",
    "11-smsc-down-for-an-hour",
    "12-power-cut-during-imei-commit",
    "13-stub-restarted-mid-flow",
    "14-forged-and-replayed-registrations",
    "15-unknown-tac",
    "16-pin-protected-card",
    "17-five-handsets-in-a-day",
    "18-ten-thousand-swaps-in-an-hour",
];

#[test]
fn every_library_scenario_validates_and_has_expectations() {
    let files = library();
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    for r in REQUIRED {
        assert!(names.iter().any(|n| n == r), "missing {r}.toml");
    }
    for f in &files {
        let s = scenario::load(f).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            s.steps.iter().any(|st| st.expect.is_some()),
            "{} has no expectation",
            f.display()
        );
        assert!(!s.title.is_empty());
    }
}

#[test]
fn check_accepts_the_library() {
    let (rc, out, err) = imeitrack(&["check", "."]);
    assert_eq!(rc, 0, "{err}");
    assert_eq!(
        out.lines().filter(|l| l.starts_with("ok  ")).count(),
        library().len()
    );
}

#[test]
fn list_shows_titles() {
    let (rc, out, err) = imeitrack(&["list"]);
    assert_eq!(rc, 0, "{err}");
    assert_eq!(out.lines().count(), library().len(), "{out}");
    assert!(out.contains("05-swap-depreciated-manufacturer-key    6 steps  Swap to a depreciated handset on an MVNO, key from the manufacturer (FIG. 5B)"), "{out}");
}

#[test]
fn check_reports_file_line_column_and_expected() {
    let dir = tempfile::tempdir().unwrap();
    let src = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/deliberately-wrong.toml"),
    )
    .unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        src.replace("power_on = \"phone-a\"", "power_on = \"phone-z\""),
    )
    .unwrap();
    let (rc, _, err) = imeitrack(&["check", bad.to_str().unwrap()]);
    assert_eq!(rc, 1);
    let want = format!(
        "{}:30:12: unknown handset `phone-z`; expected one of: phone-a\n   |\n30 | power_on = \"phone-z\"\n   |            ^^^^^^^^^",
        bad.display()
    );
    assert!(err.contains(&want), "{err}");
    assert!(err.contains("1 of 1 files invalid"), "{err}");
}

#[test]
fn the_deliberately_wrong_fixture_is_valid() {
    let (rc, _, err) = imeitrack(&["check", "tests/fixtures/deliberately-wrong.toml"]);
    assert_eq!(rc, 0, "{err}");
}
