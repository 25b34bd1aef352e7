//! The toolchain build pipeline: Debian sources through a private apt
//! configuration (`apt`, `sources`), the patch series (`patches`), the keyed
//! autotools steps and component recipes (`build`), the smoke test (`smoke`).
//! Imports only `base`.

pub mod apt;
pub mod build;
pub mod info;
pub mod patches;
pub mod smoke;
pub mod sources;
