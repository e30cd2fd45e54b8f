//! `handset-sim`: the handset emulator's command line.
//!
//! - `handset-sim readers` lists the PC/SC readers `pcscd` knows.
//! - `handset-sim send --reader NAME APDU...` sends command APDUs through the T=0 layer
//!   (GET RESPONSE / re-issue handled) and prints each final response.
//! - `handset-sim probe --reader NAME --imei IMEI [--pin PIN]` powers the card up as that
//!   handset and prints the whole toolkit session decoded.
//! - `handset-sim serve-vpcd --card CARD.toml [--nvm FILE] [--clock wall|fixed:MS]`
//!   presents the project's card to `pcscd` through vpcd. (A scenario's card,
//!   personalised as the scenario engine does it, is served by
//!   `imeitrack serve-vpcd --scenario FILE --card NAME`; `docs/scenarios.md`.)
//! - `handset-sim models` lists the handset model catalogue.
//!
//! `probe` and `serve-vpcd` record an APDU trace with `--trace FILE` / `--trace-dir DIR`
//! (`docs/traces.md`).

use anyhow::{Context as _, Result};
use clap::{Parser, Subcommand};
use handset_sim::profile::{Catalogue, Handset, HandsetProfile};
use handset_sim::reader::pcsc::{PcscReader, ReaderSelector, list_readers};
use handset_sim::serve::trace_sink;
use handset_sim::t0::{DEFAULT_MAX_ROUNDS, transceive};
use handset_sim::terminal::{LocationInfo, MoOutcome, Plmn, SimNetwork, Terminal, TerminalConfig};
use handset_sim::trace::Recorder;
use handset_sim::{CardReader, Protocol};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "handset-sim",
    version,
    about = "Handset emulator: drive a SIM card like a phone does",
    long_about = "Handset emulator: drive a SIM card like a phone does.\n\n\
        Start with `handset-sim readers` to see the card readers, then\n\
        `handset-sim probe --reader 0 --imei 001245000000174` to power the card up as\n\
        that handset (a Nordvik N100 from the built-in catalogue, see `handset-sim models`)\n\
        and watch every toolkit command the card sends, decoded.\n\
        Set RUST_LOG=handset_sim=debug (or pass -v) to see every APDU."
)]
struct Cli {
    /// More log output on stderr (-v: T=0 exchanges, -vv: everything).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the PC/SC readers known to pcscd.
    Readers,
    /// Send command APDUs (hex) to the card in a PC/SC reader and print the responses.
    Send {
        /// Reader: exact name, index from `readers`, or a unique part of the name.
        #[arg(short, long)]
        reader: String,
        /// Skip the T=0 layer: transmit each APDU as is and print the raw answer.
        #[arg(long)]
        raw: bool,
        /// Power-cycle the card before the first APDU (default: keep its state).
        #[arg(long)]
        reset: bool,
        /// Command APDUs in hex; spaces and colons inside an argument are ignored.
        #[arg(required = true, value_name = "APDU_HEX")]
        apdus: Vec<String>,
    },
    /// Power a card up as a handset and print ATR, ICCID, IMSI and every proactive
    /// command, TERMINAL RESPONSE, ENVELOPE and MO SMS of the session, decoded.
    ///
    /// The handset model comes from the IMEI's TAC (built-in catalogue, or --catalogue),
    /// or from --model / --handset; the network is simulated: a cell in --mcc/--mnc,
    /// every MO SMS answered as --sms-result says (nothing is really sent).
    Probe {
        /// Reader: exact name, index from `readers`, or a unique part of the name.
        #[arg(short, long)]
        reader: String,
        /// IMEI of the handset (15 digits, valid Luhn check digit).
        #[arg(long)]
        imei: String,
        /// PIN1 to verify during power-up.
        #[arg(long)]
        pin: Option<String>,
        /// Handset model by id (file stem, e.g. `nordvik-n100`) or name (e.g. "Nordvik
        /// N100"); overrides the TAC lookup.
        #[arg(long, conflicts_with = "handset")]
        model: Option<String>,
        /// Handset profile file (TOML); its IMEI is replaced by --imei.
        #[arg(long)]
        handset: Option<PathBuf>,
        /// Directory of model files instead of the built-in catalogue.
        #[arg(long)]
        catalogue: Option<PathBuf>,
        /// Serving network MCC.
        #[arg(long, default_value = "001")]
        mcc: String,
        /// Serving network MNC (2 or 3 digits).
        #[arg(long, default_value = "01")]
        mnc: String,
        /// Location area code.
        #[arg(long, default_value_t = 1)]
        lac: u16,
        /// Cell identity.
        #[arg(long, default_value_t = 2)]
        cell: u16,
        /// How the simulated network answers MO SMS: `ok`, `unable`, or
        /// `rp-error:CAUSE` (e.g. rp-error:41).
        #[arg(long, default_value = "ok")]
        sms_result: String,
        /// Keep the session running this many (virtual) seconds after power-up so
        /// toolkit timers expire and STATUS polls happen; runs instantly.
        #[arg(long, default_value_t = 0)]
        run_for: u64,
        #[command(flatten)]
        trace: TraceArgs,
    },
    /// Present the project's simulated card (with the IMEI-tracking applet) to pcscd
    /// through the vsmartcard vpcd driver, until interrupted (Ctrl-C).
    ///
    /// Then `handset-sim readers` shows it as "Virtual PCD 00 00" (port 35963) and any
    /// PC/SC tool — `scriptor`, `handset-sim probe` — can talk to it.
    ///
    /// The card's NVM (stored IMEI, registration counter, PIN tries) lives in memory
    /// unless --nvm FILE is given: then it is loaded from FILE (a blank card personalised
    /// from --card when FILE does not exist), saved after every command that wrote it,
    /// and again on Ctrl-C / SIGTERM. The card clock is Unix time in ms unless --clock
    /// fixes it (for traces that must replay identically).
    ServeVpcd {
        /// Card file (TOML: iccid, imsi, pin, server, key, key_version); see
        /// handset-sim/cards/example.toml. With an existing --nvm image, the image wins.
        #[arg(long)]
        card: PathBuf,
        /// vpcd port (35963 = slot 0, 35964 = slot 1).
        #[arg(long, default_value_t = handset_sim::vpcd::VPCD_PORT)]
        port: u16,
        /// Keep the card's NVM image in FILE (created when missing) across runs.
        #[arg(long, value_name = "FILE")]
        nvm: Option<PathBuf>,
        /// Card clock: `wall` (Unix time, ms) or `fixed:MS` (stands still at MS; what
        /// `imeitrack trace replay --card` uses, from the trace's card-clock-ms header).
        #[arg(long, default_value = "wall")]
        clock: String,
        #[command(flatten)]
        trace: TraceArgs,
    },
    /// List the handset model catalogue.
    Models {
        /// Directory of model files instead of the built-in catalogue.
        #[arg(long)]
        catalogue: Option<PathBuf>,
    },
}

