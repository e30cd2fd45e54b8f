//! Tracker unit tests: transitions over typed inputs, persistent effects.
extern crate std;

use super::*;
use crate::card::nvm::Nvm;
use crate::wire::cat::{
    CommandResult, EventDownload, GeneralResult, ImeiIe, ImeisvIe, TimerExpiration,
};
use crate::wire::registration::{KeyId, Registration as RegView};
use crate::wire::sms;

/// IMEI 490154203237518 (03-imei.md §3).
const IMEI_A: [u8; 8] = [0x4A, 0x09, 0x51, 0x24, 0x30, 0x32, 0x57, 0x81];
/// Same TAC+SNR with the spare 0 in digit 15.
const IMEI_A_SPARE: [u8; 8] = [0x4A, 0x09, 0x51, 0x24, 0x30, 0x32, 0x57, 0x01];
/// IMEI 352099001761481 (03-imei.md §2).
const IMEI_B: [u8; 8] = [0x3A, 0x25, 0x90, 0x09, 0x10, 0x67, 0x41, 0x18];
/// IMEISV 4901542032375101 (03-imei.md §3).
const IMEISV_A: [u8; 9] = [0x43, 0x09, 0x51, 0x24, 0x30, 0x32, 0x57, 0x01, 0xF1];
/// Profile of 02-cat.md §7 (`23 01 29 42 11 00 00 07`): SEND SM, PLI, event list +
/// location status, timer start/stop, timer expiration.
const TP_FULL: [u8; 8] = [0x23, 0x01, 0x29, 0x42, 0x11, 0x00, 0x00, 0x07];
const KEY: [u8; 16] = [
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF,
];
const ID: CardIdentity = CardIdentity {
    iccid: [0x98, 0x94, 0x00, 0x01, 0x21, 0x43, 0x65, 0x87, 0x09, 0xF1],
    imsi: [0x08, 0x09, 0x10, 0x10, 0x10, 0x32, 0x54, 0x76, 0x98],
};

fn config() -> AppletConfig {
    AppletConfig {
        server: sms::Address::number("+447700900123").unwrap(),
        smsc: None,
        retry: RetryPolicy {
            max_attempts_per_power_cycle: 3,
            max_attempts_per_period: 5,
            period_s: 3600,
            backoff_s: 30,
        },
        enabled: true,
        request_imeisv: false,
        key_id: KeyId::aes_cmac(1).unwrap(),
        key: KEY,
    }
}

struct Rig {
    store: Store<1024>,
    record: Record,
    t: Tracker,
    out: [u8; 256],
    now: u64,
}

impl Rig {
    fn new(cfg: AppletConfig) -> Self {
        let mut store = Store::open(Nvm::new(), 288).unwrap();
        store.begin().unwrap();
        Record::personalise(&mut store, &cfg, None).unwrap();
        store.commit().unwrap();
        let record = Record::load(&store).unwrap();
        Rig {
            store,
            record,
            t: Tracker::new(),
            out: [0; 256],
            now: 1_000,
        }
    }
    fn cx(&mut self) -> (Context<'_, 1024>, &mut Tracker) {
        (
            Context {
                store: &mut self.store,
                record: &mut self.record,
                identity: &ID,
                now_ms: self.now,
                out: &mut self.out,
            },
            &mut self.t,
        )
    }
    fn tp(&mut self, tp: &[u8]) -> std::vec::Vec<u8> {
        let p = TerminalProfile::parse(tp).unwrap();
        let (mut cx, t) = self.cx();
        let n = t.on_terminal_profile(&p, &mut cx).unwrap();
        self.out[..n].to_vec()
    }
    fn tr(&mut self, result: u8, data: ResponseData<'_>) -> std::vec::Vec<u8> {
        let details = self.t.state().outstanding().unwrap();
        let tr = TerminalResponse::new(details, CommandResult::new(GeneralResult(result)), data);
        let (mut cx, t) = self.cx();
        let n = t.on_terminal_response(&tr, &mut cx).unwrap();
        self.out[..n].to_vec()
    }
    fn env(&mut self, env: &Envelope<'_>) -> std::vec::Vec<u8> {
        let (mut cx, t) = self.cx();
        let n = t.on_envelope(env, &mut cx).unwrap();
        self.out[..n].to_vec()
    }
    fn power_cycle(&mut self) {
        self.t.reset(true);
        self.record = Record::load(&self.store).unwrap();
    }
}

