//! `provisioning-stub` command line (skeleton; filled in below).
fn main() {}
