//! The host-side view of one short message, as the network simulator moves it around.
//!
//! At this level an SMS is what both an SMS TPDU (3GPP TS 23.040 §9.2.2) and an SMPP
//! `submit_sm`/`deliver_sm` (SMPP 3.4 §4.4.1, §4.6.1) carry: originating and destination
//! address, TP-PID, TP-DCS, an optional user-data header and the user data. Conversion
//! to and from TPDUs lives with the TPDU codec in `applet::wire::sms`.

/// TP-UDHI / SMPP `esm_class` bit 6: the user data starts with a user-data header
/// (TS 23.040 §9.2.3.23; SMPP 3.4 §5.2.12, GSM network specific features `01xxxxxx`).
pub const ESM_CLASS_UDHI: u8 = 0x40;

/// SMPP `esm_class` message type "SMSC delivery receipt" (`xx0001xx`, SMPP 3.4 §5.2.12).
pub const ESM_CLASS_DELIVERY_RECEIPT: u8 = 0x04;

/// One short message.
///
/// `user_data` is the user data as SMPP carries it: octets for 8-bit and UCS2 data
/// coding, and for the GSM 7-bit default alphabet one unpacked septet per octet (the
/// SMSC packs septets when it builds the TPDU, TS 23.038 §6.1.2.1). The user-data
/// header, when present, is kept apart in `udh` **without** its UDHL octet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShortMessage {
    /// Originating address digits (TP-OA / SMPP `source_addr`), e.g. `"447700900123"`.
    pub source: String,
    /// Destination address digits (TP-DA / SMPP `destination_addr`).
    pub destination: String,
    /// TP-PID (TS 23.040 §9.2.3.9); SMPP `protocol_id`.
    pub pid: u8,
    /// TP-DCS (TS 23.038 §4); SMPP `data_coding`.
    pub dcs: u8,
    /// User-data header information elements (TS 23.040 §9.2.3.24), without the UDHL octet.
    pub udh: Option<Vec<u8>>,
    /// User data after the header.
    pub user_data: Vec<u8>,
}

/// Why SMPP `short_message` octets could not be split into header and data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UdhError {
    /// UDHI was set but the UDHL octet is missing or larger than the data.
    #[error("user-data header length exceeds the short message")]
    Truncated,
}

impl ShortMessage {
    /// A message without a user-data header.
    pub fn new(
        source: impl Into<String>,
        destination: impl Into<String>,
        pid: u8,
        dcs: u8,
        user_data: impl Into<Vec<u8>>,
    ) -> Self {
        ShortMessage {
            source: source.into(),
            destination: destination.into(),
            pid,
            dcs,
            udh: None,
            user_data: user_data.into(),
        }
    }

    /// Builder-style: attach user-data header IEs (without UDHL).
    pub fn with_udh(mut self, udh: impl Into<Vec<u8>>) -> Self {
        self.udh = Some(udh.into());
        self
    }

    /// Splits SMPP `short_message` octets per the UDHI bit of `esm_class`
    /// (SMPP 3.4 §5.2.12: with UDHI the short message begins with UDHL + header).
    pub fn from_smpp(
        source: impl Into<String>,
        destination: impl Into<String>,
        esm_class: u8,
        pid: u8,
        dcs: u8,
        short_message: &[u8],
    ) -> Result<Self, UdhError> {
        let (udh, user_data) = if esm_class & ESM_CLASS_UDHI != 0 {
            let (&udhl, rest) = short_message.split_first().ok_or(UdhError::Truncated)?;
            let udhl = usize::from(udhl);
            if udhl > rest.len() {
                return Err(UdhError::Truncated);
            }
            let (h, d) = rest.split_at(udhl);
            (Some(h.to_vec()), d.to_vec())
        } else {
            (None, short_message.to_vec())
        };
        Ok(ShortMessage {
            source: source.into(),
            destination: destination.into(),
            pid,
            dcs,
            udh,
            user_data,
        })
    }

    /// The SMPP `short_message` octets: `UDHL ‖ UDH ‖ data` when a header is present.
    pub fn smpp_short_message(&self) -> Vec<u8> {
        match &self.udh {
            Some(h) => {
                let mut v = Vec::with_capacity(1 + h.len() + self.user_data.len());
                // A UDH longer than 255 octets cannot exist in a 140-octet TP-UD; saturate
                // rather than wrap so the result is at least detectably wrong.
                v.push(u8::try_from(h.len()).unwrap_or(u8::MAX));
                v.extend_from_slice(h);
                v.extend_from_slice(&self.user_data);
                v
            }
            None => self.user_data.clone(),
        }
    }

