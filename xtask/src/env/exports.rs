//! `cargo xtask env`: shell exports (or JSON) for using the published
//! toolchain by hand.

use anyhow::{bail, Result};

use crate::base::cache::Cache;
use crate::toolchain::info::ToolchainInfo;

/// Prints `export` lines, or the toolchain description as JSON.
///
/// Errors: no published toolchain (run `cargo xtask build-toolchain`).
pub fn print(cache: &Cache, json: bool) -> Result<()> {
    let Some(info) = ToolchainInfo::published(cache) else {
        bail!(
            "no published toolchain in {}: run `cargo xtask build-toolchain` first",
            cache.root().display()
        );
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&info)?);
        return Ok(());
    }
    let q = |p: &std::path::Path| shell_quote(&p.display().to_string());
    println!("export PATH={}:\"$PATH\"", q(&info.prefix.join("bin")));
    println!("export SPLIT_STACK_TOOLCHAIN={}", q(&info.prefix));
    println!("export SPLIT_STACK_SYSROOT={}", q(&info.sysroot));
    // qemu-user reads QEMU_LD_PREFIX as the default for -L.
    println!("export QEMU_LD_PREFIX={}", q(&info.sysroot));
    for crate::toolchain::info::OldSysroot {
        name, path: dir, ..
    } in &info.old_sysroots
    {
        let var = name.to_uppercase().replace(['-', '.'], "_");
        println!("export SPLIT_STACK_SYSROOT_{var}={}", q(dir));
    }
    println!("# e.g. aarch64-linux-gnu-gcc hello.c -o hello && qemu-aarch64 ./hello");
    Ok(())
}

/// `s` quoted for a POSIX shell (`shlex`), unchanged when it needs no
/// quoting.  A string with a NUL byte cannot be quoted: it is shown as is
/// (paths never hold one).
fn shell_quote(s: &str) -> String {
    shlex::try_quote(s).map_or_else(|_| s.to_string(), |q| q.into_owned())
}

#[cfg(test)]
mod tests {
    #[test]
    fn quoting_is_only_added_when_needed() {
        assert_eq!(super::shell_quote("/a/b-c"), "/a/b-c");
        for s in ["/a b", "it's", "$HOME", "a\"b", "`x`", "a\\b", "!x", "*"] {
            let q = super::shell_quote(s);
            assert_ne!(q, s);
            // What a real shell makes of it.
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("printf %s {q}"))
                .output()
                .unwrap();
            assert_eq!(String::from_utf8_lossy(&out.stdout), s, "{q}");
        }
    }
}
