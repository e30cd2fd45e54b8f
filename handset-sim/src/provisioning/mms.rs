//! A minimal MMS application: it posts an `m-send-req` (OMA-TS-MMS_ENC-V1_3 §6.1.1) to the
//! MMSC URL of an APN in the [`ApnStore`] over HTTP/1.1 (one POST, `Connection: close`).
//!
//! Routing model: on loopback an APN cannot change the route a TCP connection takes, so
//! "routes to the manufacturer's MMSC" means: the app only talks to an MMSC URL that an APN
//! in the store carries, and — when the handset profile names the manufacturer's MMSC
//! host — only to that host. With no such APN the app is [`MmsStatus::Disabled`] and
//! refuses to send. When the APN has a proxy (PXADDR + PORTNBR) the request goes to the
//! proxy with the absolute URI, as a WAP 2.0 HTTP proxy expects.
//!
//! The manufacturer stub's MMSC (`provisioning_stub::manufacturer::mmsc`, started by
//! `manufacturer-sim serve --mmsc-listen`) answers it; the world end-to-end test uses it.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use super::apn::{ApnEntry, ApnStore};

/// MIME type of an MMS PDU (OMA-TS-MMS_ENC §7).
pub const MMS_CONTENT_TYPE: &str = "application/vnd.wap.mms-message";

/// Whether the app can send, and through which APN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MmsStatus {
    /// No APN routes to an (acceptable) MMSC.
    Disabled,
    /// Sending uses this APN's MMSC.
    Enabled {
        /// The APN.
        apn: String,
        /// The MMSC URL.
        mmsc: String,
    },
}

/// Why sending failed.
#[derive(Debug, thiserror::Error)]
pub enum MmsError {
    /// [`MmsStatus::Disabled`].
    #[error("MMS disabled: no APN routes to the manufacturer's MMSC")]
    Disabled,
    /// The MMSC URL is not `http://host[:port][/path]`.
    #[error("unsupported MMSC URL {0}")]
    BadUrl(String),
    /// Connecting, writing or reading failed.
    #[error("MMSC I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The answer is not an HTTP/1.x response.
    #[error("malformed HTTP response")]
    BadResponse,
}

/// The MMSC's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MmsResponse {
    /// HTTP status code.
    pub status: u16,
    /// Response body (an `m-send-conf` from a real MMSC).
    pub body: Vec<u8>,
}

impl MmsResponse {
    /// `X-Mms-Response-Status` of an `m-send-conf` body (`0x80` = Ok), if present
    /// (OMA-TS-MMS_ENC §7.3.48; header field `0x92`).
    pub fn response_status(&self) -> Option<u8> {
        if self.body.get(..2) != Some(&[0x8C, 0x81][..]) {
            return None;
        }
        self.body
            .windows(2)
            .find(|w| w.first() == Some(&0x92))
            .and_then(|w| w.get(1).copied())
    }
}

/// The MMS application.
#[derive(Debug, Clone, Default)]
pub struct MmsApp {
    /// Host (`name` or `name:port`) of the manufacturer's MMSC from the handset profile;
    /// `None` accepts any MMSC an APN carries.
    pub manufacturer_mmsc_host: Option<String>,
    /// I/O timeout.
    pub timeout: Option<Duration>,
}

struct Url<'a> {
    host: &'a str,
    port: u16,
    authority: &'a str,
    path: &'a str,
}

fn parse_url(url: &str) -> Option<Url<'_>> {
    let rest = url.strip_prefix("http://")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (rest.get(..i)?, rest.get(i..)?),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().ok()?),
        None => (authority, 80),
    };
    (!host.is_empty()).then_some(Url {
        host,
        port,
        authority,
        path,
    })
}

impl MmsApp {
    /// An app restricted to the manufacturer's MMSC host (`name` or `name:port`).
    pub fn for_manufacturer(host: impl Into<String>) -> Self {
        MmsApp {
            manufacturer_mmsc_host: Some(host.into()),
            timeout: Some(Duration::from_secs(10)),
        }
    }

    fn acceptable(&self, e: &ApnEntry) -> bool {
        let Some(url) = e.settings.mmsc.as_deref().and_then(parse_url) else {
            return false;
        };
        match &self.manufacturer_mmsc_host {
            None => true,
            Some(h) => url.authority.eq_ignore_ascii_case(h) || url.host.eq_ignore_ascii_case(h),
        }
    }

