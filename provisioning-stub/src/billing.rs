//! The money (claims 4, 5, 7, 8): pure functions that turn a confirmed key issuance and a
//! recorded payment into ledger entries. The store writes them exactly once per
//! (issuance, kind) — a unique constraint in the database, not a check here.
//!
//! Per key issuance (one device key delivered and confirmed by the handset):
//! - on download confirmation: a `fee_request` to the operator (its configured fee) and,
//!   when the manufacturer is known, a `download_confirmation` to the manufacturer
//!   (amount 0: a notice, not money);
//! - on payment by the operator: the `payment` (the amount of the fee request) and, when
//!   the manufacturer is known, the `manufacturer_share` of that amount.
//!
//! Amounts are integer minor units (cents) of an ISO 4217 currency; a share in basis
//! points is rounded down (the remainder stays with the provisioning service).

use std::fmt;

use serde::Deserialize;

use crate::store::{Issuance, IssuanceId, LedgerEntry, Timestamp};

/// The kind of a ledger entry; at most one entry per kind and key issuance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LedgerKind {
    /// Fee requested from the operator (claim 4).
    FeeRequest,
    /// The operator's payment, recorded (claim 5).
    Payment,
    /// The manufacturer's share of the payment (claim 7).
    ManufacturerShare,
    /// Download confirmation sent to the manufacturer (claim 8); amount 0.
    DownloadConfirmation,
}

impl LedgerKind {
    /// All kinds, in report order.
    pub const ALL: [LedgerKind; 4] = [
        LedgerKind::FeeRequest,
        LedgerKind::Payment,
        LedgerKind::ManufacturerShare,
        LedgerKind::DownloadConfirmation,
    ];

    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            LedgerKind::FeeRequest => "fee_request",
            LedgerKind::Payment => "payment",
            LedgerKind::ManufacturerShare => "manufacturer_share",
            LedgerKind::DownloadConfirmation => "download_confirmation",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<LedgerKind> {
        LedgerKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for LedgerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The counterparty of a ledger entry.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Party {
    /// An operator (policy `Operator::id`).
    Operator(String),
    /// A manufacturer (device database name).
    Manufacturer(String),
}

impl Party {
    /// `operator` or `manufacturer`, as stored.
    pub fn kind_str(&self) -> &'static str {
        match self {
            Party::Operator(_) => "operator",
            Party::Manufacturer(_) => "manufacturer",
        }
    }

    /// The party's name.
    pub fn name(&self) -> &str {
        match self {
            Party::Operator(n) | Party::Manufacturer(n) => n,
        }
    }

    /// Rebuilds a party from its stored kind and name.
    pub fn from_parts(kind: &str, name: String) -> Option<Party> {
        match kind {
            "operator" => Some(Party::Operator(name)),
            "manufacturer" => Some(Party::Manufacturer(name)),
            _ => None,
        }
    }
}

/// A manufacturer's share of each payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Share {
    /// Basis points (1/10 000) of the payment, rounded down; at most 10 000.
    BasisPoints(u32),
    /// A fixed amount in minor units, at most the payment.
    FixedMinor(i64),
}

/// What an operator pays per key issuance.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OperatorTerms {
    /// Operator id.
    pub operator: String,
    /// Fee in minor units (≥ 0).
    pub fee_minor: i64,
    /// ISO 4217 alphabetic code, e.g. `EUR`.
    pub currency: String,
}

/// What a manufacturer receives per paid key issuance.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ManufacturerTerms {
    /// Manufacturer name.
    pub manufacturer: String,
    /// Its share.
    pub share: Share,
}

/// Fees and shares.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct BillingConfig {
    /// Per-operator fees.
    #[serde(default)]
    pub operators: Vec<OperatorTerms>,
    /// Per-manufacturer shares.
    #[serde(default)]
    pub manufacturers: Vec<ManufacturerTerms>,
}

/// A ledger entry to be written (the store assigns the id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLedgerEntry {
    /// The key issuance this entry belongs to.
    pub issuance_id: IssuanceId,
    /// Kind (unique per issuance).
    pub kind: LedgerKind,
    /// Counterparty.
    pub party: Party,
    /// Amount in minor units.
    pub amount_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// When it happened.
    pub at: Timestamp,
}

/// Why billing could not compute entries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BillingError {
    /// The issuance has no operator (the IMSI matched no configured operator).
    #[error("key issuance {0} has no operator to bill")]
    NoOperator(i64),
    /// The operator has no configured fee.
    #[error("no fee configured for operator {0}")]
    NoFee(String),
    /// A configured value is out of range.
    #[error("bad billing configuration: {0}")]
    BadConfig(String),
    /// The payment refers to a fee request of another issuance or kind.
    #[error("the payment must settle the fee request of the same issuance")]
    NotAFeeRequest,
}

