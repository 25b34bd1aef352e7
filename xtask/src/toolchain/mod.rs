//! The toolchain build pipeline: Debian sources through a private apt
//! configuration (`apt`, `sources`), the patch series (`patches`), the keyed
//! autotools steps and component recipes (`build`), the smoke test (`smoke`),
//! the fixed-stack libgo that Go comparisons use (`libgo_fixed`).
//! Imports only `base`.

pub mod apt;
pub mod build;
pub mod info;
pub mod libgo_fixed;
pub mod patches;
pub mod smoke;
pub mod sources;