    fn route<'s>(&self, store: &'s ApnStore) -> Option<&'s ApnEntry> {
        store.mms_routes().find(|e| self.acceptable(e))
    }

    /// Enabled iff an APN in `store` routes to an acceptable MMSC.
    pub fn status(&self, store: &ApnStore) -> MmsStatus {
        match self.route(store) {
            None => MmsStatus::Disabled,
            Some(e) => MmsStatus::Enabled {
                apn: e.settings.apn.clone(),
                mmsc: e.settings.mmsc.clone().unwrap_or_default(),
            },
        }
    }

    /// Posts `pdu` (an encoded MMS PDU, e.g. [`m_send_req`]) to the routed MMSC.
    pub fn send(&self, store: &ApnStore, pdu: &[u8]) -> Result<MmsResponse, MmsError> {
        let entry = self.route(store).ok_or(MmsError::Disabled)?;
        let mmsc = entry.settings.mmsc.as_deref().unwrap_or_default();
        let url = parse_url(mmsc).ok_or_else(|| MmsError::BadUrl(mmsc.to_owned()))?;
        let (connect, target) = match (&entry.settings.proxy, entry.settings.proxy_port) {
            (Some(p), port) => ((p.as_str(), port.unwrap_or(8080)), mmsc),
            (None, _) => ((url.host, url.port), url.path),
        };
        let addr = connect
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| MmsError::BadUrl(mmsc.to_owned()))?;
        let mut s = match self.timeout {
            Some(t) => TcpStream::connect_timeout(&addr, t)?,
            None => TcpStream::connect(addr)?,
        };
        s.set_read_timeout(self.timeout)?;
        s.set_write_timeout(self.timeout)?;
        let head = format!(
            "POST {target} HTTP/1.1\r\nHost: {}\r\nContent-Type: {MMS_CONTENT_TYPE}\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            url.authority,
            pdu.len()
        );
        s.write_all(head.as_bytes())?;
        s.write_all(pdu)?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw)?;
        parse_response(&raw)
    }
}

fn parse_response(raw: &[u8]) -> Result<MmsResponse, MmsError> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or(MmsError::BadResponse)?;
    let head = std::str::from_utf8(raw.get(..end).ok_or(MmsError::BadResponse)?)
        .map_err(|_| MmsError::BadResponse)?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().ok_or(MmsError::BadResponse)?;
    let mut parts = status_line.split(' ');
    if !parts.next().is_some_and(|v| v.starts_with("HTTP/1.")) {
        return Err(MmsError::BadResponse);
    }
    let status = parts
        .next()
        .and_then(|c| c.parse().ok())
        .ok_or(MmsError::BadResponse)?;
    let body = raw.get(end + 4..).unwrap_or_default();
    let len = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok());
    let body = match len {
        Some(n) => body.get(..n).ok_or(MmsError::BadResponse)?,
        None => body,
    };
    Ok(MmsResponse {
        status,
        body: body.to_vec(),
    })
}

/// A minimal `m-send-req` (OMA-TS-MMS_ENC-V1_3 §6.1.1, header encodings §7.3): message type
/// `8C 80`, transaction id `98 <text> 00`, MMS version `8D 90` (1.0), To `97 <addr>/TYPE=PLMN 00`,
/// content type `84 83` (text/plain, well-known 0x03), then the text as the body.
pub fn m_send_req(transaction_id: &str, to: &str, text: &str) -> Vec<u8> {
    let mut v = vec![0x8C, 0x80, 0x98];
    v.extend_from_slice(transaction_id.as_bytes());
    v.extend_from_slice(&[0x00, 0x8D, 0x90, 0x97]);
    v.extend_from_slice(to.as_bytes());
    v.extend_from_slice(b"/TYPE=PLMN\0");
    v.extend_from_slice(&[0x84, 0x83]);
    v.extend_from_slice(text.as_bytes());
    v
}

/// An `m-send-conf` answer (§6.1.2): `8C 81`, transaction id, version 1.0, response status
/// `92 80` (Ok), message id `8B <id> 00`. For test MMSCs.
pub fn m_send_conf(transaction_id: &str, message_id: &str) -> Vec<u8> {
    let mut v = vec![0x8C, 0x81, 0x98];
    v.extend_from_slice(transaction_id.as_bytes());
    v.extend_from_slice(&[0x00, 0x8D, 0x90, 0x92, 0x80, 0x8B]);
    v.extend_from_slice(message_id.as_bytes());
    v.push(0x00);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = parse_url("http://127.0.0.1:8080/mms").unwrap();
        assert_eq!((u.host, u.port, u.path), ("127.0.0.1", 8080, "/mms"));
        let u = parse_url("http://mmsc.example").unwrap();
        assert_eq!((u.host, u.port, u.path), ("mmsc.example", 80, "/"));
        assert!(parse_url("https://x/").is_none());
        assert!(parse_url("http://:80/").is_none());
    }

    #[test]
    fn responses() {
        let r = parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nabXX").unwrap();
        assert_eq!((r.status, &r.body[..]), (200, &b"ab"[..]));
        assert!(parse_response(b"garbage").is_err());
        let conf = MmsResponse {
            status: 200,
            body: m_send_conf("T1", "M1"),
        };
        assert_eq!(conf.response_status(), Some(0x80));
    }
}
