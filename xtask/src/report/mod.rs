//! Reports: benchmarks (`bench`) and the reviewer bundle (`review`). Imports
//! `toolchain`, `harness` and `base`.

pub mod bench;
pub mod bench_go;
pub mod review;
