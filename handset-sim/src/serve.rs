//! `serve-vpcd` as a library: present the project's simulated card to `pcscd` through
//! vpcd until SIGINT / SIGTERM, with its NVM in memory or in a file, a wall or fixed
//! card clock, and an optional card-side APDU trace.
//!
//! Used by `handset-sim serve-vpcd --card CARD.toml` and by
//! `imeitrack serve-vpcd --scenario FILE --card NAME` (which serves a card personalised
//! exactly as the scenario engine personalises it, as an NVM image).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context as _, Result};
use applet::card::{CardNvm, NVM_LEN, Personalisation};

use crate::VirtualCard;
use crate::terminal::uicc::{CardClock, NvmFile, PersistentUicc, SimulatedUicc};
use crate::trace::CardRecorder;

/// What card to serve.
#[derive(Debug, Clone)]
pub enum CardSource {
    /// A blank card personalised from this (an existing `--nvm` image wins).
    Personalised(Box<Personalisation>),
    /// A card already personalised: this NVM image. With `--nvm FILE`, a missing FILE
    /// is created with the image; an existing one must hold the same card (same
    /// registration key), else serving is refused.
    Image {
        /// The NVM image ([`applet::card::NVM_LEN`] bytes).
        image: Box<[u8; NVM_LEN]>,
        /// The card's registration key (what identifies it in an existing image).
        key: [u8; 16],
    },
}

/// How to serve.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// vpcd port (35963 = slot 0, 35964 = slot 1).
    pub port: u16,
    /// Keep the card's NVM image in this file across runs.
    pub nvm: Option<PathBuf>,
    /// Card clock: `wall` (Unix time, ms) or `fixed:MS`.
    pub clock: String,
    /// Record a card-side `.apdu` trace here.
    pub trace: Option<PathBuf>,
    /// What the card is, for messages and the trace header (`card`).
    pub label: String,
}

/// Parses `wall` or `fixed:MS`.
pub fn parse_clock(s: &str) -> Result<CardClock> {
    match s {
        "wall" => Ok(CardClock::unix()),
        _ => match s.strip_prefix("fixed:").map(str::parse::<u64>) {
            Some(Ok(ms)) => Ok(CardClock::fixed(ms)),
            _ => anyhow::bail!("--clock: expected wall or fixed:MS, got {s:?}"),
        },
    }
}

/// Sets `flag` on SIGINT or SIGTERM (a background thread with a small tokio runtime).
pub fn stop_on_signal(flag: Arc<AtomicBool>) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .context("signal runtime")?;
    let mut term = {
        let _guard = rt.enter();
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("SIGTERM handler")?
    };
    std::thread::spawn(move || {
        rt.block_on(async {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        });
        flag.store(true, Ordering::Relaxed);
    });
    Ok(())
}

fn unix_now() -> std::time::Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
}

/// Opens a trace file for streaming.
pub fn trace_sink(path: &Path) -> Result<std::io::BufWriter<std::fs::File>> {
    let f = std::fs::File::create(path)
        .with_context(|| format!("cannot create trace {}", path.display()))?;
    Ok(std::io::BufWriter::new(f))
}

