//! The comparison engine shared by the harnesses that run a test suite
//! twice, without and with the project's series (`glibc-compare`,
//! `gold-compare`, `gcc-check --compare`): results by test name, the
//! comparison, and its Markdown report.

use std::collections::BTreeMap;

/// Results of one side: test name (`nptl/tst-x`) to result (`PASS`, ...).
pub type Results = BTreeMap<String, String>;

/// The comparison of the two sides.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Comparison {
    /// Passes unpatched (or was UNSUPPORTED there), does not pass
    /// patched; or passes unpatched and is missing patched (`MISSING`);
    /// or is only in the patched run (`ABSENT` unpatched) and fails
    /// there.
    pub regressions: Vec<(String, String, String)>,
    /// Does not pass unpatched, passes patched.
    pub fixed: Vec<String>,
    /// Only in the patched run (tests the series adds, or tests only the
    /// patched side ran), passing or UNSUPPORTED there.
    pub new: Vec<(String, String)>,
    /// Not passing (and not UNSUPPORTED) on either side.
    pub both_fail: Vec<(String, String)>,
    /// Only in the unpatched run, and not passing there (a missing test
    /// that passed unpatched is a regression).
    pub dropped: Vec<(String, String)>,
    /// UNSUPPORTED on both sides.
    pub unsupported: Vec<String>,
    pub passed_both: usize,
}

/// Whether a result counts as passing (`PASS`, `XFAIL`).
pub fn passes(r: &str) -> bool {
    matches!(r, "PASS" | "XFAIL")
}

/// Compares unpatched and patched results.
pub fn compare(unpatched: &Results, patched: &Results) -> Comparison {
    let mut c = Comparison::default();
    for (t, p) in patched {
        match unpatched.get(t) {
            // Run only on the patched side and not passing there: a
            // failure that nothing else would report.
            None if !passes(p) && p != "UNSUPPORTED" => {
                c.regressions
                    .push((t.clone(), "ABSENT".to_string(), p.clone()))
            }
            None => c.new.push((t.clone(), p.clone())),
            Some(u) if passes(u) && !passes(p) => {
                c.regressions.push((t.clone(), u.clone(), p.clone()))
            }
            // Not run unpatched, run and failing patched: a new failure,
            // not a failure on both sides.
            Some(u) if u == "UNSUPPORTED" && !passes(p) && p != "UNSUPPORTED" => {
                c.regressions.push((t.clone(), u.clone(), p.clone()))
            }
            Some(u) if !passes(u) && passes(p) => c.fixed.push(t.clone()),
            Some(u) if passes(u) => c.passed_both += 1,
            Some(u) if u == "UNSUPPORTED" && p == "UNSUPPORTED" => c.unsupported.push(t.clone()),
            Some(_) => c.both_fail.push((t.clone(), p.clone())),
        }
    }
    for (t, u) in unpatched {
        if patched.contains_key(t) {
            continue;
        }
        if passes(u) {
            c.regressions
                .push((t.clone(), u.clone(), "MISSING".to_string()));
        } else {
            c.dropped.push((t.clone(), u.clone()));
        }
    }
    c
}

