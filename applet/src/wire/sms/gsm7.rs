//! GSM 7-bit default alphabet, its extension table, and septet packing
//! (3GPP TS 23.038 §6.1.2.1, §6.2.1, §6.2.1.1; `/work/shared/spec/04-sms.md` §3).
//!
//! Packing: septet *i* occupies bits `fill + 7i .. fill + 7i + 6` of a little-endian bit
//! stream, bytes are cut from that stream. `fill` is the number of fill bits that align the
//! first septet on a septet boundary after a user-data header (TS 23.040 §9.2.3.24).
//! Everything works on caller buffers and iterators; nothing allocates.

use super::super::{Error, Result};

/// The escape septet to the extension table (TS 23.038 §6.2.1, code `1B`).
pub const ESCAPE: u8 = 0x1B;

/// Maximum septets in one TP-UD (TS 23.040 §9.2.3.16: 140 octets).
pub const MAX_SEPTETS: usize = 160;

/// TS 23.038 §6.2.1 default alphabet, indexed by septet. `1B` (escape) maps to `'\u{1B}'`
/// here but is never produced by [`default_char`].
const DEFAULT: [char; 128] = [
    '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å', //
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', '\u{1B}', 'Æ', 'æ', 'ß', 'É', //
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', //
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', //
    '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', //
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§', //
    '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', //
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à', //
];

/// TS 23.038 §6.2.1.1 extension table (after `1B`): (septet, char).
const EXTENSION: [(u8, char); 10] = [
    (0x0A, '\u{0C}'), // form feed (page break)
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x65, '€'),
];

/// The character of a default-alphabet septet; `None` for the escape `1B` and values above
/// `7F`.
pub fn default_char(septet: u8) -> Option<char> {
    if septet == ESCAPE {
        return None;
    }
    DEFAULT.get(usize::from(septet)).copied()
}

/// The character of an extension-table septet (the one after `1B`); `None` if unassigned.
pub fn extension_char(septet: u8) -> Option<char> {
    EXTENSION
        .iter()
        .find(|(s, _)| *s == septet)
        .map(|&(_, c)| c)
}

/// How a character encodes: one septet, or `1B` followed by an extension septet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoded {
    /// A default-alphabet septet.
    Default(u8),
    /// `1B` then this extension-table septet.
    Extension(u8),
}

impl Encoded {
    /// Number of septets (1 or 2).
    pub const fn septets(self) -> usize {
        match self {
            Encoded::Default(_) => 1,
            Encoded::Extension(_) => 2,
        }
    }
}

/// Encode one character; `None` if it is in neither table.
pub fn encode_char(c: char) -> Option<Encoded> {
    if c != '\u{1B}'
        && let Some(i) = DEFAULT.iter().position(|&d| d == c)
    {
        return Some(Encoded::Default(i as u8));
    }
    EXTENSION
        .iter()
        .find(|(_, e)| *e == c)
        .map(|&(s, _)| Encoded::Extension(s))
}

/// Number of septets `s` takes; `Unsupported` for a character in neither table.
pub fn septet_len(s: &str) -> Result<usize> {
    s.chars().try_fold(0usize, |n, c| {
        Ok(n + encode_char(c).ok_or(Error::Unsupported)?.septets())
    })
}

/// Iterator over the septets of a string (escape sequences expanded). Yields
/// `Err(Unsupported)` for a character in neither table.
#[derive(Debug, Clone)]
pub struct EncodeSeptets<'s> {
    chars: core::str::Chars<'s>,
    pending: Option<u8>,
}

impl Iterator for EncodeSeptets<'_> {
    type Item = Result<u8>;
    fn next(&mut self) -> Option<Result<u8>> {
        if let Some(s) = self.pending.take() {
            return Some(Ok(s));
        }
        let c = self.chars.next()?;
        Some(match encode_char(c) {
            Some(Encoded::Default(s)) => Ok(s),
            Some(Encoded::Extension(s)) => {
                self.pending = Some(s);
                Ok(ESCAPE)
            }
            None => Err(Error::Unsupported),
        })
    }
}

/// The septets of `s`, one by one.
pub fn encode_septets(s: &str) -> EncodeSeptets<'_> {
    EncodeSeptets {
        chars: s.chars(),
        pending: None,
    }
}

/// Write the (unpacked) septets of `s` into `out`; returns the count. `Unsupported` for a
/// character in neither table, `BufferTooSmall` if `out` is short.
pub fn encode_str(s: &str, out: &mut [u8]) -> Result<usize> {
    let mut n = 0;
    for septet in encode_septets(s) {
        let slot = out.get_mut(n).ok_or(Error::BufferTooSmall)?;
        *slot = septet?;
        n += 1;
    }
    Ok(n)
}

/// Octets needed for `count` septets after `fill_bits` fill bits:
/// `ceil((fill_bits + 7·count) / 8)`.
pub const fn packed_len(count: usize, fill_bits: u8) -> usize {
    (fill_bits as usize + 7 * count).div_ceil(8)
}

