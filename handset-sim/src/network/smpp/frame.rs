//! SMPP PDU framing: pure and synchronous, "incomplete" is a normal outcome.
//!
//! A PDU is `command_length(4) ‖ command_id(4) ‖ command_status(4) ‖
//! sequence_number(4) ‖ body` (SMPP 3.4 §3.2). Bodies are decoded by the `rusmpp`
//! codec; a PDU whose body does not decode is reported as [`Frame::Malformed`] with
//! its header, so the session can answer `generic_nack` and carry on (§3.3.1). Only a
//! `command_length` that makes re-synchronisation impossible is fatal.

use bytes::{Buf, BufMut, BytesMut};
use rusmpp::decode::DecodeWithLength;
use rusmpp::encode::Length;
use rusmpp::encode::owned::Encode;
use rusmpp::{Command, CommandId, CommandStatus, Pdu};

/// SMPP header length.
pub const HEADER_LEN: usize = 16;

/// Largest PDU accepted (a submit_sm with 255 octets of message and TLVs is far below).
pub const MAX_PDU_LEN: usize = 64 * 1024;

/// One received PDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A PDU that decoded.
    Command(Box<Command>),
    /// A PDU with a sane length whose body did not decode, or an unknown command_id.
    Malformed {
        /// command_id from the header.
        command_id: u32,
        /// sequence_number from the header.
        sequence_number: u32,
        /// Status for the `generic_nack`: `ESME_RINVCMDID` (unknown command) or
        /// `ESME_RINVCMDLEN` (body does not match command_length).
        status: CommandStatus,
    },
}

/// A framing error after which the byte stream cannot be re-synchronised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid command_length {command_length}")]
pub struct FrameError {
    /// The offending command_length.
    pub command_length: u32,
    /// sequence_number from the header, for the final `generic_nack`.
    pub sequence_number: u32,
}

fn be32(b: &[u8], at: usize) -> u32 {
    match b.get(at..at + 4) {
        Some(&[a, b, c, d]) => u32::from_be_bytes([a, b, c, d]),
        _ => 0,
    }
}

/// Takes one PDU off the front of `buf`: `Ok(None)` when more bytes are needed.
pub fn parse(buf: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
    if buf.len() < HEADER_LEN {
        return Ok(None);
    }
    let command_length = be32(buf, 0);
    let command_id = be32(buf, 4);
    let sequence_number = be32(buf, 12);
    let len = command_length as usize;
    if !(HEADER_LEN..=MAX_PDU_LEN).contains(&len) {
        return Err(FrameError {
            command_length,
            sequence_number,
        });
    }
    if buf.len() < len {
        buf.reserve(len - buf.len());
        return Ok(None);
    }
    let mut pdu = buf.split_to(len);
    pdu.advance(4);
    let malformed = |status| Frame::Malformed {
        command_id,
        sequence_number,
        status,
    };
    if let CommandId::Other(_) = CommandId::from(command_id) {
        return Ok(Some(malformed(CommandStatus::EsmeRinvcmdid)));
    }
    let frame = match Command::decode(&mut pdu, len - 4) {
        Ok((cmd, size)) if size == len - 4 => match cmd.pdu() {
            Some(Pdu::Other { .. }) => malformed(CommandStatus::EsmeRinvcmdid),
            None if !matches!(
                cmd.id(),
                CommandId::Unbind
                    | CommandId::UnbindResp
                    | CommandId::EnquireLink
                    | CommandId::EnquireLinkResp
                    | CommandId::GenericNack
            ) && !cmd.id().is_response() =>
            {
                malformed(CommandStatus::EsmeRinvcmdlen)
            }
            _ => Frame::Command(Box::new(cmd)),
        },
        Ok(_) | Err(_) => malformed(CommandStatus::EsmeRinvcmdlen),
    };
    Ok(Some(frame))
}

/// Appends an encoded command.
pub fn emit(cmd: &Command, dst: &mut BytesMut) {
    let len = 4 + cmd.length();
    dst.reserve(len);
    dst.put_u32(u32::try_from(len).unwrap_or(u32::MAX));
    cmd.encode(dst);
}

