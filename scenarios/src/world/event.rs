//! What the world saw, as arrows for the ladder diagram and as a raw APDU trace.
//!
//! Every arrow is one real message: an APDU exchange between handset and card, an
//! SMS-SUBMIT / RP-ACK on the radio path, a `deliver_sm` / `submit_sm` between SMSC and
//! stub, an SMS-DELIVER to the handset, a key request to the manufacturer. The bytes
//! are the bytes as sent (hex); the detail lines are their decoding.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex};

/// The five participants of a SIM swap, left to right on the ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Lane {
    /// The UICC and its IMEI-tracking applet.
    Card,
    /// The handset (terminal, toolkit, OMA CP client, MMS app).
    Handset,
    /// The radio network and its SMSC.
    Network,
    /// The provisioning server.
    Stub,
    /// The manufacturer's key server.
    Manufacturer,
}

impl Lane {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Lane::Card => "card",
            Lane::Handset => "handset",
            Lane::Network => "network",
            Lane::Stub => "stub",
            Lane::Manufacturer => "manufacturer",
        }
    }
}

impl fmt::Display for Lane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One arrow of the ladder diagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrow {
    /// Virtual time, ms.
    pub t_ms: u64,
    /// Sender.
    pub from: Lane,
    /// Receiver (equal to `from` for an internal action).
    pub to: Lane,
    /// Which card / handset / party this concerns (card name, handset name), for
    /// filtering a busy world; empty when global.
    pub actor: String,
    /// Short label.
    pub label: String,
    /// Decoded message, one field per line.
    pub detail: Vec<String>,
    /// The message as sent, upper-case hex without spaces (empty if none).
    pub raw_hex: String,
}

impl fmt::Display for Arrow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:>9} {:>12} -> {:<12} [{}] {}",
            self.t_ms, self.from, self.to, self.actor, self.label
        )
    }
}

/// An arrow without its time: what a [`crate::world::ProvisioningServer`] reports; the
/// world stamps the time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArrowSpec {
    /// Sender.
    pub from: Lane,
    /// Receiver.
    pub to: Lane,
    /// Short label.
    pub label: String,
    /// Decoded lines.
    pub detail: Vec<String>,
    /// Bytes as sent, hex.
    pub raw_hex: String,
}

impl ArrowSpec {
    /// An arrow with a label and no bytes.
    pub fn new(from: Lane, to: Lane, label: impl Into<String>) -> Self {
        ArrowSpec {
            from,
            to,
            label: label.into(),
            detail: Vec::new(),
            raw_hex: String::new(),
        }
    }

    /// Adds a detail line.
    pub fn line(mut self, l: impl Into<String>) -> Self {
        self.detail.push(l.into());
        self
    }

    /// Sets the raw bytes.
    pub fn raw(mut self, bytes: &[u8]) -> Self {
        self.raw_hex = hex::encode_upper(bytes);
        self
    }
}

/// One command/response exchange with a card, as it crossed the contacts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApduRecord {
    /// Cold reset and ATR.
    PowerOn {
        /// Virtual time.
        t_ms: u64,
        /// Card.
        card: String,
        /// ATR.
        atr: Vec<u8>,
    },
    /// Power removed.
    PowerOff {
        /// Virtual time.
        t_ms: u64,
        /// Card.
        card: String,
    },
    /// One command TPDU and the answer (data ‖ SW1 SW2; empty when the reader failed).
    Exchange {
        /// Virtual time.
        t_ms: u64,
        /// Card.
        card: String,
        /// Handset whose reader sent it.
        handset: String,
        /// Command TPDU.
        command: Vec<u8>,
        /// Response.
        response: Vec<u8>,
    },
}

impl fmt::Display for ApduRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApduRecord::PowerOn { t_ms, card, atr } => {
                write!(f, "{t_ms} {card} ATR {}", hex::encode_upper(atr))
            }
            ApduRecord::PowerOff { t_ms, card } => write!(f, "{t_ms} {card} OFF"),
            ApduRecord::Exchange {
                t_ms,
                card,
                handset,
                command,
                response,
            } => write!(
                f,
                "{t_ms} {card}@{handset} {} : {}",
                hex::encode_upper(command),
                hex::encode_upper(response)
            ),
        }
    }
}

