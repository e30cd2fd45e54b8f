//! A handset's card slot: a [`CardReader`] whose card can be inserted and removed
//! between sessions, and which writes every exchange to the world's log.
//!
//! The terminal keeps its reader for its whole life, so the slot is that reader; the
//! card in it changes. A simulated card is an [`applet::card::Card`] behind
//! [`SimulatedUicc`] in a [`SharedCard`], so the same card object (and its NVM) moves
//! from handset to handset. A card in a PC/SC reader is an [`ExternalCard`]: the same
//! handle moves, the card stays in its reader.

use applet::wire::apdu::StatusWord;
use handset_sim::reader::sim::SimulatedReader;
use handset_sim::reader::{CardReader, Protocol, ReaderError, Result};
use handset_sim::terminal::uicc::{CardClock, SharedCard, SimulatedUicc};
use handset_sim::trace::decode::Decoder;
use handset_sim::trace::{Event, Exchange};

use super::event::{ApduRecord, Arrow, CardMark, Lane, NameId, Sink};
use super::external::{CardBody, ExternalCard};

/// A simulated card as the world holds it.
pub type SimCard = SharedCard<SimulatedUicc>;

/// What the slot holds: a simulated card in a simulated reader, or the card in a
/// PC/SC reader.
enum Held {
    Sim(SimulatedReader<SimCard>),
    External(ExternalCard),
}

impl Held {
    fn reader(&mut self) -> &mut dyn CardReader {
        match self {
            Held::Sim(r) => r,
            Held::External(r) => r,
        }
    }

    fn is_powered(&self) -> bool {
        match self {
            Held::Sim(r) => r.is_powered(),
            Held::External(r) => r.is_powered(),
        }
    }

    fn into_body(self) -> CardBody {
        match self {
            Held::Sim(r) => CardBody::Simulated(r.into_card()),
            Held::External(r) => CardBody::External(r),
        }
    }
}

/// The slot reader (see the module docs).
pub struct CardSlot {
    name: String,
    handset: String,
    /// `handset` and the inserted card's name as interned in the APDU log.
    handset_id: NameId,
    card_id: NameId,
    card: Option<(String, Held)>,
    clock: CardClock,
    sink: Sink,
    decoder: Decoder,
    pending_cut: Option<(u32, usize)>,
}

impl std::fmt::Debug for CardSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardSlot")
            .field("handset", &self.handset)
            .field("card", &self.card.as_ref().map(|(n, _)| n))
            .finish()
    }
}

impl CardSlot {
    /// An empty slot of `handset`.
    pub fn new(handset: &str, clock: CardClock, sink: Sink) -> Self {
        CardSlot {
            name: format!("{handset} slot"),
            handset: handset.to_owned(),
            handset_id: sink.intern(handset),
            card_id: 0,
            card: None,
            clock,
            sink,
            decoder: Decoder::new(),
            pending_cut: None,
        }
    }

    /// Inserts `card` (named `name`); the slot must be empty.
    pub fn insert(&mut self, name: &str, card: impl Into<CardBody>) {
        let held = match card.into() {
            CardBody::Simulated(c) => Held::Sim(SimulatedReader::with_name(&self.name, c)),
            CardBody::External(c) => Held::External(c),
        };
        self.card = Some((name.to_owned(), held));
        self.card_id = self.sink.intern(name);
        self.decoder = Decoder::new();
    }

    /// Takes the card out (powering it off first if needed).
    pub fn remove(&mut self) -> Option<(String, CardBody)> {
        let (name, mut held) = self.card.take()?;
        if held.is_powered() {
            held.reader().power_off();
            self.sink.apdu(ApduRecord::PowerOff {
                t_ms: self.clock.now_ms(),
                card: name.clone(),
            });
        }
        Some((name, held.into_body()))
    }

    /// Arms a power cut of the card in the slot at its `nth` NVM write (1 = next)
    /// counted from the next cold reset (a cold reset clears any cut scheduled
    /// before it, as power coming back does), tearing that write after `torn_bytes`.
    pub fn cut_after_power_on(&mut self, nth: u32, torn_bytes: usize) {
        self.pending_cut = Some((nth, torn_bytes));
    }

    /// Takes a cut armed with [`CardSlot::cut_after_power_on`] that has not fired yet
    /// (the card leaves the slot).
    pub fn take_pending_cut(&mut self) -> Option<(u32, usize)> {
        self.pending_cut.take()
    }

    /// Name of the card in the slot.
    pub fn card_name(&self) -> Option<&str> {
        self.card.as_ref().map(|(n, _)| n.as_str())
    }

    /// Whether the card in the slot is powered.
    pub fn is_powered(&self) -> bool {
        self.card.as_ref().is_some_and(|(_, r)| r.is_powered())
    }

