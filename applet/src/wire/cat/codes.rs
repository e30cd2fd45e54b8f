//! Open newtypes for toolkit protocol numbers (ETSI TS 102 223, 3GPP TS 31.111).
//!
//! Each wraps the raw byte so unknown values survive a round trip; named constants cover
//! the values listed in `/work/shared/spec/02-cat.md` §3–§6.

/// Type of command, byte 2 of command details (TS 102 223 §9.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommandType(pub u8);

impl CommandType {
    /// `01` REFRESH.
    pub const REFRESH: CommandType = CommandType(0x01);
    /// `02` MORE TIME.
    pub const MORE_TIME: CommandType = CommandType(0x02);
    /// `03` POLL INTERVAL.
    pub const POLL_INTERVAL: CommandType = CommandType(0x03);
    /// `04` POLLING OFF.
    pub const POLLING_OFF: CommandType = CommandType(0x04);
    /// `05` SET UP EVENT LIST.
    pub const SET_UP_EVENT_LIST: CommandType = CommandType(0x05);
    /// `10` SET UP CALL.
    pub const SET_UP_CALL: CommandType = CommandType(0x10);
    /// `11` SEND SS.
    pub const SEND_SS: CommandType = CommandType(0x11);
    /// `12` SEND USSD.
    pub const SEND_USSD: CommandType = CommandType(0x12);
    /// `13` SEND SHORT MESSAGE.
    pub const SEND_SHORT_MESSAGE: CommandType = CommandType(0x13);
    /// `14` SEND DTMF.
    pub const SEND_DTMF: CommandType = CommandType(0x14);
    /// `15` LAUNCH BROWSER.
    pub const LAUNCH_BROWSER: CommandType = CommandType(0x15);
    /// `21` DISPLAY TEXT.
    pub const DISPLAY_TEXT: CommandType = CommandType(0x21);
    /// `22` GET INKEY.
    pub const GET_INKEY: CommandType = CommandType(0x22);
    /// `23` GET INPUT.
    pub const GET_INPUT: CommandType = CommandType(0x23);
    /// `24` SELECT ITEM.
    pub const SELECT_ITEM: CommandType = CommandType(0x24);
    /// `25` SET UP MENU.
    pub const SET_UP_MENU: CommandType = CommandType(0x25);
    /// `26` PROVIDE LOCAL INFORMATION.
    pub const PROVIDE_LOCAL_INFORMATION: CommandType = CommandType(0x26);
    /// `27` TIMER MANAGEMENT.
    pub const TIMER_MANAGEMENT: CommandType = CommandType(0x27);
    /// `28` SET UP IDLE MODE TEXT.
    pub const SET_UP_IDLE_MODE_TEXT: CommandType = CommandType(0x28);
    /// `40` OPEN CHANNEL.
    pub const OPEN_CHANNEL: CommandType = CommandType(0x40);
    /// `41` CLOSE CHANNEL.
    pub const CLOSE_CHANNEL: CommandType = CommandType(0x41);
    /// `42` RECEIVE DATA.
    pub const RECEIVE_DATA: CommandType = CommandType(0x42);
    /// `43` SEND DATA.
    pub const SEND_DATA: CommandType = CommandType(0x43);
    /// `44` GET CHANNEL STATUS.
    pub const GET_CHANNEL_STATUS: CommandType = CommandType(0x44);
    /// `81` end of the proactive session (TS 102 223 §9.4, used in TERMINAL PROFILE context).
    pub const END_OF_PROACTIVE_SESSION: CommandType = CommandType(0x81);
}

/// Qualifier of PROVIDE LOCAL INFORMATION, byte 3 of command details (TS 102 223 §8.6,
/// TS 31.111 §8.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PliQualifier(pub u8);

