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

/// Running tshark on a capture file and reading its output.
pub mod tshark {
    use std::path::Path;
    use std::process::Command;

    /// Runs `tshark -r pcap -T fields` with one `-e` per entry of `fields`, separator TAB,
    /// all occurrences joined with `,`. Returns one row per frame, one cell per field.
    ///
    /// Panics (test failure) when tshark fails or prints nothing on stdout; stderr (which
    /// carries a harmless "running as root" warning on these machines) is shown then.
    pub fn fields(pcap: &Path, fields: &[&str]) -> Vec<Vec<String>> {
        let mut cmd = Command::new("tshark");
        cmd.arg("-n").arg("-r").arg(pcap).args(["-T", "fields"]);
        cmd.args([
            "-E",
            "separator=/t",
            "-E",
            "occurrence=a",
            "-E",
            "aggregator=,",
        ]);
        for f in fields {
            cmd.args(["-e", f]);
        }
        let out = cmd.output().expect("running tshark");
        let stdout = String::from_utf8(out.stdout).expect("tshark output is UTF-8");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && !stdout.trim().is_empty(),
            "tshark -T fields printed nothing (status {}); stderr:\n{stderr}",
            out.status
        );
        stdout
            .lines()
            .map(|l| {
                let mut row: Vec<String> = l.split('\t').map(str::to_owned).collect();
                row.resize(fields.len(), String::new());
                row
            })
            .collect()
    }

    /// Frame numbers that match the display filter `filter` (`tshark -Y`).
    pub fn matching_frames(pcap: &Path, filter: &str) -> Vec<u32> {
        let out = Command::new("tshark")
            .arg("-n")
            .arg("-r")
            .arg(pcap)
            .args(["-Y", filter, "-T", "fields", "-e", "frame.number"])
            .output()
            .expect("running tshark");
        assert!(
            out.status.success(),
            "tshark -Y {filter:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.trim().parse().expect("frame number"))
            .collect()
    }

    /// The packet details (`tshark -V`) of every frame, one string per frame, in order
    /// (split at the `Frame N: … bytes on wire` lines).
    pub fn details(pcap: &Path) -> Vec<String> {
        let out = Command::new("tshark")
            .arg("-n")
            .arg("-r")
            .arg(pcap)
            .arg("-V")
            .output()
            .expect("running tshark");
        assert!(
            out.status.success(),
            "tshark -V failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut frames: Vec<String> = Vec::new();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            if line.starts_with("Frame ") && line.contains(" bytes on wire") {
                frames.push(String::new());
            }
            if let Some(f) = frames.last_mut() {
                f.push_str(line);
                f.push('\n');
            }
        }
        frames
    }

    /// Frames tshark marks malformed or with an expert item of severity warning or error.
    pub fn malformed_or_warning_frames(pcap: &Path) -> Vec<u32> {
        matching_frames(pcap, "_ws.malformed || _ws.expert.severity >= warning")
    }

    /// A numeric cell as tshark prints it: `0x…` hex, decimal, or `True`/`False`
    /// (booleans). `None` for anything else.
    pub fn number(cell: &str) -> Option<u64> {
        let c = cell.trim();
        if let Some(h) = c.strip_prefix("0x") {
            return u64::from_str_radix(h, 16).ok();
        }
        match c {
            "True" => Some(1),
            "False" => Some(0),
            _ => c.parse().ok(),
        }
    }
}