    fn label(&mut self, command: &[u8], response: &[u8]) -> String {
        let mut out = Vec::new();
        self.decoder.summary(
            &Event::Exchange(Exchange {
                command,
                response: Some(response),
            }),
            &mut out,
        );
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// Schedules a cut at the `nth` write from now (1 = next); returns the absolute write
/// number ([`applet::card::nvm::Nvm::cut_power_at`]).
pub fn arm_cut(card: &SimCard, nth: u32, torn_bytes: usize) -> u32 {
    let mut uicc = card.lock();
    let nvm = uicc.card_mut().store_mut().nvm_mut();
    let at = nvm.writes().saturating_add(nth.max(1) - 1);
    nvm.cut_power_at(at, torn_bytes);
    at
}

/// An idle STATUS answered `90 00`: kept in the APDU trace, left off the ladder.
fn is_idle_poll(command: &[u8], response: &[u8]) -> bool {
    command.get(1) == Some(&0xF2) && response.ends_with(&[0x90, 0x00])
}

impl CardReader for CardSlot {
    fn name(&self) -> &str {
        &self.name
    }

    fn power_on(&mut self) -> Result<Vec<u8>> {
        let t_ms = self.clock.now_ms();
        let (name, held) = self.card.as_mut().ok_or(ReaderError::NoCard)?;
        let atr = held.reader().power_on()?;
        self.sink.apdu(ApduRecord::PowerOn {
            t_ms,
            card: name.clone(),
            atr: atr.clone(),
        });
        self.sink.arrow(Arrow {
            t_ms,
            from: Lane::Card,
            to: Lane::Handset,
            actor: name.clone(),
            label: "ATR (cold reset)".into(),
            detail: vec![format!("ATR {}", hex::encode_upper(&atr))],
            raw_hex: hex::encode_upper(&atr),
        });
        self.decoder = Decoder::new();
        if let Some((nth, torn)) = self.pending_cut.take()
            && let Held::Sim(reader) = held
        {
            let at = arm_cut(reader.card(), nth, torn);
            self.sink.mark(name, CardMark::CutArmed { write: at, torn });
            self.sink.arrow(Arrow {
                t_ms,
                from: Lane::Card,
                to: Lane::Card,
                actor: name.clone(),
                label: format!("power cut armed at NVM write {at}"),
                detail: vec![format!(
                    "write {at} torn after {torn} bytes; later writes fail"
                )],
                raw_hex: String::new(),
            });
        }
        Ok(atr)
    }

    fn reset(&mut self) -> Result<Vec<u8>> {
        let t_ms = self.clock.now_ms();
        let (name, held) = self.card.as_mut().ok_or(ReaderError::NoCard)?;
        let atr = held.reader().reset()?;
        self.sink.mark(
            name,
            CardMark::Reset {
                t_ms,
                atr: atr.clone(),
            },
        );
        Ok(atr)
    }

    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>> {
        let t_ms = self.clock.now_ms();
        let (_, held) = self.card.as_mut().ok_or(ReaderError::NoCard)?;
        let rsp = held.reader().transmit(apdu);
        let response: &[u8] = rsp.as_deref().unwrap_or_default();
        self.sink
            .exchange(t_ms, self.card_id, self.handset_id, apdu, response);
        // An idle STATUS answered 90 00 stays off the ladder, and so does a muted card.
        let name = match &self.card {
            Some((n, _)) if !is_idle_poll(apdu, response) && self.sink.wants(n) => n.clone(),
            _ => return rsp,
        };
        let summary = self.label(apdu, response);
        let fetch = apdu.get(1) == Some(&0x12);
        let (from, to) = if fetch {
            (Lane::Card, Lane::Handset)
        } else {
            (Lane::Handset, Lane::Card)
        };
        let sw = match response.last_chunk::<2>() {
            Some([a, b]) => {
                let sw = StatusWord::from_bytes(*a, *b);
                format!("{:04X} {}", sw.0, sw.description())
            }
            None => "no response".into(),
        };
        let mut raw = apdu.to_vec();
        raw.extend_from_slice(response);
        self.sink.arrow(Arrow {
            t_ms,
            from,
            to,
            actor: name,
            label: summary.chars().take(72).collect(),
            detail: vec![
                summary,
                format!("C-APDU {}", hex::encode_upper(apdu)),
                format!("R-APDU {}", hex::encode_upper(response)),
                format!("SW {sw}"),
            ],
            raw_hex: hex::encode_upper(raw),
        });
        rsp
    }

    fn power_off(&mut self) {
        let t_ms = self.clock.now_ms();
        if let Some((name, held)) = self.card.as_mut()
            && held.is_powered()
        {
            held.reader().power_off();
            self.sink.apdu(ApduRecord::PowerOff {
                t_ms,
                card: name.clone(),
            });
        }
    }

    fn protocol(&self) -> Protocol {
        match &self.card {
            Some((_, Held::External(r))) => r.protocol(),
            _ => Protocol::T0,
        }
    }
}
