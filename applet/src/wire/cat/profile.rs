//! TERMINAL PROFILE (ETSI TS 102 223 §5.2, 3GPP TS 31.111 §5.2): the terminal's toolkit
//! capability bitmap, sent with TERMINAL PROFILE (`80 10 00 00 Lc`).
//!
//! Bytes are numbered from 1 and bits from b1 = `0x01` to b8 = `0x80`, as in the spec and
//! in tshark's `gsm_sim.tp.*` fields. A card treats bytes the terminal did not send as
//! zero (02-cat.md §7): [`TerminalProfile::byte`] and [`TerminalProfile::supports`] do
//! that, while the stored length is kept so the profile re-emits byte for byte.

use crate::wire::{Error, Result};

/// One facility bit of the TERMINAL PROFILE: `byte` (1-based) and `mask`.
///
/// Named constants follow 02-cat.md §7 (masks from tshark 4.0.17 `gsm_sim.tp.*`,
/// cross-checked with pySim `term_prof_bits`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Capability {
    /// Byte number, counted from 1.
    pub byte: u8,
    /// Bit mask within that byte.
    pub mask: u8,
}

impl Capability {
    /// Byte 1 b1: profile download.
    pub const PROFILE_DOWNLOAD: Capability = Capability::new(1, 0x01);
    /// Byte 1 b2: SMS-PP data download.
    pub const SMS_PP_DATA_DOWNLOAD: Capability = Capability::new(1, 0x02);
    /// Byte 1 b3: cell broadcast data download.
    pub const CELL_BROADCAST_DATA_DOWNLOAD: Capability = Capability::new(1, 0x04);
    /// Byte 1 b4: menu selection.
    pub const MENU_SELECTION: Capability = Capability::new(1, 0x08);
    /// Byte 1 b5: SMS-PP data download, second bit (TS 11.14: `9E XX` response code for
    /// SIM data download error).
    pub const SMS_PP_DATA_DOWNLOAD_9EXX: Capability = Capability::new(1, 0x10);
    /// Byte 1 b6: timer expiration (ENVELOPE `D7`).
    pub const TIMER_EXPIRATION: Capability = Capability::new(1, 0x20);
    /// Byte 2 b1: command result.
    pub const COMMAND_RESULT: Capability = Capability::new(2, 0x01);
    /// Byte 3 b1: DISPLAY TEXT.
    pub const DISPLAY_TEXT: Capability = Capability::new(3, 0x01);
    /// Byte 3 b4: MORE TIME.
    pub const MORE_TIME: Capability = Capability::new(3, 0x08);
    /// Byte 3 b6: POLL INTERVAL.
    pub const POLL_INTERVAL: Capability = Capability::new(3, 0x20);
    /// Byte 3 b7: POLLING OFF.
    pub const POLLING_OFF: Capability = Capability::new(3, 0x40);
    /// Byte 3 b8: REFRESH.
    pub const REFRESH: Capability = Capability::new(3, 0x80);
    /// Byte 4 b2: SEND SHORT MESSAGE.
    pub const SEND_SHORT_MESSAGE: Capability = Capability::new(4, 0x02);
    /// Byte 4 b7: PROVIDE LOCAL INFORMATION (MCC, MNC, LAC, cell id **and IMEI**).
    pub const PROVIDE_LOCAL_INFORMATION: Capability = Capability::new(4, 0x40);
    /// Byte 4 b8: PROVIDE LOCAL INFORMATION (NMR).
    pub const PLI_NMR: Capability = Capability::new(4, 0x80);
    /// Byte 5 b1: SET UP EVENT LIST.
    pub const SET_UP_EVENT_LIST: Capability = Capability::new(5, 0x01);
    /// Byte 5 b5: event download, location status.
    pub const EVENT_LOCATION_STATUS: Capability = Capability::new(5, 0x10);
    /// Byte 8 b1: TIMER MANAGEMENT (start, stop).
    pub const TIMER_MANAGEMENT_START_STOP: Capability = Capability::new(8, 0x01);
    /// Byte 8 b2: TIMER MANAGEMENT (get current value).
    pub const TIMER_MANAGEMENT_GET_CURRENT_VALUE: Capability = Capability::new(8, 0x02);
    /// Byte 8 b3: PROVIDE LOCAL INFORMATION (date, time, time zone).
    pub const PLI_DATE_TIME_TIME_ZONE: Capability = Capability::new(8, 0x04);
    /// Byte 9 b4: PROVIDE LOCAL INFORMATION (language).
    pub const PLI_LANGUAGE: Capability = Capability::new(9, 0x08);
    /// Byte 12 b1: OPEN CHANNEL.
    pub const OPEN_CHANNEL: Capability = Capability::new(12, 0x01);
    /// Byte 18 b7: PROVIDE LOCAL INFORMATION (IMEISV).
    pub const PLI_IMEISV: Capability = Capability::new(18, 0x40);

