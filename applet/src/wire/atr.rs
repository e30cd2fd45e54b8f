//! Answer to reset (ISO/IEC 7816-3 §8.2; ETSI TS 102 221 §6.3).
//!
//! `TS T0 {TAi TBi TCi TDi} historical-bytes [TCK]`: T0 and each TDi announce, in their
//! high nibble, which of the next group's TA/TB/TC/TD follow; T0's low nibble is the
//! number K of historical bytes; each TDi's low nibble is a protocol type T (0, 1, or 15
//! for global interface bytes). TCK, the XOR check byte over T0..TCK, is present unless
//! only T=0 is indicated (ISO/IEC 7816-3 §8.2.5).
//!
//! [`Atr`] is both the parsed view and the `Repr` that emits; TCK is not stored but
//! computed ([`Atr::tck`]), and [`Atr::parse`] rejects a wrong one.
//! Byte facts: `/work/shared/spec/01-apdu.md` §4.

use super::{Error, Result};
use heapless::Vec;

/// Most interface-byte groups an [`Atr`] holds (ISO/IEC 7816-3 allows at most 32 bytes
/// after TS, which real cards fill with far fewer groups).
pub const MAX_GROUPS: usize = 8;

/// The convention announced by TS (ISO/IEC 7816-3 §8.1). Closed: TS has exactly two
/// valid values; anything else is [`Error::BadValue`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Convention {
    /// `3B`: direct convention.
    Direct,
    /// `3F`: inverse convention (bytes as delivered by a reader, already decoded).
    Inverse,
}

impl Convention {
    /// The TS byte.
    pub const fn ts(self) -> u8 {
        match self {
            Self::Direct => 0x3B,
            Self::Inverse => 0x3F,
        }
    }
}

/// One group `i` of interface bytes TAi TBi TCi and the protocol `T` of its TDi
/// (ISO/IEC 7816-3 §8.2.3).
///
/// `protocol` is `Some(T)` exactly when TDi is present, i.e. when group `i+1` exists;
/// the high nibble of TDi is derived from which bytes group `i+1` carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct InterfaceGroup {
    /// TAi.
    pub ta: Option<u8>,
    /// TBi.
    pub tb: Option<u8>,
    /// TCi.
    pub tc: Option<u8>,
    /// Low nibble T of TDi (0..=15), `Some` iff TDi is present.
    pub protocol: Option<u8>,
}

impl InterfaceGroup {
    /// The `Y` nibble announcing this group's bytes (b1 TA, b2 TB, b3 TC, b4 TD).
    fn presence(&self) -> u8 {
        u8::from(self.ta.is_some())
            | u8::from(self.tb.is_some()) << 1
            | u8::from(self.tc.is_some()) << 2
            | u8::from(self.protocol.is_some()) << 3
    }

    fn byte_len(&self) -> usize {
        usize::from(self.presence().count_ones() as u8)
    }
}

/// An answer to reset (ISO/IEC 7816-3 §8.2), parsed or to be emitted.
///
/// `groups[0]` holds TA1/TB1/TC1 and T of TD1; it always exists (possibly empty).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Atr<'a> {
    /// Convention from TS.
    pub convention: Convention,
    /// Interface-byte groups 1, 2, … (at least one).
    pub groups: Vec<InterfaceGroup, MAX_GROUPS>,
    /// Historical bytes (K ≤ 15, ISO/IEC 7816-4 §8.1.1).
    pub historical: &'a [u8],
}

/// Fi for each value of the TA1 high nibble, `None` = RFU (ISO/IEC 7816-3 Table 7).
const FI: [Option<u16>; 16] = [
    Some(372),
    Some(372),
    Some(558),
    Some(744),
    Some(1116),
    Some(1488),
    Some(1860),
    None,
    None,
    Some(512),
    Some(768),
    Some(1024),
    Some(1536),
    Some(2048),
    None,
    None,
];

/// f(max) in kHz for each value of the TA1 high nibble (ISO/IEC 7816-3 Table 7).
const F_MAX_KHZ: [Option<u32>; 16] = [
    Some(4000),
    Some(5000),
    Some(6000),
    Some(8000),
    Some(12000),
    Some(16000),
    Some(20000),
    None,
    None,
    Some(5000),
    Some(7500),
    Some(10000),
    Some(15000),
    Some(20000),
    None,
    None,
];

