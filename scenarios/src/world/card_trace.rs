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
        let c = self.card(card)?;
        let (apdus, marks) = self.sink.apdus_and_marks();
        let mut marks = marks.into_iter().filter(|(_, n, _)| n == card).peekable();
        let mut trace = Trace::new();
        let mut t0: Option<u64> = None;
        let mut cuts = Vec::new();
        let mut handsets: Vec<String> = Vec::new();
        let mut not_sent = 0usize;
        let mut apply = |m: CardMark, trace: &mut Trace, t0: &mut Option<u64>| match m {
            CardMark::Reset { t_ms, atr } => trace.push_reset(rel(t0, t_ms), &atr),
            CardMark::CutArmed { write, torn } => cuts.push(NvmCut {
                after_event: trace.len(),
                write,
                torn,
            }),
        };
        for (i, rec) in apdus.iter().enumerate() {
            while let Some((_, _, m)) = marks.next_if(|(k, _, _)| *k <= i) {
                apply(m, &mut trace, &mut t0);
            }
            match rec {
                ApduRecord::PowerOn { t_ms, card: n, atr } if n == card => {
                    trace.push_power_on(rel(&mut t0, *t_ms), atr);
                }
                ApduRecord::PowerOff { t_ms, card: n } if n == card => {
                    trace.push_power_off(rel(&mut t0, *t_ms));
                }
                ApduRecord::Exchange {
                    t_ms,
                    card: n,
                    handset,
                    command,
                    response,
                } if n == card => {
                    if !handsets.contains(handset) {
                        handsets.push(handset.clone());
                    }
                    if response.is_empty() {
                        // The slot's reader refused it (card not powered): nothing
                        // crossed the contacts.
                        not_sent += 1;
                    } else {
                        trace.push_exchange(rel(&mut t0, *t_ms), command, response);
                    }
                }
                _ => {}
            }
        }
        for (_, _, m) in marks {
            apply(m, &mut trace, &mut t0);
        }
        let h = &mut trace.header;
        h.set("card", card);
        h.set("iccid", c.iccid.clone());
        h.set("imsi", c.imsi.clone());
        let imeis: BTreeMap<&str, String> = handsets
            .iter()
            .map(|n| {
                let imei = self.handset_view(n).map(|v| v.imei).unwrap_or_default();
                (n.as_str(), imei)
            })
            .collect();
        h.set(
            "handset",
            if handsets.is_empty() {
                "none (the card exchanged nothing)".to_owned()
            } else {
                handsets
                    .iter()
                    .map(|n| format!("{n} (IMEI {})", imeis.get(n.as_str()).map_or("", |s| s)))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        );
        CardTimeline {
            clock_ms: t0.unwrap_or(0),
            follows_time: true,
            cuts,
        }
        .to_header(h);
        if not_sent > 0 {
            h.set(
                NOT_SENT_KEY,
                format!("{not_sent} command(s) refused by the reader (card not powered)"),
            );
        }
        Ok(trace)
    }
}

/// Time of `t_ms` relative to the card's first event (which sets `t0`).
fn rel(t0: &mut Option<u64>, t_ms: u64) -> Option<Duration> {
    let base = *t0.get_or_insert(t_ms);
    Some(Duration::from_millis(t_ms.saturating_sub(base)))
}
