//! The manufacturer's MMSC stub (issue 6): the endpoint a depreciated handset's MMS
//! application reaches once a provisioning session has inserted an APN whose MMSC URL
//! points here. Protocol and limits: `provisioning-stub/docs/manufacturer.md` § MMSC.
//!
//! Two layers, as elsewhere in the workspace:
//! - **wire** (pure, no I/O): the few OMA-TS-MMS_ENC-V1_3 pieces an MMSC needs to answer
//!   a handset: [`SendReq`] (parse of an `m-send-req`, §6.1.1) and [`SendConf`] (parse,
//!   emit of an `m-send-conf`, §6.1.2), with open newtypes for the protocol numbers
//!   ([`HeaderField`], [`MessageType`], [`MmsVersion`], [`ResponseStatus`]).
//! - **server**: [`run`] serves plain HTTP/1.1 (hyper) on an already bound listener:
//!   `POST {path}` with `Content-Type: application/vnd.wap.mms-message` answers an
//!   `m-send-conf`; `GET {path}/stats` answers the counters as JSON. MMS over HTTP is
//!   plain in practice: the operator's APN (and its WAP proxy) carries it.
//!
//! Malformed input never panics: broken HTTP gets hyper's `400`, a body that is not an
//! MMS PDU at all gets `400`, an MMS PDU that is not a valid `m-send-req` gets `200` with
//! an `m-send-conf` carrying an error [`ResponseStatus`], a body over
//! [`MmscConfig::max_body`] gets `413`.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

// ---------------------------------------------------------------------------------------
// Wire
// ---------------------------------------------------------------------------------------

/// MIME type of an MMS PDU carried over HTTP (OMA-TS-MMS_ENC-V1_3 §7; WAP-209 §7.1).
pub const MMS_CONTENT_TYPE: &str = "application/vnd.wap.mms-message";

/// An MMS header field name in its binary form: `0x80 | assigned number`
/// (OMA-TS-MMS_ENC-V1_3 §7.4, Table 27 "Field Name Assignments"). Open: unknown
/// fields are skipped by their generic value encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HeaderField(pub u8);

impl HeaderField {
    /// `Bcc` (assigned number 0x01).
    pub const BCC: Self = Self(0x81);
    /// `Cc` (0x02).
    pub const CC: Self = Self(0x82);
    /// `Content-Type` (0x04); the last header of a PDU with a body (§7.3.11).
    pub const CONTENT_TYPE: Self = Self(0x84);
    /// `From` (0x09).
    pub const FROM: Self = Self(0x89);
    /// `Message-ID` (0x0B).
    pub const MESSAGE_ID: Self = Self(0x8B);
    /// `X-Mms-Message-Type` (0x0C).
    pub const MESSAGE_TYPE: Self = Self(0x8C);
    /// `X-Mms-MMS-Version` (0x0D).
    pub const MMS_VERSION: Self = Self(0x8D);
    /// `X-Mms-Response-Status` (0x12).
    pub const RESPONSE_STATUS: Self = Self(0x92);
    /// `X-Mms-Response-Text` (0x13).
    pub const RESPONSE_TEXT: Self = Self(0x93);
    /// `To` (0x17).
    pub const TO: Self = Self(0x97);
    /// `X-Mms-Transaction-ID` (0x18).
    pub const TRANSACTION_ID: Self = Self(0x98);
}

/// `X-Mms-Message-Type` value (OMA-TS-MMS_ENC-V1_3 §7.3.30).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MessageType(pub u8);

impl MessageType {
    /// `m-send-req` (128).
    pub const SEND_REQ: Self = Self(0x80);
    /// `m-send-conf` (129).
    pub const SEND_CONF: Self = Self(0x81);
    /// `m-notification-ind` (130).
    pub const NOTIFICATION_IND: Self = Self(0x82);
    /// `m-notifyresp-ind` (131).
    pub const NOTIFYRESP_IND: Self = Self(0x83);
    /// `m-retrieve-conf` (132).
    pub const RETRIEVE_CONF: Self = Self(0x84);
    /// `m-acknowledge-ind` (133).
    pub const ACKNOWLEDGE_IND: Self = Self(0x85);
    /// `m-delivery-ind` (134).
    pub const DELIVERY_IND: Self = Self(0x86);
}

/// `X-Mms-MMS-Version` value: a short integer, major version in bits 6..4, minor in
/// bits 3..0 (OMA-TS-MMS_ENC-V1_3 §7.3.34), e.g. `0x90` = 1.0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MmsVersion(pub u8);

