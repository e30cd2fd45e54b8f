//! TP-DCS, the data coding scheme (3GPP TS 23.038 §4; `/work/shared/spec/04-sms.md` §2).
//!
//! An open newtype over the octet: every value round-trips, accessors interpret the coding
//! groups `00xx` (general), `01xx` (automatic deletion), `1100`..`1110` (message waiting)
//! and `1111` (data coding / message class). Reserved groups `1000`..`1011` are read as the
//! GSM 7-bit default alphabet, as TS 23.038 §4 directs for reserved codings.

/// Character set of the user data (TS 23.038 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alphabet {
    /// GSM 7-bit default alphabet: TP-UDL counts septets.
    Gsm7,
    /// 8-bit data: TP-UDL counts octets.
    Eight,
    /// UCS2: TP-UDL counts octets.
    Ucs2,
    /// A reserved alphabet code (general group bits 3..2 = `11`); treated as 7-bit.
    Reserved,
}

/// Message class (TS 23.038 §4, TS 23.040 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageClass {
    /// Class 0: immediate display.
    Class0,
    /// Class 1: ME-specific.
    Class1,
    /// Class 2: (U)SIM-specific.
    Class2,
    /// Class 3: TE-specific.
    Class3,
}

impl MessageClass {
    const fn bits(self) -> u8 {
        match self {
            MessageClass::Class0 => 0,
            MessageClass::Class1 => 1,
            MessageClass::Class2 => 2,
            MessageClass::Class3 => 3,
        }
    }

    const fn from_bits(b: u8) -> Self {
        match b & 3 {
            0 => MessageClass::Class0,
            1 => MessageClass::Class1,
            2 => MessageClass::Class2,
            _ => MessageClass::Class3,
        }
    }
}

/// TP-DCS octet (TS 23.040 §9.2.3.10, coded per TS 23.038 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct DataCodingScheme(pub u8);

impl DataCodingScheme {
    /// `00`: GSM 7-bit default alphabet, no class.
    pub const GSM7: DataCodingScheme = DataCodingScheme(0x00);
    /// `04`: 8-bit data, no class.
    pub const EIGHT_BIT: DataCodingScheme = DataCodingScheme(0x04);
    /// `08`: UCS2, no class.
    pub const UCS2: DataCodingScheme = DataCodingScheme(0x08);
    /// `F5`: group `1111`, 8-bit data, class 1 (ME-specific).
    pub const EIGHT_BIT_CLASS1: DataCodingScheme = DataCodingScheme(0xF5);
    /// `F6`: group `1111`, 8-bit data, class 2 ((U)SIM-specific) — OTA / SMS-PP download.
    pub const EIGHT_BIT_CLASS2: DataCodingScheme = DataCodingScheme(0xF6);

    /// General data coding group `00xx`, uncompressed. `Alphabet::Reserved` gives bits `11`.
    pub const fn general(alphabet: Alphabet, class: Option<MessageClass>) -> Self {
        let a = match alphabet {
            Alphabet::Gsm7 => 0,
            Alphabet::Eight => 1,
            Alphabet::Ucs2 => 2,
            Alphabet::Reserved => 3,
        };
        let c = match class {
            Some(c) => 0x10 | c.bits(),
            None => 0,
        };
        DataCodingScheme((a << 2) | c)
    }

    /// Data coding / message class group `1111`: 8-bit if `eight_bit`, else GSM 7-bit.
    pub const fn data_class(eight_bit: bool, class: MessageClass) -> Self {
        DataCodingScheme(0xF0 | if eight_bit { 0x04 } else { 0 } | class.bits())
    }

    /// Coding group: bits 8..5.
    pub const fn group(self) -> u8 {
        self.0 >> 4
    }

    /// Whether the group is `00xx`/`01xx` (general or automatic deletion), whose low
    /// six bits share one layout.
    const fn is_general_layout(self) -> bool {
        self.0 & 0x80 == 0
    }

