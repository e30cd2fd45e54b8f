//! PC/SC backend: a real (or vpcd-virtual) reader behind `pcscd`, via the `pcsc` crate.
//!
//! Gotcha (`/work/shared/research/tools-on-these-machines.md` §2): dropping a
//! `pcsc::Card` disconnects with `SCARD_RESET_CARD`, which resets the card (vpcd
//! control byte `02`). [`PcscReader`] therefore disconnects explicitly: on drop with the
//! disposition chosen by [`PcscReader::set_drop_disposition`] (default: leave the card
//! alone), in [`PcscReader::release`] with `LeaveCard`, in
//! [`CardReader::power_off`] with `UnpowerCard`.

use std::ffi::{CStr, CString};

use ::pcsc as sc;
use tracing::{debug, warn};

use super::{CardReader, Protocol, ReaderError, Result, check_response};

/// How to pick a reader among those `pcscd` lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReaderSelector {
    /// The reader whose name is exactly this.
    Exact(String),
    /// The only reader whose name contains this (ambiguous → error).
    Substring(String),
    /// The n-th reader (0-based) in `pcscd`'s list order.
    Index(usize),
    /// Exact name first; else, if the text is a number, that index; else a unique
    /// substring. What the command line's `--reader` uses.
    Auto(String),
}

impl ReaderSelector {
    /// Picks one name from `names` (pcscd's list order).
    pub fn choose<'a>(&self, names: &'a [String]) -> Result<&'a str> {
        let no_reader = |what: String| {
            let known = if names.is_empty() {
                "no readers at all".to_owned()
            } else {
                format!("readers: {}", names.join(", "))
            };
            ReaderError::NoReader(format!("{what} ({known})"))
        };
        match self {
            Self::Exact(n) => names
                .iter()
                .find(|r| *r == n)
                .map(String::as_str)
                .ok_or_else(|| no_reader(format!("no reader named {n:?}"))),
            Self::Index(i) => names
                .get(*i)
                .map(String::as_str)
                .ok_or_else(|| no_reader(format!("no reader with index {i}"))),
            Self::Substring(s) => {
                let mut hits = names.iter().filter(|r| r.contains(s.as_str()));
                match (hits.next(), hits.next()) {
                    (Some(one), None) => Ok(one.as_str()),
                    (None, _) => Err(no_reader(format!("no reader name contains {s:?}"))),
                    (Some(_), Some(_)) => Err(no_reader(format!(
                        "more than one reader name contains {s:?}"
                    ))),
                }
            }
            Self::Auto(text) => {
                if let Ok(name) = Self::Exact(text.clone()).choose(names) {
                    return Ok(name);
                }
                if let Ok(i) = text.parse::<usize>() {
                    return Self::Index(i).choose(names);
                }
                Self::Substring(text.clone()).choose(names)
            }
        }
    }
}

/// Maps a PC/SC error onto the reader error the caller can act on.
impl From<sc::Error> for ReaderError {
    fn from(e: sc::Error) -> Self {
        use sc::Error as E;
        match e {
            E::NoService | E::ServiceStopped | E::Shutdown => ReaderError::NoService,
            E::NoReadersAvailable => ReaderError::NoReader("no readers available".to_owned()),
            E::UnknownReader | E::ReaderUnavailable => ReaderError::NoReader(e.to_string()),
            E::NoSmartcard => ReaderError::NoCard,
            E::RemovedCard => ReaderError::CardRemoved,
            E::ResetCard => ReaderError::CardReset,
            E::UnpoweredCard => ReaderError::NotPowered,
            E::SharingViolation => ReaderError::Busy,
            E::Timeout | E::WaitedTooLong => ReaderError::Timeout,
            E::ProtoMismatch
            | E::UnresponsiveCard
            | E::UnsupportedCard
            | E::CardUnsupported
            | E::InvalidAtr
            | E::CommError
            | E::CommDataLost => ReaderError::Protocol(e.to_string()),
            // What SCardTransmit reports when the driver's exchange failed (for vpcd:
            // the virtual card went away mid-command).
            E::NotTransacted => {
                ReaderError::Protocol("the reader could not exchange data with the card".into())
            }
            other => ReaderError::Other(other.to_string()),
        }
    }
}