/// The Markdown report of a comparison `c` of the results `u` (unpatched)
/// and `p` (patched), headed `title`.
pub fn report(title: &str, u: &Results, p: &Results, c: &Comparison) -> String {
    let mut sides = conformance::markdown::Table::new(&["", "unpatched", "patched"]);
    sides.row(&[
        "tests".to_string(),
        u.len().to_string(),
        p.len().to_string(),
    ]);
    let mut md = format!(
        "# {title}\n\n{}\n\
         - passing on both sides: {}\n- regressions: {}\n- fixed: {}\n- new tests: {}\n\
         - failing on both sides: {}\n- unsupported on both sides: {}\n\
         - only in the unpatched run, not passing there: {}\n",
        sides.render(),
        c.passed_both,
        c.regressions.len(),
        c.fixed.len(),
        c.new.len(),
        c.both_fail.len(),
        c.unsupported.len(),
        c.dropped.len()
    );
    let mut section = |heading: &str, rows: Vec<String>| {
        if !rows.is_empty() {
            md.push_str(&format!("\n## {heading}\n\n"));
            for r in rows {
                md.push_str(&format!("- {r}\n"));
            }
        }
    };
    section(
        "Regressions (pass unpatched, not patched)",
        c.regressions
            .iter()
            .map(|(t, u, p)| format!("{t}: {u} -> {p}"))
            .collect(),
    );
    section(
        "New tests",
        c.new.iter().map(|(t, r)| format!("{t}: {r}")).collect(),
    );
    section(
        "Failing on both sides (environment: qemu-user, this host)",
        c.both_fail
            .iter()
            .map(|(t, r)| format!("{t}: {r}"))
            .collect(),
    );
    section("Fixed", c.fixed.clone());
    section(
        "Only in the unpatched run, not passing there",
        c.dropped.iter().map(|(t, r)| format!("{t}: {r}")).collect(),
    );
    md
}

/// Writes the Markdown report `md` to `<cache>/logs/<file>`, prints it
/// and names the file.  Errors: it cannot be written.
pub fn publish(
    ui: &crate::base::shell::Ui,
    cache: &crate::base::cache::Cache,
    file: &str,
    md: &str,
) -> anyhow::Result<std::path::PathBuf> {
    let out = cache.logs().join(file);
    crate::base::cache::write_atomic(&out, md.as_bytes())?;
    print!("{md}");
    ui.line(format!("report: {}", out.display()));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn results(v: &[(&str, &str)]) -> Results {
        v.iter()
            .map(|(t, r)| (t.to_string(), r.to_string()))
            .collect()
    }

    #[test]
    fn every_change_is_classified() {
        let u = results(&[
            ("pass-pass", "PASS"),
            ("pass-fail", "PASS"),
            ("fail-pass", "FAIL"),
            ("fail-fail", "FAIL"),
            ("unsup-unsup", "UNSUPPORTED"),
            ("unsup-fail", "UNSUPPORTED"),
            ("unsup-pass", "UNSUPPORTED"),
            ("gone-pass", "PASS"),
            ("gone-fail", "FAIL"),
        ]);
        let p = results(&[
            ("pass-pass", "PASS"),
            ("pass-fail", "FAIL"),
            ("fail-pass", "PASS"),
            ("fail-fail", "FAIL"),
            ("unsup-unsup", "UNSUPPORTED"),
            ("unsup-fail", "FAIL"),
            ("unsup-pass", "PASS"),
            ("new", "PASS"),
            ("new-fail", "FAIL"),
            ("new-unsup", "UNSUPPORTED"),
        ]);
        let c = compare(&u, &p);
        let names = |v: &[(String, String, String)]| -> Vec<String> {
            v.iter().map(|x| x.0.clone()).collect()
        };
        assert_eq!(
            names(&c.regressions),
            ["new-fail", "pass-fail", "unsup-fail", "gone-pass"]
        );
        assert_eq!(c.fixed, ["fail-pass", "unsup-pass"]);
        assert_eq!(c.both_fail, [("fail-fail".to_string(), "FAIL".to_string())]);
        assert_eq!(c.unsupported, ["unsup-unsup"]);
        assert_eq!(c.dropped, [("gone-fail".to_string(), "FAIL".to_string())]);
        assert_eq!(
            c.new,
            [
                ("new".to_string(), "PASS".to_string()),
                ("new-unsup".to_string(), "UNSUPPORTED".to_string())
            ]
        );
        assert_eq!(c.passed_both, 1);
        let md = report("t", &u, &p, &c);
        assert!(md.contains("- regressions: 4"), "{md}");
        assert!(md.contains("new-fail: ABSENT -> FAIL"), "{md}");
        assert!(md.contains("gone-fail: FAIL"), "{md}");
    }
}
