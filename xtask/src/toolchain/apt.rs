//! A private apt configuration inside the cache, for downloading Debian
//! packages without touching the machine's `/etc/apt`.
//!
//! `APT_CONFIG` points apt at `<cache>/apt/apt.conf`, which names its own
//! sources list, state (lists, an empty dpkg status) and archive directory.
//! `apt-get download` checks every .deb against the hash in the signed index.
//! A package already downloaded is reused without touching the network.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::base::cache::{sha256_file, write_atomic};
use crate::base::manifest::{debian_upstream_version, Manifest};
use crate::base::shell::{Cmd, Ui};

/// A downloaded package file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Deb {
    pub package: String,
    pub suite: String,
    /// Full Debian version, e.g. `16.2.0-4`.
    pub version: String,
    /// File name inside the archive directory.
    pub file: String,
    /// SHA-256 of the file when it was downloaded.
    pub sha256: String,
}

/// The private apt setup under `<cache>/apt`.
pub struct Apt {
    dir: PathBuf,
    mirror: String,
    keyring: String,
    suites: Vec<String>,
    /// Suites from which native arm64 packages (`name:arm64`) are
    /// fetched: only their arm64 package lists are read.
    arm64_suites: Vec<String>,
    updated: bool,
}

/// The architecture of a package name as `toolchain.toml` writes it:
/// `libc6:arm64` is Debian's native arm64 package, a plain name the host's
/// (amd64) or architecture-independent one.
pub fn package_arch(package: &str) -> Option<&str> {
    package_and_suite(package, "")
        .0
        .split_once(':')
        .map(|(_, a)| a)
}

/// A package of an old sysroot as `toolchain.toml` writes it, `name` or
/// `name@suite`, split into the name and the suite it comes from
/// (`default_suite` when none is given).
pub fn package_and_suite<'a>(package: &'a str, default_suite: &'a str) -> (&'a str, &'a str) {
    package.split_once('@').unwrap_or((package, default_suite))
}

impl Apt {
    /// The apt setup for `manifest`'s mirror, keyring and suites.
    pub fn new(dir: PathBuf, manifest: &Manifest) -> Apt {
        let mut suites: Vec<String> = manifest
            .sources
            .values()
            .map(|s| s.suite.clone())
            .chain(std::iter::once(manifest.linux_headers.suite.clone()))
            .chain(manifest.old_sysroots.iter().flat_map(|s| {
                s.packages
                    .iter()
                    .map(|p| package_and_suite(p, &s.suite).1.to_string())
                    .chain(std::iter::once(s.suite.clone()))
            }))
            .collect();
        suites.sort();
        suites.dedup();
        let mut arm64_suites: Vec<String> = manifest
            .old_sysroots
            .iter()
            .flat_map(|s| {
                s.packages
                    .iter()
                    .filter(|p| package_arch(p) == Some("arm64"))
                    .map(|p| package_and_suite(p, &s.suite).1.to_string())
            })
            .collect();
        arm64_suites.sort();
        arm64_suites.dedup();
        Apt {
            dir,
            mirror: manifest.mirror.clone(),
            keyring: manifest.keyring.clone(),
            suites,
            arm64_suites,
            updated: false,
        }
    }

    /// Directory holding the downloaded `.deb` files.
    pub fn archives(&self) -> PathBuf {
        self.dir.join("archives")
    }

    fn conf(&self) -> PathBuf {
        self.dir.join("apt.conf")
    }

    fn record_path(&self) -> PathBuf {
        self.dir.join("fetched.json")
    }

    fn records(&self) -> BTreeMap<String, Deb> {
        std::fs::read_to_string(self.record_path())
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default()
    }

    fn save_records(&self, r: &BTreeMap<String, Deb>) -> Result<()> {
        write_atomic(
            &self.record_path(),
            serde_json::to_string_pretty(r)?.as_bytes(),
        )
    }