impl MmsVersion {
    /// 1.0.
    pub const V1_0: Self = Self(0x90);
    /// 1.1.
    pub const V1_1: Self = Self(0x91);
    /// 1.2.
    pub const V1_2: Self = Self(0x92);
    /// 1.3, the version this stub implements.
    pub const V1_3: Self = Self(0x93);

    /// Major version number.
    pub fn major(self) -> u8 {
        (self.0 >> 4) & 0x07
    }

    /// Minor version number.
    pub fn minor(self) -> u8 {
        self.0 & 0x0F
    }
}

/// `X-Mms-Response-Status` value (OMA-TS-MMS_ENC-V1_3 §7.3.48). The 0x81..=0x88 codes
/// are MMS 1.0's; 1.1 and later use the transient (0xC0..) and permanent (0xE0..) ranges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ResponseStatus(pub u8);

impl ResponseStatus {
    /// Ok (128).
    pub const OK: Self = Self(0x80);
    /// Error-unspecified (129, MMS 1.0).
    pub const ERROR_UNSPECIFIED: Self = Self(0x81);
    /// Error-service-denied (130, MMS 1.0).
    pub const ERROR_SERVICE_DENIED: Self = Self(0x82);
    /// Error-message-format-corrupt (131, MMS 1.0).
    pub const ERROR_MESSAGE_FORMAT_CORRUPT: Self = Self(0x83);
    /// Error-sending-address-unresolved (132, MMS 1.0).
    pub const ERROR_SENDING_ADDRESS_UNRESOLVED: Self = Self(0x84);
    /// Error-unsupported-message (136, MMS 1.0).
    pub const ERROR_UNSUPPORTED_MESSAGE: Self = Self(0x88);
    /// Error-transient-failure (192).
    pub const ERROR_TRANSIENT_FAILURE: Self = Self(0xC0);
    /// Error-permanent-failure (224).
    pub const ERROR_PERMANENT_FAILURE: Self = Self(0xE0);
    /// Error-permanent-service-denied (225).
    pub const ERROR_PERMANENT_SERVICE_DENIED: Self = Self(0xE1);
    /// Error-permanent-message-format-corrupt (226).
    pub const ERROR_PERMANENT_MESSAGE_FORMAT_CORRUPT: Self = Self(0xE2);
    /// Error-permanent-sending-address-unresolved (227).
    pub const ERROR_PERMANENT_SENDING_ADDRESS_UNRESOLVED: Self = Self(0xE3);

    /// Whether this is `Ok`.
    pub fn is_ok(self) -> bool {
        self == Self::OK
    }
}

/// Why an MMS PDU does not decode as the expected message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MmsDecodeError {
    /// The PDU ends inside a header.
    #[error("PDU truncated")]
    Truncated,
    /// A header value is not a valid encoding (e.g. a uintvar longer than 5 octets).
    #[error("bad value for header {0:#04x}")]
    BadValue(u8),
    /// The first header is not `X-Mms-Message-Type` (§6: it must come first).
    #[error("not an MMS PDU (X-Mms-Message-Type must come first)")]
    NotMms,
    /// Another message type than the one expected.
    #[error("unexpected message type {:#04x}", .0.0)]
    UnexpectedMessageType(MessageType),
    /// A mandatory header is missing.
    #[error("mandatory header {:#04x} missing", .0.0)]
    MissingHeader(HeaderField),
    /// No `To`, `Cc` or `Bcc` (§6.1.1: at least one recipient).
    #[error("no recipient")]
    NoRecipient,
    /// An MMS major version this stub does not speak (only 1.x).
    #[error("unsupported MMS version {:#04x}", .0.0)]
    UnsupportedVersion(MmsVersion),
}

/// `Value-length` (WAP-230-WSP §8.4.2.2): short length 0..=30, or 31 + uintvar. Returns
/// (length, octets consumed).
fn value_length(b: &[u8], field: u8) -> Result<(usize, usize), MmsDecodeError> {
    match *b.first().ok_or(MmsDecodeError::Truncated)? {
        n @ 0..=30 => Ok((usize::from(n), 1)),
        31 => {
            let (len, used) = uintvar(b.get(1..).unwrap_or_default(), field)?;
            Ok((len, used + 1))
        }
        _ => Err(MmsDecodeError::BadValue(field)),
    }
}

/// `uintvar` (WAP-230-WSP §8.1.2): at most 5 octets, 7 bits each, high bit = more.
fn uintvar(b: &[u8], field: u8) -> Result<(usize, usize), MmsDecodeError> {
    let mut v: u64 = 0;
    for (i, &o) in b.iter().take(5).enumerate() {
        v = (v << 7) | u64::from(o & 0x7F);
        if o & 0x80 == 0 {
            return usize::try_from(v)
                .map(|v| (v, i + 1))
                .map_err(|_| MmsDecodeError::BadValue(field));
        }
    }
    if b.len() < 5 {
        Err(MmsDecodeError::Truncated)
    } else {
        Err(MmsDecodeError::BadValue(field))
    }
}

