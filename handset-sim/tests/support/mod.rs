//! Shared helpers for the interoperability tests: locating tools, skip-or-fail policy.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// Whether we run under CI (`CI=true`): missing tools fail instead of skipping.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Skips (outside CI) or fails (in CI) because `what` is missing.
pub fn missing(what: &str) {
    if in_ci() {
        panic!("CI=true and {what} is not available");
    }
    eprintln!("SKIP: {what} is not available (set CI=true to make this a failure)");
}

/// The cargo target directory.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

/// A Python interpreter with `smpplib` importable: a venv under `target/` is created
/// (and `pip install smpplib` run) on first use.
pub fn smpplib_python() -> Option<PathBuf> {
    let venv = target_dir().join("smpplib-venv");
    let py = venv.join("bin/python");
    let has = |py: &PathBuf| {
        Command::new(py)
            .args(["-c", "import smpplib"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if has(&py) {
        return Some(py);
    }
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .is_ok_and(|s| s.success());
    if !made {
        return None;
    }
    let installed = Command::new(venv.join("bin/pip"))
        .args([
            "install",
            "-q",
            "--disable-pip-version-check",
            "smpplib==2.2.4",
        ])
        .status()
        .is_ok_and(|s| s.success());
    (installed && has(&py)).then_some(py)
}
