//! Recording an operator's payment (claims 5 and 7): the operator pays the fee request of
//! one key issuance; the stub writes the `payment` and, when the manufacturer has a share
//! configured, the `manufacturer_share` — each exactly once per issuance, enforced by the
//! ledger's `UNIQUE (issuance_id, kind)` (so two stub instances, or two handles, recording
//! the same payment at once write it once). A repeat is harmless and reported as
//! [`PaymentOutcome::AlreadyRecorded`].
//!
//! Two ways in, both through [`record_payment`]: the command line
//! (`provisioning-stub record-payment --config stub.toml --issuance ID`) and the admin
//! port of `serve` (`POST /payments`, JSON [`PaymentRequest`]); `docs/stub.md` ("Money").

use serde::Deserialize;

use crate::billing::{self, BillingConfig, BillingError, LedgerKind};
use crate::devices::Date;
use crate::store::{IssuanceId, LedgerEntry, LedgerEntryId, Store, StoreError, Timestamp};

/// A payment to record: which fee request it settles (by issuance or by fee request id;
/// both may be given and must agree), optionally the amount paid and when.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentRequest {
    /// The key issuance whose fee request is paid.
    #[serde(default)]
    pub issuance_id: Option<i64>,
    /// The fee request ledger entry paid.
    #[serde(default)]
    pub fee_request_id: Option<i64>,
    /// The amount paid in minor units; must equal the fee request (no partial payments).
    /// Absent: the fee request's amount.
    #[serde(default)]
    pub amount_minor: Option<i64>,
    /// When the payment happened ([`parse_time`] forms); absent: now.
    #[serde(default)]
    pub at: Option<String>,
}

/// What [`record_payment`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentOutcome {
    /// This call wrote the payment (and the share, if any): the entries it inserted.
    Recorded(Vec<LedgerEntry>),
    /// The payment was already recorded (by an earlier call or another instance); nothing
    /// new except entries that were missing (e.g. a share configured since): the
    /// issuance's payment and share entries as stored.
    AlreadyRecorded(Vec<LedgerEntry>),
}

impl PaymentOutcome {
    /// The payment and share entries (inserted now or found).
    pub fn entries(&self) -> &[LedgerEntry] {
        match self {
            PaymentOutcome::Recorded(e) | PaymentOutcome::AlreadyRecorded(e) => e,
        }
    }
}

/// Why a payment could not be recorded.
#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    /// Neither an issuance nor a fee request was named, or a value is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// The issuance or fee request does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The issuance has no fee request yet (the handset has not confirmed the download).
    #[error("key issuance {0} has no fee request (download not confirmed yet)")]
    NoFeeRequest(i64),
    /// The amount paid differs from the fee requested.
    #[error("amount {paid} differs from the fee request of {requested} {currency}")]
    AmountMismatch {
        /// Paid.
        paid: i64,
        /// Requested.
        requested: i64,
        /// Currency of the fee request.
        currency: String,
    },
    /// Billing refused (configuration).
    #[error(transparent)]
    Billing(#[from] BillingError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Parses a payment time: `YYYY-MM-DD` (midnight UTC), `YYYY-MM-DDTHH:MM:SSZ` (UTC; a
/// fraction `.fff` is allowed), or milliseconds since 1970 as an integer.
pub fn parse_time(s: &str) -> Result<Timestamp, String> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse::<i64>()
            .map(Timestamp)
            .map_err(|e| format!("time {s:?}: {e}"));
    }
    let bad = || format!("time {s:?}: expected YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or milliseconds");
    let (date, rest) = match s.split_once('T') {
        Some((d, r)) => (d, Some(r)),
        None => (s, None),
    };
    let day = Date::parse(date).map_err(|_| bad())?.start().0;
    let Some(rest) = rest else {
        return Ok(Timestamp(day));
    };
    let rest = rest.strip_suffix('Z').ok_or_else(bad)?;
    let (hms, frac) = match rest.split_once('.') {
        Some((h, f)) => (h, f),
        None => (rest, ""),
    };
    let parts: Vec<&str> = hms.split(':').collect();
    let [h, m, sec] = parts[..] else {
        return Err(bad());
    };
    let num = |v: &str, max: i64| -> Result<i64, String> {
        match v.parse::<i64>() {
            Ok(n) if v.len() == 2 && (0..=max).contains(&n) => Ok(n),
            _ => Err(bad()),
        }
    };
    let ms_frac = if frac.is_empty() {
        0
    } else if frac.len() <= 3 && frac.bytes().all(|b| b.is_ascii_digit()) {
        format!("{frac:0<3}").parse::<i64>().map_err(|_| bad())?
    } else {
        return Err(bad());
    };
    Ok(Timestamp(
        day + num(h, 23)? * 3_600_000 + num(m, 59)? * 60_000 + num(sec, 59)? * 1000 + ms_frac,
    ))
}

