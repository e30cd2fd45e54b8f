//! Replay a trace against a reader and compare every response.
//!
//! The recorded command TPDUs are sent raw ([`CardReader::transmit`], no T=0 layer: the
//! trace already holds every GET RESPONSE and re-issue as its own exchange), resets and
//! power-offs are repeated, and each answer is compared byte for byte with the recorded
//! one. The first difference stops the replay with a [`Divergence`], whose
//! [`Divergence::report`] shows the exchange number, the command and both responses
//! decoded side by side.
//!
//! Rules (`docs/traces.md` §5):
//! - if the trace does not start with `POWER_ON`/`RESET`, the card is powered on first
//!   and that ATR is not compared;
//! - ATRs are compared unless [`ReplayOptions::check_atr`] is off or the trace has none
//!   (`RESET *`);
//! - an exchange whose response is unknown (`: *`) is sent but not checked.

use std::fmt::Write as _;

use crate::reader::CardReader;

use super::decode::Decoder;
use super::{Entry, Event, Exchange, Trace};

/// How [`replay`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayOptions {
    /// Compare ATRs of `POWER_ON`/`RESET` events (default on).
    pub check_atr: bool,
    /// Keep going after a divergence and collect what the card answered, to rewrite
    /// the trace (the explicit "update the golden trace" switch). The first divergence
    /// is still reported.
    pub keep_going: bool,
    /// Record the card's actual answers into [`ReplayOutcome::actual`].
    pub record: bool,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        Self {
            check_atr: true,
            keep_going: false,
            record: false,
        }
    }
}

/// What differed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// The card answered differently.
    Response {
        /// Recorded answer (data ‖ SW).
        expected: Vec<u8>,
        /// Actual answer.
        actual: Vec<u8>,
    },
    /// The ATR differed after a reset.
    Atr {
        /// Recorded ATR.
        expected: Vec<u8>,
        /// Actual ATR.
        actual: Vec<u8>,
    },
    /// The reader failed where the trace has an answer.
    ReaderError {
        /// Recorded answer, if known.
        expected: Option<Vec<u8>>,
        /// The reader's error.
        error: String,
    },
}

/// The first point where the card did not behave as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Divergence {
    /// 1-based number of the exchange among the trace's exchanges (0 for a reset).
    pub exchange: usize,
    /// 1-based number of the event among all events.
    pub event: usize,
    /// Source line, when the trace was read from text.
    pub line: Option<u32>,
    /// The command sent (empty for a reset).
    pub command: Vec<u8>,
    /// What differed.
    pub mismatch: Mismatch,
    /// Decoded summary of the expected exchange (decoder state replayed up to here).
    pub expected_decoded: String,
    /// Decoded summary of the actual exchange.
    pub actual_decoded: String,
}

/// Result of a replay.
#[derive(Debug, Clone, Default)]
pub struct ReplayOutcome {
    /// Events replayed (including the diverging one).
    pub events: usize,
    /// Exchanges sent.
    pub exchanges: usize,
    /// Exchanges sent whose response was unknown and not checked.
    pub unchecked: usize,
    /// The first divergence, if any.
    pub divergence: Option<Divergence>,
    /// What the card actually did (when [`ReplayOptions::record`] is on); same header
    /// and times as the replayed trace.
    pub actual: Option<Trace>,
}

impl ReplayOutcome {
    /// Whether every checked response matched.
    pub fn passed(&self) -> bool {
        self.divergence.is_none()
    }
}

/// Replays `trace` against `reader`; see the module docs for the rules.
pub fn replay<R: CardReader + ?Sized>(
    trace: &Trace,
    reader: &mut R,
    opts: ReplayOptions,
) -> ReplayOutcome {
    replay_with(trace, reader, opts, |_, _, _| {})
}

