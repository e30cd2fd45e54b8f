//! PIN1 (key reference `01`) with a persistent retry counter (ETSI TS 102 221 §9.5,
//! §11.1.9; 3GPP TS 51.011 §9.2.9 VERIFY CHV).
//!
//! NVM record at [`crate::card::fs::PIN1_BODY`], [`RECORD_LEN`] bytes:
//! PIN value (8 bytes, ASCII digits padded with `FF`), retries left (0..=[`MAX_TRIES`]),
//! enabled flag (`01` enabled, anything else disabled).
//!
//! Anti-tearing: a presentation first commits "retries − 1", then compares, and on a
//! match commits the reset to [`MAX_TRIES`]. A power cut can therefore only cost an
//! attempt, never give one back.

use super::CardError;
use super::nvm::Store;
use crate::wire::apdu::StatusWord;

/// Length of the PIN block on the wire and in NVM (TS 102 221 §9.5.1).
pub const PIN_LEN: usize = 8;
/// Attempts after a reset (TS 102 221 §9.5.1: at least 3).
pub const MAX_TRIES: u8 = 3;
/// Bytes of the NVM record.
pub const RECORD_LEN: usize = PIN_LEN + 2;
/// Key reference of PIN1 in P2 of VERIFY (TS 102 221 §9.5.1, Table 9.3).
pub const PIN1_KEY_REFERENCE: u8 = 0x01;

/// Security state of one card session (RAM, lost at reset).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PinSession {
    /// PIN1 was verified since the last reset.
    pub verified: bool,
}

/// PIN1 as stored at `offset` of the store's data area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pin1 {
    offset: usize,
}

/// Pads an ASCII PIN to 8 bytes with `FF` (TS 102 221 §9.5.1); `None` if longer.
pub fn pad_pin(ascii: &[u8]) -> Option<[u8; PIN_LEN]> {
    let mut out = [0xFF; PIN_LEN];
    out.get_mut(..ascii.len())?.copy_from_slice(ascii);
    Some(out)
}

impl Pin1 {
    /// PIN1 whose record lives at `offset`.
    pub const fn at(offset: usize) -> Self {
        Self { offset }
    }

    /// Writes the PIN value, a full retry counter and the enabled flag into the open
    /// transaction of `store` (personalisation).
    pub fn personalise<const N: usize>(
        &self,
        store: &mut Store<N>,
        pin: [u8; PIN_LEN],
        enabled: bool,
    ) -> Result<(), CardError> {
        let mut rec = [0u8; RECORD_LEN];
        rec[..PIN_LEN].copy_from_slice(&pin);
        rec[PIN_LEN] = MAX_TRIES;
        rec[PIN_LEN + 1] = u8::from(enabled);
        store.write(self.offset, &rec)?;
        Ok(())
    }

    fn record<const N: usize>(&self, store: &Store<N>) -> Result<[u8; RECORD_LEN], CardError> {
        let mut rec = [0u8; RECORD_LEN];
        store.read(self.offset, &mut rec)?;
        Ok(rec)
    }

    /// Attempts left (0 = blocked). Values above [`MAX_TRIES`] (e.g. erased NVM) read as 0.
    pub fn retries<const N: usize>(&self, store: &Store<N>) -> Result<u8, CardError> {
        let r = self.record(store)?[PIN_LEN];
        Ok(if r > MAX_TRIES { 0 } else { r })
    }

    /// Whether PIN1 is enabled; when disabled, PIN1 access conditions are met without
    /// verification (TS 102 221 §9.5.1).
    pub fn is_enabled<const N: usize>(&self, store: &Store<N>) -> Result<bool, CardError> {
        Ok(self.record(store)?[PIN_LEN + 1] == 1)
    }

    /// Whether the PIN1 access condition is met in `session`.
    pub fn satisfied<const N: usize>(
        &self,
        store: &Store<N>,
        session: &PinSession,
    ) -> Result<bool, CardError> {
        Ok(session.verified || !self.is_enabled(store)?)
    }

    fn set_retries<const N: usize>(&self, store: &mut Store<N>, n: u8) -> Result<(), CardError> {
        store.write_atomic(self.offset + PIN_LEN, &[n])?;
        Ok(())
    }

