//! Scenario throughput, all in-process: `scenario-bench [COUNT ...]` (default `1000
//! 10000`).
//!
//! * library: the shipped scenarios except story 18, played in rounds for at least a
//!   second; scenarios/s.
//! * fleet, for each COUNT: story 18 with its fleet resized to COUNT, reported by phase:
//!   - world build: COUNT cards and 2 × COUNT handsets made and the stub set up (the
//!     same file with `registered = false`, nothing powered);
//!   - first registrations: the rest of the engine's setup (every card powered up in
//!     its first handset and registered, standard settings);
//!   - swap phase: the `fleet_swap` step and the hour in which the COUNT swaps happen
//!     (each: power off, card moved, power up, registration, device key signed by the
//!     stub and verified by the handset, OMA CP push, provisioning report), with every
//!     STATUS poll of every powered handset in that hour; swaps/s = COUNT / this;
//!   - the quiet hour after (STATUS polls only);
//!   - how much of each phase was spent inside the stub (`World::server_time`).
//!
//! Every expectation of the file is checked after its step, as `imeitrack run` does.
//! Times are wall-clock on this machine; the machine's load (other builds) shows in
//! them, so read them with the load average printed at the end.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use scenarios::engine::{WorldEngine, WorldFactory};
use scenarios::runner::{Engine as _, EngineOptions, Outcome, check, run_scenario};
use scenarios::scenario::{self, Scenario};
use scenarios::world::ServerTime;

fn fleet_scenario(count: u32, registered: bool) -> Option<Scenario> {
    let path: PathBuf = scenario::library_dir().join("18-ten-thousand-swaps-in-an-hour.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let mut text = text
        .replace("= 10000", &format!("= {count}"))
        .replace("= 20000", &format!("= {}", 2 * count));
    if !registered {
        text = text.replace("registered = true", "registered = false");
    }
    match scenario::parse(&path, &text) {
        Ok(s) => Some(s),
        Err(e) => {
            eprintln!("{e}");
            None
        }
    }
}

fn library() {
    let dir = scenario::library_dir();
    let files = scenario::discover(std::slice::from_ref(&dir)).unwrap_or_default();
    let lib: Vec<_> = files
        .iter()
        .filter(|f| !f.to_string_lossy().contains("18-ten-thousand"))
        .filter_map(|f| scenario::load(f).ok())
        .collect();
    let t = Instant::now();
    let (mut played, mut passed, mut rounds) = (0usize, 0usize, 0usize);
    while rounds == 0 || (t.elapsed() < Duration::from_secs(1) && rounds < 1000) {
        for s in &lib {
            let r = run_scenario(s, &WorldFactory, &EngineOptions::default());
            played += 1;
            passed += usize::from(r.outcome == Outcome::Passed);
        }
        rounds += 1;
    }
    let dt = t.elapsed().as_secs_f64();
    println!(
        "library: {} scenarios × {rounds} rounds ({passed} of {played} passed) in {dt:.3} s = {:.1} scenarios/s",
        lib.len(),
        played as f64 / dt
    );
}

fn stub_share(before: ServerTime, after: ServerTime, phase: Duration) -> String {
    let busy = (after.mo + after.receipts).saturating_sub(before.mo + before.receipts);
    format!(
        "stub {:.3} s = {:.0}% ({} calls)",
        busy.as_secs_f64(),
        100.0 * busy.as_secs_f64() / phase.as_secs_f64().max(1e-9),
        after.mo_calls - before.mo_calls
    )
}

/// Plays story 18 resized to `count`, phase by phase; `false` if it did not pass.
fn fleet(count: u32) -> bool {
    let (Some(bare), Some(s)) = (fleet_scenario(count, false), fleet_scenario(count, true)) else {
        return false;
    };
    let t = Instant::now();
    let built = WorldEngine::new(&bare);
    let build = t.elapsed();
    if let Err(e) = built {
        println!("fleet {count}: world build failed: {e}");
        return false;
    }
    drop(built);
    let t = Instant::now();
    let mut engine = match WorldEngine::new(&s) {
        Ok(e) => e,
        Err(e) => {
            println!("fleet {count}: setup failed: {e}");
            return false;
        }
    };
    let setup = t.elapsed();
    let first = setup.saturating_sub(build);
    let stub0 = engine.world().server_time();
    let apdus0 = engine.world().apdu_count();
    println!(
        "fleet {count}: world build {:.3} s ({count} cards, {} handsets); first registrations {:.3} s ({:.0}/s, {}); {apdus0} APDU records",
        build.as_secs_f64(),
        2 * count,
        first.as_secs_f64(),
        f64::from(count) / first.as_secs_f64().max(1e-9),
        stub_share(ServerTime::default(), stub0, first),
    );
    let mut before = engine.observe();
    let mut swap_phase = Duration::ZERO;
    let mut swap_stub = (stub0, stub0);
    for step in &s.steps {
        let stub_before = engine.world().server_time();
        let apdus_before = engine.world().apdu_count();
        let t = Instant::now();
        if let Err(e) = engine.step(step) {
            println!("  step {} \"{}\": error: {e}", step.index, step.label);
            return false;
        }
        let after = engine.observe();
        let dt = t.elapsed();
        let stub_after = engine.world().server_time();
        println!(
            "  step {} \"{}\": {:.3} s, {} APDU records, {}",
            step.index,
            step.label,
            dt.as_secs_f64(),
            engine.world().apdu_count() - apdus_before,
            stub_share(stub_before, stub_after, dt)
        );
        // The swaps all happen in the fleet_swap step and the hour after it.
        if step.index <= 2 {
            swap_phase += dt;
            swap_stub.1 = stub_after;
        }
        if let Some(exp) = &step.expect {
            let mismatches = check(exp, &before, &after);
            if !mismatches.is_empty() {
                for m in mismatches {
                    println!(
                        "    FAILED: expected {}\n            seen     {}",
                        m.expectation, m.seen
                    );
                }
                return false;
            }
        }
        before = after;
    }
    println!(
        "  swap phase: {count} swaps in {:.3} s = {:.0} swaps/s ({:.1} µs per swap, {})",
        swap_phase.as_secs_f64(),
        f64::from(count) / swap_phase.as_secs_f64().max(1e-9),
        1e6 * swap_phase.as_secs_f64() / f64::from(count.max(1)),
        stub_share(swap_stub.0, swap_stub.1, swap_phase)
    );
    let swaps = engine.swap_time();
    let work = swaps.busy;
    let idle = swap_phase.saturating_sub(work);
    println!(
        "    of which the {} swaps themselves: {:.3} s = {:.1} µs per swap ({:.0} swaps/s, {}); the rest, {:.3} s, is the idle handsets' STATUS polls and the time loop",
        swaps.swaps,
        work.as_secs_f64(),
        1e6 * work.as_secs_f64() / (swaps.swaps.max(1) as f64),
        swaps.swaps as f64 / work.as_secs_f64().max(1e-9),
        stub_share(swap_stub.0, swap_stub.1, work),
        idle.as_secs_f64(),
    );
    let t = Instant::now();
    drop(engine);
    println!("  world dropped in {:.3} s", t.elapsed().as_secs_f64());
    true
}

fn main() {
    let mut counts: Vec<u32> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    if counts.is_empty() {
        counts = vec![1000, 10_000];
    }
    library();
    let mut ok = true;
    for c in counts {
        ok &= fleet(c);
    }
    if let Ok(l) = std::fs::read_to_string("/proc/loadavg") {
        println!(
            "load average: {}",
            l.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
        );
    }
    if !ok {
        std::process::exit(1);
    }
}
