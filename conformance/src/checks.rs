//! The checks.  Each one is a small named unit: it builds its own inputs,
//! and its outcome says which stage (compile, inspect, run) failed.

use crate::abi;
use crate::elf::needed_versions;
use crate::probe::Probe;
use crate::{CheckResult, Outcome};

/// Identifier of the check every split-stack check depends on.
pub const SPLIT_STACK_ACCEPTED: &str = "split-stack/accepted";

const PROBE_SRC: &str = "int f (int x) { char b[256]; b[x & 255] = x; return b[(x + 1) & 255]; }\n";

const TLS_SRC: &str = r#"#include <stdio.h>
__thread long tls_first = 42;
int
main (void)
{
  char *tp = __builtin_thread_pointer ();
  long off = (char *) &tls_first - tp;
  printf ("tls offset %ld value %ld\n", off, tls_first);
  return 0;
}
"#;

const PLAIN_SRC: &str = r#"#include <stdio.h>
__attribute__ ((constructor)) static void
ctor (void)
{
  printf ("constructor ran\n");
}
int
main (void)
{
  printf ("plain program ran\n");
  return 0;
}
"#;

fn result(id: &str, title: &str, outcome: Outcome) -> CheckResult {
    CheckResult {
        id: id.to_string(),
        title: title.to_string(),
        outcome,
    }
}

/// Runs every check, in report order.
pub fn all(p: &Probe) -> Vec<CheckResult> {
    let split = split_stack_accepted(p);
    let split_ok = matches!(split.outcome, Outcome::Pass(_));
    let mut v = vec![split];
    v.push(tls_variant_1(p, false));
    v.push(tls_variant_1(p, true));
    v.push(plain_program_needs_no_new_glibc(p));
    // Checks that need a compiler that accepts -fsplit-stack.  Until they
    // are implemented they are reported as SKIP, never as PASS.
    for (id, title) in [
        (
            "prologue/layout",
            "prologue matches the forms of docs/abi.md, per frame class",
        ),
        (
            "tcb/guard-offset",
            "guard at TP-8 in glibc, GCC's code, libgcc and at run time",
        ),
        (
            "refusal/old-glibc",
            "split-stack programs need GLIBC_2.44 and old glibc refuses them",
        ),
        (
            "runtime/deep-recursion",
            "deep recursion on small stacks, main thread and threads",
        ),
    ] {
        let why = if split_ok {
            "not implemented in this version of the suite".to_string()
        } else {
            format!("needs {SPLIT_STACK_ACCEPTED}")
        };
        v.push(result(id, title, Outcome::Skip(why)));
    }
    v
}

fn split_stack_accepted(p: &Probe) -> CheckResult {
    let title = "the compiler accepts -fsplit-stack for aarch64-linux-gnu";
    let outcome = match p.compile("split_probe.o", PROBE_SRC, &["-O2", "-fsplit-stack", "-c"]) {
        Ok(_) => Outcome::Pass("compiled a function with -fsplit-stack".into()),
        Err(e) => {
            let msg = format!("{e:#}");
            let line = msg
                .lines()
                .find(|l| l.contains("error"))
                .unwrap_or("compilation failed")
                .trim()
                .to_string();
            Outcome::Fail(line)
        }
    };
    result(SPLIT_STACK_ACCEPTED, title, outcome)
}

/// The executable's first TLS variable sits at TP + TCB_SIZE (TLS variant I
/// unchanged by the guard slot below TP).
fn tls_variant_1(p: &Probe, static_link: bool) -> CheckResult {
    let (id, flags): (&str, &[&str]) = if static_link {
        ("tls/variant-1-static", &["-O2", "-static"])
    } else {
        ("tls/variant-1", &["-O2"])
    };
    let title = format!(
        "executable TLS starts at TP+{} ({})",
        abi::TCB_SIZE,
        if static_link { "static" } else { "dynamic" }
    );
    let name = id.replace('/', "_");
    let exe = match p.compile(&name, TLS_SRC, flags) {
        Ok(e) => e,
        Err(e) => return result(id, &title, Outcome::Fail(format!("compile: {e:#}"))),
    };
    let outcome = match p.run(&exe, &p.tc.sysroot, &[]) {
        Err(e) => Outcome::Fail(format!("run: {e:#}")),
        Ok(r) if !r.ok() => {
            Outcome::Fail(format!("run: exit {:?}\n{}{}", r.code, r.stdout, r.stderr))
        }
        Ok(r) => {
            let want = format!("tls offset {} value 42", abi::TCB_SIZE);
            if r.stdout.trim() == want {
                Outcome::Pass(format!("measured at run time: {}", r.stdout.trim()))
            } else {
                Outcome::Fail(format!("expected `{want}`, got `{}`", r.stdout.trim()))
            }
        }
    };
    result(id, &title, outcome)
}

/// A program built without -fsplit-stack gains no GLIBC_2.44 dependency and
/// runs on every old glibc.
fn plain_program_needs_no_new_glibc(p: &Probe) -> CheckResult {
    let id = "refusal/plain-program-runs";
    let title = format!(
        "a program without -fsplit-stack needs no {} and runs on old glibc",
        abi::VERSION_NODE
    );
    let exe = match p.compile("plain", PLAIN_SRC, &["-O2"]) {
        Ok(e) => e,
        Err(e) => return result(id, &title, Outcome::Fail(format!("compile: {e:#}"))),
    };
    let needs = match std::fs::read(&exe)
        .map_err(anyhow::Error::from)
        .and_then(|d| needed_versions(&d))
    {
        Ok(n) => n,
        Err(e) => return result(id, &title, Outcome::Fail(format!("inspect: {e:#}"))),
    };
    if let Some(n) = needs.iter().find(|n| n.version == abi::VERSION_NODE) {
        return result(
            id,
            &title,
            Outcome::Fail(format!("inspect: needs {} from {}", n.version, n.file)),
        );
    }
    if p.tc.old_sysroots.is_empty() {
        return result(
            id,
            &title,
            Outcome::Skip("no old glibc sysroot given (--old-sysroot)".into()),
        );
    }
    let mut ran = Vec::new();
    for s in std::iter::once(&p.tc.sysroot).chain(&p.tc.old_sysroots) {
        match p.run(&exe, s, &[("LD_BIND_NOW", "1")]) {
            Ok(r) if r.ok() && r.stdout == "constructor ran\nplain program ran\n" => {
                ran.push(s.display().to_string())
            }
            Ok(r) => {
                return result(
                    id,
                    &title,
                    Outcome::Fail(format!(
                        "run on {}: exit {:?}\n{}{}",
                        s.display(),
                        r.code,
                        r.stdout,
                        r.stderr
                    )),
                )
            }
            Err(e) => return result(id, &title, Outcome::Fail(format!("run: {e:#}"))),
        }
    }
    let versions: Vec<String> = needs
        .iter()
        .filter(|n| n.file == "libc.so.6")
        .map(|n| n.version.clone())
        .collect();
    result(
        id,
        &title,
        Outcome::Pass(format!(
            "needs from libc.so.6: {}; ran on {}",
            versions.join(" "),
            ran.join(", ")
        )),
    )
}
