//! `trace-bench`: decode and replay throughput on a synthetic capture, side by side with
//! `tshark -r FILE -V` on the same exchanges (issue 8, "Benchmark").
//!
//! ```text
//! cargo run --release -p scenarios --bin trace-bench -- [--exchanges N] [--tshark-frames M] [--dir DIR]
//! ```
//!
//! The capture is [`handset_sim::trace::sample::capture`]: the verified spec-digest
//! session (SELECT/READ, TERMINAL PROFILE, FETCH/TERMINAL RESPONSE with IMEI, SEND SHORT
//! MESSAGE, ENVELOPE, SET UP EVENT LIST) repeated, with a POWER_ON/POWER_OFF per round.
//!
//! Replay runs against a **playback reader** that answers each command with the response
//! recorded in the trace: it measures the replay engine (transmit, compare, bookkeeping),
//! not a card. It then runs against the **real card**: the committed first-use
//! registration trace (`tests/traces/registration-first-use.apdu`, or `--session FILE`)
//! repeated to at least N exchanges and replayed against `SimulatedUicc`, the card
//! restored to its personalised state at every POWER_ON.
//!
//! tshark dissects far more slowly, so by default it gets the first `M` = 100 000
//! exchanges (same session mix) and our decoder is timed on that subset too.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use handset_sim::reader::{CardReader, ReaderError};
use handset_sim::trace::decode::decode_trace;
use handset_sim::trace::pcap::{ExportOptions, export};
use handset_sim::trace::{
    Event, ReplayOptions, Trace, WriteOptions, read_trace, replay, sample, write_trace,
};

/// Answers every command with the response recorded for it in the trace, in order.
struct PlaybackReader<'t> {
    trace: &'t Trace,
    next: usize,
}

impl PlaybackReader<'_> {
    fn advance(&mut self) -> Option<Event<'_>> {
        let e = self.trace.get(self.next)?.event;
        self.next += 1;
        Some(e)
    }
}

impl CardReader for PlaybackReader<'_> {
    fn name(&self) -> &str {
        "playback of recorded responses"
    }
    fn power_on(&mut self) -> Result<Vec<u8>, ReaderError> {
        match self.advance() {
            Some(Event::PowerOn { atr } | Event::Reset { atr }) => Ok(atr.to_vec()),
            _ => Err(ReaderError::Other("trace out of step".into())),
        }
    }
    fn reset(&mut self) -> Result<Vec<u8>, ReaderError> {
        self.power_on()
    }
    fn transmit(&mut self, _apdu: &[u8]) -> Result<Vec<u8>, ReaderError> {
        match self.advance() {
            Some(Event::Exchange(x)) => Ok(x.response.unwrap_or(&[0x90, 0x00]).to_vec()),
            _ => Err(ReaderError::Other("trace out of step".into())),
        }
    }
    fn power_off(&mut self) {
        let _ = self.advance();
    }
}

fn rate(n: usize, d: Duration) -> String {
    let r = n as f64 / d.as_secs_f64();
    if r >= 1e6 {
        format!("{:.2} M/s", r / 1e6)
    } else {
        format!("{:.1} k/s", r / 1e3)
    }
}

fn time<T>(f: impl FnOnce() -> Result<T>) -> Result<(T, Duration)> {
    let t = Instant::now();
    let v = f()?;
    Ok((v, t.elapsed()))
}

fn best_of<T>(runs: usize, mut f: impl FnMut() -> Result<T>) -> Result<(T, Duration)> {
    let mut best: Option<(T, Duration)> = None;
    for _ in 0..runs {
        let (v, d) = time(&mut f)?;
        if best.as_ref().is_none_or(|(_, b)| d < *b) {
            best = Some((v, d));
        }
    }
    best.context("no runs")
}

/// The committed golden trace of a first-use registration (recorded from the real card
/// over the simulated reader, card clock fixed).
const GOLDEN_SESSION: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/traces/registration-first-use.apdu"
);

/// Replay against the REAL card: the recorded registration session repeated until at
/// least `exchanges` exchanges, replayed against `SimulatedUicc` (applet::card::Card
/// with the tracking applet) personalised from the session's card file. The card is
/// restored to its freshly personalised state at every POWER_ON (`PristineReader`), so
/// every round is a first use that ends in a registration SMS (AES-CMAC, two NVM
/// transactions) and every response is compared byte for byte.
fn real_card_replay(exchanges: usize, session: Option<&std::path::Path>) -> Result<()> {
    use handset_sim::terminal::uicc::CardFile;
    use handset_sim::trace::card::{PristineReader, card_clock_ms, find_card_file, fresh_card};
    let path = session.unwrap_or(std::path::Path::new(GOLDEN_SESSION));
    let one = handset_sim::trace::read_trace_file(path)?;
    let card_path = find_card_file(&one.header, Some(path))
        .with_context(|| format!("{}: header names no card file", path.display()))?;
    let card = fresh_card(
        &CardFile::load(&card_path).map_err(anyhow::Error::msg)?,
        card_clock_ms(&one.header).map_err(anyhow::Error::msg)?,
    )
    .map_err(anyhow::Error::msg)?;
    let per = one.exchange_count().max(1);
    let rounds = exchanges.div_ceil(per);
    let mut big = Trace::with_capacity(one.len() * rounds, 0);
    big.header = one.header.clone();
    for _ in 0..rounds {
        for e in one.entries() {
            big.push_event(None, e.event);
        }
    }
    let n = big.exchange_count();
    let (out, d) = best_of(3, || {
        let mut r = PristineReader::new(card.clone());
        Ok(replay(&big, &mut r, ReplayOptions::default()))
    })?;
    if let Some(div) = &out.divergence {
        bail!("real-card replay diverged:\n{}", div.report("bench"));
    }
    assert_eq!(
        out.exchanges, n,
        "every exchange sent to the card and compared"
    );
    println!(
        "replay against the real card (SimulatedUicc, {} x {} exchanges of {}): {d:.2?} = {} exchanges, {:.0} sessions/s",
        rounds,
        per,
        path.file_name()
            .map_or_else(String::new, |f| f.to_string_lossy().into_owned()),
        rate(n, d),
        rounds as f64 / d.as_secs_f64()
    );
    Ok(())
}

