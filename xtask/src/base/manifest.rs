//! The pinned-sources manifest (`toolchain.toml` at the repository root).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

/// The three source components, in build order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Component {
    Binutils,
    Glibc,
    Gcc,
}

impl Component {
    /// All components in build order (binutils, glibc, GCC).
    pub const ALL: [Component; 3] = [Component::Binutils, Component::Glibc, Component::Gcc];

    /// Lower-case name, as used in `patches/<name>/` and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Component::Binutils => "binutils",
            Component::Glibc => "glibc",
            Component::Gcc => "gcc",
        }
    }

    /// Parses a lower-case component name.
    pub fn parse(s: &str) -> Result<Component> {
        Component::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .with_context(|| format!("unknown component `{s}` (expected binutils, glibc or gcc)"))
    }
}

impl std::fmt::Display for Component {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One pinned source: an upstream version and the Debian package carrying it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct SourcePin {
    /// Upstream version, e.g. `16.2.0`.
    pub upstream: String,
    /// Snapshot date (`YYYYMMDD`) for snapshot releases (binutils only).
    #[serde(default)]
    pub snapshot: Option<String>,
    /// Debian source-tarball package, e.g. `gcc-16-source`.
    pub package: String,
    /// Debian suite the package is taken from.
    pub suite: String,
    /// What the upstream part of the Debian version (epoch and revision
    /// stripped) must equal.
    pub debian_upstream: String,
}

/// A single binary package pinned by suite and upstream version.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct PackagePin {
    pub package: String,
    pub suite: String,
    pub debian_upstream: String,
}

/// A stock (unpatched) glibc sysroot assembled from Debian cross packages,
/// or from native arm64 ones (`libc6:arm64`) rearranged into their layout.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct OldSysroot {
    /// Directory name under `<cache>/sysroots/`.
    pub name: String,
    pub suite: String,
    /// Upstream glibc version the `libc6*` packages must carry.
    pub glibc: String,
    /// Package names, `name` or `name@suite` to take one from another
    /// suite; `name:arm64` is Debian's native arm64 package.
    pub packages: Vec<String>,
}

/// The whole manifest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Manifest {
    /// GNU target triplet, `aarch64-linux-gnu`.
    pub target: String,
    /// Debian mirror used by the private apt configuration.
    pub mirror: String,
    /// OpenPGP keyring that signs the mirror's suites.
    pub keyring: String,
    pub sources: BTreeMap<Component, SourcePin>,
    pub linux_headers: PackagePin,
    pub old_sysroots: Vec<OldSysroot>,
}

impl Manifest {
    /// Reads and validates `toolchain.toml`.
    ///
    /// Errors: unreadable file, TOML syntax or unknown keys, a missing
    /// component, or duplicate old-sysroot names.
    pub fn load(path: &Path) -> Result<Manifest> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the manifest {}", path.display()))?;
        Manifest::parse(&text).with_context(|| format!("invalid manifest {}", path.display()))
    }

    /// Parses and validates manifest text (see [`Manifest::load`]).
    pub fn parse(text: &str) -> Result<Manifest> {
        let m: Manifest = toml::from_str(text)?;
        for c in Component::ALL {
            if !m.sources.contains_key(&c) {
                bail!("[sources.{c}] is missing");
            }
        }
        let mut names: Vec<&str> = m.old_sysroots.iter().map(|s| s.name.as_str()).collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            bail!("old sysroot `{}` is listed twice", w[0]);
        }
        if m.target != "aarch64-linux-gnu" {
            bail!("target must be aarch64-linux-gnu, not `{}`", m.target);
        }
        Ok(m)
    }

    /// The pin of one component (always present after validation).
    pub fn pin(&self, c: Component) -> &SourcePin {
        &self.sources[&c]
    }
}

/// The upstream part of a Debian version: epoch (`N:`) and Debian revision
/// (the part after the last `-`) removed.  `1:2.43-3cross8` gives `2.43`.
pub fn debian_upstream_version(version: &str) -> &str {
    let no_epoch = version.split_once(':').map_or(version, |(_, v)| v);
    no_epoch.rsplit_once('-').map_or(no_epoch, |(u, _)| u)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo_manifest() -> Manifest {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../toolchain.toml");
        Manifest::load(&path).expect("repository manifest parses")
    }

    #[test]
    fn repository_manifest_pins_the_issue_versions() {
        let m = repo_manifest();
        assert_eq!(m.pin(Component::Gcc).upstream, "16.2.0");
        assert_eq!(m.pin(Component::Glibc).upstream, "2.44");
        assert_eq!(m.pin(Component::Binutils).upstream, "2.47.50");
        assert_eq!(
            m.pin(Component::Binutils).snapshot.as_deref(),
            Some("20261021")
        );
        let names: Vec<_> = m.old_sysroots.iter().map(|s| s.glibc.as_str()).collect();
        assert_eq!(names, ["2.43", "2.36", "2.44"]);
    }

    #[test]
    fn missing_component_is_an_error() {
        let m = repo_manifest();
        let mut v: toml::Value = toml::Value::try_from(&m).unwrap();
        v["sources"].as_table_mut().unwrap().remove("glibc");
        let err = Manifest::parse(&toml::to_string(&v).unwrap()).unwrap_err();
        assert!(
            err.to_string().contains("[sources.glibc] is missing"),
            "{err}"
        );
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../toolchain.toml"),
        )
        .unwrap();
        let bad = text.replace("[sources.gcc]", "[sources.gcc]\nupstrem = \"1\"");
        let err = format!("{:#}", Manifest::parse(&bad).unwrap_err());
        assert!(err.contains("upstrem"), "{err}");
    }

    #[test]
    fn debian_versions_reduce_to_upstream() {
        assert_eq!(debian_upstream_version("16.2.0-4"), "16.2.0");
        assert_eq!(debian_upstream_version("2.43-3cross8"), "2.43");
        assert_eq!(
            debian_upstream_version("2.47.50.20261021-1"),
            "2.47.50.20261021"
        );
        assert_eq!(debian_upstream_version("1:2.36-9+deb12u14"), "2.36");
        assert_eq!(debian_upstream_version("7.2"), "7.2");
    }
}