/// Octets taken by a header value, whatever the field, from its first octet (WAP-230-WSP
/// §8.4.1.2, used by OMA-TS-MMS_ENC §7.2): 0..=30 short length + data, 31 length-quote +
/// uintvar + data, 32..=127 a NUL-terminated text string, 128..=255 a short integer.
fn value_len(b: &[u8], field: u8) -> Result<usize, MmsDecodeError> {
    match *b.first().ok_or(MmsDecodeError::Truncated)? {
        0..=31 => {
            let (len, used) = value_length(b, field)?;
            let total = used.checked_add(len).ok_or(MmsDecodeError::Truncated)?;
            if total > b.len() {
                return Err(MmsDecodeError::Truncated);
            }
            Ok(total)
        }
        32..=127 => b
            .iter()
            .position(|&o| o == 0)
            .map(|p| p + 1)
            .ok_or(MmsDecodeError::Truncated),
        _ => Ok(1),
    }
}

/// A `Text-string` value (WAP-230-WSP §8.4.2.1): optional Quote (127), text, NUL. `value`
/// is exactly the octets [`value_len`] measured. Returns the text without quote and NUL.
fn text_string(value: &[u8], field: u8) -> Result<&[u8], MmsDecodeError> {
    let text = match value.split_last() {
        Some((0, text)) => text,
        _ => return Err(MmsDecodeError::BadValue(field)),
    };
    Ok(text.strip_prefix(&[0x7F]).unwrap_or(text))
}

/// One header of an MMS PDU.
enum Header<'a> {
    /// A binary-coded field and its whole value.
    Field(HeaderField, &'a [u8]),
    /// An application header (`Token-text` name, §7.4): skipped.
    Application,
}

/// Cuts the next header off `b`; `None` at the end.
fn next_header<'a>(b: &mut &'a [u8]) -> Result<Option<Header<'a>>, MmsDecodeError> {
    let Some(&first) = b.first() else {
        return Ok(None);
    };
    let rest = b.get(1..).unwrap_or_default();
    if first >= 0x80 {
        let n = value_len(rest, first)?;
        let value = rest.get(..n).ok_or(MmsDecodeError::Truncated)?;
        *b = rest.get(n..).unwrap_or_default();
        return Ok(Some(Header::Field(HeaderField(first), value)));
    }
    // Application-header = Token-text Application-specific-value (both NUL-terminated).
    if first < 0x20 {
        return Err(MmsDecodeError::BadValue(first));
    }
    let name = value_len(b, first)?;
    let after = b.get(name..).unwrap_or_default();
    let value = value_len(after, first)?;
    *b = after.get(value..).unwrap_or_default();
    Ok(Some(Header::Application))
}

/// What a scan of an MMS PDU's headers found, including what was recovered before an
/// error (so that an error `m-send-conf` can still echo the transaction id).
#[derive(Debug, Default)]
struct Scan<'a> {
    message_type: Option<MessageType>,
    transaction_id: Option<&'a [u8]>,
    version: Option<MmsVersion>,
    from: bool,
    recipients: usize,
    content_type: Option<&'a [u8]>,
    body: &'a [u8],
    message_id: Option<&'a [u8]>,
    response_status: Option<ResponseStatus>,
}

fn scan(pdu: &[u8]) -> (Scan<'_>, Result<(), MmsDecodeError>) {
    let mut s = Scan::default();
    let mut b = pdu;
    let r = (|| {
        if b.first() != Some(&HeaderField::MESSAGE_TYPE.0) {
            return Err(MmsDecodeError::NotMms);
        }
        while let Some(h) = next_header(&mut b)? {
            let Header::Field(field, value) = h else {
                continue;
            };
            let short = || match value {
                [v] if *v >= 0x80 => Ok(*v),
                _ => Err(MmsDecodeError::BadValue(field.0)),
            };
            match field {
                HeaderField::MESSAGE_TYPE => s.message_type = Some(MessageType(short()?)),
                HeaderField::TRANSACTION_ID => {
                    s.transaction_id = Some(text_string(value, field.0)?);
                }
                HeaderField::MMS_VERSION => s.version = Some(MmsVersion(short()?)),
                HeaderField::FROM => s.from = true,
                HeaderField::TO | HeaderField::CC | HeaderField::BCC => s.recipients += 1,
                HeaderField::MESSAGE_ID => s.message_id = Some(text_string(value, field.0)?),
                HeaderField::RESPONSE_STATUS => {
                    s.response_status = Some(ResponseStatus(short()?));
                }
                HeaderField::CONTENT_TYPE => {
                    // The last header: everything after its value is the body (§7.3.11).
                    s.content_type = Some(value);
                    s.body = b;
                    break;
                }
                _ => {}
            }
        }
        Ok(())
    })();
    (s, r)
}

