//! Settlement report: per operator and per manufacturer, for a period of whole UTC days,
//! from the ledger. Amounts are integer minor units, per currency (never converted).
//!
//! Figures are flows within the period: an operator's `outstanding` is what was
//! requested in the period minus what was paid in it (a payment in the period for a fee
//! requested earlier can make it negative).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::billing::{LedgerKind, Party};
use crate::devices::Date;
use crate::store::{LedgerEntry, Result, Store, Timestamp};

/// A period of whole days, both ends included (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// First day.
    pub from: Date,
    /// Last day (included).
    pub to: Date,
}

impl Period {
    /// `[start of from, start of the day after to)`.
    pub fn bounds(self) -> (Timestamp, Timestamp) {
        (self.from.start(), self.to.succ().start())
    }
}

/// One operator's figures in one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorSettlement {
    /// Operator id.
    pub operator: String,
    /// ISO 4217 code.
    pub currency: String,
    /// Number of fee requests.
    pub fee_requests: u64,
    /// Sum requested (minor units).
    pub requested_minor: i128,
    /// Number of payments.
    pub payments: u64,
    /// Sum paid (minor units).
    pub paid_minor: i128,
    /// `requested_minor - paid_minor`.
    pub outstanding_minor: i128,
}

/// One manufacturer's figures in one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManufacturerSettlement {
    /// Manufacturer.
    pub manufacturer: String,
    /// ISO 4217 code.
    pub currency: String,
    /// Download confirmations sent.
    pub download_confirmations: u64,
    /// Number of shares.
    pub shares: u64,
    /// Sum of shares (minor units).
    pub share_minor: i128,
}

/// The settlement for a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement {
    /// The period.
    pub period: Period,
    /// Operators, by name then currency.
    pub operators: Vec<OperatorSettlement>,
    /// Manufacturers, by name then currency.
    pub manufacturers: Vec<ManufacturerSettlement>,
}

/// Reads the period's ledger from the store and settles it.
pub async fn report<S: Store>(store: &S, period: Period) -> Result<Settlement> {
    let (from, to) = period.bounds();
    let entries = store.ledger_between(from, to).await?;
    Ok(settle(period, &entries))
}

/// Settles ledger entries (those outside the period are ignored).
pub fn settle(period: Period, entries: &[LedgerEntry]) -> Settlement {
    let (from, to) = period.bounds();
    let mut ops: BTreeMap<(String, String), OperatorSettlement> = BTreeMap::new();
    let mut mfs: BTreeMap<(String, String), ManufacturerSettlement> = BTreeMap::new();
    for e in entries.iter().filter(|e| e.at >= from && e.at < to) {
        let amount = i128::from(e.amount_minor);
        match &e.party {
            Party::Operator(name) => {
                let s = ops
                    .entry((name.clone(), e.currency.clone()))
                    .or_insert_with(|| OperatorSettlement {
                        operator: name.clone(),
                        currency: e.currency.clone(),
                        fee_requests: 0,
                        requested_minor: 0,
                        payments: 0,
                        paid_minor: 0,
                        outstanding_minor: 0,
                    });
                match e.kind {
                    LedgerKind::FeeRequest => {
                        s.fee_requests += 1;
                        s.requested_minor += amount;
                    }
                    LedgerKind::Payment => {
                        s.payments += 1;
                        s.paid_minor += amount;
                    }
                    LedgerKind::ManufacturerShare | LedgerKind::DownloadConfirmation => {}
                }
                s.outstanding_minor = s.requested_minor - s.paid_minor;
            }
            Party::Manufacturer(name) => {
                let s = mfs
                    .entry((name.clone(), e.currency.clone()))
                    .or_insert_with(|| ManufacturerSettlement {
                        manufacturer: name.clone(),
                        currency: e.currency.clone(),
                        download_confirmations: 0,
                        shares: 0,
                        share_minor: 0,
                    });
                match e.kind {
                    LedgerKind::DownloadConfirmation => s.download_confirmations += 1,
                    LedgerKind::ManufacturerShare => {
                        s.shares += 1;
                        s.share_minor += amount;
                    }
                    LedgerKind::FeeRequest | LedgerKind::Payment => {}
                }
            }
        }
    }
    Settlement {
        period,
        operators: ops.into_values().collect(),
        manufacturers: mfs.into_values().collect(),
    }
}

/// Header of [`Settlement::to_csv`].
pub const CSV_HEADER: [&str; 11] = [
    "party_kind",
    "party",
    "currency",
    "fee_requests",
    "requested_minor",
    "payments",
    "paid_minor",
    "outstanding_minor",
    "download_confirmations",
    "shares",
    "share_minor",
];

