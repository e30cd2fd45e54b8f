//! A card outside the process: the scenario's card in a PC/SC reader
//! (`imeitrack run --reader pcsc:NAME`, `docs/scenarios.md` "A card in a PC/SC reader").
//!
//! The world keeps one [`ExternalCard`] for it, shared by every handset slot: the card
//! "moves" between the simulated handsets but stays in the reader. Inserting it into a
//! switched-on handset or switching that handset on is a cold reset through the
//! reader; removing it or switching the handset off powers it down. Nothing inside the
//! card can be read except through APDUs: [`ExternalCard::read_track_state`] reads the
//! applet's EF.TRACK_STATE (`7F4A/6F02`, PIN1) for the observable part of its state.

use std::sync::{Arc, Mutex, MutexGuard};

use applet::wire::bcd::{EfIccid, EfImsi};
use applet::wire::imei::Imei;
use handset_sim::reader::{CardReader, Protocol, ReaderError, Result};
use handset_sim::t0::{DEFAULT_MAX_ROUNDS, transceive};

use super::event::{ArrowSpec, Lane};
use super::slot::SimCard;
use super::{World, WorldError};

/// Size of EF.TRACK_STATE (`applet::card::fs::TRACK_EF_LEN`).
pub const TRACK_STATE_LEN: usize = applet::card::fs::TRACK_EF_LEN as usize;

/// SELECT by path from the MF, no response data: `7F4A/6F02` (EF.TRACK_STATE).
const SELECT_TRACK_STATE: [u8; 9] = [0x00, 0xA4, 0x08, 0x0C, 0x04, 0x7F, 0x4A, 0x6F, 0x02];
/// SELECT by path from the MF, no response data: `2FE2` (EF.ICCID).
const SELECT_ICCID: [u8; 7] = [0x00, 0xA4, 0x08, 0x0C, 0x02, 0x2F, 0xE2];
/// SELECT by path from the MF, no response data: `7F20/6F07` (DF.GSM/EF.IMSI).
const SELECT_IMSI: [u8; 9] = [0x00, 0xA4, 0x08, 0x0C, 0x04, 0x7F, 0x20, 0x6F, 0x07];

/// The observable part of the applet's state: EF.TRACK_STATE decoded
/// (`applet/src/tracker/record.rs`, "Layout"; offsets below are from the EF's start).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackState {
    /// IMEI committed in NVM (digits), if any (flags byte 0 bit `02`, bytes 1..9).
    pub stored_imei: Option<String>,
    /// Next registration counter (bytes 18..23, big endian).
    pub next_counter: u64,
    /// A registration is pending: counter reserved, not yet acknowledged (byte 41
    /// bit `01`).
    pub pending: bool,
}

impl TrackState {
    /// Decodes the 64-byte body of EF.TRACK_STATE.
    pub fn parse(ef: &[u8]) -> std::result::Result<Self, String> {
        if ef.len() < 42 {
            return Err(format!(
                "EF.TRACK_STATE: {} bytes, at least 42 expected",
                ef.len()
            ));
        }
        let stored_imei = if ef[0] & 0x02 != 0 {
            let mut b = [0u8; 8];
            b.copy_from_slice(&ef[1..9]);
            Some(
                Imei::parse(&b)
                    .map_err(|e| format!("EF.TRACK_STATE: stored IMEI {}: {e}", hex::encode(b)))?
                    .to_string(),
            )
        } else {
            None
        };
        let next_counter = ef[18..23]
            .iter()
            .fold(0u64, |acc, &x| (acc << 8) | u64::from(x));
        Ok(TrackState {
            stored_imei,
            next_counter,
            pending: ef[41] & 0x01 != 0,
        })
    }
}

/// What the engine reads of a card before a scenario starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardIdentity {
    /// ATR at the cold reset.
    pub atr: Vec<u8>,
    /// ICCID digits (EF.ICCID).
    pub iccid: String,
    /// IMSI digits (DF.GSM/EF.IMSI), when it could be read.
    pub imsi: Option<String>,
    /// The applet's state, when it could be read.
    pub state: Option<TrackState>,
}

/// Why reading the card through the reader failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExternalError {
    /// The reader failed.
    #[error("reader {reader:?}: {message}")]
    Reader {
        /// Reader name.
        reader: String,
        /// The error.
        message: String,
    },
    /// The card answered a command with an unexpected status word.
    #[error("reader {reader:?}: {what}: the card answered SW {sw:04X}")]
    Status {
        /// Reader name.
        reader: String,
        /// The command.
        what: &'static str,
        /// Its status word.
        sw: u16,
    },
    /// The card is not powered (the engine never powers it just to look).
    #[error("the card in reader {0:?} is not powered")]
    NotPowered(String),
    /// The answer does not decode.
    #[error("reader {reader:?}: {message}")]
    Decode {
        /// Reader name.
        reader: String,
        /// What is wrong.
        message: String,
    },
}

