//! Framing for the ESME: SMPP 3.4 §3.2 PDU header (`command_length`, `command_id`,
//! `command_status`, `sequence_number`, all 4-octet big-endian) followed by the body,
//! decoded with `rusmpp`.
//!
//! Unlike `rusmpp::tokio_codec::CommandCodec`, a PDU whose body does not decode is a
//! normal item ([`Inbound::Malformed`]) rather than a stream error: `tokio_util`'s
//! `Framed` ends the stream after the first decoder error, and SMPP 3.4 §2.5 / §4.3
//! wants a `generic_nack` with the session kept. Only a `command_length` outside
//! `16..=max` cannot be recovered from (the framing itself is lost).

use bytes::{Buf as _, BufMut as _, BytesMut};
use rusmpp::decode::DecodeWithLength as _;
use rusmpp::encode::Length as _;
use rusmpp::encode::owned::Encode as _;
use rusmpp::{Command, CommandId, CommandStatus, Pdu};
use tokio_util::codec::{Decoder, Encoder};

/// Octets in the PDU header (SMPP 3.4 §3.2).
pub const HEADER_LEN: usize = 16;

/// What the decoder produced.
#[derive(Debug)]
pub enum Inbound {
    /// A PDU that decoded completely.
    Command(Box<Command>),
    /// A correctly framed PDU whose body could not be decoded, or whose command id is
    /// unknown; answer with `generic_nack(status)` carrying `sequence_number`.
    Malformed {
        /// `command_id` as received.
        command_id: u32,
        /// `sequence_number` as received.
        sequence_number: u32,
        /// Status for the `generic_nack`: `ESME_RINVCMDID` for an unknown command
        /// id, `ESME_RINVCMDLEN` for a body that does not match its length.
        status: CommandStatus,
    },
    /// `command_length` outside `16..=max_length`: the byte stream cannot be
    /// re-synchronised; answer `generic_nack(ESME_RINVCMDLEN)` and drop the link.
    BadLength {
        /// The length field received.
        command_length: u32,
    },
}

/// The ESME's codec.
#[derive(Debug, Clone)]
pub struct EsmeCodec {
    max_length: usize,
    lost_framing: bool,
}

impl EsmeCodec {
    /// Accepts PDUs up to `max_length` octets (including the header).
    pub fn new(max_length: usize) -> Self {
        Self {
            max_length: max_length.max(HEADER_LEN),
            lost_framing: false,
        }
    }
}

impl Default for EsmeCodec {
    fn default() -> Self {
        Self::new(8192)
    }
}

fn be_u32(bytes: &[u8], at: usize) -> u32 {
    bytes
        .get(at..at + 4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_be_bytes)
        .unwrap_or(0)
}

/// Decodes one complete PDU (header included) into an [`Inbound`].
pub fn decode_pdu(pdu: &[u8]) -> Inbound {
    let command_id = be_u32(pdu, 4);
    let sequence_number = be_u32(pdu, 12);
    let malformed = |status| Inbound::Malformed {
        command_id,
        sequence_number,
        status,
    };
    let Some(body) = pdu.get(4..) else {
        return malformed(CommandStatus::EsmeRinvcmdlen);
    };
    let mut buf = BytesMut::from(body);
    match Command::decode(&mut buf, body.len()) {
        Ok((command, size)) if size == body.len() => {
            if matches!(command.id(), CommandId::Other(_))
                || matches!(command.pdu(), Some(Pdu::Other { .. }))
            {
                malformed(CommandStatus::EsmeRinvcmdid)
            } else {
                Inbound::Command(Box::new(command))
            }
        }
        Ok(_) | Err(_) => {
            if matches!(CommandId::from(command_id), CommandId::Other(_)) {
                malformed(CommandStatus::EsmeRinvcmdid)
            } else {
                malformed(CommandStatus::EsmeRinvcmdlen)
            }
        }
    }
}

impl Decoder for EsmeCodec {
    type Item = Inbound;
    type Error = std::io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Inbound>, std::io::Error> {
        if self.lost_framing {
            src.clear();
            return Ok(None);
        }
        if src.len() < 4 {
            return Ok(None);
        }
        let command_length = be_u32(src, 0);
        let len = command_length as usize;
        if len < HEADER_LEN || len > self.max_length {
            self.lost_framing = true;
            src.clear();
            return Ok(Some(Inbound::BadLength { command_length }));
        }
        if src.len() < len {
            src.reserve(len - src.len());
            return Ok(None);
        }
        let pdu = src.split_to(len);
        Ok(Some(decode_pdu(&pdu)))
    }
}

/// Encodes a command with its 4-octet length prefix.
pub fn encode_command(command: &Command, dst: &mut BytesMut) {
    // rusmpp's `length()` covers everything after the length field.
    let len = 4 + command.length();
    dst.reserve(len);
    dst.put_u32(len as u32);
    command.encode(dst);
}