/// Something that happened to a card besides what [`ApduRecord`] holds, kept for the
/// per-card traces ([`crate::world::World::card_trace`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardMark {
    /// Warm reset and the ATR.
    Reset {
        /// Virtual time.
        t_ms: u64,
        /// ATR.
        atr: Vec<u8>,
    },
    /// A power cut was armed: NVM write number `write` (counted since the card was
    /// made) tears after `torn` bytes.
    CutArmed {
        /// Absolute write number.
        write: u32,
        /// Bytes of it that reach the image.
        torn: usize,
    },
}

/// A card or handset name interned in an [`ApduLog`].
pub type NameId = u32;

/// Where an exchange's bytes are in [`ApduLog`]'s buffer: the command, then the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Bytes {
    start: usize,
    command: u16,
    response: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    PowerOn {
        t_ms: u64,
        card: NameId,
        atr: Bytes,
    },
    PowerOff {
        t_ms: u64,
        card: NameId,
    },
    Exchange {
        t_ms: u64,
        card: NameId,
        handset: NameId,
        bytes: Bytes,
    },
}

/// Every card exchange, kept compactly: names interned once, bytes in one buffer. An
/// hour of a 10,000-subscriber story records 1.2 million idle STATUS polls; as
/// [`ApduRecord`]s (two names and two byte vectors each) they were half of each
/// poll's cost and about 240 bytes apiece, here about 40. Read back as
/// [`ApduRecord`]s, identical to what was recorded.
#[derive(Debug, Default)]
pub struct ApduLog {
    names: Vec<String>,
    ids: HashMap<String, NameId>,
    entries: Vec<Entry>,
    bytes: Vec<u8>,
}

impl ApduLog {
    /// The id of `name`, interning it the first time.
    pub fn intern(&mut self, name: &str) -> NameId {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        let id = NameId::try_from(self.names.len()).unwrap_or(NameId::MAX);
        self.names.push(name.to_owned());
        self.ids.insert(name.to_owned(), id);
        id
    }

    fn name(&self, id: NameId) -> String {
        self.names.get(id as usize).cloned().unwrap_or_default()
    }

    /// Stores `parts` one after the other; a part longer than 65,535 bytes (no APDU
    /// is) is cut there.
    fn store(&mut self, command: &[u8], response: &[u8]) -> Bytes {
        let start = self.bytes.len();
        let command = command.get(..usize::from(u16::MAX)).unwrap_or(command);
        let response = response.get(..usize::from(u16::MAX)).unwrap_or(response);
        self.bytes.extend_from_slice(command);
        self.bytes.extend_from_slice(response);
        Bytes {
            start,
            command: u16::try_from(command.len()).unwrap_or(u16::MAX),
            response: u16::try_from(response.len()).unwrap_or(u16::MAX),
        }
    }

    fn slice(&self, b: Bytes, second: bool) -> Vec<u8> {
        let (from, len) = if second {
            (b.start + usize::from(b.command), usize::from(b.response))
        } else {
            (b.start, usize::from(b.command))
        };
        self.bytes
            .get(from..from + len)
            .map(<[u8]>::to_vec)
            .unwrap_or_default()
    }

    /// Appends a record.
    pub fn push(&mut self, r: ApduRecord) {
        let e = match r {
            ApduRecord::PowerOn { t_ms, card, atr } => Entry::PowerOn {
                t_ms,
                card: self.intern(&card),
                atr: self.store(&atr, &[]),
            },
            ApduRecord::PowerOff { t_ms, card } => Entry::PowerOff {
                t_ms,
                card: self.intern(&card),
            },
            ApduRecord::Exchange {
                t_ms,
                card,
                handset,
                command,
                response,
            } => Entry::Exchange {
                t_ms,
                card: self.intern(&card),
                handset: self.intern(&handset),
                bytes: self.store(&command, &response),
            },
        };
        self.entries.push(e);
    }

