//! APDU traces: record what a card and a handset said to each other, keep it as text,
//! decode it, export it to Wireshark, and replay it as a regression test.
//!
//! | module | job |
//! | --- | --- |
//! | [`format`] | the project's `.apdu` text format (read with file/line/column errors, write) — spec in `docs/traces.md` |
//! | [`recorder`] | [`Recorder`]: wraps any [`CardReader`](crate::CardReader) and records every reset, ATR and exchange with relative timestamps |
//! | [`pcap`] | GSMTAP-SIM pcap export and import (`/work/shared/spec/08-gsmtap-pcap.md`) |
//! | [`scriptor`] | import of pcsc-tools `scriptor` scripts and `scriptor` output logs |
//! | [`decode`] | one human line per exchange: instruction, file, toolkit command, IEs, status word |
//! | [`replay`] | replay the commands against any reader and stop at the first divergence |
//! | [`card`] | a freshly personalised in-process card (fixed clock) to replay against |
//!
//! The recorder sits *below* the T=0 layer ([`crate::t0`]): a trace holds command TPDUs
//! exactly as they crossed the wire (`61xx` / GET RESPONSE / `6Cxx` re-issues are
//! separate exchanges), which is also what GSMTAP-SIM frames carry.
//!
//! A [`Trace`] keeps all bytes in one arena and its events as small records, so a
//! capture of millions of exchanges costs two allocations, not two per exchange.

pub mod card;
pub mod decode;
pub mod format;
pub mod pcap;
pub mod recorder;
pub mod replay;
pub mod sample;
pub mod scriptor;

pub use format::{ParseError, WriteOptions, read_trace, read_trace_file, write_trace};
pub use recorder::{CardRecorder, Clock, ManualClock, MonotonicClock, Recorder};
pub use replay::{Divergence, ReplayOptions, ReplayOutcome, replay, replay_with};

use std::time::Duration;

use applet::wire::apdu::StatusWord;

/// What happened at one point of a trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// Cold reset (power applied, or power-cycled) and the ATR the card answered.
    PowerOn {
        /// Answer to reset (ISO/IEC 7816-3 §8); empty when not recorded.
        atr: &'a [u8],
    },
    /// Warm reset while powered, and the ATR.
    Reset {
        /// Answer to reset (ISO/IEC 7816-3 §8); empty when not recorded.
        atr: &'a [u8],
    },
    /// Power removed.
    PowerOff,
    /// One command TPDU and the card's answer.
    Exchange(Exchange<'a>),
}

/// One command TPDU and what the card answered (ISO/IEC 7816-3 §12.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exchange<'a> {
    /// The command as sent: `CLA INS P1 P2 P3` and, for cases 3/4, the command data.
    pub command: &'a [u8],
    /// The answer, response data ‖ SW1 SW2 (at least 2 bytes), or `None` when the trace
    /// does not know it (a `scriptor` script: commands only). Replay does not check an
    /// unknown response.
    pub response: Option<&'a [u8]>,
}

impl<'a> Exchange<'a> {
    /// The status word, when the response is known.
    pub fn sw(&self) -> Option<StatusWord> {
        let r = self.response?;
        let [sw1, sw2] = r.last_chunk::<2>()?;
        Some(StatusWord::from_bytes(*sw1, *sw2))
    }

    /// The response data (without SW), when the response is known.
    pub fn response_data(&self) -> Option<&'a [u8]> {
        let r = self.response?;
        r.get(..r.len().saturating_sub(2))
    }
}

/// One event of a trace with where and when it happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    /// Time since the start of the trace, if recorded.
    pub time: Option<Duration>,
    /// Line of the source file this event came from (1-based), if read from text.
    pub line: Option<u32>,
    /// What happened.
    pub event: Event<'a>,
}

/// Header fields of a trace (`# key: value` lines before the first event).
///
/// Known keys (`docs/traces.md` §2): `producer`, `card`, `handset`, `reader`,
/// `protocol`, `start` (Unix time of `+0`, seconds with a fraction), `source`. Other keys
/// are kept in order and written back unchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    /// `(key, value)` pairs in file order.
    pub fields: Vec<(String, String)>,
}

impl Header {
    /// The value of `key` (first occurrence).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Sets `key` to `value`, replacing an existing value or appending.
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        let value = value.into();
        match self.fields.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = value,
            None => self.fields.push((key.to_owned(), value)),
        }
    }

    /// The `start` field as a duration since the Unix epoch, if present and valid.
    pub fn start(&self) -> Option<Duration> {
        format::parse_seconds(self.get("start")?.trim())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    PowerOn,
    Reset,
    PowerOff,
    Exchange,
    /// Exchange whose response is not known.
    Command,
}

const NO_TIME: u64 = u64::MAX;

#[derive(Debug, Clone, Copy)]
struct Record {
    kind: Kind,
    line: u32,
    nanos: u64,
    /// Start in the arena of the first byte string (ATR or command).
    a: usize,
    /// Length of the first byte string.
    a_len: usize,
    /// Length of the second byte string (response), which follows the first.
    b_len: usize,
}

