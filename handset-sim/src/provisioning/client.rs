//! The handset's OMA CP client: MT short messages in, APN store changes and reports out.
//!
//! Per push (06-oma-cp.md): SMS with UDH destination port 2948 → [`Reassembler`] → WSP
//! Push PDU (`applet::wire::wsp::PushPdu`) → content type `application/vnd.wap.connectivity-wbxml`
//! → SEC/MAC check with the IMSI read from the card (NETWPIN, USERNETWPIN) or the user PIN
//! (USERPIN, USERPINMAC) → replay check → WBXML document (`applet::wire::omacp`) →
//! standard settings go straight into the [`ApnStore`]; a document with this project's
//! device key runs a [`ProvisioningSession`] instead. Every verdict goes to the
//! [`ResultReporter`].
//!
//! Replay record: the SHA-256 of every applied WBXML body and the `(key_id, nonce)` of every
//! device key used, each in a bounded FIFO ([`ClientConfig::replay_capacity`]). A push whose
//! body or key was applied before is rejected with [`RejectReason::Replay`] — except the
//! standard-settings body applied last, which changes nothing and is applied again and
//! confirmed (a card back in a handset that holds its settings) (a replay older
//! than the record's capacity would be re-evaluated from scratch; the device key's IMEI and
//! APN bindings still hold).

use std::collections::VecDeque;

use applet::wire::omacp::ProvisioningDoc;
use applet::wire::sms::udh::Ports;
use applet::wire::sms::{AddressValue, Alphabet, DataCodingScheme, SmsDeliver, UserDataBody};
use applet::wire::wsp::{
    CONTENT_TYPE_CONNECTIVITY_WBXML, Credentials, Media, PORT_WAP_PUSH, PushPdu, SecMethod,
};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use super::apn::{self, ApnSource, ApnStore};
use super::reassembly::{CompletePush, DEFAULT_TIMEOUT_MS, Reassembler, contains};
use super::report::{Outcome, ProvisioningReport, RejectReason, ResultReporter};
use super::session::{HandsetIdentity, ProvisioningSession};
use crate::network::ShortMessage;

/// Media type text of the OMA CP WBXML content type (WAP-230 assigned numbers, `0x36`).
pub const CONNECTIVITY_WBXML_TEXT: &[u8] = b"application/vnd.wap.connectivity-wbxml";

/// Largest device key text accepted (hex of a 153-byte key is 306 characters).
const MAX_KEY_TEXT: usize = 512;

/// Applied APNs, or the reason, each with the device key's `key_id` when one decoded.
type Verdict = Result<(Option<u64>, Vec<String>), (Option<u64>, RejectReason)>;

/// Configuration of a [`ProvisioningClient`].
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// IMEI and manufacturer public key (from the handset profile).
    pub identity: HandsetIdentity,
    /// The IMSI as read from the card's EF.IMSI, ASCII digits (NETWPIN/USERNETWPIN key).
    pub imsi: Option<String>,
    /// The PIN the user typed for this push (USERPIN/USERNETWPIN/USERPINMAC).
    pub user_pin: Option<Zeroizing<String>>,
    /// Accept pushes without SEC/MAC (real handsets ask the user; default `false`).
    pub accept_unauthenticated: bool,
    /// Reassembly timeout in virtual milliseconds.
    pub reassembly_timeout_ms: u64,
    /// Unix seconds at virtual time 0 (device-key expiry is checked against
    /// `unix_at_zero + now_ms / 1000`).
    pub unix_at_zero: u64,
    /// Entries kept in each replay record.
    pub replay_capacity: usize,
}

impl ClientConfig {
    /// Defaults around an identity: no IMSI, no PIN, authenticated pushes only,
    /// [`DEFAULT_TIMEOUT_MS`], Unix time 0 at virtual time 0, replay capacity 256.
    pub fn new(identity: HandsetIdentity) -> Self {
        ClientConfig {
            identity,
            imsi: None,
            user_pin: None,
            accept_unauthenticated: false,
            reassembly_timeout_ms: DEFAULT_TIMEOUT_MS,
            unix_at_zero: 0,
            replay_capacity: 256,
        }
    }
}

