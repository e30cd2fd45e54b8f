//! Networks, operators (MNOs and MVNOs) and where each handset is attached.
//!
//! A [`Network`] is a radio network with a PLMN identity, one serving cell and an SMSC
//! address. An [`Operator`] owns subscribers (by IMSI prefix = its home PLMN); an MVNO
//! has its own MCC/MNC but rides on a host network. Handsets attach to a network by
//! MSISDN/IMSI; the location information a handset reports comes from that network.

use std::collections::BTreeMap;
use std::fmt;

/// A PLMN identity: MCC + MNC (TS 23.003 §2.2, §12.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Plmn {
    /// Mobile country code, 3 digits (0..=999).
    pub mcc: u16,
    /// Mobile network code (0..=999).
    pub mnc: u16,
    /// Whether the MNC has three digits (else two).
    pub three_digit_mnc: bool,
}

impl Plmn {
    /// A PLMN with a two-digit MNC.
    pub const fn new(mcc: u16, mnc: u16) -> Self {
        Plmn {
            mcc,
            mnc,
            three_digit_mnc: false,
        }
    }

    /// A PLMN with a three-digit MNC.
    pub const fn new_three_digit(mcc: u16, mnc: u16) -> Self {
        Plmn {
            mcc,
            mnc,
            three_digit_mnc: true,
        }
    }

    /// MCC and MNC as decimal digits, e.g. `"00101"` or `"310410"`: the IMSI prefix of
    /// this PLMN's subscribers (TS 23.003 §2.2).
    pub fn digits(&self) -> String {
        if self.three_digit_mnc {
            format!("{:03}{:03}", self.mcc % 1000, self.mnc % 1000)
        } else {
            format!("{:03}{:02}", self.mcc % 1000, self.mnc % 100)
        }
    }

    /// The 3-octet BCD form used in a location area identification
    /// (TS 24.008 §10.5.1.3): `MCC2|MCC1`, `MNC3|MCC3` (`F` for a two-digit MNC),
    /// `MNC2|MNC1`, low nibble first in each octet.
    pub fn to_bcd(&self) -> [u8; 3] {
        let d = |v: u16, p: u16| ((v / p) % 10) as u8;
        let (m1, m2, m3) = (d(self.mcc, 100), d(self.mcc, 10), d(self.mcc, 1));
        let (n1, n2, n3) = if self.three_digit_mnc {
            (d(self.mnc, 100), d(self.mnc, 10), d(self.mnc, 1))
        } else {
            (d(self.mnc, 10), d(self.mnc, 1), 0x0F)
        };
        [m2 << 4 | m1, n3 << 4 | m3, n2 << 4 | n1]
    }
}

impl fmt::Display for Plmn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.three_digit_mnc {
            write!(f, "{:03}-{:03}", self.mcc, self.mnc)
        } else {
            write!(f, "{:03}-{:02}", self.mcc, self.mnc)
        }
    }
}

/// A radio network: PLMN, serving location area and cell, and its SMSC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    /// Unique name used to refer to the network in scenarios.
    pub name: String,
    /// Network identity broadcast to handsets.
    pub plmn: Plmn,
    /// Location area code of the serving cell.
    pub lac: u16,
    /// Cell identity of the serving cell.
    pub cell_id: u16,
    /// E.164 digits of the network's SMSC (RP destination / CAT address object).
    pub smsc_address: String,
}

/// Location information as a handset reports it (ETSI TS 102 223 §8.19: MCC/MNC,
/// LAC, cell identity).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocationInformation {
    /// PLMN of the serving network.
    pub plmn: Plmn,
    /// Location area code.
    pub lac: u16,
    /// Cell identity.
    pub cell_id: u16,
}

impl LocationInformation {
    /// The 7-octet value of the location information TLV (ETSI TS 102 223 §8.19):
    /// PLMN in TS 24.008 §10.5.1.3 BCD, LAC and cell id big-endian.
    pub fn to_bytes(&self) -> [u8; 7] {
        let p = self.plmn.to_bcd();
        let [l0, l1] = self.lac.to_be_bytes();
        let [c0, c1] = self.cell_id.to_be_bytes();
        [p[0], p[1], p[2], l0, l1, c0, c1]
    }
}