fn main() -> Result<()> {
    let mut exchanges = 1_000_000usize;
    let mut tshark_frames = 100_000usize;
    let mut dir = std::env::temp_dir().join("imeitrack-trace-bench");
    let mut session_file: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().context("missing value");
        match a.as_str() {
            "--exchanges" => exchanges = val()?.parse()?,
            "--tshark-frames" => tshark_frames = val()?.parse()?,
            "--dir" => dir = PathBuf::from(val()?),
            "--session" => session_file = Some(PathBuf::from(val()?)),
            "-h" | "--help" => {
                println!(
                    "trace-bench [--exchanges N (1000000)] [--tshark-frames M (100000)] [--dir DIR] \
                     [--session FILE.apdu (tests/traces/registration-first-use.apdu)]"
                );
                return Ok(());
            }
            other => bail!("unknown argument {other:?}"),
        }
    }
    std::fs::create_dir_all(&dir)?;
    println!(
        "trace-bench: {} (cpu: {} threads available)",
        env!("CARGO_PKG_VERSION"),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    let (trace, d) = time(|| Ok(sample::capture(exchanges)))?;
    let n = trace.exchange_count();
    println!(
        "synthesised {n} exchanges ({} events) in {d:.2?}",
        trace.len()
    );

    let apdu = dir.join("capture.apdu");
    let (_, d) = time(|| {
        write_trace(
            BufWriter::new(std::fs::File::create(&apdu)?),
            &trace,
            WriteOptions { annotate: false },
        )?;
        Ok(())
    })?;
    let size = std::fs::metadata(&apdu)?.len();
    println!(
        "write .apdu: {:.1} MB in {d:.2?} = {} exchanges",
        size as f64 / 1e6,
        rate(n, d)
    );
    let text = std::fs::read_to_string(&apdu)?;
    let (parsed, d) = best_of(3, || Ok(read_trace(&text, "capture.apdu")?))?;
    assert_eq!(parsed.exchange_count(), n);
    println!("read .apdu:  {d:.2?} = {} exchanges", rate(n, d));
    drop(text);

    let (_, d_dec) = best_of(3, || Ok(decode_trace(&trace, io::sink())?))?;
    println!(
        "decode (to /dev/null):          {d_dec:.2?} = {} exchanges",
        rate(n, d_dec)
    );

    let (out, d_rep) = best_of(3, || {
        let mut r = PlaybackReader {
            trace: &trace,
            next: 0,
        };
        Ok(replay(&trace, &mut r, ReplayOptions::default()))
    })?;
    assert!(out.passed(), "{:?}", out.divergence);
    println!(
        "replay (playback reader, not a card): {d_rep:.2?} = {} exchanges",
        rate(out.exchanges, d_rep)
    );

    real_card_replay(exchanges, session_file.as_deref())?;

    let pcap_full = dir.join("capture.pcap");
    let (_, d) = time(|| {
        export(
            &trace,
            BufWriter::new(std::fs::File::create(&pcap_full)?),
            ExportOptions::default(),
        )?;
        Ok(())
    })?;
    println!(
        "export pcap: {:.1} MB in {d:.2?} = {} exchanges",
        std::fs::metadata(&pcap_full)?.len() as f64 / 1e6,
        rate(n, d)
    );
    drop(trace);

    // Side by side with tshark on the same subset.
    let sub = sample::capture(tshark_frames);
    let m = sub.exchange_count();
    let pcap_sub = dir.join("subset.pcap");
    export(
        &sub,
        BufWriter::new(std::fs::File::create(&pcap_sub)?),
        ExportOptions::default(),
    )?;
    let (_, d_ours) = best_of(3, || Ok(decode_trace(&sub, io::sink())?))?;
    println!("\nside by side on {m} exchanges ({}):", pcap_sub.display());
    println!(
        "  trace decode:          {d_ours:.2?} = {} exchanges",
        rate(m, d_ours)
    );
    let (status, d_ts) = time(|| {
        Ok(Command::new("tshark")
            .arg("-r")
            .arg(&pcap_sub)
            .arg("-V")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status())
    })?;
    match status {
        Ok(s) if s.success() => {
            println!(
                "  tshark -r FILE -V:     {d_ts:.2?} = {} frames",
                rate(m, d_ts)
            );
            println!(
                "  decode is {:.0}x faster than tshark -V",
                d_ts.as_secs_f64() / d_ours.as_secs_f64()
            );
        }
        Ok(s) => println!("  tshark failed: {s}"),
        Err(e) => println!("  tshark not run: {e} (install Debian package tshark)"),
    }
    let _ = io::stdout().flush();
    Ok(())
}