fn imei(x: [u8; 8]) -> ResponseData<'static> {
    ResponseData::Imei(ImeiIe::new(x))
}

/// The registration message inside a fetched SEND SHORT MESSAGE.
fn registration_of(cmd: &[u8]) -> RegistrationRepr {
    let ProactiveCommand::SendShortMessage(sm) = ProactiveCommand::parse(cmd).unwrap() else {
        panic!("not SEND SM");
    };
    assert!(sm.alpha.unwrap().is_null(), "silent: null alpha identifier");
    let submit = SmsSubmit::parse(sm.tpdu.tpdu).unwrap();
    assert_eq!(submit.destination, config().server);
    let ud = submit.user_data.data().unwrap();
    RegistrationRepr::verify(ud, &KEY).unwrap();
    RegView::new_checked(ud).unwrap().to_repr()
}

#[test]
fn first_use_registers_and_commits() {
    let mut r = Rig::new(config());
    // 02-cat.md §9 step 2: D0 09 81 03 01 26 01 82 02 81 82.
    assert_eq!(
        r.tp(&TP_FULL),
        [
            0xD0, 0x09, 0x81, 0x03, 0x01, 0x26, 0x01, 0x82, 0x02, 0x81, 0x82
        ]
    );
    let sm = r.tr(0, imei(IMEI_A));
    let reg = registration_of(&sm);
    assert_eq!(reg.event, EventKind::FIRST_USE);
    assert_eq!(reg.counter, 0);
    assert_eq!(reg.imei, IMEI_A);
    assert_eq!(reg.previous_imei, None);
    assert_eq!(reg.iccid, ID.iccid);
    // Counter committed before the SMS is released.
    assert_eq!(Record::load(&r.store).unwrap().next_counter(), 1);
    assert_eq!(r.record.stored_imei(), None);
    assert!(r.tr(0, ResponseData::None).is_empty());
    assert_eq!(*r.t.state(), State::Done(Outcome::Registered));
    let rec = Record::load(&r.store).unwrap();
    assert_eq!(rec.stored_imei(), Some(IMEI_A));
    assert_eq!(rec.pending(), None);
}

#[test]
fn unchanged_on_tac_snr_sends_nothing() {
    let mut r = Rig::new(config());
    r.tp(&TP_FULL);
    r.tr(0, imei(IMEI_A));
    r.tr(0, ResponseData::None);
    r.power_cycle();
    r.tp(&TP_FULL);
    let writes = r.store.nvm().writes();
    // Digit 15 differs (spare 0): same handset.
    assert!(r.tr(0, imei(IMEI_A_SPARE)).is_empty());
    assert_eq!(*r.t.state(), State::Done(Outcome::Unchanged));
    assert_eq!(
        r.store.nvm().writes(),
        writes,
        "no NVM write when unchanged"
    );
}

#[test]
fn handset_change_carries_previous_imei() {
    let mut r = Rig::new(config());
    r.tp(&TP_FULL);
    r.tr(0, imei(IMEI_A));
    r.tr(0, ResponseData::None);
    r.power_cycle();
    r.tp(&TP_FULL);
    let reg = registration_of(&r.tr(0, imei(IMEI_B)));
    assert_eq!(reg.event, EventKind::HANDSET_CHANGED);
    assert_eq!(reg.previous_imei, Some(IMEI_A));
    assert_eq!(reg.counter, 1);
}

#[test]
fn terminal_without_pli_or_sms_gets_nothing() {
    for tp in [
        &[0x23u8, 0x01, 0x29, 0x40][..],
        &[0x23, 0x01, 0x29, 0x02],
        &[],
        &[0xFF, 0xFF],
    ] {
        let mut r = Rig::new(config());
        assert!(r.tp(tp).is_empty());
        assert_eq!(*r.t.state(), State::Done(Outcome::TerminalUnsupported));
    }
}

#[test]
fn disabled_applet_does_nothing() {
    let mut r = Rig::new(AppletConfig {
        enabled: false,
        ..config()
    });
    assert!(r.tp(&TP_FULL).is_empty());
    assert_eq!(*r.t.state(), State::Done(Outcome::Disabled));
}