/// An `m-send-req` as far as the MMSC stub reads it (OMA-TS-MMS_ENC-V1_3 §6.1.1,
/// Table 1). Headers other than the ones below are skipped by their generic encoding;
/// `From` is not required (the stub, like an MMSC inserting the sender, does not need it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendReq<'a> {
    /// `X-Mms-Transaction-ID` text (without Quote and NUL).
    pub transaction_id: &'a [u8],
    /// `X-Mms-MMS-Version`.
    pub version: MmsVersion,
    /// Number of `To`, `Cc` and `Bcc` headers (at least one).
    pub recipients: usize,
    /// Whether a `From` header is present.
    pub from: bool,
    /// The encoded `Content-Type` value (§7.3.11).
    pub content_type: &'a [u8],
    /// The message body after the headers (WSP multipart or a single part).
    pub body: &'a [u8],
}

impl<'a> SendReq<'a> {
    /// Parses an `m-send-req`.
    pub fn parse(pdu: &'a [u8]) -> Result<Self, MmsDecodeError> {
        let (s, r) = scan(pdu);
        r?;
        Self::from_scan(&s)
    }

    fn from_scan(s: &Scan<'a>) -> Result<Self, MmsDecodeError> {
        let message_type = s
            .message_type
            .ok_or(MmsDecodeError::MissingHeader(HeaderField::MESSAGE_TYPE))?;
        if message_type != MessageType::SEND_REQ {
            return Err(MmsDecodeError::UnexpectedMessageType(message_type));
        }
        let transaction_id = s
            .transaction_id
            .ok_or(MmsDecodeError::MissingHeader(HeaderField::TRANSACTION_ID))?;
        let version = s
            .version
            .ok_or(MmsDecodeError::MissingHeader(HeaderField::MMS_VERSION))?;
        if version.major() != 1 {
            return Err(MmsDecodeError::UnsupportedVersion(version));
        }
        if s.recipients == 0 {
            return Err(MmsDecodeError::NoRecipient);
        }
        let content_type = s
            .content_type
            .ok_or(MmsDecodeError::MissingHeader(HeaderField::CONTENT_TYPE))?;
        Ok(SendReq {
            transaction_id,
            version,
            recipients: s.recipients,
            from: s.from,
            content_type,
            body: s.body,
        })
    }
}

/// An `m-send-conf` (OMA-TS-MMS_ENC-V1_3 §6.1.2, Table 2): message type, transaction id,
/// version, response status and (optional) message id, emitted in that order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendConf<'a> {
    /// `X-Mms-Transaction-ID`, the same as the request's.
    pub transaction_id: &'a [u8],
    /// `X-Mms-MMS-Version`.
    pub version: MmsVersion,
    /// `X-Mms-Response-Status`.
    pub status: ResponseStatus,
    /// `Message-ID`, present when the message was accepted.
    pub message_id: Option<&'a [u8]>,
}

/// Whether `t` is `*TEXT`: no control octets (WAP-230-WSP §8.4.2.1, RFC 2616 §2.2).
fn is_text(t: &[u8]) -> bool {
    t.iter().all(|&o| o >= 0x20 && o != 0x7F)
}

fn text_len(t: &[u8]) -> usize {
    t.len() + 1 + usize::from(t.first().is_some_and(|&c| c >= 0x80))
}

fn emit_text(out: &mut [u8], at: &mut usize, t: &[u8]) -> Result<(), MmsEncodeError> {
    if !is_text(t) {
        return Err(MmsEncodeError::CtlInText);
    }
    let mut put = |o: u8| -> Result<(), MmsEncodeError> {
        *out.get_mut(*at).ok_or(MmsEncodeError::BufferTooSmall)? = o;
        *at += 1;
        Ok(())
    };
    if t.first().is_some_and(|&c| c >= 0x80) {
        put(0x7F)?;
    }
    for &o in t {
        put(o)?;
    }
    put(0)
}

/// Why an MMS PDU cannot be emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MmsEncodeError {
    /// The output buffer is too small.
    #[error("buffer too small")]
    BufferTooSmall,
    /// A text value contains a control octet (0x00..=0x1F or 0x7F), which `TEXT`
    /// excludes (WAP-230-WSP §8.4.2.1; a leading one would read as a length).
    #[error("control octet in a text value")]
    CtlInText,
    /// A short-integer value below 0x80.
    #[error("value below 0x80 for a short integer")]
    BadShortInteger,
}

