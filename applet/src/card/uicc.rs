//! The card: ATR, T=0 APDU dispatch for both command classes, GET RESPONSE, the
//! toolkit plumbing, and the IMEI-tracking applet on top.
//!
//! Entry point: [`Card::process`] — one command TPDU in (`CLA INS P1 P2 P3 [data]`,
//! ETSI TS 102 221 §7.3.1.1), the response (data + SW) out, `now_ms` passed in.
//!
//! ## Decisions
//!
//! - **Class per command.** `A0` → GSM SIM mode (3GPP TS 51.011): response data
//!   announced with `9Fxx`, wrong length `67xx`, errors in the `94xx`/`98xx` families.
//!   `00`–`03` / `80`–`83` → UICC mode (TS 102 221): `61xx`, `6Cxx`, `6Axx`/`69xx`. A
//!   logical channel other than 0 → `6881`. Any other class → `6E00`. An instruction the
//!   card knows in another class → `6E00`; an unknown instruction → `6D00`.
//! - **One error mapping**: every refusal is a [`Fault`]; `From<(Fault, Mode)> for
//!   StatusWord` is the only place that turns it into a status word (file-system errors
//!   delegate to [`CardError`]'s UICC / GSM mappings).
//! - **T=0 lengths**: for case-3/4 commands P3 = Lc must equal the data length (and be
//!   non-zero) → else `6700`. Case-2 commands (READ BINARY, READ RECORD, STATUS, FETCH,
//!   GET RESPONSE) must ask for at most what is available: a larger Le (or `00` = 256)
//!   gets `6Cxx` (UICC) / `67xx` (GSM) with the available length, since under T=0 the
//!   card cannot send fewer bytes than P3; FETCH needs Le = the pending length exactly.
//!   (01-apdu.md §3 shows `6C0A` for Le 9 on a 10-byte EF; this card returns the 9 bytes —
//!   ISO 7816-4 reserves `6Cxx` for "wrong Le", and a shorter read is a valid read.)
//! - **Case-4 responses** (SELECT with FCP / GSM response) are kept for GET RESPONSE;
//!   any other command discards them (TS 102 221 §7.3.1.1.4). GET RESPONSE with Le
//!   smaller than what is left returns Le bytes and `61xx`/`9Fxx` for the rest.
//! - **Toolkit**: `91xx` replaces `9000` whenever a proactive command waits for FETCH
//!   (TS 102 221 §7.4.2.2). An ENVELOPE while a proactive session runs (command not yet
//!   fetched or its TERMINAL RESPONSE not yet received) → `9300`, state untouched. FETCH
//!   with nothing pending and TERMINAL RESPONSE with no fetched command → `6985`
//!   (UICC) / `6F00` (GSM, which has no "conditions of use" word). A TERMINAL RESPONSE
//!   whose command details differ from the fetched command (number, type, qualifier; CR
//!   ignored) or whose TLVs do not parse → `6A80` / `6F00`; the command stays
//!   outstanding.
//! - **Resets**: [`Card::power_on`] with `cold = true` is a power cycle: the NVM comes
//!   back (store recovery runs) and the per-power-cycle attempt count restarts. A warm
//!   reset keeps the count. Both end the proactive session, the PIN verification, the
//!   selection and any response data.
//! - **ATR** [`ATR`]: T=0 only (TD1 = `80`: T=0, then TD2 = `1F` announcing the global
//!   class indicator TA3 = `C7`, classes A/B/C), TA1 = `96` (Fi 512, Di 32) and
//!   historical bytes whose pre-issuing data reads `IMTRACK`.
//! - **NVM**: an NVM failure (power lost, journal full) answers `6581` / `9240`; after a
//!   power loss the card answers every command with that word until the next cold
//!   [`Card::power_on`].

use super::CardError;
use super::fs::{self, FileRef, SelectResponse, Selection};
use super::nvm::{Nvm, NvmError, Store};
use super::pin::PinSession;
use crate::tracker::{
    AppletConfig, CardIdentity, Context, Record, RecordError, State, Tracker, TrackerError,
};
use crate::wire::apdu::{ApduCase, Cla, Ins, StatusWord, Tpdu};
use crate::wire::cat::{Envelope, TerminalProfile, TerminalResponse};
use crate::wire::sms;