/// [`replay`] with a hook called before each event is replayed, with the event's
/// 0-based index, the event and the reader: what a replay against a simulated card
/// needs to put the card back into the conditions of the recording (set its clock to
/// the event's time, arm an NVM power cut at the recorded point —
/// [`super::card::replay_card`]).
pub fn replay_with<R, F>(
    trace: &Trace,
    reader: &mut R,
    opts: ReplayOptions,
    mut before: F,
) -> ReplayOutcome
where
    R: CardReader + ?Sized,
    F: FnMut(usize, &Entry<'_>, &mut R),
{
    let mut out = ReplayOutcome::default();
    let mut actual = opts.record.then(|| {
        let mut t = Trace::with_capacity(trace.len(), 0);
        t.header = trace.header.clone();
        t
    });
    let starts_with_reset = matches!(
        trace.get(0).map(|e| e.event),
        Some(Event::PowerOn { .. } | Event::Reset { .. })
    );
    if !starts_with_reset && let Err(e) = reader.power_on() {
        out.divergence = Some(Divergence {
            exchange: 0,
            event: 0,
            line: None,
            command: Vec::new(),
            mismatch: Mismatch::ReaderError {
                expected: None,
                error: format!("power on before the first exchange: {e}"),
            },
            expected_decoded: String::new(),
            actual_decoded: String::new(),
        });
        return out;
    }
    let mut exchange_no = 0usize;
    for (i, entry) in trace.entries().enumerate() {
        before(i, &entry, reader);
        out.events += 1;
        let mismatch = match entry.event {
            Event::PowerOn { atr } | Event::Reset { atr } => {
                let cold = matches!(entry.event, Event::PowerOn { .. });
                let got = if cold {
                    reader.power_on()
                } else {
                    reader.reset()
                };
                match got {
                    Ok(got) => {
                        if let Some(a) = actual.as_mut() {
                            if cold {
                                a.push_power_on(entry.time, &got);
                            } else {
                                a.push_reset(entry.time, &got);
                            }
                        }
                        (opts.check_atr && !atr.is_empty() && got != atr).then(|| Mismatch::Atr {
                            expected: atr.to_vec(),
                            actual: got,
                        })
                    }
                    Err(e) => Some(Mismatch::ReaderError {
                        expected: Some(atr.to_vec()),
                        error: e.to_string(),
                    }),
                }
            }
            Event::PowerOff => {
                reader.power_off();
                if let Some(a) = actual.as_mut() {
                    a.push_power_off(entry.time);
                }
                None
            }
            Event::Exchange(ex) => {
                exchange_no += 1;
                out.exchanges += 1;
                match reader.transmit(ex.command) {
                    Ok(got) => {
                        if let Some(a) = actual.as_mut() {
                            a.push_exchange(entry.time, ex.command, &got);
                        }
                        match ex.response {
                            None => {
                                out.unchecked += 1;
                                None
                            }
                            Some(exp) if exp == got.as_slice() => None,
                            Some(exp) => Some(Mismatch::Response {
                                expected: exp.to_vec(),
                                actual: got,
                            }),
                        }
                    }
                    Err(e) => {
                        if let Some(a) = actual.as_mut() {
                            a.push_command(entry.time, ex.command);
                        }
                        Some(Mismatch::ReaderError {
                            expected: ex.response.map(<[u8]>::to_vec),
                            error: e.to_string(),
                        })
                    }
                }
            }
        };
        if let Some(m) = mismatch {
            if out.divergence.is_none() {
                out.divergence = Some(divergence(trace, i, &entry, exchange_no, m));
            }
            if !opts.keep_going {
                break;
            }
        }
    }
    out.actual = actual;
    out
}

fn divergence(
    trace: &Trace,
    index: usize,
    entry: &Entry<'_>,
    exchange_no: usize,
    mismatch: Mismatch,
) -> Divergence {
    // Bring a decoder to the state just before the diverging event.
    let mut d = Decoder::new();
    let mut sink = Vec::new();
    for e in trace.entries().take(index) {
        sink.clear();
        d.summary(&e.event, &mut sink);
    }
    let decode = |d: &Decoder, ev: Event<'_>| {
        let mut d = d.clone();
        let mut s = Vec::new();
        d.summary(&ev, &mut s);
        String::from_utf8_lossy(&s).into_owned()
    };
    let (command, expected_decoded, actual_decoded) = match (&entry.event, &mismatch) {
        (Event::Exchange(ex), m) => {
            let actual: Option<&[u8]> = match m {
                Mismatch::Response { actual, .. } => Some(actual),
                _ => None,
            };
            let exp = decode(&d, entry.event);
            let act = match (actual, m) {
                (Some(a), _) => decode(
                    &d,
                    Event::Exchange(Exchange {
                        command: ex.command,
                        response: Some(a),
                    }),
                ),
                (None, Mismatch::ReaderError { error, .. }) => format!("reader error: {error}"),
                _ => String::new(),
            };
            (ex.command.to_vec(), exp, act)
        }
        (_, Mismatch::Atr { actual, .. }) => {
            let act = decode(&d, Event::PowerOn { atr: actual });
            (Vec::new(), decode(&d, entry.event), act)
        }
        (_, Mismatch::ReaderError { error, .. }) => (
            Vec::new(),
            decode(&d, entry.event),
            format!("reader error: {error}"),
        ),
        _ => (Vec::new(), decode(&d, entry.event), String::new()),
    };
    Divergence {
        exchange: if matches!(entry.event, Event::Exchange(_)) {
            exchange_no
        } else {
            0
        },
        event: index + 1,
        line: entry.line,
        command,
        mismatch,
        expected_decoded,
        actual_decoded,
    }
}