/// Di for each value of the TA1 low nibble, `None` = RFU (ISO/IEC 7816-3 Table 8).
const DI: [Option<u8>; 16] = [
    None,
    Some(1),
    Some(2),
    Some(4),
    Some(8),
    Some(16),
    Some(32),
    Some(64),
    Some(12),
    Some(20),
    None,
    None,
    None,
    None,
    None,
    None,
];

impl<'a> Atr<'a> {
    /// An ATR offering only T=0 (no TD1, hence no TCK), with optional TA1 (Fi/Di).
    /// Example: `Atr::t0_only(None, &[0x14, 0x50])` emits `3B 02 14 50`.
    pub fn t0_only(ta1: Option<u8>, historical: &'a [u8]) -> Self {
        let mut groups = Vec::new();
        // Capacity is MAX_GROUPS >= 1, so this push cannot fail.
        let _ = groups.push(InterfaceGroup {
            ta: ta1,
            ..InterfaceGroup::default()
        });
        Self {
            convention: Convention::Direct,
            groups,
            historical,
        }
    }

    /// An ATR offering T=0 plus the T=15 global byte TA (clock stop and class
    /// indicator, ETSI TS 102 221 §6.3.3), as a UICC sends it; TCK follows.
    /// With `ta1 = Some(0x96)`, `global_ta = 0xC7` and the sysmoUSIM historical bytes
    /// this reproduces the sysmoUSIM-SJS1 ATR of 01-apdu.md §4.
    pub fn t0_with_class(ta1: Option<u8>, global_ta: u8, historical: &'a [u8]) -> Self {
        let mut groups = Vec::new();
        for g in [
            InterfaceGroup {
                ta: ta1,
                protocol: Some(0),
                ..InterfaceGroup::default()
            },
            InterfaceGroup {
                protocol: Some(15),
                ..InterfaceGroup::default()
            },
            InterfaceGroup {
                ta: Some(global_ta),
                ..InterfaceGroup::default()
            },
        ] {
            // 3 <= MAX_GROUPS.
            let _ = groups.push(g);
        }
        Self {
            convention: Convention::Direct,
            groups,
            historical,
        }
    }

    /// Parses a complete ATR. Errors: [`Error::BadValue`] for a TS other than `3B`/`3F`
    /// or a wrong TCK; [`Error::Truncated`] when interface, historical or a required TCK
    /// byte is missing; [`Error::TrailingData`] after the last byte;
    /// [`Error::Unsupported`] for more than [`MAX_GROUPS`] groups.
    pub fn parse(buf: &'a [u8]) -> Result<Self> {
        let mut r = Reader { buf, pos: 0 };
        let convention = match r.byte()? {
            0x3B => Convention::Direct,
            0x3F => Convention::Inverse,
            _ => return Err(Error::BadValue),
        };
        let t0 = r.byte()?;
        let k = usize::from(t0 & 0x0F);
        let mut y = t0 >> 4;
        let mut groups: Vec<InterfaceGroup, MAX_GROUPS> = Vec::new();
        loop {
            let mut g = InterfaceGroup::default();
            if y & 0x1 != 0 {
                g.ta = Some(r.byte()?);
            }
            if y & 0x2 != 0 {
                g.tb = Some(r.byte()?);
            }
            if y & 0x4 != 0 {
                g.tc = Some(r.byte()?);
            }
            let td = if y & 0x8 != 0 { Some(r.byte()?) } else { None };
            g.protocol = td.map(|td| td & 0x0F);
            groups.push(g).map_err(|_| Error::Unsupported)?;
            match td {
                Some(td) => y = td >> 4,
                None => break,
            }
        }
        let historical = r.take(k)?;
        let atr = Self {
            convention,
            groups,
            historical,
        };
        if atr.tck_required() {
            r.byte()?;
            // XOR of T0..TCK inclusive must be zero (ISO/IEC 7816-3 §8.2.5).
            let covered = buf.get(1..r.pos).ok_or(Error::Truncated)?;
            if covered.iter().fold(0u8, |acc, b| acc ^ b) != 0 {
                return Err(Error::BadValue);
            }
        }
        if r.pos != buf.len() {
            return Err(Error::TrailingData);
        }
        Ok(atr)
    }

    /// TA1, the Fi/Di byte, if present.
    pub fn ta1(&self) -> Option<u8> {
        self.groups.first().and_then(|g| g.ta)
    }

    /// TA1 or its default `11` (Fi 372, Di 1) when absent (ISO/IEC 7816-3 §8.3).
    fn ta1_or_default(&self) -> u8 {
        self.ta1().unwrap_or(0x11)
    }

