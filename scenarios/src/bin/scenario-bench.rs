//! Scenario throughput.
//!
//! * `scenario-bench [COUNT ...]` (default `1000 10000`), all in-process:
//!   - library: the shipped scenarios except story 18, played in rounds for at least a
//!     second; scenarios/s.
//!   - fleet, for each COUNT: story 18 with its fleet resized to COUNT, by phase:
//!     world build (COUNT cards and 2 × COUNT handsets made and the stub set up: the
//!     same file with `registered = false`, nothing powered); first registrations (the
//!     rest of the engine's setup: every card powered up in its first handset and
//!     registered); the swap phase (the `fleet_swap` step and the hour in which the
//!     COUNT swaps happen, each: power off, card moved, power up, registration, device
//!     key signed and verified, OMA CP push, provisioning report, with every STATUS poll
//!     of every powered handset in that hour; swaps/s = COUNT / this), the swaps' own
//!     time within it (`WorldEngine::swap_time`), the quiet hour after (STATUS polls
//!     only), and how much of each was spent inside the stub (`World::server_time`).
//!     Every expectation of the file is checked after its step, as `imeitrack run`
//!     does. Times are wall-clock; the machine's load shows in them, so the load
//!     average is printed at the end.
//! * `scenario-bench --smpp [COUNT]` plays the fleet scenario resized to COUNT through
//!   SMPP on loopback: the real stub (`provisioning_stub::serve::run`, SQLite store,
//!   configuration from `imeitrack stub-config`) and the manufacturers' key servers
//!   (mutual TLS) run in this process on tokio and bind to the world's SMPP side over
//!   TCP 127.0.0.1, exactly as `imeitrack run --stub` uses them. Reports the setup (world
//!   build and COUNT first registrations) and the swap phase (COUNT swaps, then the quiet
//!   hour) separately, how much of each was spent waiting for the stub (inside the
//!   bridge), and swaps/s with the in-process definition (everything). With
//!   `--setup-only` it stops after the setup (world build and first registrations).
//! * `scenario-bench --smpp-library` plays every other library story the same way, each
//!   against its own fresh stub, and says which pass, fail or are refused.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::sync::atomic::Ordering;

use scenarios::engine::stub_config::{self, StubConfigOptions};
use scenarios::engine::{WorldEngine, WorldFactory};
use scenarios::runner::{Engine as _, EngineOptions, Outcome, check, run_scenario};
use scenarios::scenario::{self, Scenario};
use scenarios::world::ServerTime;
use scenarios::world::smpp_bridge::{BridgeConfig, SmppBridge};

fn fleet_scenario(count: u32) -> Option<Scenario> {
    fleet_scenario_as(count, true)
}

fn fleet_scenario_as(count: u32, registered: bool) -> Option<Scenario> {
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

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let smpp = args.iter().any(|a| a == "--smpp");
    if args.iter().any(|a| a == "--smpp-library") {
        if let Err(e) = library_through_smpp() {
            eprintln!("error: {e:#}");
            std::process::exit(2);
        }
        return;
    }
    if smpp {
        let count: u32 = args.iter().find_map(|a| a.parse().ok()).unwrap_or(10_000);
        let setup_only = args.iter().any(|a| a == "--setup-only");
        if let Err(e) = through_smpp(count, setup_only) {
            eprintln!("error: {e:#}");
            std::process::exit(2);
        }
        return;
    }
    let mut counts: Vec<u32> = args.iter().filter_map(|a| a.parse().ok()).collect();
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
    let (Some(bare), Some(s)) = (
        fleet_scenario_as(count, false),
        fleet_scenario_as(count, true),
    ) else {
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

/// A real stub (`serve::run`) and the manufacturers' key servers on a tokio runtime in
/// this process, configured for one scenario by `stub_config::write`.
struct LoopbackStub {
    rt: tokio::runtime::Runtime,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    files: stub_config::StubFiles,
    /// Where the world must listen.
    addr: std::net::SocketAddr,
    _dir: tempfile::TempDir,
}

impl LoopbackStub {
    fn start(s: &Scenario) -> anyhow::Result<Self> {
        use anyhow::Context as _;
        let dir = tempfile::tempdir()?;
        let addr = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        // Key servers for manufacturers whose keys come from them, on free ports.
        let mut listeners = BTreeMap::new();
        for (id, m) in &s.world.manufacturers {
            if m.keys == scenarios::scenario::format::KeySource::Manufacturer {
                listeners.insert(id.clone(), std::net::TcpListener::bind("127.0.0.1:0")?);
            }
        }
        let mut addrs = BTreeMap::new();
        for (id, l) in &listeners {
            addrs.insert(id.clone(), l.local_addr()?);
        }
        let files = stub_config::write(
            s,
            dir.path(),
            &StubConfigOptions {
                smsc: addr.to_string(),
                manufacturer_addrs: addrs,
                ..StubConfigOptions::default()
            },
        )?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        for m in &files.manufacturers {
            let l = listeners.remove(&m.id).context("listener")?;
            stub_config::start_manufacturer(rt.handle(), m, l)?;
        }
        let config = provisioning_stub::config::StubConfig::load(&files.config)?;
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let db = files.database.display().to_string();
        let task = rt.spawn(async move {
            let store = provisioning_stub::store::AnyStore::open(&db).await?;
            let admin = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            provisioning_stub::serve::run(
                &config,
                store,
                admin,
                Arc::new(provisioning_stub::metrics::Metrics::default()),
                async {
                    let _ = stop_rx.await;
                },
            )
            .await?;
            Ok::<_, anyhow::Error>(())
        });
        Ok(LoopbackStub {
            rt,
            stop: Some(stop_tx),
            task: Some(task),
            files,
            addr,
            _dir: dir,
        })
    }

    /// Graceful shutdown (drain, unbind).
    fn stop(mut self) -> anyhow::Result<()> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            self.rt.block_on(t)??;
        }
        Ok(())
    }
}

