//! User-data header (3GPP TS 23.040 §9.2.3.24): UDHL, then information elements
//! `IEI LEN DATA` (`/work/shared/spec/04-sms.md` §2).
//!
//! [`UserDataHeader`] is either a zero-copy view of header octets from a received TPDU or
//! a list of [`InformationElement`]s to send; both iterate and emit the same way.

use super::super::{Error, Result};

/// Information-element identifier (TS 23.040 §9.2.3.24 table). Open newtype.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Iei(pub u8);

impl Iei {
    /// `00` concatenated short messages, 8-bit reference (§9.2.3.24.1).
    pub const CONCAT_8BIT: Iei = Iei(0x00);
    /// `01` special SMS message indication (§9.2.3.24.2).
    pub const SPECIAL_SMS_INDICATION: Iei = Iei(0x01);
    /// `04` application port addressing, 8-bit (§9.2.3.24.3).
    pub const PORTS_8BIT: Iei = Iei(0x04);
    /// `05` application port addressing, 16-bit (§9.2.3.24.4).
    pub const PORTS_16BIT: Iei = Iei(0x05);
    /// `08` concatenated short messages, 16-bit reference (§9.2.3.24.8).
    pub const CONCAT_16BIT: Iei = Iei(0x08);
    /// `70` (U)SIM toolkit security header: command packet follows (CPI, 3GPP TS 31.115).
    pub const COMMAND_PACKET: Iei = Iei(0x70);
    /// `71` (U)SIM toolkit security header: response packet follows (RPI, 3GPP TS 31.115).
    pub const RESPONSE_PACKET: Iei = Iei(0x71);
}

/// One information element. Known IEIs whose length is not the specified one are kept
/// as [`InformationElement::Other`], so every header round-trips.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InformationElement<'a> {
    /// IEI `00`, length 3: reference, total parts, this part (1-based).
    Concat8 {
        /// Concatenated short message reference number.
        reference: u8,
        /// Maximum number of short messages in the concatenated message.
        total: u8,
        /// Sequence number of this part.
        sequence: u8,
    },
    /// IEI `08`, length 4: 16-bit reference (big-endian), total, this part.
    Concat16 {
        /// Concatenated short message reference number.
        reference: u16,
        /// Maximum number of short messages in the concatenated message.
        total: u8,
        /// Sequence number of this part.
        sequence: u8,
    },
    /// IEI `04`, length 2: destination port, originator port.
    Ports8 {
        /// Destination port.
        destination: u8,
        /// Originator port.
        originator: u8,
    },
    /// IEI `05`, length 4: destination port, originator port, big-endian (WAP push = 2948).
    Ports16 {
        /// Destination port.
        destination: u16,
        /// Originator port.
        originator: u16,
    },
    /// IEI `70`, length 0: a secured command packet follows (TS 31.115 §4.2).
    CommandPacket,
    /// IEI `71`, length 0: a secured response packet follows (TS 31.115 §4.2).
    ResponsePacket,
    /// Any other element, kept as is.
    Other {
        /// Identifier.
        iei: Iei,
        /// Element data (at most 255 octets).
        data: &'a [u8],
    },
}

impl<'a> InformationElement<'a> {
    /// Interpret `iei` + `data`.
    pub fn from_raw(iei: Iei, data: &'a [u8]) -> Self {
        match (iei, data) {
            (Iei::CONCAT_8BIT, &[reference, total, sequence]) => InformationElement::Concat8 {
                reference,
                total,
                sequence,
            },
            (Iei::CONCAT_16BIT, &[r0, r1, total, sequence]) => InformationElement::Concat16 {
                reference: u16::from_be_bytes([r0, r1]),
                total,
                sequence,
            },
            (Iei::PORTS_8BIT, &[destination, originator]) => InformationElement::Ports8 {
                destination,
                originator,
            },
            (Iei::PORTS_16BIT, &[d0, d1, o0, o1]) => InformationElement::Ports16 {
                destination: u16::from_be_bytes([d0, d1]),
                originator: u16::from_be_bytes([o0, o1]),
            },
            (Iei::COMMAND_PACKET, &[]) => InformationElement::CommandPacket,
            (Iei::RESPONSE_PACKET, &[]) => InformationElement::ResponsePacket,
            (iei, data) => InformationElement::Other { iei, data },
        }
    }

