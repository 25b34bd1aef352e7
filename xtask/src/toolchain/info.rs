//! The published toolchain: the contract between the build pipeline and
//! everything that uses its result (`env`, `conformance`, `bench`,
//! `review`, `test`, the integration tests, which read it as JSON from
//! `<cache>/toolchain/.ready` or `<cache>/toolchain.json`).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::base::cache::Cache;

/// A stock glibc sysroot (no split-stack slot): the "old glibc" that
/// split-stack programs must be refused by (docs/abi.md, section 3).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(from = "OldSysrootRepr")]
pub struct OldSysroot {
    /// Its name in `toolchain.toml`, e.g. `glibc-2.43-stock`.
    pub name: String,
    /// The glibc version it holds, e.g. `2.43`.
    pub glibc_version: String,
    /// Its directory (`lib/ld-linux-aarch64.so.1` inside).
    pub path: PathBuf,
}

/// What a published file may hold for an [`OldSysroot`]: the named form,
/// or the positional `[name, version, path]` of files written before it
/// had names (so that an existing cache stays published).
#[derive(Deserialize)]
#[serde(untagged)]
enum OldSysrootRepr {
    Named {
        name: String,
        glibc_version: String,
        path: PathBuf,
    },
    Positional(String, String, PathBuf),
}

impl From<OldSysrootRepr> for OldSysroot {
    fn from(r: OldSysrootRepr) -> OldSysroot {
        match r {
            OldSysrootRepr::Named {
                name,
                glibc_version,
                path,
            }
            | OldSysrootRepr::Positional(name, glibc_version, path) => OldSysroot {
                name,
                glibc_version,
                path,
            },
        }
    }
}

/// Where a published toolchain lives; what `env` and `conformance` use.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ToolchainInfo {
    /// Cache key of the whole toolchain.
    pub key: String,
    /// Installation prefix (`bin/aarch64-linux-gnu-gcc` etc.).
    pub prefix: PathBuf,
    /// The patched glibc sysroot.
    pub sysroot: PathBuf,
    /// Stock glibc sysroots.
    pub old_sysroots: Vec<OldSysroot>,
    /// Whether the C++ compiler was built.
    pub cxx: bool,
    /// Whether the Go front end (gccgo) and libgo were built.  False in
    /// files written before it existed.
    #[serde(default)]
    pub go: bool,
    /// What the `-fsplit-stack` compile probe said.
    pub split_stack_probe: String,
    /// Step durations of the build that produced it (seconds).
    pub timings: Vec<(String, f64)>,
    /// Hash of what the repository and the options said when it was
    /// published (`toolchain::build::quick_key`): equal now means up to
    /// date, found without the lock and without touching the work trees.
    /// Empty in files written before it existed.
    #[serde(default)]
    pub quick_key: String,
}

impl ToolchainInfo {
    /// The published toolchain, if `toolchain/.ready` exists and reads.
    pub fn published(cache: &Cache) -> Option<ToolchainInfo> {
        let t = std::fs::read_to_string(cache.ready_file()).ok()?;
        serde_json::from_str(&t).ok()
    }

    /// `<prefix>/bin/aarch64-linux-gnu-<tool>`.
    pub fn tool(&self, tool: &str) -> PathBuf {
        self.prefix
            .join("bin")
            .join(format!("aarch64-linux-gnu-{tool}"))
    }

    /// The paths of the old sysroots, in order.
    pub fn old_sysroot_paths(&self) -> Vec<PathBuf> {
        self.old_sysroots.iter().map(|o| o.path.clone()).collect()
    }

    /// The toolchain as the conformance suite takes it, with `extra_old`
    /// old sysroots after the built ones.  Errors: as
    /// [`conformance::Toolchain::from_prefix`] (no driver, a driver for
    /// another target, a sysroot without a loader).
    pub fn conformance_toolchain(
        &self,
        extra_old: &[PathBuf],
    ) -> anyhow::Result<conformance::Toolchain> {
        let mut old = self.old_sysroot_paths();
        old.extend(extra_old.iter().cloned());
        conformance::Toolchain::from_prefix(&self.prefix, &self.sysroot, &old)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_sysroots_read_named_and_positional() {
        let named: OldSysroot =
            serde_json::from_str(r#"{"name":"a","glibc_version":"2.43","path":"/p"}"#).unwrap();
        let positional: OldSysroot = serde_json::from_str(r#"["a","2.43","/p"]"#).unwrap();
        assert_eq!(named, positional);
        assert_eq!(named.path, PathBuf::from("/p"));
        // Written back in the named form.
        let v = serde_json::to_value(&named).unwrap();
        assert_eq!(v["glibc_version"], "2.43");
    }
}
