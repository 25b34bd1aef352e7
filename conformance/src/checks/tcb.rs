//! `tcb/`: the guard slot (docs/abi.md, sections 1, 4 and 5.1).
//!
//! - `tcb/glibc-symbol`: `libc.so.6` exports `__tcb_private_ss` with the
//!   guard offset as its value (section 3);
//! - `tcb/runtime-slot[-static]`: the slot at run time, 0 in the initial
//!   thread and set by glibc in every new thread (section 4);
//! - `tcb/guard-offset`: every independent statement of the offset agrees
//!   with the specification ([`abi::GUARD_OFFSET_FROM_TP`]): glibc's
//!   exported value, glibc's compiled layout (the DWARF of `libc.so.6`),
//!   GCC's prologues, libgcc's guard accessors, and the running program.
//!   Each leg measures the offset itself and can disagree.

use std::path::Path;

use super::Check;
use crate::abi;
use crate::probe::{Probe, Run};
use crate::Outcome;

/// `conformance/cases/slot.c`: the slot in the initial thread and in four
/// new threads.
pub const SLOT_SRC: &str = include_str!("../../cases/slot.c");

/// `conformance/cases/guard.c`: which word of the pre-TCB block holds the
/// initial thread's guard at run time.
pub const GUARD_PROBE_SRC: &str = include_str!("../../cases/guard.c");

/// glibc's name of the pre-TCB block (docs/abi.md, section 1;
/// `sysdeps/aarch64/nptl/tls.h` of the glibc series) and of its guard
/// member.
pub const PRE_TCB_TYPE: (&str, &str) = ("tcbprehead_t", "__private_ss");

/// The checks of this family.
pub fn checks() -> Vec<Check> {
    let mut v = vec![Check::new(
        "tcb/glibc-symbol",
        format!(
            "libc.so.6 exports __tcb_private_ss@@{} = {}",
            abi::VERSION_NODE,
            abi::GUARD_OFFSET_FROM_TP
        ),
        false,
        glibc_symbol,
    )];
    for static_link in [false, true] {
        let (id, flags): (&'static str, &'static [&'static str]) = if static_link {
            ("tcb/runtime-slot-static", &["-O2", "-pthread", "-static"])
        } else {
            ("tcb/runtime-slot", &["-O2", "-pthread"])
        };
        v.push(Check::new(
            id,
            format!(
                "guard slot at TP{}: 0 in the initial thread, set by glibc in new threads ({})",
                abi::GUARD_OFFSET_FROM_TP,
                if static_link { "static" } else { "dynamic" }
            ),
            false,
            move |p: &Probe| runtime_slot(p, id, flags),
        ));
    }
    v.push(Check::new(
        "tcb/guard-offset",
        format!(
            "the specification, glibc's export and layout, GCC's prologues, libgcc and the running program agree on the guard at TP{}",
            abi::GUARD_OFFSET_FROM_TP
        ),
        true,
        guard_offset,
    ));
    v
}

/// `__tcb_private_ss` of the sysroot's `libc.so.6`, with the file.
fn exported_offset(p: &Probe) -> Result<(std::path::PathBuf, i64), String> {
    let path = super::find_libc(&p.tc.sysroot).ok_or("no libc.so.6 in the sysroot")?;
    let v = std::fs::read(&path)
        .map_err(anyhow::Error::from)
        .and_then(|d| crate::elf::dynamic_i64(&d, "__tcb_private_ss"))
        .map_err(|e| format!("{}: {e:#}", path.display()))?;
    Ok((path, v))
}

fn glibc_symbol(p: &Probe) -> Outcome {
    judge_symbol_value(exported_offset(p))
}

/// Judges `__tcb_private_ss` read from `libc.so.6` (the file, and the
/// value in bytes): PASS only if it equals [`abi::GUARD_OFFSET_FROM_TP`].
pub fn judge_symbol_value(v: Result<(std::path::PathBuf, i64), String>) -> Outcome {
    match v {
        Ok((path, v)) if v == abi::GUARD_OFFSET_FROM_TP => {
            Outcome::Pass(format!("{}: __tcb_private_ss = {v}", path.display()))
        }
        Ok((path, v)) => Outcome::Fail(format!(
            "{}: __tcb_private_ss = {v}, expected {}",
            path.display(),
            abi::GUARD_OFFSET_FROM_TP
        )),
        Err(e) => Outcome::Fail(e),
    }
}

fn runtime_slot(p: &Probe, id: &str, flags: &[&str]) -> Outcome {
    let src = format!(
        "#define GUARD_OFFSET ({})\n{SLOT_SRC}",
        abi::GUARD_OFFSET_FROM_TP
    );
    let exe = match p.compile(&id.replace(['/', '-'], "_"), &src, flags) {
        Ok(e) => e,
        Err(e) => return Outcome::Fail(format!("compile slot.c: {e:#}")),
    };
    match p.run(&exe, &p.tc.sysroot, &[]) {
        Ok(r) => judge_slot(&r),
        Err(e) => Outcome::Fail(format!("run: {e:#}")),
    }
}

/// Judges a run of `slot.c`: PASS only if the initial thread's slot was 0
/// and in every new thread the slot was exactly the lowest usable address
/// of its stack plus 16 KiB (docs/abi.md, section 4), the reserved words
/// were 0, and the slot was its own (`main 0`, `threads ok`, exit 0).
pub fn judge_slot(r: &Run) -> Outcome {
    super::judge_output(
        r,
        "main 0\nthreads ok\n",
        "initial thread 0; 4 threads on glibc's stacks and 1 on a program-supplied stack full \
         of garbage: guard = lowest usable address + 16 KiB, reserved words 0, one slot per \
         thread"
            .into(),
        "run slot.c",
    )
}

/// One independent statement of the guard offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leg {
    /// Where the offset comes from, e.g. "glibc layout (DWARF)".
    pub source: String,
    /// The offsets this source states (bytes from TP; one per decoded
    /// function for GCC), or why it could not be read.
    pub offsets: Result<Vec<i64>, String>,
}