struct Inner {
    reader: Box<dyn CardReader + Send>,
    powered: bool,
    last_state: Option<TrackState>,
}

/// The card in a reader, shared by the world's slots (see the module docs).
#[derive(Clone)]
pub struct ExternalCard {
    name: String,
    inner: Arc<Mutex<Inner>>,
}

impl std::fmt::Debug for ExternalCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExternalCard")
            .field("reader", &self.name)
            .field("powered", &self.is_powered())
            .finish()
    }
}

impl ExternalCard {
    /// The card in `reader` (unpowered until [`CardReader::power_on`]).
    pub fn new(reader: Box<dyn CardReader + Send>) -> Self {
        ExternalCard {
            name: reader.name().to_owned(),
            inner: Arc::new(Mutex::new(Inner {
                reader,
                powered: false,
                last_state: None,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Name of the reader.
    pub fn reader_name(&self) -> &str {
        &self.name
    }

    /// Whether the engine has the card powered.
    pub fn is_powered(&self) -> bool {
        self.lock().powered
    }

    /// The state read by the last [`ExternalCard::read_track_state`], if any.
    pub fn last_state(&self) -> Option<TrackState> {
        self.lock().last_state.clone()
    }

    fn reader_error(&self, e: impl std::fmt::Display) -> ExternalError {
        ExternalError::Reader {
            reader: self.name.clone(),
            message: e.to_string(),
        }
    }

    /// One command through the T=0 rules; `90 00` required.
    fn command(
        &self,
        inner: &mut Inner,
        apdu: &[u8],
        what: &'static str,
    ) -> std::result::Result<Vec<u8>, ExternalError> {
        let r = transceive(&mut *inner.reader, apdu, DEFAULT_MAX_ROUNDS)
            .map_err(|e| self.reader_error(format!("{what}: {e}")))?;
        if r.sw() != 0x9000 {
            return Err(ExternalError::Status {
                reader: self.name.clone(),
                what,
                sw: r.sw(),
            });
        }
        Ok(r.data)
    }

    fn read_state_locked(
        &self,
        inner: &mut Inner,
    ) -> std::result::Result<TrackState, ExternalError> {
        self.command(inner, &SELECT_TRACK_STATE, "SELECT 7F4A/6F02")?;
        let le = u8::try_from(TRACK_STATE_LEN).unwrap_or(64);
        let ef = self.command(
            inner,
            &[0x00, 0xB0, 0x00, 0x00, le],
            "READ BINARY EF.TRACK_STATE",
        )?;
        let state = TrackState::parse(&ef).map_err(|message| ExternalError::Decode {
            reader: self.name.clone(),
            message,
        })?;
        inner.last_state = Some(state.clone());
        Ok(state)
    }

    /// Reads EF.TRACK_STATE (SELECT by path `7F4A/6F02`, READ BINARY 64) while the card
    /// is powered; PIN1 must be verified or disabled. Leaves EF.TRACK_STATE selected.
    pub fn read_track_state(&self) -> std::result::Result<TrackState, ExternalError> {
        let mut inner = self.lock();
        if !inner.powered {
            return Err(ExternalError::NotPowered(self.name.clone()));
        }
        self.read_state_locked(&mut inner)
    }

    /// Before a scenario: cold reset, read EF.ICCID, and with PIN1 disabled or `pin`
    /// verified, EF.IMSI and EF.TRACK_STATE; then power the card down again.
    pub fn read_identity(
        &self,
        pin: Option<&str>,
    ) -> std::result::Result<CardIdentity, ExternalError> {
        let mut inner = self.lock();
        let atr = inner
            .reader
            .power_on()
            .map_err(|e| self.reader_error(format!("cold reset: {e}")))?;
        inner.powered = true;
        let r = (|| {
            self.command(&mut inner, &SELECT_ICCID, "SELECT 2FE2")?;
            let ef = self.command(
                &mut inner,
                &[0x00, 0xB0, 0x00, 0x00, 0x0A],
                "READ BINARY EF.ICCID",
            )?;
            let iccid = EfIccid::parse(&ef)
                .map_err(|e| ExternalError::Decode {
                    reader: self.name.clone(),
                    message: format!("EF.ICCID {}: {e}", hex::encode_upper(&ef)),
                })?
                .iccid
                .to_string();
            if let Some(pin) = pin {
                let mut apdu = vec![0x00, 0x20, 0x00, 0x01, 0x08];
                let mut block = [0xFFu8; 8];
                for (b, d) in block.iter_mut().zip(pin.bytes()) {
                    *b = d;
                }
                apdu.extend_from_slice(&block);
                self.command(&mut inner, &apdu, "VERIFY PIN1")?;
            }
            // EF.IMSI needs PIN1: unreadable (69 82) when PIN1 is enabled and not given.
            let imsi = self
                .command(&mut inner, &SELECT_IMSI, "SELECT 7F20/6F07")
                .and_then(|_| {
                    self.command(
                        &mut inner,
                        &[0x00, 0xB0, 0x00, 0x00, 0x09],
                        "READ BINARY EF.IMSI",
                    )
                })
                .ok()
                .and_then(|ef| EfImsi::parse(&ef).ok())
                .map(|i| i.imsi.to_string());
            let state = self.read_state_locked(&mut inner).ok();
            Ok(CardIdentity {
                atr,
                iccid,
                imsi,
                state,
            })
        })();
        inner.reader.power_off();
        inner.powered = false;
        r
    }
}

impl CardReader for ExternalCard {
    fn name(&self) -> &str {
        &self.name
    }

    fn power_on(&mut self) -> Result<Vec<u8>> {
        let mut inner = self.lock();
        let atr = inner.reader.power_on()?;
        inner.powered = true;
        Ok(atr)
    }

    fn reset(&mut self) -> Result<Vec<u8>> {
        let mut inner = self.lock();
        let atr = inner.reader.reset()?;
        inner.powered = true;
        Ok(atr)
    }

    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>> {
        let mut inner = self.lock();
        if !inner.powered {
            return Err(ReaderError::NotPowered);
        }
        inner.reader.transmit(apdu)
    }

    fn power_off(&mut self) {
        let mut inner = self.lock();
        if inner.powered {
            inner.reader.power_off();
            inner.powered = false;
        }
    }

    fn protocol(&self) -> Protocol {
        self.lock().reader.protocol()
    }
}

/// A card as the world holds it: simulated in-process, or in a reader.
#[derive(Debug, Clone)]
pub enum CardBody {
    /// The project's card, simulated in this process.
    Simulated(SimCard),
    /// A card in a PC/SC reader.
    External(ExternalCard),
}

impl From<SimCard> for CardBody {
    fn from(c: SimCard) -> Self {
        CardBody::Simulated(c)
    }
}

impl From<ExternalCard> for CardBody {
    fn from(c: ExternalCard) -> Self {
        CardBody::External(c)
    }
}

impl CardBody {
    /// The simulated card, if it is one.
    pub fn simulated(&self) -> Option<&SimCard> {
        match self {
            CardBody::Simulated(c) => Some(c),
            CardBody::External(_) => None,
        }
    }

    /// The card in a reader, if it is one.
    pub fn external(&self) -> Option<&ExternalCard> {
        match self {
            CardBody::Simulated(_) => None,
            CardBody::External(c) => Some(c),
        }
    }
}

/// The parts of [`super::CardView`] that come from inside the card.
pub(super) struct Internals {
    pub stored_imei: Option<String>,
    pub next_counter: u64,
    pub pending: bool,
    pub state: applet::tracker::State,
    pub nvm_writes: u32,
}

/// Reads [`Internals`]: from the simulated card's record, or for a card in a reader
/// from the last EF.TRACK_STATE read (see [`super::CardView`]).
pub(super) fn internals(body: &CardBody) -> Internals {
    match body {
        CardBody::Simulated(sim) => {
            let uicc = sim.lock();
            let card = uicc.card();
            let record = card.record().ok();
            Internals {
                stored_imei: record
                    .as_ref()
                    .and_then(|r| r.stored_imei())
                    .and_then(|b| Imei::parse(&b).ok())
                    .map(|i| i.to_string()),
                next_counter: record.as_ref().map_or(0, |r| r.next_counter()),
                pending: record.as_ref().is_some_and(|r| r.pending().is_some()),
                state: *card.applet_state(),
                nvm_writes: card.store().nvm().writes(),
            }
        }
        CardBody::External(ext) => {
            let s = ext.last_state();
            Internals {
                stored_imei: s.as_ref().and_then(|s| s.stored_imei.clone()),
                next_counter: s.as_ref().map_or(0, |s| s.next_counter),
                pending: s.as_ref().is_some_and(|s| s.pending),
                state: applet::tracker::State::Idle,
                nvm_writes: 0,
            }
        }
    }
}

impl World {
    /// Counter of the last registration `card` sent (as it left the handset), 0 if none:
    /// what a handset's provisioning report answers for a card in a reader.
    pub(super) fn last_registration_counter(&self, card: &str) -> u64 {
        self.handsets
            .values()
            .flat_map(|h| h.terminal.network().sent.iter())
            .filter(|r| r.card.as_deref() == Some(card))
            .filter_map(|r| {
                let (sm, _) = super::link::submit_to_message(&r.tpdu).ok()?;
                let reg = super::describe::registration(&sm.user_data)?;
                Some((r.t_ms, reg.counter))
            })
            .max()
            .map_or(0, |(_, c)| c)
    }

    /// Replaces the simulated card `card` by the card in a reader, before the card was
    /// ever inserted. The world keeps what it knows of the card (ICCID, IMSI, MSISDN,
    /// registration key) from the card's spec; nothing checks here that the card in the
    /// reader carries them (see [`ExternalCard::read_identity`]).
    pub fn use_external_card(&mut self, card: &str, ext: ExternalCard) -> Result<(), WorldError> {
        let c = self
            .cards
            .get_mut(card)
            .ok_or_else(|| WorldError::UnknownCard(card.to_owned()))?;
        if let Some(h) = &c.in_handset {
            return Err(WorldError::CardInUse {
                card: card.to_owned(),
                handset: h.clone(),
            });
        }
        let name = ext.reader_name().to_owned();
        c.card = CardBody::External(ext);
        let t = self.now_ms();
        self.sink.spec(
            t,
            card,
            ArrowSpec::new(
                Lane::Card,
                Lane::Card,
                format!("card is in reader {name:?}"),
            ),
        );
        Ok(())
    }

    /// The card `card` if it is in a reader.
    pub fn external_card(&self, card: &str) -> Result<Option<ExternalCard>, WorldError> {
        Ok(self.card(card)?.card.external().cloned())
    }

    /// Reads the applet state of `card` (in a reader, powered) through APDUs and logs
    /// it as an arrow; `Ok(None)` for a simulated card.
    pub fn read_external_state(
        &mut self,
        card: &str,
    ) -> Result<Option<std::result::Result<TrackState, ExternalError>>, WorldError> {
        let Some(ext) = self.external_card(card)? else {
            return Ok(None);
        };
        let r = ext.read_track_state();
        let t = self.now_ms();
        let spec = match &r {
            Ok(s) => ArrowSpec::new(Lane::Card, Lane::Card, "EF.TRACK_STATE read by the engine")
                .line(format!(
                    "stored IMEI {}, next counter {}, pending {}",
                    s.stored_imei.as_deref().unwrap_or("none"),
                    s.next_counter,
                    s.pending
                )),
            Err(e) => ArrowSpec::new(
                Lane::Card,
                Lane::Card,
                "EF.TRACK_STATE not readable by the engine",
            )
            .line(e.to_string()),
        };
        self.sink.spec(t, card, spec);
        Ok(Some(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn track_state_decodes_the_documented_layout() {
        let mut ef = [0xFFu8; TRACK_STATE_LEN];
        ef[0] = 0x00;
        ef[18..23].copy_from_slice(&[0, 0, 0, 0, 0]);
        ef[41] = 0x00;
        let s = TrackState::parse(&ef).unwrap();
        assert_eq!(
            s,
            TrackState {
                stored_imei: None,
                next_counter: 0,
                pending: false
            }
        );
        // IMEI 358765030000018 as a TS 24.008 mobile identity: digit 1 high with type
        // 010 and odd parity (low nibble A), then digit pairs low nibble first.
        ef[0] = 0x02;
        ef[1..9].copy_from_slice(&[0x3A, 0x85, 0x67, 0x05, 0x03, 0x00, 0x00, 0x81]);
        ef[18..23].copy_from_slice(&[0, 0, 0, 1, 2]);
        ef[41] = 0x01;
        let s = TrackState::parse(&ef).unwrap();
        assert_eq!(s.stored_imei.as_deref(), Some("358765030000018"));
        assert_eq!(s.next_counter, 258);
        assert!(s.pending);
        assert!(
            TrackState::parse(&ef[..20])
                .unwrap_err()
                .contains("20 bytes")
        );
    }
}
