//! One integration-test binary; each module is one kind of test.
//!
//! | module | what it checks |
//! | --- | --- |
//! | `tshark_gsmtap` | tshark decodes every emitted APDU exchange (GSMTAP-SIM pcap) as built; issue 2 |
//! | `tshark_card` | tshark decodes the card's own answers in whole sessions (both classes); issues 2 and 3 |

mod tshark_card;
mod tshark_gsmtap;