/// Judges the legs against the specification's offset `want` (bytes):
/// PASS only if every leg was read, states at least one offset, and every
/// offset equals `want`.  A FAIL names every leg that disagrees or could
/// not be read.
pub fn judge_guard_legs(want: i64, legs: &[Leg]) -> Outcome {
    let mut bad = Vec::new();
    let mut good = vec![format!("specification (docs/abi.md, abi.rs): TP{want:+}")];
    for leg in legs {
        match &leg.offsets {
            Err(e) => bad.push(format!("{}: {e}", leg.source)),
            Ok(v) if v.is_empty() => bad.push(format!("{}: states no offset", leg.source)),
            Ok(v) => {
                let wrong: std::collections::BTreeSet<i64> =
                    v.iter().copied().filter(|&o| o != want).collect();
                if wrong.is_empty() {
                    good.push(if v.len() == 1 {
                        format!("{}: TP{want:+}", leg.source)
                    } else {
                        format!("{}: TP{want:+} ({}x)", leg.source, v.len())
                    });
                } else {
                    let w: Vec<String> = wrong.iter().map(|o| format!("TP{o:+}")).collect();
                    bad.push(format!(
                        "{}: {} (expected TP{want:+})",
                        leg.source,
                        w.join(", ")
                    ));
                }
            }
        }
    }
    if legs.is_empty() {
        bad.push("no leg to compare with the specification".into());
    }
    if bad.is_empty() {
        Outcome::Pass(good.join("; "))
    } else {
        Outcome::Fail(bad.join("\n"))
    }
}

/// The guard offset as glibc's compiled layout states it: from the DWARF
/// of `libc` (a `libc.so.6`), `offsetof (tcbprehead_t, __private_ss) -
/// sizeof (tcbprehead_t)` (the block ends at TP, docs/abi.md section 1).
pub fn layout_offset(libc: &Path) -> Result<i64, String> {
    let data = std::fs::read(libc).map_err(|e| format!("{}: {e}", libc.display()))?;
    let l = crate::elf::typedef_struct_layout(&data, PRE_TCB_TYPE.0)
        .map_err(|e| format!("{}: {e:#}", libc.display()))?;
    judge_layout(&l)
}

/// The guard's offset from TP (bytes) that the DWARF layout of
/// `tcbprehead_t` implies: its `__private_ss` member's offset minus the
/// block's size.  Errors: no such member.
pub fn judge_layout(l: &crate::elf::StructLayout) -> Result<i64, String> {
    let (ty, member) = PRE_TCB_TYPE;
    let off = l
        .members
        .iter()
        .find(|(n, _)| n == member)
        .map(|(_, o)| *o)
        .ok_or_else(|| format!("{ty} has no member {member}"))?;
    Ok(off as i64 - l.byte_size as i64)
}

