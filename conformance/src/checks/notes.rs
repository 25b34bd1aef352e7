//! `notes/split-stack`: split-stack objects carry `.note.GNU-split-stack`,
//! and `.note.GNU-no-split-stack` when they define a `no_split_stack`
//! function (docs/abi.md, section 5.7).

use super::Check;
use crate::probe::Probe;
use crate::Outcome;

/// The checks of this family.
pub fn checks() -> Vec<Check> {
    vec![Check::new(
        "notes/split-stack",
        "objects carry .note.GNU-split-stack, and .note.GNU-no-split-stack when they have no_split_stack functions",
        true,
        notes,
    )]
}

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

fn notes(p: &Probe) -> Outcome {
    let mut seen = Vec::new();
    for opt in ["-O2", "-O0", "-O3"] {
        let build = |name: &str, src: &str| {
            p.compile(name, src, &[opt, "-fsplit-stack", "-c"])
                .map_err(|e| format!("compile: {e:#}"))
                .and_then(|o| section_names(&o))
        };
        let tag = opt.trim_start_matches('-');
        let plain = build(
            &format!("notes_plain_{tag}.o"),
            super::split_stack::PROBE_SRC,
        );
        let mixed = build(
            &format!("notes_mixed_{tag}.o"),
            &format!(
                "{}__attribute__ ((no_split_stack)) int g (int x) {{ return f (x); }}\n",
                super::split_stack::PROBE_SRC
            ),
        );
        match (plain, mixed) {
            (Ok(a), Ok(b)) => match judge_notes(&a, &b) {
                Outcome::Pass(m) => seen.push(m),
                Outcome::Fail(m) => return Outcome::Fail(format!("[{opt}] {m}")),
                Outcome::Skip(m) => return Outcome::Skip(m),
            },
            (Err(e), _) | (_, Err(e)) => return Outcome::Fail(format!("[{opt}] {e}")),
        }
    }
    Outcome::Pass(format!(
        "{} (at -O2, -O0 and -O3)",
        seen.first().cloned().unwrap_or_default()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(
            matches!(judge_notes(&v(&[split]), &v(&[nosplit])), Outcome::Fail(ref m) if m.contains("lacks"))
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
}
