//! `imeitrack trace …`: decode, replay, export and import APDU traces
//! (`docs/traces.md`).
//!
//! Every command that reads a trace accepts the three input forms, told apart by
//! content: a `.apdu` file (first line `#!imeitrack-trace v1`), a classic pcap
//! (GSMTAP-SIM), or a pcsc-tools `scriptor` script or log.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use clap::Subcommand;
use handset_sim::CardReader;
use handset_sim::reader::pcsc::{PcscReader, ReaderSelector};
use handset_sim::terminal::uicc::CardFile;
use handset_sim::terminal::uicc::SimulatedUicc;
use handset_sim::trace::card::{CardTimeline, find_card_file, fresh_card, replay_card};
use handset_sim::trace::decode::decode_trace;
use handset_sim::trace::format::MAGIC;
use handset_sim::trace::pcap::{self, ExportOptions};
use handset_sim::trace::{ReplayOptions, Trace, WriteOptions, read_trace, replay, scriptor};

use crate::engine::traces::{SCENARIO_FILE_KEY, fresh_scenario_card};

/// Exit status of `trace replay` when the card diverged from the trace.
pub const EXIT_DIVERGED: u8 = 1;

/// The `trace` subcommands.
#[derive(Debug, Subcommand)]
pub enum TraceCommand {
    /// Print every exchange decoded: instruction, file, toolkit command, IEs, status word.
    Decode {
        /// Trace: .apdu, GSMTAP-SIM pcap, or scriptor script/log (`-` = stdin).
        file: PathBuf,
        /// Write here instead of standard output.
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// Replay the commands against a card and compare every response; exit status 1 at
    /// the first divergence (with a side-by-side report), 0 when all match.
    ///
    /// The card is the project's own card, freshly personalised in this process from
    /// --card CARD.toml, or from a scenario file and card name (--scenario, or the
    /// header's `scenario-file` and `card`: traces of `imeitrack run --trace-dir`), or
    /// from the card file the header names (`# card: …toml`); its clock and NVM power
    /// cuts follow the header (`card-clock-ms`, `card-clock`, `nvm-cut`). Or a real
    /// card with --reader pcsc:NAME.
    Replay {
        /// Trace to replay.
        file: PathBuf,
        /// Reader holding the card: `pcsc:NAME` (exact name, index or unique part of it).
        #[arg(long, conflicts_with_all = ["card", "scenario"])]
        reader: Option<String>,
        /// Replay against a freshly personalised in-process card from this card file
        /// (TOML, e.g. handset-sim/cards/example.toml). Default: the header's `card`.
        #[arg(long, conflicts_with = "scenario")]
        card: Option<PathBuf>,
        /// Replay against the header's `card` personalised as the scenario engine does
        /// from this scenario file (default: the header's `scenario-file`).
        #[arg(long, value_name = "SCENARIO.toml")]
        scenario: Option<PathBuf>,
        /// Card clock in ms at the start (default: the header's card-clock-ms, else 0).
        #[arg(long, value_name = "MS", conflicts_with = "reader")]
        card_clock_ms: Option<u64>,
        /// Do not compare ATRs.
        #[arg(long)]
        no_atr: bool,
        /// Rewrite FILE with what the card answered (the explicit switch for updating a
        /// golden trace; review the diff before committing).
        #[arg(long)]
        update: bool,
    },
    /// Export a trace as a GSMTAP-SIM pcap for Wireshark / tshark / pySim-trace.
    Export {
        /// Trace to export.
        file: PathBuf,
        /// Output pcap.
        #[arg(long)]
        pcap: PathBuf,
        /// Also write resets as GSMTAP-SIM ATR frames (pySim-trace reads them; tshark 4.0
        /// mis-dissects them, hence off by default).
        #[arg(long)]
        with_atr: bool,
    },
    /// Convert a pcap or scriptor file (or an .apdu file) to the .apdu text format.
    Import {
        /// Input: GSMTAP-SIM pcap, scriptor script or log, or .apdu.
        file: PathBuf,
        /// Output .apdu file (`-` = stdout).
        #[arg(long)]
        out: PathBuf,
        /// Do not append decoded summaries as comments.
        #[arg(long)]
        no_annotate: bool,
    },
}

/// Runs one `trace` subcommand.
pub fn run(cmd: TraceCommand) -> Result<ExitCode> {
    match cmd {
        TraceCommand::Decode { file, out } => {
            let trace = load(&file)?;
            let stats = match out {
                Some(p) => decode_trace(&trace, BufWriter::new(create(&p)?)),
                None => decode_trace(&trace, BufWriter::new(io::stdout().lock())),
            };
            match stats {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
                Err(e) => return Err(e).context("writing the decoded trace"),
            }
            Ok(ExitCode::SUCCESS)
        }
        TraceCommand::Replay {
            file,
            reader,
            card,
            scenario,
            card_clock_ms,
            no_atr,
            update,
        } => replay_cmd(
            &file,
            Target {
                reader: reader.as_deref(),
                card: card.as_deref(),
                scenario: scenario.as_deref(),
                clock_ms: card_clock_ms,
            },
            no_atr,
            update,
        ),
        TraceCommand::Export {
            file,
            pcap: out,
            with_atr,
        } => {
            let trace = load(&file)?;
            let stats = pcap::export(
                &trace,
                BufWriter::new(create(&out)?),
                ExportOptions { with_atr },
            )
            .with_context(|| format!("writing {}", out.display()))?;
            eprintln!(
                "{}: {} frame(s){}{}",
                out.display(),
                stats.frames,
                if stats.skipped > 0 {
                    format!(
                        ", {} exchange(s) without a recorded response not exported",
                        stats.skipped
                    )
                } else {
                    String::new()
                },
                if stats.padded > 0 {
                    format!(", {} short command(s) padded with P3 = 00", stats.padded)
                } else {
                    String::new()
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        TraceCommand::Import {
            file,
            out,
            no_annotate,
        } => {
            let trace = load(&file)?;
            let opts = WriteOptions {
                annotate: !no_annotate,
            };
            if out.as_os_str() == "-" {
                handset_sim::trace::write_trace(io::stdout().lock(), &trace, opts)?;
            } else {
                handset_sim::trace::write_trace(BufWriter::new(create(&out)?), &trace, opts)
                    .with_context(|| format!("writing {}", out.display()))?;
                eprintln!(
                    "{}: {} event(s), {} exchange(s)",
                    out.display(),
                    trace.len(),
                    trace.exchange_count()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn create(p: &Path) -> Result<File> {
    File::create(p).with_context(|| format!("cannot create {}", p.display()))
}

/// Reads a trace in any supported form; pcap frames that were skipped are listed on
/// standard error.
pub fn load(path: &Path) -> Result<Trace> {
    let name = path.display().to_string();
    let bytes = if name == "-" {
        let mut v = Vec::new();
        io::Read::read_to_end(&mut io::stdin().lock(), &mut v).context("reading stdin")?;
        v
    } else {
        std::fs::read(path).with_context(|| format!("cannot read {name}"))?
    };
    let pcap_magic = matches!(
        bytes.get(..4),
        Some(
            [0xD4, 0xC3, 0xB2, 0xA1]
                | [0xA1, 0xB2, 0xC3, 0xD4]
                | [0x4D, 0x3C, 0xB2, 0xA1]
                | [0xA1, 0xB2, 0x3C, 0x4D]
                | [0x0A, 0x0D, 0x0D, 0x0A]
        )
    );
    if pcap_magic {
        let (trace, report) = pcap::import(&bytes, &name)?;
        for s in &report.skipped {
            eprintln!("{name}: frame {}: skipped: {}", s.frame, s.reason);
        }
        for s in &report.notes {
            eprintln!("{name}: frame {}: note: {}", s.frame, s.reason);
        }
        if let Some(f) = report.truncated_at {
            eprintln!("{name}: file ends inside frame {f}; the frames before it were read");
        }
        return Ok(trace);
    }
    let text = String::from_utf8(bytes)
        .map_err(|e| anyhow::anyhow!("{name}: neither a pcap nor UTF-8 text ({e})"))?;
    if text.starts_with("#!imeitrack-trace") {
        Ok(read_trace(&text, &name)?)
    } else if text.trim().is_empty() {
        bail!("{name}: empty file (a trace starts with `{MAGIC}`)")
    } else {
        Ok(scriptor::import(&text, &name)?)
    }
}

/// What `trace replay` was told to replay against.
#[derive(Debug, Clone, Copy)]
struct Target<'a> {
    reader: Option<&'a str>,
    card: Option<&'a Path>,
    scenario: Option<&'a Path>,
    clock_ms: Option<u64>,
}

/// What `trace replay` sends the commands to.
enum Against {
    /// A real card.
    Reader(Box<dyn CardReader>),
    /// The project's card, fresh, with the trace's clock and cuts.
    Card(Box<SimulatedUicc>, CardTimeline),
}

/// `name` as a path: absolute as is; else relative to the current directory; else to
/// each directory above `trace` (nearest first).
fn find_near(name: &str, trace: &Path) -> Option<PathBuf> {
    let p = Path::new(name.trim());
    if p.is_absolute() || p.is_file() {
        return p.is_file().then(|| p.to_path_buf());
    }
    let dir = trace.canonicalize().ok()?;
    dir.ancestors()
        .skip(1)
        .map(|d| d.join(p))
        .find(|c| c.is_file())
}

fn replay_target(trace: &Trace, file: &Path, t: Target<'_>) -> Result<(Against, String)> {
    if let Some(spec) = t.reader {
        let Some(pcsc_name) = spec.strip_prefix("pcsc:") else {
            bail!("unknown reader {spec:?}: expected pcsc:NAME");
        };
        let r = PcscReader::open(&ReaderSelector::Auto(pcsc_name.to_owned()))
            .with_context(|| format!("opening PC/SC reader {pcsc_name:?}"))?;
        let what = format!("PC/SC reader {}", r.name());
        return Ok((Against::Reader(Box::new(r)), what));
    }
    let mut timeline = CardTimeline::from_header(&trace.header)
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    if let Some(ms) = t.clock_ms {
        timeline.clock_ms = ms;
    }
    let header_scenario = trace.header.get(SCENARIO_FILE_KEY);
    let scenario_path = match (t.card, t.scenario, header_scenario) {
        (Some(_), _, _) | (None, None, None) => None,
        (None, Some(p), _) => Some(p.to_path_buf()),
        (None, None, Some(name)) => Some(find_near(name, file).with_context(|| {
            format!(
                "{}: header {SCENARIO_FILE_KEY}: {name} not found (from the current \
                 directory or above the trace); give it with --scenario FILE",
                file.display()
            )
        })?),
    };
    if let Some(path) = scenario_path {
        let card = trace.header.get("card").map(str::trim).with_context(|| {
            format!(
                "{}: the header names no `card` of the scenario",
                file.display()
            )
        })?;
        let scenario = crate::scenario::load(&path)?;
        let uicc = fresh_scenario_card(&scenario, card)?;
        let what = format!(
            "card {card} of {} as the engine personalises it ({})",
            path.display(),
            timeline.describe()
        );
        return Ok((Against::Card(Box::new(uicc), timeline), what));
    }
    let card_path = match t.card {
        Some(p) => p.to_path_buf(),
        None => find_card_file(&trace.header, Some(file)).with_context(|| {
            format!(
                "say what to replay against: --card CARD.toml or --scenario FILE (the \
                 trace header names no card file or scenario file that exists{}) or \
                 --reader pcsc:NAME",
                trace
                    .header
                    .get("card")
                    .map(|c| format!("; card: {c}"))
                    .unwrap_or_default()
            )
        })?,
    };
    let card_file = CardFile::load(&card_path).map_err(anyhow::Error::msg)?;
    let uicc = fresh_card(&card_file, timeline.clock_ms)
        .map_err(|e| anyhow::anyhow!("{}: {e}", card_path.display()))?;
    let what = format!(
        "a fresh card from {} ({})",
        card_path.display(),
        timeline.describe()
    );
    Ok((Against::Card(Box::new(uicc), timeline), what))
}

fn replay_cmd(file: &Path, target: Target<'_>, no_atr: bool, update: bool) -> Result<ExitCode> {
    let trace = load(file)?;
    let name = file.display().to_string();
    let (against, target) = replay_target(&trace, file, target)?;
    let opts = ReplayOptions {
        check_atr: !no_atr,
        keep_going: update,
        record: update,
    };
    let outcome = match against {
        Against::Reader(mut r) => {
            let o = replay(&trace, &mut *r, opts);
            r.power_off();
            o
        }
        Against::Card(uicc, timeline) => replay_card(&trace, *uicc, &timeline, opts),
    };
    if update {
        let actual = outcome.actual.as_ref().context("replay recorded nothing")?;
        let tmp = file.with_extension("apdu.tmp");
        handset_sim::trace::write_trace(
            BufWriter::new(create(&tmp)?),
            actual,
            WriteOptions::default(),
        )?;
        std::fs::rename(&tmp, file).with_context(|| format!("replacing {name}"))?;
        eprintln!(
            "{name}: rewritten with the card's answers ({} exchange(s)); review the diff before committing",
            outcome.exchanges
        );
        return Ok(ExitCode::SUCCESS);
    }
    match &outcome.divergence {
        None => {
            println!(
                "{name}: {} exchange(s) replayed against {target}, all responses identical{}",
                outcome.exchanges,
                if outcome.unchecked > 0 {
                    format!(" ({} not recorded, not checked)", outcome.unchecked)
                } else {
                    String::new()
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(d) => {
            let mut err = io::stderr().lock();
            let _ = err.write_all(d.report(&name).as_bytes());
            Ok(ExitCode::from(EXIT_DIVERGED))
        }
    }
}
