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
//! - `card-clock-ms`: the card clock in ms (default 0);
//! - `card-clock`: `fixed` (default: the clock stands at `card-clock-ms` for the whole
//!   replay) or `follows-time` (the clock at each event is `card-clock-ms` plus the
//!   event's time in whole ms — traces of scenario cards, whose applet reads the card
//!   clock for its retry timers and rate limits);
//! - `nvm-cut`: NVM power cuts to arm during the replay, `; `-separated, each
//!   `after-event=E write=W torn=T`: before event E+1 (E events replayed), arm a cut
//!   at the card's NVM write number W (counted since the card was made, personalisation
//!   included) torn after T bytes — what `applet::card::nvm::Nvm::cut_power_at` does.
//!
//! [`CardTimeline`] reads these fields; [`replay_card`] replays with them.

use std::path::{Path, PathBuf};

use crate::reader::sim::SimulatedReader;
use crate::reader::{CardReader, Protocol, Result as ReaderResult};
use crate::terminal::uicc::{CardClock, CardFile, SimulatedUicc};

use super::replay::{ReplayOptions, ReplayOutcome, replay_with};
use super::{Header, Trace};

/// Header key of the fixed card clock (ms) a trace was recorded with.
pub const CARD_CLOCK_KEY: &str = "card-clock-ms";

/// Header key saying how the card clock moves during a replay: `fixed` (default) or
/// [`FOLLOWS_TIME`].
pub const CARD_CLOCK_MODE_KEY: &str = "card-clock";

/// [`CARD_CLOCK_MODE_KEY`] value: the card clock at each event is `card-clock-ms` plus
/// the event's time (whole ms).
pub const FOLLOWS_TIME: &str = "follows-time";

/// Header key of the NVM power cuts armed during the recording.
pub const NVM_CUT_KEY: &str = "nvm-cut";

/// An NVM power cut armed during a recording (header [`NVM_CUT_KEY`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NvmCut {
    /// Number of events recorded before the cut was armed.
    pub after_event: usize,
    /// Write number (since the card was made) that tears
    /// (`applet::card::nvm::Nvm::cut_power_at`).
    pub write: u32,
    /// Bytes of that write that reach the image.
    pub torn: usize,
}

impl std::fmt::Display for NvmCut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "after-event={} write={} torn={}",
            self.after_event, self.write, self.torn
        )
    }
}

impl NvmCut {
    /// Parses `after-event=E write=W torn=T`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut after_event = None;
        let mut write = None;
        let mut torn = None;
        for part in s.split_whitespace() {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?}: expected key=value"))?;
            let bad = || format!("{part:?}: {v:?} is not a number");
            match k {
                "after-event" => after_event = Some(v.parse().map_err(|_| bad())?),
                "write" => write = Some(v.parse().map_err(|_| bad())?),
                "torn" => torn = Some(v.parse().map_err(|_| bad())?),
                _ => return Err(format!("{part:?}: unknown key {k:?}")),
            }
        }
        match (after_event, write, torn) {
            (Some(after_event), Some(write), Some(torn)) => Ok(NvmCut {
                after_event,
                write,
                torn,
            }),
            _ => Err(format!(
                "{s:?}: expected after-event=EVENTS write=WRITE torn=BYTES"
            )),
        }
    }

    /// Writes a list as the header value (`; `-separated).
    pub fn list(cuts: &[NvmCut]) -> String {
        cuts.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// How the card's surroundings move during a replay: its clock and the NVM power cuts
/// of the recording (header fields `card-clock-ms`, `card-clock`, `nvm-cut`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CardTimeline {
    /// Card clock (ms) at time `+0` of the trace, or for the whole replay when fixed.
    pub clock_ms: u64,
    /// Whether the clock follows the events' times.
    pub follows_time: bool,
    /// Power cuts to arm.
    pub cuts: Vec<NvmCut>,
}

impl CardTimeline {
    /// A clock fixed at `clock_ms`, no cuts.
    pub fn fixed(clock_ms: u64) -> Self {
        CardTimeline {
            clock_ms,
            ..Self::default()
        }
    }

    /// Reads the header fields; a bad value is an error naming the field.
    pub fn from_header(header: &Header) -> Result<Self, String> {
        let clock_ms = card_clock_ms(header)?;
        let follows_time = match header.get(CARD_CLOCK_MODE_KEY).map(str::trim) {
            None | Some("fixed") => false,
            Some(FOLLOWS_TIME) => true,
            Some(v) => {
                return Err(format!(
                    "header {CARD_CLOCK_MODE_KEY}: {v:?} (expected fixed or {FOLLOWS_TIME})"
                ));
            }
        };
        let cuts = match header.get(NVM_CUT_KEY) {
            None => Vec::new(),
            Some(v) => v
                .split(';')
                .filter(|p| !p.trim().is_empty())
                .map(NvmCut::parse)
                .collect::<Result<_, _>>()
                .map_err(|e| format!("header {NVM_CUT_KEY}: {e}"))?,
        };
        Ok(CardTimeline {
            clock_ms,
            follows_time,
            cuts,
        })
    }

