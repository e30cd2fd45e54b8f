//! Serve a [`VirtualCard`] to a real `pcscd` through the vsmartcard `vpcd` driver.
//!
//! This is the "virtual ICC" (vicc) side of the vpcd socket protocol
//! (`/work/shared/spec/07-vpcd.md`): the `vpcd` driver inside `pcscd` listens on
//! `127.0.0.1:35963` (slot 0; slot *n* on 35963 + *n*, §1); the vicc connects. Every
//! message in both directions is a 2-byte big-endian length and that many bytes (§2).
//! One-byte messages from vpcd are control codes — `00` power off, `01` power on,
//! `02` reset, `04` get ATR (also the idle presence poll); only `04` gets a reply.
//! Longer messages are command APDUs, answered with the full response APDU. vpcd does no
//! T=0 processing, so the card's `61xx` reaches the PC/SC client unchanged.
//!
//! [`serve_vpcd`] keeps the card attached across `pcscd` restarts: when the socket
//! closes it powers the card off and reconnects with exponential back-off.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tracing::{debug, info, trace, warn};

use crate::card::VirtualCard;
use crate::reader::{ReaderError, Result};

/// TCP port of vpcd slot 0 (`VPCDPORT`, `/work/shared/spec/07-vpcd.md` §1; `0x8C7B`).
pub const VPCD_PORT: u16 = 35963;

/// vpcd control code: power off (`/work/shared/spec/07-vpcd.md` §2). No reply.
pub const CTRL_POWER_OFF: u8 = 0x00;
/// vpcd control code: power on (cold reset). No reply.
pub const CTRL_POWER_ON: u8 = 0x01;
/// vpcd control code: reset (warm reset). No reply.
pub const CTRL_RESET: u8 = 0x02;
/// vpcd control code: get ATR; also vpcd's presence poll. Reply: the ATR.
pub const CTRL_GET_ATR: u8 = 0x04;

/// Where and how [`serve_vpcd`] connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VpcdConfig {
    /// Address of the vpcd listener (default `127.0.0.1:35963`, slot 0).
    pub addr: SocketAddr,
    /// First reconnect delay after a refused or dropped connection.
    pub retry_initial: Duration,
    /// Upper bound of the doubling reconnect delay.
    pub retry_max: Duration,
    /// Give up with an error when no connection succeeded for this long; `None`
    /// retries until shutdown.
    pub give_up_after: Option<Duration>,
    /// How often a blocked read wakes up to look at the shutdown flag.
    pub poll_interval: Duration,
}

impl Default for VpcdConfig {
    fn default() -> Self {
        Self::slot(0)
    }
}

impl VpcdConfig {
    /// Slot `n` of the local vpcd driver: `127.0.0.1:(35963 + n)`.
    pub fn slot(n: u16) -> Self {
        Self::new(SocketAddr::from((
            Ipv4Addr::LOCALHOST,
            VPCD_PORT.saturating_add(n),
        )))
    }

    /// Any vpcd listener address.
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            retry_initial: Duration::from_millis(100),
            retry_max: Duration::from_secs(2),
            give_up_after: None,
            poll_interval: Duration::from_millis(100),
        }
    }
}

