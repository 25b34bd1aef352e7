//! The checks of the suite, one module per family of `docs/abi.md` rules:
//!
//! | family | module | rules (docs/abi.md) |
//! |---|---|---|
//! | `split-stack/` | [`split_stack`] | the compiler accepts `-fsplit-stack` |
//! | `tls/` | [`tls`], [`threaddb`] | section 2, section 1 (pre-TCB block) |
//! | `refusal/` | [`refusal`] | section 3 |
//! | `tcb/` | [`tcb`] | sections 1, 4, 5.1 (guard offset) |
//! | `runtime/` | [`runtime`] | sections 5.3-5.8, 7 |
//! | `prologue/` | [`prologue`] | sections 5.2-5.5 |
//! | `notes/` | [`notes`] | section 5.7 |
//! | `linker/` | [`linker`] | section 6 |
//! | `gccgo/` | [`gccgo`] | docs/gccgo.md (only with a Go driver) |
//!
//! Every family exposes `checks()`, its entries of the [`registry`], and
//! pure `judge_*` functions that turn what a check observed (decoded
//! instructions, a program's exit status and output, an ELF table) into
//! its verdict; the I/O around them (compiling, linking, running under
//! qemu-user) stays in the check functions.  Checks do not share state: a
//! check that needs a fact another check also measures measures it
//! itself.

use crate::probe::{Probe, Run};
use crate::{CheckResult, Outcome};

pub mod gccgo;
pub mod linker;
pub mod notes;
pub mod prologue;
pub mod refusal;
pub mod runtime;
pub mod split_stack;
pub mod tcb;
pub mod threaddb;
pub mod tls;

/// One check of the suite.
pub struct Check {
    /// Stable identifier, `family/name` (e.g. `tcb/guard-offset`).
    pub id: String,
    /// What the check verifies, in one line.
    pub title: String,
    /// Whether the check needs a compiler that accepts `-fsplit-stack`:
    /// such checks are SKIPped (never passed) when
    /// [`split_stack::ACCEPTED`] did not pass.
    pub needs_split_stack: bool,
    run: Box<dyn Fn(&Probe) -> Outcome>,
}

impl Check {
    /// A check with identifier `id`, title `title`, run by `run`.
    pub fn new(
        id: impl Into<String>,
        title: impl Into<String>,
        needs_split_stack: bool,
        run: impl Fn(&Probe) -> Outcome + 'static,
    ) -> Check {
        Check {
            id: id.into(),
            title: title.into(),
            needs_split_stack,
            run: Box::new(run),
        }
    }

    /// The family of the check: its identifier up to the `/`.
    pub fn family(&self) -> &str {
        self.id.split('/').next().unwrap_or_default()
    }
}

/// Every check of the suite, in report order (family by family; the
/// `split-stack/accepted` gate first).
pub fn registry() -> Vec<Check> {
    let mut v = Vec::new();
    v.extend(split_stack::checks());
    v.extend(tls::checks());
    v.extend(threaddb::checks());
    v.extend(refusal::checks());
    v.extend(tcb::checks());
    v.extend(runtime::checks());
    v.extend(prologue::checks());
    v.extend(notes::checks());
    v.extend(linker::checks());
    v
}

/// [`registry`] for the toolchain whose C driver is `gcc`: with the
/// `gccgo/` family when a Go driver is beside it.
pub fn registry_for(gcc: &std::path::Path) -> Vec<Check> {
    let mut v = registry();
    if crate::probe::go_driver(gcc).is_some() {
        v.extend(gccgo::checks());
    }
    v
}

/// The outcome a check gets without running when the gate did not pass:
/// checks that need `-fsplit-stack` are SKIPped, never passed.  `None`:
/// the check must run.
pub fn judge_gate(check_needs_split_stack: bool, split_stack_accepted: bool) -> Option<Outcome> {
    (check_needs_split_stack && !split_stack_accepted)
        .then(|| Outcome::Skip(format!("needs {}", split_stack::ACCEPTED)))
}