impl<'a> SendConf<'a> {
    /// Parses an `m-send-conf` (message type, transaction id, version and status
    /// mandatory; other headers skipped).
    pub fn parse(pdu: &'a [u8]) -> Result<Self, MmsDecodeError> {
        let (s, r) = scan(pdu);
        r?;
        let message_type = s
            .message_type
            .ok_or(MmsDecodeError::MissingHeader(HeaderField::MESSAGE_TYPE))?;
        if message_type != MessageType::SEND_CONF {
            return Err(MmsDecodeError::UnexpectedMessageType(message_type));
        }
        Ok(SendConf {
            transaction_id: s
                .transaction_id
                .ok_or(MmsDecodeError::MissingHeader(HeaderField::TRANSACTION_ID))?,
            version: s
                .version
                .ok_or(MmsDecodeError::MissingHeader(HeaderField::MMS_VERSION))?,
            status: s
                .response_status
                .ok_or(MmsDecodeError::MissingHeader(HeaderField::RESPONSE_STATUS))?,
            message_id: s.message_id,
        })
    }

    /// Encoded length.
    pub fn buffer_len(&self) -> usize {
        2 + 1
            + text_len(self.transaction_id)
            + 2
            + 2
            + self.message_id.map_or(0, |m| 1 + text_len(m))
    }

    /// Writes the PDU into `out`; returns the number of octets written.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize, MmsEncodeError> {
        if self.version.0 < 0x80 || self.status.0 < 0x80 {
            return Err(MmsEncodeError::BadShortInteger);
        }
        let mut at = 0;
        let put = |out: &mut [u8], at: &mut usize, bytes: &[u8]| {
            let end = *at + bytes.len();
            out.get_mut(*at..end)
                .ok_or(MmsEncodeError::BufferTooSmall)?
                .copy_from_slice(bytes);
            *at = end;
            Ok::<_, MmsEncodeError>(())
        };
        put(
            out,
            &mut at,
            &[HeaderField::MESSAGE_TYPE.0, MessageType::SEND_CONF.0],
        )?;
        put(out, &mut at, &[HeaderField::TRANSACTION_ID.0])?;
        emit_text(out, &mut at, self.transaction_id)?;
        put(out, &mut at, &[HeaderField::MMS_VERSION.0, self.version.0])?;
        put(
            out,
            &mut at,
            &[HeaderField::RESPONSE_STATUS.0, self.status.0],
        )?;
        if let Some(m) = self.message_id {
            put(out, &mut at, &[HeaderField::MESSAGE_ID.0])?;
            emit_text(out, &mut at, m)?;
        }
        Ok(at)
    }

    /// [`emit`](Self::emit) into a fresh vector.
    pub fn to_vec(&self) -> Result<Vec<u8>, MmsEncodeError> {
        let mut v = vec![0; self.buffer_len()];
        let n = self.emit(&mut v)?;
        v.truncate(n);
        Ok(v)
    }
}

/// The MMSC's decision on a POSTed PDU, as a pure function (no I/O): `Ok(conf)` is the
/// `m-send-conf` to answer with HTTP 200 (status Ok with `message_id`, or an error status);
/// `None` means the body is not an MMS PDU at all (answer HTTP 400).
///
/// Error statuses follow the request's version: MMS 1.0 requests get the 1.0 codes
/// (Error-message-format-corrupt 0x83, Error-unsupported-message 0x88), 1.1 and later
/// the permanent codes (0xE2, 0xE0) of OMA-TS-MMS_ENC-V1_3 §7.3.48. The answer's version
/// is the request's (minor capped at 1.3), or 1.0 when it could not be read.
pub fn answer<'a>(pdu: &'a [u8], message_id: &'a [u8]) -> Option<SendConf<'a>> {
    let (s, r) = scan(pdu);
    if r == Err(MmsDecodeError::NotMms) {
        return None;
    }
    let version = match s.version {
        Some(v) if v.major() == 1 => MmsVersion(v.0.min(MmsVersion::V1_3.0)),
        _ => MmsVersion::V1_0,
    };
    let transaction_id = s.transaction_id.filter(|t| is_text(t)).unwrap_or_default();
    let legacy = version == MmsVersion::V1_0;
    let outcome = r.and_then(|()| SendReq::from_scan(&s));
    let status = match outcome {
        Ok(_) => ResponseStatus::OK,
        Err(MmsDecodeError::UnexpectedMessageType(_) | MmsDecodeError::UnsupportedVersion(_)) => {
            if legacy {
                ResponseStatus::ERROR_UNSUPPORTED_MESSAGE
            } else {
                ResponseStatus::ERROR_PERMANENT_FAILURE
            }
        }
        Err(_) => {
            if legacy {
                ResponseStatus::ERROR_MESSAGE_FORMAT_CORRUPT
            } else {
                ResponseStatus::ERROR_PERMANENT_MESSAGE_FORMAT_CORRUPT
            }
        }
    };
    Some(SendConf {
        transaction_id,
        version,
        status,
        message_id: status.is_ok().then_some(message_id),
    })
}