    /// The identifier.
    pub fn iei(&self) -> Iei {
        match self {
            InformationElement::Concat8 { .. } => Iei::CONCAT_8BIT,
            InformationElement::Concat16 { .. } => Iei::CONCAT_16BIT,
            InformationElement::Ports8 { .. } => Iei::PORTS_8BIT,
            InformationElement::Ports16 { .. } => Iei::PORTS_16BIT,
            InformationElement::CommandPacket => Iei::COMMAND_PACKET,
            InformationElement::ResponsePacket => Iei::RESPONSE_PACKET,
            InformationElement::Other { iei, .. } => *iei,
        }
    }

    /// Length of the element data (without IEI and length octets).
    pub fn data_len(&self) -> usize {
        match self {
            InformationElement::Concat8 { .. } => 3,
            InformationElement::Concat16 { .. } | InformationElement::Ports16 { .. } => 4,
            InformationElement::Ports8 { .. } => 2,
            InformationElement::CommandPacket | InformationElement::ResponsePacket => 0,
            InformationElement::Other { data, .. } => data.len(),
        }
    }

    /// Octets the element takes: 2 + data.
    pub fn buffer_len(&self) -> usize {
        2 + self.data_len()
    }

    /// Write `IEI LEN DATA`; `BadLength` if the data exceeds 255 octets.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let dlen = u8::try_from(self.data_len()).map_err(|_| Error::BadLength)?;
        let n = self.buffer_len();
        let out = buf.get_mut(..n).ok_or(Error::BufferTooSmall)?;
        let (head, data) = out.split_at_mut(2);
        head.copy_from_slice(&[self.iei().0, dlen]);
        match *self {
            InformationElement::Concat8 {
                reference,
                total,
                sequence,
            } => data.copy_from_slice(&[reference, total, sequence]),
            InformationElement::Concat16 {
                reference,
                total,
                sequence,
            } => {
                let [r0, r1] = reference.to_be_bytes();
                data.copy_from_slice(&[r0, r1, total, sequence]);
            }
            InformationElement::Ports8 {
                destination,
                originator,
            } => data.copy_from_slice(&[destination, originator]),
            InformationElement::Ports16 {
                destination,
                originator,
            } => {
                let [d0, d1] = destination.to_be_bytes();
                let [o0, o1] = originator.to_be_bytes();
                data.copy_from_slice(&[d0, d1, o0, o1]);
            }
            InformationElement::CommandPacket | InformationElement::ResponsePacket => {}
            InformationElement::Other { data: d, .. } => data.copy_from_slice(d),
        }
        Ok(n)
    }
}

/// Concatenation info, from either IEI `00` or `08` (TS 23.040 §9.2.3.24.1 / .8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Concatenation {
    /// Reference number (8- or 16-bit).
    pub reference: u16,
    /// Total number of parts.
    pub total: u8,
    /// This part, 1-based.
    pub sequence: u8,
}

/// Port pair, from either IEI `04` or `05` (TS 23.040 §9.2.3.24.3 / .4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ports {
    /// Destination port.
    pub destination: u16,
    /// Originator port.
    pub originator: u16,
}

#[derive(Debug, Clone, Copy)]
enum Storage<'a> {
    /// Validated IE octets (without UDHL).
    Wire(&'a [u8]),
    /// Elements to send.
    Elements(&'a [InformationElement<'a>]),
}

/// A user-data header (TS 23.040 §9.2.3.24): UDHL then information elements.
#[derive(Debug, Clone, Copy)]
pub struct UserDataHeader<'a> {
    storage: Storage<'a>,
}

impl<'a> UserDataHeader<'a> {
    /// Parse the header at the start of `ud` (first octet = UDHL); the header takes
    /// [`buffer_len`](Self::buffer_len) octets. `Truncated` if UDHL runs past `ud`,
    /// `BadLength` if an element runs past UDHL.
    pub fn parse(ud: &'a [u8]) -> Result<Self> {
        let (&udhl, rest) = ud.split_first().ok_or(Error::Truncated)?;
        let ies = rest.get(..usize::from(udhl)).ok_or(Error::Truncated)?;
        let mut at = ies;
        while !at.is_empty() {
            let len = usize::from(*at.get(1).ok_or(Error::BadLength)?);
            at = at.get(2 + len..).ok_or(Error::BadLength)?;
        }
        Ok(UserDataHeader {
            storage: Storage::Wire(ies),
        })
    }

