//! # handset-sim — the phone side of imeitrack
//!
//! Card readers (in-process simulated card, PC/SC, vpcd), the terminal's toolkit
//! logic, handset profiles and the network simulator. Not built yet (issues 4 and 6).

pub mod network;