/// Bytes of the simulated NVM.
pub const NVM_LEN: usize = fs::FS_NVM_LEN;
/// Bytes of the store's data area: the file system plus the applet's secret block
/// (the rest of the NVM is the transaction journal).
pub const DATA_LEN: usize =
    crate::tracker::record::SECRET_BASE + crate::tracker::record::SECRET_LEN;
/// The card's NVM type.
pub type CardNvm = Nvm<NVM_LEN>;
/// Capacity of a pending proactive command (`D0` TLV).
pub const PROACTIVE_CAPACITY: usize = 192;
/// Smallest `out` buffer [`Card::process`] needs for any response (256 data + SW).
pub const MAX_RESPONSE: usize = 258;

/// The ATR (ISO/IEC 7816-3 §8; decoded in the module docs): T=0 only.
pub const ATR: [u8; 22] = [
    0x3B, 0x9F, 0x96, 0x80, 0x1F, 0xC7, 0x80, 0x31, 0xA0, 0x73, 0xBE, 0x21, 0x13, 0x67, 0x49, 0x4D,
    0x54, 0x52, 0x41, 0x43, 0x4B, 0x93,
];

/// Everything written into a blank card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Personalisation {
    /// File contents and PIN1 (EF.ICCID, EF.IMSI, EF.AD, PIN1).
    pub files: fs::Personalisation,
    /// The subscriber's number, kept in EF.TRACK_CONFIG.
    pub msisdn: Option<sms::Address>,
    /// The applet's configuration and registration key.
    pub applet: AppletConfig,
}

/// Which status-word family a command gets (decided by its CLA).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// CLA `A0`: GSM SIM, 3GPP TS 51.011.
    Gsm,
    /// CLA `0x`/`8x`: UICC, ETSI TS 102 221.
    Uicc,
}

/// Why the card refused a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// A file-system or PIN error.
    Card(CardError),
    /// CLA not supported, or the instruction does not exist in this class.
    ClassNotSupported,
    /// A logical channel other than 0.
    ChannelNotSupported,
    /// Unknown instruction.
    InsNotSupported,
    /// P1/P2 not valid for the instruction.
    WrongP1P2,
    /// P3 (Lc) disagrees with the data, or the data has a wrong size.
    WrongLength,
    /// Le wrong; the value is the available length.
    WrongLe(u8),
    /// FETCH with nothing pending, TERMINAL RESPONSE with nothing fetched, GET RESPONSE
    /// with nothing to get.
    ConditionsNotSatisfied,
    /// Command data that does not parse, or a TERMINAL RESPONSE for another command.
    IncorrectData,
    /// NVM failure.
    Memory(NvmError),
    /// Anything else internal (a buffer too small, an encoding failure).
    Internal,
}

impl From<CardError> for Fault {
    fn from(e: CardError) -> Self {
        match e {
            CardError::Memory(m) => Fault::Memory(m),
            e => Fault::Card(e),
        }
    }
}

impl From<NvmError> for Fault {
    fn from(e: NvmError) -> Self {
        Fault::Memory(e)
    }
}

impl From<TrackerError> for Fault {
    fn from(e: TrackerError) -> Self {
        match e {
            TrackerError::Record(RecordError::Nvm(m)) => Fault::Memory(m),
            _ => Fault::Internal,
        }
    }
}

