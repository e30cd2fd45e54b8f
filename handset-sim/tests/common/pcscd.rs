//! Real PC/SC stack for tests: make sure `pcscd` (with the vsmartcard `vpcd` driver)
//! runs, serve a test card on a vpcd slot, and wait for PC/SC to see it.
//!
//! Policy: with `CI=true` a missing piece is a test failure; otherwise the test is
//! skipped with a message naming the Debian package.
//! `pcscd` is started here when absent (`pcscd -f` in the background, as in
//! `/work/shared/research/tools-on-these-machines.md` §1) and left running for later
//! tests and test binaries.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use handset_sim::reader::pcsc::{PcscReader, list_readers};
use handset_sim::vpcd::{VpcdConfig, serve_vpcd};
use handset_sim::{ReaderError, VirtualCard};

/// Where Debian's `vsmartcard-vpcd` installs the driver.
pub const VPCD_DRIVER: &str = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so";
/// pcscd's client socket.
pub const PCSCD_SOCKET: &str = "/run/pcscd/pcscd.comm";

/// Whether missing tools fail (CI) or skip the test.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Reports a missing prerequisite: panics in CI, prints a skip notice otherwise.
/// Always returns `false` (so callers can `return` on it).
pub fn missing(what: &str, package: &str) -> bool {
    let msg = format!("{what} (Debian package `{package}`)");
    if in_ci() {
        panic!("CI=true and a prerequisite is missing: {msg}");
    }
    eprintln!("SKIP: {msg}");
    false
}

/// Whether `prog` is an executable on PATH (or an absolute path that exists).
pub fn have_program(prog: &str) -> bool {
    if prog.contains('/') {
        return Path::new(prog).exists();
    }
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|d| d.join(prog).is_file()))
        .unwrap_or(false)
        || ["/usr/sbin", "/sbin"]
            .iter()
            .any(|d| Path::new(d).join(prog).is_file())
}

fn pcscd_program() -> Option<String> {
    ["pcscd", "/usr/sbin/pcscd"]
        .into_iter()
        .find(|p| have_program(p))
        .map(str::to_owned)
}

fn vpcd_readers_visible() -> Result<bool, ReaderError> {
    Ok(list_readers()?.iter().any(|r| r.starts_with("Virtual PCD")))
}

