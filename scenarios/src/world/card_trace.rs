//! One APDU trace per card: the card's whole life in the world, across handsets.
//!
//! Built from the world's log (every [`ApduRecord`] names its card; warm resets and
//! armed NVM power cuts are [`CardMark`]s), as a [`handset_sim::trace::Trace`] in the
//! project's `.apdu` format (`docs/traces.md`): cold and warm resets with their ATRs,
//! every exchange, power-offs, with times relative to the card's first event.
//!
//! What a replay needs to be deterministic is in the header, read back by
//! [`handset_sim::trace::card::CardTimeline`]:
//! - `card-clock-ms` (the card clock at `+0`) and `card-clock: follows-time`: the
//!   times are virtual milliseconds of the world clock, which *is* the card clock
//!   (`Card::process` is given it), so the card's `now_ms` at each exchange is
//!   `card-clock-ms` plus the exchange's time — the applet's retry timers and rate
//!   limits read it;
//! - `nvm-cut`: where power cuts were armed (event count, absolute NVM write, torn
//!   bytes), since a cut is not something that crosses the contacts.
//!
//! The personalisation is not in the trace: it is derived again from the scenario
//! file and the card name (`World::card_personalisation`, and
//! `crate::engine::card_personalisation` from a scenario file).

use std::collections::BTreeMap;
use std::time::Duration;

use applet::card::Personalisation;
use handset_sim::trace::Trace;
use handset_sim::trace::card::{CardTimeline, NvmCut};

use super::event::{ApduRecord, CardMark};
use super::{World, WorldError};

/// Header key: commands the world's reader refused before they reached the card (card
/// not powered); they are not in the trace.
pub const NOT_SENT_KEY: &str = "not-sent";

impl World {
    /// What `card` was personalised with, on a blank NVM, when the world was built.
    pub fn card_personalisation(&self, card: &str) -> Result<&Personalisation, WorldError> {
        Ok(&self.card(card)?.personalisation)
    }

    /// The APDU trace of `card` so far (see the module docs). Header fields: `card`,
    /// `iccid`, `imsi`, `handset` (every handset it was used in, in order, with IMEIs),
    /// `card-clock-ms`, `card-clock`, and `nvm-cut` / `not-sent` when there are any.
    pub fn card_trace(&self, card: &str) -> Result<Trace, WorldError> {
        self.card(card)?;
        self.build_traces(Some(card))
            .remove(card)
            .ok_or_else(|| WorldError::UnknownCard(card.to_owned()))
    }

    /// The traces of every card, by name, built in one pass over the log (a fleet of
    /// thousands of cards costs one pass, not one per card).
    pub fn card_traces(&self) -> BTreeMap<String, Trace> {
        self.build_traces(None)
    }

    fn build_traces(&self, only: Option<&str>) -> BTreeMap<String, Trace> {
        let mut cards: BTreeMap<&str, Builder> = self
            .cards
            .keys()
            .filter(|n| only.is_none_or(|o| o == n.as_str()))
            .map(|n| (n.as_str(), Builder::default()))
            .collect();
        let (apdus, marks) = self.sink.apdus_and_marks();
        let mut marks = marks.into_iter().peekable();
        for (i, rec) in apdus.iter().enumerate() {
            while let Some((_, card, m)) = marks.next_if(|(k, _, _)| *k <= i) {
                if let Some(b) = cards.get_mut(card.as_str()) {
                    b.mark(m);
                }
            }
            let card = match rec {
                ApduRecord::PowerOn { card, .. }
                | ApduRecord::PowerOff { card, .. }
                | ApduRecord::Exchange { card, .. } => card,
            };
            if let Some(b) = cards.get_mut(card.as_str()) {
                b.record(rec);
            }
        }
        for (_, card, m) in marks {
            if let Some(b) = cards.get_mut(card.as_str()) {
                b.mark(m);
            }
        }
        cards
            .into_iter()
            .map(|(name, b)| (name.to_owned(), self.finish_trace(name, b)))
            .collect()
    }

    fn finish_trace(&self, card: &str, b: Builder) -> Trace {
        let mut trace = b.trace;
        let h = &mut trace.header;
        h.set("card", card);
        if let Some(c) = self.cards.get(card) {
            h.set("iccid", c.iccid.clone());
            h.set("imsi", c.imsi.clone());
        }
        h.set(
            "handset",
            if b.handsets.is_empty() {
                "none (the card exchanged nothing)".to_owned()
            } else {
                b.handsets
                    .iter()
                    .map(|n| {
                        let imei = self.handset_view(n).map(|v| v.imei).unwrap_or_default();
                        format!("{n} (IMEI {imei})")
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        );
        CardTimeline {
            clock_ms: b.t0.unwrap_or(0),
            follows_time: true,
            cuts: b.cuts,
        }
        .to_header(h);
        if b.not_sent > 0 {
            h.set(
                NOT_SENT_KEY,
                format!(
                    "{} command(s) refused by the reader (card not powered)",
                    b.not_sent
                ),
            );
        }
        trace
    }
}

/// One card's trace while the log is read.
#[derive(Default)]
struct Builder {
    trace: Trace,
    /// Virtual time of the card's first event (`+0`).
    t0: Option<u64>,
    cuts: Vec<NvmCut>,
    handsets: Vec<String>,
    not_sent: usize,
}

impl Builder {
    /// Time of `t_ms` relative to the card's first event (which sets `t0`).
    fn at(&mut self, t_ms: u64) -> Option<Duration> {
        let base = *self.t0.get_or_insert(t_ms);
        Some(Duration::from_millis(t_ms.saturating_sub(base)))
    }

    fn mark(&mut self, m: CardMark) {
        match m {
            CardMark::Reset { t_ms, atr } => {
                let t = self.at(t_ms);
                self.trace.push_reset(t, &atr);
            }
            CardMark::CutArmed { write, torn } => self.cuts.push(NvmCut {
                after_event: self.trace.len(),
                write,
                torn,
            }),
        }
    }

    fn record(&mut self, rec: &ApduRecord) {
        match rec {
            ApduRecord::PowerOn { t_ms, atr, .. } => {
                let t = self.at(*t_ms);
                self.trace.push_power_on(t, atr);
            }
            ApduRecord::PowerOff { t_ms, .. } => {
                let t = self.at(*t_ms);
                self.trace.push_power_off(t);
            }
            ApduRecord::Exchange {
                t_ms,
                handset,
                command,
                response,
                ..
            } => {
                if !self.handsets.contains(handset) {
                    self.handsets.push(handset.clone());
                }
                if response.is_empty() {
                    // The slot's reader refused it (card not powered): nothing crossed
                    // the contacts.
                    self.not_sent += 1;
                } else {
                    let t = self.at(*t_ms);
                    self.trace.push_exchange(t, command, response);
                }
            }
        }
    }
}