// ---------------------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------------------

/// Counters of the MMSC, shared between the server and whoever holds a clone.
#[derive(Debug, Clone, Default)]
pub struct MmscStats(Arc<Counters>);

#[derive(Debug, Default)]
struct Counters {
    accepted: AtomicU64,
    rejected: AtomicU64,
    next_message_id: AtomicU64,
}

impl MmscStats {
    /// `m-send-req`s answered with status Ok.
    pub fn accepted(&self) -> u64 {
        self.0.accepted.load(Ordering::SeqCst)
    }

    /// POSTs answered with an error `m-send-conf` or HTTP 400/413/415.
    pub fn rejected(&self) -> u64 {
        self.0.rejected.load(Ordering::SeqCst)
    }

    fn json(&self) -> String {
        format!(
            "{{\"accepted\":{},\"rejected\":{}}}",
            self.accepted(),
            self.rejected()
        )
    }
}

/// MMSC configuration.
#[derive(Debug, Clone)]
pub struct MmscConfig {
    /// Path of the MMS endpoint (`/mms`); statistics are at `{path}/stats`.
    pub path: String,
    /// Largest accepted request body, octets.
    pub max_body: usize,
    /// Time allowed to read a request's headers.
    pub io_timeout: Duration,
    /// The counters (clone it before handing the configuration to [`run`]).
    pub stats: MmscStats,
}

impl Default for MmscConfig {
    /// Path `/mms`, 300 KiB bodies (the common MMS size class), 10 s timeout.
    fn default() -> Self {
        Self {
            path: "/mms".into(),
            max_body: 300 * 1024,
            io_timeout: Duration::from_secs(10),
            stats: MmscStats::default(),
        }
    }
}

fn response(
    status: StatusCode,
    content_type: &'static str,
    body: Vec<u8>,
) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    resp
}

fn is_mms_content_type(req: &Request<Incoming>) -> bool {
    req.headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(MMS_CONTENT_TYPE))
}

async fn post(config: &MmscConfig, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let stats = &config.stats.0;
    let refuse = |status: StatusCode, why: &str| {
        stats.rejected.fetch_add(1, Ordering::SeqCst);
        tracing::info!(%status, why, "MMSC refused a POST");
        response(status, "text/plain", why.as_bytes().to_vec())
    };
    if !is_mms_content_type(&req) {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/vnd.wap.mms-message",
        );
    }
    let body = match Limited::new(req.into_body(), config.max_body)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return if e.is::<http_body_util::LengthLimitError>() {
                refuse(StatusCode::PAYLOAD_TOO_LARGE, "body too large")
            } else {
                refuse(StatusCode::BAD_REQUEST, "body unreadable")
            };
        }
    };
    let Some(mut conf) = answer(&body, b"") else {
        return refuse(StatusCode::BAD_REQUEST, "not an MMS PDU");
    };
    let message_id = if conf.status.is_ok() {
        format!(
            "imtc-mms-{}",
            stats.next_message_id.fetch_add(1, Ordering::SeqCst) + 1
        )
    } else {
        String::new()
    };
    if conf.status.is_ok() {
        conf.message_id = Some(message_id.as_bytes());
    }
    let pdu = match conf.to_vec() {
        Ok(pdu) => pdu,
        Err(_) => return refuse(StatusCode::BAD_REQUEST, "transaction id not encodable"),
    };
    if conf.status.is_ok() {
        stats.accepted.fetch_add(1, Ordering::SeqCst);
        tracing::info!(
            transaction_id = %String::from_utf8_lossy(conf.transaction_id),
            %message_id,
            "MMSC accepted m-send-req"
        );
    } else {
        stats.rejected.fetch_add(1, Ordering::SeqCst);
        tracing::info!(status = conf.status.0, "MMSC answered an error m-send-conf");
    }
    response(StatusCode::OK, MMS_CONTENT_TYPE, pdu)
}

async fn route(config: Arc<MmscConfig>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path();
    let is_mms = path == config.path;
    let is_stats = path
        .strip_prefix(config.path.as_str())
        .is_some_and(|p| p == "/stats");
    match (req.method(), is_mms, is_stats) {
        (&Method::POST, true, _) => post(&config, req).await,
        (&Method::GET, _, true) => response(
            StatusCode::OK,
            "application/json",
            config.stats.json().into_bytes(),
        ),
        (_, true, _) | (_, _, true) => response(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            b"method not allowed".to_vec(),
        ),
        _ => response(
            StatusCode::NOT_FOUND,
            "text/plain",
            b"no such resource".to_vec(),
        ),
    }
}