impl PliQualifier {
    /// `00` location information (MCC, MNC, LAC, cell id); answered with object `13`.
    pub const LOCATION_INFORMATION: PliQualifier = PliQualifier(0x00);
    /// `01` IMEI of the terminal; answered with object `14`.
    pub const IMEI: PliQualifier = PliQualifier(0x01);
    /// `02` network measurement results.
    pub const NMR: PliQualifier = PliQualifier(0x02);
    /// `03` date, time and time zone; answered with object `26`.
    pub const DATE_TIME_TIME_ZONE: PliQualifier = PliQualifier(0x03);
    /// `04` language setting; answered with object `2D`.
    pub const LANGUAGE: PliQualifier = PliQualifier(0x04);
    /// `05` timing advance.
    pub const TIMING_ADVANCE: PliQualifier = PliQualifier(0x05);
    /// `06` access technology.
    pub const ACCESS_TECHNOLOGY: PliQualifier = PliQualifier(0x06);
    /// `07` ESN.
    pub const ESN: PliQualifier = PliQualifier(0x07);
    /// `08` IMEISV; answered with object `62`.
    pub const IMEISV: PliQualifier = PliQualifier(0x08);
    /// `09` search mode.
    pub const SEARCH_MODE: PliQualifier = PliQualifier(0x09);
    /// `0A` battery state.
    pub const BATTERY_STATE: PliQualifier = PliQualifier(0x0A);
    /// `0B` MEID.
    pub const MEID: PliQualifier = PliQualifier(0x0B);
}

/// Action of TIMER MANAGEMENT: bits 1–2 of its command qualifier (TS 102 223 §8.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TimerAction(pub u8);

impl TimerAction {
    /// `00` start.
    pub const START: TimerAction = TimerAction(0x00);
    /// `01` deactivate.
    pub const DEACTIVATE: TimerAction = TimerAction(0x01);
    /// `02` get current value.
    pub const GET_CURRENT_VALUE: TimerAction = TimerAction(0x02);
}

/// Device identity (TS 102 223 §8.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceId(pub u8);

impl DeviceId {
    /// `01` keypad.
    pub const KEYPAD: DeviceId = DeviceId(0x01);
    /// `02` display.
    pub const DISPLAY: DeviceId = DeviceId(0x02);
    /// `03` earpiece.
    pub const EARPIECE: DeviceId = DeviceId(0x03);
    /// `81` UICC (SIM).
    pub const UICC: DeviceId = DeviceId(0x81);
    /// `82` terminal (ME).
    pub const TERMINAL: DeviceId = DeviceId(0x82);
    /// `83` network.
    pub const NETWORK: DeviceId = DeviceId(0x83);

    /// Additional card reader `n` (0..=7 → `10`..`17`); `None` outside that range.
    pub const fn card_reader(n: u8) -> Option<DeviceId> {
        if n <= 7 {
            Some(DeviceId(0x10 + n))
        } else {
            None
        }
    }

    /// Channel `n` (1..=7 → `21`..`27`); `None` outside that range.
    pub const fn channel(n: u8) -> Option<DeviceId> {
        if n >= 1 && n <= 7 {
            Some(DeviceId(0x20 + n))
        } else {
            None
        }
    }
}

/// General result, first byte of the result object (TS 102 223 §8.12, TS 31.111 §8.12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GeneralResult(pub u8);

