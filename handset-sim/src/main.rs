//! `handset-sim` command line (under construction).
fn main() {}
