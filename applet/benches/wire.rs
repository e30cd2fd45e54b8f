//! Criterion benchmarks for the wire codecs on the applet's hot path (issue 2): one
//! PROVIDE LOCAL INFORMATION (IMEI) round and one SEND SHORT MESSAGE round, parsed and
//! emitted on both sides (card and handset).
//!
//! Run: `cargo bench -p applet --bench wire -- --warm-up-time 1 --measurement-time 3`.
//! Figures and the target (full exchange under 1 µs) are in `docs/benchmarks.md`.
//!
//! Every step works on stack buffers, as the card does; values the card would hold in
//! NVM (the server number, the registration content, the key) are built once outside
//! the timed loop.

use std::hint::black_box;

use applet::wire::cat::{
    CommandType, ImeiIe, PliQualifier, ProactiveCommand, ProvideLocalInformation, ResponseData,
    SendShortMessage, TerminalResponse,
};
use applet::wire::imei::{Imei, Imeisv, TacSnr};
use applet::wire::registration::{EventKind, KeyId, MAX_LEN, RegistrationRepr};
use applet::wire::sms::{Address, DataCodingScheme, SmsSubmit, UserData};
use criterion::{Criterion, criterion_group, criterion_main};

/// Large enough for any command of this exchange (the longest, SEND SHORT MESSAGE with a
/// 65-byte registration message, is under 100 bytes).
const BUF: usize = 256;

/// What the card and the handset hold before the exchange starts.
struct Ctx {
    /// The handset's IMEI (handset side).
    imei: Imei,
    /// Registration message content (card side, from NVM + the IMEI just received).
    registration: RegistrationRepr,
    /// Registration key (card side).
    key: [u8; 16],
    /// The server's number (card side, from NVM).
    server: Address,
    /// The registration message, already signed (for the benches without CMAC).
    signed: [u8; MAX_LEN],
    /// Its length.
    signed_len: usize,
}

fn ctx() -> Ctx {
    let tac_snr: TacSnr = "35209900176148".parse().expect("TAC+SNR");
    let imei = Imei::with_check_digit(tac_snr);
    let mut imei_id = [0u8; 8];
    imei.emit(&mut imei_id).expect("IMEI");
    let mut imeisv_id = [0u8; 9];
    Imeisv::new(tac_snr, 7)
        .expect("IMEISV")
        .emit(&mut imeisv_id)
        .expect("IMEISV");
    let registration = RegistrationRepr {
        key_id: KeyId::aes_cmac(1).expect("KID"),
        event: EventKind::HANDSET_CHANGED,
        iccid: [0x98, 0x44, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x71],
        imsi: [0x08, 0x09, 0x10, 0x10, 0x10, 0x32, 0x54, 0x76, 0x98],
        counter: 42,
        imei: imei_id,
        imeisv: Some(imeisv_id),
        previous_imei: None,
    };
    let key = [0x2B; 16];
    let mut signed = [0u8; MAX_LEN];
    let signed_len = registration.emit_signed(&key, &mut signed).expect("sign");
    Ctx {
        imei,
        registration,
        key,
        server: Address::number("+447700900123").expect("number"),
        signed,
        signed_len,
    }
}

// --- The eight steps. Each returns something derived from its output so nothing is
// optimised away.

/// Card: emit FETCH data for PROVIDE LOCAL INFORMATION (IMEI).
fn card_emit_pli(out: &mut [u8]) -> usize {
    let cmd = ProactiveCommand::ProvideLocalInformation(ProvideLocalInformation::new(
        black_box(1),
        PliQualifier::IMEI,
    ));
    cmd.emit(out).expect("emit PLI")
}

/// Handset: parse the FETCH data; returns the command details to echo.
fn handset_parse_pli(fetch: &[u8]) -> applet::wire::cat::CommandDetails {
    let cmd = ProactiveCommand::parse(fetch).expect("parse PLI");
    match cmd {
        ProactiveCommand::ProvideLocalInformation(p) if p.qualifier() == PliQualifier::IMEI => {
            p.details
        }
        _ => panic!("not PLI IMEI"),
    }
}

/// Handset: encode its IMEI as a mobile identity and emit the TERMINAL RESPONSE.
fn handset_emit_tr_imei(
    details: applet::wire::cat::CommandDetails,
    imei: &Imei,
    out: &mut [u8],
) -> usize {
    let mut id = [0u8; 8];
    imei.emit(&mut id).expect("IMEI");
    TerminalResponse::success(details, ResponseData::Imei(ImeiIe::new(id)))
        .emit(out)
        .expect("emit TR")
}

/// Card: parse the TERMINAL RESPONSE and decode the IMEI digits.
fn card_parse_tr_imei(tr: &[u8]) -> Imei {
    let r = TerminalResponse::parse(tr).expect("parse TR");
    match r.data {
        ResponseData::Imei(ie) if r.result.general.is_performed() => {
            Imei::parse(&ie.identity).expect("IMEI digits")
        }
        _ => panic!("no IMEI"),
    }
}

/// Card: sign the registration message (AES-CMAC).
fn card_sign_registration(ctx: &Ctx, out: &mut [u8]) -> usize {
    ctx.registration
        .emit_signed(&ctx.key, out)
        .expect("emit_signed")
}

/// Card: wrap `registration` in an 8-bit SMS-SUBMIT and emit SEND SHORT MESSAGE.
fn card_emit_send_sm(ctx: &Ctx, registration: &[u8], out: &mut [u8]) -> usize {
    let submit = SmsSubmit::new(
        black_box(7),
        ctx.server,
        DataCodingScheme::EIGHT_BIT,
        UserData::octets(None, registration),
    );
    let mut tpdu = [0u8; 176];
    let n = submit.emit(&mut tpdu).expect("emit TPDU");
    let sm = SendShortMessage::new(2, tpdu.get(..n).expect("len"));
    ProactiveCommand::SendShortMessage(sm)
        .emit(out)
        .expect("emit SEND SM")
}

