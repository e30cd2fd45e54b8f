//! Shared set-up for the world tests: a primary network with an MVNO, the project's
//! test card, two catalogue handsets, and — **for tests only** — a small recording
//! server that stands in for the provisioning stub until its in-process pipeline is on
//! main. It checks the registration MAC with the card's key and answers with an
//! ordinary text SMS; it is not a product path.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use applet::card::Personalisation;
use applet::wire::registration::Registration;
use handset_sim::network::{Network, Networks, Operator, Plmn, ShortMessage};
use handset_sim::profile::Catalogue;
use scenarios::world::{
    ArrowSpec, CardSpec, HandsetSpec, Lane, ProvisioningServer, ServerReply, ServerVerdict,
    Treatment, World, WorldBuilder,
};

/// The stub's number (the test card's registration server, +447700900123).
pub const STUB: &str = "447700900123";
/// The test card's MSISDN.
pub const MSISDN: &str = "447700900555";

/// Primary MNO 001-01 on network "primary", MVNO 001-02 hosted on it, and a second
/// network "roaming" (002-01).
pub fn networks() -> Networks {
    let mut n = Networks::new();
    n.add_network(Network {
        name: "primary".into(),
        plmn: Plmn::new(1, 1),
        lac: 0x1234,
        cell_id: 0x0042,
        smsc_address: "447700900000".into(),
    })
    .unwrap();
    n.add_network(Network {
        name: "roaming".into(),
        plmn: Plmn::new(2, 1),
        lac: 7,
        cell_id: 9,
        smsc_address: "447700900001".into(),
    })
    .unwrap();
    n.add_operator(Operator {
        name: "primary".into(),
        home_plmn: Plmn::new(1, 1),
        host_network: "primary".into(),
        mvno: false,
    })
    .unwrap();
    n.add_operator(Operator {
        name: "mvno".into(),
        home_plmn: Plmn::new(1, 2),
        host_network: "primary".into(),
        mvno: true,
    })
    .unwrap();
    n
}

/// `applet::card::test_personalisation` with PIN1 disabled.
pub fn card() -> Personalisation {
    let mut p = applet::card::test_personalisation();
    p.files.pin1_enabled = false;
    p
}

/// A catalogue handset by model name.
pub fn handset(model: &str) -> HandsetSpec {
    let c = Catalogue::builtin().unwrap();
    HandsetSpec::new(c.by_name(model).unwrap().clone())
}

/// What the recording server saw.
#[derive(Debug, Default)]
pub struct Seen {
    /// Every MO message with its time.
    pub mo: Vec<(u64, ShortMessage)>,
    /// Verdicts.
    pub verdicts: Vec<ServerVerdict>,
}

/// **Test-only** server: verifies the registration MAC, answers "welcome" as text.
pub struct RecordingServer {
    pub key: [u8; 16],
    pub seen: Arc<Mutex<Seen>>,
}

impl ProvisioningServer for RecordingServer {
    fn on_mo(&mut self, sm: &ShortMessage, now_ms: u64) -> ServerReply {
        let mut seen = self.seen.lock().unwrap();
        seen.mo.push((now_ms, sm.clone()));
        let Ok(r) = Registration::new_checked(&sm.user_data) else {
            return ServerReply::ack();
        };
        let ok = r.verify_mac(&self.key).is_ok();
        let imei = applet::wire::imei::Imei::parse(r.imei())
            .ok()
            .map(|i| i.to_string());
        seen.verdicts.push(ServerVerdict {
            t_ms: now_ms,
            iccid: None,
            imei,
            outcome: if ok {
                Ok(Treatment {
                    depreciated: false,
                    key_source: None,
                    device_key: None,
                })
            } else {
                Err("bad MAC".into())
            },
        });
        let mut reply = ServerReply::ack();
        reply.arrows.push(
            ArrowSpec::new(
                Lane::Stub,
                Lane::Stub,
                if ok { "verified" } else { "rejected" },
            )
            .line(format!("counter {}", r.counter())),
        );
        if ok {
            // GSM 7-bit "welcome" (unpacked septets, SMPP style).
            reply.mt.push(ShortMessage::new(
                "",
                sm.source.clone(),
                0,
                0,
                b"welcome".to_vec(),
            ));
        }
        reply
    }

    fn verdicts(&self) -> Vec<ServerVerdict> {
        self.seen.lock().unwrap().verdicts.clone()
    }
}

/// A world: card "sim" (test card, MSISDN 447700900555), handsets "s22" (Solstice S22,
/// supported) and "n310" (Nordvik N310, depreciated), the recording server on `STUB`.
pub fn world(seed: u64) -> (World, Arc<Mutex<Seen>>) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let p = card();
    let server = RecordingServer {
        key: p.applet.key,
        seen: seen.clone(),
    };
    let w = WorldBuilder::new(seed)
        .networks(networks())
        .card(
            "sim",
            CardSpec {
                personalisation: p,
                msisdn: MSISDN.into(),
            },
        )
        .handset("s22", handset("S22"))
        .handset("n310", handset("N310"))
        .server(STUB, Box::new(server))
        .build()
        .unwrap();
    (w, seen)
}