    /// A header made of these elements.
    pub const fn from_elements(elements: &'a [InformationElement<'a>]) -> Self {
        UserDataHeader {
            storage: Storage::Elements(elements),
        }
    }

    /// Iterate over the elements.
    pub fn elements(&self) -> Elements<'a> {
        Elements {
            storage: self.storage,
        }
    }

    /// UDHL: octets of elements.
    pub fn header_len(&self) -> usize {
        match self.storage {
            Storage::Wire(b) => b.len(),
            Storage::Elements(e) => e.iter().map(InformationElement::buffer_len).sum(),
        }
    }

    /// Octets including the UDHL octet.
    pub fn buffer_len(&self) -> usize {
        1 + self.header_len()
    }

    /// Write UDHL and the elements. `BadLength` if UDHL would exceed 255.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let udhl = u8::try_from(self.header_len()).map_err(|_| Error::BadLength)?;
        let n = self.buffer_len();
        let out = buf.get_mut(..n).ok_or(Error::BufferTooSmall)?;
        let (first, mut rest) = out.split_first_mut().ok_or(Error::BufferTooSmall)?;
        *first = udhl;
        match self.storage {
            Storage::Wire(b) => rest.copy_from_slice(b),
            Storage::Elements(es) => {
                for e in es {
                    let k = e.emit(rest)?;
                    rest = rest.get_mut(k..).ok_or(Error::BufferTooSmall)?;
                }
            }
        }
        Ok(n)
    }

    /// The first concatenation element (8- or 16-bit reference), if any.
    pub fn concatenation(&self) -> Option<Concatenation> {
        self.elements().find_map(|e| match e {
            InformationElement::Concat8 {
                reference,
                total,
                sequence,
            } => Some(Concatenation {
                reference: u16::from(reference),
                total,
                sequence,
            }),
            InformationElement::Concat16 {
                reference,
                total,
                sequence,
            } => Some(Concatenation {
                reference,
                total,
                sequence,
            }),
            _ => None,
        })
    }

    /// The first application port element (8- or 16-bit), if any.
    pub fn ports(&self) -> Option<Ports> {
        self.elements().find_map(|e| match e {
            InformationElement::Ports8 {
                destination,
                originator,
            } => Some(Ports {
                destination: u16::from(destination),
                originator: u16::from(originator),
            }),
            InformationElement::Ports16 {
                destination,
                originator,
            } => Some(Ports {
                destination,
                originator,
            }),
            _ => None,
        })
    }

    /// Whether an element with this identifier is present.
    pub fn contains(&self, iei: Iei) -> bool {
        self.elements().any(|e| e.iei() == iei)
    }
}

impl PartialEq for UserDataHeader<'_> {
    /// Equal when the element sequences are equal (whatever the storage).
    fn eq(&self, other: &Self) -> bool {
        self.elements().eq(other.elements())
    }
}

impl Eq for UserDataHeader<'_> {}

/// Iterator over the elements of a [`UserDataHeader`].
#[derive(Debug, Clone)]
pub struct Elements<'a> {
    storage: Storage<'a>,
}