/// Where to record an APDU trace (`docs/traces.md`).
#[derive(clap::Args, Debug, Clone, Default)]
struct TraceArgs {
    /// Record every reset, ATR and exchange to this `.apdu` trace file (written as it
    /// happens, one line per event).
    #[arg(long, value_name = "FILE", conflicts_with = "trace_dir")]
    trace: Option<PathBuf>,
    /// Record to a new file `<command>-<unix time>-<pid>.apdu` in this directory.
    #[arg(long, value_name = "DIR")]
    trace_dir: Option<PathBuf>,
}

impl TraceArgs {
    /// The trace file to write, if any (creating --trace-dir).
    fn path(&self, command: &str) -> Result<Option<PathBuf>> {
        if let Some(p) = &self.trace {
            return Ok(Some(p.clone()));
        }
        let Some(dir) = &self.trace_dir else {
            return Ok(None);
        };
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let secs = unix_now().as_secs();
        Ok(Some(dir.join(format!(
            "{command}-{secs}-{}.apdu",
            std::process::id()
        ))))
    }
}

fn unix_now() -> std::time::Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
}

fn spaced(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn parse_hex(text: &str) -> Result<Vec<u8>> {
    let clean: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect();
    hex::decode(&clean).with_context(|| format!("not hex: {text:?}"))
}

fn readers() -> Result<()> {
    let names = list_readers()?;
    if names.is_empty() {
        println!("no PC/SC readers found (for a virtual one: Debian package vsmartcard-vpcd)");
    }
    for (i, name) in names.iter().enumerate() {
        println!("{i}: {name}");
    }
    Ok(())
}

fn send(reader: &str, raw: bool, reset: bool, apdus: &[String]) -> Result<()> {
    let commands = apdus
        .iter()
        .map(|a| parse_hex(a))
        .collect::<Result<Vec<_>>>()?;
    let mut r = PcscReader::open(&ReaderSelector::Auto(reader.to_owned()))?;
    let atr = if reset {
        r.power_on()?
    } else {
        r.connect_keep()?
    };
    let proto = match r.protocol() {
        Protocol::T0 => "T=0",
        Protocol::T1 => "T=1",
    };
    println!(
        "reader: {}\nATR: {}\nprotocol: {proto}",
        r.name(),
        spaced(&atr)
    );
    for cmd in &commands {
        println!("> {}", spaced(cmd));
        let rsp = if raw {
            r.transmit(cmd)?
        } else {
            transceive(&mut r, cmd, DEFAULT_MAX_ROUNDS)?.to_bytes()
        };
        println!("< {}", spaced(&rsp));
    }
    // Leave the card powered with its state, so a next invocation can continue.
    r.release();
    Ok(())
}

fn catalogue(dir: Option<&PathBuf>) -> Result<Catalogue> {
    Ok(match dir {
        Some(d) => Catalogue::load_dir(d)?,
        None => Catalogue::builtin()?,
    })
}

fn models(dir: Option<&PathBuf>) -> Result<()> {
    for m in catalogue(dir)?.models() {
        let p = &m.profile;
        println!(
            "{:<24} TAC {}  {}  {}{}  sample IMEI {}",
            p.name(),
            p.tac,
            p.release_year,
            p.manufacturer,
            if p.depreciated { "  (depreciated)" } else { "" },
            m.imei
        );
    }
    Ok(())
}

fn parse_sms_result(s: &str) -> Result<MoOutcome> {
    Ok(match s {
        "ok" => MoOutcome::Sent { mr: 0 },
        "unable" => MoOutcome::NetworkUnable { cause: None },
        _ => match s.strip_prefix("rp-error:") {
            Some(c) => MoOutcome::RpError {
                cause: c.parse().context("rp-error cause must be 0..=255")?,
            },
            None => anyhow::bail!("--sms-result: expected ok, unable or rp-error:CAUSE, got {s:?}"),
        },
    })
}

struct ProbeArgs<'a> {
    reader: &'a str,
    imei: &'a str,
    pin: Option<&'a String>,
    model: Option<&'a String>,
    handset: Option<&'a PathBuf>,
    catalogue: Option<&'a PathBuf>,
    plmn: (&'a str, &'a str),
    lac: u16,
    cell: u16,
    sms_result: &'a str,
    run_for: u64,
    trace: Option<PathBuf>,
}