    /// A capability at `byte` (1-based) / `mask`.
    pub const fn new(byte: u8, mask: u8) -> Self {
        Capability { byte, mask }
    }
}

/// A TERMINAL PROFILE: up to [`TerminalProfile::CAPACITY`] bytes with their length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TerminalProfile {
    bytes: [u8; TerminalProfile::CAPACITY],
    len: usize,
}

impl Default for TerminalProfile {
    fn default() -> Self {
        Self::new()
    }
}

impl TerminalProfile {
    /// Most bytes stored (TS 102 223 Rel-15 defines about 35; room for growth).
    pub const CAPACITY: usize = 64;

    /// An empty profile (every facility reads as unsupported).
    pub const fn new() -> Self {
        TerminalProfile {
            bytes: [0; Self::CAPACITY],
            len: 0,
        }
    }

    /// Takes the TERMINAL PROFILE command data as is; [`Error::BufferTooSmall`] if longer
    /// than [`TerminalProfile::CAPACITY`].
    pub fn parse(data: &[u8]) -> Result<Self> {
        let mut p = Self::new();
        p.bytes
            .get_mut(..data.len())
            .ok_or(Error::BufferTooSmall)?
            .copy_from_slice(data);
        p.len = data.len();
        Ok(p)
    }

    /// The shortest profile with exactly these facilities set; [`Error::BadValue`] for a
    /// byte number of 0 or above [`TerminalProfile::CAPACITY`].
    pub fn from_capabilities(caps: &[Capability]) -> Result<Self> {
        let mut p = Self::new();
        for &c in caps {
            p.set(c)?;
        }
        Ok(p)
    }