impl BillingConfig {
    /// The operator's terms.
    pub fn operator(&self, operator: &str) -> Option<&OperatorTerms> {
        self.operators.iter().find(|t| t.operator == operator)
    }

    /// The manufacturer's share (none configured: no share).
    pub fn share(&self, manufacturer: &str) -> Option<Share> {
        self.manufacturers
            .iter()
            .find(|t| t.manufacturer == manufacturer)
            .map(|t| t.share)
    }
}

/// The manufacturer's part of `amount_minor`.
pub fn share_of(amount_minor: i64, share: Share) -> Result<i64, BillingError> {
    if amount_minor < 0 {
        return Err(BillingError::BadConfig(format!(
            "negative amount {amount_minor}"
        )));
    }
    match share {
        Share::BasisPoints(bp) if bp <= 10_000 => {
            // i128 cannot overflow: |amount| < 2^63, bp ≤ 10^4.
            let v = i128::from(amount_minor) * i128::from(bp) / 10_000;
            Ok(v as i64)
        }
        Share::BasisPoints(bp) => Err(BillingError::BadConfig(format!(
            "share of {bp} basis points is over 100 %"
        ))),
        Share::FixedMinor(f) if (0..=amount_minor).contains(&f) => Ok(f),
        Share::FixedMinor(f) => Err(BillingError::BadConfig(format!(
            "fixed share {f} is outside 0..={amount_minor}"
        ))),
    }
}

fn check_currency(c: &str) -> Result<(), BillingError> {
    if c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(BillingError::BadConfig(format!(
            "currency {c:?} is not an ISO 4217 code"
        )))
    }
}

/// Entries due when the handset confirms the configuration of a key issuance: the fee
/// request to the operator and the download confirmation to the manufacturer.
pub fn on_download_confirmed(
    config: &BillingConfig,
    issuance: &Issuance,
    at: Timestamp,
) -> Result<Vec<NewLedgerEntry>, BillingError> {
    let operator = issuance
        .operator
        .as_deref()
        .ok_or(BillingError::NoOperator(issuance.id.0))?;
    let terms = config
        .operator(operator)
        .ok_or_else(|| BillingError::NoFee(operator.to_owned()))?;
    check_currency(&terms.currency)?;
    if terms.fee_minor < 0 {
        return Err(BillingError::BadConfig(format!(
            "negative fee for {operator}"
        )));
    }
    let mut out = vec![NewLedgerEntry {
        issuance_id: issuance.id,
        kind: LedgerKind::FeeRequest,
        party: Party::Operator(operator.to_owned()),
        amount_minor: terms.fee_minor,
        currency: terms.currency.clone(),
        at,
    }];
    if let Some(m) = &issuance.manufacturer {
        out.push(NewLedgerEntry {
            issuance_id: issuance.id,
            kind: LedgerKind::DownloadConfirmation,
            party: Party::Manufacturer(m.clone()),
            amount_minor: 0,
            currency: terms.currency.clone(),
            at,
        });
    }
    Ok(out)
}