    /// Writes the configuration files (idempotent).
    fn setup(&self) -> Result<()> {
        let d = &self.dir;
        for sub in [
            "state/lists/partial",
            "archives/partial",
            "cache",
            "sources.list.d",
            "preferences.d",
        ] {
            std::fs::create_dir_all(d.join(sub))?;
        }
        let status = d.join("state/status");
        if !status.exists() {
            std::fs::write(&status, "")?;
        }
        if !Path::new(&self.keyring).exists() {
            bail!(
                "the Debian archive keyring {} is missing; install it with \
                 `apt-get install debian-archive-keyring`",
                self.keyring
            );
        }
        let mut sources = String::new();
        for s in &self.suites {
            // arm64 package lists only where arm64 packages are needed.
            let arch = if self.arm64_suites.contains(s) {
                "amd64,arm64"
            } else {
                "amd64"
            };
            sources.push_str(&format!(
                "deb [arch={arch} signed-by={}] {} {} main\n",
                self.keyring, self.mirror, s
            ));
        }
        let architectures = if self.arm64_suites.is_empty() {
            "\"amd64\";"
        } else {
            "\"amd64\"; \"arm64\";"
        };
        write_atomic(&d.join("sources.list"), sources.as_bytes())?;
        let p = |s: &str| d.join(s).display().to_string();
        let mut conf = format!(
            "Dir::Etc::SourceList \"{}\";\nDir::Etc::SourceParts \"{}\";\n\
             Dir::Etc::Preferences \"{}\";\nDir::Etc::PreferencesParts \"{}\";\n\
             Dir::State \"{}\";\nDir::State::Lists \"{}\";\nDir::State::status \"{}\";\n\
             Dir::Cache \"{}\";\nDir::Cache::archives \"{}\";\n\
             Acquire::Languages \"none\";\n\
             Acquire::IndexTargets::deb::DEP-11::DefaultEnabled \"false\";\n\
             Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled \"false\";\n\
             Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled \"false\";\n\
             Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled \"false\";\n\
             APT::Architecture \"amd64\";\nAPT::Architectures {{ {architectures} }};\n",
            p("sources.list"),
            p("sources.list.d"),
            p("preferences"),
            p("preferences.d"),
            p("state"),
            p("state/lists"),
            p("state/status"),
            p("cache"),
            p("archives"),
        );
        if crate::base::hostdeps::is_root() {
            // The cache belongs to root; apt's `_apt` sandbox user cannot
            // write into it.
            conf.push_str("APT::Sandbox::User \"root\";\n");
        }
        write_atomic(&self.conf(), conf.as_bytes())
    }

    fn apt(&self, program: &str) -> Cmd {
        Cmd::new(program).env("APT_CONFIG", self.conf())
    }

    fn update(&mut self, ui: &Ui, log: &Path) -> Result<()> {
        if self.updated {
            return Ok(());
        }
        self.setup()?;
        self.apt("apt-get")
            .arg("update")
            .run_logged(ui, "sources: apt-get update (private configuration)", log)
            .context(
                "cannot read the Debian package lists; is the Debian mirror reachable? \
                 (a user-supplied tarball avoids the download: see --help)",
            )?;
        self.updated = true;
        Ok(())
    }

    /// Versions of `package` that `suite` offers, newest first.
    fn versions_in_suite(&self, package: &str, suite: &str) -> Result<Vec<String>> {
        let out = self.apt("apt-cache").args(["madison", package]).read()?;
        Ok(parse_madison(&out, suite))
    }

    /// Returns the `.deb` of `package` from `suite` whose upstream version is
    /// `upstream` (`None`: the newest the suite has), downloading it when it
    /// is not in the archive yet (`refresh` forces a new look at the package
    /// lists).
    ///
    /// Errors: mirror unreachable, or the suite no longer carries that
    /// upstream version (the message lists what it carries).
    pub fn fetch(
        &mut self,
        ui: &Ui,
        package: &str,
        suite: &str,
        upstream: Option<&str>,
        refresh: bool,
        log: &Path,
    ) -> Result<(Deb, PathBuf)> {
        let id = format!("{package}/{suite}");
        let mut records = self.records();
        let matches = |v: &str| upstream.is_none_or(|u| debian_upstream_version(v) == u);
        if !refresh {
            if let Some(d) = records.get(&id) {
                let path = self.archives().join(&d.file);
                if matches(&d.version) && path.is_file() {
                    return Ok((d.clone(), path));
                }
            }
        }
        self.update(ui, log)?;
        let versions = self.versions_in_suite(package, suite)?;
        let Some(version) = versions.iter().find(|v| matches(v)).cloned() else {
            bail!(
                "Debian {suite} has no {package} with upstream version {} (it has: {}).\n\
                 Either update the pin in toolchain.toml, or supply the upstream tarball \
                 yourself (see `cargo xtask build-toolchain --help`).",
                upstream.unwrap_or("(any)"),
                if versions.is_empty() {
                    "nothing".to_string()
                } else {
                    versions.join(", ")
                }
            );
        };
        self.apt("apt-get")
            .args(["download", &format!("{package}={version}")])
            .dir(self.archives())
            .run_logged(ui, &format!("sources: download {package} {version}"), log)?;
        let file = deb_file_name(package, &version);
        let path = self.archives().join(&file);
        if !path.is_file() {
            bail!(
                "apt-get download did not produce {} (see {})",
                path.display(),
                log.display()
            );
        }
        let deb = Deb {
            package: package.to_string(),
            suite: suite.to_string(),
            version,
            file,
            sha256: sha256_file(&path)?,
        };
        records.insert(id, deb.clone());
        self.save_records(&records)?;
        Ok((deb, path))
    }

