//! Card inventory: ICCID, IMSI, MSISDN and the per-card registration key, imported from
//! the CSV file an operator receives from its SIM vendor (format in `docs/stub.md`,
//! "Card inventory CSV"); and the CSV reader shared by the imports, whose errors name the
//! file, line, column and field.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use crate::devices::luhn_check_digit;

/// Integrated Circuit Card Identifier (ITU-T E.118): 18–20 decimal digits, the last one
/// the Luhn check digit.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Iccid(String);

impl Iccid {
    /// Parses 18–20 digits with a correct Luhn check digit (ITU-T E.118 §4.4).
    pub fn parse(s: &str) -> Result<Iccid, String> {
        if !(18..=20).contains(&s.len()) || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("an ICCID is 18 to 20 decimal digits, got {s:?}"));
        }
        let (body, cd) = s.split_at(s.len() - 1);
        let expected = luhn_check_digit(body.as_bytes());
        if cd.as_bytes() != [b'0' + expected] {
            return Err(format!(
                "ICCID {s}: check digit {cd} is wrong (Luhn gives {expected})"
            ));
        }
        Ok(Iccid(s.to_owned()))
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Iccid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// International Mobile Subscriber Identity (3GPP TS 23.003 §2.2): MCC (3) + MNC (2–3) +
/// MSIN, at most 15 digits. Accepted here: 6–15 decimal digits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Imsi(String);

impl Imsi {
    /// Parses 6–15 decimal digits.
    pub fn parse(s: &str) -> Result<Imsi, String> {
        if (6..=15).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Imsi(s.to_owned()))
        } else {
            Err(format!("an IMSI is 6 to 15 decimal digits, got {s:?}"))
        }
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Imsi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Subscriber number in international format (ITU-T E.164): at most 15 digits, written
/// with or without a leading `+` (stored without it).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Msisdn(String);

impl Msisdn {
    /// Parses `+`? followed by 1–15 decimal digits.
    pub fn parse(s: &str) -> Result<Msisdn, String> {
        let digits = s.strip_prefix('+').unwrap_or(s);
        if (1..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Msisdn(digits.to_owned()))
        } else {
            Err(format!(
                "an MSISDN is up to 15 decimal digits (optionally after +), got {s:?}"
            ))
        }
    }

    /// The digits, without `+`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Msisdn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The per-card AES-128 key under which the applet MACs its registration messages
/// (`docs/registration.md`). `Debug` does not print it.
#[derive(Clone, PartialEq, Eq)]
pub struct RegistrationKey(pub [u8; 16]);

impl RegistrationKey {
    /// Parses 32 hexadecimal digits (either case).
    pub fn parse_hex(s: &str) -> Result<RegistrationKey, String> {
        let mut key = [0u8; 16];
        hex::decode_to_slice(s, &mut key).map_err(|_| {
            format!(
                "a registration key is 32 hex digits (AES-128), got {} characters",
                s.len()
            )
        })?;
        Ok(RegistrationKey(key))
    }
}

impl fmt::Debug for RegistrationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RegistrationKey(..)")
    }
}

/// One card of the inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    /// The card's ICCID (primary key).
    pub iccid: Iccid,
    /// The IMSI provisioned on the card.
    pub imsi: Imsi,
    /// The subscriber number, when the vendor file carries one.
    pub msisdn: Option<Msisdn>,
    /// The registration MAC key.
    pub key: RegistrationKey,
}

/// Reads a card inventory CSV (format in `docs/stub.md`). Every bad row is reported;
/// nothing is returned unless all rows are good. ICCIDs and IMSIs must be unique.
pub fn read_cards_csv(path: &Path) -> Result<Vec<Card>, ImportError> {
    let mut iccids = HashSet::new();
    let mut imsis = HashSet::new();
    read_csv(path, &["iccid", "imsi", "key"], &["msisdn"], |row| {
        let iccid = Iccid::parse(row.get("iccid")).map_err(|m| row.error("iccid", m))?;
        if !iccids.insert(iccid.clone()) {
            return Err(row.error("iccid", format!("ICCID {iccid} appears twice in the file")));
        }
        let imsi = Imsi::parse(row.get("imsi")).map_err(|m| row.error("imsi", m))?;
        if !imsis.insert(imsi.clone()) {
            return Err(row.error("imsi", format!("IMSI {imsi} appears twice in the file")));
        }
        let msisdn = match row.get("msisdn") {
            "" => None,
            m => Some(Msisdn::parse(m).map_err(|e| row.error("msisdn", e))?),
        };
        let key = RegistrationKey::parse_hex(row.get("key")).map_err(|m| row.error("key", m))?;
        Ok(Card {
            iccid,
            imsi,
            msisdn,
            key,
        })
    })
}