/// Lists the readers `pcscd` knows, in its order.
///
/// An empty list is `Ok(vec![])`; a missing `pcscd` is [`ReaderError::NoService`].
pub fn list_readers() -> Result<Vec<String>> {
    let ctx = sc::Context::establish(sc::Scope::User)?;
    names_of(&ctx)
}

fn names_of(ctx: &sc::Context) -> Result<Vec<String>> {
    match ctx.list_readers_owned() {
        Ok(names) => Ok(names
            .into_iter()
            .map(|n| n.to_string_lossy().into_owned())
            .collect()),
        Err(sc::Error::NoReadersAvailable) => Ok(Vec::new()),
        Err(e) => Err(e.into()),
    }
}

/// Length of the ATR at the start of `atr` from its own structure (ISO 7816-3 §8.2:
/// TS, T0, the interface bytes announced by T0/TDi, K historical bytes, and TCK when
/// any TDi names a protocol other than T=0). `None` if `atr` is too short.
pub fn atr_length(atr: &[u8]) -> Option<usize> {
    let t0 = *atr.get(1)?;
    let mut y = t0 >> 4;
    let historical = usize::from(t0 & 0x0F);
    let mut i = 2usize;
    let mut tck = false;
    loop {
        i += usize::from(y & 0x07).count_ones() as usize;
        if y & 0x08 == 0 {
            break;
        }
        let td = *atr.get(i)?;
        i += 1;
        y = td >> 4;
        tck |= td & 0x0F != 0;
    }
    i += historical + usize::from(tck);
    (i <= atr.len()).then_some(i)
}

/// Drops zero padding after the ATR. pcscd with the vpcd driver sometimes reports the
/// ATR padded with `00` to 33 bytes (`MAX_ATR_SIZE`) after it powered an idle card down
/// and up again (seen with pcscd 1.9.9 / vsmartcard-vpcd 3.3; vpcd's `IFDHPowerICC`
/// leaves the length untouched on power-down). Anything else is returned unchanged.
fn trim_atr(atr: &[u8]) -> &[u8] {
    match atr_length(atr) {
        Some(n) if atr[n..].iter().all(|b| *b == 0) => &atr[..n],
        _ => atr,
    }
}

/// A PC/SC reader slot; connects to the card on [`CardReader::power_on`].
///
/// Shares the card (`SCARD_SHARE_SHARED`) and lets `pcscd` negotiate T=0 or T=1
/// (`SCARD_PROTOCOL_ANY`); [`CardReader::protocol`] reports the outcome.
pub struct PcscReader {
    ctx: sc::Context,
    name: String,
    cname: CString,
    card: Option<sc::Card>,
    protocol: Protocol,
    drop_disposition: sc::Disposition,
}

impl std::fmt::Debug for PcscReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcscReader")
            .field("name", &self.name)
            .field("connected", &self.card.is_some())
            .field("protocol", &self.protocol)
            .finish()
    }
}

impl PcscReader {
    /// Opens the reader chosen by `selector`. Does not touch the card yet.
    pub fn open(selector: &ReaderSelector) -> Result<Self> {
        let ctx = sc::Context::establish(sc::Scope::User)?;
        let names = names_of(&ctx)?;
        let name = selector.choose(&names)?.to_owned();
        let cname = CString::new(name.clone())
            .map_err(|_| ReaderError::NoReader(format!("reader name {name:?} contains NUL")))?;
        Ok(Self {
            ctx,
            name,
            cname,
            card: None,
            protocol: Protocol::T0,
            drop_disposition: sc::Disposition::LeaveCard,
        })
    }

    /// Opens the reader with exactly this name.
    pub fn open_exact(name: &str) -> Result<Self> {
        Self::open(&ReaderSelector::Exact(name.to_owned()))
    }