    /// Fi, the clock rate conversion integer from TA1 (default 372); `None` if RFU.
    pub fn fi(&self) -> Option<u16> {
        FI.get(usize::from(self.ta1_or_default() >> 4))
            .copied()
            .flatten()
    }

    /// Di, the baud rate adjustment integer from TA1 (default 1); `None` if RFU.
    pub fn di(&self) -> Option<u8> {
        DI.get(usize::from(self.ta1_or_default() & 0x0F))
            .copied()
            .flatten()
    }

    /// f(max) in kHz belonging to Fi (ISO/IEC 7816-3 Table 7); `None` if RFU.
    pub fn f_max_khz(&self) -> Option<u32> {
        F_MAX_KHZ
            .get(usize::from(self.ta1_or_default() >> 4))
            .copied()
            .flatten()
    }

    /// Bit `T` set for each protocol type `T` announced in a TDi; T=0 alone (bit 0) when
    /// there is no TD1 (ISO/IEC 7816-3 §8.2.3). Bit 15 means T=15 global bytes follow.
    pub fn protocols(&self) -> u16 {
        let mut mask = 0u16;
        for t in self.groups.iter().filter_map(|g| g.protocol) {
            mask |= 1 << (t & 0x0F);
        }
        if mask == 0 { 1 } else { mask }
    }

    /// Whether protocol `t` (0..=15) is announced (see [`Self::protocols`]).
    pub fn offers(&self, t: u8) -> bool {
        t < 16 && self.protocols() & (1 << t) != 0
    }

    /// The first offered protocol: T of TD1, or 0 without TD1 (ISO/IEC 7816-3 §8.2.3).
    pub fn first_protocol(&self) -> u8 {
        self.groups.first().and_then(|g| g.protocol).unwrap_or(0)
    }

    /// The first TA after a TDi indicating T=15: clock stop indicator (b8..b7) and
    /// class indicator (b6..b1) (ISO/IEC 7816-3 §8.3, ETSI TS 102 221 §6.3.3).
    pub fn global_ta(&self) -> Option<u8> {
        let i = self.groups.iter().position(|g| g.protocol == Some(15))?;
        self.groups.get(i + 1).and_then(|g| g.ta)
    }

    /// Class indicator bits of [`Self::global_ta`]: b1 class A (5 V), b2 class B (3 V),
    /// b3 class C (1.8 V) (ETSI TS 102 221 §6.3.3).
    pub fn class_indicator(&self) -> Option<u8> {
        self.global_ta().map(|ta| ta & 0x3F)
    }

    /// Whether TCK must be present: some TDi announces a T other than 0
    /// (ISO/IEC 7816-3 §8.2.5).
    pub fn tck_required(&self) -> bool {
        self.groups
            .iter()
            .any(|g| g.protocol.is_some_and(|t| t != 0))
    }

    /// The TCK byte this ATR carries (XOR of T0 up to the last historical byte), or
    /// `None` when TCK is absent. A parsed ATR had exactly this TCK on the wire.
    pub fn tck(&self) -> Option<u8> {
        if !self.tck_required() {
            return None;
        }
        let mut x = self.t0();
        let mut iter = self.groups.iter().peekable();
        while let Some(g) = iter.next() {
            for b in [g.ta, g.tb, g.tc].into_iter().flatten() {
                x ^= b;
            }
            if let Some(t) = g.protocol {
                let next = iter.peek().map_or(0, |n| n.presence());
                x ^= (next << 4) | (t & 0x0F);
            }
        }
        Some(self.historical.iter().fold(x, |acc, b| acc ^ b))
    }

    fn t0(&self) -> u8 {
        let y = self.groups.first().map_or(0, |g| g.presence());
        (y << 4) | (self.historical.len() as u8 & 0x0F)
    }

    fn check(&self) -> Result<()> {
        if self.historical.len() > 15 || self.groups.is_empty() {
            return Err(Error::BadLength);
        }
        let last = self.groups.len() - 1;
        for (i, g) in self.groups.iter().enumerate() {
            match g.protocol {
                Some(t) if t > 15 || i == last => return Err(Error::BadValue),
                None if i != last => return Err(Error::BadValue),
                _ => {}
            }
        }
        Ok(())
    }

