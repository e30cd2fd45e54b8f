//! The tracker's persistent record: its byte layout in the NVM data area, the RAM
//! mirror [`Record`], and the three transactions that change it.
//!
//! Every change goes through [`Store::begin`] / [`Store::write`] / [`Store::commit`], so
//! after a power cut at any NVM write the record is entirely old or entirely new.
//!
//! ## Layout
//!
//! The record occupies the two applet EFs of [`crate::card::fs`] (adjacent, 64 bytes
//! each) plus a secret block outside the file system that no APDU can read:
//!
//! EF.TRACK_CONFIG (`7F4A/6F01`, read/update PIN1), offsets from [`CONFIG_BASE`]:
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 1 | config format, [`FORMAT_V1`] |
//! | 1 | 1 | flags: `01` applet enabled, `10` ask for IMEISV |
//! | 2 | 12 | provisioning server address, TP-DA form (length, TOA, digits), `FF` padded |
//! | 14 | 12 | SMS centre: length of the CAT address value (0 = none), then TOA + digits |
//! | 26 | 1 | retry policy: max attempts per power cycle |
//! | 27 | 1 | retry policy: max attempts per period |
//! | 28 | 4 | retry policy: period, seconds (big endian) |
//! | 32 | 2 | retry policy: first back-off, seconds (doubles per retry) |
//! | 34 | 12 | the card's MSISDN (personalisation), TP address form, `FF` = none |
//! | 46 | 18 | reserved, `FF` |
//!
//! EF.TRACK_STATE (`7F4A/6F02`, read PIN1, update never — only the applet writes it),
//! offsets from [`CONFIG_BASE`] (the EF starts at 64):
//!
//! | offset | size | field | changed by |
//! | --- | --- | --- | --- |
//! | 64 | 1 | state flags: `02` IMEI stored, `04` IMEISV stored | registered |
//! | 65 | 8 | stored IMEI (TS 24.008 mobile identity = CAT tag `14` value) | registered |
//! | 73 | 9 | stored IMEISV (CAT tag `62` value) or `FF…` | registered |
//! | 82 | 5 | next registration counter (big endian, 0 … 2^40 − 1) | attempt |
//! | 87 | 1 | pending registration: event kind | attempt |
//! | 88 | 8 | pending registration: IMEI | attempt |
//! | 96 | 9 | pending registration: IMEISV or `FF…` | attempt |
//! | 105 | 1 | pending flags: `01` pending, `02` pending IMEISV present | attempt, registered |
//! | 106 | 1 | attempts in the current rate-limit period | attempt |
//! | 107 | 8 | start of the current period, ms on the caller's clock (big endian) | attempt |
//! | 115 | 1 | last IMEI failure: `00` none, `01` missing, `02` malformed | failure, registered |
//! | 116 | 1 | last IMEI failure: general result of the TERMINAL RESPONSE | failure, registered |
//! | 117 | 1 | last IMEI failure: first byte of the malformed identity | failure, registered |
//! | 118 | 10 | reserved |
//!
//! Secret block at [`SECRET_BASE`] (after the file system's data, [`SECRET_LEN`] bytes):
//! personalisation marker [`FORMAT_V1`] (1), KID (1), K_reg (16). The marker lives here,
//! not in the PIN-writable config EF, so nobody can make the card "re-personalise" and
//! restart its counter.
//!
//! Persistent bytes of the applet: 128 + 18 = 146; with the file system's 256, the
//! card's data area is [`crate::card::DATA_LEN`] bytes.
//!
//! The "attempt" transaction (counter + 1, pending registration, period count) is
//! committed **before** the SEND SHORT MESSAGE leaves the card: a power cut can never
//! make the card reuse a counter value (`docs/registration.md` §5, "The card's
//! obligations"). The "registered" transaction (new IMEI/IMEISV, pending cleared) is
//! committed only on a successful TERMINAL RESPONSE, so the new IMEI is stored exactly
//! once.