/// Width of one column of the side-by-side report.
const COLUMN: usize = 60;

/// Splits `text` into lines of at most `width` characters, at spaces where possible.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    for word in text.split(' ') {
        let mut word = word;
        loop {
            let cur_len = cur.chars().count();
            let wlen = word.chars().count();
            let sep = usize::from(cur_len > 0);
            if cur_len + sep + wlen <= width {
                if sep == 1 {
                    cur.push(' ');
                }
                cur.push_str(word);
                break;
            }
            if cur_len > 0 {
                lines.push(std::mem::take(&mut cur));
                continue;
            }
            // A single word longer than the column: cut it.
            let cut = word
                .char_indices()
                .nth(width)
                .map_or(word.len(), |(i, _)| i);
            lines.push(word[..cut].to_owned());
            word = &word[cut..];
            if word.is_empty() {
                break;
            }
        }
    }
    if !cur.is_empty() || lines.is_empty() {
        lines.push(cur);
    }
    lines
}

fn spaced_hex(b: &[u8]) -> String {
    let mut v = Vec::with_capacity(b.len() * 3);
    super::format::put_hex(&mut v, b, true);
    String::from_utf8_lossy(&v).into_owned()
}

/// The part of a decoded summary after ` => ` (the response), or all of it.
fn response_part(s: &str) -> &str {
    s.split_once(" => ").map_or(s, |(_, r)| r)
}

fn command_part(s: &str) -> &str {
    s.split_once(" => ").map_or(s, |(c, _)| c)
}

impl Divergence {
    /// The human report: where, the command, and both responses side by side (hex and
    /// decoded). `source` names the trace file.
    pub fn report(&self, source: &str) -> String {
        let mut s = String::new();
        let place = match self.line {
            Some(l) => format!("{source}:{l}"),
            None => source.to_owned(),
        };
        let (expected, actual): (String, String) = match &self.mismatch {
            Mismatch::Response { expected, actual } => (spaced_hex(expected), spaced_hex(actual)),
            Mismatch::Atr { expected, actual } => (
                format!("ATR {}", spaced_hex(expected)),
                format!("ATR {}", spaced_hex(actual)),
            ),
            Mismatch::ReaderError { expected, error } => (
                expected
                    .as_deref()
                    .map_or_else(|| "(not recorded)".to_owned(), spaced_hex),
                format!("reader error: {error}"),
            ),
        };
        if self.exchange > 0 {
            let _ = writeln!(
                s,
                "replay diverged at exchange {} (event {}, {place})",
                self.exchange, self.event
            );
            let _ = writeln!(s, "command: {}", spaced_hex(&self.command));
            let _ = writeln!(s, "         {}", command_part(&self.expected_decoded));
        } else {
            let _ = writeln!(
                s,
                "replay diverged at event {} ({place}): reset answered differently",
                self.event
            );
        }
        let left: Vec<String> = wrap(&expected, COLUMN)
            .into_iter()
            .chain(std::iter::once(String::new()))
            .chain(wrap(response_part(&self.expected_decoded), COLUMN))
            .collect();
        let right: Vec<String> = wrap(&actual, COLUMN)
            .into_iter()
            .chain(std::iter::once(String::new()))
            .chain(wrap(response_part(&self.actual_decoded), COLUMN))
            .collect();
        let _ = writeln!(s, "{:<COLUMN$} | actual (card)", "expected (trace)");
        let _ = writeln!(s, "{}-+-{}", "-".repeat(COLUMN), "-".repeat(COLUMN));
        for i in 0..left.len().max(right.len()) {
            let l = left.get(i).map_or("", String::as_str);
            let r = right.get(i).map_or("", String::as_str);
            let _ = writeln!(s, "{l:<COLUMN$} | {r}").map(|()| ());
        }
        // No trailing spaces on lines whose right column is empty.
        s.lines().map(str::trim_end).collect::<Vec<_>>().join("\n") + "\n"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping() {
        assert_eq!(wrap("aa bb cc", 5), ["aa bb", "cc"]);
        assert_eq!(wrap("abcdefgh", 3), ["abc", "def", "gh"]);
        assert_eq!(wrap("", 3), [""]);
        assert_eq!(wrap("ab abcdefg", 3), ["ab", "abc", "def", "g"]);
    }
}