/// Appends a header-only PDU: SMPP 3.4 returns no body in a response whose
/// command_status is non-zero (e.g. §4.1.2, §4.4.2), and `generic_nack` has none.
pub fn emit_header_only(
    command_id: CommandId,
    status: CommandStatus,
    seq: u32,
    dst: &mut BytesMut,
) {
    dst.reserve(HEADER_LEN);
    dst.put_u32(HEADER_LEN as u32);
    dst.put_u32(u32::from(command_id));
    dst.put_u32(u32::from(status));
    dst.put_u32(seq);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// enquire_link, seq 7 (SMPP 3.4 §4.11.1: header only, command_id 0x00000015).
    const ENQUIRE_LINK: [u8; 16] = [0, 0, 0, 16, 0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 7];

    /// The bind_transmitter example of SMPP 5.0 §2.2.1.1 (quoted in rusmpp's docs) with
    /// interface_version 0x34: system_id "SMPP3TEST", password "secret08",
    /// system_type "SUBMIT1", ton 1, npi 1, empty range.
    const BIND_TX: [u8; 47] = [
        0x00, 0x00, 0x00, 0x2F, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x01, 0x53, 0x4D, 0x50, 0x50, 0x33, 0x54, 0x45, 0x53, 0x54, 0x00, 0x73, 0x65, 0x63, 0x72,
        0x65, 0x74, 0x30, 0x38, 0x00, 0x53, 0x55, 0x42, 0x4D, 0x49, 0x54, 0x31, 0x00, 0x34, 0x01,
        0x01, 0x00,
    ];

    #[test]
    fn incomplete_then_complete() {
        let mut b = BytesMut::from(&ENQUIRE_LINK[..10]);
        assert_eq!(parse(&mut b), Ok(None));
        b.extend_from_slice(&ENQUIRE_LINK[10..]);
        b.extend_from_slice(&BIND_TX[..20]);
        let Some(Frame::Command(c)) = parse(&mut b).unwrap() else {
            panic!()
        };
        assert_eq!(c.id(), CommandId::EnquireLink);
        assert_eq!(c.sequence_number(), 7);
        assert_eq!(parse(&mut b), Ok(None));
        b.extend_from_slice(&BIND_TX[20..]);
        let Some(Frame::Command(c)) = parse(&mut b).unwrap() else {
            panic!()
        };
        let Some(Pdu::BindTransmitter(bt)) = c.pdu() else {
            panic!()
        };
        assert_eq!(bt.system_id.as_str(), "SMPP3TEST");
        assert_eq!(bt.password.as_str(), "secret08");
        assert_eq!(u8::from(bt.interface_version), 0x34);
        assert!(b.is_empty());
    }

    #[test]
    fn emit_round_trips_bytes() {
        let mut b = BytesMut::from(&BIND_TX[..]);
        let Some(Frame::Command(c)) = parse(&mut b).unwrap() else {
            panic!()
        };
        let mut out = BytesMut::new();
        emit(&c, &mut out);
        assert_eq!(&out[..], &BIND_TX[..]);
    }

    #[test]
    fn malformed_bodies_keep_the_stream_in_sync() {
        // bind_transmitter whose system_id has no NUL within command_length.
        let mut bad = vec![0, 0, 0, 20, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 9];
        bad.extend_from_slice(b"ABCD");
        // Unknown command_id 0x00000077 with a 1-octet body.
        bad.extend_from_slice(&[0, 0, 0, 17, 0, 0, 0, 0x77, 0, 0, 0, 0, 0, 0, 0, 10, 0xAA]);
        bad.extend_from_slice(&ENQUIRE_LINK);
        let mut b = BytesMut::from(&bad[..]);
        assert_eq!(
            parse(&mut b).unwrap(),
            Some(Frame::Malformed {
                command_id: 2,
                sequence_number: 9,
                status: CommandStatus::EsmeRinvcmdlen
            })
        );
        assert_eq!(
            parse(&mut b).unwrap(),
            Some(Frame::Malformed {
                command_id: 0x77,
                sequence_number: 10,
                status: CommandStatus::EsmeRinvcmdid
            })
        );
        assert!(matches!(parse(&mut b).unwrap(), Some(Frame::Command(_))));
    }

    #[test]
    fn insane_length_is_fatal() {
        let mut b = BytesMut::from(&[0, 0, 0, 8, 0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 3][..]);
        assert_eq!(
            parse(&mut b),
            Err(FrameError {
                command_length: 8,
                sequence_number: 3
            })
        );
        let mut b = BytesMut::from(&[0x7F, 0, 0, 0, 0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 3][..]);
        assert!(parse(&mut b).is_err());
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut r = crate::network::fault::Rng::seeded(1);
        for _ in 0..2000 {
            let n = (r.next_u64() % 64) as usize;
            let mut v: Vec<u8> = (0..n).map(|_| r.next_u64() as u8).collect();
            if v.len() >= 4 {
                // Make the length plausible half of the time.
                if r.chance(0.5) {
                    v[..4].copy_from_slice(&(n as u32).to_be_bytes());
                }
            }
            let mut b = BytesMut::from(&v[..]);
            while let Ok(Some(_)) = parse(&mut b) {}
        }
    }
}
