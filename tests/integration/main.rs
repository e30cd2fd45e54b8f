//! One integration-test binary; each module is one kind of test.
//!
//! | module | what it checks |
//! | --- | --- |