use crate::card::fs;
use crate::card::nvm::{NvmError, Store, TxStart};
use crate::wire::Error;
use crate::wire::registration::{COUNTER_MAX, EventKind, KeyId};
use crate::wire::sms;

/// Format byte of a personalised version-1 record.
pub const FORMAT_V1: u8 = 0x49;
/// Where the record's block (config EF + state EF) starts in the data area.
pub const CONFIG_BASE: usize = fs::TRACK_CONFIG_BODY as usize;
/// Bytes of the block: the two applet EFs.
pub const BLOCK_LEN: usize = 2 * fs::TRACK_EF_LEN as usize;
/// Where the secret block starts in the data area.
pub const SECRET_BASE: usize = fs::FS_DATA_LEN;
/// Bytes of the secret block.
pub const SECRET_LEN: usize = 18;

const _: () = assert!(
    fs::TRACK_CONFIG_BODY as usize + fs::TRACK_EF_LEN as usize == fs::TRACK_STATE_BODY as usize
);

const OFF_FORMAT: usize = 0;
const OFF_FLAGS: usize = 1;
const OFF_SERVER: usize = 2;
const OFF_SMSC: usize = 14;
const OFF_POLICY: usize = 26;
const OFF_MSISDN: usize = 34;
const OFF_STATE: usize = 64;
const OFF_STATE_FLAGS: usize = 64;
const OFF_IMEI: usize = 65;
const OFF_IMEISV: usize = 73;
const OFF_COUNTER: usize = 82;
const OFF_PENDING_KIND: usize = 87;
const OFF_PENDING_FLAGS: usize = 105;
const OFF_PERIOD_COUNT: usize = 106;
const OFF_FAILURE: usize = 115;
const OFF_FAILURE_END: usize = 118;

const FLAG_ENABLED: u8 = 0x01;
const FLAG_WANT_IMEISV: u8 = 0x10;
const FLAG_IMEI: u8 = 0x02;
const FLAG_IMEISV: u8 = 0x04;

const PENDING: u8 = 0x01;
const PENDING_IMEISV: u8 = 0x02;

/// One of the record's three transactions, told from where it starts
/// ([`RecordTx::of`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordTx {
    /// [`Record::commit_attempt`]: counter + 1 and the pending registration of this event
    /// kind, committed before SEND SHORT MESSAGE leaves the card.
    Attempt {
        /// Event kind of the pending registration (`03` = a retry); `None` when the
        /// entry ends before the kind byte, so the kind is the one already pending (the
        /// tracker's attempts always reach it: each one changes the period count).
        kind: Option<EventKind>,
    },
    /// [`Record::commit_registered`]: the new IMEI stored, nothing pending.
    Registered,
    /// [`Record::commit_failure`]: an unusable IMEI recorded.
    Failure,
}

impl RecordTx {
    /// The record transaction that began at `start` (as [`crate::card::nvm::Nvm`] logs
    /// it), or `None` for any other transaction (file system, PIN, personalisation,
    /// the config EF).
    ///
    /// Each record transaction writes one journal entry from the first byte it changes
    /// to the last (`Record::transact`), so where the entry starts tells them apart
    /// (offsets in the layout table, "changed by" column):
    /// - the attempt always changes the counter (82–86) and nothing before it; its event
    ///   kind is the entry's byte for offset 87 when the entry reaches it;
    /// - "registered" changes the state flags or the IMEI (64–81) whenever it stores an
    ///   IMEI not stored yet (always, in the tracker's flow); storing the stored IMEI
    ///   again it starts at the pending flags (105) or, with nothing pending, at the
    ///   failure kind (115) which it sets to `00`;
    /// - the failure changes only its three bytes (115–117), the kind to `01` or `02`.
    pub fn of(start: &TxStart) -> Option<RecordTx> {
        let rel = usize::from(start.offset).checked_sub(CONFIG_BASE)?;
        let end = rel + usize::from(start.len);
        match rel {
            OFF_STATE_FLAGS..OFF_COUNTER | OFF_PENDING_FLAGS => Some(RecordTx::Registered),
            OFF_COUNTER..OFF_PENDING_KIND => Some(RecordTx::Attempt {
                kind: (end > OFF_PENDING_KIND)
                    .then(|| start.head.get(OFF_PENDING_KIND - rel).copied())
                    .flatten()
                    .map(EventKind),
            }),
            OFF_FAILURE if start.head[0] == 0 => Some(RecordTx::Registered),
            OFF_FAILURE..OFF_FAILURE_END => Some(RecordTx::Failure),
            _ => None,
        }
    }
}