/// A mobile operator: an MNO running its own network, or an MVNO with its own
/// MCC/MNC hosted on another operator's network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    /// Operator name.
    pub name: String,
    /// Home PLMN: subscribers' IMSIs start with its digits.
    pub home_plmn: Plmn,
    /// Name of the [`Network`] whose radio access the operator's subscribers use
    /// (its own for an MNO, the host's for an MVNO).
    pub host_network: String,
    /// Whether this is a mobile virtual network operator.
    pub mvno: bool,
}

/// Errors from the network registry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetworkError {
    /// No network with that name.
    #[error("unknown network {0:?}")]
    UnknownNetwork(String),
    /// A network or operator with that name already exists.
    #[error("duplicate name {0:?}")]
    Duplicate(String),
    /// The MSISDN is not attached anywhere.
    #[error("handset {0:?} is not attached")]
    NotAttached(String),
}

/// Where one handset is attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// IMSI the handset attached with.
    pub imsi: String,
    /// Name of the serving network.
    pub network: String,
    /// Whether the handset currently has radio coverage.
    pub in_coverage: bool,
}

/// All networks, operators and handset attachments of a simulated world.
#[derive(Debug, Clone, Default)]
pub struct Networks {
    networks: BTreeMap<String, Network>,
    operators: BTreeMap<String, Operator>,
    attached: BTreeMap<String, Attachment>,
}

impl Networks {
    /// An empty world.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a radio network.
    pub fn add_network(&mut self, network: Network) -> Result<(), NetworkError> {
        if self.networks.contains_key(&network.name) {
            return Err(NetworkError::Duplicate(network.name));
        }
        self.networks.insert(network.name.clone(), network);
        Ok(())
    }

    /// Adds an operator; its host network must exist.
    pub fn add_operator(&mut self, operator: Operator) -> Result<(), NetworkError> {
        if !self.networks.contains_key(&operator.host_network) {
            return Err(NetworkError::UnknownNetwork(operator.host_network));
        }
        if self.operators.contains_key(&operator.name) {
            return Err(NetworkError::Duplicate(operator.name));
        }
        self.operators.insert(operator.name.clone(), operator);
        Ok(())
    }

    /// A network by name.
    pub fn network(&self, name: &str) -> Option<&Network> {
        self.networks.get(name)
    }

    /// An operator by name.
    pub fn operator(&self, name: &str) -> Option<&Operator> {
        self.operators.get(name)
    }

    /// The operator whose home PLMN prefixes `imsi` (longest prefix wins, so a
    /// three-digit MNC is not shadowed by a two-digit one).
    pub fn operator_for_imsi(&self, imsi: &str) -> Option<&Operator> {
        self.operators
            .values()
            .filter(|o| imsi.starts_with(&o.home_plmn.digits()))
            .max_by_key(|o| o.home_plmn.digits().len())
    }

    /// The network an IMSI's operator uses (its host network for an MVNO).
    pub fn home_network_for_imsi(&self, imsi: &str) -> Option<&Network> {
        self.operator_for_imsi(imsi)
            .and_then(|o| self.networks.get(&o.host_network))
    }

    /// Attaches (or moves) a handset to `network`, in coverage.
    pub fn attach(&mut self, msisdn: &str, imsi: &str, network: &str) -> Result<(), NetworkError> {
        if !self.networks.contains_key(network) {
            return Err(NetworkError::UnknownNetwork(network.to_owned()));
        }
        self.attached.insert(
            msisdn.to_owned(),
            Attachment {
                imsi: imsi.to_owned(),
                network: network.to_owned(),
                in_coverage: true,
            },
        );
        Ok(())
    }

    /// Detaches a handset (switched off). Returns whether it was attached.
    pub fn detach(&mut self, msisdn: &str) -> bool {
        self.attached.remove(msisdn).is_some()
    }