/// Serves `card` to vpcd until `shutdown` becomes true, then returns the card.
///
/// Blocks the calling thread (run it on its own thread). Connection refused or lost
/// (e.g. `pcscd` restarted) → the card is powered off and the connection retried with
/// back-off from [`VpcdConfig::retry_initial`] to [`VpcdConfig::retry_max`]. Returns an
/// error only when [`VpcdConfig::give_up_after`] is set and elapsed without a
/// connection. `shutdown` is checked at least every [`VpcdConfig::poll_interval`].
pub fn serve_vpcd<C: VirtualCard>(
    mut card: C,
    config: &VpcdConfig,
    shutdown: &AtomicBool,
) -> Result<C> {
    let mut delay = config.retry_initial;
    let mut since = Instant::now();
    let mut last_error: Option<io::Error> = None;
    while !shutdown.load(Ordering::Relaxed) {
        match TcpStream::connect_timeout(&config.addr, Duration::from_secs(1)) {
            Ok(stream) => {
                info!(addr = %config.addr, "connected to vpcd");
                delay = config.retry_initial;
                let mut session = Session::new(stream, &mut card, config)?;
                let end = session.run(shutdown);
                session.detach();
                match end {
                    Ok(()) => break,
                    Err(e) => warn!(addr = %config.addr, error = %e, "vpcd connection ended"),
                }
                since = Instant::now();
            }
            Err(e) => {
                if last_error.is_none() {
                    info!(addr = %config.addr, error = %e, "vpcd not reachable yet; retrying");
                } else {
                    debug!(addr = %config.addr, error = %e, "vpcd connect failed");
                }
                last_error = Some(e);
                if let Some(limit) = config.give_up_after
                    && since.elapsed() >= limit
                {
                    let e = last_error.unwrap_or_else(|| io::ErrorKind::TimedOut.into());
                    return Err(ReaderError::Io(e));
                }
                sleep_unless(shutdown, delay, config.poll_interval);
                delay = (delay * 2).min(config.retry_max);
            }
        }
    }
    info!(addr = %config.addr, "vpcd server stopped");
    Ok(card)
}

/// Sleeps `total`, waking every `step` to honour `shutdown`.
fn sleep_unless(shutdown: &AtomicBool, total: Duration, step: Duration) {
    let end = Instant::now() + total;
    while !shutdown.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now >= end {
            break;
        }
        std::thread::sleep((end - now).min(step));
    }
}

/// One vpcd connection: framing plus the card's power state.
struct Session<'c, C: VirtualCard> {
    stream: TcpStream,
    card: &'c mut C,
    powered: bool,
    buf: Vec<u8>,
}

/// Warn once when vpcd says nothing this long after connecting (another vicc may hold
/// the slot: the kernel completes our TCP handshake, but vpcd serves one vicc per slot).
const SILENT_WARNING: Duration = Duration::from_secs(5);