    /// Forgets and deletes a downloaded package (after it proved corrupt),
    /// so the next run downloads it again.
    pub fn discard(&self, deb: &Deb) -> Result<()> {
        let mut records = self.records();
        records.retain(|_, d| d != deb);
        self.save_records(&records)?;
        let _ = std::fs::remove_file(self.archives().join(&deb.file));
        Ok(())
    }
}

/// File name `apt-get download` gives a package (epoch `:` becomes `%3a`):
/// `name_version_all.deb` for an architecture-independent package such as
/// the cross and source packages, `name_version_arm64.deb` for
/// `name:arm64`.
pub fn deb_file_name(package: &str, version: &str) -> String {
    let (name, arch) = match package.split_once(':') {
        Some((n, a)) => (n, a),
        None => (package, "all"),
    };
    format!("{name}_{}_{arch}.deb", version.replace(':', "%3a"))
}

/// Parses `apt-cache madison` output, keeping the versions from `suite`.
pub fn parse_madison(out: &str, suite: &str) -> Vec<String> {
    let mut v = Vec::new();
    for line in out.lines() {
        let cols: Vec<&str> = line.split('|').map(str::trim).collect();
        if cols.len() < 3 {
            continue;
        }
        let in_suite = cols[2]
            .split_whitespace()
            .any(|w| w.split('/').next() == Some(suite));
        if in_suite && !v.iter().any(|x| x == cols[1]) {
            v.push(cols[1].to_string());
        }
    }
    v
}

/// Extracts a `.deb`'s files into `dest` with `dpkg-deb -x`.
///
/// Errors: a corrupt or truncated package (the message names the file).
pub fn extract_deb(deb: &Path, dest: &Path) -> Result<()> {
    std::fs::create_dir_all(dest)?;
    let (ok, _, err) = Cmd::new("dpkg-deb").arg("-x").arg(deb).arg(dest).output()?;
    if !ok {
        bail!(
            "{} is corrupt or truncated (dpkg-deb: {})",
            deb.display(),
            err.trim()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MADISON: &str = "\
libc6-arm64-cross | 2.43-3cross8 | http://deb.debian.org/debian sid/main amd64 Packages
libc6-arm64-cross | 2.36-8cross1 | http://deb.debian.org/debian bookworm/main amd64 Packages
";

    #[test]
    fn madison_is_filtered_by_suite() {
        assert_eq!(parse_madison(MADISON, "sid"), ["2.43-3cross8"]);
        assert_eq!(parse_madison(MADISON, "bookworm"), ["2.36-8cross1"]);
        assert!(parse_madison(MADISON, "trixie").is_empty());
    }

    #[test]
    fn deb_names_escape_epochs() {
        assert_eq!(deb_file_name("a", "1:2.0-1"), "a_1%3a2.0-1_all.deb");
        assert_eq!(
            deb_file_name("libc6:arm64", "2.44-3"),
            "libc6_2.44-3_arm64.deb"
        );
        assert_eq!(
            package_and_suite("libc6:arm64", "experimental"),
            ("libc6:arm64", "experimental")
        );
        assert_eq!(
            package_and_suite("libgcc-s1:arm64@sid", "experimental"),
            ("libgcc-s1:arm64", "sid")
        );
        assert_eq!(package_arch("libgcc-s1:arm64@sid"), Some("arm64"));
        assert_eq!(package_arch("libc6-arm64-cross"), None);
        assert_eq!(
            deb_file_name("gcc-16-source", "16.2.0-4"),
            "gcc-16-source_16.2.0-4_all.deb"
        );
    }

    #[test]
    fn corrupt_deb_gives_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let deb = dir.path().join("broken_1.0-1_all.deb");
        std::fs::write(&deb, b"!<arch>\ndebian-binary   garbage").unwrap();
        let err = extract_deb(&deb, &dir.path().join("out"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("broken_1.0-1_all.deb"), "{err}");
        assert!(err.contains("corrupt"), "{err}");
    }
}