/// The handset's provisioning agent (see the module docs).
#[derive(Debug)]
pub struct ProvisioningClient {
    config: ClientConfig,
    reassembler: Reassembler,
    store: ApnStore,
    applied_bodies: VecDeque<[u8; 32]>,
    used_keys: VecDeque<(u64, [u8; 16])>,
}

impl ProvisioningClient {
    /// A client with an empty APN store.
    pub fn new(config: ClientConfig) -> Self {
        Self::with_store(config, ApnStore::default())
    }

    /// A client over an existing APN store.
    pub fn with_store(config: ClientConfig, store: ApnStore) -> Self {
        ProvisioningClient {
            reassembler: Reassembler::new(config.reassembly_timeout_ms),
            config,
            store,
            applied_bodies: VecDeque::new(),
            used_keys: VecDeque::new(),
        }
    }

    /// The configuration (e.g. to set the user PIN when the user types it).
    pub fn config_mut(&mut self) -> &mut ClientConfig {
        &mut self.config
    }

    /// The APN store.
    pub fn store(&self) -> &ApnStore {
        &self.store
    }

    /// The reassembler (counters, pending partials).
    pub fn reassembler(&self) -> &Reassembler {
        &self.reassembler
    }

    /// Handles one MT short message at virtual time `now_ms`. Messages not addressed to
    /// the WAP push port (2948) are ignored (`None`), as are segments that leave the push
    /// incomplete. A verdict is reported and returned.
    pub fn on_short_message(
        &mut self,
        sm: &ShortMessage,
        now_ms: u64,
        reporter: &mut impl ResultReporter,
    ) -> Option<ProvisioningReport> {
        self.expire(now_ms, reporter);
        if !is_wap_push(sm) {
            return None;
        }
        let report = match self.reassembler.push(sm, now_ms) {
            Ok(None) => return None,
            Ok(Some(push)) => self.apply_push(push, now_ms),
            Err(e) => ProvisioningReport {
                to: sm.source.clone(),
                key_id: None,
                outcome: Outcome::Rejected(e.into()),
            },
        };
        reporter.report(&report);
        Some(report)
    }

    /// Handles an SMS-DELIVER TPDU (TS 23.040 §9.2.2.1), e.g. from a trace; see
    /// [`ProvisioningClient::on_short_message`].
    pub fn on_deliver_tpdu(
        &mut self,
        tpdu: &[u8],
        now_ms: u64,
        reporter: &mut impl ResultReporter,
    ) -> Result<Option<ProvisioningReport>, applet::wire::Error> {
        let sm = short_message_from_deliver(tpdu)?;
        Ok(self.on_short_message(&sm, now_ms, reporter))
    }

    /// Drops partial pushes older than the reassembly timeout and reports each as
    /// [`RejectReason::Timeout`].
    pub fn expire(
        &mut self,
        now_ms: u64,
        reporter: &mut impl ResultReporter,
    ) -> Vec<ProvisioningReport> {
        self.reassembler
            .expire(now_ms)
            .into_iter()
            .map(|e| {
                let r = ProvisioningReport {
                    to: e.originator,
                    key_id: None,
                    outcome: Outcome::Rejected(RejectReason::Timeout { missing: e.missing }),
                };
                reporter.report(&r);
                r
            })
            .collect()
    }

    /// Applies one reassembled push (WSP level and up). The push buffer is zeroized when
    /// this returns.
    pub fn apply_push(&mut self, push: CompletePush, now_ms: u64) -> ProvisioningReport {
        let (key_id, outcome) = match self.evaluate(&push, now_ms) {
            Ok((key_id, apns)) => (key_id, Outcome::Configured { apns }),
            Err((key_id, reason)) => (key_id, Outcome::Rejected(reason)),
        };
        ProvisioningReport {
            to: push.originator.clone(),
            key_id,
            outcome,
        }
    }

