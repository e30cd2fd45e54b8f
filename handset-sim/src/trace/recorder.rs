//! [`Recorder`]: a [`CardReader`] that records everything passing through it.
//!
//! Modelled on smoltcp's `phy::Tracer` / `PcapWriter`, which wrap any device and log
//! every frame: `Recorder<R>` wraps any reader and is itself a reader, so everything
//! above (the T=0 layer, the terminal) runs unchanged. It sits below the T=0 layer and
//! therefore records TPDUs as they cross the wire.
//!
//! Times are relative to the first event and come from an injected [`Clock`], so tests
//! use a [`ManualClock`] and get byte-identical traces.

use std::io::Write;
use std::time::{Duration, Instant};

use crate::reader::{CardReader, Protocol, Result};

use super::Trace;
use super::format::{MAGIC, put_entry, put_header};

/// A monotonic clock: time elapsed since some fixed origin.
pub trait Clock {
    /// Time since the clock's origin; never decreases.
    fn now(&mut self) -> Duration;
}

/// The system's monotonic clock ([`Instant`]), origin at construction.
#[derive(Debug, Clone, Copy)]
pub struct MonotonicClock(Instant);

impl MonotonicClock {
    /// A clock starting now.
    pub fn new() -> Self {
        Self(Instant::now())
    }
}

impl Default for MonotonicClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for MonotonicClock {
    fn now(&mut self) -> Duration {
        self.0.elapsed()
    }
}

/// A deterministic clock for tests: advances by a fixed step on every reading.
#[derive(Debug, Clone, Copy, Default)]
pub struct ManualClock {
    /// Current reading.
    pub now: Duration,
    /// Added after each reading.
    pub step: Duration,
}

impl ManualClock {
    /// Starts at zero and advances `step` per reading.
    pub fn stepping(step: Duration) -> Self {
        Self {
            now: Duration::ZERO,
            step,
        }
    }
}

impl Clock for ManualClock {
    fn now(&mut self) -> Duration {
        let t = self.now;
        self.now += self.step;
        t
    }
}

/// Wraps a reader and records power-ons, resets (with ATRs), exchanges and power-offs.
///
/// The record is kept in memory ([`Recorder::trace`]) and, if a sink was given with
/// [`Recorder::stream_to`], also written line by line in the `.apdu` format as it
/// happens (flushed after every event, so a crash loses nothing already exchanged).
/// Failed reader operations are not events; they are written to the sink as comments.
pub struct Recorder<R, C = MonotonicClock> {
    inner: R,
    clock: C,
    origin: Option<Duration>,
    trace: Trace,
    sink: Option<Box<dyn Write + Send>>,
    sink_error: Option<std::io::Error>,
    line: Vec<u8>,
}

impl<R: std::fmt::Debug, C: std::fmt::Debug> std::fmt::Debug for Recorder<R, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("inner", &self.inner)
            .field("clock", &self.clock)
            .field("events", &self.trace.len())
            .field("streaming", &self.sink.is_some())
            .finish()
    }
}

impl<R: CardReader> Recorder<R, MonotonicClock> {
    /// Records `inner` with the system's monotonic clock.
    pub fn new(inner: R) -> Self {
        Self::with_clock(inner, MonotonicClock::new())
    }
}

impl<R: CardReader, C: Clock> Recorder<R, C> {
    /// Records `inner` with the given clock.
    pub fn with_clock(inner: R, clock: C) -> Self {
        let mut trace = Trace::new();
        trace.header.set(
            "producer",
            format!("handset-sim {} Recorder", env!("CARGO_PKG_VERSION")),
        );
        trace.header.set("reader", inner.name());
        Self {
            inner,
            clock,
            origin: None,
            trace,
            sink: None,
            sink_error: None,
            line: Vec::with_capacity(256),
        }
    }

    /// Sets a header field (`card`, `handset`, …) of the recorded trace. Call before
    /// [`Recorder::stream_to`] for the field to reach the streamed file.
    pub fn set_header(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        self.trace.header.set(key, value);
        self
    }