    /// The alphabet.
    pub const fn alphabet(self) -> Alphabet {
        if self.is_general_layout() {
            match (self.0 >> 2) & 3 {
                0 => Alphabet::Gsm7,
                1 => Alphabet::Eight,
                2 => Alphabet::Ucs2,
                _ => Alphabet::Reserved,
            }
        } else {
            match self.group() {
                0xC | 0xD => Alphabet::Gsm7,
                0xE => Alphabet::Ucs2,
                0xF => {
                    if self.0 & 0x04 != 0 {
                        Alphabet::Eight
                    } else {
                        Alphabet::Gsm7
                    }
                }
                _ => Alphabet::Gsm7,
            }
        }
    }

    /// The message class, if the coding carries one.
    pub const fn class(self) -> Option<MessageClass> {
        if self.is_general_layout() {
            if self.0 & 0x10 != 0 {
                Some(MessageClass::from_bits(self.0))
            } else {
                None
            }
        } else if self.group() == 0xF {
            Some(MessageClass::from_bits(self.0))
        } else {
            None
        }
    }

    /// Whether the text is compressed (general layout bit 6, TS 23.038 §4, TS 23.042).
    pub const fn is_compressed(self) -> bool {
        self.is_general_layout() && self.0 & 0x20 != 0
    }

    /// Whether the group is `01xx`, "marked for automatic deletion".
    pub const fn is_auto_deletion(self) -> bool {
        self.0 & 0xC0 == 0x40
    }

    /// Whether TP-UDL counts septets (uncompressed 7-bit or reserved) rather than octets
    /// (TS 23.040 §9.2.3.16).
    pub const fn udl_in_septets(self) -> bool {
        !self.is_compressed() && matches!(self.alphabet(), Alphabet::Gsm7 | Alphabet::Reserved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn project_values() {
        // /work/shared/spec/04-sms.md §2 TP-DCS table
        assert_eq!(DataCodingScheme(0x00).alphabet(), Alphabet::Gsm7);
        assert_eq!(DataCodingScheme(0x00).class(), None);
        assert_eq!(DataCodingScheme(0x04).alphabet(), Alphabet::Eight);
        assert_eq!(DataCodingScheme(0x08).alphabet(), Alphabet::Ucs2);
        let f5 = DataCodingScheme(0xF5);
        assert_eq!(
            (f5.alphabet(), f5.class()),
            (Alphabet::Eight, Some(MessageClass::Class1))
        );
        let f6 = DataCodingScheme(0xF6);
        assert_eq!(
            (f6.alphabet(), f6.class()),
            (Alphabet::Eight, Some(MessageClass::Class2))
        );
        assert_eq!(
            DataCodingScheme::data_class(true, MessageClass::Class2),
            DataCodingScheme::EIGHT_BIT_CLASS2
        );
        assert_eq!(
            DataCodingScheme::general(Alphabet::Ucs2, None),
            DataCodingScheme::UCS2
        );
        // TS 23.038 §4: 0x11 = general, 7-bit, class 1; 0x2x compressed → UDL in octets
        assert_eq!(DataCodingScheme(0x11).class(), Some(MessageClass::Class1));
        assert!(!DataCodingScheme(0x20).udl_in_septets());
        assert!(DataCodingScheme(0x00).udl_in_septets());
        assert!(DataCodingScheme(0xF0).udl_in_septets());
        assert!(!DataCodingScheme(0xF6).udl_in_septets());
        assert!(DataCodingScheme(0x40).is_auto_deletion());
        // message waiting, UCS2 (group 1110)
        assert_eq!(DataCodingScheme(0xE0).alphabet(), Alphabet::Ucs2);
        // reserved group read as 7-bit
        assert!(DataCodingScheme(0x80).udl_in_septets());
    }

    proptest! {
        #[test]
        fn general_constructor_consistent(a in 0u8..4, c in proptest::option::of(0u8..4)) {
            let alphabet = [Alphabet::Gsm7, Alphabet::Eight, Alphabet::Ucs2, Alphabet::Reserved][usize::from(a)];
            let class = c.map(MessageClass::from_bits);
            let d = DataCodingScheme::general(alphabet, class);
            prop_assert_eq!(d.alphabet(), alphabet);
            prop_assert_eq!(d.class(), class);
        }

        #[test]
        fn any_value_never_panics(v in any::<u8>()) {
            let d = DataCodingScheme(v);
            let _ = (d.alphabet(), d.class(), d.udl_in_septets(), d.group());
        }
    }
}