/// Runs `checks` in order against `p`.  `progress` is told about each
/// check before it runs (index from 0, total, id) and after (its result
/// and the seconds it took).  It stops early when
/// [`crate::request_stop`] was called.  The gate is [`split_stack::ACCEPTED`]: when
/// it is among `checks` and does not pass, the checks that need
/// `-fsplit-stack` are SKIPped; when it is not among them, they run.
pub fn run(
    checks: &[Check],
    p: &Probe,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Vec<CheckResult> {
    let mut accepted = true;
    let mut out = Vec::new();
    for (k, c) in checks.iter().enumerate() {
        if crate::stop_requested() {
            break;
        }
        progress(Progress::Start {
            index: k,
            total: checks.len(),
            id: &c.id,
        });
        let start = std::time::Instant::now();
        let outcome = match judge_gate(c.needs_split_stack, accepted) {
            Some(skip) => skip,
            None => (c.run)(p),
        };
        if c.id == split_stack::ACCEPTED {
            accepted = matches!(outcome, Outcome::Pass(_));
        }
        let r = CheckResult {
            id: c.id.clone(),
            title: c.title.clone(),
            outcome,
        };
        progress(Progress::Done {
            result: &r,
            seconds: start.elapsed().as_secs_f64(),
        });
        out.push(r);
    }
    out
}

/// What [`run`] reports while it works.
#[derive(Debug)]
pub enum Progress<'a> {
    /// Check `index` (from 0) of `total`, identifier `id`, starts.
    Start {
        index: usize,
        total: usize,
        id: &'a str,
    },
    /// A check ended with `result` after `seconds` (wall clock).
    Done {
        result: &'a CheckResult,
        seconds: f64,
    },
}

/// Judges a program run: PASS with `pass` if it exited 0 printing exactly
/// `expect` on standard output, otherwise FAIL naming `what`, the exit
/// status (`None`: killed by a signal) and both outputs.
pub fn judge_output(run: &Run, expect: &str, pass: String, what: &str) -> Outcome {
    if run.ok() && run.stdout == expect {
        Outcome::Pass(pass)
    } else {
        Outcome::Fail(format!(
            "{what}: exit {:?}, stdout {:?}, stderr {:?}",
            run.code,
            run.stdout,
            run.stderr.trim()
        ))
    }
}

/// [`judge_output`] of a run that may not have started (`Err`: the
/// runner could not be started, a FAIL naming why).
pub fn judge_started(run: anyhow::Result<Run>, expect: &str, pass: String, what: &str) -> Outcome {
    match run {
        Ok(r) => judge_output(&r, expect, pass, what),
        Err(e) => Outcome::Fail(format!("{what}: {e:#}")),
    }
}

/// The outcome of a check written with `?`: `Ok` is its verdict, `Err`
/// the FAIL (or SKIP) that stopped it early.
pub fn either(r: Result<Outcome, Outcome>) -> Outcome {
    match r {
        Ok(o) | Err(o) => o,
    }
}

/// The first line of compiler or linker diagnostics that says `error`,
/// trimmed, or `fallback` when none does.
pub fn first_error_line(diagnostics: &str, fallback: &str) -> String {
    diagnostics
        .lines()
        .find(|l| l.contains("error"))
        .unwrap_or(fallback)
        .trim()
        .to_string()
}

/// Where a glibc sysroot keeps `libc.so.6`, relative to it, in search
/// order.
pub const LIBC_PLACES: &[&str] = &[
    "lib64/libc.so.6",
    "lib/libc.so.6",
    "lib/aarch64-linux-gnu/libc.so.6",
];