/// One bad row of an imported file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// 1-based line in the file where the record starts.
    pub line: u64,
    /// 1-based column of the bad field, when one field is to blame.
    pub column: Option<usize>,
    /// Name of the bad field (the header), or `record` for a malformed record.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// Why an import failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file could not be read.
    #[error("{}: {source}", file.display())]
    Io {
        /// The file.
        file: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A required column is not in the header.
    #[error("{}: the header has no column {column:?}", file.display())]
    MissingColumn {
        /// The file.
        file: PathBuf,
        /// The missing column's name.
        column: String,
    },
    /// The header has a column this format does not define (probably a typo).
    #[error("{}: unknown column {column:?} (known: {known})", file.display())]
    UnknownColumn {
        /// The file.
        file: PathBuf,
        /// The column's name.
        column: String,
        /// The columns this format defines, comma-separated.
        known: String,
    },
    /// One or more rows are bad; nothing was imported.
    #[error("{}", rows_message(file, errors))]
    Rows {
        /// The file.
        file: PathBuf,
        /// Every bad row, in file order.
        errors: Vec<RowError>,
    },
}

fn rows_message(file: &Path, errors: &[RowError]) -> String {
    let mut out = format!("{} bad row(s), nothing imported:", errors.len());
    for e in errors {
        out.push_str(&format!("\n{}:{}: ", file.display(), e.line));
        if let Some(c) = e.column {
            out.push_str(&format!("column {c} "));
        }
        out.push_str(&format!("({}): {}", e.field, e.message));
    }
    out
}

/// A field-level error raised by a row converter (see [`Row::error`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    field: String,
    column: Option<usize>,
    message: String,
}

/// One CSV record with access by column name; values are trimmed.
pub(crate) struct Row<'a> {
    record: &'a csv::StringRecord,
    columns: &'a HashMap<String, usize>,
}

impl Row<'_> {
    /// The value of a column, or `""` when the file has no such column.
    pub(crate) fn get(&self, name: &str) -> &str {
        self.columns
            .get(name)
            .and_then(|&i| self.record.get(i))
            .unwrap_or("")
    }

    /// The value of a column that must not be empty.
    pub(crate) fn required(&self, name: &str) -> Result<&str, FieldError> {
        match self.get(name) {
            "" => Err(self.error(name, "must not be empty")),
            v => Ok(v),
        }
    }

    /// An error about the named field of this row.
    pub(crate) fn error(&self, name: &str, message: impl Into<String>) -> FieldError {
        FieldError {
            field: name.to_owned(),
            column: self.columns.get(name).map(|i| i + 1),
            message: message.into(),
        }
    }
}

/// Reads a CSV file with a header line. `#` starts a comment line; surrounding blanks are
/// trimmed. `convert` turns each record into a value or names the bad field. All errors
/// are collected; the result is all rows or all errors.
pub(crate) fn read_csv<T>(
    path: &Path,
    required: &[&str],
    optional: &[&str],
    mut convert: impl FnMut(&Row<'_>) -> Result<T, FieldError>,
) -> Result<Vec<T>, ImportError> {
    let file = path.to_path_buf();
    let mut reader = csv::ReaderBuilder::new()
        .comment(Some(b'#'))
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| io_error(&file, e))?;
    let headers = reader.headers().map_err(|e| io_error(&file, e))?.clone();
    let mut columns = HashMap::new();
    for (i, h) in headers.iter().enumerate() {
        let name = h.to_ascii_lowercase();
        if !required.contains(&name.as_str()) && !optional.contains(&name.as_str()) {
            return Err(ImportError::UnknownColumn {
                file,
                column: h.to_owned(),
                known: required
                    .iter()
                    .chain(optional)
                    .copied()
                    .collect::<Vec<_>>()
                    .join(","),
            });
        }
        columns.insert(name, i);
    }
    if let Some(missing) = required.iter().find(|c| !columns.contains_key(**c)) {
        return Err(ImportError::MissingColumn {
            file,
            column: (*missing).to_owned(),
        });
    }
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map_or(0, csv::Position::line);
                match convert(&Row {
                    record: &record,
                    columns: &columns,
                }) {
                    Ok(v) => out.push(v),
                    Err(e) => errors.push(RowError {
                        line,
                        column: e.column,
                        field: e.field,
                        message: e.message,
                    }),
                }
            }
            Err(e) => {
                let line = e.position().map_or(0, csv::Position::line);
                if let csv::ErrorKind::Io(_) = e.kind() {
                    return Err(io_error(&file, e));
                }
                errors.push(RowError {
                    line,
                    column: None,
                    field: "record".to_owned(),
                    message: match e.kind() {
                        csv::ErrorKind::UnequalLengths {
                            expected_len, len, ..
                        } => format!("{len} fields, the header has {expected_len}"),
                        _ => e.to_string(),
                    },
                });
            }
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(ImportError::Rows { file, errors })
    }
}

