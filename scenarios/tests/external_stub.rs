//! `imeitrack run FILE --stub HOST:PORT --stub-config DIR/stub.toml` against the real
//! `provisioning-stub serve` binary, as a user runs it: `imeitrack stub-config` writes the
//! configuration, the stub is started as a subprocess and binds to the world's SMPP side,
//! the scenario's expectations are checked (verdicts and ledger read from the stub's
//! SQLite store), and the stub's store is inspected afterwards.
//!
//! The stub binary belongs to another package of this workspace, so the test builds it
//! with the same cargo, profile and target directory (`cargo build -p provisioning-stub
//! --bin provisioning-stub`); `IMEITRACK_STUB_BIN` names a prebuilt one instead.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const IMEITRACK: &str = env!("CARGO_BIN_EXE_imeitrack");

fn library() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// The `provisioning-stub` binary, built once per test run.
fn stub_binary() -> PathBuf {
    static BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(build_stub_binary).clone()
}

fn build_stub_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("IMEITRACK_STUB_BIN") {
        return PathBuf::from(p);
    }
    // target/<profile>/deps/external_stub-<hash>
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps");
    let target = profile_dir.parent().expect("target directory");
    let release = profile_dir.file_name().is_some_and(|n| n == "release");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args([
        "build",
        "-p",
        "provisioning-stub",
        "--bin",
        "provisioning-stub",
    ])
    .arg("--target-dir")
    .arg(target)
    .current_dir(env!("CARGO_MANIFEST_DIR"));
    if release {
        cmd.arg("--release");
    }
    let out = cmd.output().expect("running cargo build");
    assert!(
        out.status.success(),
        "cargo build -p provisioning-stub failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bin = profile_dir.join("provisioning-stub");
    assert!(bin.exists(), "{} missing after the build", bin.display());
    bin
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn run(cmd: &mut Command) -> (bool, String, String) {
    let out = cmd.output().expect("running a command");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The stub subprocess; SIGTERM (then SIGKILL) when dropped.
struct Stub {
    child: Child,
    stderr: PathBuf,
}

impl Stub {
    fn start(bin: &Path, dir: &Path) -> Stub {
        let stderr = dir.join("serve.err");
        let child = Command::new(bin)
            .arg("serve")
            .arg("--config")
            .arg(dir.join("stub.toml"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).expect("serve.err"))
            .spawn()
            .expect("starting provisioning-stub serve");
        Stub { child, stderr }
    }

    /// SIGTERM, wait up to 10 s for a graceful exit.
    fn stop(&mut self) -> bool {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if let Ok(Some(s)) = self.child.try_wait() {
                return s.success();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        false
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// What the stub stored, read after it stopped.
#[derive(Debug, Default)]
struct Stored {
    registrations: Vec<(String, String)>,
    issuance_sources: Vec<String>,
    deliveries: i64,
    ledger: Vec<(String, String, i64)>,
}

fn stored(db: &Path) -> Stored {
    let c = rusqlite::Connection::open(db).expect("stub store");
    let mut s = Stored::default();
    let mut q = c
        .prepare("SELECT imei, outcome FROM registrations ORDER BY id")
        .unwrap();
    s.registrations = q
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut q = c
        .prepare("SELECT source FROM key_issuances ORDER BY id")
        .unwrap();
    s.issuance_sources = q
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    s.deliveries = c
        .query_row("SELECT COUNT(*) FROM deliveries", [], |r| r.get(0))
        .unwrap();
    let mut q = c
        .prepare("SELECT kind, party, amount_minor FROM ledger ORDER BY id")
        .unwrap();
    s.ledger = q
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    s
}

/// stub-config → (import with the stub's own CLI when `cli_import`) → serve → run.
fn play(file: &str, cli_import: bool) -> (Stored, String) {
    let (ok, out, err, log, s, html) = play_path(&library().join(file), cli_import, |_| {});
    assert!(
        ok,
        "imeitrack run --stub failed:\n{out}\n{err}\nstub log:\n{log}"
    );
    assert!(out.contains("1 passed, 0 failed, 0 errors"), "{out}");
    (s, html)
}

/// Like [`play`] for any scenario file, with `edit` applied to `stub.toml` first;
/// returns run's success, stdout, stderr, the stub's log, its store and the report.
fn play_path(
    scenario: &Path,
    cli_import: bool,
    edit: impl FnOnce(&mut String),
) -> (bool, String, String, String, Stored, String) {
    let bin = stub_binary();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut cfg = Command::new(IMEITRACK);
    cfg.arg("stub-config")
        .arg(scenario)
        .arg("--out")
        .arg(dir)
        .arg("--smsc")
        .arg(&addr);
    if cli_import {
        cfg.arg("--no-import");
    }
    let (ok, out, err) = run(&mut cfg);
    assert!(ok, "stub-config failed: {out}{err}");
    if cli_import {
        for (verb, csv) in [("import-cards", "cards.csv"), ("import-tac", "devices.csv")] {
            let (ok, out, err) = run(Command::new(&bin)
                .arg("--database")
                .arg(dir.join("stub.db"))
                .arg(verb)
                .arg(dir.join(csv)));
            assert!(ok, "provisioning-stub {verb} failed: {out}{err}");
        }
    }
    let cfg_path = dir.join("stub.toml");
    let mut text = std::fs::read_to_string(&cfg_path).unwrap();
    edit(&mut text);
    std::fs::write(&cfg_path, text).unwrap();
    let mut stub = Stub::start(&bin, dir);
    let report = dir.join("report");
    let (ok, out, err) = run(Command::new(IMEITRACK)
        .arg("run")
        .arg(scenario)
        .arg("--stub")
        .arg(&addr)
        .arg("--stub-config")
        .arg(dir.join("stub.toml"))
        .arg("--report")
        .arg(&report));
    let graceful = stub.stop();
    assert!(
        graceful,
        "the stub did not stop on SIGTERM:\n{}",
        stub.log()
    );
    let html = std::fs::read_to_string(report.join("index.html")).unwrap_or_default();
    (ok, out, err, stub.log(), stored(&dir.join("stub.db")), html)
}

#[test]
fn first_use_through_the_real_stub() {
    let (s, html) = play("01-first-use.toml", true);
    assert_eq!(
        s.registrations,
        [("358765030000018".to_owned(), "accepted".to_owned())]
    );
    assert!(s.issuance_sources.is_empty(), "standard settings: no key");
    assert_eq!(s.deliveries, 1, "one OMA CP push");
    assert!(s.ledger.is_empty(), "{:?}", s.ledger);
    // The ladder shows the stub's answers over TCP.
    assert!(
        html.contains("deliver_sm_resp (ESME_ROK)"),
        "no TCP ack in the report"
    );
    assert!(html.contains("push complete"), "no push in the report");
}

#[test]
fn depreciated_handset_local_key_through_the_real_stub() {
    let (s, html) = play("04-swap-depreciated-local-key.toml", false);
    assert_eq!(
        s.registrations,
        [
            ("358765030000018".to_owned(), "accepted".to_owned()),
            ("352099070000027".to_owned(), "accepted".to_owned())
        ]
    );
    assert_eq!(s.issuance_sources, ["local"]);
    assert_eq!(s.deliveries, 2);
    assert_eq!(
        s.ledger,
        [
            ("fee_request".to_owned(), "bluesky".to_owned(), 150),
            ("download_confirmation".to_owned(), "acme".to_owned(), 0)
        ]
    );
    assert!(
        html.contains("stub store: registration accepted"),
        "store not read"
    );
}

#[test]
fn what_the_world_cannot_see_is_refused() {
    // No --stub-config: the verdicts of story 01 are in a store the world cannot read.
    let (ok, out, err) = run(Command::new(IMEITRACK)
        .arg("run")
        .arg(library().join("01-first-use.toml"))
        .arg("--stub")
        .arg("127.0.0.1:0"));
    assert!(!ok);
    let all = format!("{out}{err}");
    assert!(all.contains("1 errors"), "{all}");
    assert!(
        all.contains("not observable with --stub without --stub-config"),
        "{all}"
    );
    // Stub restarts cannot be driven.
    let (ok, out, err) = run(Command::new(IMEITRACK)
        .arg("run")
        .arg(library().join("13-stub-restarted-mid-flow.toml"))
        .arg("--stub")
        .arg("127.0.0.1:0"));
    assert!(!ok);
    let all = format!("{out}{err}");
    assert!(all.contains("stub stop/start/restart"), "{all}");
    // One scenario per stub.
    let (ok, _, err) = run(Command::new(IMEITRACK)
        .arg("run")
        .arg(library().join("01-first-use.toml"))
        .arg(library().join("02-reboot-same-handset.toml"))
        .arg("--stub")
        .arg("127.0.0.1:0"));
    assert!(!ok);
    assert!(err.contains("exactly one scenario"), "{err}");
}

/// A Globex model released 2016-08-01 under a 48-month age rule is current on the
/// story's day (2020-06-01) and too old today: with `policy_date` (as `stub-config`
/// writes it) the real stub judges it standard, as the story expects; without it the
/// stub judges it on today's date and the expectation fails.
#[test]
fn the_real_stub_judges_age_on_the_storys_date() {
    let text = std::fs::read_to_string(library().join("01-first-use.toml"))
        .unwrap()
        .replace("date = 2026-06-01", "date = 2020-06-01")
        .replace("model = \"globex-g3\"", "model = \"globex-g0\"")
        .replace(
            "[world.policy]",
            "[world.models.globex-g0]\ntac = \"35876500\"\nmanufacturer = \"globex\"\nname = \"G0\"\nreleased = 2016-08-01\n\n[world.policy]",
        )
        .replace("stored_imei = \"358765030000018\", ", "");
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("01-aged.toml");
    std::fs::write(&file, text).unwrap();
    let (ok, out, err, log, s, _) = play_path(&file, false, |_| {});
    assert!(ok, "{out}\n{err}\nstub log:\n{log}");
    assert!(s.issuance_sources.is_empty(), "judged depreciated: {s:?}");
    assert_eq!(s.registrations.len(), 1);
    let (ok, out, err, _, s, _) = play_path(&file, false, |cfg| {
        let kept: Vec<&str> = cfg
            .lines()
            .filter(|l| !l.starts_with("policy_date"))
            .collect();
        *cfg = kept.join("\n");
    });
    assert!(!ok, "passed without policy_date: {out}{err}");
    assert!(out.contains("depreciated = false"), "{out}");
    // Globex's key server is not running: the depreciated device got no key.
    assert!(s.issuance_sources.is_empty(), "{s:?}");
}
