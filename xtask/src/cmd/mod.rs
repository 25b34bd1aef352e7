//! Command glue: what a `cargo xtask` subcommand does beyond parsing, and its
//! exit code. Imports every layer below.

pub mod args;
pub mod conformance;
pub mod patches;
pub mod stress;
pub mod test;