    /// Also writes the trace to `sink` as it is recorded: the magic line and header
    /// now, then one line per event. Events recorded before this call are written too.
    pub fn stream_to(&mut self, sink: impl Write + Send + 'static) -> &mut Self {
        let mut sink: Box<dyn Write + Send> = Box::new(sink);
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC.as_bytes());
        out.push(b'\n');
        put_header(&mut out, &self.trace);
        for e in self.trace.entries() {
            put_entry(&mut out, &e);
            out.push(b'\n');
        }
        if let Err(e) = sink.write_all(&out).and_then(|()| sink.flush()) {
            self.sink_error = Some(e);
        }
        self.sink = Some(sink);
        self
    }

    /// The first error the sink returned, if any (recording in memory goes on).
    pub fn sink_error(&self) -> Option<&std::io::Error> {
        self.sink_error.as_ref()
    }

    /// What has been recorded so far.
    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    /// The wrapped reader.
    pub fn inner(&self) -> &R {
        &self.inner
    }

    /// The wrapped reader, mutably (operations on it are not recorded).
    pub fn inner_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// Stops recording: the reader and the trace.
    pub fn into_parts(mut self) -> (R, Trace) {
        if let Some(s) = self.sink.as_mut() {
            let _ = s.flush();
        }
        (self.inner, self.trace)
    }

    fn stamp(&mut self) -> Duration {
        let now = self.clock.now();
        let origin = *self.origin.get_or_insert(now);
        now.saturating_sub(origin)
    }

    fn emit_last(&mut self) {
        let Some(sink) = self.sink.as_mut() else {
            return;
        };
        let Some(entry) = self.trace.get(self.trace.len().wrapping_sub(1)) else {
            return;
        };
        self.line.clear();
        put_entry(&mut self.line, &entry);
        self.line.push(b'\n');
        if let Err(e) = sink.write_all(&self.line).and_then(|()| sink.flush())
            && self.sink_error.is_none()
        {
            self.sink_error = Some(e);
        }
    }

    fn emit_error(&mut self, what: &str, err: &dyn std::fmt::Display) {
        if let Some(sink) = self.sink.as_mut() {
            let _ = writeln!(sink, "# {what} failed: {err}").and_then(|()| sink.flush());
        }
    }
}

impl<R: CardReader, C: Clock> CardReader for Recorder<R, C> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn power_on(&mut self) -> Result<Vec<u8>> {
        let t = self.stamp();
        match self.inner.power_on() {
            Ok(atr) => {
                self.trace.push_power_on(Some(t), &atr);
                self.emit_last();
                Ok(atr)
            }
            Err(e) => {
                self.emit_error("power on", &e);
                Err(e)
            }
        }
    }

    fn reset(&mut self) -> Result<Vec<u8>> {
        let t = self.stamp();
        match self.inner.reset() {
            Ok(atr) => {
                self.trace.push_reset(Some(t), &atr);
                self.emit_last();
                Ok(atr)
            }
            Err(e) => {
                self.emit_error("reset", &e);
                Err(e)
            }
        }
    }

    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>> {
        let t = self.stamp();
        match self.inner.transmit(apdu) {
            Ok(rsp) => {
                self.trace.push_exchange(Some(t), apdu, &rsp);
                self.emit_last();
                Ok(rsp)
            }
            Err(e) => {
                let mut hex = Vec::new();
                super::format::put_hex(&mut hex, apdu, true);
                let what = format!("transmit {}", String::from_utf8_lossy(&hex));
                self.emit_error(&what, &e);
                Err(e)
            }
        }
    }

    fn power_off(&mut self) {
        let t = self.stamp();
        self.inner.power_off();
        self.trace.push_power_off(Some(t));
        self.emit_last();
    }

    fn protocol(&self) -> Protocol {
        self.inner.protocol()
    }
}

/// The card seen as a reader, for [`CardRecorder`]: every operation goes straight to the
/// card (the vpcd session, not this adapter, keeps track of power).
#[derive(Debug)]
pub struct CardSide<V> {
    name: String,
    card: V,
}