fn io_error(file: &Path, e: csv::Error) -> ImportError {
    let source = match e.into_kind() {
        csv::ErrorKind::Io(io) => io,
        other => std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{other:?}")),
    };
    ImportError::Io {
        file: file.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write_tmp(content: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(content.as_bytes()).unwrap();
        f
    }

    /// A Luhn-valid 19-digit ICCID built from an 18-digit body.
    fn iccid(body: &str) -> String {
        format!("{body}{}", luhn_check_digit(body.as_bytes()))
    }

    #[test]
    fn identities() {
        let good = iccid("894450010219830482");
        assert!(Iccid::parse(&good).is_ok());
        let mut bad = good.clone();
        let last = bad.pop().unwrap();
        bad.push(if last == '9' { '0' } else { '9' });
        assert!(Iccid::parse(&bad).unwrap_err().contains("check digit"));
        assert!(Iccid::parse("1234").is_err());
        assert!(Imsi::parse("208011234567890").is_ok());
        assert!(Imsi::parse("2080112345678901").is_err());
        assert_eq!(
            Msisdn::parse("+33612345678").unwrap().as_str(),
            "33612345678"
        );
        assert!(Msisdn::parse("+").is_err());
        assert!(Msisdn::parse("06-12").is_err());
        let k = RegistrationKey::parse_hex("000102030405060708090A0B0C0D0E0F").unwrap();
        assert_eq!(k.0[15], 15);
        assert_eq!(format!("{k:?}"), "RegistrationKey(..)");
        assert!(RegistrationKey::parse_hex("0001").is_err());
        assert!(RegistrationKey::parse_hex(&"zz".repeat(16)).is_err());
    }

    #[test]
    fn cards_csv_good() {
        let a = iccid("894450010000000001");
        let b = iccid("894450010000000002");
        let f = write_tmp(&format!(
            "# from the SIM vendor, batch 7\n\
             iccid,imsi,msisdn,key\n\
             {a},208011000000001,+33600000001,000102030405060708090a0b0c0d0e0f\n\
             # a comment in the middle\n\
             \"{b}\", 208011000000002 ,,FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF\n"
        ));
        let cards = read_cards_csv(f.path()).unwrap();
        assert_eq!(cards.len(), 2);
        assert_eq!(cards[0].msisdn.as_ref().unwrap().as_str(), "33600000001");
        assert_eq!(cards[1].msisdn, None);
        assert_eq!(cards[1].imsi.as_str(), "208011000000002");
        assert_eq!(cards[1].key.0, [0xff; 16]);
    }

    #[test]
    fn cards_csv_bad_rows() {
        let a = iccid("894450010000000001");
        let b = iccid("894450010000000002");
        let c = iccid("894450010000000003");
        let f = write_tmp(&format!(
            "iccid,imsi,msisdn,key\n\
             # comment lines count as lines\n\
             {a},208011000000001,,000102030405060708090a0b0c0d0e0f\n\
             {a}1,208011000000002,,000102030405060708090a0b0c0d0e0f\n\
             {b},208011000000001,,000102030405060708090a0b0c0d0e0f\n\
             {c},208011000000003,,000102\n\
             {c},208011000000004\n"
        ));
        let err = read_cards_csv(f.path()).unwrap_err();
        let ImportError::Rows { errors, .. } = &err else {
            panic!("{err}")
        };
        let got: Vec<_> = errors
            .iter()
            .map(|e| (e.line, e.column, e.field.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (4, Some(1), "iccid"),
                (5, Some(2), "imsi"),
                (6, Some(4), "key"),
                (7, None, "record"),
            ],
            "{err}"
        );
        let text = err.to_string();
        assert!(text.contains(":6: column 4 (key): a registration key is 32 hex digits"));
        assert!(
            text.contains(":7: (record): 2 fields, the header has 4"),
            "{text}"
        );
    }

    #[test]
    fn cards_csv_header_problems() {
        let f = write_tmp("iccid,imsi,msisdn,kye\n");
        assert!(matches!(
            read_cards_csv(f.path()).unwrap_err(),
            ImportError::UnknownColumn { column, .. } if column == "kye"
        ));
        let f = write_tmp("iccid,imsi\n");
        assert!(matches!(
            read_cards_csv(f.path()).unwrap_err(),
            ImportError::MissingColumn { column, .. } if column == "key"
        ));
        let err = read_cards_csv(Path::new("/nonexistent/cards.csv")).unwrap_err();
        assert!(
            err.to_string().starts_with("/nonexistent/cards.csv: "),
            "{err}"
        );
    }
}