/// Records the operator's payment of one issuance's fee request: looks up the issuance and
/// its fee request, computes the entries with [`billing::on_payment`] and writes them with
/// [`Store::record_ledger`] (each at most once per issuance and kind).
pub async fn record_payment<S: Store>(
    store: &S,
    billing_config: &BillingConfig,
    request: &PaymentRequest,
) -> Result<PaymentOutcome, PaymentError> {
    let at = match &request.at {
        Some(t) => parse_time(t).map_err(PaymentError::BadRequest)?,
        None => Timestamp::now(),
    };
    let by_id = match request.fee_request_id {
        Some(id) => Some(
            store
                .ledger_entry(LedgerEntryId(id))
                .await?
                .filter(|e| e.kind == LedgerKind::FeeRequest)
                .ok_or_else(|| PaymentError::NotFound(format!("no fee request {id}")))?,
        ),
        None => None,
    };
    let issuance_id = match (request.issuance_id, &by_id) {
        (Some(i), Some(f)) if f.issuance_id.0 != i => {
            return Err(PaymentError::BadRequest(format!(
                "fee request {} belongs to key issuance {}, not {i}",
                f.id.0, f.issuance_id.0
            )));
        }
        (Some(i), _) => IssuanceId(i),
        (None, Some(f)) => f.issuance_id,
        (None, None) => {
            return Err(PaymentError::BadRequest(
                "name the key issuance (issuance_id) or the fee request (fee_request_id)".into(),
            ));
        }
    };
    let issuance = store
        .issuance(issuance_id)
        .await?
        .ok_or_else(|| PaymentError::NotFound(format!("no key issuance {}", issuance_id.0)))?;
    let existing = store.ledger_for_issuance(issuance_id).await?;
    let fee_request = match by_id {
        Some(f) => f,
        None => existing
            .iter()
            .find(|e| e.kind == LedgerKind::FeeRequest)
            .cloned()
            .ok_or(PaymentError::NoFeeRequest(issuance_id.0))?,
    };
    if let Some(paid) = request.amount_minor
        && paid != fee_request.amount_minor
    {
        return Err(PaymentError::AmountMismatch {
            paid,
            requested: fee_request.amount_minor,
            currency: fee_request.currency.clone(),
        });
    }
    let entries = billing::on_payment(billing_config, &issuance, &fee_request, at)?;
    let inserted = store.record_ledger(&entries).await?;
    if inserted.iter().any(|e| e.kind == LedgerKind::Payment) {
        return Ok(PaymentOutcome::Recorded(inserted));
    }
    let stored = store
        .ledger_for_issuance(issuance_id)
        .await?
        .into_iter()
        .filter(|e| matches!(e.kind, LedgerKind::Payment | LedgerKind::ManufacturerShare))
        .collect();
    Ok(PaymentOutcome::AlreadyRecorded(stored))
}

/// The admin port's payment API (`POST /payments`): the store and the billing terms.
#[derive(Clone)]
pub struct PaymentsApi {
    /// The stub's store.
    pub store: crate::store::AnyStore,
    /// Fees and shares.
    pub billing: BillingConfig,
    /// Counters (`imeitrack_ledger_entries_total{kind}`, `imeitrack_payments_total{result}`).
    pub metrics: std::sync::Arc<crate::metrics::Metrics>,
}

impl std::fmt::Debug for PaymentsApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaymentsApi").finish_non_exhaustive()
    }
}

/// A ledger entry as JSON.
fn entry_json(e: &LedgerEntry) -> serde_json::Value {
    serde_json::json!({
        "id": e.id.0,
        "issuance_id": e.issuance_id.0,
        "kind": e.kind.as_str(),
        "party_kind": e.party.kind_str(),
        "party": e.party.name(),
        "amount_minor": e.amount_minor,
        "currency": e.currency,
        "at_ms": e.at.0,
    })
}

impl PaymentsApi {
    /// Handles a `POST /payments` body: HTTP status and JSON answer. `201` recorded,
    /// `200` already recorded (`"status": "already_recorded"`), `400` bad request or
    /// amount, `404` unknown issuance or fee request, `409` no fee request yet, `422`
    /// billing configuration, `500` store error.
    pub async fn handle(&self, body: &[u8]) -> (u16, String) {
        let request: PaymentRequest = match serde_json::from_slice(body) {
            Ok(r) => r,
            Err(e) => {
                self.metrics
                    .inc("imeitrack_payments_total", "result", "error");
                return (
                    400,
                    serde_json::json!({ "error": e.to_string() }).to_string(),
                );
            }
        };
        let (status, answer, label) =
            match record_payment(&self.store, &self.billing, &request).await {
                Ok(PaymentOutcome::Recorded(entries)) => {
                    for e in &entries {
                        self.metrics
                            .inc("imeitrack_ledger_entries_total", "kind", e.kind.as_str());
                    }
                    (
                        201,
                        serde_json::json!({
                            "status": "recorded",
                            "entries": entries.iter().map(entry_json).collect::<Vec<_>>(),
                        }),
                        "recorded",
                    )
                }
                Ok(PaymentOutcome::AlreadyRecorded(entries)) => (
                    200,
                    serde_json::json!({
                        "status": "already_recorded",
                        "entries": entries.iter().map(entry_json).collect::<Vec<_>>(),
                    }),
                    "already_recorded",
                ),
                Err(e) => {
                    let status = match &e {
                        PaymentError::BadRequest(_) | PaymentError::AmountMismatch { .. } => 400,
                        PaymentError::NotFound(_) => 404,
                        PaymentError::NoFeeRequest(_) => 409,
                        PaymentError::Billing(_) => 422,
                        PaymentError::Store(_) => 500,
                    };
                    (
                        status,
                        serde_json::json!({ "error": e.to_string() }),
                        "error",
                    )
                }
            };
        self.metrics
            .inc("imeitrack_payments_total", "result", label);
        (status, answer.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(parse_time("1970-01-02"), Ok(Timestamp(86_400_000)));
        assert_eq!(
            parse_time("2026-11-27T10:20:30Z"),
            Ok(Timestamp(
                Date::parse("2026-11-27").unwrap().start().0 + 37_230_000
            ))
        );
        assert_eq!(parse_time("1970-01-01T00:00:01.5Z"), Ok(Timestamp(1_500)));
        assert_eq!(parse_time("1234"), Ok(Timestamp(1234)));
        for bad in [
            "",
            "2026-13-01",
            "2026-11-27T10:20Z",
            "2026-11-27T24:00:00Z",
            "2026-11-27T10:20:30",
            "2026-11-27T10:20:30.1234Z",
        ] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }
}