impl<V: crate::card::VirtualCard> CardReader for CardSide<V> {
    fn name(&self) -> &str {
        &self.name
    }
    fn power_on(&mut self) -> Result<Vec<u8>> {
        self.card.power_on();
        Ok(self.card.atr())
    }
    fn reset(&mut self) -> Result<Vec<u8>> {
        self.card.reset();
        Ok(self.card.atr())
    }
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>> {
        crate::reader::check_response(self.card.process(apdu))
    }
    fn power_off(&mut self) {
        self.card.power_off();
    }
}

/// Records at the card side: wraps a [`VirtualCard`](crate::card::VirtualCard) and is
/// itself one, logging every cold reset, warm reset (with the ATR the card gave),
/// command/response and power-off into a [`Trace`] — what `handset-sim serve-vpcd
/// --trace` uses, since behind vpcd there is no [`CardReader`] to wrap.
///
/// The ATR polls of vpcd (`04`, every ~second) are not events and are not recorded.
/// Internally it is a [`Recorder`] over the card, so the streamed file is the same
/// `.apdu` format, flushed per line.
pub struct CardRecorder<V, C = MonotonicClock> {
    rec: Recorder<CardSide<V>, C>,
}

impl<V: std::fmt::Debug, C: std::fmt::Debug> std::fmt::Debug for CardRecorder<V, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardRecorder")
            .field("rec", &self.rec)
            .finish()
    }
}

impl<V: crate::card::VirtualCard> CardRecorder<V, MonotonicClock> {
    /// Records `card` with the system's monotonic clock; `reader` names where it is
    /// served (header field `reader`).
    pub fn new(card: V, reader: &str) -> Self {
        Self::with_clock(card, reader, MonotonicClock::new())
    }
}

impl<V: crate::card::VirtualCard, C: Clock> CardRecorder<V, C> {
    /// Records `card` with the given clock.
    pub fn with_clock(card: V, reader: &str, clock: C) -> Self {
        let mut rec = Recorder::with_clock(
            CardSide {
                name: reader.to_owned(),
                card,
            },
            clock,
        );
        rec.set_header(
            "producer",
            format!(
                "handset-sim {} CardRecorder (card side)",
                env!("CARGO_PKG_VERSION")
            ),
        );
        Self { rec }
    }

    /// Sets a header field; see [`Recorder::set_header`].
    pub fn set_header(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        self.rec.set_header(key, value);
        self
    }

    /// Streams the trace to `sink` as it is recorded; see [`Recorder::stream_to`].
    pub fn stream_to(&mut self, sink: impl Write + Send + 'static) -> &mut Self {
        self.rec.stream_to(sink);
        self
    }

    /// The first error the sink returned, if any.
    pub fn sink_error(&self) -> Option<&std::io::Error> {
        self.rec.sink_error()
    }

    /// What has been recorded so far.
    pub fn trace(&self) -> &Trace {
        self.rec.trace()
    }

    /// The card.
    pub fn card(&self) -> &V {
        &self.rec.inner().card
    }

    /// The card, mutably (operations on it are not recorded).
    pub fn card_mut(&mut self) -> &mut V {
        &mut self.rec.inner_mut().card
    }

    /// Stops recording: the card and the trace.
    pub fn into_parts(self) -> (V, Trace) {
        let (side, trace) = self.rec.into_parts();
        (side.card, trace)
    }
}

impl<V: crate::card::VirtualCard, C: Clock> crate::card::VirtualCard for CardRecorder<V, C> {
    fn atr(&self) -> Vec<u8> {
        self.rec.inner().card.atr()
    }
    fn power_on(&mut self) {
        let _ = self.rec.power_on();
    }
    fn reset(&mut self) {
        let _ = self.rec.reset();
    }
    fn power_off(&mut self) {
        self.rec.power_off();
    }
    fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
        // The only failure is a card answer without a status word (written to the
        // stream as a comment); report a technical problem as vpcd would.
        self.rec.transmit(apdu).unwrap_or_else(|_| vec![0x6F, 0x00])
    }
}