impl Encoder<&Command> for EsmeCodec {
    type Error = std::io::Error;

    fn encode(&mut self, command: &Command, dst: &mut BytesMut) -> Result<(), std::io::Error> {
        encode_command(command, dst);
        Ok(())
    }
}

/// Encodes a command to a standalone byte vector (length prefix included).
pub fn to_bytes(command: &Command) -> Vec<u8> {
    let mut dst = BytesMut::new();
    encode_command(command, &mut dst);
    let mut out = vec![0; dst.len()];
    dst.copy_to_slice(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// enquire_link, sequence 7 (SMPP 3.4 §4.11.1: header only, command_id 0x15).
    const ENQUIRE_LINK_SEQ7: [u8; 16] = [0, 0, 0, 0x10, 0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 7];
    /// bind_transceiver_resp (0x80000009), status 0, sequence 1, system_id "SMSC"
    /// (SMPP 3.4 §4.1.6).
    const BIND_TRX_RESP: [u8; 21] = [
        0, 0, 0, 0x15, 0x80, 0, 0, 0x09, 0, 0, 0, 0, 0, 0, 0, 1, b'S', b'M', b'S', b'C', 0,
    ];

    fn decode_all(bytes: &[u8]) -> Vec<Inbound> {
        let mut codec = EsmeCodec::default();
        let mut buf = BytesMut::from(bytes);
        let mut out = Vec::new();
        while let Some(item) = codec.decode(&mut buf).unwrap() {
            out.push(item);
        }
        out
    }

    #[test]
    fn decodes_header_only_and_body_pdus_split_anywhere() {
        let mut stream = ENQUIRE_LINK_SEQ7.to_vec();
        stream.extend_from_slice(&BIND_TRX_RESP);
        for split in 0..stream.len() {
            let mut codec = EsmeCodec::default();
            let mut buf = BytesMut::from(&stream[..split]);
            let mut items = Vec::new();
            while let Some(i) = codec.decode(&mut buf).unwrap() {
                items.push(i);
            }
            buf.extend_from_slice(&stream[split..]);
            while let Some(i) = codec.decode(&mut buf).unwrap() {
                items.push(i);
            }
            assert_eq!(items.len(), 2, "split at {split}");
            match &items[0] {
                Inbound::Command(c) => {
                    assert_eq!(c.id(), CommandId::EnquireLink);
                    assert_eq!(c.sequence_number(), 7);
                }
                other => panic!("{other:?}"),
            }
            match &items[1] {
                Inbound::Command(c) => {
                    assert_eq!(c.id(), CommandId::BindTransceiverResp);
                    assert_eq!(c.status(), CommandStatus::EsmeRok);
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn encode_matches_hand_built_bytes() {
        let c = Command::new(CommandStatus::EsmeRok, 7, Pdu::EnquireLink);
        assert_eq!(to_bytes(&c), ENQUIRE_LINK_SEQ7);
    }

    #[test]
    fn unknown_command_id_is_malformed_rinvcmdid() {
        let pdu = [0, 0, 0, 0x10, 0, 0, 0x09, 0x99, 0, 0, 0, 0, 0, 0, 0, 9];
        match decode_all(&pdu).as_slice() {
            [
                Inbound::Malformed {
                    command_id: 0x999,
                    sequence_number: 9,
                    status: CommandStatus::EsmeRinvcmdid,
                },
            ] => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn garbage_body_is_malformed_rinvcmdlen_and_next_pdu_still_decodes() {
        // deliver_sm header with a 3-byte body that holds no C-octet strings.
        let mut stream = vec![
            0, 0, 0, 0x13, 0, 0, 0, 0x05, 0, 0, 0, 0, 0, 0, 0, 3, 0xFF, 0xFF, 0xFF,
        ];
        stream.extend_from_slice(&ENQUIRE_LINK_SEQ7);
        let items = decode_all(&stream);
        assert!(matches!(
            items[0],
            Inbound::Malformed {
                command_id: 5,
                sequence_number: 3,
                status: CommandStatus::EsmeRinvcmdlen
            }
        ));
        assert!(matches!(&items[1], Inbound::Command(c) if c.id() == CommandId::EnquireLink));
    }

    #[test]
    fn length_below_header_loses_framing() {
        let items = decode_all(&[0, 0, 0, 5, 1, 2, 3, 4]);
        assert!(matches!(
            items[..],
            [Inbound::BadLength { command_length: 5 }]
        ));
        let items = decode_all(&[0xFF, 0xFF, 0xFF, 0xFF]);
        assert!(matches!(items[..], [Inbound::BadLength { .. }]));
    }

    proptest::proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let _ = decode_all(&bytes);
            let mut framed = (bytes.len() as u32 + 4).to_be_bytes().to_vec();
            framed.extend_from_slice(&bytes);
            let _ = decode_all(&framed);
        }
    }
}