async fn serve_connection(
    config: Arc<MmscConfig>,
    tcp: tokio::net::TcpStream,
    peer: std::net::SocketAddr,
    mut shutdown: watch::Receiver<bool>,
) {
    let timeout = config.io_timeout;
    let service = hyper::service::service_fn(move |req| {
        let config = config.clone();
        async move { Ok::<_, std::convert::Infallible>(route(config, req).await) }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(timeout);
    let conn = builder.serve_connection(TokioIo::new(tcp), service);
    tokio::pin!(conn);
    tokio::select! {
        res = conn.as_mut() => {
            if let Err(e) = res {
                tracing::debug!(%peer, error = %e, "MMSC connection ended with error");
            }
        }
        _ = async { let _ = shutdown.wait_for(|s| *s).await; } => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(timeout, conn).await;
        }
    }
}

/// Serves the MMSC on an already bound `listener` until `shutdown` resolves; then stops
/// accepting, lets open connections finish their current request (bounded by
/// `io_timeout`) and returns.
pub async fn run(listener: TcpListener, config: MmscConfig, shutdown: impl Future<Output = ()>) {
    let config = Arc::new(config);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    connections.spawn(serve_connection(config.clone(), tcp, peer, stop_rx.clone()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "MMSC accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    while connections.join_next().await.is_some() {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// m-send-req as handset-sim's `m_send_req("T1", "+447700900999", "hello")` builds it
    /// (OMA-TS-MMS_ENC-V1_3 §6.1.1): 8C 80 | 98 "T1" 00 | 8D 90 | 97 "+447700900999/TYPE=PLMN" 00
    /// | 84 83 (text/plain, WSP well-known 0x03) | "hello".
    const SEND_REQ_HANDSET: &[u8] =
        b"\x8C\x80\x98T1\x00\x8D\x90\x97+447700900999/TYPE=PLMN\x00\x84\x83hello";

    /// A fuller 1.2 m-send-req (§6.1.1, Table 1): From with Insert-address-token
    /// (`89 01 81`, §7.3.21), Date as Long-integer (`85 04 ...`, §7.3.12), Subject, an
    /// application header `X-Test: 1`, Cc, then Content-Type in general form
    /// (`84 1F 01 83`: value-length 31+uintvar 1, text/plain) and the body.
    const SEND_REQ_FULL: &[u8] =
        b"\x8C\x80\x98tx-42\x00\x8D\x92\x89\x01\x81\x85\x04\x69\x00\x00\x00\
\x96Hi\x00X-Test\x001\x00\x82a@b.example\x00\x84\x1F\x01\x83body";

    /// The m-send-conf the stub answers to [`SEND_REQ_HANDSET`] (§6.1.2): 8C 81 | 98 "T1" 00 |
    /// 8D 90 | 92 80 (Ok) | 8B "imtc-mms-1" 00.
    const SEND_CONF_OK: &[u8] = b"\x8C\x81\x98T1\x00\x8D\x90\x92\x80\x8Bimtc-mms-1\x00";

    #[test]
    fn parses_the_handsets_send_req() {
        let r = SendReq::parse(SEND_REQ_HANDSET).unwrap();
        assert_eq!(r.transaction_id, b"T1");
        assert_eq!(r.version, MmsVersion::V1_0);
        assert_eq!(r.recipients, 1);
        assert!(!r.from);
        assert_eq!(r.content_type, &[0x83]);
        assert_eq!(r.body, b"hello");
    }

    #[test]
    fn parses_a_fuller_send_req() {
        let r = SendReq::parse(SEND_REQ_FULL).unwrap();
        assert_eq!(r.transaction_id, b"tx-42");
        assert_eq!((r.version.major(), r.version.minor()), (1, 2));
        assert!(r.from);
        assert_eq!(r.recipients, 1);
        assert_eq!(r.content_type, &[0x1F, 0x01, 0x83]);
        assert_eq!(r.body, b"body");
    }

    #[test]
    fn answers_ok_with_the_transaction_id() {
        let conf = answer(SEND_REQ_HANDSET, b"imtc-mms-1").unwrap();
        assert_eq!(conf.to_vec().unwrap(), SEND_CONF_OK);
        assert_eq!(SendConf::parse(SEND_CONF_OK).unwrap(), conf);
        let conf = answer(SEND_REQ_FULL, b"m").unwrap();
        assert_eq!(conf.version, MmsVersion::V1_2);
        assert!(conf.status.is_ok());
    }

    #[test]
    fn error_statuses() {
        // No recipient, 1.0: Error-message-format-corrupt (0x83), no Message-ID.
        let conf = answer(b"\x8C\x80\x98T9\x00\x8D\x90\x84\x83x", b"m").unwrap();
        assert_eq!(
            conf.to_vec().unwrap(),
            b"\x8C\x81\x98T9\x00\x8D\x90\x92\x83".to_vec()
        );
        // Same in 1.3: Error-permanent-message-format-corrupt (0xE2).
        let conf = answer(b"\x8C\x80\x98T9\x00\x8D\x93\x84\x83x", b"m").unwrap();
        assert_eq!(
            conf.status,
            ResponseStatus::ERROR_PERMANENT_MESSAGE_FORMAT_CORRUPT
        );
        // An m-notifyresp-ind (0x83) is not an m-send-req: unsupported message.
        let conf = answer(b"\x8C\x83\x98T9\x00\x8D\x90\x95\x81", b"m").unwrap();
        assert_eq!(conf.status, ResponseStatus::ERROR_UNSUPPORTED_MESSAGE);
        // Truncated transaction id: no NUL. Format corrupt, empty transaction id.
        let conf = answer(b"\x8C\x80\x98T9", b"m").unwrap();
        assert_eq!((conf.transaction_id, conf.status.0), (&b""[..], 0x83));
        // Version 2.0 (0xA0): unsupported, answered in 1.0.
        let conf = answer(b"\x8C\x80\x98T\x00\x8D\xA0\x97a\x00\x84\x83", b"m").unwrap();
        assert_eq!(conf.status, ResponseStatus::ERROR_UNSUPPORTED_MESSAGE);
        // Not MMS at all.
        assert!(answer(b"GET / HTTP/1.1", b"m").is_none());
        assert!(answer(b"", b"m").is_none());
    }

    #[test]
    fn uintvar_limits() {
        assert_eq!(uintvar(&[0x81, 0x00], 0), Ok((128, 2)));
        assert_eq!(uintvar(&[0x81], 0), Err(MmsDecodeError::Truncated));
        assert_eq!(
            uintvar(&[0x81, 0x81, 0x81, 0x81, 0x81, 0x01], 0),
            Err(MmsDecodeError::BadValue(0))
        );
    }

    #[test]
    fn quoted_text_round_trips() {
        let conf = SendConf {
            transaction_id: b"\xC3\xA9t",
            version: MmsVersion::V1_3,
            status: ResponseStatus::OK,
            message_id: Some(b"id"),
        };
        let v = conf.to_vec().unwrap();
        assert_eq!(&v[2..7], b"\x98\x7F\xC3\xA9t");
        assert_eq!(SendConf::parse(&v).unwrap(), conf);
        assert_eq!(v.len(), conf.buffer_len());
        let mut small = [0u8; 4];
        assert_eq!(conf.emit(&mut small), Err(MmsEncodeError::BufferTooSmall));
    }

    fn text_octet() -> impl Strategy<Value = u8> {
        (0x20u8..).prop_filter("DEL is a control octet", |o| *o != 0x7F)
    }

    #[test]
    fn control_octets_are_not_text() {
        let conf = SendConf {
            transaction_id: b"\x01a",
            version: MmsVersion::V1_0,
            status: ResponseStatus::OK,
            message_id: None,
        };
        assert_eq!(conf.to_vec(), Err(MmsEncodeError::CtlInText));
    }

    proptest! {
        #[test]
        fn send_conf_round_trips(
            tid in proptest::collection::vec(text_octet(), 0..40),
            mid in proptest::option::of(proptest::collection::vec(text_octet(), 0..40)),
            version in 0x80u8..,
            status in 0x80u8..,
        ) {
            let conf = SendConf {
                transaction_id: &tid,
                version: MmsVersion(version),
                status: ResponseStatus(status),
                message_id: mid.as_deref(),
            };
            let v = conf.to_vec().unwrap();
            prop_assert_eq!(v.len(), conf.buffer_len());
            prop_assert_eq!(SendConf::parse(&v).unwrap(), conf);
        }

        #[test]
        fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = SendReq::parse(&b);
            let _ = SendConf::parse(&b);
            if let Some(conf) = answer(&b, b"m") {
                let _ = conf.to_vec();
            }
        }

        #[test]
        fn prefixed_random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut pdu = vec![0x8C, 0x80];
            pdu.extend_from_slice(&b);
            let _ = SendReq::parse(&pdu);
            if let Some(conf) = answer(&pdu, b"m") {
                prop_assert!(conf.to_vec().is_ok());
            }
        }
    }
}