impl From<(Fault, Mode)> for StatusWord {
    /// The one mapping from a refusal to a status word: TS 102 221 §10.2.1 (UICC) and
    /// 3GPP TS 51.011 §9.4 (GSM).
    fn from((f, mode): (Fault, Mode)) -> Self {
        let gsm = mode == Mode::Gsm;
        match f {
            Fault::Card(e) if gsm => e.gsm_status_word(),
            Fault::Card(e) => StatusWord::from(e),
            Fault::ClassNotSupported => StatusWord::CLA_NOT_SUPPORTED,
            Fault::ChannelNotSupported => StatusWord::LOGICAL_CHANNEL_NOT_SUPPORTED,
            Fault::InsNotSupported => StatusWord::INS_NOT_SUPPORTED,
            Fault::WrongP1P2 => StatusWord::WRONG_P1_P2,
            Fault::WrongLength => StatusWord::WRONG_LENGTH,
            Fault::WrongLe(n) if gsm => StatusWord::gsm_wrong_p3(n),
            Fault::WrongLe(n) => StatusWord::wrong_le_retry(n),
            Fault::ConditionsNotSatisfied | Fault::IncorrectData | Fault::Internal if gsm => {
                StatusWord::TECHNICAL_PROBLEM
            }
            Fault::ConditionsNotSatisfied => StatusWord::CONDITIONS_OF_USE_NOT_SATISFIED,
            Fault::IncorrectData => StatusWord::INCORRECT_DATA,
            Fault::Memory(_) if gsm => StatusWord::GSM_MEMORY_PROBLEM,
            Fault::Memory(_) => StatusWord::MEMORY_PROBLEM,
            Fault::Internal => StatusWord::TECHNICAL_PROBLEM,
        }
    }
}

/// A successful command: response data (already in the card's buffer or in `out`) and
/// the final status word before the toolkit's `91xx` substitution.
struct Reply {
    /// Bytes of response data written at the start of `out`.
    data: usize,
    sw: StatusWord,
}

impl Reply {
    const OK: Reply = Reply {
        data: 0,
        sw: StatusWord::OK,
    };
}

/// The card: file system, PIN, toolkit plumbing and the tracking applet over one NVM.
#[derive(Debug, Clone)]
pub struct Card {
    store: Store<NVM_LEN>,
    record: Record,
    tracker: Tracker,
    selection: Selection,
    pin: PinSession,
    powered: bool,
    /// Response data waiting for GET RESPONSE.
    response: [u8; 256],
    response_len: u16,
    response_mode: Mode,
    /// The proactive command waiting for FETCH (length 0 = none).
    proactive: [u8; PROACTIVE_CAPACITY],
    proactive_len: u8,
    /// The proactive command was fetched; its TERMINAL RESPONSE is due.
    fetched: bool,
}

impl Card {
    /// Opens the card on `nvm` (running the store's recovery). A blank NVM is
    /// personalised from `p` first; a personalised one keeps its contents (so a
    /// restarted card keeps its state). The card is unpowered until [`Card::power_on`].
    pub fn new(p: &Personalisation, nvm: CardNvm) -> Result<Self, Fault> {
        let mut store = Store::open(nvm, DATA_LEN)?;
        let mut record = Record::load(&store).map_err(TrackerError::from)?;
        if !record.is_personalised() {
            fs::personalise(&mut store, &p.files)?;
            store.begin()?;
            if let Err(e) = Record::personalise(&mut store, &p.applet, p.msisdn.as_ref()) {
                store.abort();
                return Err(TrackerError::from(e).into());
            }
            store.commit()?;
            record = Record::load(&store).map_err(TrackerError::from)?;
        }
        Ok(Card {
            store,
            record,
            tracker: Tracker::new(),
            selection: Selection::new(),
            pin: PinSession::default(),
            powered: false,
            response: [0; 256],
            response_len: 0,
            response_mode: Mode::Uicc,
            proactive: [0; PROACTIVE_CAPACITY],
            proactive_len: 0,
            fetched: false,
        })
    }

