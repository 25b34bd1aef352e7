//! Host tools the build needs, and installing the missing ones.
//!
//! When running as root the missing Debian packages are installed with
//! `apt-get` from the machine's own apt sources (after `apt-get update`),
//! printing what is installed; otherwise the error names the exact command.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use crate::base::shell::{Cmd, Ui};

/// A requirement: an executable on PATH or a file, and the Debian package
/// that provides it.
#[derive(Debug, Clone, Copy)]
pub struct Requirement {
    /// Executable name (looked up on PATH) or absolute path of a file.
    pub what: &'static str,
    /// Debian package providing it.
    pub package: &'static str,
}

/// A [`Requirement`] (for `const` lists).
pub const fn req(what: &'static str, package: &'static str) -> Requirement {
    Requirement { what, package }
}

/// Everything `build-toolchain` and the conformance suite run on the host.
pub const REQUIREMENTS: &[Requirement] = &[
    req("make", "make"),
    req("gcc", "gcc"),
    req("g++", "g++"),
    req("flex", "flex"),
    req("bison", "bison"),
    req("gawk", "gawk"),
    req("m4", "m4"),
    req("makeinfo", "texinfo"),
    req("perl", "perl"),
    req("python3", "python3"),
    req("git", "git"),
    req("tar", "tar"),
    req("xz", "xz-utils"),
    req("rsync", "rsync"),
    req("file", "file"),
    req("ccache", "ccache"),
    req("dpkg-deb", "dpkg"),
    req("apt-get", "apt"),
    req("gpgv", "gpgv"),
    req("qemu-aarch64", "qemu-user"),
    // Bootstrap compiler for glibc (see docs/abi.md "Building"): Debian's
    // prebuilt cross GCC, so the patched GCC is built only once.
    req("aarch64-linux-gnu-gcc", "gcc-aarch64-linux-gnu"),
    // Headers for Debian's stock cross GCC, which the conformance suite's
    // tests run as the "unsupported toolchain" case.
    req(
        "/usr/aarch64-linux-gnu/include/stdio.h",
        "libc6-dev-arm64-cross",
    ),
    req("/usr/include/gmp.h", "libgmp-dev"),
    req("/usr/include/mpfr.h", "libmpfr-dev"),
    req("/usr/include/mpc.h", "libmpc-dev"),
];

/// Looks `name` up on PATH (or checks the file, if absolute).
pub fn find(name: &str) -> Option<PathBuf> {
    let p = Path::new(name);
    if p.is_absolute() {
        if p.exists() {
            return Some(p.to_path_buf());
        }
        if !p.starts_with("/usr/include") {
            return None;
        }
        // Headers may live in the multiarch include directory.
        let multiarch = Path::new("/usr/include/x86_64-linux-gnu").join(p.file_name()?);
        return multiarch.exists().then_some(multiarch);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|c| c.is_file())
}

/// The requirements that are not met, in list order.
pub fn missing(reqs: &[Requirement]) -> Vec<Requirement> {
    reqs.iter()
        .copied()
        .filter(|r| find(r.what).is_none())
        .collect()
}

/// Whether this process runs as root (effective UID 0).
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// The install command for `pkgs`, as a user would type it.
pub fn install_hint(pkgs: &[&str]) -> String {
    format!(
        "sudo apt-get update && sudo apt-get install -y --no-install-recommends {}",
        pkgs.join(" ")
    )
}

/// Makes sure every requirement is met: installs missing packages when root,
/// otherwise fails naming the command to run.
pub fn ensure(ui: &Ui, reqs: &[Requirement], log: &Path) -> Result<()> {
    let miss = missing(reqs);
    if miss.is_empty() {
        return Ok(());
    }
    let mut pkgs: Vec<&str> = miss.iter().map(|r| r.package).collect();
    pkgs.sort_unstable();
    pkgs.dedup();
    let what: Vec<&str> = miss.iter().map(|r| r.what).collect();
    if !is_root() {
        bail!(
            "missing host tools: {}.\nInstall them with:\n    {}",
            what.join(", "),
            install_hint(&pkgs)
        );
    }
    ui.line(format!(
        "host: installing missing packages: {} (for {})",
        pkgs.join(" "),
        what.join(", ")
    ));
    Cmd::new("apt-get")
        .arg("update")
        .env("DEBIAN_FRONTEND", "noninteractive")
        .run_logged(ui, "host: apt-get update", log)?;
    Cmd::new("apt-get")
        .args(["install", "-y", "--no-install-recommends"])
        .args(pkgs.iter().copied())
        .env("DEBIAN_FRONTEND", "noninteractive")
        .run_logged(ui, "host: apt-get install", log)?;
    let still: Vec<&str> = missing(reqs).iter().map(|r| r.what).collect();
    if !still.is_empty() {
        bail!(
            "still missing after apt-get install: {} (see {})",
            still.join(", "),
            log.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_tool_is_reported_with_its_package() {
        let reqs = [
            req("sh", "dash"),
            req("no-such-tool-for-test", "no-such-pkg"),
        ];
        let m = missing(&reqs);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].package, "no-such-pkg");
        assert!(install_hint(&["no-such-pkg"]).contains("apt-get install -y"));
    }

    #[test]
    fn absolute_requirements_check_files() {
        assert!(find("/bin/sh").is_some());
        assert!(find("/no/such/header.h").is_none());
    }
}
