//! `tls/`: TLS variant I is unchanged by the guard slot below the thread
//! pointer (docs/abi.md, section 2): the executable's first TLS variable
//! lies at TP + [`abi::TCB_SIZE`], in dynamic and static programs.  The
//! pre-TCB block's effect on libthread_db is [`super::threaddb`].

use super::Check;
use crate::abi;
use crate::probe::{Probe, Run};
use crate::Outcome;

/// `conformance/cases/tls_offset.c`: prints the offset of its first TLS
/// variable from TP.
pub const TLS_SRC: &str = include_str!("../../cases/tls_offset.c");

/// The checks of this family.
pub fn checks() -> Vec<Check> {
    [false, true]
        .into_iter()
        .map(|static_link| {
            let (id, flags): (&str, &'static [&'static str]) = if static_link {
                ("tls/variant-1-static", &["-O2", "-static"])
            } else {
                ("tls/variant-1", &["-O2"])
            };
            let title = format!(
                "executable TLS starts at TP+{} ({})",
                abi::TCB_SIZE,
                if static_link { "static" } else { "dynamic" }
            );
            Check::new(id, title, false, move |p: &Probe| variant_1(p, id, flags))
        })
        .collect()
}

fn variant_1(p: &Probe, id: &str, flags: &[&str]) -> Outcome {
    let exe = match p.compile(&id.replace(['/', '-'], "_"), TLS_SRC, flags) {
        Ok(e) => e,
        Err(e) => return Outcome::Fail(format!("compile tls_offset.c: {e:#}")),
    };
    match p.run(&exe, &p.tc.sysroot, &[]) {
        Ok(r) => judge_tls_offset(&r),
        Err(e) => Outcome::Fail(format!("run: {e:#}")),
    }
}

/// Judges a run of `tls_offset.c`: PASS only if it exited 0 printing
/// exactly `tls offset 16 value 42` (the offset in bytes from TP,
/// [`abi::TCB_SIZE`]).
pub fn judge_tls_offset(r: &Run) -> Outcome {
    let want = format!("tls offset {} value 42\n", abi::TCB_SIZE);
    super::judge_output(
        r,
        &want,
        format!("measured at run time: {}", want.trim()),
        "run tls_offset.c",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::tests::run;

    #[test]
    fn the_offset_must_be_the_tcb_size() {
        assert!(matches!(
            judge_tls_offset(&run(Some(0), "tls offset 16 value 42\n", "")),
            Outcome::Pass(_)
        ));
        for bad in [
            "tls offset 48 value 42\n",
            "tls offset 16 value 0\n",
            "tls offset 8 value 42\n",
        ] {
            assert!(matches!(
                judge_tls_offset(&run(Some(0), bad, "")),
                Outcome::Fail(_)
            ));
        }
        assert!(matches!(
            judge_tls_offset(&run(None, "tls offset 16 value 42\n", "")),
            Outcome::Fail(_)
        ));
    }
}