impl GeneralResult {
    /// `00` command performed successfully.
    pub const SUCCESS: GeneralResult = GeneralResult(0x00);
    /// `01` performed with partial comprehension.
    pub const PARTIAL_COMPREHENSION: GeneralResult = GeneralResult(0x01);
    /// `02` performed with missing information.
    pub const MISSING_INFORMATION: GeneralResult = GeneralResult(0x02);
    /// `03` REFRESH performed with additional EFs read.
    pub const REFRESH_ADDITIONAL_EFS_READ: GeneralResult = GeneralResult(0x03);
    /// `04` performed successfully, but requested icon could not be displayed.
    pub const SUCCESS_ICON_NOT_DISPLAYED: GeneralResult = GeneralResult(0x04);
    /// `05` performed, but modified by call control.
    pub const MODIFIED_BY_CALL_CONTROL: GeneralResult = GeneralResult(0x05);
    /// `06` performed successfully, limited service.
    pub const SUCCESS_LIMITED_SERVICE: GeneralResult = GeneralResult(0x06);
    /// `07` performed with modification.
    pub const SUCCESS_WITH_MODIFICATION: GeneralResult = GeneralResult(0x07);
    /// `10` proactive session terminated by the user.
    pub const TERMINATED_BY_USER: GeneralResult = GeneralResult(0x10);
    /// `11` backward move requested by the user.
    pub const BACKWARD_MOVE: GeneralResult = GeneralResult(0x11);
    /// `12` no response from user.
    pub const NO_RESPONSE_FROM_USER: GeneralResult = GeneralResult(0x12);
    /// `13` help information required by the user.
    pub const HELP_INFO_REQUIRED: GeneralResult = GeneralResult(0x13);
    /// `14` USSD/SS transaction terminated by the user (TS 31.111).
    pub const USSD_SS_TERMINATED_BY_USER: GeneralResult = GeneralResult(0x14);
    /// `20` terminal currently unable to process command (additional info: [`TerminalProblem`]).
    pub const TERMINAL_UNABLE: GeneralResult = GeneralResult(0x20);
    /// `21` network currently unable to process command.
    pub const NETWORK_UNABLE: GeneralResult = GeneralResult(0x21);
    /// `22` user did not accept the proactive command.
    pub const USER_NOT_ACCEPTED: GeneralResult = GeneralResult(0x22);
    /// `24` action in contradiction with the current timer state.
    pub const TIMER_STATE_CONTRADICTION: GeneralResult = GeneralResult(0x24);
    /// `26` launch browser generic error.
    pub const LAUNCH_BROWSER_ERROR: GeneralResult = GeneralResult(0x26);
    /// `30` command beyond terminal's capabilities.
    pub const BEYOND_TERMINAL_CAPABILITIES: GeneralResult = GeneralResult(0x30);
    /// `31` command type not understood by terminal.
    pub const TYPE_NOT_UNDERSTOOD: GeneralResult = GeneralResult(0x31);
    /// `32` command data not understood by terminal.
    pub const DATA_NOT_UNDERSTOOD: GeneralResult = GeneralResult(0x32);
    /// `33` command number not known by terminal.
    pub const NUMBER_NOT_KNOWN: GeneralResult = GeneralResult(0x33);
    /// `34` SS return error.
    pub const SS_RETURN_ERROR: GeneralResult = GeneralResult(0x34);
    /// `35` SMS RP-ERROR (TS 31.111); see [`super::TerminalResponse::sms_rp_error`].
    pub const SMS_RP_ERROR: GeneralResult = GeneralResult(0x35);
    /// `36` error, required values are missing.
    pub const REQUIRED_VALUES_MISSING: GeneralResult = GeneralResult(0x36);
    /// `37` USSD return error.
    pub const USSD_RETURN_ERROR: GeneralResult = GeneralResult(0x37);
    /// `38` multiple-card commands error.
    pub const MULTIPLE_CARD_ERROR: GeneralResult = GeneralResult(0x38);
    /// `39` interaction with call control / MO SM control by USIM, permanent problem.
    pub const CALL_CONTROL_PERMANENT_PROBLEM: GeneralResult = GeneralResult(0x39);
    /// `3A` Bearer Independent Protocol error.
    pub const BIP_ERROR: GeneralResult = GeneralResult(0x3A);
    /// `3B` access technology unable to process command.
    pub const ACCESS_TECHNOLOGY_UNABLE: GeneralResult = GeneralResult(0x3B);

    /// `0x`/`1x`: the command was performed (successfully or not in full).
    pub const fn is_performed(self) -> bool {
        self.0 < 0x20
    }

    /// `2x`: temporary problem, worth retrying later.
    pub const fn is_temporary_failure(self) -> bool {
        self.0 >= 0x20 && self.0 < 0x30
    }

    /// `3x`: permanent problem, do not retry the same command.
    pub const fn is_permanent_failure(self) -> bool {
        self.0 >= 0x30 && self.0 < 0x40
    }
}

/// Additional information for general result `20` "terminal currently unable to process
/// command" (TS 102 223 §8.12.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TerminalProblem(pub u8);