impl Settlement {
    /// A plain-text table for people (amounts in minor units).
    pub fn to_table(&self) -> String {
        let mut out = format!(
            "Settlement {} .. {} (UTC days, amounts in minor units)\n\nOperators\n",
            self.period.from, self.period.to
        );
        let rows: Vec<Vec<String>> = self
            .operators
            .iter()
            .map(|o| {
                vec![
                    o.operator.clone(),
                    o.currency.clone(),
                    o.fee_requests.to_string(),
                    o.requested_minor.to_string(),
                    o.payments.to_string(),
                    o.paid_minor.to_string(),
                    o.outstanding_minor.to_string(),
                ]
            })
            .collect();
        out.push_str(&table(
            &[
                "operator",
                "currency",
                "fee_requests",
                "requested",
                "payments",
                "paid",
                "outstanding",
            ],
            &rows,
        ));
        out.push_str("\nManufacturers\n");
        let rows: Vec<Vec<String>> = self
            .manufacturers
            .iter()
            .map(|m| {
                vec![
                    m.manufacturer.clone(),
                    m.currency.clone(),
                    m.download_confirmations.to_string(),
                    m.shares.to_string(),
                    m.share_minor.to_string(),
                ]
            })
            .collect();
        out.push_str(&table(
            &[
                "manufacturer",
                "currency",
                "downloads",
                "shares",
                "share_amount",
            ],
            &rows,
        ));
        out
    }

    /// CSV (RFC 4180, header [`CSV_HEADER`]): one row per operator and currency, then
    /// one per manufacturer and currency; columns that do not apply are empty.
    pub fn to_csv(&self) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        let mut rows: Vec<Vec<String>> = vec![CSV_HEADER.iter().map(|s| s.to_string()).collect()];
        for o in &self.operators {
            rows.push(vec![
                "operator".into(),
                o.operator.clone(),
                o.currency.clone(),
                o.fee_requests.to_string(),
                o.requested_minor.to_string(),
                o.payments.to_string(),
                o.paid_minor.to_string(),
                o.outstanding_minor.to_string(),
                String::new(),
                String::new(),
                String::new(),
            ]);
        }
        for m in &self.manufacturers {
            rows.push(vec![
                "manufacturer".into(),
                m.manufacturer.clone(),
                m.currency.clone(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                m.download_confirmations.to_string(),
                m.shares.to_string(),
                m.share_minor.to_string(),
            ]);
        }
        for r in rows {
            // Writing to a Vec cannot fail.
            let _ = w.write_record(&r);
        }
        w.into_inner()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }
}