#[test]
fn malformed_and_missing_imei_recorded_not_registered() {
    // Digit 15 = 7: neither Luhn (8) nor spare.
    let bad = [0x4A, 0x09, 0x51, 0x24, 0x30, 0x32, 0x57, 0x71];
    // Type IMSI instead of IMEI.
    let wrong_type = [0x49, 0x09, 0x51, 0x24, 0x30, 0x32, 0x57, 0x81];
    for (result, data, failure) in [
        (0, imei(bad), ImeiFailure::Malformed { first_byte: 0x4A }),
        (
            0,
            imei(wrong_type),
            ImeiFailure::Malformed { first_byte: 0x49 },
        ),
        (0, ResponseData::None, ImeiFailure::Missing { result: 0 }),
        (
            0x20,
            ResponseData::None,
            ImeiFailure::Missing { result: 0x20 },
        ),
        // A 7-byte IMEI object stays raw in the parsed response.
        (
            0,
            ResponseData::Raw(&[0x14, 0x07, 0x4A, 0x09, 0x51, 0x24, 0x30, 0x32, 0x57]),
            ImeiFailure::Malformed { first_byte: 0x4A },
        ),
    ] {
        let mut r = Rig::new(config());
        r.tp(&TP_FULL);
        assert!(r.tr(result, data).is_empty());
        assert_eq!(*r.t.state(), State::Done(Outcome::ImeiUnusable));
        let rec = Record::load(&r.store).unwrap();
        assert_eq!(rec.last_failure(), Some(failure));
        assert_eq!(rec.stored_imei(), None);
        assert_eq!(rec.next_counter(), 0);
    }
}

#[test]
fn imeisv_requested_when_allowed() {
    let mut r = Rig::new(AppletConfig {
        request_imeisv: true,
        ..config()
    });
    let mut tp = [0u8; 18];
    tp[..8].copy_from_slice(&TP_FULL);
    tp[17] = 0x40;
    r.tp(&tp);
    // 02-cat.md §9: PROVIDE LOCAL INFORMATION (IMEISV) D0 09 81 03 01 26 08 82 02 81 82.
    assert_eq!(
        r.tr(0, imei(IMEI_A)),
        [
            0xD0, 0x09, 0x81, 0x03, 0x02, 0x26, 0x08, 0x82, 0x02, 0x81, 0x82
        ]
    );
    let reg = registration_of(&r.tr(0, ResponseData::Imeisv(ImeisvIe::new(IMEISV_A))));
    assert_eq!(reg.imeisv, Some(IMEISV_A));
    r.tr(0, ResponseData::None);
    assert_eq!(
        Record::load(&r.store).unwrap().stored_imeisv(),
        Some(IMEISV_A)
    );
}

#[test]
fn imeisv_not_requested_without_profile_bit_and_inconsistent_one_dropped() {
    let mut r = Rig::new(AppletConfig {
        request_imeisv: true,
        ..config()
    });
    r.tp(&TP_FULL);
    assert!(registration_of(&r.tr(0, imei(IMEI_A))).imeisv.is_none());

    let mut r = Rig::new(AppletConfig {
        request_imeisv: true,
        ..config()
    });
    let mut tp = [0u8; 18];
    tp[..8].copy_from_slice(&TP_FULL);
    tp[17] = 0x40;
    r.tp(&tp);
    r.tr(0, imei(IMEI_B));
    // IMEISV of another handset: dropped.
    let reg = registration_of(&r.tr(0, ResponseData::Imeisv(ImeisvIe::new(IMEISV_A))));
    assert_eq!(reg.imeisv, None);
    assert_eq!(reg.imei, IMEI_B);
}