fn probe(a: ProbeArgs<'_>) -> Result<()> {
    let imei: applet::wire::imei::Imei = a
        .imei
        .parse()
        .map_err(|e| anyhow::anyhow!("--imei {:?}: not 15 digits ({e})", a.imei))?;
    let cat = catalogue(a.catalogue)?;
    let handset: Handset = if let Some(path) = a.handset {
        HandsetProfile::load(path)?.with_imei(imei)?
    } else if let Some(name) = a.model {
        cat.by_id(name)
            .or_else(|| cat.by_name(name))
            .with_context(|| {
                format!("no model {name:?} in the catalogue (see `handset-sim models`)")
            })?
            .with_imei(imei)?
    } else {
        cat.handset_for_imei(imei)?
    };
    let plmn = Plmn::new(a.plmn.0, a.plmn.1)
        .with_context(|| format!("bad PLMN {}-{}", a.plmn.0, a.plmn.1))?;
    let outcome = parse_sms_result(a.sms_result)?;
    let mut network = SimNetwork::new();
    network.location = Some(LocationInfo::normal(plmn, a.lac, a.cell));
    if !matches!(outcome, MoOutcome::Sent { .. }) {
        network.script.extend(std::iter::repeat_n(outcome, 64));
    }
    let reader = PcscReader::open(&ReaderSelector::Auto(a.reader.to_owned()))?;
    println!(
        "handset: {} (TAC {}, {}), IMEI {}, IMEISV {}",
        handset.profile.name(),
        handset.profile.tac,
        handset.profile.release_year,
        handset.imei,
        handset.imeisv
    );
    println!("reader:  {}", reader.name());
    let config = TerminalConfig {
        pin: a.pin.cloned(),
        ..TerminalConfig::default()
    };
    let mut reader = Recorder::new(reader);
    if let Some(path) = &a.trace {
        let start = unix_now();
        reader
            .set_header("card", format!("the card in {}", reader.name()))
            .set_header(
                "handset",
                format!("{} IMEI {}", handset.profile.name(), handset.imei),
            )
            .set_header(
                "start",
                format!("{}.{:06}", start.as_secs(), start.subsec_micros()),
            )
            .stream_to(trace_sink(path)?);
        println!("trace:   {}", path.display());
    }
    let mut t = Terminal::with_config(reader, handset, network, config);
    let mut outcome = t.power_up().map(|_| ());
    if outcome.is_ok() {
        outcome = t.attach();
    }
    if outcome.is_ok() && a.run_for > 0 {
        outcome = t.run_until(a.run_for * 1000);
    }
    for e in t.log() {
        println!("[{:>9.3}s] {}", e.at_ms as f64 / 1000.0, e.event);
    }
    let sent = t.network().sent.len();
    println!("MO SMS sent by the card: {sent}");
    t.power_off();
    let (reader, _) = t.into_parts();
    if let (Some(e), Some(path)) = (reader.sink_error(), &a.trace) {
        eprintln!("warning: writing the trace {} failed: {e}", path.display());
    }
    outcome?;
    Ok(())
}

