//! ABI constants under test.  Source of every value: `docs/abi.md`.

/// Offset of the split-stack guard from the thread pointer (`tpidr_el0`),
/// in bytes; negative: the 64-bit guard word lies just below the TCB.
/// (docs/abi.md, "Guard slot")
pub const GUARD_OFFSET_FROM_TP: i64 = -8;

/// Size of the AArch64 TCB in bytes; TLS variant I places the executable's
/// TLS block at TP + 16 (glibc `sysdeps/aarch64/nptl/tls.h`, both linkers'
/// TCB_SIZE).  (docs/abi.md, "TLS layout")
pub const TCB_SIZE: i64 = 16;

/// Version node that every split-stack program or library needs from
/// libc.so.6: an ABI marker node, not a release node, so no glibc
/// release changes its meaning.  (docs/abi.md, "Versioned symbol")
pub const VERSION_NODE: &str = "GLIBC_ABI_SPLIT_STACK";
