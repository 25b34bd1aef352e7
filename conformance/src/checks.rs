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

/// A program that references the glibc symbol the split-stack runtime
/// references, the way libgcc does (as data), with a constructor whose
/// output shows whether any of its code ran.
const SYMBOL_SRC: &str = r#"#include <stdio.h>
extern const long int __tcb_private_ss;
__attribute__ ((constructor)) static void
ctor (void)
{
  printf ("constructor ran\n");
}
int
main (void)
{
  printf ("__tcb_private_ss=%ld\n", __tcb_private_ss);
  return 0;
}
"#;

/// Reads the guard slot at TP + GUARD_OFFSET in the initial thread and in
/// new threads, and checks that the slots are independent.
const SLOT_SRC: &str = r#"#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#define NT 4
static pthread_barrier_t b;
static volatile uintptr_t *
slot (void)
{
  return (volatile uintptr_t *) ((char *) __builtin_thread_pointer () + GUARD_OFFSET);
}
static void *
f (void *arg)
{
  uintptr_t sp = (uintptr_t) __builtin_frame_address (0);
  uintptr_t g = *slot ();
  int ok = g != 0 && g < sp && sp - g >= 16384 && sp - g < 64 * 1024 * 1024;
  *slot () = (uintptr_t) arg;
  pthread_barrier_wait (&b);
  ok = ok && *slot () == (uintptr_t) arg;
  return (void *) (uintptr_t) ok;
}
int
main (void)
{
  pthread_t t[NT];
  int ok = 1;
  printf ("main %lu\n", (unsigned long) *slot ());
  pthread_barrier_init (&b, NULL, NT);
  for (uintptr_t i = 0; i < NT; i++)
    pthread_create (&t[i], NULL, f, (void *) (0x100 + i));
  for (int i = 0; i < NT; i++)
    {
      void *r;
      pthread_join (t[i], &r);
      ok = ok && r;
    }
  printf ("threads %s\n", ok ? "ok" : "BAD");
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
    v.push(symbol_needs_new_glibc(p));
    v.push(glibc_symbol_value(p));
    v.push(runtime_slot(p, false));
    v.push(runtime_slot(p, true));
    for case in RUNTIME_CASES {
        v.push(if split_ok {
            runtime_case(p, case)
        } else {
            result(
                case.id,
                case.title,
                Outcome::Skip(format!("needs {SPLIT_STACK_ACCEPTED}")),
            )
        });
    }
    v.push(if split_ok {
        split_program_refused(p)
    } else {
        result(
            SPLIT_REFUSAL_ID,
            SPLIT_REFUSAL_TITLE,
            Outcome::Skip(format!("needs {SPLIT_STACK_ACCEPTED}")),
        )
    });
    // Checks that need a compiler that accepts -fsplit-stack and are not
    // implemented yet: reported as SKIP, never as PASS.
    for (id, title) in [
        (
            "prologue/layout",
            "prologue matches the forms of docs/abi.md, per frame class",
        ),
        (
            "tcb/guard-offset",
            "GCC's code and libgcc use the guard at TP-8 that glibc provides",
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

/// Compiles and links `src` at -O2 and reads its verneed table; a failure
/// is the FAIL outcome naming the stage (compile/link or inspect).
fn build_and_inspect(
    p: &Probe,
    name: &str,
    src: &str,
) -> Result<(std::path::PathBuf, Vec<crate::elf::VersionNeed>), Outcome> {
    let exe = p
        .compile(name, src, &["-O2"])
        .map_err(|e| Outcome::Fail(format!("compile/link: {e:#}")))?;
    let needs = std::fs::read(&exe)
        .map_err(anyhow::Error::from)
        .and_then(|d| needed_versions(&d))
        .map_err(|e| Outcome::Fail(format!("inspect: {e:#}")))?;
    Ok((exe, needs))
}

/// A program built without -fsplit-stack gains no GLIBC_2.44 dependency and
/// runs on every old glibc.
fn plain_program_needs_no_new_glibc(p: &Probe) -> CheckResult {
    let id = "refusal/plain-program-runs";
    let title = format!(
        "a program without -fsplit-stack needs no {} and runs on old glibc",
        abi::VERSION_NODE
    );
    let (exe, needs) = match build_and_inspect(p, "plain", PLAIN_SRC) {
        Ok(x) => x,
        Err(o) => return result(id, &title, o),
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

/// Runs `exe` on every old sysroot, lazily and with LD_BIND_NOW=1, and
/// checks that the loader refuses it before any of its code runs.
fn refused_everywhere(p: &Probe, exe: &std::path::Path) -> Result<String, String> {
    if p.tc.old_sysroots.is_empty() {
        return Err("no old glibc sysroot given (--old-sysroot)".into());
    }
    let mut seen = Vec::new();
    for s in &p.tc.old_sysroots {
        for (mode, env) in [
            ("lazy", &[][..]),
            ("LD_BIND_NOW=1", &[("LD_BIND_NOW", "1")][..]),
        ] {
            let r = p.run(exe, s, env).map_err(|e| format!("run: {e:#}"))?;
            let refused_msg = r
                .stderr
                .contains(&format!("`{}' not found", abi::VERSION_NODE))
                || r.stderr.contains("symbol lookup error");
            if r.ok() || !refused_msg || !r.stdout.is_empty() {
                return Err(format!(
                    "{} ({mode}): not refused as required: exit {:?}, stdout {:?}, stderr {:?}",
                    s.display(),
                    r.code,
                    r.stdout,
                    r.stderr.trim()
                ));
            }
            seen.push(format!("{} ({mode})", s.display()));
        }
    }
    Ok(seen.join(", "))
}

/// A program that references `__tcb_private_ss` needs GLIBC_2.44, runs on
/// the glibc under test, and is refused by every old glibc.
fn symbol_needs_new_glibc(p: &Probe) -> CheckResult {
    let id = "refusal/symbol-needs-2.44";
    let title = format!(
        "a program using __tcb_private_ss needs {} and old glibc refuses it before its constructors",
        abi::VERSION_NODE
    );
    let (exe, needs) = match build_and_inspect(p, "symbol_ref", SYMBOL_SRC) {
        Ok(x) => x,
        Err(o) => return result(id, &title, o),
    };
    if !needs
        .iter()
        .any(|n| n.file == "libc.so.6" && n.version == abi::VERSION_NODE)
    {
        return result(
            id,
            &title,
            Outcome::Fail(format!(
                "inspect: no {} need on libc.so.6",
                abi::VERSION_NODE
            )),
        );
    }
    let want = format!(
        "constructor ran\n__tcb_private_ss={}\n",
        abi::GUARD_OFFSET_FROM_TP
    );
    match p.run(&exe, &p.tc.sysroot, &[("LD_BIND_NOW", "1")]) {
        Ok(r) if r.ok() && r.stdout == want => {}
        Ok(r) => {
            return result(
                id,
                &title,
                Outcome::Fail(format!(
                    "run on the glibc under test: exit {:?}, stdout {:?}, stderr {:?}",
                    r.code, r.stdout, r.stderr
                )),
            )
        }
        Err(e) => return result(id, &title, Outcome::Fail(format!("run: {e:#}"))),
    }
    let outcome = match refused_everywhere(p, &exe) {
        Ok(seen) => Outcome::Pass(format!(
            "needs {} from libc.so.6; runs on the glibc under test; refused by {seen}",
            abi::VERSION_NODE
        )),
        Err(e) if e.starts_with("no old glibc") => Outcome::Skip(e),
        Err(e) => Outcome::Fail(e),
    };
    result(id, &title, outcome)
}

/// glibc's own statement of the layout: the value of `__tcb_private_ss`
/// in the sysroot's libc.so.6.
fn glibc_symbol_value(p: &Probe) -> CheckResult {
    let id = "tcb/glibc-symbol";
    let title = format!(
        "libc.so.6 exports __tcb_private_ss@@{} = {}",
        abi::VERSION_NODE,
        abi::GUARD_OFFSET_FROM_TP
    );
    let candidates = [
        "lib64/libc.so.6",
        "lib/libc.so.6",
        "lib/aarch64-linux-gnu/libc.so.6",
    ];
    let Some(path) = candidates
        .iter()
        .map(|c| p.tc.sysroot.join(c))
        .find(|c| c.exists())
    else {
        return result(
            id,
            &title,
            Outcome::Fail("no libc.so.6 in the sysroot".into()),
        );
    };
    let outcome = match std::fs::read(&path)
        .map_err(anyhow::Error::from)
        .and_then(|d| crate::elf::dynamic_i64(&d, "__tcb_private_ss"))
    {
        Ok(v) if v == abi::GUARD_OFFSET_FROM_TP => {
            Outcome::Pass(format!("{}: __tcb_private_ss = {v}", path.display()))
        }
        Ok(v) => Outcome::Fail(format!("{}: __tcb_private_ss = {v}", path.display())),
        Err(e) => Outcome::Fail(format!("{}: {e:#}", path.display())),
    };
    result(id, &title, outcome)
}

/// The slot at run time: 0 in the initial thread, a limit below SP in new
/// threads, independent per thread.
fn runtime_slot(p: &Probe, static_link: bool) -> CheckResult {
    let (id, flags): (&str, &[&str]) = if static_link {
        ("tcb/runtime-slot-static", &["-O2", "-pthread", "-static"])
    } else {
        ("tcb/runtime-slot", &["-O2", "-pthread"])
    };
    let title = format!(
        "guard slot at TP{}: 0 in the initial thread, set by glibc in new threads ({})",
        abi::GUARD_OFFSET_FROM_TP,
        if static_link { "static" } else { "dynamic" }
    );
    let src = format!(
        "#define GUARD_OFFSET ({})\n{SLOT_SRC}",
        abi::GUARD_OFFSET_FROM_TP
    );
    let exe = match p.compile(&id.replace('/', "_"), &src, flags) {
        Ok(e) => e,
        Err(e) => return result(id, &title, Outcome::Fail(format!("compile: {e:#}"))),
    };
    let outcome = match p.run(&exe, &p.tc.sysroot, &[]) {
        Ok(r) if r.ok() && r.stdout == "main 0\nthreads ok\n" => Outcome::Pass(
            "initial thread 0; 4 threads with a limit 16 KiB..64 MiB below SP, independent".into(),
        ),
        Ok(r) => Outcome::Fail(format!(
            "run: exit {:?}, stdout {:?}, stderr {:?}",
            r.code, r.stdout, r.stderr
        )),
        Err(e) => Outcome::Fail(format!("run: {e:#}")),
    };
    result(id, &title, outcome)
}

/// A runtime case: a C program from `conformance/cases/`, built with
/// `-fsplit-stack` and the given flags, run under qemu-user on the glibc
/// under test.  It passes only if it exits 0 with exactly `expect` on
/// stdout (each program verifies every value it computes).
pub struct RuntimeCase {
    /// Check identifier in the report.
    pub id: &'static str,
    /// One-line description.
    pub title: &'static str,
    /// The program's file name in `conformance/cases/`.
    pub file: &'static str,
    /// Its source text.
    pub src: &'static str,
    /// Compiler flags besides `-fsplit-stack`.
    pub flags: &'static [&'static str],
    /// The exact expected standard output.
    pub expect: &'static str,
}

const RECURSION_SRC: &str = include_str!("../cases/recursion.c");
const ARGS_SRC: &str = include_str!("../cases/args.c");
const ALLOCA_SRC: &str = include_str!("../cases/alloca.c");

/// The runtime cases, in report order.
pub const RUNTIME_CASES: &[RuntimeCase] = &[
    RuntimeCase {
        id: "runtime/deep-recursion",
        title: "deep recursion on small stacks, initial thread and 64 KiB threads",
        file: "recursion.c",
        src: RECURSION_SRC,
        flags: &["-O2", "-pthread"],
        expect: "recursion ok\n",
    },
    RuntimeCase {
        id: "runtime/deep-recursion-O0",
        title: "deep recursion on small stacks at -O0",
        file: "recursion.c",
        src: RECURSION_SRC,
        flags: &["-O0", "-pthread"],
        expect: "recursion ok\n",
    },
    RuntimeCase {
        id: "runtime/static-pthread",
        title: "deep recursion in threads of a -static -pthread program",
        file: "recursion.c",
        src: RECURSION_SRC,
        flags: &["-O2", "-static", "-pthread"],
        expect: "recursion ok\n",
    },
    RuntimeCase {
        id: "runtime/arguments",
        title: "stack, FP, HFA and variadic arguments and struct returns across __morestack",
        file: "args.c",
        src: ARGS_SRC,
        flags: &["-O2"],
        expect: "args ok 1\n",
    },
    RuntimeCase {
        id: "runtime/arguments-O0",
        title: "arguments across __morestack at -O0",
        file: "args.c",
        src: ARGS_SRC,
        flags: &["-O0"],
        expect: "args ok 1\n",
    },
    RuntimeCase {
        id: "runtime/alloca",
        title: "VLAs up to 64 KiB at every level of a recursion",
        file: "alloca.c",
        src: ALLOCA_SRC,
        flags: &["-O2"],
        expect: "alloca ok\n",
    },
];

/// Judges a run of a runtime case; split out so that it can be tested.
pub fn judge_run(case: &RuntimeCase, r: &crate::probe::Run) -> Outcome {
    if r.ok() && r.stdout == case.expect {
        Outcome::Pass(format!("{}: {}", case.file, r.stdout.trim()))
    } else {
        Outcome::Fail(format!(
            "run {}: exit {:?}, stdout {:?}, stderr {:?}",
            case.file,
            r.code,
            r.stdout,
            r.stderr.trim()
        ))
    }
}

fn runtime_case(p: &Probe, case: &RuntimeCase) -> CheckResult {
    let mut flags = vec!["-fsplit-stack"];
    flags.extend_from_slice(case.flags);
    let exe = match p.compile(&case.id.replace(['/', '-'], "_"), case.src, &flags) {
        Ok(e) => e,
        Err(e) => {
            return result(
                case.id,
                case.title,
                Outcome::Fail(format!("compile {}: {e:#}", case.file)),
            )
        }
    };
    let outcome = match p.run(&exe, &p.tc.sysroot, &[]) {
        Ok(r) => judge_run(case, &r),
        Err(e) => Outcome::Fail(format!("run: {e:#}")),
    };
    result(case.id, case.title, outcome)
}

const SPLIT_REFUSAL_ID: &str = "refusal/split-program";
const SPLIT_REFUSAL_TITLE: &str =
    "-fsplit-stack programs need GLIBC_2.44 and old glibc refuses them before their constructors";

/// A `-fsplit-stack` program (the recursion case, which has no
/// reference of its own to glibc's symbol) needs GLIBC_2.44 through
/// libgcc's split-stack runtime, and every old glibc refuses it.
fn split_program_refused(p: &Probe) -> CheckResult {
    let (id, title) = (SPLIT_REFUSAL_ID, SPLIT_REFUSAL_TITLE);
    let exe = match p.compile(
        "split_refusal",
        RECURSION_SRC,
        &["-O2", "-fsplit-stack", "-pthread"],
    ) {
        Ok(e) => e,
        Err(e) => return result(id, title, Outcome::Fail(format!("compile: {e:#}"))),
    };
    let needs = match std::fs::read(&exe)
        .map_err(anyhow::Error::from)
        .and_then(|d| needed_versions(&d))
    {
        Ok(n) => n,
        Err(e) => return result(id, title, Outcome::Fail(format!("inspect: {e:#}"))),
    };
    if !needs
        .iter()
        .any(|n| n.file == "libc.so.6" && n.version == abi::VERSION_NODE)
    {
        return result(
            id,
            title,
            Outcome::Fail(format!(
                "inspect: no {} need on libc.so.6",
                abi::VERSION_NODE
            )),
        );
    }
    let outcome = match refused_everywhere(p, &exe) {
        Ok(seen) => Outcome::Pass(format!(
            "needs {} from libc.so.6; refused by {seen}",
            abi::VERSION_NODE
        )),
        Err(e) if e.starts_with("no old glibc") => Outcome::Skip(e),
        Err(e) => Outcome::Fail(e),
    };
    result(id, title, outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::Run;

    fn run(code: Option<i32>, stdout: &str) -> Run {
        Run {
            code,
            stdout: stdout.into(),
            stderr: "qemu: uncaught target signal 11".into(),
        }
    }

    #[test]
    fn a_crashed_case_fails() {
        let case = &RUNTIME_CASES[0];
        let o = judge_run(case, &run(None, ""));
        assert!(
            matches!(o, Outcome::Fail(ref m) if m.contains("signal 11")),
            "{o:?}"
        );
    }

    #[test]
    fn a_case_with_wrong_output_fails() {
        let case = &RUNTIME_CASES[3];
        let o = judge_run(case, &run(Some(0), "args FAILED: depth 3000 errors 1\n"));
        assert!(
            matches!(o, Outcome::Fail(ref m) if m.contains("FAILED")),
            "{o:?}"
        );
        let o = judge_run(case, &run(Some(1), case.expect));
        assert!(matches!(o, Outcome::Fail(_)), "{o:?}");
    }

    #[test]
    fn a_good_case_passes() {
        let case = &RUNTIME_CASES[0];
        let o = judge_run(case, &run(Some(0), case.expect));
        assert!(matches!(o, Outcome::Pass(_)), "{o:?}");
    }

    #[test]
    fn every_case_source_states_what_it_checks() {
        for c in RUNTIME_CASES {
            assert!(c.src.starts_with("/* Checks: "), "{}", c.file);
        }
    }
}
