//! Shared test support: the test card and the PC/SC harness.
#![allow(dead_code)]

pub mod card;
pub mod pcscd;