impl<'a> Iterator for Elements<'a> {
    type Item = InformationElement<'a>;
    fn next(&mut self) -> Option<InformationElement<'a>> {
        match &mut self.storage {
            Storage::Wire(b) => {
                let iei = *b.first()?;
                let len = usize::from(*b.get(1)?);
                let data = b.get(2..2 + len)?;
                *b = b.get(2 + len..)?;
                Some(InformationElement::from_raw(Iei(iei), data))
            }
            Storage::Elements(es) => {
                let (first, rest) = es.split_first()?;
                *es = rest;
                Some(*first)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    #[test]
    fn wap_push_header() {
        // /work/shared/spec/04-sms.md §4: ports 2948 ← 9200, concat ref 42 part 1/2
        let raw = h("0B 05 04 0B 84 23 F0 00 03 42 02 01");
        let udh = UserDataHeader::parse(&raw).unwrap();
        assert_eq!(udh.buffer_len(), 12);
        assert_eq!(
            udh.ports(),
            Some(Ports {
                destination: 2948,
                originator: 9200
            })
        );
        assert_eq!(
            udh.concatenation(),
            Some(Concatenation {
                reference: 0x42,
                total: 2,
                sequence: 1
            })
        );
        let ies = [
            InformationElement::Ports16 {
                destination: 2948,
                originator: 9200,
            },
            InformationElement::Concat8 {
                reference: 0x42,
                total: 2,
                sequence: 1,
            },
        ];
        let built = UserDataHeader::from_elements(&ies);
        assert_eq!(built, udh);
        let mut buf = [0u8; 12];
        assert_eq!(built.emit(&mut buf).unwrap(), 12);
        assert_eq!(&buf[..], &raw[..]);
    }

    #[test]
    fn ota_and_other_headers() {
        // 04-sms.md §5: UDH 02 70 00 (command packet identifier, TS 31.115)
        let raw = h("02 70 00");
        let udh = UserDataHeader::parse(&raw).unwrap();
        assert!(udh.contains(Iei::COMMAND_PACKET));
        assert_eq!(
            udh.elements().collect::<Vec<_>>(),
            [InformationElement::CommandPacket]
        );
        // 16-bit concat (IEI 08), 8-bit ports (IEI 04), unknown IEI 24 preserved
        let raw = h("0E 08 04 12 34 03 02 04 02 10 20 24 02 AA BB");
        let udh = UserDataHeader::parse(&raw).unwrap();
        let v: Vec<_> = udh.elements().collect();
        assert_eq!(
            v,
            [
                InformationElement::Concat16 {
                    reference: 0x1234,
                    total: 3,
                    sequence: 2
                },
                InformationElement::Ports8 {
                    destination: 0x10,
                    originator: 0x20
                },
                InformationElement::Other {
                    iei: Iei(0x24),
                    data: &[0xAA, 0xBB]
                },
            ]
        );
        // known IEI with the wrong length is kept raw
        let raw = h("04 00 02 01 02");
        let udh = UserDataHeader::parse(&raw).unwrap();
        assert!(matches!(
            udh.elements().next(),
            Some(InformationElement::Other { iei: Iei(0), .. })
        ));
        assert_eq!(
            UserDataHeader::parse(&h("05 00 03 01")),
            Err(Error::Truncated)
        );
        assert_eq!(
            UserDataHeader::parse(&h("03 00 03 01")),
            Err(Error::BadLength)
        );
        assert_eq!(UserDataHeader::parse(&h("01 00")), Err(Error::BadLength));
    }

    fn ie_strategy() -> impl Strategy<Value = (u8, Vec<u8>)> {
        (any::<u8>(), proptest::collection::vec(any::<u8>(), 0..6))
    }

    proptest! {
        #[test]
        fn bytes_round_trip(ies in proptest::collection::vec(ie_strategy(), 0..6)) {
            let mut raw = std::vec![0u8];
            for (iei, d) in &ies {
                raw.push(*iei);
                raw.push(d.len() as u8);
                raw.extend_from_slice(d);
            }
            raw[0] = (raw.len() - 1) as u8;
            let udh = UserDataHeader::parse(&raw).unwrap();
            prop_assert_eq!(udh.buffer_len(), raw.len());
            let mut buf = [0u8; 64];
            let n = udh.emit(&mut buf).unwrap();
            prop_assert_eq!(&buf[..n], &raw[..]);
            // typed elements re-emit the same
            let elems: Vec<_> = udh.elements().collect();
            let built = UserDataHeader::from_elements(&elems);
            let n = built.emit(&mut buf).unwrap();
            prop_assert_eq!(&buf[..n], &raw[..]);
            prop_assert_eq!(UserDataHeader::parse(&buf[..n]).unwrap(), built);
        }

        #[test]
        fn random_never_panics(b in proptest::collection::vec(any::<u8>(), 0..40)) {
            if let Ok(u) = UserDataHeader::parse(&b) {
                let _ = u.elements().count();
                let _ = u.concatenation();
            }
        }
    }
}
