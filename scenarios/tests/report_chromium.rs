//! The HTML report renders in headless Chromium (Debian `chromium`): the report of a
//! real engine run (story 05, the depreciated handset with the manufacturer's key, and
//! the deliberately wrong fixture, so a failing step is drawn) is written,
//! screenshotted, and the PNG checked for size and for more than a handful of colours. With `CI=true` a missing Chromium fails the test; otherwise it skips.
//! The screenshot is kept under `target/tmp/report-screenshot.png` for a human to look at.

use std::path::{Path, PathBuf};
use std::process::Command;

use scenarios::engine::WorldFactory;
use scenarios::report::html::html_report;
use scenarios::runner::{EngineOptions, Outcome, ScenarioResult, run_scenario};
use scenarios::scenario;

/// Story 05 and the deliberately wrong fixture, played by the real engine.
fn real_results() -> Vec<ScenarioResult> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = [
        root.join("05-swap-depreciated-manufacturer-key.toml"),
        root.join("tests/fixtures/deliberately-wrong.toml"),
    ];
    let results: Vec<ScenarioResult> = files
        .iter()
        .map(|f| {
            let s = scenario::load(f).expect("library file loads");
            run_scenario(&s, &WorldFactory, &EngineOptions::default())
        })
        .collect();
    assert_eq!(results[0].outcome, Outcome::Passed);
    assert!(matches!(results[1].outcome, Outcome::Failed(_)));
    results
}

fn chromium() -> Option<PathBuf> {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if let Ok(out) = Command::new("sh")
            .args(["-c", &format!("command -v {name}")])
            .output()
        {
            let p = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            if out.status.success() && !p.is_empty() {
                return Some(PathBuf::from(p));
            }
        }
    }
    None
}

/// PNG signature, length and the IHDR width and height.
fn png_ok(path: &Path) -> (usize, u32, u32) {
    let bytes = std::fs::read(path).expect("screenshot written");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    (bytes.len(), w, h)
}

#[test]
fn html_report_renders_in_headless_chromium() {
    let Some(chrome) = chromium() else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("chromium is not installed (apt-get install chromium) and CI=true");
        }
        eprintln!("SKIP: chromium not installed (apt-get install chromium)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("index.html");
    std::fs::write(
        &html,
        html_report(
            "imeitrack run — story 05 and a wrong expectation",
            &real_results(),
        ),
    )
    .unwrap();
    let profile = tempfile::tempdir().unwrap();
    let png = dir.path().join("out.png");
    let out = Command::new(&chrome)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg("--window-size=1400,900")
        // #e0-3 selects the TERMINAL RESPONSE arrow, filling the side panel.
        .arg(format!("file://{}#e0-3", html.display()))
        .output()
        .expect("run chromium");
    assert!(
        png.exists(),
        "no screenshot; chromium said: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (len, w, h) = png_ok(&png);
    assert_eq!((w, h), (1400, 900));
    // A blank 1400×900 page is well under 10 KB; text, lanes and arrows are far more.
    assert!(
        len > 40_000,
        "screenshot only {len} bytes: page looks empty"
    );
    let keep = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report-screenshot.png");
    std::fs::copy(&png, &keep).unwrap();
    eprintln!("screenshot: {}", keep.display());
}