/// Longest TP-DA form of an address: length, TOA, 10 octets of digits (TS 23.040 §9.1.2.5).
pub const ADDRESS_SLOT: usize = 12;

/// How often the applet may try (issue 3: "no SMS flood").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RetryPolicy {
    /// Registration SMS per power cycle (first attempt included).
    pub max_attempts_per_power_cycle: u8,
    /// Registration SMS per period (persistent across power cycles).
    pub max_attempts_per_period: u8,
    /// Length of the rate-limit period in seconds.
    pub period_s: u32,
    /// Back-off before the first retry, seconds; doubled for every further retry and
    /// capped at 23:59:59 (the largest TIMER MANAGEMENT value, TS 102 223 §8.38).
    pub backoff_s: u16,
}

impl RetryPolicy {
    /// 3 per power cycle, 10 per day, first back-off 60 s.
    pub const DEFAULT: RetryPolicy = RetryPolicy {
        max_attempts_per_power_cycle: 3,
        max_attempts_per_period: 10,
        period_s: 86_400,
        backoff_s: 60,
    };
}

/// The applet part of the personalisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppletConfig {
    /// Provisioning server: TP-DA of the registration SMS-SUBMIT.
    pub server: sms::Address,
    /// SMS centre for the CAT address object (TS 102 223 §6.6.9); `None` = the terminal's
    /// default (EF.SMSP).
    pub smsc: Option<sms::Address>,
    /// Retry and rate-limit policy.
    pub retry: RetryPolicy,
    /// Whether the applet runs at all.
    pub enabled: bool,
    /// Ask for the IMEISV too, when the terminal profile allows it.
    pub request_imeisv: bool,
    /// Key identifier (key version 1..15, AES-CMAC).
    pub key_id: KeyId,
    /// Per-card registration key.
    pub key: [u8; 16],
}

/// A registration that has been committed as "attempted" (counter reserved).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PendingRegistration {
    /// Event kind of the attempt.
    pub kind: EventKind,
    /// IMEI being registered.
    pub imei: [u8; 8],
    /// IMEISV being registered.
    pub imeisv: Option<[u8; 9]>,
}

/// The last IMEI the handset could not deliver usefully.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImeiFailure {
    /// No IMEI object (or the command failed): the general result code.
    Missing {
        /// General result of the TERMINAL RESPONSE.
        result: u8,
    },
    /// An IMEI object that is not a valid IMEI (type, length, digits, digit 15).
    Malformed {
        /// First byte of the object's value (`00` if empty).
        first_byte: u8,
    },
}

/// RAM mirror of the persistent record (read at the start of each session, updated
/// after each commit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    bytes: [u8; BLOCK_LEN],
    secret: [u8; SECRET_LEN],
}

fn slot<const L: usize>(b: &[u8], off: usize) -> [u8; L] {
    let mut out = [0u8; L];
    if let Some(s) = b.get(off..off + L) {
        out.copy_from_slice(s);
    }
    out
}

/// Errors of record operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordError {
    /// The NVM failed (power lost, journal full).
    Nvm(NvmError),
    /// A personalisation value does not encode.
    Wire(Error),
    /// The record has no personalisation.
    NotPersonalised,
}

impl From<NvmError> for RecordError {
    fn from(e: NvmError) -> Self {
        RecordError::Nvm(e)
    }
}

impl From<Error> for RecordError {
    fn from(e: Error) -> Self {
        RecordError::Wire(e)
    }
}