    /// Reset (ISO/IEC 7816-3 §6.2): `cold` = power-on reset (a new power cycle, NVM
    /// recovery), else warm reset. Ends any proactive session. Returns the ATR.
    pub fn power_on(&mut self, cold: bool) -> &'static [u8] {
        if cold || !self.store.nvm().is_powered() {
            self.store.nvm_mut().power_on();
            // Recovery failing here means the NVM died again; the next write reports it.
            let _ = self.store.recover();
        }
        if let Ok(r) = Record::load(&self.store) {
            self.record = r;
        }
        self.tracker.reset(cold);
        self.selection = Selection::new();
        self.pin = PinSession::default();
        self.response_len = 0;
        self.proactive_len = 0;
        self.fetched = false;
        self.powered = true;
        &ATR
    }

    /// Power off (contacts deactivated). The next command needs [`Card::power_on`].
    pub fn power_off(&mut self) {
        self.powered = false;
    }

    /// The applet's state.
    pub fn applet_state(&self) -> &State {
        self.tracker.state()
    }

    /// The applet's persistent record as committed in NVM.
    pub fn record(&self) -> Result<Record, Fault> {
        Record::load(&self.store).map_err(|e| TrackerError::from(e).into())
    }

    /// The store (to inspect the NVM or schedule a power cut in tests).
    pub fn store(&self) -> &Store<NVM_LEN> {
        &self.store
    }

    /// The store, mutable (e.g. [`super::nvm::Nvm::cut_power_at`]).
    pub fn store_mut(&mut self) -> &mut Store<NVM_LEN> {
        &mut self.store
    }

    /// Gives the NVM back (to build a new card on it, as after a power cut).
    pub fn into_nvm(self) -> CardNvm {
        self.store.into_nvm()
    }

    /// Whether a proactive session is running (a command pending or awaiting its
    /// TERMINAL RESPONSE).
    pub fn proactive_session(&self) -> bool {
        self.proactive_len > 0 || self.fetched
    }

    /// Processes one command TPDU and writes the response (data, SW1, SW2) into `out`;
    /// returns its length. `out` should hold [`MAX_RESPONSE`] bytes; a shorter one gets
    /// `6F00` (or nothing if it cannot hold 2 bytes). Never panics.
    pub fn process(&mut self, apdu: &[u8], now_ms: u64, out: &mut [u8]) -> usize {
        let mode = match apdu.first() {
            Some(0xA0) => Mode::Gsm,
            _ => Mode::Uicc,
        };
        let (data_len, sw) = match self.dispatch(apdu, mode, now_ms, out) {
            Ok(r) => (r.data, r.sw),
            Err(f) => (0, StatusWord::from((f, mode))),
        };
        let sw = if sw == StatusWord::OK && self.proactive_len > 0 {
            StatusWord::proactive_pending(self.proactive_len)
        } else {
            sw
        };
        match out.get_mut(data_len..data_len + 2) {
            Some(s) => {
                s.copy_from_slice(&sw.to_bytes());
                data_len + 2
            }
            None => match out.get_mut(..2) {
                Some(s) => {
                    s.copy_from_slice(&StatusWord::TECHNICAL_PROBLEM.to_bytes());
                    2
                }
                None => 0,
            },
        }
    }

    fn dispatch(
        &mut self,
        apdu: &[u8],
        mode: Mode,
        now_ms: u64,
        out: &mut [u8],
    ) -> Result<Reply, Fault> {
        if !self.powered {
            return Err(Fault::Internal);
        }
        if !self.store.nvm().is_powered() {
            return Err(Fault::Memory(NvmError::PowerLost));
        }
        let header = apdu.get(..5).ok_or(Fault::WrongLength)?;
        let (cla, ins, p1) = (Cla(header[0]), Ins(header[1]), header[2]);
        if mode == Mode::Uicc {
            match cla.0 & 0xF0 {
                0x00 | 0x80 => {}
                _ => return Err(Fault::ClassNotSupported),
            }
            if cla.0 & 0x03 != 0 {
                return Err(Fault::ChannelNotSupported);
            }
            if cla.0 & 0x0C != 0 {
                // Secure messaging indication: not supported.
                return Err(Fault::ClassNotSupported);
            }
        }
        let Some(case) = ApduCase::of(cla, ins, p1).filter(|_| implemented(ins)) else {
            return Err(if implemented(ins) {
                Fault::ClassNotSupported
            } else {
                Fault::InsNotSupported
            });
        };
        let (tpdu, rest) = Tpdu::parse_prefix(apdu, case).map_err(|_| Fault::WrongLength)?;
        if !rest.is_empty() || (case.has_command_data() && tpdu.p3 == 0) {
            return Err(Fault::WrongLength);
        }
        if tpdu.ins != Ins::GET_RESPONSE {
            self.response_len = 0;
        }
        match tpdu.ins {
            Ins::SELECT => self.select(&tpdu, mode),
            Ins::STATUS => self.status(&tpdu, mode, out),
            Ins::READ_BINARY => self.read_binary(&tpdu, out),
            Ins::UPDATE_BINARY => {
                self.selection.update_binary(
                    &mut self.store,
                    &self.pin,
                    tpdu.p1,
                    tpdu.p2,
                    tpdu.data,
                )?;
                Ok(Reply::OK)
            }
            Ins::READ_RECORD => {
                let n = self.selection.read_record(
                    &self.store,
                    &self.pin,
                    tpdu.p1,
                    tpdu.p2,
                    usize::from(tpdu.le()),
                    out,
                )?;
                Ok(Reply {
                    data: n,
                    sw: StatusWord::OK,
                })
            }
            Ins::VERIFY => {
                let sw =
                    fs::PIN1.verify(&mut self.store, &mut self.pin, tpdu.p1, tpdu.p2, tpdu.data)?;
                Ok(Reply { data: 0, sw })
            }
            Ins::GET_RESPONSE => self.get_response(&tpdu, out),
            Ins::TERMINAL_PROFILE => self.terminal_profile(&tpdu, now_ms),
            Ins::FETCH => self.fetch(&tpdu, out),
            Ins::TERMINAL_RESPONSE => self.terminal_response(&tpdu, now_ms),
            Ins::ENVELOPE => self.envelope(&tpdu, now_ms),
            _ => Err(Fault::InsNotSupported),
        }
    }

    /// Keeps `len` bytes of `self.response` for GET RESPONSE: `61xx` / `9Fxx`.
    fn respond_later(&mut self, len: usize, mode: Mode) -> Result<Reply, Fault> {
        if len == 0 {
            return Ok(Reply::OK);
        }
        let l = u8::try_from(len).map_err(|_| Fault::Internal)?;
        self.response_len = u16::from(l);
        self.response_mode = mode;
        let sw = match mode {
            Mode::Gsm => StatusWord::gsm_response_available(l),
            Mode::Uicc => StatusWord::bytes_available(l),
        };
        Ok(Reply { data: 0, sw })
    }

    fn select(&mut self, t: &Tpdu<'_>, mode: Mode) -> Result<Reply, Fault> {
        let mut sel = self.selection;
        let n = match mode {
            Mode::Gsm => {
                // TS 51.011 §9.2.1: SELECT by FID only, P1 = P2 = 00.
                if t.p1 != 0 || t.p2 != 0 {
                    return Err(Fault::WrongP1P2);
                }
                let f = sel.select(0x00, 0x0C, t.data)?;
                fs::gsm_response(f.0, &self.store, &mut self.response)?
            }
            Mode::Uicc => match sel.select(t.p1, t.p2, t.data)? {
                (f, SelectResponse::Fcp) => fs::fcp(f, &self.store, &mut self.response)?,
                (_, SelectResponse::NoData) => 0,
            },
        };
        self.selection = sel;
        self.respond_later(n, mode)
    }

    fn status(&mut self, t: &Tpdu<'_>, mode: Mode, out: &mut [u8]) -> Result<Reply, Fault> {
        let mut buf = [0u8; 256];
        let n = match mode {
            Mode::Gsm => {
                if t.p1 != 0 || t.p2 != 0 {
                    return Err(Fault::WrongP1P2);
                }
                fs::gsm_response(self.selection.current_df(), &self.store, &mut buf)?
            }
            Mode::Uicc => self.selection.status(&self.store, t.p1, t.p2, &mut buf)?,
        };
        let data = buf.get(..n).ok_or(Fault::Internal)?;
        send_case2(data, t, out, n == 0)
    }

    fn read_binary(&mut self, t: &Tpdu<'_>, out: &mut [u8]) -> Result<Reply, Fault> {
        let le = usize::from(t.le());
        let (n, sw) = self
            .selection
            .read_binary(&self.store, &self.pin, t.p1, t.p2, le, out)?;
        if n < le {
            // T=0: the card cannot send fewer bytes than P3.
            return Err(Fault::WrongLe(n as u8));
        }
        Ok(Reply { data: n, sw })
    }

    fn get_response(&mut self, t: &Tpdu<'_>, out: &mut [u8]) -> Result<Reply, Fault> {
        if t.p1 != 0 || t.p2 != 0 {
            return Err(Fault::WrongP1P2);
        }
        let avail = usize::from(self.response_len);
        if avail == 0 {
            return Err(Fault::ConditionsNotSatisfied);
        }
        let le = usize::from(t.le());
        if le > avail {
            return Err(Fault::WrongLe(avail as u8));
        }
        out.get_mut(..le)
            .ok_or(Fault::Internal)?
            .copy_from_slice(self.response.get(..le).ok_or(Fault::Internal)?);
        let rest = avail - le;
        self.response.copy_within(le..avail, 0);
        self.response_len = rest as u16;
        let sw = match (rest, self.response_mode) {
            (0, _) => StatusWord::OK,
            (r, Mode::Gsm) => StatusWord::gsm_response_available(r as u8),
            (r, Mode::Uicc) => StatusWord::bytes_available(r as u8),
        };
        Ok(Reply { data: le, sw })
    }

    fn toolkit_p1p2(t: &Tpdu<'_>) -> Result<(), Fault> {
        if t.p1 != 0 || t.p2 != 0 {
            return Err(Fault::WrongP1P2);
        }
        Ok(())
    }

    fn identity(&self) -> Result<CardIdentity, Fault> {
        let mut id = CardIdentity {
            iccid: [0; 10],
            imsi: [0; 9],
        };
        fs::read_body(&self.store, FileRef::EF_ICCID, 0, &mut id.iccid)?;
        fs::read_body(&self.store, FileRef::EF_IMSI, 0, &mut id.imsi)?;
        Ok(id)
    }

    /// Runs one tracker step with a fresh context; a produced command becomes pending.
    fn applet_step(
        &mut self,
        now_ms: u64,
        step: impl FnOnce(&mut Tracker, &mut Context<'_, NVM_LEN>) -> Result<usize, TrackerError>,
    ) -> Result<Reply, Fault> {
        let identity = self.identity()?;
        let mut cx = Context {
            store: &mut self.store,
            record: &mut self.record,
            identity: &identity,
            now_ms,
            out: &mut self.proactive,
        };
        let n = step(&mut self.tracker, &mut cx)?;
        self.proactive_len = u8::try_from(n).map_err(|_| Fault::Internal)?;
        Ok(Reply::OK)
    }

    fn terminal_profile(&mut self, t: &Tpdu<'_>, now_ms: u64) -> Result<Reply, Fault> {
        Self::toolkit_p1p2(t)?;
        let tp = TerminalProfile::parse(t.data).map_err(|_| Fault::WrongLength)?;
        if self.proactive_session() {
            // A repeated profile in a running session changes nothing.
            return Ok(Reply::OK);
        }
        self.applet_step(now_ms, |tr, cx| tr.on_terminal_profile(&tp, cx))
    }

    fn fetch(&mut self, t: &Tpdu<'_>, out: &mut [u8]) -> Result<Reply, Fault> {
        Self::toolkit_p1p2(t)?;
        let n = usize::from(self.proactive_len);
        if n == 0 {
            return Err(Fault::ConditionsNotSatisfied);
        }
        if usize::from(t.le()) != n {
            return Err(Fault::WrongLe(self.proactive_len));
        }
        out.get_mut(..n)
            .ok_or(Fault::Internal)?
            .copy_from_slice(self.proactive.get(..n).ok_or(Fault::Internal)?);
        self.proactive_len = 0;
        self.fetched = true;
        Ok(Reply {
            data: n,
            sw: StatusWord::OK,
        })
    }

    fn terminal_response(&mut self, t: &Tpdu<'_>, now_ms: u64) -> Result<Reply, Fault> {
        Self::toolkit_p1p2(t)?;
        let expected = match self.tracker.state().outstanding() {
            Some(d) if self.fetched => d,
            _ => return Err(Fault::ConditionsNotSatisfied),
        };
        let tr = TerminalResponse::parse(t.data).map_err(|_| Fault::IncorrectData)?;
        let d = tr.details;
        if (d.number, d.kind, d.qualifier) != (expected.number, expected.kind, expected.qualifier) {
            return Err(Fault::IncorrectData);
        }
        let r = self.applet_step(now_ms, |tk, cx| tk.on_terminal_response(&tr, cx))?;
        self.fetched = false;
        Ok(r)
    }

    fn envelope(&mut self, t: &Tpdu<'_>, now_ms: u64) -> Result<Reply, Fault> {
        Self::toolkit_p1p2(t)?;
        if self.proactive_session() {
            return Ok(Reply {
                data: 0,
                sw: StatusWord::TOOLKIT_BUSY,
            });
        }
        let env = Envelope::parse(t.data).map_err(|_| Fault::IncorrectData)?;
        self.applet_step(now_ms, |tk, cx| tk.on_envelope(&env, cx))
    }
}

