//! One integration-test binary; each module is one kind of test.
//!
//! | module | what it checks |
//! | --- | --- |
//! | `tshark_gsmtap` | tshark decodes every emitted APDU exchange (GSMTAP-SIM pcap) as built; issue 2 |

mod tshark_gsmtap;