impl Record {
    /// Reads the record from `store`'s data area.
    pub fn load<const N: usize>(store: &Store<N>) -> Result<Self, RecordError> {
        let mut bytes = [0u8; BLOCK_LEN];
        store.read(CONFIG_BASE, &mut bytes)?;
        let mut secret = [0u8; SECRET_LEN];
        store.read(SECRET_BASE, &mut secret)?;
        Ok(Record { bytes, secret })
    }

    /// The raw block (config EF + state EF).
    pub fn as_bytes(&self) -> &[u8; BLOCK_LEN] {
        &self.bytes
    }

    /// Whether a personalisation is present.
    pub fn is_personalised(&self) -> bool {
        self.secret[0] == FORMAT_V1 && self.bytes[OFF_FORMAT] == FORMAT_V1
    }

    /// Writes a fresh record (no IMEI, counter 0) for `config` into the open
    /// transaction of `store` (the caller commits, together with the file system's
    /// personalisation).
    pub fn personalise<const N: usize>(
        store: &mut Store<N>,
        config: &AppletConfig,
        msisdn: Option<&sms::Address>,
    ) -> Result<(), RecordError> {
        let mut b = [0xFFu8; BLOCK_LEN];
        b[OFF_FORMAT] = FORMAT_V1;
        let mut flags = 0;
        if config.enabled {
            flags |= FLAG_ENABLED;
        }
        if config.request_imeisv {
            flags |= FLAG_WANT_IMEISV;
        }
        b[OFF_FLAGS] = flags;
        config
            .server
            .emit(&mut b[OFF_SERVER..OFF_SMSC])
            .map_err(|_| Error::BadValue)?;
        b[OFF_SMSC] = 0;
        if let Some(smsc) = &config.smsc {
            let n = smsc
                .emit_padded(&mut b[OFF_SMSC + 1..OFF_POLICY])
                .map_err(|_| Error::BadValue)?;
            b[OFF_SMSC] = n as u8;
        }
        let p = &config.retry;
        b[OFF_POLICY] = p.max_attempts_per_power_cycle;
        b[OFF_POLICY + 1] = p.max_attempts_per_period;
        b[OFF_POLICY + 2..OFF_POLICY + 6].copy_from_slice(&p.period_s.to_be_bytes());
        b[OFF_POLICY + 6..OFF_POLICY + 8].copy_from_slice(&p.backoff_s.to_be_bytes());
        if let Some(m) = msisdn {
            m.emit(&mut b[OFF_MSISDN..OFF_MSISDN + ADDRESS_SLOT])
                .map_err(|_| Error::BadValue)?;
        }
        b[OFF_STATE..].fill(0);
        b[OFF_IMEI..OFF_COUNTER].fill(0xFF);
        b[OFF_PENDING_KIND..OFF_PENDING_FLAGS].fill(0xFF);
        let mut secret = [0u8; SECRET_LEN];
        secret[0] = FORMAT_V1;
        secret[1] = config.key_id.0;
        secret[2..].copy_from_slice(&config.key);
        store.write(CONFIG_BASE, &b)?;
        store.write(SECRET_BASE, &secret)?;
        Ok(())
    }

    fn flags(&self) -> u8 {
        self.bytes[OFF_FLAGS]
    }

    fn state_flags(&self) -> u8 {
        self.bytes[OFF_STATE_FLAGS]
    }

    /// Whether the applet is enabled.
    pub fn enabled(&self) -> bool {
        self.is_personalised() && self.flags() & FLAG_ENABLED != 0
    }

    /// Whether the applet should ask for the IMEISV.
    pub fn wants_imeisv(&self) -> bool {
        self.flags() & FLAG_WANT_IMEISV != 0
    }

    /// The stored IMEI, if any.
    pub fn stored_imei(&self) -> Option<[u8; 8]> {
        (self.state_flags() & FLAG_IMEI != 0).then(|| slot(&self.bytes, OFF_IMEI))
    }

    /// The stored IMEISV, if any.
    pub fn stored_imeisv(&self) -> Option<[u8; 9]> {
        (self.state_flags() & FLAG_IMEISV != 0).then(|| slot(&self.bytes, OFF_IMEISV))
    }

