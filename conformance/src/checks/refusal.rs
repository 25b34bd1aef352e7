//! `refusal/`: the versioned symbol and the refusal of split-stack
//! programs by every glibc without the guard slot (docs/abi.md, section
//! 3).  Split-stack programs and programs that refer to
//! `__tcb_private_ss` need the version node [`abi::VERSION_NODE`] of
//! `libc.so.6`; old glibc's loader refuses them before any of their code
//! runs (their constructors write with `write(2)`, so a constructor that
//! ran would show); programs without `-fsplit-stack` need nothing new.

use std::path::Path;

use super::Check;
use crate::abi;
use crate::elf::{needed_versions, VersionNeed};
use crate::probe::{Probe, Run};
use crate::Outcome;

/// `conformance/cases/plain.c`: no `-fsplit-stack`, a constructor.
pub const PLAIN_SRC: &str = include_str!("../../cases/plain.c");
/// `conformance/cases/symbol_ref.c`: refers to `__tcb_private_ss`.
pub const SYMBOL_SRC: &str = include_str!("../../cases/symbol_ref.c");

/// What `plain.c` prints when its constructor and `main` ran.
pub const PLAIN_EXPECT: &str = "constructor ran\nplain program ran\n";

/// The checks of this family.
pub fn checks() -> Vec<Check> {
    vec![
        Check::new(
            "refusal/plain-program-runs",
            format!(
                "a program without -fsplit-stack needs no {} and runs on old glibc",
                abi::VERSION_NODE
            ),
            false,
            |p: &Probe| super::either(plain(p)),
        ),
        Check::new(
            "refusal/symbol-needs-abi-node",
            format!(
                "a program using __tcb_private_ss needs {} and old glibc refuses it before its constructors",
                abi::VERSION_NODE
            ),
            false,
            |p: &Probe| super::either(symbol(p)),
        ),
        Check::new(
            "refusal/split-program",
            format!(
                "-fsplit-stack programs need {} and old glibc refuses them before their constructors",
                abi::VERSION_NODE
            ),
            true,
            |p: &Probe| super::either(split_program(p)),
        ),
    ]
}

/// Judges a binary's verneed table: with `needs_node`, it must need
/// [`abi::VERSION_NODE`] from `libc.so.6`; without, it must need that
/// node from no file.  Errors say what is wrong.
pub fn judge_needs(needs: &[VersionNeed], needs_node: bool) -> Result<(), String> {
    let node = needs.iter().find(|n| n.version == abi::VERSION_NODE);
    match (needs_node, node) {
        (true, Some(n)) if n.file == "libc.so.6" => Ok(()),
        (true, Some(n)) => Err(format!(
            "needs {} from {}, not from libc.so.6",
            n.version, n.file
        )),
        (true, None) => Err(format!("no {} need on libc.so.6", abi::VERSION_NODE)),
        (false, Some(n)) => Err(format!("needs {} from {}", n.version, n.file)),
        (false, None) => Ok(()),
    }
}

/// Judges one run of a program that old glibc must refuse: a non-zero
/// exit, the loader's message naming the missing version node
/// ("version `GLIBC_ABI_SPLIT_STACK' not found"; any other loader
/// failure, such as a missing symbol, is not the refusal of section 3),
/// and nothing on standard output (no constructor ran).
pub fn judge_refused(r: &Run) -> Result<(), String> {
    let message = format!("version `{}' not found", abi::VERSION_NODE);
    if r.ok() {
        return Err("it ran (exit 0)".into());
    }
    if !r.stdout.is_empty() {
        return Err(format!(
            "its code ran before the refusal: stdout {:?}",
            r.stdout
        ));
    }
    if !r.stderr.contains(&message) {
        return Err(format!(
            "exit {:?} without the loader's \"{message}\": stderr {:?}",
            r.code,
            r.stderr.trim()
        ));
    }
    Ok(())
}

/// Compiles and links `src` at -O2 plus `flags`, and reads its verneed
/// table; a failure is the FAIL outcome naming the stage.
fn build_and_inspect(
    p: &Probe,
    name: &str,
    src: &str,
    flags: &[&str],
) -> Result<(std::path::PathBuf, Vec<VersionNeed>), Outcome> {
    let exe = p
        .compile(name, src, &[&["-O2"], flags].concat())
        .map_err(|e| Outcome::Fail(format!("compile/link {name}.c: {e:#}")))?;
    let needs = std::fs::read(&exe)
        .map_err(anyhow::Error::from)
        .and_then(|d| needed_versions(&d))
        .map_err(|e| Outcome::Fail(format!("inspect: {e:#}")))?;
    Ok((exe, needs))
}

fn plain(p: &Probe) -> Result<Outcome, Outcome> {
    let (exe, needs) = build_and_inspect(p, "plain", PLAIN_SRC, &[])?;
    judge_needs(&needs, false).map_err(|e| Outcome::Fail(format!("inspect: {e}")))?;
    if p.tc.old_sysroots.is_empty() {
        return Ok(Outcome::Skip(
            "no old glibc sysroot given (--old-sysroot)".into(),
        ));
    }
    let mut ran = Vec::new();
    for s in std::iter::once(&p.tc.sysroot).chain(&p.tc.old_sysroots) {
        let r = p
            .run(&exe, s, &[("LD_BIND_NOW", "1")])
            .map_err(|e| Outcome::Fail(format!("run: {e:#}")))?;
        if let Outcome::Fail(m) = super::judge_output(
            &r,
            PLAIN_EXPECT,
            String::new(),
            &format!("run on {}", s.display()),
        ) {
            return Err(Outcome::Fail(m));
        }
        ran.push(s.display().to_string());
    }
    let versions: Vec<&str> = needs
        .iter()
        .filter(|n| n.file == "libc.so.6")
        .map(|n| n.version.as_str())
        .collect();
    Ok(Outcome::Pass(format!(
        "needs from libc.so.6: {}; ran on {}",
        versions.join(" "),
        ran.join(", ")
    )))
}