    /// Appends an exchange of interned names (the card slots' hot path: nothing to
    /// allocate).
    pub fn push_exchange(
        &mut self,
        t_ms: u64,
        card: NameId,
        handset: NameId,
        command: &[u8],
        response: &[u8],
    ) {
        let bytes = self.store(command, response);
        self.entries.push(Entry::Exchange {
            t_ms,
            card,
            handset,
            bytes,
        });
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No records yet.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Record `i`.
    pub fn get(&self, i: usize) -> Option<ApduRecord> {
        Some(match *self.entries.get(i)? {
            Entry::PowerOn { t_ms, card, atr } => ApduRecord::PowerOn {
                t_ms,
                card: self.name(card),
                atr: self.slice(atr, false),
            },
            Entry::PowerOff { t_ms, card } => ApduRecord::PowerOff {
                t_ms,
                card: self.name(card),
            },
            Entry::Exchange {
                t_ms,
                card,
                handset,
                bytes,
            } => ApduRecord::Exchange {
                t_ms,
                card: self.name(card),
                handset: self.name(handset),
                command: self.slice(bytes, false),
                response: self.slice(bytes, true),
            },
        })
    }

    /// Every record, in order.
    pub fn to_vec(&self) -> Vec<ApduRecord> {
        (0..self.len()).filter_map(|i| self.get(i)).collect()
    }
}

/// Where the world's parts write what they see, in the order it happens.
#[derive(Debug, Default)]
pub struct Log {
    /// Ladder arrows.
    pub arrows: Vec<Arrow>,
    /// Every card exchange.
    pub apdus: ApduLog,
    /// Card marks: `(number of apdus recorded before it, card, mark)`.
    pub marks: Vec<(usize, String, CardMark)>,
    /// Actors whose arrows are not recorded ([`Sink::mute`]).
    pub muted: HashSet<String>,
}

/// A shared handle on the [`Log`] (the card slots and network links write to it from
/// inside the terminal).
#[derive(Debug, Clone, Default)]
pub struct Sink(Arc<Mutex<Log>>);

impl Sink {
    /// A new, empty log.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Log> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends an arrow (dropped if its actor is muted).
    pub fn arrow(&self, a: Arrow) {
        let mut log = self.lock();
        if log.muted.is_empty() || !log.muted.contains(&a.actor) {
            log.arrows.push(a);
        }
    }

    /// From now on, arrows concerning these actors (card or handset names) are not
    /// recorded: a ladder of thousands of subscribers shows a few of them, and
    /// building the others' arrows (decoded APDUs, hex) would cost more than playing
    /// them. The APDU trace and everything the world does are unaffected.
    pub fn mute(&self, actors: impl IntoIterator<Item = String>) {
        self.lock().muted.extend(actors);
    }

    /// Whether an arrow concerning `actor` would be recorded (callers skip building
    /// arrows nobody keeps).
    pub fn wants(&self, actor: &str) -> bool {
        let log = self.lock();
        log.muted.is_empty() || !log.muted.contains(actor)
    }

    /// Appends an arrow built from a spec at `t_ms`.
    pub fn spec(&self, t_ms: u64, actor: &str, s: ArrowSpec) {
        self.arrow(Arrow {
            t_ms,
            from: s.from,
            to: s.to,
            actor: actor.to_owned(),
            label: s.label,
            detail: s.detail,
            raw_hex: s.raw_hex,
        });
    }

    /// Appends an APDU record.
    pub fn apdu(&self, r: ApduRecord) {
        self.lock().apdus.push(r);
    }

    /// The id of a card or handset name for [`Sink::exchange`].
    pub fn intern(&self, name: &str) -> NameId {
        self.lock().apdus.intern(name)
    }

    /// Appends an exchange by interned names ([`Sink::intern`]).
    pub fn exchange(
        &self,
        t_ms: u64,
        card: NameId,
        handset: NameId,
        command: &[u8],
        response: &[u8],
    ) {
        self.lock()
            .apdus
            .push_exchange(t_ms, card, handset, command, response);
    }

    /// Number of APDU records so far.
    pub fn apdu_count(&self) -> usize {
        self.lock().apdus.len()
    }

    /// Appends a card mark, placed after the APDU records so far.
    pub fn mark(&self, card: &str, m: CardMark) {
        let mut log = self.lock();
        let at = log.apdus.len();
        log.marks.push((at, card.to_owned(), m));
    }

    /// The APDU records and the card marks, in one consistent snapshot.
    pub fn apdus_and_marks(&self) -> (Vec<ApduRecord>, Vec<(usize, String, CardMark)>) {
        let log = self.lock();
        (log.apdus.to_vec(), log.marks.clone())
    }

