//! Command glue: what a `cargo xtask` subcommand does beyond parsing, and its
//! exit code. Imports every layer below.

pub mod test;
