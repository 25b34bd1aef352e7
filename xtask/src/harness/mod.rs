//! External test suites run against the built toolchain (glibc, gold and GCC
//! testsuites, patched against unpatched) and mutation testing of the
//! conformance suite. Imports `toolchain` and `base`.

pub mod compare;
pub mod corpus;
pub mod gcc_check;
pub mod glibc_compare;
pub mod glibc_tests;
pub mod go_check;
pub mod gold_compare;
pub mod gold_tests;
pub mod mutants;