/// A recorded conversation between a terminal and a card.
///
/// Build it with [`Trace::push_exchange`] and friends (or read one with
/// [`format::read_trace`], [`pcap::import`], [`scriptor::import`]); walk it with
/// [`Trace::entries`].
#[derive(Debug, Clone, Default)]
pub struct Trace {
    /// Header fields.
    pub header: Header,
    arena: Vec<u8>,
    records: Vec<Record>,
}

impl PartialEq for Trace {
    /// Same header and the same events with the same times (source lines are ignored).
    fn eq(&self, other: &Self) -> bool {
        self.header == other.header
            && self.len() == other.len()
            && self
                .entries()
                .zip(other.entries())
                .all(|(a, b)| a.time == b.time && a.event == b.event)
    }
}

impl Trace {
    /// An empty trace with an empty header.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty trace with room for `events` events and `bytes` bytes.
    pub fn with_capacity(events: usize, bytes: usize) -> Self {
        Self {
            header: Header::default(),
            arena: Vec::with_capacity(bytes),
            records: Vec::with_capacity(events),
        }
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the trace has no events.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Number of exchanges (events that are not resets or power-offs).
    pub fn exchange_count(&self) -> usize {
        self.records
            .iter()
            .filter(|r| matches!(r.kind, Kind::Exchange | Kind::Command))
            .count()
    }

    fn push(&mut self, kind: Kind, time: Option<Duration>, line: u32, a: &[u8], b: &[u8]) {
        let start = self.arena.len();
        self.arena.extend_from_slice(a);
        self.arena.extend_from_slice(b);
        let nanos = time.map_or(NO_TIME, |t| {
            u64::try_from(t.as_nanos()).unwrap_or(NO_TIME - 1)
        });
        self.records.push(Record {
            kind,
            line,
            nanos,
            a: start,
            a_len: a.len(),
            b_len: b.len(),
        });
    }

    /// Appends any event.
    pub fn push_event(&mut self, time: Option<Duration>, event: Event<'_>) {
        self.push_event_at(time, None, event);
    }

    pub(crate) fn push_event_at(
        &mut self,
        time: Option<Duration>,
        line: Option<u32>,
        event: Event<'_>,
    ) {
        let line = line.unwrap_or(0);
        match event {
            Event::PowerOn { atr } => self.push(Kind::PowerOn, time, line, atr, &[]),
            Event::Reset { atr } => self.push(Kind::Reset, time, line, atr, &[]),
            Event::PowerOff => self.push(Kind::PowerOff, time, line, &[], &[]),
            Event::Exchange(Exchange {
                command,
                response: Some(r),
            }) => self.push(Kind::Exchange, time, line, command, r),
            Event::Exchange(Exchange {
                command,
                response: None,
            }) => self.push(Kind::Command, time, line, command, &[]),
        }
    }

    /// Appends a cold reset with its ATR.
    pub fn push_power_on(&mut self, time: Option<Duration>, atr: &[u8]) {
        self.push(Kind::PowerOn, time, 0, atr, &[]);
    }

    /// Appends a warm reset with its ATR.
    pub fn push_reset(&mut self, time: Option<Duration>, atr: &[u8]) {
        self.push(Kind::Reset, time, 0, atr, &[]);
    }

    /// Appends a power-off.
    pub fn push_power_off(&mut self, time: Option<Duration>) {
        self.push(Kind::PowerOff, time, 0, &[], &[]);
    }

    /// Appends an exchange: command TPDU and the card's answer (data ‖ SW1 SW2).
    pub fn push_exchange(&mut self, time: Option<Duration>, command: &[u8], response: &[u8]) {
        self.push(Kind::Exchange, time, 0, command, response);
    }

    /// Appends a command whose answer is not known.
    pub fn push_command(&mut self, time: Option<Duration>, command: &[u8]) {
        self.push(Kind::Command, time, 0, command, &[]);
    }

    fn entry(&self, r: &Record) -> Entry<'_> {
        let a = self.arena.get(r.a..r.a + r.a_len).unwrap_or(&[]);
        let b_start = r.a + r.a_len;
        let b = self.arena.get(b_start..b_start + r.b_len).unwrap_or(&[]);
        let event = match r.kind {
            Kind::PowerOn => Event::PowerOn { atr: a },
            Kind::Reset => Event::Reset { atr: a },
            Kind::PowerOff => Event::PowerOff,
            Kind::Exchange => Event::Exchange(Exchange {
                command: a,
                response: Some(b),
            }),
            Kind::Command => Event::Exchange(Exchange {
                command: a,
                response: None,
            }),
        };
        Entry {
            time: (r.nanos != NO_TIME).then(|| Duration::from_nanos(r.nanos)),
            line: (r.line != 0).then_some(r.line),
            event,
        }
    }

    /// Event `index` (0-based).
    pub fn get(&self, index: usize) -> Option<Entry<'_>> {
        self.records.get(index).map(|r| self.entry(r))
    }

    /// All events in order.
    pub fn entries(&self) -> impl ExactSizeIterator<Item = Entry<'_>> + '_ {
        self.records.iter().map(|r| self.entry(r))
    }
}
