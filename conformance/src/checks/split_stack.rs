//! `split-stack/accepted`: the gate.  A compiler that rejects
//! `-fsplit-stack` for aarch64-linux-gnu gets this one FAIL, and every
//! check that needs split-stack code is SKIPped (docs/abi.md, section 5).

use super::Check;
use crate::probe::Probe;
use crate::Outcome;

/// Identifier of the check every split-stack check depends on.
pub const ACCEPTED: &str = "split-stack/accepted";

/// `conformance/cases/split_probe.c`: one function with a 256-byte frame.
pub const PROBE_SRC: &str = include_str!("../../cases/split_probe.c");

/// The checks of this family.
pub fn checks() -> Vec<Check> {
    vec![Check::new(
        ACCEPTED,
        "the compiler accepts -fsplit-stack for aarch64-linux-gnu",
        false,
        accepted,
    )]
}

fn accepted(p: &Probe) -> Outcome {
    let r = p
        .compile("split_probe.o", PROBE_SRC, &["-O2", "-fsplit-stack", "-c"])
        .map(|_| ())
        .map_err(|e| format!("{e:#}"));
    judge_accepted(r)
}

/// Judges the compilation of `split_probe.c` with `-O2 -fsplit-stack -c`:
/// PASS when it succeeded; otherwise FAIL with the first line of the
/// diagnostics that says `error`.
pub fn judge_accepted(compile: Result<(), String>) -> Outcome {
    match compile {
        Ok(()) => Outcome::Pass("compiled a function with -fsplit-stack".into()),
        Err(diag) => Outcome::Fail(super::first_error_line(&diag, "compilation failed")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rejected_option_fails_with_the_compilers_error() {
        assert!(matches!(judge_accepted(Ok(())), Outcome::Pass(_)));
        let o = judge_accepted(Err(
            "gcc -O2 failed:\ncc1: error: '-fsplit-stack' is not supported by this compiler configuration".into(),
        ));
        assert_eq!(
            o,
            Outcome::Fail(
                "cc1: error: '-fsplit-stack' is not supported by this compiler configuration"
                    .into()
            )
        );
        assert_eq!(
            judge_accepted(Err("killed".into())),
            Outcome::Fail("compilation failed".into())
        );
    }
}