    /// What happens to the card when this reader is dropped while connected:
    /// `LeaveCard` (default — card state survives), `ResetCard` (what a bare
    /// `pcsc::Card` does), `UnpowerCard`.
    pub fn set_drop_disposition(&mut self, disposition: sc::Disposition) {
        self.drop_disposition = disposition;
    }

    /// Whether a card connection is open.
    pub fn is_connected(&self) -> bool {
        self.card.is_some()
    }

    /// Disconnects with `SCARD_LEAVE_CARD`: the card stays powered and keeps its
    /// session state (no reset is sent). The next [`CardReader::power_on`] reconnects
    /// and power-cycles; use [`PcscReader::connect_keep`] to reconnect without that.
    pub fn release(&mut self) {
        self.disconnect(sc::Disposition::LeaveCard);
    }

    /// Connects to the card without resetting it (if already powered by `pcscd`,
    /// session state is kept); returns the ATR.
    pub fn connect_keep(&mut self) -> Result<Vec<u8>> {
        if self.card.is_none() {
            let card = self
                .ctx
                .connect(&self.cname, sc::ShareMode::Shared, sc::Protocols::ANY)?;
            self.card = Some(card);
        }
        self.status()
    }

    fn disconnect(&mut self, disposition: sc::Disposition) {
        if let Some(card) = self.card.take() {
            debug!(reader = %self.name, ?disposition, "disconnect");
            if let Err((card, e)) = card.disconnect(disposition) {
                warn!(reader = %self.name, error = %e, "disconnect failed");
                // Dropping resets the card; nothing better is possible.
                drop(card);
            }
        }
    }

    fn card(&self) -> Result<&sc::Card> {
        self.card.as_ref().ok_or(ReaderError::NotPowered)
    }

    /// Reads ATR and active protocol of the connected card.
    fn status(&mut self) -> Result<Vec<u8>> {
        let status = self.card()?.status2_owned()?;
        self.protocol = match status.protocol2() {
            Some(sc::Protocol::T1) => Protocol::T1,
            _ => Protocol::T0,
        };
        let atr = trim_atr(status.atr());
        debug!(reader = %self.name, protocol = ?self.protocol, atr = %hex::encode_upper(atr), "connected");
        Ok(atr.to_vec())
    }

    fn reinit(&mut self, how: sc::Disposition) -> Result<Vec<u8>> {
        match self.card.as_mut() {
            Some(card) => {
                card.reconnect(sc::ShareMode::Shared, sc::Protocols::ANY, how)?;
                self.status()
            }
            None => self.connect_keep(),
        }
    }

    /// The reader name as a C string (for callers using the `pcsc` crate directly).
    pub fn c_name(&self) -> &CStr {
        &self.cname
    }
}

impl CardReader for PcscReader {
    fn name(&self) -> &str {
        &self.name
    }

    /// Connects if needed; an open connection is power-cycled (`SCardReconnect` with
    /// `SCARD_UNPOWER_CARD`).
    fn power_on(&mut self) -> Result<Vec<u8>> {
        self.reinit(sc::Disposition::UnpowerCard)
    }

    /// Connects if needed; an open connection gets a warm reset (`SCARD_RESET_CARD`).
    fn reset(&mut self) -> Result<Vec<u8>> {
        self.reinit(sc::Disposition::ResetCard)
    }

    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; sc::MAX_BUFFER_SIZE_EXTENDED];
        let rsp = self.card()?.transmit(apdu, &mut buf)?;
        check_response(rsp.to_vec())
    }

    fn power_off(&mut self) {
        self.disconnect(sc::Disposition::UnpowerCard);
    }

    fn protocol(&self) -> Protocol {
        self.protocol
    }
}

impl Drop for PcscReader {
    fn drop(&mut self) {
        self.disconnect(self.drop_disposition);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        // The two vpcd slots as pcscd names them (/work/shared/spec/07-vpcd.md §1).
        vec![
            "Virtual PCD 00 00".to_owned(),
            "Virtual PCD 00 01".to_owned(),
        ]
    }

