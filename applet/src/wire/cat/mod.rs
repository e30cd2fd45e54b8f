//! Card Application Toolkit (ETSI TS 102 223, 3GPP TS 31.111).
//!
//! | module | content | spec |
//! | --- | --- | --- |
//! | [`codes`] | open newtypes: type of command, qualifiers, device ids, results, events | TS 102 223 §8.6–§8.25, §9.4 |
//! | [`ies`] | data objects (COMPREHENSION-TLVs) as `Repr` structs | TS 102 223 §8, TS 31.111 §8 |
//!
//! | [`command`] | proactive commands (`D0`) | TS 102 223 §6.6 |
//! | [`response`] | TERMINAL RESPONSE | TS 102 223 §6.8 |
//! | [`envelope`] | ENVELOPEs `D1`, `D6`, `D7` (+ opaque) | TS 102 223 §7, TS 31.111 §7 |
//! | [`profile`] | TERMINAL PROFILE bitmap | TS 102 223 §5.2 |
//!
//! Byte-level facts: `/work/shared/spec/02-cat.md`.
//!
//! ## Independent checks (done by hand, recorded here)
//!
//! * Every hex exchange of 02-cat.md §9 and the SMS-PP download of 04-sms.md §5 parses,
//!   re-emits byte for byte, and equals what the typed constructors emit (unit tests).
//! * TERMINAL RESPONSE layouts for POLL INTERVAL and TIMER MANAGEMENT match the
//!   TS 31.124 / TS 102 384 derived vectors in oFono `unit/test-stkutil.c`
//!   (`poll_interval_response_111a`, `timer_mgmt_response_111/112/114/122`), reproduced
//!   in [`response`]'s tests. pycrate 0.8.1 (`pycrate_mobile.TS31111_SAT`) only models
//!   tags and lengths, so it could not check these.
//! * `tests::dump_for_tshark` output (SEND SHORT MESSAGE with null alpha + SMSC address,
//!   a 155-byte `D0 81 98` SEND SHORT MESSAGE, TIMER MANAGEMENT get-value, POLL INTERVAL,
//!   TERMINAL RESPONSEs for timer value 23:58:58, duration 90 s, result `35 29`,
//!   date-time with TZ `40` = "GMT + 1 hr", language "en", location information,
//!   ENVELOPEs D1/D6/D7) was wrapped in GSMTAP-SIM (08-gsmtap-pcap.md) and decoded by
//!   tshark 4.0.17: no malformed or warning frames; all values read back as intended.
//!   tshark shows result `35`'s additional byte only raw (see
//!   [`TerminalResponse::sms_rp_error`]).

pub mod codes;
pub mod ies;

pub use codes::*;
pub use ies::*;
pub mod command;

pub use command::*;
pub mod envelope;
pub mod profile;
pub mod response;

pub use envelope::*;
pub use profile::*;
pub use response::*;

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::println;

    fn hex(b: &[u8]) -> std::string::String {
        b.iter().map(|x| std::format!("{x:02X}")).collect()
    }

    /// Prints emitted messages as `kind hex` lines for the manual tshark check
    /// (`cargo test -p applet dump_for_tshark -- --ignored --nocapture`); see the module
    /// docs for what was checked.
    #[test]
    #[ignore]
    fn dump_for_tshark() {
        let mut out = [0u8; 300];
        // SMS-SUBMIT to +447700900123, 8-bit, UDL 127: 13 + 127 = 140 bytes.
        let mut tpdu = [0x55u8; 140];
        tpdu[..13].copy_from_slice(&[
            0x01, 0x00, 0x0C, 0x91, 0x44, 0x77, 0x00, 0x09, 0x10, 0x32, 0x00, 0x04, 127,
        ]);
        let smsc = [0x44, 0x77, 0x00, 0x09, 0x00, 0x00];
        let mut sm = SendShortMessage::new(2, &tpdu[..20]);
        sm.alpha = Some(AlphaIdentifier::null());
        sm.address = Some(Address::new(Address::INTERNATIONAL_E164, &smsc));
        sm.tpdu.tpdu = &[
            0x01, 0x00, 0x0C, 0x91, 0x44, 0x77, 0x00, 0x09, 0x10, 0x32, 0x00, 0x04, 0x01, 0x41,
        ];
        let cmds = [
            ProactiveCommand::SendShortMessage(sm),
            ProactiveCommand::SendShortMessage(SendShortMessage::new(3, &tpdu)),
            ProactiveCommand::TimerManagement(TimerManagement::get_current_value(4, 2)),
            ProactiveCommand::PollInterval(PollInterval::new(
                5,
                Duration::new(TimeUnit::MINUTES, 2),
            )),
        ];
        for c in &cmds {
            let n = c.emit(&mut out).unwrap();
            println!("fetch {}", hex(&out[..n]));
        }
        let tm = CommandDetails::new(4, CommandType::TIMER_MANAGEMENT, 0x02);
        let pi = CommandDetails::new(5, CommandType::POLL_INTERVAL, 0x00);
        let sd = CommandDetails::new(2, CommandType::SEND_SHORT_MESSAGE, 0x00);
        let dt = CommandDetails::new(6, CommandType::PROVIDE_LOCAL_INFORMATION, 0x03);
        let date = DateTimeTimeZone {
            cr: true,
            year: 26,
            month: 11,
            day: 27,
            hour: 13,
            minute: 45,
            second: 9,
            time_zone: 0x40,
        };
        let trs = [
            TerminalResponse::success(
                tm,
                ResponseData::Timer {
                    id: TimerIdentifier::new(2),
                    value: Some(TimerValue::new(23, 58, 58)),
                },
            ),
            TerminalResponse::success(
                pi,
                ResponseData::Duration(Duration::new(TimeUnit::SECONDS, 90)),
            ),
            TerminalResponse::sms_rp_error(sd, 41),
            TerminalResponse::success(dt, ResponseData::DateTime(date)),
            TerminalResponse::success(
                CommandDetails::new(7, CommandType::PROVIDE_LOCAL_INFORMATION, 0x04),
                ResponseData::Language(Language::new(*b"en")),
            ),
            TerminalResponse::success(
                CommandDetails::new(8, CommandType::PROVIDE_LOCAL_INFORMATION, 0x00),
                ResponseData::LocationInformation(LocationInformation::new(
                    [0x00, 0xF1, 0x10],
                    1,
                    2,
                )),
            ),
        ];
        for r in &trs {
            let n = r.emit(&mut out).unwrap();
            println!("tr {}", hex(&out[..n]));
        }
        let envs = [
            Envelope::SmsPpDownload(SmsPpDownload::new(
                None,
                &[
                    0x40, 0x08, 0x81, 0x21, 0x43, 0x65, 0x87, 0x7F, 0xF6, 0x22, 0x70, 0x52, 0x00,
                    0x00, 0x00, 0x00, 0x03, 0x02, 0x70, 0x00,
                ],
            )),
            Envelope::EventDownload(EventDownload::location_status(
                ServiceState::LIMITED_SERVICE,
                None,
            )),
            Envelope::TimerExpiration(TimerExpiration::new(2, TimerValue::new(1, 2, 3))),
        ];
        for e in &envs {
            let n = e.emit(&mut out).unwrap();
            println!("env {}", hex(&out[..n]));
        }
    }
}