    /// The stored bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&[])
    }

    /// Number of stored bytes.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether no byte is stored.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Byte `n` (1-based); `0` beyond the stored length (and for `n == 0`).
    pub fn byte(&self, n: usize) -> u8 {
        n.checked_sub(1)
            .and_then(|i| self.as_bytes().get(i))
            .copied()
            .unwrap_or(0)
    }

    /// Whether all bits of `cap` are set.
    pub fn supports(&self, cap: Capability) -> bool {
        cap.mask != 0 && self.byte(usize::from(cap.byte)) & cap.mask == cap.mask
    }

    /// Sets `cap`, zero-extending the profile up to its byte if needed.
    pub fn set(&mut self, cap: Capability) -> Result<()> {
        let n = usize::from(cap.byte);
        let i = n.checked_sub(1).ok_or(Error::BadValue)?;
        let b = self.bytes.get_mut(i).ok_or(Error::BadValue)?;
        *b |= cap.mask;
        self.len = self.len.max(n);
        Ok(())
    }

    /// Clears `cap` (the length stays).
    pub fn clear(&mut self, cap: Capability) {
        if let Some(b) = usize::from(cap.byte)
            .checked_sub(1)
            .and_then(|i| self.bytes.get_mut(i))
        {
            *b &= !cap.mask;
        }
    }

    /// Encoded size (the stored length).
    pub const fn buffer_len(&self) -> usize {
        self.len
    }

    /// Writes the profile bytes into `buf`; returns the number of bytes written.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let src = self.as_bytes();
        buf.get_mut(..src.len())
            .ok_or(Error::BufferTooSmall)?
            .copy_from_slice(src);
        Ok(src.len())
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;

    /// The profile of the worked exchange, 02-cat.md §7/§9 (tshark-decoded).
    const WORKED: [u8; 8] = [0x23, 0x01, 0x29, 0x42, 0x11, 0x00, 0x00, 0x07];

    const WORKED_CAPS: [Capability; 14] = [
        Capability::PROFILE_DOWNLOAD,
        Capability::SMS_PP_DATA_DOWNLOAD,
        Capability::TIMER_EXPIRATION,
        Capability::COMMAND_RESULT,
        Capability::DISPLAY_TEXT,
        Capability::MORE_TIME,
        Capability::POLL_INTERVAL,
        Capability::SEND_SHORT_MESSAGE,
        Capability::PROVIDE_LOCAL_INFORMATION,
        Capability::SET_UP_EVENT_LIST,
        Capability::EVENT_LOCATION_STATUS,
        Capability::TIMER_MANAGEMENT_START_STOP,
        Capability::TIMER_MANAGEMENT_GET_CURRENT_VALUE,
        Capability::PLI_DATE_TIME_TIME_ZONE,
    ];

    #[test]
    fn worked_profile() {
        let p = TerminalProfile::parse(&WORKED).unwrap();
        for c in WORKED_CAPS {
            assert!(p.supports(c), "{c:?}");
        }
        for c in [
            Capability::CELL_BROADCAST_DATA_DOWNLOAD,
            Capability::MENU_SELECTION,
            Capability::REFRESH,
            Capability::PLI_NMR,
            Capability::PLI_LANGUAGE,
            Capability::OPEN_CHANNEL,
            Capability::PLI_IMEISV,
        ] {
            assert!(!p.supports(c), "{c:?}");
        }
        // Bytes beyond the 8 sent read as zero.
        assert_eq!(p.byte(18), 0);
        assert_eq!(p.byte(0), 0);
        // Built from named capabilities: exactly the same 8 bytes.
        let built = TerminalProfile::from_capabilities(&WORKED_CAPS).unwrap();
        assert_eq!(built.as_bytes(), &WORKED);
        let mut out = [0u8; 8];
        assert_eq!(built.emit(&mut out), Ok(8));
        assert_eq!(out, WORKED);
        assert_eq!(built.emit(&mut [0u8; 7]), Err(Error::BufferTooSmall));
    }

    #[test]
    fn imeisv_needs_byte_18() {
        // 02-cat.md §7: an applet that asks for IMEISV needs byte 18 present.
        let mut p = TerminalProfile::parse(&WORKED).unwrap();
        p.set(Capability::PLI_IMEISV).unwrap();
        assert_eq!(p.len(), 18);
        assert_eq!(p.byte(18), 0x40);
        assert_eq!(&p.as_bytes()[8..17], &[0u8; 9]);
        // Wrapped in TERMINAL PROFILE/GSMTAP, tshark 4.0.17 shows exactly
        // gsm_sim.tp.pa.prov_loci_imeisv = 1 for these bytes (checked by hand).
        assert_eq!(
            p.as_bytes(),
            &hex::decode("230129421100000700000000000000000040").unwrap()[..]
        );
        p.clear(Capability::PLI_IMEISV);
        assert!(!p.supports(Capability::PLI_IMEISV));
        assert_eq!(p.len(), 18);
    }

    #[test]
    fn shadysim_profile() {
        // Shadytel/sim-tools shadysim.py: A0 10 00 00 11 FF FF 00 … (17 bytes), 02-cat.md §9.
        let mut data = [0u8; 17];
        data[0] = 0xFF;
        data[1] = 0xFF;
        let p = TerminalProfile::parse(&data).unwrap();
        assert!(p.supports(Capability::TIMER_EXPIRATION));
        assert!(!p.supports(Capability::SEND_SHORT_MESSAGE));
        assert_eq!(p.as_bytes(), &data);
    }

    #[test]
    fn limits() {
        assert_eq!(
            TerminalProfile::parse(&[0u8; 65]),
            Err(Error::BufferTooSmall)
        );
        assert!(TerminalProfile::parse(&[0u8; 64]).is_ok());
        let empty = TerminalProfile::parse(&[]).unwrap();
        assert!(empty.is_empty() && !empty.supports(Capability::PROFILE_DOWNLOAD));
        assert_eq!(
            TerminalProfile::from_capabilities(&[Capability::new(0, 1)]),
            Err(Error::BadValue)
        );
        assert_eq!(
            TerminalProfile::from_capabilities(&[Capability::new(65, 1)]),
            Err(Error::BadValue)
        );
        assert!(!empty.supports(Capability::new(1, 0)));
    }

    proptest! {
        #[test]
        fn round_trip(data in proptest::collection::vec(any::<u8>(), 0..=64)) {
            let p = TerminalProfile::parse(&data).unwrap();
            let mut out = [0u8; 64];
            let n = p.emit(&mut out).unwrap();
            prop_assert_eq!(&out[..n], &data[..]);
            prop_assert_eq!(TerminalProfile::parse(&out[..n]).unwrap(), p);
            for (i, &b) in data.iter().enumerate() {
                prop_assert_eq!(p.byte(i + 1), b);
            }
        }

        #[test]
        fn capabilities_round_trip(caps in proptest::collection::vec((1u8..=64, any::<u8>()), 0..20)) {
            let caps: std::vec::Vec<_> = caps.into_iter().map(|(b, m)| Capability::new(b, m)).collect();
            let p = TerminalProfile::from_capabilities(&caps).unwrap();
            for c in &caps {
                prop_assert!(c.mask == 0 || p.supports(*c));
            }
            let mut out = [0u8; 64];
            let n = p.emit(&mut out).unwrap();
            prop_assert_eq!(TerminalProfile::parse(&out[..n]).unwrap(), p);
        }

        #[test]
        fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..100), q in any::<u8>(), m in any::<u8>()) {
            if let Ok(p) = TerminalProfile::parse(&data) {
                let _ = p.supports(Capability::new(q, m));
                let _ = p.byte(usize::from(q));
            }
        }
    }
}