/// Left-aligned text columns, right-aligned numbers.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: &mut dyn Iterator<Item = &str>| {
        let mut parts = Vec::new();
        for (i, (c, w)) in cells.zip(&widths).enumerate() {
            parts.push(if i < 2 {
                format!("{c:<w$}")
            } else {
                format!("{c:>w$}")
            });
        }
        let _ = writeln!(out, "{}", parts.join("  ").trim_end());
    };
    line(&mut out, &mut header.iter().copied());
    for r in rows {
        line(&mut out, &mut r.iter().map(String::as_str));
    }
    if rows.is_empty() {
        out.push_str("(none)\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{IssuanceId, LedgerEntryId};

    fn day(s: &str) -> Date {
        Date::parse(s).unwrap()
    }

    fn entry(
        id: i64,
        iss: i64,
        kind: LedgerKind,
        party: Party,
        amount: i64,
        cur: &str,
        at: &str,
    ) -> LedgerEntry {
        LedgerEntry {
            id: LedgerEntryId(id),
            issuance_id: IssuanceId(iss),
            kind,
            party,
            amount_minor: amount,
            currency: cur.into(),
            at: Timestamp(day(at).start().0 + 3_600_000),
        }
    }

    fn op(n: &str) -> Party {
        Party::Operator(n.into())
    }

    fn mf(n: &str) -> Party {
        Party::Manufacturer(n.into())
    }

    fn sample() -> Vec<LedgerEntry> {
        use LedgerKind::*;
        vec![
            // Before the period: ignored.
            entry(1, 1, FeeRequest, op("mvno-fr"), 199, "EUR", "2026-10-31"),
            // Issuance 2: requested, paid, shared.
            entry(2, 2, FeeRequest, op("mvno-fr"), 199, "EUR", "2026-11-01"),
            entry(
                3,
                2,
                DownloadConfirmation,
                mf("Acme"),
                0,
                "EUR",
                "2026-11-01",
            ),
            entry(4, 2, Payment, op("mvno-fr"), 199, "EUR", "2026-11-03"),
            entry(5, 2, ManufacturerShare, mf("Acme"), 66, "EUR", "2026-11-03"),
            // Issuance 3: requested only.
            entry(6, 3, FeeRequest, op("mvno-fr"), 199, "EUR", "2026-11-30"),
            entry(
                7,
                3,
                DownloadConfirmation,
                mf("Acme"),
                0,
                "EUR",
                "2026-11-30",
            ),
            // Issuance 1 paid in the period (requested before it).
            entry(8, 1, Payment, op("mvno-fr"), 199, "EUR", "2026-11-15"),
            // Another operator and currency.
            entry(9, 4, FeeRequest, op("mvno-uk"), 150, "GBP", "2026-11-10"),
            entry(10, 4, Payment, op("mvno-uk"), 150, "GBP", "2026-11-11"),
            entry(
                11,
                4,
                ManufacturerShare,
                mf("Bolt"),
                50,
                "GBP",
                "2026-11-11",
            ),
            // After the period: ignored.
            entry(12, 5, FeeRequest, op("mvno-uk"), 150, "GBP", "2026-12-01"),
        ]
    }

    fn november() -> Period {
        Period {
            from: day("2026-11-01"),
            to: day("2026-11-30"),
        }
    }

    #[test]
    fn known_amounts() {
        let s = settle(november(), &sample());
        assert_eq!(
            s.operators,
            vec![
                OperatorSettlement {
                    operator: "mvno-fr".into(),
                    currency: "EUR".into(),
                    fee_requests: 2,
                    requested_minor: 398,
                    payments: 2,
                    paid_minor: 398,
                    outstanding_minor: 0,
                },
                OperatorSettlement {
                    operator: "mvno-uk".into(),
                    currency: "GBP".into(),
                    fee_requests: 1,
                    requested_minor: 150,
                    payments: 1,
                    paid_minor: 150,
                    outstanding_minor: 0,
                },
            ]
        );
        assert_eq!(
            s.manufacturers,
            vec![
                ManufacturerSettlement {
                    manufacturer: "Acme".into(),
                    currency: "EUR".into(),
                    download_confirmations: 2,
                    shares: 1,
                    share_minor: 66,
                },
                ManufacturerSettlement {
                    manufacturer: "Bolt".into(),
                    currency: "GBP".into(),
                    download_confirmations: 0,
                    shares: 1,
                    share_minor: 50,
                },
            ]
        );
        // One day shorter: issuance 3's request falls out, so 199 is overpaid.
        let s = settle(
            Period {
                from: day("2026-11-01"),
                to: day("2026-11-29"),
            },
            &sample(),
        );
        assert_eq!(s.operators[0].requested_minor, 199);
        assert_eq!(s.operators[0].outstanding_minor, -199);
    }

    #[test]
    fn table_and_csv() {
        let s = settle(november(), &sample());
        let table = s.to_table();
        let expected = "\
Settlement 2026-11-01 .. 2026-11-30 (UTC days, amounts in minor units)

Operators
operator  currency  fee_requests  requested  payments  paid  outstanding
mvno-fr   EUR                  2        398         2   398            0
mvno-uk   GBP                  1        150         1   150            0

Manufacturers
manufacturer  currency  downloads  shares  share_amount
Acme          EUR               2       1            66
Bolt          GBP               0       1            50
";
        assert_eq!(table, expected);
        let csv = s.to_csv();
        let expected = "\
party_kind,party,currency,fee_requests,requested_minor,payments,paid_minor,outstanding_minor,download_confirmations,shares,share_minor
operator,mvno-fr,EUR,2,398,2,398,0,,,
operator,mvno-uk,GBP,1,150,1,150,0,,,
manufacturer,Acme,EUR,,,,,,2,1,66
manufacturer,Bolt,GBP,,,,,,0,1,50
";
        assert_eq!(csv, expected);
        let empty = settle(november(), &[]);
        assert!(empty.to_table().contains("(none)"));
        assert_eq!(empty.to_csv().lines().count(), 1);
    }

    #[test]
    fn csv_quotes_names() {
        let e = vec![entry(
            1,
            1,
            LedgerKind::FeeRequest,
            op("Acme, \"Mobile\""),
            1,
            "EUR",
            "2026-11-02",
        )];
        let csv = settle(november(), &e).to_csv();
        assert!(
            csv.contains("operator,\"Acme, \"\"Mobile\"\"\",EUR,1,1,0,0,1,,,"),
            "{csv}"
        );
    }
}