    /// The SMPP `esm_class` UDHI bit for this message (0x40 with a header, else 0).
    pub fn udhi_bits(&self) -> u8 {
        if self.udh.is_some() {
            ESM_CLASS_UDHI
        } else {
            0
        }
    }

    /// Whether the DCS selects the GSM 7-bit default alphabet (TS 23.038 §4: general
    /// coding group `00xx` with alphabet bits `00`, or group `1111` with bit 2 clear).
    pub fn is_gsm7(&self) -> bool {
        let d = self.dcs;
        match d >> 4 {
            0x0..=0x3 => (d >> 2) & 0x03 == 0,
            0xF => d & 0x04 == 0,
            // Message-waiting groups 1100/1101 use the default alphabet; 1110 is UCS2.
            0xC | 0xD => true,
            _ => false,
        }
    }

    /// Length of TP-UD this message needs, in the unit TP-UDL counts
    /// (TS 23.040 §9.2.3.16): septets for GSM 7-bit (header rounded up to whole
    /// septets), octets otherwise.
    pub fn tp_udl(&self) -> usize {
        let header = self.udh.as_ref().map_or(0, |h| 1 + h.len());
        if self.is_gsm7() {
            (header * 8).div_ceil(7) + self.user_data.len()
        } else {
            header + self.user_data.len()
        }
    }

    /// Whether the message fits one TPDU: 140 octets of TP-UD, i.e. 160 septets
    /// (TS 23.040 §9.2.3.24).
    pub fn fits_one_tpdu(&self) -> bool {
        if self.is_gsm7() {
            self.tp_udl() <= 160
        } else {
            self.tp_udl() <= 140
        }
    }

    /// The first user-data-header IE with identifier `iei`, if any.
    pub fn udh_ie(&self, iei: u8) -> Option<&[u8]> {
        let mut rest = self.udh.as_deref()?;
        while let [id, len, tail @ ..] = rest {
            let len = usize::from(*len);
            let data = tail.get(..len)?;
            if *id == iei {
                return Some(data);
            }
            rest = tail.get(len..)?;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Kannel 1.4.5 `sendota` short_message start (research/tools-on-these-machines.md §6):
    /// UDHL 06, IE 05 (16-bit ports) 0B84 ← 0B84, then WSP push `01 06 …`.
    const KANNEL_OTA_HEAD: [u8; 10] = [0x06, 0x05, 0x04, 0x0B, 0x84, 0x0B, 0x84, 0x01, 0x06, 0x2F];

    #[test]
    fn splits_and_rebuilds_udh() {
        let sm =
            ShortMessage::from_smpp("12345", "491701234567", 0x43, 0, 4, &KANNEL_OTA_HEAD).unwrap();
        assert_eq!(
            sm.udh.as_deref(),
            Some(&[0x05, 0x04, 0x0B, 0x84, 0x0B, 0x84][..])
        );
        assert_eq!(sm.user_data, [0x01, 0x06, 0x2F]);
        assert_eq!(sm.udh_ie(0x05), Some(&[0x0B, 0x84, 0x0B, 0x84][..]));
        assert_eq!(sm.udh_ie(0x00), None);
        assert_eq!(sm.smpp_short_message(), KANNEL_OTA_HEAD);
        assert_eq!(sm.udhi_bits(), 0x40);
    }

    #[test]
    fn truncated_udh_is_an_error() {
        assert_eq!(
            ShortMessage::from_smpp("1", "2", 0x40, 0, 4, &[0x05, 0x00]),
            Err(UdhError::Truncated)
        );
        assert_eq!(
            ShortMessage::from_smpp("1", "2", 0x40, 0, 4, &[]),
            Err(UdhError::Truncated)
        );
    }

    #[test]
    fn udl_units() {
        // 04-sms.md §2: 7-bit with the 6-octet concat UDH leaves 153 characters.
        let sm = ShortMessage::new("1", "2", 0, 0x00, vec![b'a'; 153]).with_udh([0, 3, 1, 2, 1]);
        assert_eq!(sm.tp_udl(), 160);
        assert!(sm.fits_one_tpdu());
        // 8-bit with the 12-octet ports+concat UDH leaves 128 octets.
        let sm = ShortMessage::new("1", "2", 0, 0x04, vec![0; 128]).with_udh([
            0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0, 0x00, 0x03, 0x42, 0x02, 0x01,
        ]);
        assert_eq!(sm.tp_udl(), 140);
        assert!(sm.fits_one_tpdu());
        let sm = ShortMessage::new("1", "2", 0, 0xF6, vec![0; 141]);
        assert!(!sm.fits_one_tpdu());
        assert!(!ShortMessage::new("1", "2", 0, 0x08, vec![]).is_gsm7());
        assert!(ShortMessage::new("1", "2", 0, 0xF1, vec![]).is_gsm7());
    }
}