/// Instructions this card implements (in some class).
fn implemented(ins: Ins) -> bool {
    matches!(
        ins,
        Ins::SELECT
            | Ins::STATUS
            | Ins::READ_BINARY
            | Ins::UPDATE_BINARY
            | Ins::READ_RECORD
            | Ins::VERIFY
            | Ins::GET_RESPONSE
            | Ins::TERMINAL_PROFILE
            | Ins::FETCH
            | Ins::TERMINAL_RESPONSE
            | Ins::ENVELOPE
    )
}

/// A case-2 answer: `data` if Le asks for no more than it (`no_data`: Le ignored).
fn send_case2(data: &[u8], t: &Tpdu<'_>, out: &mut [u8], no_data: bool) -> Result<Reply, Fault> {
    if no_data {
        return Ok(Reply::OK);
    }
    let le = usize::from(t.le());
    if le > data.len() {
        return Err(Fault::WrongLe(data.len() as u8));
    }
    out.get_mut(..le)
        .ok_or(Fault::Internal)?
        .copy_from_slice(data.get(..le).ok_or(Fault::Internal)?);
    Ok(Reply {
        data: le,
        sw: StatusWord::OK,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::atr::Atr;

    /// Historical bytes: category `80`, card service data `31 A0`, card capabilities
    /// `73 BE 21 13`, pre-issuing data `67` "IMTRACK".
    const HISTORICAL: [u8; 15] = [
        0x80, 0x31, 0xA0, 0x73, 0xBE, 0x21, 0x13, 0x67, b'I', b'M', b'T', b'R', b'A', b'C', b'K',
    ];

    #[test]
    fn atr_is_t0_only_and_checksummed() {
        let mut buf = [0u8; 40];
        let n = Atr::t0_with_class(Some(0x96), 0xC7, &HISTORICAL)
            .emit(&mut buf)
            .unwrap();
        assert_eq!(&buf[..n], &ATR);
        let atr = Atr::parse(&ATR).unwrap();
        assert!(atr.offers(0));
        assert!(!atr.offers(1));
        assert_eq!(atr.global_ta(), Some(0xC7));
        assert_eq!(ATR[1..].iter().fold(0, |a, b| a ^ b), 0, "TCK");
    }

    #[test]
    fn fault_mapping_per_mode() {
        use Mode::*;
        let cases = [
            (Fault::WrongLe(0x0A), Uicc, 0x6C0A),
            (Fault::WrongLe(0x0A), Gsm, 0x670A),
            (Fault::ConditionsNotSatisfied, Uicc, 0x6985),
            (Fault::ConditionsNotSatisfied, Gsm, 0x6F00),
            (Fault::Card(CardError::FileNotFound), Uicc, 0x6A82),
            (Fault::Card(CardError::FileNotFound), Gsm, 0x9404),
            (
                Fault::Card(CardError::SecurityStatusNotSatisfied),
                Gsm,
                0x9804,
            ),
            (Fault::Memory(NvmError::PowerLost), Uicc, 0x6581),
            (Fault::Memory(NvmError::PowerLost), Gsm, 0x9240),
            (Fault::ClassNotSupported, Gsm, 0x6E00),
        ];
        for (f, m, sw) in cases {
            assert_eq!(StatusWord::from((f, m)), StatusWord(sw), "{f:?} {m:?}");
        }
    }

    #[test]
    fn harness_survives_some_sequences() {
        assert_eq!(crate::card::fuzz_sequence(&[]), Ok(0));
        assert!(
            super::super::fuzz_sequence(&[3, 5, 0x80, 0x10, 0x00, 0x00, 0x00, 0, 1, 2, 0, 0])
                .is_ok()
        );
    }

    #[test]
    fn test_personalisation_builds() {
        // Runs the one `expect` of the harness on its constant input.
        let p = crate::card::test_personalisation();
        assert!(Card::new(&p, CardNvm::new()).is_ok());
    }
}