    /// Turns radio coverage on or off for an attached handset.
    pub fn set_coverage(&mut self, msisdn: &str, in_coverage: bool) -> Result<(), NetworkError> {
        let a = self
            .attached
            .get_mut(msisdn)
            .ok_or_else(|| NetworkError::NotAttached(msisdn.to_owned()))?;
        a.in_coverage = in_coverage;
        Ok(())
    }

    /// The attachment of a handset, if any.
    pub fn attachment(&self, msisdn: &str) -> Option<&Attachment> {
        self.attached.get(msisdn)
    }

    /// Whether the handset is attached and in coverage (can send and receive SMS).
    pub fn is_reachable(&self, msisdn: &str) -> bool {
        self.attached.get(msisdn).is_some_and(|a| a.in_coverage)
    }

    /// The serving network of an attached handset.
    pub fn serving_network(&self, msisdn: &str) -> Option<&Network> {
        self.attached
            .get(msisdn)
            .and_then(|a| self.networks.get(&a.network))
    }

    /// Location information of an attached handset, from its serving network.
    pub fn location(&self, msisdn: &str) -> Option<LocationInformation> {
        self.serving_network(msisdn).map(|n| LocationInformation {
            plmn: n.plmn,
            lac: n.lac,
            cell_id: n.cell_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plmn_bcd() {
        // TS 24.008 §10.5.1.3 layout; MCC 262 / MNC 01 is the usual textbook example
        // (62 F2 10); 310/410 exercises the three-digit MNC (13 00 14).
        assert_eq!(Plmn::new(262, 1).to_bcd(), [0x62, 0xF2, 0x10]);
        assert_eq!(Plmn::new(1, 1).to_bcd(), [0x00, 0xF1, 0x10]);
        assert_eq!(Plmn::new_three_digit(310, 410).to_bcd(), [0x13, 0x00, 0x14]);
        assert_eq!(Plmn::new(1, 1).digits(), "00101");
        assert_eq!(Plmn::new_three_digit(310, 410).to_string(), "310-410");
    }

    fn world() -> Networks {
        let mut w = Networks::new();
        w.add_network(Network {
            name: "primary".into(),
            plmn: Plmn::new(1, 1),
            lac: 0x1234,
            cell_id: 0x0042,
            smsc_address: "447700900000".into(),
        })
        .unwrap();
        w.add_operator(Operator {
            name: "primary".into(),
            home_plmn: Plmn::new(1, 1),
            host_network: "primary".into(),
            mvno: false,
        })
        .unwrap();
        w.add_operator(Operator {
            name: "mvno".into(),
            home_plmn: Plmn::new_three_digit(1, 123),
            host_network: "primary".into(),
            mvno: true,
        })
        .unwrap();
        w
    }

    #[test]
    fn attach_coverage_location() {
        let mut w = world();
        assert_eq!(
            w.attach("4477", "001010000000001", "nowhere"),
            Err(NetworkError::UnknownNetwork("nowhere".into()))
        );
        assert!(!w.is_reachable("4477"));
        w.attach("4477", "001010000000001", "primary").unwrap();
        assert!(w.is_reachable("4477"));
        let loc = w.location("4477").unwrap();
        assert_eq!(loc.to_bytes(), [0x00, 0xF1, 0x10, 0x12, 0x34, 0x00, 0x42]);
        w.set_coverage("4477", false).unwrap();
        assert!(!w.is_reachable("4477"));
        assert!(w.location("4477").is_some());
        assert!(w.detach("4477"));
        assert_eq!(
            w.set_coverage("4477", true),
            Err(NetworkError::NotAttached("4477".into()))
        );
    }

    #[test]
    fn mvno_imsi_maps_to_host_network() {
        let w = world();
        assert_eq!(w.operator_for_imsi("001123000000009").unwrap().name, "mvno");
        assert_eq!(
            w.operator_for_imsi("001010000000001").unwrap().name,
            "primary"
        );
        assert_eq!(
            w.home_network_for_imsi("001123000000009").unwrap().name,
            "primary"
        );
        assert!(w.operator_for_imsi("999990000000000").is_none());
    }
}
