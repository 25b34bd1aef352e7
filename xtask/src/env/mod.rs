//! Environments the toolchain runs in: the Debian arm64 root filesystem
//! (`rootfs`), the container recipes (`docker_lint`), shell exports
//! (`exports`). Imports `toolchain` and `base`.

pub mod docker_lint;
pub mod exports;
pub mod rootfs;