    #[test]
    fn selectors_pick_the_right_reader() {
        let n = names();
        let exact = ReaderSelector::Exact("Virtual PCD 00 01".into());
        assert_eq!(exact.choose(&n).unwrap(), "Virtual PCD 00 01");
        assert_eq!(
            ReaderSelector::Index(0).choose(&n).unwrap(),
            "Virtual PCD 00 00"
        );
        let sub = ReaderSelector::Substring("00 01".into());
        assert_eq!(sub.choose(&n).unwrap(), "Virtual PCD 00 01");
        assert_eq!(
            ReaderSelector::Auto("1".into()).choose(&n).unwrap(),
            "Virtual PCD 00 01"
        );
        assert_eq!(
            ReaderSelector::Auto("Virtual PCD 00 00".into())
                .choose(&n)
                .unwrap(),
            "Virtual PCD 00 00"
        );
        assert_eq!(
            ReaderSelector::Auto("PCD 00 00".into()).choose(&n).unwrap(),
            "Virtual PCD 00 00"
        );
    }

    #[test]
    fn selectors_report_misses_and_ambiguity() {
        let n = names();
        for sel in [
            ReaderSelector::Exact("Virtual PCD".into()),
            ReaderSelector::Index(2),
            ReaderSelector::Substring("Virtual".into()),
            ReaderSelector::Substring("Gemalto".into()),
            ReaderSelector::Auto("7".into()),
        ] {
            let err = sel.choose(&n).unwrap_err();
            assert!(matches!(err, ReaderError::NoReader(_)), "{sel:?}: {err}");
            assert!(err.to_string().contains("Virtual PCD 00 00"), "{err}");
        }
        let none = ReaderSelector::Index(0).choose(&[]).unwrap_err();
        assert!(none.to_string().contains("no readers at all"));
    }

    #[test]
    fn atr_length_follows_the_interface_bytes() {
        // T=0 UICC ATR (01-apdu.md §4): TA1, TD1(T=0), TD2(T=15), TA3, 15 historical, TCK.
        let usim =
            hex::decode("3B9F96801FC78031A073BE2113674320071800 0001A5".replace(' ', "")).unwrap();
        assert_eq!(atr_length(&usim), Some(22));
        // T=1 ATR of the vpicc crate (01-apdu.md §4).
        let t1 = hex::decode("3B9513810180 73FF01000B".replace(' ', "")).unwrap();
        assert_eq!(atr_length(&t1), Some(11));
        // No TD1: T=0 only, no TCK.
        assert_eq!(atr_length(&[0x3B, 0x02, 0x14, 0x50]), Some(4));
        assert_eq!(atr_length(&[0x3B, 0x9F, 0x96]), None);
        assert_eq!(atr_length(&[0x3B]), None);

        let mut padded = usim.clone();
        padded.resize(33, 0);
        assert_eq!(trim_atr(&padded), &usim[..]);
        let mut junk = usim.clone();
        junk.push(0x01);
        assert_eq!(trim_atr(&junk), &junk[..]);
        assert_eq!(trim_atr(&[0x3B]), &[0x3B]);
    }

    #[test]
    fn pcsc_errors_map_to_clear_variants() {
        assert!(matches!(
            ReaderError::from(sc::Error::NoService),
            ReaderError::NoService
        ));
        assert!(
            ReaderError::NoService
                .to_string()
                .contains("pcscd is not running")
        );
        assert!(matches!(
            ReaderError::from(sc::Error::NoSmartcard),
            ReaderError::NoCard
        ));
        assert!(matches!(
            ReaderError::from(sc::Error::RemovedCard),
            ReaderError::CardRemoved
        ));
        assert!(matches!(
            ReaderError::from(sc::Error::ResetCard),
            ReaderError::CardReset
        ));
        assert!(matches!(
            ReaderError::from(sc::Error::Timeout),
            ReaderError::Timeout
        ));
        assert!(matches!(
            ReaderError::from(sc::Error::UnknownReader),
            ReaderError::NoReader(_)
        ));
        assert!(matches!(
            ReaderError::from(sc::Error::InsufficientBuffer),
            ReaderError::Other(_)
        ));
    }
}
