//! Scenario throughput: `scenario-bench [COUNT]` plays the library (minus the fleet
//! scenario) and reports scenarios/s, then the 10,000-subscriber scenario with its fleet
//! resized to COUNT (default 10000) and reports SIM swaps/s, all in-process.

use std::path::PathBuf;
use std::time::Instant;

use scenarios::engine::WorldFactory;
use scenarios::runner::{EngineOptions, run_scenario};
use scenarios::scenario;

fn main() {
    let count: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let dir = scenario::library_dir();
    let files = scenario::discover(std::slice::from_ref(&dir)).unwrap_or_default();
    let lib: Vec<_> = files
        .iter()
        .filter(|f| !f.to_string_lossy().contains("18-ten-thousand"))
        .filter_map(|f| scenario::load(f).ok())
        .collect();
    let t = Instant::now();
    let mut passed = 0;
    for s in &lib {
        let r = run_scenario(s, &WorldFactory, &EngineOptions::default());
        passed += usize::from(r.outcome == scenarios::runner::Outcome::Passed);
    }
    let dt = t.elapsed().as_secs_f64();
    println!(
        "library: {} scenarios ({passed} passed) in {dt:.3} s = {:.1} scenarios/s",
        lib.len(),
        lib.len() as f64 / dt
    );
    let path: PathBuf = dir.join("18-ten-thousand-swaps-in-an-hour.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let text = text.replace("count = 10000", &format!("count = {count}"));
    let text = text
        .replace("= 10000", &format!("= {count}"))
        .replace("= 20000", &format!("= {}", 2 * count));
    let Ok(s) = scenario::parse(&path, &text) else {
        eprintln!("cannot load {}", path.display());
        return;
    };
    let t = Instant::now();
    let r = run_scenario(&s, &WorldFactory, &EngineOptions::default());
    let dt = t.elapsed().as_secs_f64();
    println!(
        "fleet: {count} subscribers, {} in {dt:.3} s (world build, {count} first registrations, {count} swaps) = {:.0} swaps/s",
        r.outcome.word(),
        f64::from(count) / dt
    );
    if let scenarios::runner::Outcome::Failed(f) = &r.outcome {
        println!("{f}");
    }
    if let scenarios::runner::Outcome::Error(e) = &r.outcome {
        println!("{e}");
    }
}