#[test]
fn failure_sets_up_event_list_and_timer_then_retries() {
    let mut r = Rig::new(config());
    r.tp(&TP_FULL);
    r.tr(0, imei(IMEI_A));
    // Network unable (21): SET UP EVENT LIST (location status), 02-cat.md §9 with cmd 3.
    assert_eq!(
        r.tr(0x21, ResponseData::None),
        [
            0xD0, 0x0C, 0x81, 0x03, 0x03, 0x05, 0x00, 0x82, 0x02, 0x81, 0x82, 0x99, 0x01, 0x03
        ]
    );
    // TIMER MANAGEMENT start timer 1, 30 s.
    assert_eq!(
        r.tr(0, ResponseData::None),
        [
            0xD0, 0x11, 0x81, 0x03, 0x04, 0x27, 0x00, 0x82, 0x02, 0x81, 0x82, 0xA4, 0x01, 0x01,
            0xA5, 0x03, 0x00, 0x00, 0x03
        ]
    );
    r.tr(0, ResponseData::None);
    assert!(matches!(r.t.state(), State::RetryWaiting { .. }));
    // Other timer: ignored.
    assert!(
        r.env(&Envelope::TimerExpiration(TimerExpiration::new(
            2,
            TimerValue::new(0, 0, 30)
        )))
        .is_empty()
    );
    r.now += 30_000;
    let reg = registration_of(&r.env(&Envelope::TimerExpiration(TimerExpiration::new(
        1,
        TimerValue::new(0, 0, 30),
    ))));
    assert_eq!(reg.event, EventKind::RETRY);
    assert_eq!(reg.counter, 1);
    // Second failure: no second SET UP EVENT LIST, timer doubled (60 s).
    let tm = r.tr(0x35, ResponseData::None);
    assert_eq!(&tm[5..7], &[0x27, 0x00]);
    assert_eq!(&tm[tm.len() - 3..], &[0x00, 0x10, 0x00]);
    r.tr(0, ResponseData::None);
    // Location status normal service also wakes it up.
    let reg = registration_of(
        &r.env(&Envelope::EventDownload(EventDownload::location_status(
            ServiceState::NORMAL_SERVICE,
            None,
        ))),
    );
    assert_eq!(reg.counter, 2);
    // Third failure: 3 attempts per power cycle used up.
    assert!(r.tr(0x20, ResponseData::None).is_empty());
    assert_eq!(*r.t.state(), State::Done(Outcome::GaveUp));
    let rec = Record::load(&r.store).unwrap();
    assert_eq!(rec.stored_imei(), None);
    assert_eq!(rec.next_counter(), 3);
    assert!(rec.pending().is_some());
    // Next power cycle: the same IMEI is a retry of the pending registration.
    r.power_cycle();
    r.tp(&TP_FULL);
    let reg = registration_of(&r.tr(0, imei(IMEI_A)));
    assert_eq!(reg.event, EventKind::RETRY);
    assert_eq!(reg.counter, 3);
}

#[test]
fn per_period_limit_spans_power_cycles() {
    let mut r = Rig::new(AppletConfig {
        retry: RetryPolicy {
            max_attempts_per_power_cycle: 1,
            max_attempts_per_period: 2,
            period_s: 3600,
            backoff_s: 30,
        },
        ..config()
    });
    for _ in 0..2 {
        r.tp(&TP_FULL);
        assert!(!r.tr(0, imei(IMEI_A)).is_empty());
        assert!(
            r.tr(0x21, ResponseData::None).is_empty(),
            "no retry: 1 per cycle"
        );
        r.power_cycle();
    }
    r.tp(&TP_FULL);
    assert!(r.tr(0, imei(IMEI_A)).is_empty());
    assert_eq!(*r.t.state(), State::Done(Outcome::RateLimited));
    // After the period, allowed again.
    r.power_cycle();
    r.now += 3_600_000;
    r.tp(&TP_FULL);
    assert!(!r.tr(0, imei(IMEI_A)).is_empty());
}

#[test]
fn no_wakeup_facility_means_give_up() {
    let mut r = Rig::new(config());
    // SEND SM + PLI only.
    r.tp(&[0x00, 0x00, 0x00, 0x42]);
    r.tr(0, imei(IMEI_A));
    assert!(r.tr(0x21, ResponseData::None).is_empty());
    assert_eq!(*r.t.state(), State::Done(Outcome::GaveUp));
}

#[test]
fn smsc_address_object_when_configured() {
    let mut r = Rig::new(AppletConfig {
        smsc: Some(sms::Address::number("+447700900000").unwrap()),
        ..config()
    });
    r.tp(&TP_FULL);
    let cmd = r.tr(0, imei(IMEI_A));
    let ProactiveCommand::SendShortMessage(sm) = ProactiveCommand::parse(&cmd).unwrap() else {
        panic!()
    };
    let a = sm.address.unwrap();
    assert_eq!(a.ton_npi, 0x91);
    assert_eq!(a.digits, &[0x44, 0x77, 0x00, 0x09, 0x00, 0x00]);
}

#[test]
fn same_tac_snr_ignores_digit_15() {
    assert!(same_tac_snr(&IMEI_A, &IMEI_A_SPARE));
    assert!(!same_tac_snr(&IMEI_A, &IMEI_B));
    let mut d14 = IMEI_A;
    d14[7] ^= 0x01;
    assert!(!same_tac_snr(&IMEI_A, &d14));
}