    fn evaluate(&mut self, push: &CompletePush, now_ms: u64) -> Verdict {
        let fail = |r: RejectReason| (None, r);
        if DataCodingScheme(push.dcs).alphabet() != Alphabet::Eight {
            return Err(fail(RejectReason::NotEightBit(push.dcs)));
        }
        let pdu = PushPdu::parse(&push.data).map_err(|_| fail(RejectReason::BadWsp))?;
        let ct = pdu.content_type;
        let is_cp = match ct.media {
            Media::WellKnown(v) => v == CONTENT_TYPE_CONNECTIVITY_WBXML,
            Media::Text(t) => t.eq_ignore_ascii_case(CONNECTIVITY_WBXML_TEXT),
        };
        if !is_cp {
            return Err(fail(RejectReason::UnsupportedContentType));
        }
        self.authenticate(&pdu).map_err(fail)?;
        let digest: [u8; 32] = Sha256::digest(pdu.body).into();
        let doc = ProvisioningDoc::parse(pdu.body)
            .map_err(|e| fail(RejectReason::BadDocument(e.offset)))?;
        if self.applied_bodies.contains(&digest) {
            // The push applied last, again, with standard settings only (a card back in a
            // handset that already holds its settings): applying it changes nothing, so
            // it is applied and confirmed. Any older body would roll settings back, and a
            // device key works once: those are replays.
            let latest = self.applied_bodies.back() == Some(&digest);
            if !latest || doc.device_key().is_some() {
                return Err(fail(RejectReason::Replay));
            }
            return self.apply_standard(&doc);
        }
        let result = match doc.device_key() {
            None => self.apply_standard(&doc),
            Some(dk) => self.run_session(&doc, dk, now_ms),
        };
        if result.is_ok() {
            remember(
                &mut self.applied_bodies,
                digest,
                self.config.replay_capacity,
            );
        }
        result
    }

    fn authenticate(&self, pdu: &PushPdu<'_>) -> Result<(), RejectReason> {
        let ct = pdu.content_type;
        let (sec, mac) = match (ct.sec, ct.mac) {
            (None, None) if self.config.accept_unauthenticated => return Ok(()),
            (None, _) => return Err(RejectReason::Unauthenticated),
            (Some(SecMethod::USERPINMAC), _) => (SecMethod::USERPINMAC, None),
            (Some(_), None) => return Err(RejectReason::Unauthenticated),
            (Some(s), Some(m)) => (s, Some(m)),
        };
        let creds = Credentials {
            imsi: self.config.imsi.as_deref().map(str::as_bytes),
            user_pin: self.config.user_pin.as_deref().map(|p| p.as_bytes()),
        };
        let mac = mac.unwrap_or(applet::wire::wsp::Mac([0; 20]));
        match creds.verify(sec, pdu.body, &mac) {
            Ok(true) => Ok(()),
            Ok(false) => Err(RejectReason::BadMac),
            Err(applet::wire::Error::BadValue) => Err(RejectReason::MissingCredentials),
            Err(_) => Err(RejectReason::BadMac),
        }
    }

    fn apply_standard(&mut self, doc: &ProvisioningDoc<'_>) -> Verdict {
        let entries = apn::entries_from_doc(doc).map_err(|e| (None, e.into()))?;
        // All or nothing: check room first.
        let mut probe = self.store.clone();
        for e in &entries {
            probe.insert(e.clone()).map_err(|e| (None, e.into()))?;
        }
        self.store = probe;
        Ok((None, entries.into_iter().map(|e| e.settings.apn).collect()))
    }

    fn run_session(
        &mut self,
        doc: &ProvisioningDoc<'_>,
        dk: applet::wire::omacp::DeviceKey<'_>,
        now_ms: u64,
    ) -> Verdict {
        let entry = apn::keyed_entry(doc).map_err(|e| (None, e.into()))?;
        let key_bytes = decode_key_text(dk).map_err(|e| (None, RejectReason::BadDeviceKey(e)))?;
        let closed = match ProvisioningSession::open(key_bytes, entry) {
            Err(closed) => closed,
            Ok(session) => {
                if self
                    .used_keys
                    .contains(&(session.key_id(), session.nonce()))
                {
                    session.reject(RejectReason::Replay)
                } else {
                    let now_unix = self.config.unix_at_zero.saturating_add(now_ms / 1000);
                    match session.verify(&self.config.identity, now_unix) {
                        Ok(verified) => verified.apply(&mut self.store),
                        Err(closed) => closed,
                    }
                }
            }
        };
        match closed.result {
            Ok(apn) => {
                if let (Some(id), Some(nonce)) = (closed.key_id, closed.nonce) {
                    remember(
                        &mut self.used_keys,
                        (id, nonce),
                        self.config.replay_capacity,
                    );
                }
                Ok((closed.key_id, vec![apn]))
            }
            Err(reason) => Err((closed.key_id, reason)),
        }
    }

