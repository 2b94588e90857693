//! The `wgtrace` command line.
fn main() {}