/// Starts `pcscd` unless one answers already; waits until it lists the vpcd readers.
fn start_pcscd() -> Result<(), String> {
    match vpcd_readers_visible() {
        Ok(true) => return Ok(()),
        Ok(false) => {
            return Err("pcscd is running but lists no `Virtual PCD` reader \
                        (vpcd driver installed after pcscd started? restart pcscd)"
                .into());
        }
        Err(ReaderError::NoService) => {}
        Err(e) => return Err(format!("pcscd answered strangely: {e}")),
    }
    let prog = pcscd_program().ok_or("pcscd not found")?;
    std::fs::create_dir_all("/run/pcscd").map_err(|e| format!("mkdir /run/pcscd: {e}"))?;
    // Stale files from a crashed pcscd keep a new one from starting.
    let _ = std::fs::remove_file(PCSCD_SOCKET);
    let _ = std::fs::remove_file("/run/pcscd/pcscd.pid");
    let log = std::env::temp_dir().join("handset-sim-tests-pcscd.log");
    let out = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let child = Command::new(&prog)
        .arg("-f")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("cannot start {prog}: {e}"))?;
    eprintln!(
        "started `{prog} -f` (pid {}, log {}); it stays running",
        child.id(),
        log.display()
    );
    // Intentionally not waited for: pcscd outlives this test binary.
    drop(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if Path::new(PCSCD_SOCKET).exists() && matches!(vpcd_readers_visible(), Ok(true)) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "pcscd did not come up with the vpcd readers within 10 s (see {})",
                log.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Stops the running `pcscd` (pid from `/run/pcscd/pcscd.pid`, which ends in a NUL
/// byte) with SIGTERM, waits for it to go, and starts a new one. Disruptive for
/// anyone else using this pcscd: only for opt-in (`#[ignore]`) tests.
pub fn restart_pcscd() {
    let raw = std::fs::read("/run/pcscd/pcscd.pid").expect("no pcscd pid file");
    let pid = String::from_utf8_lossy(&raw)
        .trim_matches(|c: char| !c.is_ascii_digit())
        .to_owned();
    assert!(!pid.is_empty(), "unreadable pcscd pid file");
    let status = Command::new("kill").arg(&pid).status().expect("kill");
    assert!(status.success(), "kill {pid} failed");
    wait_for("pcscd to exit", || {
        !Path::new(&format!("/proc/{pid}")).exists()
    });
    if let Err(e) = start_pcscd() {
        panic!("pcscd did not come back: {e}");
    }
}

/// Makes sure `pcscd` with the vpcd driver runs. `false` = skip the test (outside CI).
pub fn pcscd_ready() -> bool {
    if pcscd_program().is_none() {
        return missing("pcscd is not installed", "pcscd");
    }
    if !Path::new(VPCD_DRIVER).exists() {
        return missing("the vpcd driver is not installed", "vsmartcard-vpcd");
    }
    static STARTED: OnceLock<Result<(), String>> = OnceLock::new();
    match STARTED.get_or_init(start_pcscd) {
        Ok(()) => true,
        Err(e) => panic!("cannot get a usable pcscd: {e}"),
    }
}

/// One lock per vpcd slot: tests in one binary run on parallel threads.
pub fn lock_slot(slot: u16) -> MutexGuard<'static, ()> {
    static SLOTS: [Mutex<()>; 2] = [Mutex::new(()), Mutex::new(())];
    SLOTS[usize::from(slot)]
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// PC/SC name of vpcd slot `n` (`/work/shared/spec/07-vpcd.md` §1).
pub fn reader_name(slot: u16) -> String {
    format!("Virtual PCD 00 {slot:02}")
}

/// A card served on a vpcd slot by a background thread; stops on drop.
pub struct Served {
    slot: u16,
    shutdown: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Served {
    /// Serves `card` on vpcd `slot` (port 35963 + slot).
    pub fn start<C: VirtualCard + Send + 'static>(card: C, slot: u16) -> Self {
        let shutdown = Arc::new(AtomicBool::new(false));
        let flag = shutdown.clone();
        let thread = std::thread::spawn(move || {
            let mut config = VpcdConfig::slot(slot);
            config.give_up_after = Some(Duration::from_secs(15));
            if let Err(e) = serve_vpcd(card, &config, &flag) {
                eprintln!("serve_vpcd on slot {slot} ended: {e}");
            }
        });
        Self {
            slot,
            shutdown,
            thread: Some(thread),
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.shutdown.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        wait_until_empty(self.slot);
    }
}

/// Waits (bounded, 5 s) until pcscd reports vpcd slot `slot` empty.
///
/// Gotcha: if a new virtual card connects before pcscd's next presence poll noticed the
/// old one leave, pcscd never sees a removal and keeps the old card's ATR and power
/// state; the next test would talk to a "card" pcscd believes is the old one.
pub fn wait_until_empty(slot: u16) {
    let Ok(ctx) = pcsc::Context::establish(pcsc::Scope::User) else {
        return;
    };
    let Ok(name) = std::ffi::CString::new(reader_name(slot)) else {
        return;
    };
    let mut states = [pcsc::ReaderState::new(name, pcsc::State::UNAWARE)];
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if ctx
            .get_status_change(Duration::from_millis(500), &mut states)
            .is_ok()
        {
            if states[0].event_state().contains(pcsc::State::EMPTY) {
                return;
            }
            states[0].sync_current_state();
        }
    }
    eprintln!("pcscd still shows a card in slot {slot} 5 s after the virtual card left");
}

/// Polls (bounded, ~15 s) until `cond` is true; pcscd notices a new virtual card
/// about a second after it connects (tools notes §1).
pub fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Connects a [`PcscReader`] to vpcd slot `slot` once PC/SC shows a card with
/// exactly `atr` (our card, not a stale or foreign one). Bounded retries.
pub fn connect_when_ready(slot: u16, atr: &[u8]) -> PcscReader {
    let name = reader_name(slot);
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut last;
    loop {
        match PcscReader::open_exact(&name).and_then(|mut r| r.connect_keep().map(|a| (r, a))) {
            Ok((r, seen)) if seen == atr => return r,
            Ok((mut r, seen)) => {
                last = format!("ATR {} is not ours", hex::encode_upper(seen));
                r.release();
            }
            Err(
                e @ (ReaderError::NoCard | ReaderError::NoReader(_) | ReaderError::CardRemoved),
            ) => {
                last = e.to_string();
            }
            Err(e) => last = e.to_string(),
        }
        assert!(
            Instant::now() < deadline,
            "card never appeared in {name:?}: {last} \
             (is another virtual card attached to this vpcd slot?)"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A tag for a test card's ATR, unique per call within this process and differing
/// between processes: lets [`connect_when_ready`] tell the new card from the one the
/// previous test served on the same slot (pcscd notices a removal only at its next poll).
pub fn atr_tag(slot: u16) -> [u8; 3] {
    static COUNTER: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let pid = std::process::id();
    [pid as u8, n, slot as u8]
}

/// `handset-sim serve-vpcd` running as a child process on a vpcd slot; on drop it gets
/// SIGTERM (a clean shutdown: NVM saved, trace flushed), is waited for, and the slot is
/// waited empty.
pub struct ServedProcess {
    slot: u16,
    child: Option<std::process::Child>,
}

impl ServedProcess {
    /// Starts `handset-sim serve-vpcd --port (35963 + slot) ARGS…` (stderr inherited).
    pub fn start(bin: &str, slot: u16, args: &[&str]) -> Self {
        let port = (handset_sim::vpcd::VPCD_PORT + slot).to_string();
        let child = Command::new(bin)
            .args(["serve-vpcd", "--port", &port])
            .args(args)
            .stdin(Stdio::null())
            .spawn()
            .expect("start handset-sim serve-vpcd");
        Self {
            slot,
            child: Some(child),
        }
    }

    /// Stops the server with SIGTERM and returns its exit status.
    pub fn stop(&mut self) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Ok(Some(st)) = child.try_wait() {
                break Some(st);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                break child.wait().ok();
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        wait_until_empty(self.slot);
        status
    }
}

impl Drop for ServedProcess {
    fn drop(&mut self) {
        self.stop();
    }
}
