//! Named NVM power-cut points: `cut_power = { card, at = "imei_commit" |
//! "counter_update" | "retry_state" }`.
//!
//! Each name is a transaction of the tracker's persistent record
//! (`applet/src/tracker/record.rs`), and the cut lands on that transaction's first NVM
//! write: the header of its journal entry (`applet/src/card/nvm.rs`), so the whole
//! transaction is lost and the record stays as it was:
//!
//! | point | transaction ([`RecordTx`]) |
//! | --- | --- |
//! | `imei_commit` | `commit_registered`: the new IMEI stored after the SEND SHORT MESSAGE succeeded |
//! | `counter_update` | `commit_attempt` (any event kind): counter + 1 and the pending registration, before SEND SHORT MESSAGE is released |
//! | `retry_state` | the next transaction that records a failed attempt for a later retry: `commit_attempt` of a retry (event kind `03`, after a failed SEND SHORT MESSAGE or an unacknowledged registration) or `commit_failure` (an unusable IMEI) |
//!
//! The write is found exactly, never by counting: a dry run (a fresh engine on the same
//! scenario, deterministic) plays the steps before the `cut_power` step, arms a cut so
//! far ahead that it never fires — the world arms it exactly when it would arm the real
//! one (now, or at the card's next cold reset), so its scheduled write tells where the
//! count starts — and plays the following steps. The card's NVM logs where each
//! transaction began (`Nvm::tx_start`: first write, entry range, first bytes), and
//! [`RecordTx::of`] names it by the record field its entry starts in. The first
//! transaction of the point's kind gives the write. A second dry run arms the real cut
//! and checks that the card loses power at exactly that write.

use applet::card::nvm::TX_LOG_LEN;
use applet::tracker::record::RecordTx;
use applet::wire::registration::EventKind;

use super::{WorldEngine, failed};
use crate::runner::EngineError;
use crate::scenario::format::NvmPoint;
use crate::scenario::{Action, Step};

/// How far ahead (in NVM writes) the locating dry run arms its cut: beyond any write a
/// story makes, so it never fires.
const FAR: u32 = 1 << 30;

/// The file name of a point.
fn name(p: NvmPoint) -> &'static str {
    match p {
        NvmPoint::ImeiCommit => "imei_commit",
        NvmPoint::CounterUpdate => "counter_update",
        NvmPoint::RetryState => "retry_state",
    }
}

/// Whether `tx` is the transaction `point` names.
fn is_point(point: NvmPoint, tx: RecordTx) -> Result<bool, EngineError> {
    Ok(match (point, tx) {
        (NvmPoint::ImeiCommit, RecordTx::Registered) => true,
        (NvmPoint::CounterUpdate, RecordTx::Attempt { .. }) => true,
        (NvmPoint::RetryState, RecordTx::Failure) => true,
        (NvmPoint::RetryState, RecordTx::Attempt { kind: Some(k) }) => k == EventKind::RETRY,
        (NvmPoint::RetryState, RecordTx::Attempt { kind: None }) => {
            return Err(failed(
                "cut_power at retry_state: an attempt's journal entry does not reach its event kind (the tracker's attempts always do)",
            ));
        }
        _ => false,
    })
}

/// Where the located transaction is.
struct Found {
    /// Absolute NVM write number of its first write.
    write: u32,
    /// Absolute write number the cut's count starts at (`nth = 1`).
    base: u32,
    /// Step during which it happens.
    step: usize,
}

impl WorldEngine {
    /// The NVM write number (1 = the next write from now, as
    /// [`crate::world::World::cut_power_at_write`] counts) of the first write of `card`'s
    /// next `point` transaction after step `step_index` (see the module docs).
    pub(super) fn nvm_point_write(
        &self,
        step_index: usize,
        card: &str,
        point: NvmPoint,
    ) -> Result<u32, EngineError> {
        let steps = &self.scenario.steps;
        let split = steps
            .iter()
            .position(|s| s.index == step_index)
            .ok_or_else(|| failed(format!("step {step_index} not in the scenario")))?;
        let (before, after) = steps.split_at(split);
        let after = after.get(1..).unwrap_or(&[]);
        let found = self.locate(before, after, card, point)?;
        let nth = found.write - found.base + 1;
        self.verify(before, after, card, point, &found, nth)?;
        Ok(nth)
    }

    fn locate(
        &self,
        before: &[Step],
        after: &[Step],
        card: &str,
        point: NvmPoint,
    ) -> Result<Found, EngineError> {
        let what = name(point);
        let mut dry = WorldEngine::new(&self.scenario)?;
        for s in before {
            dry.play(s)?;
        }
        dry.world.cut_power_at_write(card, FAR, 1).map_err(failed)?;
        let sim = dry.world.sim_card(card).map_err(failed)?;
        let mut seen = sim.lock().card().store().nvm().tx_count();
        for s in after {
            if matches!(&s.action, Action::CutPower { card: c, .. } if c == card) {
                // A later cut of this card replaces this one.
                break;
            }
            dry.play(s)?;
            let uicc = sim.lock();
            let nvm = uicc.card().store().nvm();
            // The cut armed at write `base + FAR - 1`: `base` is where `nth = 1` is.
            let base = nvm.scheduled_cut().map(|(at, _)| at + 1 - FAR);
            while seen < nvm.tx_count() {
                let start = nvm.tx_start(seen).ok_or_else(|| {
                    failed(format!(
                        "cut_power at {what}: {card} ran more than {TX_LOG_LEN} NVM transactions during step {}, too many to look through",
                        s.index
                    ))
                })?;
                seen += 1;
                let Some(tx) = RecordTx::of(&start) else {
                    continue;
                };
                if !is_point(point, tx)? {
                    continue;
                }
                let Some(base) = base.filter(|b| start.write >= *b) else {
                    return Err(failed(format!(
                        "cut_power at {what}: {card} powers up again before its {what} transaction (step {} \"{}\"), and a power-up clears a cut armed earlier: put the cut_power step after that power-up",
                        s.index, s.label
                    )));
                };
                return Ok(Found {
                    write: start.write,
                    base,
                    step: s.index,
                });
            }
        }
        Err(failed(format!(
            "cut_power at {what}: {card} makes no {what} transaction in the steps that follow (before any later cut_power of {card})"
        )))
    }

    /// Arms the real cut in a second dry run and checks the card loses power at the
    /// located write, during the located step.
    fn verify(
        &self,
        before: &[Step],
        after: &[Step],
        card: &str,
        point: NvmPoint,
        found: &Found,
        nth: u32,
    ) -> Result<(), EngineError> {
        let mut dry = WorldEngine::new(&self.scenario)?;
        for s in before {
            dry.play(s)?;
        }
        dry.world.cut_power_at_write(card, nth, 1).map_err(failed)?;
        let sim = dry.world.sim_card(card).map_err(failed)?;
        for s in after.iter().take_while(|s| s.index <= found.step) {
            dry.play(s)?;
            let uicc = sim.lock();
            let nvm = uicc.card().store().nvm();
            if !nvm.is_powered() {
                if nvm.writes() == found.write + 1 && s.index == found.step {
                    return Ok(());
                }
                break;
            }
        }
        Err(failed(format!(
            "cut_power at {}: a cut at NVM write {} (nth {nth}) of {card} did not hit the transaction's first write in step {}",
            name(point),
            found.write,
            found.step
        )))
    }
}
