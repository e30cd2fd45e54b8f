//! Replay against the project's own card, freshly personalised in this process.
//!
//! `imeitrack trace replay FILE --card CARD.toml` and the golden-trace test
//! (`handset-sim/tests/trace_golden.rs`) build a [`SimulatedUicc`] from a
//! [`CardFile`], on a blank NVM, with a *fixed* card clock (the card's `now_ms` enters
//! its registration rate-limit record, so a wall clock would make answers depend on
//! when the replay runs), and put it in a [`SimulatedReader`].
//!
//! Header fields used (`docs/traces.md` §6):
//! - `card`: the card file the trace was recorded with — a path, relative to the
//!   current directory or to any directory above the trace file (so
//!   `handset-sim/cards/example.toml` works from the workspace root and from
//!   `tests/traces/`);
//! - `card-clock-ms`: the card clock in ms (default 0).

use std::path::{Path, PathBuf};

use crate::reader::sim::SimulatedReader;
use crate::reader::{CardReader, Protocol, Result as ReaderResult};
use crate::terminal::uicc::{CardClock, CardFile, SimulatedUicc};

use super::Header;

/// Header key of the fixed card clock (ms) a trace was recorded with.
pub const CARD_CLOCK_KEY: &str = "card-clock-ms";

/// The fixed card clock of a trace: header `card-clock-ms`, default 0.
pub fn card_clock_ms(header: &Header) -> Result<u64, String> {
    match header.get(CARD_CLOCK_KEY) {
        None => Ok(0),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| format!("header {CARD_CLOCK_KEY}: {v:?} is not a number of ms")),
    }
}

/// Finds the card file a header names (`card:`): absolute as is; relative to the
/// current directory, else to each directory above `trace` (nearest first).
pub fn find_card_file(header: &Header, trace: Option<&Path>) -> Option<PathBuf> {
    let name = Path::new(header.get("card")?.trim());
    if name.extension().is_none_or(|e| e != "toml") {
        return None;
    }
    if name.is_absolute() || name.is_file() {
        return name.is_file().then(|| name.to_path_buf());
    }
    let dir = trace?.canonicalize().ok()?;
    dir.ancestors()
        .skip(1)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// A card personalised from `file` on a blank NVM, its clock fixed at `clock_ms`.
pub fn fresh_card(file: &CardFile, clock_ms: u64) -> Result<SimulatedUicc, String> {
    let p = file.personalisation()?;
    SimulatedUicc::with_nvm(&p, applet::card::CardNvm::new(), CardClock::fixed(clock_ms))
        .map_err(|f| format!("personalisation failed: {f:?}"))
}

/// A simulated reader holding a card that returns to its freshly personalised state at
/// every cold reset (`POWER_ON`): a trace made of many recorded first-use sessions then
/// replays every session against a new card, as the benchmark of `docs/traces.md` §7
/// does. Warm resets keep the card's state.
#[derive(Debug)]
pub struct PristineReader {
    pristine: SimulatedUicc,
    reader: SimulatedReader<SimulatedUicc>,
}

impl PristineReader {
    /// A reader with a copy of `card`, which is restored at every cold reset.
    pub fn new(card: SimulatedUicc) -> Self {
        Self {
            reader: SimulatedReader::new(card.clone()),
            pristine: card,
        }
    }

    /// The card in the slot now.
    pub fn card(&self) -> &SimulatedUicc {
        self.reader.card()
    }
}

impl CardReader for PristineReader {
    fn name(&self) -> &str {
        self.reader.name()
    }
    fn power_on(&mut self) -> ReaderResult<Vec<u8>> {
        self.reader.power_off();
        self.reader.card_mut().clone_from(&self.pristine);
        self.reader.power_on()
    }
    fn reset(&mut self) -> ReaderResult<Vec<u8>> {
        self.reader.reset()
    }
    fn transmit(&mut self, apdu: &[u8]) -> ReaderResult<Vec<u8>> {
        self.reader.transmit(apdu)
    }
    fn power_off(&mut self) {
        self.reader.power_off()
    }
    fn protocol(&self) -> Protocol {
        Protocol::T0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_header() {
        let mut h = Header::default();
        assert_eq!(card_clock_ms(&h), Ok(0));
        h.set(CARD_CLOCK_KEY, "86400000");
        assert_eq!(card_clock_ms(&h), Ok(86_400_000));
        h.set(CARD_CLOCK_KEY, "soon");
        assert!(card_clock_ms(&h).is_err());
    }

    #[test]
    fn card_file_found_above_the_trace() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("cards")).unwrap();
        std::fs::create_dir_all(root.path().join("tests/traces")).unwrap();
        std::fs::write(root.path().join("cards/c.toml"), "").unwrap();
        let trace = root.path().join("tests/traces/t.apdu");
        std::fs::write(&trace, "").unwrap();
        let mut h = Header::default();
        h.set("card", "cards/c.toml");
        assert_eq!(
            find_card_file(&h, Some(&trace)),
            Some(root.path().join("cards/c.toml").canonicalize().unwrap())
        );
        h.set("card", "cards/missing.toml");
        assert_eq!(find_card_file(&h, Some(&trace)), None);
        h.set("card", "handset-sim test card");
        assert_eq!(find_card_file(&h, Some(&trace)), None);
    }
}