    /// Bytes [`Self::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        2 + self.groups.iter().map(|g| g.byte_len()).sum::<usize>()
            + self.historical.len()
            + usize::from(self.tck_required())
    }

    /// Writes the ATR, with TCK when required. [`Error::BadValue`] when `protocol` is
    /// set on the last group or missing on an inner one (or T > 15);
    /// [`Error::BadLength`] for more than 15 historical bytes or no group.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        self.check()?;
        let len = self.buffer_len();
        let out = buf.get_mut(..len).ok_or(Error::BufferTooSmall)?;
        let mut pos = 0;
        let mut put = |b: u8| -> Result<()> {
            *out.get_mut(pos).ok_or(Error::BufferTooSmall)? = b;
            pos += 1;
            Ok(())
        };
        put(self.convention.ts())?;
        put(self.t0())?;
        let mut iter = self.groups.iter().peekable();
        while let Some(g) = iter.next() {
            for b in [g.ta, g.tb, g.tc].into_iter().flatten() {
                put(b)?;
            }
            if let Some(t) = g.protocol {
                let next = iter.peek().map_or(0, |n| n.presence());
                put((next << 4) | t)?;
            }
        }
        for &b in self.historical {
            put(b)?;
        }
        if let Some(tck) = self.tck() {
            put(tck)?;
        }
        Ok(pos)
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8> {
        let b = *self.buf.get(self.pos).ok_or(Error::Truncated)?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).ok_or(Error::Truncated)?;
        let s = self.buf.get(self.pos..end).ok_or(Error::Truncated)?;
        self.pos = end;
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;

    fn h(s: &str) -> &'static [u8] {
        std::boxed::Box::leak(hex::decode(s.replace(' ', "")).unwrap().into_boxed_slice())
    }

    /// sysmoUSIM-SJS1, 01-apdu.md §4. Cross-checked with `ATR_analysis` (pcsc-tools 1.6.2)
    /// on this machine: Direct, Fi=512, Di=32, fMax 5 MHz, TD1 T=0, TD2 T=15, TA3 = C7
    /// classes A B C, 15 historical bytes, "TCK = A5 (correct checksum)".
    const SYSMO_USIM: &str = "3B 9F 96 80 1F C7 80 31 A0 73 BE 21 13 67 43 20 07 18 00 00 01 A5";
    /// vpicc default ATR, 01-apdu.md §4 / 07-vpcd.md. ATR_analysis: Fi=372, Di=4, TD1 T=1,
    /// TD2 T=1, K=5, "TCK = 0B (correct checksum)".
    const VPICC_T1: &str = "3B 95 13 81 01 80 73 FF 01 00 0B";
    /// No TD1: T=0 only, no TCK (01-apdu.md §4). ATR_analysis: K=2, historical 14 50.
    const MULTIFLEX: &str = "3B 02 14 50";
    const SYSMO_HIST: &str = "80 31 A0 73 BE 21 13 67 43 20 07 18 00 00 01";

    #[test]
    fn sysmousim_atr() {
        let b = h(SYSMO_USIM);
        let a = Atr::parse(b).unwrap();
        assert_eq!(a.convention, Convention::Direct);
        assert_eq!(a.ta1(), Some(0x96));
        assert_eq!(a.fi(), Some(512));
        assert_eq!(a.di(), Some(32));
        assert_eq!(a.f_max_khz(), Some(5000));
        assert_eq!(a.first_protocol(), 0);
        assert!(a.offers(0) && a.offers(15) && !a.offers(1));
        assert_eq!(a.protocols(), 1 | 1 << 15);
        assert_eq!(a.global_ta(), Some(0xC7));
        assert_eq!(a.class_indicator(), Some(0x07));
        assert_eq!(a.historical, h(SYSMO_HIST));
        assert_eq!(a.tck(), Some(0xA5));
        let mut out = [0u8; 33];
        let n = a.emit(&mut out).unwrap();
        assert_eq!(&out[..n], b);
        // The builder reproduces it.
        let built = Atr::t0_with_class(Some(0x96), 0xC7, h(SYSMO_HIST));
        assert_eq!(built, a);
    }

    #[test]
    fn vpicc_t1_atr() {
        let b = h(VPICC_T1);
        let a = Atr::parse(b).unwrap();
        assert_eq!((a.fi(), a.di()), (Some(372), Some(4)));
        assert_eq!(a.first_protocol(), 1);
        assert!(a.offers(1) && !a.offers(0));
        assert_eq!(a.historical, h("80 73 FF 01 00"));
        assert_eq!(a.tck(), Some(0x0B));
        let mut out = [0u8; 33];
        let n = a.emit(&mut out).unwrap();
        assert_eq!(&out[..n], b);
    }

    #[test]
    fn t0_only_atr() {
        let b = h(MULTIFLEX);
        let a = Atr::parse(b).unwrap();
        assert_eq!(a.ta1(), None);
        assert_eq!((a.fi(), a.di()), (Some(372), Some(1)));
        assert_eq!(a.protocols(), 1);
        assert_eq!(a.tck(), None);
        assert_eq!(a.historical, &[0x14, 0x50]);
        assert_eq!(a, Atr::t0_only(None, &[0x14, 0x50]));
        let mut out = [0u8; 8];
        let n = a.emit(&mut out).unwrap();
        assert_eq!(&out[..n], b);
    }

    #[test]
    fn errors() {
        assert_eq!(Atr::parse(&[]), Err(Error::Truncated));
        assert_eq!(Atr::parse(&[0x3B]), Err(Error::Truncated));
        assert_eq!(Atr::parse(h("3C 00")), Err(Error::BadValue));
        // Historical bytes missing.
        assert_eq!(Atr::parse(h("3B 02 14")), Err(Error::Truncated));
        // TCK missing / wrong.
        assert_eq!(
            Atr::parse(h("3B 95 13 81 01 80 73 FF 01 00")),
            Err(Error::Truncated)
        );
        assert_eq!(
            Atr::parse(h("3B 95 13 81 01 80 73 FF 01 00 0C")),
            Err(Error::BadValue)
        );
        // T=0 only: no TCK allowed.
        assert_eq!(Atr::parse(h("3B 02 14 50 44")), Err(Error::TrailingData));
        // Inverse convention accepted.
        assert_eq!(
            Atr::parse(h("3F 00")).unwrap().convention,
            Convention::Inverse
        );
        // Emit invariants.
        let mut bad = Atr::t0_only(None, &[]);
        bad.groups[0].protocol = Some(1);
        assert_eq!(bad.emit(&mut [0u8; 8]), Err(Error::BadValue));
        assert_eq!(
            Atr::t0_only(None, &[0; 16]).emit(&mut [0u8; 32]),
            Err(Error::BadLength)
        );
        assert_eq!(
            Atr::t0_only(None, &[1, 2]).emit(&mut [0u8; 3]),
            Err(Error::BufferTooSmall)
        );
    }

    fn arb_atr() -> impl Strategy<Value = (bool, std::vec::Vec<InterfaceGroup>, std::vec::Vec<u8>)>
    {
        let group = (
            proptest::option::of(any::<u8>()),
            proptest::option::of(any::<u8>()),
            proptest::option::of(any::<u8>()),
            0u8..16,
        );
        (
            any::<bool>(),
            proptest::collection::vec(group, 1..=MAX_GROUPS),
            proptest::collection::vec(any::<u8>(), 0..=15),
        )
            .prop_map(|(inv, gs, hist)| {
                let n = gs.len();
                let groups = gs
                    .into_iter()
                    .enumerate()
                    .map(|(i, (ta, tb, tc, t))| InterfaceGroup {
                        ta,
                        tb,
                        tc,
                        protocol: (i + 1 < n).then_some(t),
                    })
                    .collect();
                (inv, groups, hist)
            })
    }

    proptest! {
        #[test]
        fn round_trip((inv, groups, hist) in arb_atr()) {
            let atr = Atr {
                convention: if inv { Convention::Inverse } else { Convention::Direct },
                groups: groups.iter().copied().collect(),
                historical: &hist,
            };
            let mut buf = [0u8; 64];
            let n = atr.emit(&mut buf).unwrap();
            prop_assert_eq!(n, atr.buffer_len());
            let back = Atr::parse(&buf[..n]).unwrap();
            prop_assert_eq!(&back, &atr);
        }

        #[test]
        fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..40)) {
            if let Ok(a) = Atr::parse(&b) {
                let _ = (a.fi(), a.di(), a.f_max_khz(), a.protocols(), a.global_ta());
                let mut out = [0u8; 64];
                let n = a.emit(&mut out).unwrap();
                prop_assert_eq!(&out[..n], &b[..]);
            }
        }

        #[test]
        fn random_tail_after_ts_never_panics(b in proptest::collection::vec(any::<u8>(), 0..40)) {
            let mut v = std::vec![0x3B];
            v.extend_from_slice(&b);
            if let Ok(a) = Atr::parse(&v) {
                let mut out = [0u8; 64];
                let n = a.emit(&mut out).unwrap();
                prop_assert_eq!(&out[..n], &v[..]);
            }
        }
    }
}