/// The card to serve, per `source` and `--nvm`.
pub fn open_card(
    source: &CardSource,
    nvm: Option<&Path>,
    clock: CardClock,
) -> Result<Box<dyn VirtualCard + Send>> {
    Ok(match (source, nvm) {
        (CardSource::Personalised(p), Some(path)) => Box::new(
            PersistentUicc::open(p, NvmFile::new(path), clock).map_err(anyhow::Error::msg)?,
        ),
        (CardSource::Personalised(p), None) => Box::new(
            SimulatedUicc::with_nvm(p, CardNvm::new(), clock)
                .map_err(|f| anyhow::anyhow!("personalisation failed: {f:?}"))?,
        ),
        (CardSource::Image { image, key }, Some(path)) => {
            let file = NvmFile::new(path);
            if file.load().map_err(anyhow::Error::msg)?.is_none() {
                file.save(image)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            // The image is personalised, so the personalisation given here is unused.
            let card = PersistentUicc::open(&applet::card::test_personalisation(), file, clock)
                .map_err(anyhow::Error::msg)?;
            let same = card
                .uicc()
                .card()
                .record()
                .is_ok_and(|r| r.is_personalised() && r.key() == *key);
            if !same {
                anyhow::bail!(
                    "{} holds another card's NVM (its registration key differs); remove it or choose another --nvm file",
                    path.display()
                );
            }
            Box::new(card)
        }
        (CardSource::Image { image, key }, None) => {
            let card = SimulatedUicc::with_nvm(
                &applet::card::test_personalisation(),
                CardNvm::from_image(**image),
                clock,
            )
            .map_err(|f| anyhow::anyhow!("card image refused: {f:?}"))?;
            let same = card
                .card()
                .record()
                .is_ok_and(|r| r.is_personalised() && r.key() == *key);
            if !same {
                anyhow::bail!("the card image is not personalised with the expected key");
            }
            Box::new(card)
        }
    })
}

/// Serves the card until SIGINT / SIGTERM (see the module docs).
pub fn serve(source: &CardSource, o: &ServeOptions) -> Result<()> {
    let clock = parse_clock(&o.clock)?;
    let card = open_card(source, o.nvm.as_deref(), clock)?;
    let addr = std::net::SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, o.port));
    let config = crate::vpcd::VpcdConfig::new(addr);
    eprintln!(
        "serving {} on vpcd {addr}{}{}; Ctrl-C stops",
        o.label,
        o.nvm
            .as_ref()
            .map(|p| format!(", NVM in {}", p.display()))
            .unwrap_or_default(),
        o.trace
            .as_ref()
            .map(|p| format!(", trace to {}", p.display()))
            .unwrap_or_default(),
    );
    let shutdown = Arc::new(AtomicBool::new(false));
    stop_on_signal(shutdown.clone())?;
    match &o.trace {
        None => {
            // Dropping the card saves its NVM one last time (PersistentUicc::drop).
            drop(crate::vpcd::serve_vpcd(card, &config, &shutdown)?);
        }
        Some(path) => {
            let mut r = CardRecorder::new(card, &format!("vpcd {addr} (card side)"));
            let start = unix_now();
            r.set_header("card", o.label.clone()).set_header(
                "start",
                format!("{}.{:06}", start.as_secs(), start.subsec_micros()),
            );
            if let Some(ms) = o.clock.strip_prefix("fixed:") {
                r.set_header(crate::trace::card::CARD_CLOCK_KEY, ms);
            }
            r.stream_to(trace_sink(path)?);
            let r = crate::vpcd::serve_vpcd(r, &config, &shutdown)?;
            if let Some(e) = r.sink_error() {
                eprintln!("warning: writing the trace {} failed: {e}", path.display());
            }
            let (card, trace) = r.into_parts();
            drop(card);
            eprintln!(
                "trace {}: {} event(s), {} exchange(s)",
                path.display(),
                trace.len(),
                trace.exchange_count()
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks_parse_and_bad_ones_are_named() {
        assert_eq!(parse_clock("fixed:42").unwrap().now_ms(), 42);
        assert!(parse_clock("wall").unwrap().now_ms() > 1_700_000_000_000);
        let e = parse_clock("fixed:soon").unwrap_err().to_string();
        assert!(e.contains("fixed:soon"), "{e}");
    }

    #[test]
    fn an_image_serves_that_card_and_a_foreign_nvm_file_is_refused() {
        let p = applet::card::test_personalisation();
        let sim = SimulatedUicc::new(&p).unwrap();
        let image = Box::new(*sim.nvm_image());
        let source = CardSource::Image {
            image: image.clone(),
            key: p.applet.key,
        };
        let mut card = open_card(&source, None, CardClock::fixed(0)).unwrap();
        card.power_on();
        // SELECT EF.ICCID, READ BINARY: the image's ICCID.
        assert_eq!(
            card.process(&[0x00, 0xA4, 0x08, 0x0C, 0x02, 0x2F, 0xE2]),
            [0x90, 0x00]
        );
        let r = card.process(&[0x00, 0xB0, 0x00, 0x00, 0x0A]);
        assert_eq!(&r[..10], &p.files.iccid);

        let wrong = CardSource::Image {
            image,
            key: [0x55; 16],
        };
        let e = open_card(&wrong, None, CardClock::fixed(0)).err().unwrap();
        assert!(e.to_string().contains("expected key"), "{e}");

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("card.nvm");
        drop(open_card(&source, Some(&path), CardClock::fixed(0)).unwrap());
        assert_eq!(std::fs::read(&path).unwrap().len(), NVM_LEN);
        let e = open_card(&wrong, Some(&path), CardClock::fixed(0))
            .err()
            .unwrap();
        assert!(e.to_string().contains("another card"), "{e}");
    }
}