    /// The next registration counter value.
    pub fn next_counter(&self) -> u64 {
        let c: [u8; 5] = slot(&self.bytes, OFF_COUNTER);
        c.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x))
    }

    /// The registration committed as attempted and not yet acknowledged.
    pub fn pending(&self) -> Option<PendingRegistration> {
        let pf = self.bytes[OFF_PENDING_FLAGS];
        (pf & PENDING != 0).then(|| PendingRegistration {
            kind: EventKind(self.bytes[OFF_PENDING_KIND]),
            imei: slot(&self.bytes, OFF_PENDING_KIND + 1),
            imeisv: (pf & PENDING_IMEISV != 0).then(|| slot(&self.bytes, OFF_PENDING_KIND + 9)),
        })
    }

    /// Attempts in the current period and the period's start (ms).
    pub fn period(&self) -> (u8, u64) {
        let start: [u8; 8] = slot(&self.bytes, OFF_PERIOD_COUNT + 1);
        (self.bytes[OFF_PERIOD_COUNT], u64::from_be_bytes(start))
    }

    /// The last IMEI failure recorded.
    pub fn last_failure(&self) -> Option<ImeiFailure> {
        match self.bytes[OFF_FAILURE] {
            1 => Some(ImeiFailure::Missing {
                result: self.bytes[OFF_FAILURE + 1],
            }),
            2 => Some(ImeiFailure::Malformed {
                first_byte: self.bytes[OFF_FAILURE + 2],
            }),
            _ => None,
        }
    }

    /// Key identifier.
    pub fn key_id(&self) -> KeyId {
        KeyId(self.secret[1])
    }

    /// Registration key.
    pub fn key(&self) -> [u8; 16] {
        slot(&self.secret, 2)
    }

    /// Provisioning server address (TP-DA).
    pub fn server(&self) -> Result<sms::Address, Error> {
        sms::Address::parse(self.bytes.get(OFF_SERVER..OFF_SMSC).unwrap_or(&[]))
    }

    /// The card's MSISDN, if personalised.
    pub fn msisdn(&self) -> Option<sms::Address> {
        sms::Address::parse(self.bytes.get(OFF_MSISDN..OFF_MSISDN + ADDRESS_SLOT)?).ok()
    }

    /// SMS centre as a CAT address value (TOA + digits), if set.
    pub fn smsc(&self) -> Option<&[u8]> {
        let n = usize::from(self.bytes[OFF_SMSC]);
        if n == 0 {
            return None;
        }
        self.bytes.get(OFF_SMSC + 1..OFF_SMSC + 1 + n)
    }

    /// Retry policy.
    pub fn retry_policy(&self) -> RetryPolicy {
        let b = &self.bytes;
        RetryPolicy {
            max_attempts_per_power_cycle: b[OFF_POLICY],
            max_attempts_per_period: b[OFF_POLICY + 1],
            period_s: u32::from_be_bytes(slot(b, OFF_POLICY + 2)),
            backoff_s: u16::from_be_bytes(slot(b, OFF_POLICY + 6)),
        }
    }

    /// Runs `f` over a copy of the record and commits the bytes that changed, in one
    /// transaction; the mirror changes only after a successful commit.
    fn transact<const N: usize>(
        &mut self,
        store: &mut Store<N>,
        f: impl FnOnce(&mut [u8; BLOCK_LEN]),
    ) -> Result<(), RecordError> {
        let mut new = self.bytes;
        f(&mut new);
        // One journal entry spanning the changed bytes.
        let first = new.iter().zip(&self.bytes).position(|(a, b)| a != b);
        let last = new.iter().zip(&self.bytes).rposition(|(a, b)| a != b);
        let (Some(lo), Some(hi)) = (first, last) else {
            return Ok(());
        };
        store.begin()?;
        let r = store.write(CONFIG_BASE + lo, new.get(lo..=hi).unwrap_or(&[]));
        if let Err(e) = r {
            store.abort();
            return Err(e.into());
        }
        store.commit()?;
        self.bytes = new;
        Ok(())
    }

    /// The "attempt" transaction, committed before the SMS leaves the card: counter + 1,
    /// the pending registration, and the period count (a new period starts at `now_ms`
    /// when the old one is over). Returns the counter value the SMS must carry.
    ///
    /// `Err(Wire(BadValue))` when the counter is exhausted (never wraps).
    pub fn commit_attempt<const N: usize>(
        &mut self,
        store: &mut Store<N>,
        pending: &PendingRegistration,
        now_ms: u64,
    ) -> Result<u64, RecordError> {
        let counter = self.next_counter();
        if counter >= COUNTER_MAX {
            return Err(Error::BadValue.into());
        }
        let (count, start) = self.period_after(now_ms);
        self.transact(store, |b| {
            let next = (counter + 1).to_be_bytes();
            b[OFF_COUNTER..OFF_COUNTER + 5].copy_from_slice(&next[3..]);
            b[OFF_PENDING_KIND] = pending.kind.0;
            b[OFF_PENDING_KIND + 1..OFF_PENDING_KIND + 9].copy_from_slice(&pending.imei);
            let mut pf = PENDING;
            match &pending.imeisv {
                Some(sv) => {
                    b[OFF_PENDING_KIND + 9..OFF_PENDING_FLAGS].copy_from_slice(sv);
                    pf |= PENDING_IMEISV;
                }
                None => b[OFF_PENDING_KIND + 9..OFF_PENDING_FLAGS].fill(0xFF),
            }
            b[OFF_PENDING_FLAGS] = pf;
            b[OFF_PERIOD_COUNT] = count.saturating_add(1);
            b[OFF_PERIOD_COUNT + 1..OFF_FAILURE].copy_from_slice(&start.to_be_bytes());
        })?;
        Ok(counter)
    }

    /// Period count and start as they would be at `now_ms` (before this attempt).
    pub fn period_after(&self, now_ms: u64) -> (u8, u64) {
        let (count, start) = self.period();
        let len = u64::from(self.retry_policy().period_s).saturating_mul(1000);
        if count == 0 || now_ms >= start.saturating_add(len) {
            (0, now_ms)
        } else {
            (count, start)
        }
    }

    /// The "registered" transaction: the new IMEI (and IMEISV) stored, the pending
    /// registration and the last failure cleared.
    pub fn commit_registered<const N: usize>(
        &mut self,
        store: &mut Store<N>,
        imei: &[u8; 8],
        imeisv: Option<&[u8; 9]>,
    ) -> Result<(), RecordError> {
        self.transact(store, |b| {
            b[OFF_IMEI..OFF_IMEISV].copy_from_slice(imei);
            let mut flags = (b[OFF_STATE_FLAGS] | FLAG_IMEI) & !FLAG_IMEISV;
            match imeisv {
                Some(sv) => {
                    b[OFF_IMEISV..OFF_COUNTER].copy_from_slice(sv);
                    flags |= FLAG_IMEISV;
                }
                None => b[OFF_IMEISV..OFF_COUNTER].fill(0xFF),
            }
            b[OFF_STATE_FLAGS] = flags;
            b[OFF_PENDING_FLAGS] = 0;
            b[OFF_FAILURE..OFF_FAILURE + 3].fill(0);
        })
    }

    /// Records an IMEI failure (one transaction; nothing is written when the same
    /// failure is already recorded).
    pub fn commit_failure<const N: usize>(
        &mut self,
        store: &mut Store<N>,
        failure: ImeiFailure,
    ) -> Result<(), RecordError> {
        let v = match failure {
            ImeiFailure::Missing { result } => [1, result, 0],
            ImeiFailure::Malformed { first_byte } => [2, 0, first_byte],
        };
        self.transact(store, |b| {
            b[OFF_FAILURE..OFF_FAILURE + 3].copy_from_slice(&v);
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::nvm::Nvm;
    extern crate std;
    use std::string::ToString;

    fn config() -> AppletConfig {
        AppletConfig {
            server: sms::Address::number("+447700900123").unwrap(),
            smsc: Some(sms::Address::number("+447700900000").unwrap()),
            retry: RetryPolicy::DEFAULT,
            enabled: true,
            request_imeisv: false,
            key_id: KeyId::aes_cmac(1).unwrap(),
            key: [0x11; 16],
        }
    }

    fn fresh() -> (Store<1024>, Record) {
        let mut s = Store::open(Nvm::<1024>::new(), 288).unwrap();
        s.begin().unwrap();
        let m = sms::Address::number("+447700900555").unwrap();
        Record::personalise(&mut s, &config(), Some(&m)).unwrap();
        s.commit().unwrap();
        let r = Record::load(&s).unwrap();
        (s, r)
    }

    #[test]
    fn personalise_and_read_back() {
        let (_s, r) = fresh();
        assert!(r.is_personalised() && r.enabled() && !r.wants_imeisv());
        assert_eq!(r.stored_imei(), None);
        assert_eq!(r.pending(), None);
        assert_eq!(r.last_failure(), None);
        assert_eq!(r.next_counter(), 0);
        assert_eq!(r.period(), (0, 0));
        assert_eq!(r.server().unwrap(), config().server);
        // CAT address value: TOA 91, digits 447700900000 swapped (02-cat.md §2, tag 06).
        assert_eq!(
            r.smsc().unwrap(),
            &[0x91, 0x44, 0x77, 0x00, 0x09, 0x00, 0x00]
        );
        assert_eq!(r.retry_policy(), RetryPolicy::DEFAULT);
        assert_eq!(r.key(), [0x11; 16]);
        assert_eq!(r.key_id(), KeyId(0x12));
        assert_eq!(r.msisdn().unwrap().to_string(), "+447700900555");
    }

    #[test]
    fn blank_store_is_not_personalised() {
        let s = Store::open(Nvm::<1024>::new(), 288).unwrap();
        assert!(!Record::load(&s).unwrap().is_personalised());
    }

    #[test]
    fn attempt_then_registered() {
        let (mut s, mut r) = fresh();
        let imei = [0x4A, 0x09, 0x51, 0x24, 0x30, 0x32, 0x57, 0x81];
        let p = PendingRegistration {
            kind: EventKind::FIRST_USE,
            imei,
            imeisv: None,
        };
        assert_eq!(r.commit_attempt(&mut s, &p, 1000).unwrap(), 0);
        assert_eq!(r.next_counter(), 1);
        assert_eq!(r.pending(), Some(p));
        assert_eq!(r.period(), (1, 1000));
        assert_eq!(Record::load(&s).unwrap(), r);
        r.commit_registered(&mut s, &imei, None).unwrap();
        assert_eq!(r.stored_imei(), Some(imei));
        assert_eq!(r.pending(), None);
        assert_eq!(Record::load(&s).unwrap(), r);
        // Period rolls over after period_s.
        assert_eq!(r.period_after(1000 + 86_400_000), (0, 1000 + 86_400_000));
        assert_eq!(r.period_after(2000), (1, 1000));
    }

    #[test]
    fn state_transactions_never_touch_the_config_ef() {
        let (mut s, mut r) = fresh();
        let before = s.committed()[CONFIG_BASE..CONFIG_BASE + OFF_STATE].to_vec();
        let imei = [0x4A, 0x09, 0x51, 0x24, 0x30, 0x32, 0x57, 0x81];
        let p = PendingRegistration {
            kind: EventKind::FIRST_USE,
            imei,
            imeisv: Some([0x43, 0x09, 0x51, 0x24, 0x30, 0x32, 0x57, 0x01, 0xF1]),
        };
        r.commit_attempt(&mut s, &p, 5).unwrap();
        r.commit_registered(&mut s, &imei, p.imeisv.as_ref())
            .unwrap();
        r.commit_failure(&mut s, ImeiFailure::Missing { result: 0x20 })
            .unwrap();
        assert_eq!(
            &s.committed()[CONFIG_BASE..CONFIG_BASE + OFF_STATE],
            &before[..]
        );
    }

    #[test]
    fn transactions_are_told_apart_by_where_they_start() {
        let (mut s, mut r) = fresh();
        let last = |s: &Store<1024>| {
            let n = s.nvm().tx_count() - 1;
            let t = s.nvm().tx_start(n).unwrap();
            (t.write, RecordTx::of(&t))
        };
        // Personalisation (config EF onwards) is none of them.
        assert_eq!(last(&s).1, None);
        let imei = [0x4A, 0x09, 0x51, 0x24, 0x30, 0x32, 0x57, 0x81];
        let other = [0x4A, 0x09, 0x51, 0x24, 0x30, 0x32, 0x57, 0x91];
        let p = |kind, imei| PendingRegistration {
            kind,
            imei,
            imeisv: None,
        };
        r.commit_failure(&mut s, ImeiFailure::Missing { result: 0x20 })
            .unwrap();
        assert_eq!(last(&s).1, Some(RecordTx::Failure));
        for (kind, im) in [
            (EventKind::FIRST_USE, imei),
            (EventKind::RETRY, imei),
            (EventKind::HANDSET_CHANGED, other),
        ] {
            let w = s.nvm().writes();
            r.commit_attempt(&mut s, &p(kind, im), 10).unwrap();
            assert_eq!(last(&s), (w, Some(RecordTx::Attempt { kind: Some(kind) })));
            let w = s.nvm().writes();
            r.commit_registered(&mut s, &im, None).unwrap();
            assert_eq!(last(&s), (w, Some(RecordTx::Registered)));
        }
        // 256 attempts: the counter's carry moves the entry's start into the counter's
        // higher bytes; still an attempt of the right kind.
        for i in 1..=256u64 {
            r.commit_attempt(&mut s, &p(EventKind::RETRY, other), i * 86_400_001)
                .unwrap();
            assert_eq!(
                last(&s).1,
                Some(RecordTx::Attempt {
                    kind: Some(EventKind::RETRY)
                })
            );
        }
        assert!(r.next_counter() > 256);
        // An entry that stops inside the counter: an attempt, kind unchanged.
        let counter_only = TxStart {
            write: 0,
            offset: (CONFIG_BASE + OFF_COUNTER + 4) as u16,
            len: 1,
            head: [7, 0, 0, 0, 0, 0, 0, 0],
        };
        assert_eq!(
            RecordTx::of(&counter_only),
            Some(RecordTx::Attempt { kind: None })
        );
        r.commit_registered(&mut s, &imei, Some(&[0x33; 9]))
            .unwrap();
        assert_eq!(last(&s).1, Some(RecordTx::Registered));
        // Failures: a new kind starts at the kind byte, the same kind with another
        // result after it.
        r.commit_failure(&mut s, ImeiFailure::Missing { result: 0x20 })
            .unwrap();
        assert_eq!(last(&s).1, Some(RecordTx::Failure));
        r.commit_failure(&mut s, ImeiFailure::Missing { result: 0x00 })
            .unwrap();
        assert_eq!(last(&s).1, Some(RecordTx::Failure));
        assert_eq!(
            s.nvm().tx_start(s.nvm().tx_count() - 1).unwrap().offset,
            (CONFIG_BASE + OFF_FAILURE + 1) as u16
        );
        // "Registered" of the IMEI already stored, nothing pending: it only clears the
        // failure.
        r.commit_registered(&mut s, &imei, Some(&[0x33; 9]))
            .unwrap();
        assert_eq!(last(&s).1, Some(RecordTx::Registered));
    }

    #[test]
    fn failure_recorded_once() {
        let (mut s, mut r) = fresh();
        r.commit_failure(&mut s, ImeiFailure::Malformed { first_byte: 0x4B })
            .unwrap();
        let w = s.nvm().writes();
        r.commit_failure(&mut s, ImeiFailure::Malformed { first_byte: 0x4B })
            .unwrap();
        assert_eq!(s.nvm().writes(), w);
        assert_eq!(
            Record::load(&s).unwrap().last_failure(),
            Some(ImeiFailure::Malformed { first_byte: 0x4B })
        );
    }
}
