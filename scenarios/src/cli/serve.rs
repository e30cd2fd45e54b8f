//! `imeitrack serve-vpcd --scenario FILE [--card NAME]`: presents one scenario card to
//! `pcscd` through vpcd, personalised exactly as the scenario engine personalises it
//! (same files, PIN1, applet configuration, registration key derived from the
//! scenario's seed), so `imeitrack run FILE --reader pcsc:NAME` can play it
//! (`docs/scenarios.md`, "A card in a PC/SC reader").
//!
//! The serving itself is `handset-sim serve-vpcd`'s ([`handset_sim::serve`]): same
//! `--port`, `--nvm`, `--clock`, `--trace` options.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use handset_sim::serve::{CardSource, ServeOptions};

use crate::engine::reader::{reader_card, served_card_image};
use crate::scenario;

/// `imeitrack serve-vpcd`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The scenario file whose card to serve.
    #[arg(long)]
    pub scenario: PathBuf,
    /// The card (a name under [world.cards]); default: the scenario's only card.
    #[arg(long)]
    pub card: Option<String>,
    /// vpcd port (35963 = slot 0, "Virtual PCD 00 00"; 35964 = slot 1).
    #[arg(long, default_value_t = handset_sim::vpcd::VPCD_PORT)]
    pub port: u16,
    /// Keep the card's NVM image in FILE across runs (created with the fresh card when
    /// missing; an existing FILE must hold this card). Without it every start serves a
    /// fresh card, which is what `imeitrack run --reader` expects.
    #[arg(long, value_name = "FILE")]
    pub nvm: Option<PathBuf>,
    /// Card clock: `fixed:MS` (stands still; default `fixed:0`, virtual time 0 of the
    /// scenario) or `wall` (Unix time, ms). The card reads it only for its rate-limit
    /// period.
    #[arg(long, default_value = "fixed:0")]
    pub clock: String,
    /// Record every reset, ATR and exchange the card sees to this `.apdu` trace.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
}

/// `imeitrack serve-vpcd`: serves until SIGINT / SIGTERM.
pub fn run(args: ServeArgs) -> Result<ExitCode> {
    let s = scenario::load(&args.scenario)?;
    let card = reader_card(&s, args.card.as_deref())?;
    let (image, key) = served_card_image(&s, &card)?;
    let c = &s.world.cards[&card];
    let label = format!(
        "card {card} of {} (ICCID {}, IMSI {})",
        args.scenario.display(),
        c.iccid.get_ref().as_str(),
        c.imsi.get_ref().as_str()
    );
    handset_sim::serve::serve(
        &CardSource::Image { image, key },
        &ServeOptions {
            port: args.port,
            nvm: args.nvm,
            clock: args.clock,
            trace: args.trace,
            label,
        },
    )?;
    Ok(ExitCode::SUCCESS)
}
