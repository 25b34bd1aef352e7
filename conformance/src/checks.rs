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
/// A program that refers to `__tcb_private_ss`.  Its constructor writes
/// with `write(2)`, unbuffered, so that a constructor that ran before the
/// loader gave up would show in the output.
const SYMBOL_SRC: &str = r#"#include <stdio.h>
#include <unistd.h>
extern const long int __tcb_private_ss;
__attribute__ ((constructor)) static void
ctor (void)
{
  write (1, "constructor ran\n", 16);
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
#include <unistd.h>
__attribute__ ((constructor)) static void
ctor (void)
{
  write (1, "constructor ran\n", 16);
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
    v.push(crate::threaddb::check(p));
    v.push(plain_program_needs_no_new_glibc(p));
    v.push(symbol_needs_new_glibc(p));
    v.push(glibc_symbol_value(p));
    v.push(runtime_slot(p, false));
    v.push(runtime_slot(p, true));
    // Checks that need a compiler that accepts -fsplit-stack: SKIP
    // otherwise, never PASS.
    let gated = |id: &str, title: &str, check: &dyn Fn() -> CheckResult| {
        if split_ok {
            check()
        } else {
            result(
                id,
                title,
                Outcome::Skip(format!("needs {SPLIT_STACK_ACCEPTED}")),
            )
        }
    };
    for case in RUNTIME_CASES {
        v.push(gated(case.id, case.title, &|| runtime_case(p, case)));
    }
    v.push(gated(DLCLOSE_ID, DLCLOSE_TITLE, &|| runtime_dlclose(p)));
    v.push(gated(SPLIT_REFUSAL_ID, SPLIT_REFUSAL_TITLE, &|| {
        split_program_refused(p)
    }));
    let gcc_offsets = std::cell::RefCell::new(Vec::new());
    v.push(gated(PROLOGUE_ID, PROLOGUE_TITLE, &|| {
        let (r, offsets) = prologue_layout(p);
        *gcc_offsets.borrow_mut() = offsets;
        r
    }));
    v.push(gated(NOTES_ID, NOTES_TITLE, &|| notes(p)));
    v.push(gated(LINKER_ID, LINKER_TITLE, &|| linker_non_split(p)));
    v.push(gated(HELPERS_ID, HELPERS_TITLE, &|| {
        linker_stack_free_helpers(p)
    }));
    v.push(gated(GUARD_OFFSET_ID, GUARD_OFFSET_TITLE, &|| {
        guard_offset_four_ways(p, &gcc_offsets.borrow())
    }));
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

/// A program built without -fsplit-stack gains no GLIBC_ABI_SPLIT_STACK dependency and
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
                .contains(&format!("`{}' not found", abi::VERSION_NODE));
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

/// A program that references `__tcb_private_ss` needs GLIBC_ABI_SPLIT_STACK, runs on
/// the glibc under test, and is refused by every old glibc.
fn symbol_needs_new_glibc(p: &Probe) -> CheckResult {
    let id = "refusal/symbol-needs-abi-node";
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
const SIGNALS_SRC: &str = include_str!("../cases/signals.c");
const COROUTINES_SRC: &str = include_str!("../cases/coroutines.c");
const UNWIND_SRC: &str = include_str!("../cases/unwind.c");
const IPA_RA_SRC: &str = include_str!("../cases/ipa_ra.c");
const LONGJMP_SRC: &str = include_str!("../cases/longjmp.c");

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
        id: "runtime/signals",
        title: "a 1 ms timer signal interrupts deep recursion across segments",
        file: "signals.c",
        src: SIGNALS_SRC,
        flags: &["-O2"],
        expect: "signals ok\n",
    },
    RuntimeCase {
        id: "runtime/coroutines",
        title: "64 coroutines on __splitstack_makecontext stacks, suspended mid-recursion",
        file: "coroutines.c",
        src: COROUTINES_SRC,
        flags: &["-O2"],
        expect: "coroutines ok\n",
    },
    RuntimeCase {
        id: "runtime/unwind",
        title: "backtraces and forced unwinding (pthread_exit) through __morestack frames",
        file: "unwind.c",
        src: UNWIND_SRC,
        flags: &["-O2", "-fexceptions", "-pthread"],
        expect: "unwind ok\n",
    },
    RuntimeCase {
        id: "runtime/unwind-static",
        title: "the same in a -static program (gold: unwind tables via PT_GNU_EH_FRAME)",
        file: "unwind.c",
        src: UNWIND_SRC,
        flags: &["-O2", "-fexceptions", "-static", "-pthread"],
        expect: "unwind ok\n",
    },
    RuntimeCase {
        id: "runtime/ipa-ra",
        title: "callers keep nothing but x0-x7/q0-q7 across calls that return through __morestack (-O2 -fipa-ra)",
        file: "ipa_ra.c",
        src: IPA_RA_SRC,
        flags: &["-O2", "-fipa-ra"],
        expect: "ipa-ra ok\n",
    },
    RuntimeCase {
        id: "runtime/ipa-ra-O3",
        title: "the same at -O3",
        file: "ipa_ra.c",
        src: IPA_RA_SRC,
        flags: &["-O3"],
        expect: "ipa-ra ok\n",
    },
    RuntimeCase {
        id: "runtime/longjmp-fortify",
        title: "longjmp out of deep recursion across segments with _FORTIFY_SOURCE=2 (__longjmp_chk)",
        file: "longjmp.c",
        src: LONGJMP_SRC,
        flags: &["-O2", "-D_FORTIFY_SOURCE=2", "-pthread"],
        expect: "longjmp ok\n",
    },
    RuntimeCase {
        id: "runtime/hardened",
        title: "the same under distribution hardening flags (PIE, relro/now, stack protector, stack clash, branch protection)",
        file: "longjmp.c",
        src: LONGJMP_SRC,
        flags: &[
            "-O2",
            "-D_FORTIFY_SOURCE=3",
            "-fstack-protector-strong",
            "-fstack-clash-protection",
            "-mbranch-protection=standard",
            "-fPIE",
            "-pie",
            "-Wl,-z,relro,-z,now",
            "-pthread",
        ],
        expect: "longjmp ok\n",
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

const DLCLOSE_ID: &str = "runtime/dlclose";
const DLCLOSE_TITLE: &str =
    "a split-stack DSO stays loaded after dlclose (-z nodelete); a thread whose segments its runtime allocated exits cleanly";
const DLCLOSE_SRC: &str = include_str!("../cases/dlclose.c");
const DLCLOSE_LIB_SRC: &str = include_str!("../cases/dlclose_lib.c");

/// `conformance/cases/dlclose_lib.c` built as a split-stack shared
/// library `dlclose_lib.so` beside `cases/dlclose.c` (not split-stack),
/// which runs the library on a 128 KiB thread, calls `dlclose`, requires
/// the library to stay loaded (docs/abi.md, 5.8: split-stack shared
/// libraries are linked `-z nodelete`) and lets the thread exit.  Passes
/// only if the program prints exactly "dlclose ok".
fn runtime_dlclose(p: &Probe) -> CheckResult {
    let (id, title) = (DLCLOSE_ID, DLCLOSE_TITLE);
    let lib = p.compile(
        "dlclose_lib.so",
        DLCLOSE_LIB_SRC,
        &["-O2", "-fsplit-stack", "-fPIC", "-shared"],
    );
    let exe = p.compile("dlclose", DLCLOSE_SRC, &["-O2", "-pthread"]);
    let exe = match (lib, exe) {
        (Ok(_), Ok(e)) => e,
        (Err(e), _) | (_, Err(e)) => {
            return result(id, title, Outcome::Fail(format!("compile: {e:#}")))
        }
    };
    let run = p.run(&exe, &p.tc.sysroot, &[]);
    let outcome = judge_output(run, "dlclose ok\n", "dlclose ok".into(), "run dlclose.c");
    result(id, title, outcome)
}

/// Judges a program run: PASS with `pass` if it exited 0 printing exactly
/// `expect`, otherwise FAIL naming `what`, the exit status and the output.
fn judge_output(
    run: anyhow::Result<crate::probe::Run>,
    expect: &str,
    pass: String,
    what: &str,
) -> Outcome {
    match run {
        Ok(r) if r.ok() && r.stdout == expect => Outcome::Pass(pass),
        Ok(r) => Outcome::Fail(format!(
            "{what}: exit {:?}, stdout {:?}, stderr {:?}",
            r.code,
            r.stdout,
            r.stderr.trim()
        )),
        Err(e) => Outcome::Fail(format!("run: {e:#}")),
    }
}

const SPLIT_REFUSAL_ID: &str = "refusal/split-program";
const SPLIT_REFUSAL_TITLE: &str =
    "-fsplit-stack programs need GLIBC_ABI_SPLIT_STACK and old glibc refuses them before their constructors";

/// A `-fsplit-stack` program (the recursion case, which has no
/// reference of its own to glibc's symbol) needs GLIBC_ABI_SPLIT_STACK through
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

const PROLOGUE_SRC: &str = include_str!("../cases/prologue.c");
const PROLOGUE_ID: &str = "prologue/layout";
const PROLOGUE_TITLE: &str = "prologues match the forms of docs/abi.md, per frame class";

/// What a corpus function's prologue must look like.
#[derive(Debug, Clone, Copy)]
pub enum Expect {
    /// No split-stack check (no_split_stack, or no stack and no calls);
    /// at -O0 the function may get a small-form check for its spills.
    NoCheck,
    /// The given form, asking for at least `min_bytes`, with or without
    /// the argument pointer.
    Form {
        form: &'static str,
        min_bytes: u64,
        arg_pointer: bool,
    },
}

/// Expected prologue per function of `conformance/cases/prologue.c`.
pub const PROLOGUE_CORPUS: &[(&str, Expect)] = &[
    ("frame_none", Expect::NoCheck),
    (
        "frame_16",
        Expect::Form {
            form: "S",
            min_bytes: 16,
            arg_pointer: false,
        },
    ),
    (
        "tail_call",
        Expect::Form {
            form: "S",
            min_bytes: 0,
            arg_pointer: false,
        },
    ),
    (
        "frame_256",
        Expect::Form {
            form: "S",
            min_bytes: 256,
            arg_pointer: false,
        },
    ),
    (
        "frame_4k",
        Expect::Form {
            form: "L",
            min_bytes: 4096,
            arg_pointer: false,
        },
    ),
    (
        "frame_64k",
        Expect::Form {
            form: "L",
            min_bytes: 65536,
            arg_pointer: false,
        },
    ),
    (
        "frame_1m",
        Expect::Form {
            form: "L",
            min_bytes: 1 << 20,
            arg_pointer: false,
        },
    ),
    (
        "frame_16m",
        Expect::Form {
            form: "H",
            min_bytes: 16 << 20,
            arg_pointer: false,
        },
    ),
    (
        "frame_64m",
        Expect::Form {
            form: "H",
            min_bytes: 64 << 20,
            arg_pointer: false,
        },
    ),
    (
        "leaf_512",
        Expect::Form {
            form: "S",
            min_bytes: 512,
            arg_pointer: false,
        },
    ),
    (
        "stack_args",
        Expect::Form {
            form: "S",
            min_bytes: 64,
            arg_pointer: true,
        },
    ),
    (
        "varargs",
        Expect::Form {
            form: "S",
            min_bytes: 64,
            arg_pointer: true,
        },
    ),
    (
        "dynamic_alloca",
        Expect::Form {
            form: "S",
            min_bytes: 16,
            arg_pointer: false,
        },
    ),
    ("not_split", Expect::NoCheck),
];

/// Option sets the corpus is compiled with.
const PROLOGUE_OPTIONS: &[&[&str]] = &[
    &["-O2"],
    &["-O0"],
    &["-Os"],
    &["-O2", "-fPIC"],
    &["-O2", "-mbranch-protection=standard"],
    &["-O1", "-mcmodel=tiny"],
];

/// Checks one function against its expectation; returns the decoded fast
/// path (None if it correctly has no check).
pub fn judge_function(
    f: &crate::elf::ObjectFunction,
    expect: Expect,
    optimized: bool,
    bti: bool,
) -> Result<Option<crate::prologue::FastPath>, String> {
    use crate::prologue::{check_cold_block, parse_fast_path, FrameForm};
    let has_check = f
        .code
        .chunks(4)
        .take(3)
        .any(|w| w == 0xd53bd049u32.to_le_bytes())
        || !f.morestack_relocs.is_empty();
    match expect {
        Expect::NoCheck if !has_check => return Ok(None),
        Expect::NoCheck if optimized => {
            return Err(format!(
                "{}: has a split-stack check, expected none",
                f.name
            ))
        }
        _ => {}
    }
    let fp = parse_fast_path(&f.code).map_err(|e| format!("{}: {e}", f.name))?;
    if f.morestack_relocs.len() != 1 {
        return Err(format!(
            "{}: {} branches to __morestack, expected exactly one (in the cold block)",
            f.name,
            f.morestack_relocs.len()
        ));
    }
    let small = check_cold_block(&f.code, fp.cold_at, fp.form, |at| {
        f.morestack_relocs.contains(&at)
    })
    .map_err(|e| format!("{}: cold block: {e}", f.name))?;
    let requested = match fp.form {
        FrameForm::Small => small.unwrap_or(0),
        FrameForm::Sub { pages } => u64::from(pages) * 4096,
        FrameForm::MovzMovk { bytes } => bytes,
    };
    if bti && !fp.bti {
        return Err(format!(
            "{}: no `bti c` at the entry with BTI enabled",
            f.name
        ));
    }
    if let Expect::Form {
        form,
        min_bytes,
        arg_pointer,
    } = expect
    {
        if fp.form.name() != form {
            return Err(format!(
                "{}: form {} (requests {requested} bytes), expected form {form}",
                f.name,
                fp.form.name()
            ));
        }
        if requested < min_bytes {
            return Err(format!(
                "{}: requests {requested} bytes, but its frame is at least {min_bytes}",
                f.name
            ));
        }
        if arg_pointer && !fp.arg_pointer {
            return Err(format!(
                "{}: has stack arguments but sets no argument pointer (mov x14, sp)",
                f.name
            ));
        }
    }
    Ok(Some(fp))
}

/// The prologue layout check; also returns the guard offsets decoded from
/// GCC's code, for the four-way offset check.
fn prologue_layout(p: &Probe) -> (CheckResult, Vec<i64>) {
    let (id, title) = (PROLOGUE_ID, PROLOGUE_TITLE);
    let mut errors = Vec::new();
    let mut offsets = Vec::new();
    let mut max_count: std::collections::BTreeMap<&str, usize> = Default::default();
    let mut checked = 0usize;
    for (k, opts) in PROLOGUE_OPTIONS.iter().enumerate() {
        let mut flags = vec!["-fsplit-stack", "-c"];
        flags.extend_from_slice(opts);
        let obj = match p.compile(&format!("prologue_{k}.o"), PROLOGUE_SRC, &flags) {
            Ok(o) => o,
            Err(e) => {
                return (
                    result(id, title, Outcome::Fail(format!("compile: {e:#}"))),
                    offsets,
                )
            }
        };
        let funcs = match std::fs::read(&obj)
            .map_err(anyhow::Error::from)
            .and_then(|d| crate::elf::functions(&d, "__morestack"))
        {
            Ok(f) => f,
            Err(e) => {
                return (
                    result(id, title, Outcome::Fail(format!("inspect: {e:#}"))),
                    offsets,
                )
            }
        };
        let optimized = !opts.contains(&"-O0");
        let bti = opts.iter().any(|o| o.starts_with("-mbranch-protection"));
        for (name, expect) in PROLOGUE_CORPUS {
            let Some(f) = funcs.iter().find(|f| f.name == *name) else {
                errors.push(format!(
                    "[{}] {name}: not found in the object",
                    opts.join(" ")
                ));
                continue;
            };
            checked += 1;
            match judge_function(f, *expect, optimized, bti) {
                Ok(Some(fp)) => {
                    offsets.push(fp.guard_offset);
                    let base = fp.instructions - usize::from(fp.arg_pointer);
                    let e = max_count.entry(fp.form.name()).or_default();
                    *e = (*e).max(base);
                }
                Ok(None) => {}
                Err(e) => errors.push(format!("[{}] {e}", opts.join(" "))),
            }
        }
    }
    let outcome = if errors.is_empty() {
        let counts: Vec<String> = max_count.iter().map(|(f, n)| format!("{f} {n}")).collect();
        Outcome::Pass(format!(
            "{checked} functions under {} option sets; fast-path instructions (excluding bti, and the mov x14 of functions with stack arguments): {}",
            PROLOGUE_OPTIONS.len(),
            counts.join(", ")
        ))
    } else {
        Outcome::Fail(errors.join("\n"))
    };
    (result(id, title, outcome), offsets)
}

const GUARD_OFFSET_ID: &str = "tcb/guard-offset";
const GUARD_OFFSET_TITLE: &str =
    "glibc, GCC's code, libgcc and the running program agree on the guard at TP-8";

/// Reads the guard of the initial thread after libgcc's constructor ran.
const GUARD_PROBE_SRC: &str = include_str!("../cases/guard.c");

/// Decodes `mrs x9, tpidr_el0` followed by `ldur`/`stur` of x0 at
/// [x9, #off] (skipping a leading `bti c`); returns `off` in bytes.
pub fn guard_access_offset(code: &[u8]) -> Result<i64, String> {
    use yaxpeax_arch::{Decoder, U8Reader};
    use yaxpeax_arm::armv8::a64::{InstDecoder, Opcode, Operand};
    let d = InstDecoder::default();
    let mut insns = Vec::new();
    for w in code.chunks(4).take(4) {
        let mut r = U8Reader::new(w);
        insns.push(d.decode(&mut r).map_err(|e| format!("{e:?}"))?);
    }
    let mut it = insns.iter().skip_while(|i| i.opcode == Opcode::HINT);
    let mrs = it.next().ok_or("empty function")?;
    if mrs.opcode != Opcode::MRS
        || !matches!(
            mrs.operands[1],
            Operand::SystemReg(crate::prologue::TPIDR_EL0)
        )
    {
        return Err(format!("`{mrs}`, expected mrs xN, tpidr_el0"));
    }
    let acc = it.next().ok_or("function too short")?;
    match (acc.opcode, &acc.operands[1]) {
        (
            Opcode::LDUR | Opcode::STUR | Opcode::LDR | Opcode::STR,
            Operand::RegPreIndex(_, off, false),
        ) => Ok(i64::from(*off)),
        _ => Err(format!("`{acc}`, expected ldur/stur x0, [xN, #off]")),
    }
}

fn libgcc_offsets(p: &Probe) -> Result<Vec<(String, i64)>, String> {
    use object::read::archive::ArchiveFile;
    let out = std::process::Command::new(&p.tc.gcc)
        .arg("-print-libgcc-file-name")
        .output()
        .map_err(|e| format!("cannot run {}: {e}", p.tc.gcc.display()))?;
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let data = std::fs::read(&path).map_err(|e| format!("{path}: {e}"))?;
    let ar = ArchiveFile::parse(&*data).map_err(|e| format!("{path}: {e}"))?;
    for m in ar.members() {
        let m = m.map_err(|e| format!("{path}: {e}"))?;
        if m.name() != b"morestack.o" {
            continue;
        }
        let bytes = m.data(&*data).map_err(|e| format!("{path}: {e}"))?;
        let funcs = crate::elf::functions(bytes, "__morestack").map_err(|e| format!("{e:#}"))?;
        let mut v = Vec::new();
        for name in ["__morestack_get_guard", "__morestack_set_guard"] {
            let f = funcs
                .iter()
                .find(|f| f.name == name)
                .ok_or_else(|| format!("{path}: morestack.o has no {name}"))?;
            v.push((
                name.to_string(),
                guard_access_offset(&f.code).map_err(|e| format!("{name}: {e}"))?,
            ));
        }
        return Ok(v);
    }
    Err(format!(
        "{path} has no morestack.o: the split-stack runtime is missing from libgcc"
    ))
}

fn guard_offset_four_ways(p: &Probe, gcc: &[i64]) -> CheckResult {
    let (id, title) = (GUARD_OFFSET_ID, GUARD_OFFSET_TITLE);
    let want = abi::GUARD_OFFSET_FROM_TP;
    let mut found = Vec::new();
    // 1. glibc: the value of the exported __tcb_private_ss.
    let libc = [
        "lib64/libc.so.6",
        "lib/libc.so.6",
        "lib/aarch64-linux-gnu/libc.so.6",
    ]
    .iter()
    .map(|c| p.tc.sysroot.join(c))
    .find(|c| c.exists());
    match libc.map(|l| {
        std::fs::read(l)
            .map_err(anyhow::Error::from)
            .and_then(|d| crate::elf::dynamic_i64(&d, "__tcb_private_ss"))
    }) {
        Some(Ok(v)) if v == want => found.push(format!("glibc __tcb_private_ss = {v}")),
        Some(Ok(v)) => {
            return result(
                id,
                title,
                Outcome::Fail(format!("glibc's __tcb_private_ss is {v}, expected {want}")),
            )
        }
        Some(Err(e)) => return result(id, title, Outcome::Fail(format!("glibc: {e:#}"))),
        None => {
            return result(
                id,
                title,
                Outcome::Fail("no libc.so.6 in the sysroot".into()),
            )
        }
    }
    // 2. GCC: the ldur immediates of the decoded prologues.
    if gcc.is_empty() {
        return result(
            id,
            title,
            Outcome::Fail(
                "no decoded prologue to read GCC's offset from (see prologue/layout)".into(),
            ),
        );
    }
    if let Some(bad) = gcc.iter().find(|&&o| o != want) {
        return result(
            id,
            title,
            Outcome::Fail(format!("GCC's prologue loads the guard at TP{bad:+}")),
        );
    }
    found.push(format!("GCC ldur #{want} in {} prologues", gcc.len()));
    // 3. libgcc: __morestack_get_guard / __morestack_set_guard, decoded.
    match libgcc_offsets(p) {
        Ok(v) => {
            if let Some((n, o)) = v.iter().find(|(_, o)| *o != want) {
                return result(
                    id,
                    title,
                    Outcome::Fail(format!("libgcc {n} accesses TP{o:+}")),
                );
            }
            found.push(format!(
                "libgcc {} at #{want}",
                v.iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join("/")
            ));
        }
        Err(e) => return result(id, title, Outcome::Fail(format!("libgcc: {e}"))),
    }
    // 4. Run time: libgcc's constructor set the guard of the initial thread
    // at TP-8 a little below SP.
    let exe = match p.compile("guard_probe", GUARD_PROBE_SRC, &["-O2", "-fsplit-stack"]) {
        Ok(e) => e,
        Err(e) => return result(id, title, Outcome::Fail(format!("compile guard.c: {e:#}"))),
    };
    match p.run(&exe, &p.tc.sysroot, &[]) {
        Ok(r) if r.ok() && r.stdout.starts_with("guard ok") => {
            found.push(format!("run time: {}", r.stdout.trim()))
        }
        Ok(r) => {
            return result(
                id,
                title,
                Outcome::Fail(format!(
                    "run guard.c: exit {:?}, stdout {:?}, stderr {:?}",
                    r.code,
                    r.stdout,
                    r.stderr.trim()
                )),
            )
        }
        Err(e) => return result(id, title, Outcome::Fail(format!("run: {e:#}"))),
    }
    result(id, title, Outcome::Pass(format!("{} (glibc from its exported symbol, read with object; GCC and libgcc decoded with yaxpeax-arm)", found.join("; "))))
}

const NOTES_ID: &str = "notes/split-stack";
const NOTES_TITLE: &str =
    "objects carry .note.GNU-split-stack, and .note.GNU-no-split-stack when they have no_split_stack functions";

/// Names of the sections of an object file.
fn section_names(path: &std::path::Path) -> Result<Vec<String>, String> {
    use object::{Object, ObjectSection};
    let data = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let file = object::File::parse(&*data).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(file
        .sections()
        .filter_map(|s| s.name().ok().map(str::to_string))
        .collect())
}

/// Judges the notes of a split-stack object with only split functions
/// (`plain`) and one with a `no_split_stack` function (`mixed`).
pub fn judge_notes(plain: &[String], mixed: &[String]) -> Outcome {
    let has = |v: &[String], n: &str| v.iter().any(|s| s == n);
    let (split, nosplit) = (".note.GNU-split-stack", ".note.GNU-no-split-stack");
    if !has(plain, split) || !has(mixed, split) {
        return Outcome::Fail(format!("a -fsplit-stack object lacks {split}"));
    }
    if has(plain, nosplit) {
        return Outcome::Fail(format!(
            "an object without no_split_stack functions has {nosplit}"
        ));
    }
    if !has(mixed, nosplit) {
        return Outcome::Fail(format!(
            "an object with a no_split_stack function lacks {nosplit}"
        ));
    }
    Outcome::Pass(format!(
        "{split} in both objects; {nosplit} only in the one with a no_split_stack function"
    ))
}

fn notes(p: &Probe) -> CheckResult {
    let (id, title) = (NOTES_ID, NOTES_TITLE);
    let build = |name: &str, src: &str| {
        p.compile(name, src, &["-O2", "-fsplit-stack", "-c"])
            .map_err(|e| format!("compile: {e:#}"))
            .and_then(|o| section_names(&o))
    };
    let plain = build("notes_plain.o", PROBE_SRC);
    let mixed = build(
        "notes_mixed.o",
        &format!("{PROBE_SRC}__attribute__ ((no_split_stack)) int g (int x) {{ return f (x); }}\n"),
    );
    let outcome = match (plain, mixed) {
        (Ok(a), Ok(b)) => judge_notes(&a, &b),
        (Err(e), _) | (_, Err(e)) => Outcome::Fail(e),
    };
    result(id, title, outcome)
}

const LINKER_ID: &str = "linker/non-split-calls";
const LINKER_TITLE: &str =
    "gold rewrites prologues that call non-split code (adjusted frame, __morestack_non_split) and the program runs";
const LINKER_CALLER_SRC: &str = include_str!("../cases/linker_caller.c");
const LINKER_CALLEE_SRC: &str = include_str!("../cases/linker_callee.c");

/// Reads a linked executable: its bytes and the address of each of its
/// symbols, by name.  Errors: the file cannot be read or is not ELF.
fn read_linked(
    exe: &std::path::Path,
) -> Result<(Vec<u8>, std::collections::HashMap<String, u64>), String> {
    use object::{Object, ObjectSymbol};
    let data = std::fs::read(exe).map_err(|e| format!("read: {e}"))?;
    let file = object::File::parse(&*data).map_err(|_| "linked file is not ELF".to_string())?;
    let symbols = file
        .symbols()
        .filter_map(|s| Some((s.name().ok()?.to_string(), s.address())))
        .collect();
    Ok((data, symbols))
}

/// Decodes the instruction at byte offset `at` of `code` (a linked
/// function's bytes).  Errors: `at` outside `code`, or an undecodable word.
fn decode_at(code: &[u8], at: u64) -> Result<yaxpeax_arm::armv8::a64::Instruction, String> {
    use yaxpeax_arch::{Decoder, U8Reader};
    let w = code
        .get(at as usize..at as usize + 4)
        .ok_or_else(|| format!("+{at}: outside the function"))?;
    yaxpeax_arm::armv8::a64::InstDecoder::default()
        .decode(&mut U8Reader::new(w))
        .map_err(|e| format!("+{at}: {e:?}"))
}

/// Checks a function's prologue after gold's rewrite for a call into
/// non-split code (docs/abi.md, section 6, "Rewriting"): in form S the fast
/// path now always takes the cold block (`b.lo` turned into `b`, or the far
/// form's `b.hs` into `nop`) and the cold block's `sub x10, sp, #N` asks for
/// at least `adjust` more bytes than before; in forms L and H the fast path
/// keeps its `b.lo` and asks for at least `adjust` more bytes.  In every form
/// the cold block branches to `__morestack_non_split` at `non_split` (an
/// address in the executable).  `before` and `before_code` are the function
/// before linking, `code` the linked function at address `func_addr`.
/// Returns what changed, or why the rewrite is wrong.
pub fn judge_rewritten(
    before: &crate::prologue::FastPath,
    before_code: &[u8],
    code: &[u8],
    func_addr: u64,
    non_split: u64,
    adjust: u64,
) -> Result<String, String> {
    use crate::prologue::{parse_fast_path, FrameForm};
    use yaxpeax_arm::armv8::a64::Opcode;
    let decode = |at: u64| decode_at(code, at);
    let branch = decode(before.branch_at)?;
    let how = match (before.form, branch.opcode) {
        (FrameForm::Small, Opcode::B | Opcode::HINT) => {
            let was = cold_sub_bytes(before_code, before.cold_at)?;
            let now = cold_sub_bytes(code, before.cold_at)?;
            if now < was + adjust {
                return Err(format!(
                    "the cold block asks for {now} bytes after linking, {was} before: \
                     not raised by {adjust}"
                ));
            }
            format!("b.lo turned into b, cold block raised from {was} to {now} bytes")
        }
        (FrameForm::Small, _) => {
            return Err(format!(
                "+{}: `{branch}` after linking: form S must always take the cold block",
                before.branch_at
            ))
        }
        (_, Opcode::Bcc(_)) => {
            let after = parse_fast_path(code)?;
            let bytes = |f: FrameForm| match f {
                FrameForm::Sub { pages } => u64::from(pages) * 4096,
                FrameForm::MovzMovk { bytes } => bytes,
                FrameForm::Small => 0,
            };
            if bytes(after.form) < bytes(before.form) + adjust {
                return Err(format!(
                    "the fast path asks for {} bytes after linking, {} before: not raised by {adjust}",
                    bytes(after.form),
                    bytes(before.form)
                ));
            }
            format!(
                "frame raised from {} to {} bytes",
                bytes(before.form),
                bytes(after.form)
            )
        }
        _ => {
            return Err(format!(
                "+{}: `{branch}` after linking: forms L and H must keep b.lo and raise the frame",
                before.branch_at
            ))
        }
    };
    let target = cold_block_target(before, code, func_addr)?;
    if target != non_split {
        return Err(format!(
            "the cold block branches to {target:#x}, not __morestack_non_split ({non_split:#x})"
        ));
    }
    Ok(how)
}

/// The bytes that the form S cold block's first instruction, `sub x10, sp,
/// #N` or `sub x10, sp, #N, lsl #12` at byte offset `at` of `code`, asks for
/// (docs/abi.md, sections 5.3 and 6).  Errors: another instruction there.
fn cold_sub_bytes(code: &[u8], at: u64) -> Result<u64, String> {
    use yaxpeax_arm::armv8::a64::{Opcode, Operand};
    let i = decode_at(code, at)?;
    let text = i.to_string();
    let bytes = match i.operands[2] {
        Operand::Immediate(v) => Some(u64::from(v)),
        Operand::ImmShift(v, 0) => Some(u64::from(v)),
        Operand::ImmShift(v, 12) => Some(u64::from(v) << 12),
        _ => None,
    };
    match bytes {
        Some(b) if i.opcode == Opcode::SUB && text.starts_with("sub x10, sp, #") => Ok(b),
        _ => Err(format!(
            "+{at}: `{text}`, expected the cold block's `sub x10, sp, #N`"
        )),
    }
}

/// The target address of the `b` that ends the cold block of the
/// function at `func_addr` whose linked code is `code` and whose fast path
/// before linking was `before`: the branch follows `sub x10` (form S
/// only) and `adrp`/`add` (or `adr` with `-mcmodel=tiny`), docs/abi.md
/// 5.3.  Errors: the words there are not a `b`, or lie outside `code`.
fn cold_block_target(
    before: &crate::prologue::FastPath,
    code: &[u8],
    func_addr: u64,
) -> Result<u64, String> {
    use yaxpeax_arm::armv8::a64::{Opcode, Operand};
    let decode = |at: u64| decode_at(code, at);
    let n = if before.form == crate::prologue::FrameForm::Small {
        3
    } else {
        2
    };
    let mut at = before.cold_at + 4 * n;
    let mut b = decode(at)?;
    if b.opcode != Opcode::B {
        at -= 4;
        b = decode(at)?;
    }
    let Operand::PCOffset(off) = b.operands[0] else {
        return Err(format!("+{at}: `{b}`, expected the cold block's b"));
    };
    Ok((func_addr as i64 + at as i64 + off) as u64)
}

/// Judges a function that calls only split-stack code (here: libgcc's
/// stack-free helpers) after linking: its fast path up to and including
/// the `b.lo` must be the bytes it had before linking (`before_code`,
/// `before`), and the branch that ends the cold block must reach
/// `__morestack` at `morestack`, not `__morestack_non_split`.  `code` is
/// the linked function at address `func_addr`.  Source of the rule:
/// docs/abi.md, section 6 ("Which references count").
pub fn judge_unrewritten(
    before: &crate::prologue::FastPath,
    before_code: &[u8],
    code: &[u8],
    func_addr: u64,
    morestack: u64,
) -> Result<String, String> {
    let end = before.branch_at as usize + 4;
    match (before_code.get(..end), code.get(..end)) {
        (Some(a), Some(b)) if a == b => {}
        (Some(_), Some(_)) => {
            return Err(
                "the fast path was rewritten by the linker, as for a call into \
                        non-split code"
                    .into(),
            )
        }
        _ => return Err("function shorter than its fast path".into()),
    }
    let target = cold_block_target(before, code, func_addr)?;
    if target != morestack {
        return Err(format!(
            "the cold block branches to {target:#x}, not __morestack ({morestack:#x})"
        ));
    }
    Ok("fast path unchanged, cold block branches to __morestack".into())
}

const HELPERS_ID: &str = "linker/stack-free-helpers";
const HELPERS_TITLE: &str =
    "calls to libgcc's stack-free helpers (outline atomics) leave the caller's check as it is";
const ATOMICS_SRC: &str = include_str!("../cases/atomics.c");

/// `bump` in `conformance/cases/atomics.c` calls libgcc's
/// `__aarch64_ldadd8_acq_rel` (`-moutline-atomics`); linked with gold it
/// must keep its check unchanged, and the program must run.
fn linker_stack_free_helpers(p: &Probe) -> CheckResult {
    let (id, title) = (HELPERS_ID, HELPERS_TITLE);
    let fail = |m: String| result(id, title, Outcome::Fail(m));
    let flags = ["-O2", "-fsplit-stack", "-moutline-atomics"];
    let obj = match p.compile("atomics.o", ATOMICS_SRC, &[&flags[..], &["-c"]].concat()) {
        Ok(o) => o,
        Err(e) => return fail(format!("compile: {e:#}")),
    };
    let before = match std::fs::read(&obj)
        .map_err(anyhow::Error::from)
        .and_then(|d| crate::elf::functions(&d, "__morestack"))
    {
        Ok(f) => f,
        Err(e) => return fail(format!("inspect: {e:#}")),
    };
    let Some(bump) = before.iter().find(|f| f.name == "bump") else {
        return fail("no bump in the object".into());
    };
    let fp = match crate::prologue::parse_fast_path(&bump.code) {
        Ok(fp) => fp,
        Err(e) => return fail(format!("bump before linking: {e}")),
    };
    let exe = match p.link("atomics_gold", &[obj], &["-fsplit-stack", "-fuse-ld=gold"]) {
        Ok(e) => e,
        Err(e) => return fail(format!("link with gold: {e:#}")),
    };
    let (data, symbols) = match read_linked(&exe) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let addr = |n: &str| symbols.get(n).copied();
    let (Some(func), Some(morestack)) = (addr("bump"), addr("__morestack")) else {
        return fail("bump or __morestack missing from the executable".into());
    };
    if addr("__aarch64_ldadd8_acq_rel").is_none() {
        // A compiler whose default architecture has LSE inlines the
        // atomic: then there is no call to judge.
        return result(
            id,
            title,
            Outcome::Skip(
                "bump does not call __aarch64_ldadd8_acq_rel (the atomic was inlined): nothing \
                 to check"
                    .into(),
            ),
        );
    }
    let after = match crate::elf::functions(&data, "__morestack") {
        Ok(f) => f,
        Err(e) => return fail(format!("inspect: {e:#}")),
    };
    let Some(linked) = after.iter().find(|f| f.name == "bump") else {
        return fail("bump missing from the executable".into());
    };
    let how = match judge_unrewritten(&fp, &bump.code, &linked.code, func, morestack) {
        Ok(h) => h,
        Err(e) => return fail(format!("bump after linking: {e}")),
    };
    let run = p.run(&exe, &p.tc.sysroot, &[]);
    let outcome = judge_output(
        run,
        "atomics ok\n",
        format!("bump: {how}; runs"),
        &format!("{how}; run"),
    );
    result(id, title, outcome)
}

/// Judges every function in `names` of the executable `exe` with
/// [`judge_rewritten`], against its prologue before linking (`before`,
/// same order) and the adjust size `adjust` (bytes).  Returns one line per
/// function, or the first error.
fn judge_linked(
    exe: &std::path::Path,
    names: &[&str],
    before: &[(crate::prologue::FastPath, Vec<u8>)],
    adjust: u64,
) -> Result<Vec<String>, String> {
    let (data, symbols) = read_linked(exe)?;
    let non_split = symbols
        .get("__morestack_non_split")
        .copied()
        .ok_or("__morestack_non_split missing from the executable")?;
    let funcs =
        crate::elf::functions(&data, "__morestack").map_err(|e| format!("inspect: {e:#}"))?;
    let mut hows = Vec::new();
    for (n, (fp, code)) in names.iter().zip(before) {
        let (Some(func), Some(f)) = (
            symbols.get(*n).copied(),
            funcs.iter().find(|f| f.name == *n),
        ) else {
            return Err(format!("{n} missing from the executable"));
        };
        let h = judge_rewritten(fp, code, &f.code, func, non_split, adjust)
            .map_err(|e| format!("{n} after linking: {e}"))?;
        hows.push(format!("{n} ({}): {h}", fp.form.name()));
    }
    Ok(hows)
}

fn linker_non_split(p: &Probe) -> CheckResult {
    let (id, title) = (LINKER_ID, LINKER_TITLE);
    let fail = |m: String| result(id, title, Outcome::Fail(m));
    let caller = p.compile(
        "linker_caller.o",
        LINKER_CALLER_SRC,
        &["-O2", "-fsplit-stack", "-c"],
    );
    let callee = p.compile("linker_callee.o", LINKER_CALLEE_SRC, &["-O2", "-c"]);
    let (caller, callee) = match (caller, callee) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return fail(format!("compile: {e:#}")),
    };
    // The callers, one per prologue form, and their prologues before linking.
    let names = [
        "split_caller",
        "split_caller_l",
        "split_caller_h",
        "address_of_non_split",
        // In .text.startup at -O2, and calls printf.
        "main",
    ];
    let before_funcs = match std::fs::read(&caller)
        .map_err(anyhow::Error::from)
        .and_then(|d| crate::elf::functions(&d, "__morestack"))
    {
        Ok(f) => f,
        Err(e) => return fail(format!("inspect: {e:#}")),
    };
    let mut before = Vec::new();
    for n in names {
        let Some(f) = before_funcs.iter().find(|f| f.name == n) else {
            return fail(format!("no {n} in the object"));
        };
        match crate::prologue::parse_fast_path(&f.code) {
            Ok(fp) => before.push((fp, f.code.clone())),
            Err(e) => return fail(format!("{n} before linking: {e}")),
        }
    }
    let exe = match p.link(
        "linker_gold",
        &[caller.clone(), callee.clone()],
        &["-fsplit-stack", "-fuse-ld=gold"],
    ) {
        Ok(e) => e,
        Err(e) => {
            let msg = format!("{e:#}");
            let line = msg
                .lines()
                .find(|l| l.contains("error"))
                .unwrap_or("link failed")
                .trim()
                .to_string();
            return fail(format!("link with gold: {line}"));
        }
    };
    let mut hows = match judge_linked(&exe, &names, &before, 0x100000) {
        Ok(h) => h,
        Err(e) => return fail(e),
    };
    // A custom --split-stack-adjust-size is honoured by every form.
    let custom = 0x300000u64;
    let adjust_flag = format!("-Wl,--split-stack-adjust-size={custom:#x}");
    match p
        .link(
            "linker_gold_adjust",
            &[caller.clone(), callee.clone()],
            &["-fsplit-stack", "-fuse-ld=gold", &adjust_flag],
        )
        .map_err(|e| format!("{e:#}"))
        .and_then(|exe| judge_linked(&exe, &names, &before, custom))
    {
        Ok(_) => hows.push(format!(
            "--split-stack-adjust-size={custom:#x} honoured by every form"
        )),
        Err(e) => return fail(format!("custom adjust size: {e}")),
    }
    // The rewrite does not depend on the link order, the stub grouping or
    // the output section: gold turns the last code section of every stub
    // group into a relaxed section (docs/abi.md, section 6, "When"); with
    // -z keep-text-section-prefix, main's .text.startup is alone in its
    // output section.
    let variants: [(&str, bool, &[&str]); 4] = [
        (
            "-z keep-text-section-prefix",
            false,
            &["-Wl,-z,keep-text-section-prefix"],
        ),
        ("callee first", true, &[]),
        ("--stub-group-size=4", false, &["-Wl,--stub-group-size=4"]),
        (
            "callee first, --stub-group-size=4",
            true,
            &["-Wl,--stub-group-size=4"],
        ),
    ];
    for (i, (what, swap, flags)) in variants.iter().enumerate() {
        let objs = if *swap {
            [callee.clone(), caller.clone()]
        } else {
            [caller.clone(), callee.clone()]
        };
        let all_flags = [&["-fsplit-stack", "-fuse-ld=gold"][..], flags].concat();
        if let Err(e) = p
            .link(&format!("linker_gold_order{i}"), &objs, &all_flags)
            .map_err(|e| format!("{e:#}"))
            .and_then(|exe| judge_linked(&exe, &names, &before, 0x100000))
        {
            return fail(format!("{what}: {e}"));
        }
    }
    hows.push(
        "the same with the callee first, with --stub-group-size=4 and with \
         -z keep-text-section-prefix"
            .into(),
    );
    let how = hows.join("; ");
    let run = p.run(&exe, &p.tc.sysroot, &[]);
    let outcome = judge_output(
        run,
        "linker ok\n",
        format!("{how}; runs"),
        &format!("{how}; run"),
    );
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
    fn notes_checker_fails_on_missing_or_extra_notes() {
        let v = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let split = ".note.GNU-split-stack";
        let nosplit = ".note.GNU-no-split-stack";
        assert!(matches!(
            judge_notes(&v(&[split]), &v(&[split, nosplit])),
            Outcome::Pass(_)
        ));
        assert!(
            matches!(judge_notes(&v(&[]), &v(&[split, nosplit])), Outcome::Fail(ref m) if m.contains("lacks"))
        );
        assert!(matches!(
            judge_notes(&v(&[split, nosplit]), &v(&[split, nosplit])),
            Outcome::Fail(_)
        ));
        assert!(matches!(
            judge_notes(&v(&[split]), &v(&[split])),
            Outcome::Fail(_)
        ));
    }

    /// A form S prologue: mrs; ldur; cmp sp, x9; b.lo +4; then the cold
    /// block: sub x10, sp, #272; adrp x12; add x12; and `cold_branch`.
    fn s_form(cold_branch: u32) -> [u32; 8] {
        [
            0xd53bd049,
            0xf85f8129,
            0xeb2963ff,
            0x54000023,
            0xd10443ea,
            0x9000000c,
            0x9100018c,
            cold_branch,
        ]
    }

    #[test]
    fn a_prologue_left_unchanged_by_the_linker_fails() {
        // b +0x100 (not __morestack_non_split)
        let words = s_form(0x14000040);
        let code: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        let before = crate::prologue::parse_fast_path(&code).unwrap();
        let e = judge_rewritten(&before, &code, &code, 0x1000, 0x9000, 0x100000).unwrap_err();
        assert!(e.contains("always take the cold block"), "{e}");
        let bytes = |w: [u32; 8]| -> Vec<u8> { w.iter().flat_map(|w| w.to_le_bytes()).collect() };
        // The branch retargeted, b.lo kept: form S must always branch.
        let mut w2 = words;
        w2[7] = 0x14000000 | ((0x9000 - 0x101c) / 4); // b __morestack_non_split
        let e = judge_rewritten(&before, &code, &bytes(w2), 0x1000, 0x9000, 0x100000).unwrap_err();
        assert!(e.contains("always take the cold block"), "{e}");
        // b.lo turned into b, but the cold block still asks for 272 bytes:
        // the adjust size is not honoured.
        w2[3] = 0x14000001; // b +4
        let e = judge_rewritten(&before, &code, &bytes(w2), 0x1000, 0x9000, 0x100000).unwrap_err();
        assert!(e.contains("not raised"), "{e}");
        // sub x10, sp, #0x101, lsl #12: 272 + 0x100000 bytes, rounded up.
        w2[4] = 0xd14407ea;
        assert!(judge_rewritten(&before, &code, &bytes(w2), 0x1000, 0x9000, 0x100000).is_ok());
        // ... but not for a larger adjust size.
        assert!(judge_rewritten(&before, &code, &bytes(w2), 0x1000, 0x9000, 0x300000).is_err());
    }

    #[test]
    fn a_caller_of_stack_free_helpers_must_stay_unrewritten() {
        // b with its relocation unresolved (0 in the object)
        let words = s_form(0x14000000);
        let obj: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        let before = crate::prologue::parse_fast_path(&obj).unwrap();
        let link = |w: [u32; 8]| -> Vec<u8> { w.iter().flat_map(|w| w.to_le_bytes()).collect() };
        // Linked at 0x1000, the cold block branching to __morestack at 0x8000.
        let mut good = words;
        good[7] = 0x14000000 | ((0x8000 - 0x101c) / 4);
        assert!(judge_unrewritten(&before, &obj, &link(good), 0x1000, 0x8000).is_ok());
        // b.lo turned into b: rewritten as for a non-split callee.
        let mut rewritten = good;
        rewritten[3] = 0x14000001;
        let e = judge_unrewritten(&before, &obj, &link(rewritten), 0x1000, 0x8000).unwrap_err();
        assert!(e.contains("rewritten"), "{e}");
        // A raised frame is a rewrite too.
        let mut raised = good;
        raised[2] = 0xd14403ea; // sub x10, sp, #256, lsl #12
        assert!(judge_unrewritten(&before, &obj, &link(raised), 0x1000, 0x8000).is_err());
        // The cold block sent to another target (__morestack_non_split).
        let mut other = good;
        other[7] = 0x14000000 | ((0x9000 - 0x101c) / 4);
        let e = judge_unrewritten(&before, &obj, &link(other), 0x1000, 0x8000).unwrap_err();
        assert!(e.contains("not __morestack"), "{e}");
        // A linked function shorter than the fast path.
        assert!(judge_unrewritten(&before, &obj, &link(good)[..8], 0x1000, 0x8000).is_err());
    }

    #[test]
    fn every_case_source_states_what_it_checks() {
        for c in RUNTIME_CASES {
            assert!(c.src.starts_with("/* Checks: "), "{}", c.file);
        }
    }
}
