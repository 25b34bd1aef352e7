//! Git invocations on the source work trees, isolated from the user's git
//! configuration so that commits and exported patches are reproducible.

use std::path::Path;

use anyhow::Result;

use crate::base::shell::Cmd;

/// Identity and date of the import commits (fixed, so the pristine import of
/// the same tarball always has the same commit id).
pub const IMPORT_IDENT: (&str, &str) = ("split-stack xtask", "xtask@split-stack.invalid");
pub const IMPORT_DATE: &str = "2000-01-01T00:00:00+0000";

/// `git -C dir ...` with global/system configuration ignored and a committer
/// identity supplied (git am needs one; the author comes from the patch).
pub fn git(dir: &Path) -> Cmd {
    Cmd::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "core.abbrev=12",
            "-c",
            "core.autocrlf=false",
            "-c",
            "gc.auto=0",
            "-c",
            "advice.detachedHead=false",
            "-c",
            "init.defaultBranch=series",
        ])
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_COMMITTER_NAME", IMPORT_IDENT.0)
        .env("GIT_COMMITTER_EMAIL", IMPORT_IDENT.1)
}

/// A commit with the fixed import identity and date.
pub fn commit_fixed(dir: &Path, message: &str) -> Result<()> {
    git(dir)
        .args(["commit", "-q", "--no-verify", "-m", message])
        .env("GIT_AUTHOR_NAME", IMPORT_IDENT.0)
        .env("GIT_AUTHOR_EMAIL", IMPORT_IDENT.1)
        .env("GIT_AUTHOR_DATE", IMPORT_DATE)
        .env("GIT_COMMITTER_DATE", IMPORT_DATE)
        .read()?;
    Ok(())
}

/// The commit id `rev` resolves to.
pub fn rev_parse(dir: &Path, rev: &str) -> Result<String> {
    git(dir)
        .args(["rev-parse", "--verify", "-q", &format!("{rev}^{{commit}}")])
        .read()
}

/// `git status --porcelain` lines (tracked changes and untracked files).
pub fn dirty_files(dir: &Path) -> Result<Vec<String>> {
    Ok(git(dir)
        .args(["status", "--porcelain"])
        .read()?
        .lines()
        .map(str::to_string)
        .collect())
}

/// Makes `tree` a fresh detached work tree of the repository `main_tree`
/// at `rev` (a previous work tree there is removed first).  Used for the
/// unpatched baselines of `gcc-check --compare` and `glibc-compare`.
/// Errors: git fails (e.g. `rev` unknown), `tree` cannot be removed.
pub fn fresh_worktree(main_tree: &Path, tree: &Path, rev: &str) -> Result<()> {
    if tree.exists() {
        let _ = git(main_tree)
            .args(["worktree", "remove", "--force"])
            .arg(tree)
            .output();
        if tree.exists() {
            std::fs::remove_dir_all(tree)?;
        }
    }
    git(main_tree).args(["worktree", "prune"]).read()?;
    git(main_tree)
        .args(["worktree", "add", "--detach", "-q"])
        .arg(tree)
        .arg(rev)
        .read()?;
    Ok(())
}