    /// True if any structure this client holds contains `needle` (an inspection hook for
    /// the erasure tests: pending segments, the APN store). The replay record holds only
    /// digests, issuance ids and nonces.
    pub fn holds_bytes(&self, needle: &[u8]) -> bool {
        self.reassembler.holds_bytes(needle)
            || self.store.holds_bytes(needle)
            || self.applied_bodies.iter().any(|d| contains(d, needle))
    }

    /// Entries of the APN store that came from a device key, with their issuance ids.
    pub fn keyed_apns(&self) -> Vec<(u64, &str)> {
        self.store
            .entries()
            .iter()
            .filter_map(|e| match e.source {
                ApnSource::DeviceKey { key_id } => Some((key_id, e.settings.apn.as_str())),
                _ => None,
            })
            .collect()
    }
}

fn remember<T: PartialEq>(q: &mut VecDeque<T>, v: T, cap: usize) {
    if cap == 0 {
        return;
    }
    while q.len() >= cap {
        q.pop_front();
    }
    q.push_back(v);
}

/// The DEVKEY text as the key's binary form: upper- or lower-case hex (the
/// `applet::wire::omacp::Encoder::device_key` convention) or base64url without padding
/// (`DeviceKey::to_text`, docs/device-key.md). Both decoders write only into zeroizing
/// buffers.
fn decode_key_text(
    dk: applet::wire::omacp::DeviceKey<'_>,
) -> Result<Zeroizing<Vec<u8>>, provisioning_stub::keys::KeyError> {
    use provisioning_stub::keys::{DeviceKey, KeyError};
    let mut buf = Zeroizing::new(vec![0u8; MAX_KEY_TEXT / 2]);
    if let Ok(n) = dk.write_key(&mut buf) {
        buf.truncate(n);
        return Ok(buf);
    }
    if dk.hex.has_extension() || dk.hex.len() > MAX_KEY_TEXT {
        return Err(KeyError::BadText);
    }
    let mut text = Zeroizing::new(vec![0u8; MAX_KEY_TEXT]);
    let n = dk.hex.write_to(&mut text).map_err(|_| KeyError::BadText)?;
    let s =
        std::str::from_utf8(text.get(..n).unwrap_or_default()).map_err(|_| KeyError::BadText)?;
    Ok(DeviceKey::from_text(s)?.encode())
}

/// True if the message's UDH addresses the WAP push port (2948, 06-oma-cp.md §1).
pub fn is_wap_push(sm: &ShortMessage) -> bool {
    wap_ports(sm).is_some_and(|p| p.destination == PORT_WAP_PUSH)
}

fn wap_ports(sm: &ShortMessage) -> Option<Ports> {
    if let Some(d) = sm.udh_ie(0x05)
        && let [d0, d1, o0, o1] = *d
    {
        return Some(Ports {
            destination: u16::from_be_bytes([d0, d1]),
            originator: u16::from_be_bytes([o0, o1]),
        });
    }
    match sm.udh_ie(0x04)? {
        &[d, o] => Some(Ports {
            destination: u16::from(d),
            originator: u16::from(o),
        }),
        _ => None,
    }
}

/// Converts an SMS-DELIVER TPDU into the simulator's [`ShortMessage`] (TP-OA digits as the
/// source, UDH without UDHL). Only 8-bit/UCS2 bodies are kept as octets; a 7-bit body is
/// refused with `Unsupported` (WAP push is never 7-bit).
pub fn short_message_from_deliver(tpdu: &[u8]) -> Result<ShortMessage, applet::wire::Error> {
    let d = SmsDeliver::parse(tpdu)?;
    let source = match d.originator.value {
        AddressValue::Digits(digits) => digits.to_string(),
        AddressValue::Alphanumeric(a) => a.chars().collect(),
    };
    let UserDataBody::Octets(data) = d.user_data.body else {
        return Err(applet::wire::Error::Unsupported);
    };
    let udh = match d.user_data.header {
        Some(h) => {
            let mut buf = vec![0u8; h.buffer_len()];
            h.emit(&mut buf)?;
            buf.remove(0);
            Some(buf)
        }
        None => None,
    };
    Ok(ShortMessage {
        source,
        destination: String::new(),
        pid: d.pid.0,
        dcs: d.dcs.0,
        udh,
        user_data: data.to_vec(),
    })
}
