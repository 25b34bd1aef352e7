//! The gold series' own testsuite scripts (`gold/testsuite/split_aarch64.sh`
//! and `aarch64_build_attrs.sh`, added by `patches/binutils`), run in the
//! incremental binutils build tree through gold's automake test harness.
//!
//! The data files each script reads are taken from the `check_DATA` lines
//! that follow its `check_SCRIPTS +=` line in `gold/testsuite/Makefile.am`,
//! so that a test added to the series is run without a change here.

use anyhow::{bail, Context, Result};

use crate::base::cache::Cache;
use crate::base::shell::{Cmd, Ui};

/// The series' test scripts, in the order they run.
pub const SCRIPTS: &[&str] = &["split_aarch64.sh", "aarch64_build_attrs.sh"];

/// The `check_DATA` files that `Makefile.am` lists for `script`: the
/// continuation lines of every `check_DATA +=` assignment between the
/// script's `check_SCRIPTS += script` line and the next `check_SCRIPTS +=`.
/// Returns an empty list if the script is not in the file.
pub fn data_files(makefile_am: &str, script: &str) -> Vec<String> {
    let mut files = Vec::new();
    let mut inside = false;
    let mut continued = false;
    for line in makefile_am.lines() {
        let trimmed = line.trim_end();
        if let Some(rest) = trimmed.strip_prefix("check_SCRIPTS +=") {
            inside = rest.split_whitespace().any(|w| w == script);
            continued = false;
            continue;
        }
        if !inside {
            continue;
        }
        let body = if let Some(rest) = trimmed.strip_prefix("check_DATA +=") {
            rest
        } else if continued {
            trimmed
        } else {
            continue;
        };
        continued = body.ends_with('\\');
        files.extend(
            body.trim_end_matches('\\')
                .split_whitespace()
                .map(str::to_string),
        );
    }
    files
}

/// Rebuilds each script's inputs and runs it; returns one line per script,
/// "PASS: name" or "FAIL: name".  Errors: no binutils build tree, a script
/// that `Makefile.am` does not list, or make itself failed.
pub fn run(ui: &Ui, cache: &Cache) -> Result<Vec<String>> {
    let dir = cache.build("binutils").join("gold/testsuite");
    if !dir.join("Makefile").is_file() {
        bail!(
            "no gold build tree in {}: run `cargo xtask build-toolchain` first",
            dir.display()
        );
    }
    let am_path = cache.src("binutils").join("gold/testsuite/Makefile.am");
    let am = std::fs::read_to_string(&am_path)
        .with_context(|| format!("reading {}", am_path.display()))?;
    let log = cache.log("gold-tests");
    let _ = std::fs::remove_file(&log);
    let mut results = Vec::new();
    for script in SCRIPTS {
        let data = data_files(&am, script);
        if data.is_empty() {
            bail!(
                "{} lists no check_DATA for {script}: the binutils work tree is not the \
                 current series; run `cargo xtask build-toolchain`",
                am_path.display()
            );
        }
        // Fresh results: the harness skips a test whose .log is up to date.
        for f in data
            .iter()
            .cloned()
            .chain([format!("{script}.log"), format!("{script}.trs")])
        {
            let _ = std::fs::remove_file(dir.join(f));
        }
        Cmd::new("make")
            .args(data.iter().map(String::as_str))
            .arg(format!("{script}.log"))
            .env("LC_ALL", "C")
            .dir(&dir)
            .run_logged(ui, &format!("gold-tests: {script}"), &log)?;
        let trs = std::fs::read_to_string(dir.join(format!("{script}.trs"))).unwrap_or_default();
        let result = if trs.contains(":test-result: PASS") {
            "PASS"
        } else {
            "FAIL"
        };
        ui.line(format!("gold-tests: {result}: {script}"));
        results.push(format!("{result}: {script}"));
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::data_files;

    const AM: &str = "\
check_SCRIPTS += other.sh
check_DATA += other.stdout
check_SCRIPTS += split_aarch64.sh
check_DATA += a.stdout b.stdout \\
\tc.stdout
x.o: x.s
check_DATA += d.stdout
check_SCRIPTS += next.sh
check_DATA += e.stdout
";

    #[test]
    fn data_of_one_script_only() {
        assert_eq!(
            data_files(AM, "split_aarch64.sh"),
            ["a.stdout", "b.stdout", "c.stdout", "d.stdout"]
        );
        assert_eq!(data_files(AM, "next.sh"), ["e.stdout"]);
        assert!(data_files(AM, "missing.sh").is_empty());
    }
}