/// Pack septets (each `< 0x80`, else `BadValue`) after `fill_bits` zero bits (0..=7, else
/// `BadValue`) into `out`; returns `(septets, octets written)`. Spare bits of the last octet
/// are zero.
pub fn pack<I>(septets: I, fill_bits: u8, out: &mut [u8]) -> Result<(usize, usize)>
where
    I: IntoIterator<Item = Result<u8>>,
{
    if fill_bits > 7 {
        return Err(Error::BadValue);
    }
    let mut acc: u16 = 0;
    let mut bits: u32 = u32::from(fill_bits);
    let mut written = 0usize;
    let mut count = 0usize;
    for s in septets {
        let s = s?;
        if s > 0x7F {
            return Err(Error::BadValue);
        }
        acc |= u16::from(s) << bits;
        bits += 7;
        count += 1;
        if bits >= 8 {
            let slot = out.get_mut(written).ok_or(Error::BufferTooSmall)?;
            *slot = (acc & 0xFF) as u8;
            written += 1;
            acc >>= 8;
            bits -= 8;
        }
    }
    if bits > 0 && (count > 0 || fill_bits > 0) {
        let slot = out.get_mut(written).ok_or(Error::BufferTooSmall)?;
        *slot = (acc & 0xFF) as u8;
        written += 1;
    }
    Ok((count, written))
}

/// Pack a slice of septets (see [`pack`]); returns octets written.
pub fn pack_septets(septets: &[u8], fill_bits: u8, out: &mut [u8]) -> Result<usize> {
    pack(septets.iter().map(|&s| Ok(s)), fill_bits, out).map(|(_, n)| n)
}

/// Encode and pack `s` in one pass; returns `(septets, octets written)`.
/// `Unsupported` for a character in neither table.
pub fn pack_str(s: &str, fill_bits: u8, out: &mut [u8]) -> Result<(usize, usize)> {
    pack(encode_septets(s), fill_bits, out)
}

/// Iterator over `count` septets packed after `fill_bits` fill bits (see [`unpack`]).
#[derive(Debug, Clone)]
pub struct Unpack<'a> {
    packed: &'a [u8],
    fill_bits: u8,
    count: usize,
    index: usize,
}

impl<'a> Unpack<'a> {
    /// An iterator that yields nothing.
    pub const EMPTY: Unpack<'static> = Unpack {
        packed: &[],
        fill_bits: 0,
        count: 0,
        index: 0,
    };

    /// Number of septets not yet yielded.
    pub fn remaining(&self) -> usize {
        self.count - self.index
    }
}

impl Iterator for Unpack<'_> {
    type Item = u8;
    fn next(&mut self) -> Option<u8> {
        if self.index >= self.count {
            return None;
        }
        let bit = usize::from(self.fill_bits) + 7 * self.index;
        let lo = u16::from(*self.packed.get(bit / 8)?);
        let hi = u16::from(self.packed.get(bit / 8 + 1).copied().unwrap_or(0));
        self.index += 1;
        Some((((hi << 8 | lo) >> (bit % 8)) & 0x7F) as u8)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining(), Some(self.remaining()))
    }
}

impl ExactSizeIterator for Unpack<'_> {}

/// Unpack `count` septets from `packed` after `fill_bits` fill bits. `Truncated` if `packed`
/// is shorter than [`packed_len`], `BadValue` if `fill_bits > 7`.
pub fn unpack(packed: &[u8], fill_bits: u8, count: usize) -> Result<Unpack<'_>> {
    if fill_bits > 7 {
        return Err(Error::BadValue);
    }
    if packed.len() < packed_len(count, fill_bits) {
        return Err(Error::Truncated);
    }
    Ok(Unpack {
        packed,
        fill_bits,
        count,
        index: 0,
    })
}

/// Iterator turning septets into characters (TS 23.038 §6.2.1.1): `1B x` is looked up in
/// the extension table; if `x` is unassigned there the default character of `x` is shown
/// (as §6.2.1.1 directs); a lone `1B` at the end yields a space.
#[derive(Debug, Clone)]
pub struct Chars<I> {
    septets: I,
}

impl<I: Iterator<Item = u8>> Iterator for Chars<I> {
    type Item = char;
    fn next(&mut self) -> Option<char> {
        let s = self.septets.next()?;
        if s != ESCAPE {
            return Some(default_char(s).unwrap_or(' '));
        }
        match self.septets.next() {
            None => Some(' '),
            Some(x) => Some(extension_char(x).or_else(|| default_char(x)).unwrap_or(' ')),
        }
    }
}