/// Runs `exe` on every old sysroot, lazily and with `LD_BIND_NOW=1`, and
/// judges each run with [`judge_refused`].  Returns where it was refused,
/// or the FAIL (SKIP without old sysroots).
fn refused_everywhere(p: &Probe, exe: &Path) -> Result<String, Outcome> {
    if p.tc.old_sysroots.is_empty() {
        return Err(Outcome::Skip(
            "no old glibc sysroot given (--old-sysroot)".into(),
        ));
    }
    let mut seen = Vec::new();
    for s in &p.tc.old_sysroots {
        for (mode, env) in [
            ("lazy", &[][..]),
            ("LD_BIND_NOW=1", &[("LD_BIND_NOW", "1")][..]),
        ] {
            let r = p
                .run(exe, s, env)
                .map_err(|e| Outcome::Fail(format!("run: {e:#}")))?;
            judge_refused(&r).map_err(|e| {
                Outcome::Fail(format!(
                    "{} ({mode}): not refused as required: {e}",
                    s.display()
                ))
            })?;
            seen.push(format!("{} ({mode})", s.display()));
        }
    }
    Ok(seen.join(", "))
}

fn symbol(p: &Probe) -> Result<Outcome, Outcome> {
    let (exe, needs) = build_and_inspect(p, "symbol_ref", SYMBOL_SRC, &[])?;
    judge_needs(&needs, true).map_err(|e| Outcome::Fail(format!("inspect: {e}")))?;
    let want = format!(
        "constructor ran\n__tcb_private_ss={}\n",
        abi::GUARD_OFFSET_FROM_TP
    );
    let r = p
        .run(&exe, &p.tc.sysroot, &[("LD_BIND_NOW", "1")])
        .map_err(|e| Outcome::Fail(format!("run: {e:#}")))?;
    if let Outcome::Fail(m) =
        super::judge_output(&r, &want, String::new(), "run on the glibc under test")
    {
        return Err(Outcome::Fail(m));
    }
    let seen = refused_everywhere(p, &exe)?;
    Ok(Outcome::Pass(format!(
        "needs {} from libc.so.6; runs on the glibc under test; refused by {seen}",
        abi::VERSION_NODE
    )))
}

/// The recursion case (no reference of its own to glibc's symbol) needs
/// the node through libgcc's split-stack runtime, and every old glibc
/// refuses it.
fn split_program(p: &Probe) -> Result<Outcome, Outcome> {
    let (exe, needs) = build_and_inspect(
        p,
        "split_refusal",
        super::runtime::RECURSION_SRC,
        &["-fsplit-stack", "-pthread"],
    )?;
    judge_needs(&needs, true).map_err(|e| Outcome::Fail(format!("inspect: {e}")))?;
    let seen = refused_everywhere(p, &exe)?;
    Ok(Outcome::Pass(format!(
        "needs {} from libc.so.6; refused by {seen}",
        abi::VERSION_NODE
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::tests::run;

    fn need(file: &str, version: &str) -> VersionNeed {
        VersionNeed {
            file: file.into(),
            version: version.into(),
        }
    }

    #[test]
    fn the_node_is_needed_from_libc_or_not_at_all() {
        let base = need("libc.so.6", "GLIBC_2.17");
        let node = need("libc.so.6", abi::VERSION_NODE);
        assert_eq!(judge_needs(&[base.clone(), node.clone()], true), Ok(()));
        assert_eq!(judge_needs(std::slice::from_ref(&base), false), Ok(()));
        let e = judge_needs(std::slice::from_ref(&base), true).unwrap_err();
        assert!(e.contains("no GLIBC_ABI_SPLIT_STACK"), "{e}");
        let e = judge_needs(&[base.clone(), node.clone()], false).unwrap_err();
        assert!(
            e.contains("needs GLIBC_ABI_SPLIT_STACK from libc.so.6"),
            "{e}"
        );
        let other = need("libfoo.so", abi::VERSION_NODE);
        assert!(judge_needs(std::slice::from_ref(&other), true).is_err());
        assert!(judge_needs(&[other], false).is_err());
        // A release node of the same glibc is not the marker node.
        assert!(judge_needs(&[need("libc.so.6", "GLIBC_2.45")], true).is_err());
    }

    #[test]
    fn only_the_loaders_version_refusal_before_any_code_counts() {
        let refusal =
            "./t: /lib/libc.so.6: version `GLIBC_ABI_SPLIT_STACK' not found (required by ./t)\n";
        assert_eq!(judge_refused(&run(Some(1), "", refusal)), Ok(()));
        assert_eq!(judge_refused(&run(Some(127), "", refusal)), Ok(()));
        // It ran.
        assert!(judge_refused(&run(Some(0), "", refusal)).is_err());
        // The constructor ran before the failure.
        let e = judge_refused(&run(Some(1), "constructor ran\n", refusal)).unwrap_err();
        assert!(e.contains("constructor ran"), "{e}");
        // Another loader failure is not the refusal.
        let lookup = "./t: symbol lookup error: ./t: undefined symbol: __tcb_private_ss\n";
        assert!(judge_refused(&run(Some(127), "", lookup)).is_err());
        let other = "./t: /lib/libc.so.6: version `GLIBC_2.99' not found\n";
        assert!(judge_refused(&run(Some(1), "", other)).is_err());
        // A crash is not a refusal.
        assert!(judge_refused(&run(None, "", "")).is_err());
    }
}