/// The guard offsets GCC's prologues load, one per function with a check,
/// from `conformance/cases/prologue.c` compiled at -O2, -O0 and with
/// `-mbranch-protection=standard`.
fn gcc_offsets(p: &Probe) -> Result<Vec<i64>, String> {
    let mut v = Vec::new();
    for (k, opts) in [
        &["-O2"][..],
        &["-O0"],
        &["-O2", "-mbranch-protection=standard"],
    ]
    .iter()
    .enumerate()
    {
        let flags = [&["-fsplit-stack", "-c"][..], opts].concat();
        let obj = p
            .compile(
                &format!("guard_offset_{k}.o"),
                super::prologue::PROLOGUE_SRC,
                &flags,
            )
            .map_err(|e| format!("compile prologue.c: {e:#}"))?;
        let funcs = std::fs::read(&obj)
            .map_err(anyhow::Error::from)
            .and_then(|d| crate::elf::functions(&d, "__morestack"))
            .map_err(|e| format!("inspect: {e:#}"))?;
        for f in funcs.iter().filter(|f| !f.morestack_relocs.is_empty()) {
            v.push(
                crate::prologue::tp_access_offset(&f.code)
                    .map_err(|e| format!("[{}] {}: {e}", opts.join(" "), f.name))?,
            );
        }
    }
    Ok(v)
}

/// The offsets libgcc's `__morestack_get_guard` and
/// `__morestack_set_guard` (in `morestack.o` of `libgcc.a`) access.
fn libgcc_offsets(p: &Probe) -> Result<Vec<i64>, String> {
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
            v.push(crate::prologue::tp_access_offset(&f.code).map_err(|e| format!("{name}: {e}"))?);
        }
        return Ok(v);
    }
    Err(format!(
        "{path} has no morestack.o: the split-stack runtime is missing from libgcc"
    ))
}

/// Reads the offsets of the "guard at TP-N" lines of `guard.c`'s output;
/// the run must have exited 0 (exactly one word looked like a guard).
pub fn judge_runtime_leg(r: &Run) -> Result<Vec<i64>, String> {
    if !r.ok() {
        return Err(format!(
            "run guard.c: exit {:?}, stdout {:?}, stderr {:?}",
            r.code,
            r.stdout,
            r.stderr.trim()
        ));
    }
    let v: Vec<i64> = r
        .stdout
        .lines()
        .filter_map(|l| {
            l.strip_prefix("guard at TP")?
                .split(':')
                .next()?
                .parse()
                .ok()
        })
        .collect();
    if v.len() != 1 {
        return Err(format!("run guard.c: output {:?}", r.stdout));
    }
    Ok(v)
}

fn runtime_offsets(p: &Probe) -> Result<Vec<i64>, String> {
    let exe = p
        .compile("guard_probe", GUARD_PROBE_SRC, &["-O2", "-fsplit-stack"])
        .map_err(|e| format!("compile guard.c: {e:#}"))?;
    let r = p
        .run(&exe, &p.tc.sysroot, &[])
        .map_err(|e| format!("run guard.c: {e:#}"))?;
    judge_runtime_leg(&r)
}

