//! The IMEI-tracking applet state machine.
//!
//! Not built yet (issue 3).