/// Decode septets (e.g. from [`unpack`]) into characters.
pub fn decode<I: IntoIterator<Item = u8>>(septets: I) -> Chars<I::IntoIter> {
    Chars {
        septets: septets.into_iter(),
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::string::String;
    use std::vec::Vec;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    #[test]
    fn hellohello() {
        // /work/shared/spec/04-sms.md §3 (tshark-verified)
        let mut buf = [0u8; 16];
        let (n, len) = pack_str("hellohello", 0, &mut buf).unwrap();
        assert_eq!((n, len), (10, 9));
        assert_eq!(&buf[..len], &h("E8 32 9B FD 46 97 D9 EC 37")[..]);
        let (n, len) = pack_str("Hello", 0, &mut buf).unwrap();
        assert_eq!(&buf[..len], &h("C8 32 9B FD 06")[..]);
        let s: String = decode(unpack(&buf[..len], 0, n).unwrap()).collect();
        assert_eq!(s, "Hello");
    }

    #[test]
    fn hello_after_concat_udh() {
        // 04-sms.md §4: 6-octet concat UDH = 48 bits → 1 fill bit; "hello" = D0 65 36 FB 0D
        let mut buf = [0u8; 8];
        let (n, len) = pack_str("hello", 1, &mut buf).unwrap();
        assert_eq!(n, 5);
        assert_eq!(&buf[..len], &h("D0 65 36 FB 0D")[..]);
        let s: String = decode(unpack(&buf[..len], 1, 5).unwrap()).collect();
        assert_eq!(s, "hello");
    }

    #[test]
    fn table_spot_checks() {
        // TS 23.038 §6.2.1: @=00, $=02, _=11, Δ=10, ¤=24, ¡=40, §=5F, ¿=60, à=7F
        for (c, v) in [
            ('@', 0x00),
            ('$', 0x02),
            ('_', 0x11),
            ('Δ', 0x10),
            ('¤', 0x24),
            ('¡', 0x40),
            ('§', 0x5F),
            ('¿', 0x60),
            ('à', 0x7F),
            ('A', 0x41),
            ('a', 0x61),
            ('0', 0x30),
        ] {
            assert_eq!(encode_char(c), Some(Encoded::Default(v)), "{c}");
            assert_eq!(default_char(v), Some(c));
        }
        // TS 23.038 §6.2.1.1 extension table
        let mut buf = [0u8; 32];
        let n = encode_str("{}[]€~\\|^", &mut buf).unwrap();
        assert_eq!(
            &buf[..n],
            &h("1B28 1B29 1B3C 1B3E 1B65 1B3D 1B2F 1B40 1B14")[..]
        );
        assert_eq!(septet_len("a€").unwrap(), 3);
        assert_eq!(septet_len("Ж"), Err(Error::Unsupported));
        assert_eq!(encode_char('\u{1B}'), None);
        assert_eq!(encode_str("abc", &mut buf[..2]), Err(Error::BufferTooSmall));
    }

    #[test]
    fn escape_edge_cases() {
        // unassigned extension septet shows the default character (TS 23.038 §6.2.1.1)
        let s: String = decode([0x1B, 0x41, 0x1B]).collect();
        assert_eq!(s, "A ");
    }

    #[test]
    fn seven_septets_vs_eight() {
        // 7 and 8 septets both take 7 octets: the septet count must travel separately
        assert_eq!(packed_len(7, 0), 7);
        assert_eq!(packed_len(8, 0), 7);
        assert_eq!(packed_len(160, 0), 140);
        assert_eq!(packed_len(153, 1), 134);
    }

    proptest! {
        #[test]
        fn pack_unpack_round_trip(s in proptest::collection::vec(0u8..0x80, 0..=160), fill in 0u8..=6) {
            let mut buf = [0u8; 141];
            let len = pack_septets(&s, fill, &mut buf).unwrap();
            prop_assert_eq!(len, packed_len(s.len(), fill));
            // fill bits are zero
            prop_assert_eq!(buf[0] & ((1u8 << fill) - 1), 0);
            let back: Vec<u8> = unpack(&buf[..len], fill, s.len()).unwrap().collect();
            prop_assert_eq!(back, s);
        }

        #[test]
        fn text_round_trip(idx in proptest::collection::vec(0usize..(128 + EXTENSION.len()), 0..80)) {
            let text: String = idx
                .iter()
                .map(|&i| if i < 128 { if i == 0x1B { ' ' } else { DEFAULT[i] } } else { EXTENSION[i - 128].1 })
                .collect();
            let mut buf = [0u8; 160];
            let (n, len) = pack_str(&text, 3, &mut buf).unwrap();
            prop_assert_eq!(n, septet_len(&text).unwrap());
            let back: String = decode(unpack(&buf[..len], 3, n).unwrap()).collect();
            prop_assert_eq!(back, text);
        }

        #[test]
        fn random_never_panics(b in proptest::collection::vec(any::<u8>(), 0..40), fill in any::<u8>(), count in 0usize..60, s in "\\PC{0,40}") {
            if let Ok(it) = unpack(&b, fill, count) {
                let _: String = decode(it).collect();
            }
            let mut buf = [0u8; 40];
            let _ = pack_str(&s, fill, &mut buf);
            let _ = pack_septets(&b, fill, &mut buf);
        }
    }
}