/// Every library story but 18 through SMPP on loopback, each with its own fresh stub,
/// through the same path as `imeitrack run --stub --stub-config`.
fn library_through_smpp() -> anyhow::Result<()> {
    let dir = scenario::library_dir();
    let files = scenario::discover(std::slice::from_ref(&dir))?;
    let (mut passed, mut total) = (0, 0);
    for f in files
        .iter()
        .filter(|f| !f.to_string_lossy().contains("18-ten-thousand"))
    {
        let s = scenario::load(f)?;
        total += 1;
        let refused = scenarios::engine::external::refusals(&s, true);
        if !refused.is_empty() {
            println!("REFUSED {}: {}", s.name, refused.join("; "));
            continue;
        }
        let stub = LoopbackStub::start(&s)?;
        let options = EngineOptions {
            stub: Some(stub.addr.to_string()),
            stub_config: Some(stub.files.config.clone()),
            ..EngineOptions::default()
        };
        let r = run_scenario(&s, &WorldFactory, &options);
        stub.stop()?;
        println!(
            "{:<7} {} ({} ms)",
            r.outcome.word(),
            s.name,
            r.elapsed.as_millis()
        );
        match &r.outcome {
            scenarios::runner::Outcome::Passed => passed += 1,
            scenarios::runner::Outcome::Failed(f) => println!("    {f}"),
            scenarios::runner::Outcome::Error(e) => println!("    {e}"),
        }
    }
    println!("{passed} of {total} stories passed through the real stub on loopback");
    Ok(())
}

/// The fleet scenario through SMPP on loopback (see the module docs).
fn through_smpp(count: u32, setup_only: bool) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let s = fleet_scenario(count).context("fleet scenario")?;
    let t = Instant::now();
    let stub = LoopbackStub::start(&s)?;
    let config_s = t.elapsed().as_secs_f64();
    let (world_addr, files) = (stub.addr, stub.files.clone());
    // What `imeitrack run --stub` does (engine::external::start), keeping a handle on
    // the bridge's counters.
    let refused = scenarios::engine::external::refusals(&s, true);
    anyhow::ensure!(refused.is_empty(), "refused: {refused:?}");
    let t = Instant::now();
    let bridge = SmppBridge::start(
        std::net::TcpListener::bind(world_addr)?,
        BridgeConfig {
            store: Some(files.database.clone()),
            ..BridgeConfig::default()
        },
    )?;
    let stats = bridge.stats();
    let mut engine =
        WorldEngine::new_with(&s, Some(Box::new(bridge))).map_err(|e| anyhow::anyhow!("{e}"))?;
    let setup_s = t.elapsed().as_secs_f64();
    let setup_wait = stats.wait();
    if setup_only {
        drop(engine);
        stub.stop().context("stub")?;
        println!(
            "fleet through SMPP on loopback, setup only: world build + {count} first registrations: {setup_s:.3} s = {:.0} registrations/s ({:.3} s of it waiting for the stub: {:.2} ms per MO over {} deliver_sm)",
            f64::from(count) / setup_s,
            setup_wait.as_secs_f64(),
            setup_wait.as_secs_f64() * 1000.0
                / stats.forwarded.load(Ordering::Relaxed).max(1) as f64,
            stats.forwarded.load(Ordering::Relaxed)
        );
        return Ok(());
    }
    let t = Instant::now();
    let mut before = engine.observe();
    let mut outcome = "passed".to_owned();
    for step in &s.steps {
        engine
            .step(step)
            .map_err(|e| anyhow::anyhow!("step {}: {e}", step.index))?;
        let after = engine.observe();
        if let Some(exp) = &step.expect {
            let m = check(exp, &before, &after);
            if !m.is_empty() && outcome == "passed" {
                outcome = format!("FAILED at step {}: {m:?}", step.index);
            }
        }
        before = after;
    }
    let swaps_s = t.elapsed().as_secs_f64();
    let swap_wait = stats.wait() - setup_wait;
    drop(engine);
    stub.stop().context("stub")?;
    let n = f64::from(count);
    println!(
        "fleet through SMPP on loopback (real stub in-process, SQLite synchronous=FULL): {count} subscribers, {outcome}"
    );
    println!("  stub-config (inventory of {count} cards imported) and stub start: {config_s:.3} s");
    println!(
        "  setup: world build + {count} first registrations: {setup_s:.3} s = {:.0} registrations/s ({:.3} s of it waiting for the stub)",
        n / setup_s,
        setup_wait.as_secs_f64()
    );
    println!(
        "  story: {count} swaps + a quiet hour: {swaps_s:.3} s = {:.0} swaps/s ({:.3} s of it waiting for the stub)",
        n / swaps_s,
        swap_wait.as_secs_f64()
    );
    let fwd = stats.forwarded.load(Ordering::Relaxed);
    println!(
        "  bridge: {fwd} deliver_sm, {} acknowledged, {} complete pushes, {} push waits timed out; {:.2} ms per MO waiting for the stub",
        stats.acknowledged.load(Ordering::Relaxed),
        stats.pushes.load(Ordering::Relaxed),
        stats.push_timeouts.load(Ordering::Relaxed),
        stats.wait().as_secs_f64() * 1000.0 / fwd.max(1) as f64
    );
    println!(
        "  all (as the in-process figure: build, first registrations, swaps): {:.3} s = {:.0} swaps/s",
        setup_s + swaps_s,
        n / (setup_s + swaps_s)
    );
    Ok(())
}