    /// Writes the fields into `header` (`card-clock` and `nvm-cut` only when not the
    /// defaults).
    pub fn to_header(&self, header: &mut Header) {
        header.set(CARD_CLOCK_KEY, self.clock_ms.to_string());
        if self.follows_time {
            header.set(CARD_CLOCK_MODE_KEY, FOLLOWS_TIME);
        }
        if !self.cuts.is_empty() {
            header.set(NVM_CUT_KEY, NvmCut::list(&self.cuts));
        }
    }

    /// What it says, for messages: `card clock 0 ms` / `card clock from 120000 ms
    /// following the trace times, 1 NVM cut`.
    pub fn describe(&self) -> String {
        let mut s = if self.follows_time {
            format!(
                "card clock from {} ms following the trace times",
                self.clock_ms
            )
        } else {
            format!("card clock {} ms", self.clock_ms)
        };
        if !self.cuts.is_empty() {
            s.push_str(&format!(", {} NVM power cut(s)", self.cuts.len()));
        }
        s
    }
}

/// Replays `trace` against `card` (normally [`fresh_card`] or a scenario card built
/// the engine's way) in a [`SimulatedReader`], moving the card's clock and arming its
/// power cuts as `timeline` says. The card is powered off at the end.
pub fn replay_card(
    trace: &Trace,
    card: SimulatedUicc,
    timeline: &CardTimeline,
    opts: ReplayOptions,
) -> ReplayOutcome {
    let clock = card.clock();
    clock.set(timeline.clock_ms);
    let mut reader = SimulatedReader::new(card);
    let outcome = replay_with(trace, &mut reader, opts, |i, entry, r| {
        if timeline.follows_time
            && let Some(t) = entry.time
        {
            let ms = u64::try_from(t.as_millis()).unwrap_or(u64::MAX);
            clock.set(timeline.clock_ms.saturating_add(ms));
        }
        for cut in timeline.cuts.iter().filter(|c| c.after_event == i) {
            r.card_mut()
                .card_mut()
                .store_mut()
                .nvm_mut()
                .cut_power_at(cut.write, cut.torn);
        }
    });
    reader.power_off();
    outcome
}

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
    fn timeline_header_round_trip_and_errors() {
        let mut h = Header::default();
        assert_eq!(CardTimeline::from_header(&h), Ok(CardTimeline::fixed(0)));
        let t = CardTimeline {
            clock_ms: 5000,
            follows_time: true,
            cuts: vec![
                NvmCut {
                    after_event: 12,
                    write: 340,
                    torn: 3,
                },
                NvmCut {
                    after_event: 40,
                    write: 401,
                    torn: 0,
                },
            ],
        };
        t.to_header(&mut h);
        assert_eq!(h.get(CARD_CLOCK_MODE_KEY), Some(FOLLOWS_TIME));
        assert_eq!(
            h.get(NVM_CUT_KEY),
            Some("after-event=12 write=340 torn=3; after-event=40 write=401 torn=0")
        );
        assert_eq!(CardTimeline::from_header(&h), Ok(t));
        h.set(CARD_CLOCK_MODE_KEY, "wall");
        let e = CardTimeline::from_header(&h).unwrap_err();
        assert!(e.contains("card-clock"), "{e}");
        h.set(CARD_CLOCK_MODE_KEY, "fixed");
        h.set(NVM_CUT_KEY, "after-event=1 write=x torn=0");
        let e = CardTimeline::from_header(&h).unwrap_err();
        assert!(e.contains("nvm-cut") && e.contains("not a number"), "{e}");
        h.set(NVM_CUT_KEY, "after-event=1 torn=0");
        assert!(CardTimeline::from_header(&h).is_err());
    }

    /// A cut named in the timeline reaches the card at the recorded point: a wrong
    /// VERIFY recorded while a cut was armed (its PIN-counter write tears) replays
    /// identically with the cut, and diverges without it.
    #[test]
    fn a_cut_armed_by_the_timeline_reaches_the_card() {
        let p = applet::card::test_personalisation();
        let make = || {
            SimulatedUicc::with_nvm(&p, applet::card::CardNvm::new(), CardClock::manual()).unwrap()
        };
        let mut rec = SimulatedReader::new(make());
        let atr = rec.power_on().unwrap();
        let write = rec.card().nvm_writes();
        rec.card_mut()
            .card_mut()
            .store_mut()
            .nvm_mut()
            .cut_power_at(write, 0);
        let verify = hex::decode("002000010830303030FFFFFFFF").unwrap();
        let rsp = rec.transmit(&verify).unwrap();
        let mut plain = SimulatedReader::new(make());
        plain.power_on().unwrap();
        let uncut = plain.transmit(&verify).unwrap();
        assert_ne!(rsp, uncut, "the cut must change the answer");
        let mut trace = Trace::new();
        trace.push_power_on(Some(std::time::Duration::ZERO), &atr);
        trace.push_exchange(Some(std::time::Duration::from_millis(1)), &verify, &rsp);
        let with_cut = CardTimeline {
            cuts: vec![NvmCut {
                after_event: 1,
                write,
                torn: 0,
            }],
            ..CardTimeline::fixed(0)
        };
        let out = replay_card(&trace, make(), &with_cut, ReplayOptions::default());
        assert!(out.passed(), "{:?}", out.divergence);
        let out = replay_card(
            &trace,
            make(),
            &CardTimeline::fixed(0),
            ReplayOptions::default(),
        );
        let d = out
            .divergence
            .expect("without the cut the card answers otherwise");
        assert_eq!(d.exchange, 1);
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
