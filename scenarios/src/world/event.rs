//! What the world saw, as arrows for the ladder diagram and as a raw APDU trace.
//!
//! Every arrow is one real message: an APDU exchange between handset and card, an
//! SMS-SUBMIT / RP-ACK on the radio path, a `deliver_sm` / `submit_sm` between SMSC and
//! stub, an SMS-DELIVER to the handset, a key request to the manufacturer. The bytes
//! are the bytes as sent (hex); the detail lines are their decoding.

use std::collections::HashSet;
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

/// Where the world's parts write what they see, in the order it happens.
#[derive(Debug, Default)]
pub struct Log {
    /// Ladder arrows.
    pub arrows: Vec<Arrow>,
    /// Every card exchange.
    pub apdus: Vec<ApduRecord>,
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
        (log.apdus.clone(), log.marks.clone())
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
        self.lock().apdus.clone()
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
