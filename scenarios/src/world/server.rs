//! The provisioning server inside the world: a trait boundary and its binding to the
//! SMSC simulator as an in-process ESME.
//!
//! The world binds the server to the SMSC's pure core exactly as an SMPP client would
//! (an [`EsmeAccount`](handset_sim::network::EsmeAccount) with the server's number as
//! route, `bind` as transceiver, `poll_esme` → [`ProvisioningServer::on_mo`] →
//! `esme_ack`, replies through `submit_sm`), minus the TCP socket. So routing,
//! store-and-forward while the server is stopped, SMSC outages, latency, loss and
//! delivery receipts all apply to the server's traffic as they would over SMPP.

use handset_sim::network::ShortMessage;

use super::event::ArrowSpec;

/// What a server did with one MO message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerReply {
    /// `true` = `deliver_sm_resp` OK (the SMSC forgets the message); `false` = a
    /// temporary error (the SMSC retries after its retry interval).
    pub accepted: bool,
    /// MT messages to submit (`submit_sm`), in order; the source defaults to the
    /// server's number when empty.
    pub mt: Vec<ShortMessage>,
    /// What the server did, for the ladder (decisions, manufacturer calls, ledger).
    pub arrows: Vec<ArrowSpec>,
}

impl ServerReply {
    /// Accepted, nothing sent.
    pub fn ack() -> Self {
        ServerReply {
            accepted: true,
            ..Self::default()
        }
    }
}

/// The stub's verdict on one registration, as expectations see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerVerdict {
    /// Virtual time.
    pub t_ms: u64,
    /// ICCID the registration claimed (digits), if readable.
    pub iccid: Option<String>,
    /// IMEI it carried, if readable.
    pub imei: Option<String>,
    /// Accepted (`Ok`, with the treatment) or rejected (`Err`, with the reason).
    pub outcome: Result<Treatment, String>,
}

/// How an accepted registration was treated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Treatment {
    /// Judged depreciated (APN with a device key) rather than standard settings.
    pub depreciated: bool,
    /// Where the device key came from (`"local"`, `"manufacturer"`), when one was issued.
    pub key_source: Option<String>,
    /// The device key's binary form, when one was issued (so the world can check the
    /// handset erased it).
    pub device_key: Option<Vec<u8>>,
}

/// One ledger entry as expectations see it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LedgerLine {
    /// Kind (`fee_request`, `payment`, `manufacturer_share`, `download_confirmation`, …).
    pub kind: String,
    /// Party (operator or manufacturer name).
    pub party: String,
    /// Amount in minor units.
    pub amount_minor: i64,
    /// ISO 4217 currency.
    pub currency: String,
}

/// A provisioning server the world can host (see the module docs).
///
/// Implementations must be deterministic functions of their inputs (and `now_ms`) for
/// the world to be: no wall clock, no unseeded randomness.
pub trait ProvisioningServer: Send {
    /// One `deliver_sm`: an MO message routed to the server's number.
    fn on_mo(&mut self, sm: &ShortMessage, now_ms: u64) -> ServerReply;

    /// A delivery receipt for an MT message the server submitted (`message_id` as
    /// `submit_sm_resp` returned it; `delivered` = final state DELIVRD).
    fn on_receipt(&mut self, _message_id: &str, _delivered: bool, _now_ms: u64) {}

    /// The server was stopped (`false`) or started again (`true`); a restart keeps
    /// what the server's store made durable.
    fn on_running(&mut self, _running: bool, _now_ms: u64) {}

    /// Every verdict so far, in order.
    fn verdicts(&self) -> Vec<ServerVerdict> {
        Vec::new()
    }

    /// The ledger.
    fn ledger(&self) -> Vec<LedgerLine> {
        Vec::new()
    }
}