fn guard_offset(p: &Probe) -> Outcome {
    let libc = super::find_libc(&p.tc.sysroot);
    let legs = vec![
        Leg {
            source: "glibc export (__tcb_private_ss, object)".into(),
            offsets: exported_offset(p).map(|(_, v)| vec![v]),
        },
        Leg {
            source: format!(
                "glibc layout ({} in the DWARF of libc.so.6, gimli)",
                PRE_TCB_TYPE.0
            ),
            offsets: libc
                .ok_or_else(|| "no libc.so.6 in the sysroot".to_string())
                .and_then(|l| layout_offset(&l))
                .map(|v| vec![v]),
        },
        Leg {
            source: "GCC prologues (prologue.c at -O2, -O0, BTI; yaxpeax-arm)".into(),
            offsets: gcc_offsets(p),
        },
        Leg {
            source: "libgcc __morestack_get_guard/__morestack_set_guard (yaxpeax-arm)".into(),
            offsets: libgcc_offsets(p),
        },
        Leg {
            source: "run time (guard.c: the pre-TCB word holding the initial thread's guard)"
                .into(),
            offsets: runtime_offsets(p),
        },
    ];
    judge_guard_legs(abi::GUARD_OFFSET_FROM_TP, &legs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::tests::run;

    #[test]
    fn the_exported_value_must_be_the_offset() {
        let p = std::path::PathBuf::from("/s/lib/libc.so.6");
        assert!(matches!(
            judge_symbol_value(Ok((p.clone(), -8))),
            Outcome::Pass(_)
        ));
        assert!(
            matches!(judge_symbol_value(Ok((p.clone(), -16))), Outcome::Fail(ref m) if m.contains("-16"))
        );
        assert!(matches!(judge_symbol_value(Ok((p, 8))), Outcome::Fail(_)));
        assert_eq!(
            judge_symbol_value(Err("no libc.so.6".into())),
            Outcome::Fail("no libc.so.6".into())
        );
    }

    #[test]
    fn the_slot_run_must_say_exactly_so() {
        assert!(matches!(
            judge_slot(&run(Some(0), "main 0\nthreads ok\n", "")),
            Outcome::Pass(_)
        ));
        assert!(matches!(
            judge_slot(&run(Some(0), "main 4096\nthreads ok\n", "")),
            Outcome::Fail(_)
        ));
        assert!(matches!(
            judge_slot(&run(Some(0), "main 0\nthreads BAD\n", "")),
            Outcome::Fail(_)
        ));
        assert!(matches!(
            judge_slot(&run(None, "main 0\nthreads ok\n", "")),
            Outcome::Fail(_)
        ));
    }

    fn leg(source: &str, offsets: Result<Vec<i64>, String>) -> Leg {
        Leg {
            source: source.into(),
            offsets,
        }
    }

    #[test]
    fn every_leg_must_state_the_specified_offset() {
        let good = vec![leg("a", Ok(vec![-8])), leg("b", Ok(vec![-8, -8, -8]))];
        let o = judge_guard_legs(-8, &good);
        assert!(
            matches!(o, Outcome::Pass(ref m) if m.contains("b: TP-8 (3x)")),
            "{o:?}"
        );
        // One prologue among many disagrees.
        let mut v = good.clone();
        v.push(leg("gcc", Ok(vec![-8, -16, -8])));
        let o = judge_guard_legs(-8, &v);
        assert_eq!(o, Outcome::Fail("gcc: TP-16 (expected TP-8)".into()));
        // A leg that could not be read, or states nothing, is not agreement.
        let o = judge_guard_legs(
            -8,
            &[leg("a", Ok(vec![-8])), leg("dwarf", Err("no DWARF".into()))],
        );
        assert_eq!(o, Outcome::Fail("dwarf: no DWARF".into()));
        let o = judge_guard_legs(-8, &[leg("a", Ok(vec![]))]);
        assert!(matches!(o, Outcome::Fail(ref m) if m.contains("states no offset")));
        assert!(matches!(judge_guard_legs(-8, &[]), Outcome::Fail(_)));
        // Every disagreeing leg is named.
        let o = judge_guard_legs(-8, &[leg("a", Ok(vec![-16])), leg("b", Ok(vec![0]))]);
        assert_eq!(
            o,
            Outcome::Fail("a: TP-16 (expected TP-8)\nb: TP+0 (expected TP-8)".into())
        );
    }

    #[test]
    fn the_layout_leg_is_member_offset_minus_block_size() {
        let l = |size, off| crate::elf::StructLayout {
            byte_size: size,
            members: vec![("__reserved".into(), 0), ("__private_ss".into(), off)],
        };
        assert_eq!(judge_layout(&l(32, 24)), Ok(-8));
        assert_eq!(judge_layout(&l(32, 16)), Ok(-16));
        assert_eq!(judge_layout(&l(48, 24)), Ok(-24));
        let none = crate::elf::StructLayout {
            byte_size: 32,
            members: vec![("guard".into(), 24)],
        };
        assert!(judge_layout(&none).is_err());
    }

    #[test]
    fn the_runtime_leg_reads_the_one_guard_word() {
        let out = "guard at TP-8: 16384 bytes below SP\n";
        assert_eq!(judge_runtime_leg(&run(Some(0), out, "")), Ok(vec![-8]));
        assert_eq!(
            judge_runtime_leg(&run(Some(0), "guard at TP-16: 100 bytes below SP\n", "")),
            Ok(vec![-16])
        );
        assert!(judge_runtime_leg(&run(Some(1), "guard BAD: 0 words\n", "")).is_err());
        assert!(judge_runtime_leg(&run(Some(0), "", "")).is_err());
        assert!(judge_runtime_leg(&run(None, out, "")).is_err());
    }
}