/// The sysroot's `libc.so.6` (first of [`LIBC_PLACES`] that exists).
pub fn find_libc(sysroot: &std::path::Path) -> Option<std::path::PathBuf> {
    LIBC_PLACES
        .iter()
        .map(|c| sysroot.join(c))
        .find(|c| c.exists())
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn run(code: Option<i32>, stdout: &str, stderr: &str) -> Run {
        Run {
            code,
            stdout: stdout.into(),
            stderr: stderr.into(),
        }
    }

    #[test]
    fn gated_checks_are_skipped_never_passed() {
        assert_eq!(judge_gate(false, false), None);
        assert_eq!(judge_gate(false, true), None);
        assert_eq!(judge_gate(true, true), None);
        assert!(
            matches!(judge_gate(true, false), Some(Outcome::Skip(m)) if m.contains("split-stack/accepted"))
        );
    }

    #[test]
    fn output_must_match_exactly_with_exit_0() {
        let pass = |r: &Run| matches!(judge_output(r, "ok\n", "p".into(), "w"), Outcome::Pass(ref m) if m == "p");
        assert!(pass(&run(Some(0), "ok\n", "")));
        assert!(!pass(&run(Some(1), "ok\n", "")));
        assert!(!pass(&run(None, "ok\n", "")));
        assert!(!pass(&run(Some(0), "ok\nmore\n", "")));
        assert!(!pass(&run(Some(0), "", "")));
        let o = judge_output(
            &run(None, "x", "qemu: signal 11 "),
            "ok\n",
            "p".into(),
            "run t",
        );
        assert_eq!(
            o,
            Outcome::Fail("run t: exit None, stdout \"x\", stderr \"qemu: signal 11\"".into())
        );
        let o = judge_started(Err(anyhow::anyhow!("no qemu")), "ok\n", "p".into(), "run t");
        assert_eq!(o, Outcome::Fail("run t: no qemu".into()));
        assert!(matches!(
            judge_started(Ok(run(Some(0), "ok\n", "")), "ok\n", "p".into(), "w"),
            Outcome::Pass(_)
        ));
    }

    #[test]
    fn the_first_error_line_is_reported() {
        assert_eq!(
            first_error_line(
                "x.c: In function f:\n  x.c:1: error: bad\nerror: more\n",
                "f"
            ),
            "x.c:1: error: bad"
        );
        assert_eq!(first_error_line("warning only\n", "fallback"), "fallback");
    }

    #[test]
    fn the_registry_has_unique_ids_in_families_with_the_gate_first() {
        let r = registry();
        assert_eq!(r[0].id, split_stack::ACCEPTED);
        assert!(!r[0].needs_split_stack);
        let mut ids: Vec<&str> = r.iter().map(|c| c.id.as_str()).collect();
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n, "duplicate check ids");
        let families = [
            "split-stack",
            "tls",
            "refusal",
            "tcb",
            "runtime",
            "prologue",
            "notes",
            "linker",
        ];
        for c in &r {
            assert!(families.contains(&c.family()), "{}", c.id);
            assert!(!c.title.is_empty(), "{}", c.id);
        }
        // Families are contiguous in report order.
        let mut seen: Vec<&str> = Vec::new();
        for c in &r {
            if seen.last() != Some(&c.family()) {
                assert!(!seen.contains(&c.family()), "{} out of its family", c.id);
                seen.push(c.family());
            }
        }
    }

    #[test]
    fn a_failed_gate_skips_the_checks_that_need_it() {
        let tc = crate::Toolchain::for_tests("/nonexistent/gcc");
        let dir = std::path::Path::new("/nonexistent");
        let p = Probe::new(&tc, dir);
        let checks = vec![
            Check::new(split_stack::ACCEPTED, "gate", false, |_| {
                Outcome::Fail("no".into())
            }),
            Check::new("x/needs", "t", true, |_| Outcome::Pass("ran".into())),
            Check::new("x/free", "t", false, |_| Outcome::Pass("ran".into())),
        ];
        let mut events = 0;
        let r = super::run(&checks, &p, &mut |_| events += 1);
        assert_eq!(events, 6);
        assert!(matches!(r[1].outcome, Outcome::Skip(_)));
        assert!(matches!(r[2].outcome, Outcome::Pass(_)));
        let checks = vec![
            Check::new(split_stack::ACCEPTED, "gate", false, |_| {
                Outcome::Pass("yes".into())
            }),
            Check::new("x/needs", "t", true, |_| Outcome::Pass("ran".into())),
        ];
        let r = super::run(&checks, &p, &mut |_| {});
        assert!(matches!(r[1].outcome, Outcome::Pass(_)));
        // Without the gate among the checks, gated checks run.
        let r = super::run(&checks[1..], &p, &mut |_| {});
        assert!(matches!(r[0].outcome, Outcome::Pass(_)));
    }
}