    /// VERIFY PIN (`00 20 00 01 08 <pin>`, TS 102 221 §11.1.9; GSM `A0 20 00 01 08`).
    ///
    /// - `p1` ≠ 00 → [`CardError::IncorrectP1P2`]; `p2` ≠ `01` →
    ///   [`CardError::ReferencedDataNotFound`] (`6A88`).
    /// - empty `data` (`00 20 00 01` / P3 = 00): retries query → `Ok(9000)` when
    ///   verified in this session, else [`CardError::VerificationFailed`] (`63Cx`), or
    ///   [`CardError::PinBlocked`] (`6983`).
    /// - `data` of another length than 8 → [`CardError::WrongLength`].
    /// - blocked → [`CardError::PinBlocked`]; wrong PIN → `VerificationFailed(left)`
    ///   (`63C2`, `63C1`, `63C0`, then `6983`); right PIN → `Ok(9000)`, counter reset,
    ///   session verified.
    pub fn verify<const N: usize>(
        &self,
        store: &mut Store<N>,
        session: &mut PinSession,
        p1: u8,
        p2: u8,
        data: &[u8],
    ) -> Result<StatusWord, CardError> {
        if p1 != 0 {
            return Err(CardError::IncorrectP1P2);
        }
        if p2 != PIN1_KEY_REFERENCE {
            return Err(CardError::ReferencedDataNotFound);
        }
        let rec = self.record(store)?;
        let left = self.retries(store)?;
        if data.is_empty() {
            return if left == 0 {
                Err(CardError::PinBlocked)
            } else if session.verified {
                Ok(StatusWord::OK)
            } else {
                Err(CardError::VerificationFailed(left))
            };
        }
        if data.len() != PIN_LEN {
            return Err(CardError::WrongLength);
        }
        if left == 0 {
            return Err(CardError::PinBlocked);
        }
        session.verified = false;
        // Count the attempt first (anti-tearing), then compare.
        self.set_retries(store, left - 1)?;
        let stored = rec.get(..PIN_LEN).unwrap_or(&[]);
        // Compare every byte (no early exit).
        let diff = stored
            .iter()
            .zip(data)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if diff == 0 {
            self.set_retries(store, MAX_TRIES)?;
            session.verified = true;
            Ok(StatusWord::OK)
        } else {
            Err(CardError::VerificationFailed(left - 1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::nvm::{Nvm, NvmError};

    const N: usize = 128;
    const DATA: usize = 32;
    const PIN: Pin1 = Pin1::at(4);

    fn store() -> Store<N> {
        let mut s = Store::open(Nvm::new(), DATA).unwrap();
        s.begin().unwrap();
        PIN.personalise(&mut s, pad_pin(b"1234").unwrap(), true)
            .unwrap();
        s.commit().unwrap();
        s
    }

    /// `00 20 00 01 08 31 32 33 34 FF FF FF FF` (01-apdu.md §3, pySim verify_chv layout).
    const GOOD: [u8; 8] = [0x31, 0x32, 0x33, 0x34, 0xFF, 0xFF, 0xFF, 0xFF];
    const BAD: [u8; 8] = [0x30, 0x30, 0x30, 0x30, 0xFF, 0xFF, 0xFF, 0xFF];

    #[test]
    fn retry_sequence_and_block() {
        let mut s = store();
        let mut sess = PinSession::default();
        assert_eq!(
            PIN.verify(&mut s, &mut sess, 0, 1, &[]),
            Err(CardError::VerificationFailed(3))
        );
        for left in [2u8, 1, 0] {
            let e = PIN.verify(&mut s, &mut sess, 0, 1, &BAD).unwrap_err();
            assert_eq!(e, CardError::VerificationFailed(left));
            assert_eq!(StatusWord::from(e), StatusWord::verification_failed(left));
        }
        assert_eq!(
            PIN.verify(&mut s, &mut sess, 0, 1, &GOOD),
            Err(CardError::PinBlocked)
        );
        assert_eq!(StatusWord::from(CardError::PinBlocked), StatusWord(0x6983));
        assert_eq!(
            CardError::PinBlocked.gsm_status_word(),
            StatusWord::GSM_CHV_BLOCKED
        );
        assert!(!sess.verified);
        // Blocked state survives a restart.
        let mut nvm = s.into_nvm();
        nvm.power_on();
        let s = Store::open(nvm, DATA).unwrap();
        assert_eq!(PIN.retries(&s).unwrap(), 0);
    }

    #[test]
    fn good_pin_resets_counter_and_query_says_9000() {
        let mut s = store();
        let mut sess = PinSession::default();
        let _ = PIN.verify(&mut s, &mut sess, 0, 1, &BAD);
        assert_eq!(PIN.retries(&s).unwrap(), 2);
        assert_eq!(
            PIN.verify(&mut s, &mut sess, 0, 1, &GOOD),
            Ok(StatusWord::OK)
        );
        assert!(sess.verified);
        assert_eq!(PIN.retries(&s).unwrap(), 3);
        assert_eq!(PIN.verify(&mut s, &mut sess, 0, 1, &[]), Ok(StatusWord::OK));
        assert_eq!(
            PIN.verify(&mut s, &mut sess, 0, 0x81, &GOOD),
            Err(CardError::ReferencedDataNotFound)
        );
        assert_eq!(
            PIN.verify(&mut s, &mut sess, 0, 1, &GOOD[..4]),
            Err(CardError::WrongLength)
        );
        assert_eq!(
            PIN.verify(&mut s, &mut sess, 1, 1, &GOOD),
            Err(CardError::IncorrectP1P2)
        );
        // GSM mapping of a wrong CHV with attempts left (TS 51.011 §9.4.5).
        assert_eq!(
            CardError::VerificationFailed(2).gsm_status_word(),
            StatusWord::GSM_ACCESS_CONDITION_NOT_FULFILLED
        );
    }

    #[test]
    fn power_cut_never_gives_an_attempt_back() {
        // Wrong PIN at 3 left: after any cut, 3 or 2. Right PIN at 2 left: 1, 2 or 3
        // is fine, never more than 3; a wrong PIN never ends above its start.
        for (pin, start_bad) in [(BAD, 0usize), (GOOD, 1)] {
            for k in 0..8u32 {
                let mut s = store();
                let mut sess = PinSession::default();
                for _ in 0..start_bad {
                    let _ = PIN.verify(&mut s, &mut sess, 0, 1, &BAD);
                }
                let before = PIN.retries(&s).unwrap();
                let w = s.nvm().writes();
                s.nvm_mut().cut_power_at(w + k, 1);
                let r = PIN.verify(&mut s, &mut sess, 0, 1, &pin);
                let mut nvm = s.into_nvm();
                nvm.power_on();
                let s = Store::open(nvm, DATA).unwrap();
                let after = PIN.retries(&s).unwrap();
                if pin == BAD {
                    assert!(after == before || after == before - 1, "k={k}");
                } else {
                    assert!(after >= before - 1, "k={k}");
                }
                if matches!(r, Err(CardError::Memory(NvmError::PowerLost))) {
                    continue;
                }
            }
        }
    }
}
