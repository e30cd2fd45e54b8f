//! Helpers shared by the workspace integration tests: locating external tools and
//! deciding whether a missing tool is a skip (developer machine) or a failure (CI).

use std::process::Command;

/// True when running under CI (`CI=true`): missing tools are failures there.
pub fn in_ci() -> bool {
    std::env::var("CI")
        .map(|v| v == "true" || v == "1")
        .unwrap_or(false)
}

/// Returns true when `tool` can be run. When it cannot: panics in CI (a missing tool
/// is a failure there), otherwise prints what to install and returns false so the
/// caller can skip.
pub fn require_tool(tool: &str, package: &str) -> bool {
    let ok = Command::new(tool)
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if ok {
        return true;
    }
    if in_ci() {
        panic!("`{tool}` is required in CI but was not found; install Debian package `{package}`");
    }
    eprintln!("SKIP: `{tool}` not found; install Debian package `{package}` to run this test");
    false
}
