//! Card OS: file system, NVM with atomic transactions, APDU dispatch.
//!
//! Not built yet (issue 3).