impl TerminalProblem {
    /// `00` no specific cause can be given.
    pub const NO_CAUSE: TerminalProblem = TerminalProblem(0x00);
    /// `01` screen is busy.
    pub const SCREEN_BUSY: TerminalProblem = TerminalProblem(0x01);
    /// `02` terminal currently busy on call.
    pub const BUSY_ON_CALL: TerminalProblem = TerminalProblem(0x02);
    /// `04` no service.
    pub const NO_SERVICE: TerminalProblem = TerminalProblem(0x04);
    /// `05` access control class bar.
    pub const ACCESS_CONTROL_CLASS_BAR: TerminalProblem = TerminalProblem(0x05);
    /// `06` radio resource not granted.
    pub const RADIO_RESOURCE_NOT_GRANTED: TerminalProblem = TerminalProblem(0x06);
    /// `07` not in speech call.
    pub const NOT_IN_SPEECH_CALL: TerminalProblem = TerminalProblem(0x07);
}

/// Event in an event list (TS 102 223 §8.25).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Event(pub u8);

impl Event {
    /// `00` MT call.
    pub const MT_CALL: Event = Event(0x00);
    /// `01` call connected.
    pub const CALL_CONNECTED: Event = Event(0x01);
    /// `02` call disconnected.
    pub const CALL_DISCONNECTED: Event = Event(0x02);
    /// `03` location status.
    pub const LOCATION_STATUS: Event = Event(0x03);
    /// `04` user activity.
    pub const USER_ACTIVITY: Event = Event(0x04);
    /// `05` idle screen available.
    pub const IDLE_SCREEN_AVAILABLE: Event = Event(0x05);
    /// `06` card reader status.
    pub const CARD_READER_STATUS: Event = Event(0x06);
    /// `07` language selection.
    pub const LANGUAGE_SELECTION: Event = Event(0x07);
    /// `08` browser termination.
    pub const BROWSER_TERMINATION: Event = Event(0x08);
    /// `09` data available.
    pub const DATA_AVAILABLE: Event = Event(0x09);
    /// `0A` channel status.
    pub const CHANNEL_STATUS: Event = Event(0x0A);
    /// `0B` access technology change.
    pub const ACCESS_TECHNOLOGY_CHANGE: Event = Event(0x0B);
    /// `0C` display parameters changed.
    pub const DISPLAY_PARAMETERS_CHANGED: Event = Event(0x0C);
    /// `0D` local connection.
    pub const LOCAL_CONNECTION: Event = Event(0x0D);
    /// `0E` network search mode change.
    pub const NETWORK_SEARCH_MODE_CHANGE: Event = Event(0x0E);
    /// `0F` browsing status.
    pub const BROWSING_STATUS: Event = Event(0x0F);
    /// `12` network rejection.
    pub const NETWORK_REJECTION: Event = Event(0x12);
}

/// Time unit of a duration object (TS 102 223 §8.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TimeUnit(pub u8);

impl TimeUnit {
    /// `00` minutes.
    pub const MINUTES: TimeUnit = TimeUnit(0x00);
    /// `01` seconds.
    pub const SECONDS: TimeUnit = TimeUnit(0x01);
    /// `02` tenths of seconds.
    pub const TENTHS_OF_SECONDS: TimeUnit = TimeUnit(0x02);
}

/// Location status value (TS 31.111 §8.27).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceState(pub u8);

impl ServiceState {
    /// `00` normal service.
    pub const NORMAL_SERVICE: ServiceState = ServiceState(0x00);
    /// `01` limited service.
    pub const LIMITED_SERVICE: ServiceState = ServiceState(0x01);
    /// `02` no service.
    pub const NO_SERVICE: ServiceState = ServiceState(0x02);
}

/// Data coding scheme of a text string object (TS 102 223 §8.15, TS 23.038 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Dcs(pub u8);

impl Dcs {
    /// `00` GSM default alphabet, 7-bit packed.
    pub const GSM7_PACKED: Dcs = Dcs(0x00);
    /// `04` 8-bit data (unpacked GSM default alphabet).
    pub const EIGHT_BIT: Dcs = Dcs(0x04);
    /// `08` UCS2.
    pub const UCS2: Dcs = Dcs(0x08);
}