/// Handset: parse SEND SHORT MESSAGE and its SMS-SUBMIT TPDU; returns the command details
/// and the user-data length (what the handset would hand to its SMS stack).
fn handset_parse_send_sm(fetch: &[u8]) -> (applet::wire::cat::CommandDetails, usize) {
    let cmd = ProactiveCommand::parse(fetch).expect("parse SEND SM");
    let ProactiveCommand::SendShortMessage(sm) = cmd else {
        panic!("not SEND SM")
    };
    let submit = SmsSubmit::parse(sm.tpdu.tpdu).expect("parse SUBMIT");
    black_box(&submit.destination);
    (sm.details, submit.user_data.ud_len())
}

/// Handset: emit TERMINAL RESPONSE "performed successfully".
fn handset_emit_tr_success(details: applet::wire::cat::CommandDetails, out: &mut [u8]) -> usize {
    TerminalResponse::success(details, ResponseData::None)
        .emit(out)
        .expect("emit TR")
}

/// Card: parse that TERMINAL RESPONSE; true when the SMS went out.
fn card_parse_tr_success(tr: &[u8]) -> bool {
    let r = TerminalResponse::parse(tr).expect("parse TR");
    r.details.kind == CommandType::SEND_SHORT_MESSAGE && r.result.general.is_performed()
}

/// All eight steps in order, with or without signing the registration message.
fn full_exchange(ctx: &Ctx, with_cmac: bool) -> usize {
    let mut a = [0u8; BUF];
    let mut b = [0u8; BUF];
    let n = card_emit_pli(&mut a);
    let details = handset_parse_pli(&a[..n]);
    let n = handset_emit_tr_imei(details, &ctx.imei, &mut b);
    let imei = card_parse_tr_imei(&b[..n]);
    black_box(&imei);
    let mut reg = [0u8; MAX_LEN];
    let reg_len = if with_cmac {
        card_sign_registration(ctx, &mut reg)
    } else {
        reg[..ctx.signed_len].copy_from_slice(&ctx.signed[..ctx.signed_len]);
        ctx.signed_len
    };
    let n = card_emit_send_sm(ctx, &reg[..reg_len], &mut a);
    let (details, ud_len) = handset_parse_send_sm(&a[..n]);
    let n = handset_emit_tr_success(details, &mut b);
    let sent = card_parse_tr_success(&b[..n]);
    ud_len + usize::from(sent)
}

fn benches(c: &mut Criterion) {
    let ctx = ctx();
    let registration = &ctx.signed[..ctx.signed_len];

    // Pre-built inputs for the parse benches, checked once.
    let mut pli = [0u8; BUF];
    let pli_len = card_emit_pli(&mut pli);
    let pli = &pli[..pli_len];
    let details = handset_parse_pli(pli);
    let mut tr_imei = [0u8; BUF];
    let tr_imei_len = handset_emit_tr_imei(details, &ctx.imei, &mut tr_imei);
    let tr_imei = &tr_imei[..tr_imei_len];
    assert_eq!(card_parse_tr_imei(tr_imei), ctx.imei);
    let mut send_sm = [0u8; BUF];
    let send_sm_len = card_emit_send_sm(&ctx, registration, &mut send_sm);
    let send_sm = &send_sm[..send_sm_len];
    let (sm_details, ud_len) = handset_parse_send_sm(send_sm);
    assert_eq!(ud_len, registration.len());
    let mut tr_ok = [0u8; BUF];
    let tr_ok_len = handset_emit_tr_success(sm_details, &mut tr_ok);
    let tr_ok = &tr_ok[..tr_ok_len];
    assert!(card_parse_tr_success(tr_ok));
    assert_eq!(full_exchange(&ctx, true), full_exchange(&ctx, false));

    let mut g = c.benchmark_group("wire");
    let mut out = [0u8; BUF];
    g.bench_function("1_card_emit_pli_imei", |b| {
        b.iter(|| card_emit_pli(black_box(&mut out)))
    });
    g.bench_function("2_handset_parse_pli", |b| {
        b.iter(|| handset_parse_pli(black_box(pli)))
    });
    g.bench_function("3_handset_emit_tr_imei", |b| {
        b.iter(|| handset_emit_tr_imei(black_box(details), black_box(&ctx.imei), &mut out))
    });
    g.bench_function("4_card_parse_tr_imei", |b| {
        b.iter(|| card_parse_tr_imei(black_box(tr_imei)))
    });
    g.bench_function("5a_card_sign_registration_cmac", |b| {
        b.iter(|| card_sign_registration(black_box(&ctx), &mut out))
    });
    g.bench_function("5b_card_emit_send_sm", |b| {
        b.iter(|| card_emit_send_sm(black_box(&ctx), black_box(registration), &mut out))
    });
    g.bench_function("6_handset_parse_send_sm", |b| {
        b.iter(|| handset_parse_send_sm(black_box(send_sm)))
    });
    g.bench_function("7_handset_emit_tr_success", |b| {
        b.iter(|| handset_emit_tr_success(black_box(sm_details), &mut out))
    });
    g.bench_function("8_card_parse_tr_success", |b| {
        b.iter(|| card_parse_tr_success(black_box(tr_ok)))
    });
    g.bench_function("full_exchange_without_cmac", |b| {
        b.iter(|| full_exchange(black_box(&ctx), false))
    });
    g.bench_function("full_exchange_with_cmac", |b| {
        b.iter(|| full_exchange(black_box(&ctx), true))
    });
    g.finish();
}

criterion_group!(wire, benches);
criterion_main!(wire);