    /// Number of arrows so far.
    pub fn arrow_count(&self) -> usize {
        self.lock().arrows.len()
    }

    /// Arrows from index `from` on.
    pub fn arrows_since(&self, from: usize) -> Vec<Arrow> {
        self.lock().arrows.get(from..).unwrap_or_default().to_vec()
    }

    /// All arrows.
    pub fn arrows(&self) -> Vec<Arrow> {
        self.lock().arrows.clone()
    }

    /// All APDU records.
    pub fn apdus(&self) -> Vec<ApduRecord> {
        self.lock().apdus.to_vec()
    }
}

impl From<Lane> for crate::runner::Lane {
    fn from(l: Lane) -> Self {
        match l {
            Lane::Card => crate::runner::Lane::Card,
            Lane::Handset => crate::runner::Lane::Handset,
            Lane::Network => crate::runner::Lane::Network,
            Lane::Stub => crate::runner::Lane::Stub,
            Lane::Manufacturer => crate::runner::Lane::Manufacturer,
        }
    }
}

impl From<Arrow> for crate::runner::Event {
    /// The runner's ladder event; the actor goes in front of the detail lines.
    fn from(a: Arrow) -> Self {
        let mut detail_lines = a.detail;
        if !a.actor.is_empty() {
            detail_lines.insert(0, format!("({})", a.actor));
        }
        crate::runner::Event {
            t_ms: a.t_ms,
            from: a.from.into(),
            to: a.to.into(),
            label: a.label,
            detail_lines,
            raw_hex: a.raw_hex,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apdu_log_reads_back_what_was_recorded() {
        let records = vec![
            ApduRecord::PowerOn {
                t_ms: 0,
                card: "alice".into(),
                atr: vec![0x3B, 0x9F, 0x96],
            },
            ApduRecord::Exchange {
                t_ms: 5,
                card: "alice".into(),
                handset: "s22".into(),
                command: vec![0x80, 0xF2, 0x00, 0x0C, 0x00],
                response: vec![0x90, 0x00],
            },
            // A reader error: no response bytes.
            ApduRecord::Exchange {
                t_ms: 6,
                card: "alice".into(),
                handset: "s22".into(),
                command: vec![0x00, 0xA4],
                response: vec![],
            },
            ApduRecord::PowerOff {
                t_ms: 9,
                card: "alice".into(),
            },
        ];
        let mut log = ApduLog::default();
        assert!(log.is_empty());
        for r in &records {
            log.push(r.clone());
        }
        let (alice, s22) = (log.intern("alice"), log.intern("s22"));
        assert_ne!(alice, s22);
        assert_eq!(log.intern("alice"), alice, "interned once");
        log.push_exchange(
            10,
            alice,
            s22,
            &[0x80, 0x12, 0x00, 0x00, 0x0B],
            &[0xD0, 0x90, 0x00],
        );
        assert_eq!(log.len(), 5);
        let mut expected = records;
        expected.push(ApduRecord::Exchange {
            t_ms: 10,
            card: "alice".into(),
            handset: "s22".into(),
            command: vec![0x80, 0x12, 0x00, 0x00, 0x0B],
            response: vec![0xD0, 0x90, 0x00],
        });
        assert_eq!(log.to_vec(), expected);
        assert_eq!(log.get(1), Some(expected[1].clone()));
        assert_eq!(log.get(5), None);
    }

    #[test]
    fn sink_counts_and_mutes() {
        let sink = Sink::new();
        let (c, h) = (sink.intern("bob"), sink.intern("n310"));
        sink.exchange(1, c, h, &[0x80, 0xF2, 0x00, 0x0C, 0x00], &[0x90, 0x00]);
        assert_eq!(sink.apdu_count(), 1);
        assert_eq!(sink.apdus().len(), 1);
        sink.mute(["bob".to_owned()]);
        assert!(!sink.wants("bob") && sink.wants("alice"));
        sink.spec(1, "bob", ArrowSpec::new(Lane::Card, Lane::Handset, "muted"));
        sink.spec(
            1,
            "alice",
            ArrowSpec::new(Lane::Card, Lane::Handset, "kept"),
        );
        let arrows = sink.arrows();
        assert_eq!(arrows.len(), 1);
        assert_eq!(arrows[0].label, "kept");
    }
}