impl<'c, C: VirtualCard> Session<'c, C> {
    fn new(stream: TcpStream, card: &'c mut C, config: &VpcdConfig) -> Result<Self> {
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(config.poll_interval))?;
        Ok(Self {
            stream,
            card,
            powered: false,
            buf: Vec::with_capacity(512),
        })
    }

    /// Runs until shutdown (`Ok`) or until the connection fails (`Err`).
    fn run(&mut self, shutdown: &AtomicBool) -> Result<()> {
        while let Some(frame) = self.read_frame(shutdown)? {
            self.handle(&frame)?;
        }
        Ok(())
    }

    /// Powers the card off if the connection left it powered.
    fn detach(&mut self) {
        if self.powered {
            self.card.power_off();
            self.powered = false;
        }
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }

    fn handle(&mut self, frame: &[u8]) -> Result<()> {
        match frame {
            [] => {
                warn!("empty frame from vpcd ignored");
                Ok(())
            }
            [CTRL_POWER_OFF] => {
                debug!("vpcd: power off");
                self.card.power_off();
                self.powered = false;
                Ok(())
            }
            [CTRL_POWER_ON] => {
                debug!("vpcd: power on");
                if self.powered {
                    self.card.power_off();
                }
                self.card.power_on();
                self.powered = true;
                Ok(())
            }
            [CTRL_RESET] => {
                debug!("vpcd: reset");
                if self.powered {
                    self.card.reset();
                } else {
                    self.card.power_on();
                    self.powered = true;
                }
                Ok(())
            }
            [CTRL_GET_ATR] => {
                trace!("vpcd: get ATR");
                let atr = self.card.atr();
                self.write_frame(&atr)
            }
            [other] => {
                warn!(code = other, "unknown vpcd control code ignored");
                Ok(())
            }
            apdu => {
                let mut rsp = self.card.process(apdu);
                if rsp.len() < 2 || rsp.len() > usize::from(u16::MAX) {
                    warn!(len = rsp.len(), "card response unusable; answering 6F 00");
                    rsp = vec![0x6F, 0x00];
                }
                debug!(c = %hex::encode_upper(apdu), r = %hex::encode_upper(&rsp), "vpcd: APDU");
                self.write_frame(&rsp)
            }
        }
    }

    fn write_frame(&mut self, payload: &[u8]) -> Result<()> {
        let len = u16::try_from(payload.len())
            .map_err(|_| ReaderError::Protocol("frame longer than 65535 bytes".into()))?;
        let mut out = Vec::with_capacity(payload.len() + 2);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(payload);
        self.stream.write_all(&out)?;
        Ok(())
    }

    /// Next complete frame, or `None` once `shutdown` is set. TCP may split or merge
    /// frames (`/work/shared/spec/07-vpcd.md` §4), so bytes are buffered.
    fn read_frame(&mut self, shutdown: &AtomicBool) -> Result<Option<Vec<u8>>> {
        let started = Instant::now();
        let mut warned = false;
        let mut chunk = [0u8; 1024];
        loop {
            if let [hi, lo, rest @ ..] = self.buf.as_slice() {
                let n = usize::from(u16::from_be_bytes([*hi, *lo]));
                if let Some(payload) = rest.get(..n) {
                    let frame = payload.to_vec();
                    self.buf.drain(..n + 2);
                    return Ok(Some(frame));
                }
            }
            if shutdown.load(Ordering::Relaxed) {
                return Ok(None);
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    return Err(ReaderError::Io(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "vpcd closed the connection",
                    )));
                }
                Ok(k) => self.buf.extend_from_slice(&chunk[..k]),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) =>
                {
                    if !warned && self.buf.is_empty() && started.elapsed() > SILENT_WARNING {
                        warned = true;
                        warn!(
                            "vpcd silent for {} s; is another virtual card attached to this slot?",
                            SILENT_WARNING.as_secs()
                        );
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! A stand-in for the vpcd listener on an ephemeral port drives the framing; the
    //! real driver is exercised by `tests/pcsc_vpcd.rs`.

    use super::*;
    use std::net::TcpListener;
    use std::sync::{Arc, Mutex};

    /// ATR of the project's test UICC (`/work/shared/spec/07-vpcd.md` §3).
    const ATR: [u8; 22] = [
        0x3B, 0x9F, 0x96, 0x80, 0x1F, 0xC7, 0x80, 0x31, 0xA0, 0x73, 0xBE, 0x21, 0x13, 0x67, 0x43,
        0x20, 0x07, 0x18, 0x00, 0x00, 0x01, 0xA5,
    ];

    #[derive(Clone, Debug, Default)]
    struct Log(Arc<Mutex<Vec<String>>>);

    #[derive(Debug)]
    struct Echo(Log);

    impl VirtualCard for Echo {
        fn atr(&self) -> Vec<u8> {
            ATR.to_vec()
        }
        fn power_on(&mut self) {
            self.0.0.lock().unwrap().push("on".into());
        }
        fn reset(&mut self) {
            self.0.0.lock().unwrap().push("reset".into());
        }
        fn power_off(&mut self) {
            self.0.0.lock().unwrap().push("off".into());
        }
        fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
            self.0.0.lock().unwrap().push(hex::encode_upper(apdu));
            // FETCH answer from /work/shared/spec/07-vpcd.md §3.
            hex::decode("D009810301260182028182")
                .unwrap()
                .into_iter()
                .chain([0x90, 0x00])
                .collect()
        }
    }

    fn read_frame(s: &mut TcpStream) -> Vec<u8> {
        let mut len = [0u8; 2];
        s.read_exact(&mut len).unwrap();
        let mut p = vec![0u8; usize::from(u16::from_be_bytes(len))];
        s.read_exact(&mut p).unwrap();
        p
    }

    fn config(port: u16) -> VpcdConfig {
        let mut c = VpcdConfig::new(SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
        c.retry_initial = Duration::from_millis(20);
        c.retry_max = Duration::from_millis(50);
        c.poll_interval = Duration::from_millis(20);
        c
    }

    #[test]
    fn default_config_is_slot_zero_on_loopback() {
        assert_eq!(VpcdConfig::default().addr.to_string(), "127.0.0.1:35963");
        assert_eq!(VpcdConfig::slot(1).addr.port(), 35964);
    }

    #[test]
    fn frames_controls_and_reconnects() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let log = Log::default();
        let shutdown = Arc::new(AtomicBool::new(false));
        let server = {
            let (card, shutdown) = (Echo(log.clone()), shutdown.clone());
            std::thread::spawn(move || serve_vpcd(card, &config(port), &shutdown))
        };

        // First connection: ATR poll, power on, an APDU split across writes and merged
        // with the next control frame, reset, then the "driver" goes away.
        let (mut s, _) = listener.accept().unwrap();
        s.write_all(&[0x00, 0x01, CTRL_GET_ATR]).unwrap();
        assert_eq!(read_frame(&mut s), ATR);
        s.write_all(&[0x00, 0x01, CTRL_POWER_ON, 0x00]).unwrap();
        s.flush().unwrap();
        std::thread::sleep(Duration::from_millis(30));
        s.write_all(&[0x05, 0x80, 0x12]).unwrap();
        std::thread::sleep(Duration::from_millis(30));
        s.write_all(&[0x00, 0x00, 0x0B, 0x00, 0x01, CTRL_RESET])
            .unwrap();
        let rsp = read_frame(&mut s);
        assert_eq!(hex::encode_upper(&rsp), "D0098103012601820281829000");
        s.write_all(&[0x00, 0x01, CTRL_GET_ATR]).unwrap();
        assert_eq!(read_frame(&mut s), ATR);
        drop(s);

        // The server reconnects on its own; power off arrives as a control code.
        let (mut s, _) = listener.accept().unwrap();
        s.write_all(&[0x00, 0x01, CTRL_GET_ATR]).unwrap();
        assert_eq!(read_frame(&mut s), ATR);
        s.write_all(&[0x00, 0x01, CTRL_POWER_ON, 0x00, 0x01, CTRL_POWER_OFF])
            .unwrap();
        s.write_all(&[0x00, 0x01, CTRL_GET_ATR]).unwrap();
        assert_eq!(read_frame(&mut s), ATR);

        shutdown.store(true, Ordering::Relaxed);
        server.join().unwrap().unwrap();
        assert_eq!(
            *log.0.lock().unwrap(),
            [
                "on",
                "80120000 0B".replace(' ', "").as_str(),
                "reset",
                "off",
                "on",
                "off"
            ]
        );
    }

    #[test]
    fn gives_up_when_configured() {
        // Bind then drop to get a port nobody listens on.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut c = config(port);
        c.give_up_after = Some(Duration::from_millis(100));
        let err = serve_vpcd(Echo(Log::default()), &c, &AtomicBool::new(false)).unwrap_err();
        assert!(matches!(err, ReaderError::Io(_)), "{err}");
    }

    #[test]
    fn shutdown_stops_a_waiting_server() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let shutdown = Arc::new(AtomicBool::new(false));
        let server = {
            let shutdown = shutdown.clone();
            std::thread::spawn(move || serve_vpcd(Echo(Log::default()), &config(port), &shutdown))
        };
        std::thread::sleep(Duration::from_millis(100));
        shutdown.store(true, Ordering::Relaxed);
        assert!(server.join().unwrap().is_ok());
    }
}