/// Entries due when the operator's payment of `fee_request` is recorded: the payment and
/// the manufacturer's share of it.
pub fn on_payment(
    config: &BillingConfig,
    issuance: &Issuance,
    fee_request: &LedgerEntry,
    at: Timestamp,
) -> Result<Vec<NewLedgerEntry>, BillingError> {
    if fee_request.kind != LedgerKind::FeeRequest || fee_request.issuance_id != issuance.id {
        return Err(BillingError::NotAFeeRequest);
    }
    let mut out = vec![NewLedgerEntry {
        issuance_id: issuance.id,
        kind: LedgerKind::Payment,
        party: fee_request.party.clone(),
        amount_minor: fee_request.amount_minor,
        currency: fee_request.currency.clone(),
        at,
    }];
    if let Some((m, share)) = issuance
        .manufacturer
        .as_ref()
        .and_then(|m| Some((m, config.share(m)?)))
    {
        out.push(NewLedgerEntry {
            issuance_id: issuance.id,
            kind: LedgerKind::ManufacturerShare,
            party: Party::Manufacturer(m.clone()),
            amount_minor: share_of(fee_request.amount_minor, share)?,
            currency: fee_request.currency.clone(),
            at,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{KeySource, LedgerEntryId};

    fn config() -> BillingConfig {
        BillingConfig {
            operators: vec![OperatorTerms {
                operator: "mvno-fr".into(),
                fee_minor: 199,
                currency: "EUR".into(),
            }],
            manufacturers: vec![
                ManufacturerTerms {
                    manufacturer: "Acme".into(),
                    share: Share::BasisPoints(3_333),
                },
                ManufacturerTerms {
                    manufacturer: "Bolt".into(),
                    share: Share::FixedMinor(50),
                },
            ],
        }
    }

    fn issuance(operator: Option<&str>, manufacturer: Option<&str>) -> Issuance {
        Issuance {
            id: IssuanceId(7),
            registration_id: None,
            iccid: "8944500100000000012".into(),
            imei: "490154203237518".into(),
            operator: operator.map(Into::into),
            manufacturer: manufacturer.map(Into::into),
            source: KeySource::Manufacturer,
            issued_at: Timestamp(1),
        }
    }

    #[test]
    fn share_arithmetic() {
        assert_eq!(share_of(199, Share::BasisPoints(3_333)), Ok(66)); // 66.3267 → 66
        assert_eq!(share_of(199, Share::BasisPoints(10_000)), Ok(199));
        assert_eq!(share_of(199, Share::BasisPoints(0)), Ok(0));
        assert_eq!(share_of(1, Share::BasisPoints(9_999)), Ok(0));
        assert_eq!(share_of(10_000, Share::BasisPoints(1)), Ok(1));
        assert_eq!(share_of(i64::MAX, Share::BasisPoints(10_000)), Ok(i64::MAX));
        assert_eq!(
            share_of(i64::MAX, Share::BasisPoints(5_000)),
            Ok(i64::MAX / 2)
        );
        assert!(share_of(100, Share::BasisPoints(10_001)).is_err());
        assert_eq!(share_of(100, Share::FixedMinor(100)), Ok(100));
        assert!(share_of(100, Share::FixedMinor(101)).is_err());
        assert!(share_of(100, Share::FixedMinor(-1)).is_err());
        assert!(share_of(-1, Share::BasisPoints(1)).is_err());
    }

    #[test]
    fn confirmation_entries() {
        let e = on_download_confirmed(
            &config(),
            &issuance(Some("mvno-fr"), Some("Acme")),
            Timestamp(5),
        )
        .unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].kind, LedgerKind::FeeRequest);
        assert_eq!(e[0].party, Party::Operator("mvno-fr".into()));
        assert_eq!((e[0].amount_minor, e[0].currency.as_str()), (199, "EUR"));
        assert_eq!(e[1].kind, LedgerKind::DownloadConfirmation);
        assert_eq!(e[1].amount_minor, 0);
        // Unknown manufacturer (unknown TAC): fee request only.
        let e = on_download_confirmed(&config(), &issuance(Some("mvno-fr"), None), Timestamp(5))
            .unwrap();
        assert_eq!(e.len(), 1);
        assert_eq!(
            on_download_confirmed(&config(), &issuance(None, Some("Acme")), Timestamp(5)),
            Err(BillingError::NoOperator(7))
        );
        assert_eq!(
            on_download_confirmed(&config(), &issuance(Some("other"), None), Timestamp(5)),
            Err(BillingError::NoFee("other".into()))
        );
        let mut bad = config();
        bad.operators[0].currency = "eur".into();
        assert!(
            on_download_confirmed(&bad, &issuance(Some("mvno-fr"), None), Timestamp(5)).is_err()
        );
    }

    #[test]
    fn payment_entries() {
        let fee = LedgerEntry {
            id: LedgerEntryId(1),
            issuance_id: IssuanceId(7),
            kind: LedgerKind::FeeRequest,
            party: Party::Operator("mvno-fr".into()),
            amount_minor: 199,
            currency: "EUR".into(),
            at: Timestamp(5),
        };
        let e = on_payment(
            &config(),
            &issuance(Some("mvno-fr"), Some("Acme")),
            &fee,
            Timestamp(9),
        )
        .unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!((e[0].kind, e[0].amount_minor), (LedgerKind::Payment, 199));
        assert_eq!(
            (e[1].kind, e[1].amount_minor, &e[1].party),
            (
                LedgerKind::ManufacturerShare,
                66,
                &Party::Manufacturer("Acme".into())
            )
        );
        let e = on_payment(
            &config(),
            &issuance(Some("mvno-fr"), Some("Bolt")),
            &fee,
            Timestamp(9),
        )
        .unwrap();
        assert_eq!(e[1].amount_minor, 50);
        // A manufacturer without configured share gets none.
        let e = on_payment(
            &config(),
            &issuance(Some("mvno-fr"), Some("Zed")),
            &fee,
            Timestamp(9),
        )
        .unwrap();
        assert_eq!(e.len(), 1);
        let wrong = LedgerEntry {
            kind: LedgerKind::Payment,
            ..fee.clone()
        };
        assert_eq!(
            on_payment(
                &config(),
                &issuance(Some("mvno-fr"), None),
                &wrong,
                Timestamp(9)
            ),
            Err(BillingError::NotAFeeRequest)
        );
    }

    #[test]
    fn kinds_round_trip() {
        for k in LedgerKind::ALL {
            assert_eq!(LedgerKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(LedgerKind::parse("refund"), None);
    }
}
