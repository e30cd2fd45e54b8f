//! SMPP throughput through the SMSC simulator on loopback.
//!
//! One ESME (this program, framing from `network::smpp::frame`, bodies by `rusmpp`)
//! binds as a transceiver and keeps `WINDOW` `submit_sm` outstanding; every
//! `submit_sm_resp` releases the next one. Reports round trips per second and SMPP
//! PDUs per second (each round trip is two PDUs). Every submitted message is queued
//! for a handset in the core, so the figure includes the SMSC's own work.
//!
//! `cargo bench -p handset-sim --bench smsc` (environment: `SMSC_BENCH_N`,
//! `SMSC_BENCH_WINDOW`).

use std::str::FromStr;
use std::time::Instant;

use bytes::BytesMut;
use handset_sim::network::smpp::frame::{self, Frame};
use handset_sim::network::*;
use rusmpp::pdus::{BindTransceiver, SubmitSm};
use rusmpp::types::{COctetString, OctetString};
use rusmpp::values::{DataCoding, EsmClass, InterfaceVersion};
use rusmpp::{Command, CommandId, CommandStatus};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const HANDSET: &str = "447700900123";

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn next(s: &mut TcpStream, buf: &mut BytesMut) -> Command {
    loop {
        if let Some(f) = frame::parse(buf).expect("framing") {
            match f {
                Frame::Command(c) => return *c,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(s.read_buf(buf).await.expect("read") > 0, "server closed");
    }
}

fn main() {
    let n = env_or("SMSC_BENCH_N", 50_000);
    let window = env_or("SMSC_BENCH_WINDOW", 10);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let mut w = Networks::new();
        w.add_network(Network {
            name: "primary".into(),
            plmn: Plmn::new(1, 1),
            lac: 1,
            cell_id: 1,
            smsc_address: "447700900000".into(),
        })
        .expect("network");
        let config = SmscConfig {
            accounts: vec![EsmeAccount::new("bench", "secret")],
            ..SmscConfig::default()
        };
        let mut smsc = Smsc::new(config, w, 1);
        smsc.networks
            .attach(HANDSET, "001010123456789", "primary")
            .expect("attach");
        let handle = SmscHandle::new(smsc, Clock::wall());
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(smpp::run(listener, handle.clone(), async {
            let _ = stopped.await;
        }));

        let mut s = TcpStream::connect(addr).await.expect("connect");
        s.set_nodelay(true).expect("nodelay");
        let mut rbuf = BytesMut::new();
        let mut wbuf = BytesMut::new();
        let bind = BindTransceiver::builder()
            .system_id(COctetString::from_str("bench").expect("id"))
            .password(COctetString::from_str("secret").expect("pw"))
            .interface_version(InterfaceVersion::Smpp3_4)
            .build();
        frame::emit(&Command::new(CommandStatus::EsmeRok, 1, bind), &mut wbuf);
        s.write_all(&wbuf).await.expect("write");
        wbuf.clear();
        assert_eq!(
            next(&mut s, &mut rbuf).await.status(),
            CommandStatus::EsmeRok
        );

        // 8-bit, UDH with WAP push ports, 100 octets of data: a provisioning-sized SMS.
        let mut payload = vec![0x06, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0];
        payload.extend(std::iter::repeat_n(0xA5, 100));
        let submit = SubmitSm::builder()
            .source_addr(COctetString::from_str("4321").expect("src"))
            .destination_addr(COctetString::from_str(HANDSET).expect("dst"))
            .esm_class(EsmClass::from(0x40))
            .data_coding(DataCoding::from(4))
            .short_message(OctetString::from_slice(&payload).expect("sm"))
            .build();

        let start = Instant::now();
        let (mut sent, mut done) = (0usize, 0usize);
        while done < n {
            while sent < n && sent - done < window {
                let seq = u32::try_from(sent + 2).expect("seq");
                frame::emit(
                    &Command::new(CommandStatus::EsmeRok, seq, submit.clone()),
                    &mut wbuf,
                );
                sent += 1;
            }
            if !wbuf.is_empty() {
                s.write_all(&wbuf).await.expect("write");
                wbuf.clear();
            }
            let r = next(&mut s, &mut rbuf).await;
            assert_eq!(
                (r.id(), r.status()),
                (CommandId::SubmitSmResp, CommandStatus::EsmeRok)
            );
            done += 1;
        }
        let secs = start.elapsed().as_secs_f64();
        let queued = handle.with_quiet(|s, _| s.mt_queue_len(HANDSET));
        assert_eq!(queued, n);
        println!(
            "smsc: {n} submit_sm -> submit_sm_resp round trips, window {window}, {secs:.3} s: \
             {:.0} round trips/s = {:.0} SMPP PDUs/s",
            n as f64 / secs,
            2.0 * n as f64 / secs
        );
        let _ = stop.send(());
        let _ = server.await;
    });
}