struct ServeArgs<'a> {
    card: &'a std::path::Path,
    port: u16,
    nvm: Option<&'a PathBuf>,
    clock: &'a str,
    trace: Option<PathBuf>,
}

fn serve(a: ServeArgs<'_>) -> Result<()> {
    use handset_sim::serve::{CardSource, ServeOptions};
    use handset_sim::terminal::uicc::CardFile;
    let file = CardFile::load(a.card).map_err(anyhow::Error::msg)?;
    let p = file.personalisation().map_err(anyhow::Error::msg)?;
    handset_sim::serve::serve(
        &CardSource::Personalised(Box::new(p)),
        &ServeOptions {
            port: a.port,
            nvm: a.nvm.cloned(),
            clock: a.clock.to_owned(),
            trace: a.trace,
            label: a.card.display().to_string(),
        },
    )
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let default = match cli.verbose {
        0 => "warn",
        1 => "warn,handset_sim=debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let outcome = match &cli.command {
        Command::Readers => readers(),
        Command::Send {
            reader,
            raw,
            reset,
            apdus,
        } => send(reader, *raw, *reset, apdus),
        Command::Probe {
            reader,
            imei,
            pin,
            model,
            handset,
            catalogue,
            mcc,
            mnc,
            lac,
            cell,
            sms_result,
            run_for,
            trace,
        } => trace.path("probe").and_then(|trace| {
            probe(ProbeArgs {
                reader,
                imei,
                pin: pin.as_ref(),
                model: model.as_ref(),
                handset: handset.as_ref(),
                catalogue: catalogue.as_ref(),
                plmn: (mcc, mnc),
                lac: *lac,
                cell: *cell,
                sms_result,
                run_for: *run_for,
                trace,
            })
        }),
        Command::Models { catalogue } => models(catalogue.as_ref()),
        Command::ServeVpcd {
            card,
            port,
            nvm,
            clock,
            trace,
        } => trace.path("serve-vpcd").and_then(|trace| {
            serve(ServeArgs {
                card,
                port: *port,
                nvm: nvm.as_ref(),
                clock,
                trace,
            })
        }),
    };
    // A plain message, not anyhow's Debug form (which adds a backtrace when
    // RUST_BACKTRACE is set).
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
