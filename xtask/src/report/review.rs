//! `cargo xtask review`: one Markdown report per series for upstream
//! reviewers, and a cover-letter draft for each.
//!
//! A report states what the series changes and why (its commit messages
//! and diffstats, read from `patches/<component>/`), the part of the ABI
//! (`docs/abi.md`) it implements, the evidence (a fresh conformance run on
//! the published toolchain, the benchmark table `docs/bench.md`, the
//! before/after testsuite comparisons) and the commands that reproduce each
//! figure.  Evidence that has not been produced yet is named as missing,
//! never left out silently.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::base::cache::{write_atomic, Cache};
use crate::base::manifest::Component;
use crate::base::shell::Ui;
use crate::toolchain::info::ToolchainInfo;

/// One patch of a series, as read from its `git format-patch` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchInfo {
    /// File name in `patches/<component>/`.
    pub file: String,
    /// The subject without the `[PATCH]` prefix.
    pub subject: String,
    /// The commit message body (ChangeLog included).
    pub body: String,
    /// The diffstat lines `git format-patch` writes after `---`.
    pub diffstat: Vec<String>,
}

/// Parses a `git format-patch` file.  Errors: no `Subject:` header.
pub fn parse_patch(file: &str, text: &str) -> Result<PatchInfo> {
    use mailparse::MailHeaderMap;
    // git format-patch output is a mail: the From line, then RFC 5322
    // headers (folded, possibly RFC 2047-encoded), a blank line, the body.
    let mail = text.split_once('\n').map_or("", |(_, rest)| rest);
    let (headers, body_at) = mailparse::parse_headers(mail.as_bytes())
        .with_context(|| format!("{file}: malformed mail headers"))?;
    let subject = headers
        .get_first_value("Subject")
        .with_context(|| format!("{file}: no Subject: header"))?;
    let subject = subject.trim_start_matches("[PATCH]").trim().to_string();
    let mut lines = mail.get(body_at..).unwrap_or("").lines();
    let mut body = Vec::new();
    for l in lines.by_ref() {
        if l == "---" {
            break;
        }
        body.push(l);
    }
    let diffstat = lines
        .take_while(|l| !l.starts_with("diff --git"))
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.trim().to_string())
        .collect();
    Ok(PatchInfo {
        file: file.to_string(),
        subject,
        body: body.join("\n").trim_end().to_string(),
        diffstat,
    })
}

/// The sections `## N. ...` of `docs/abi.md` whose numbers are in
/// `numbers`, verbatim.
pub fn abi_sections(abi: &str, numbers: &[u32]) -> String {
    sections(abi, 2, |h| {
        h.split('.')
            .next()
            .and_then(|n| n.trim().parse::<u32>().ok())
            .is_some_and(|n| numbers.contains(&n))
    })
}

/// The Markdown sections of heading level `level` (`##` = 2) whose
/// heading text (after the `#`s and a space) `wanted` accepts, each up to
/// the next heading of that level or a higher one, in document order.
fn sections(md: &str, level: usize, wanted: impl Fn(&str) -> bool) -> String {
    let mut out = String::new();
    let mut keep = false;
    for l in md.lines() {
        let hashes = l.chars().take_while(|&c| c == '#').count();
        if hashes > 0 && hashes <= level && l[hashes..].starts_with(' ') {
            keep = hashes == level && wanted(l[hashes + 1..].trim_end());
        }
        if keep {
            out.push_str(l);
            out.push('\n');
        }
    }
    out
}

struct SeriesText {
    component: Component,
    title: &'static str,
    list: &'static str,
    abi: &'static [u32],
    comparison: &'static str,
}

const SERIES: &[SeriesText] = &[
    SeriesText {
        component: Component::Glibc,
        title:
            "aarch64: split-stack guard slot at TP - 8 and __tcb_private_ss@GLIBC_ABI_SPLIT_STACK",
        list: "libc-alpha@sourceware.org",
        abi: &[1, 2, 3, 4],
        comparison: "glibc",
    },
    SeriesText {
        component: Component::Gcc,
        title: "aarch64: -fsplit-stack for GNU/Linux",
        list: "gcc-patches@gcc.gnu.org",
        abi: &[5, 7],
        comparison: "gcc",
    },
    SeriesText {
        component: Component::Binutils,
        title: "gold: AArch64 split-stack support for calls into non-split code",
        list: "binutils@sourceware.org",
        abi: &[6],
        comparison: "binutils",
    },
];

fn comparison_text(cache: &Cache, repo: &Path, which: &str) -> String {
    match which {
        "gcc" => {
            let c = match std::fs::read_to_string(repo.join("docs/gcc-compare.md")) {
                Ok(t) => format!(
                    "From `docs/gcc-compare.md` (reproduce: `cargo xtask gcc-check --compare`):\n\n{}",
                    demote(&t)
                ),
                Err(_) => "**Missing:** no `docs/gcc-compare.md`; run `cargo xtask gcc-check \
                           --compare`."
                    .into(),
            };
            format!("{c}\n\n{}", go_text(repo))
        }
        "glibc" => match std::fs::read_to_string(repo.join("docs/glibc-compare.md")) {
            Ok(t) => format!(
                "From `docs/glibc-compare.md` (reproduce: `cargo xtask glibc-compare`):\n\n{}",
                demote(&t)
            ),
            Err(_) => match std::fs::read_to_string(cache.logs().join("glibc-compare.md")) {
                Ok(t) => format!(
                    "From the last `cargo xtask glibc-compare` on this machine:\n\n{}",
                    demote(&t)
                ),
                Err(_) => "**Missing:** glibc's own `nptl` and `elf` tests have not been compared \
                       on this machine yet; run `cargo xtask glibc-compare` (long: it builds \
                       the unpatched glibc). The series' own tests and `check-abi` run in CI \
                       (`cargo xtask glibc-tests`)."
                    .into(),
            },
        },
        _ => {
            let ci = "gold's own `testsuite/split_aarch64.sh` (added by the series) runs in CI \
                      (`cargo xtask test`); the conformance check `linker/non-split-calls` \
                      links and runs a program with the patched gold.";
            match std::fs::read_to_string(repo.join("docs/gold-compare.md")) {
                Ok(t) => format!(
                    "{ci} gold's own testsuite, unpatched vs patched, from \
                     `docs/gold-compare.md` (reproduce: `cargo xtask gold-compare`):\n\n{}",
                    demote(&t)
                ),
                Err(_) => match std::fs::read_to_string(cache.logs().join("gold-compare.md")) {
                    Ok(t) => format!(
                        "{ci} From the last `cargo xtask gold-compare` on this machine:\n\n{}",
                        demote(&t)
                    ),
                    Err(_) => format!(
                        "{ci} **Missing:** gold's own testsuite has not been compared before/after \
                         on this machine yet; run `cargo xtask gold-compare` (it builds the \
                         unpatched binutils once)."
                    ),
                },
            }
        }
    }
}

/// The Go results for the GCC series (gccgo is split stacks' main user,
/// docs/gccgo.md): the Go testsuite comparison of `docs/go-check.md` and
/// the memory figures of `docs/gccgo.md`, or a note naming what to run.
fn go_text(repo: &Path) -> String {
    let check = match std::fs::read_to_string(repo.join("docs/go-check.md")) {
        Ok(t) => format!(
            "From `docs/go-check.md` (reproduce: `cargo xtask go-check`, toolchain built \
             `--with-go`):\n\n{}",
            demote(&demote(&t))
        ),
        Err(_) => "**Missing:** no `docs/go-check.md`; run `cargo xtask build-toolchain \
                   --with-go` and `cargo xtask go-check`."
            .into(),
    };
    let measured = std::fs::read_to_string(repo.join("docs/gccgo.md"))
        .ok()
        .map(|t| sections(&t, 2, |h| h == "Measurements"))
        .filter(|m| !m.is_empty())
        .map(|m| {
            format!(
                "\n\nFrom `docs/gccgo.md` (reproduce: `cargo xtask bench --go`):\n\n{}",
                demote(&m)
            )
        })
        .unwrap_or_else(|| {
            "\n\n**Missing:** no \"Measurements\" section in `docs/gccgo.md`; run \
             `cargo xtask bench --go`."
                .into()
        });
    format!("## gccgo\n\n{check}{measured}")
}

/// Headings one level down, so that an included document nests.
fn demote(md: &str) -> String {
    md.lines()
        .map(|l| {
            if l.starts_with('#') {
                format!("#{l}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Writes `<out>/<component>.md` and `<out>/<component>-cover-letter.txt`
/// for every series; returns the paths written.  Errors: a patch file
/// cannot be read or parsed, no published toolchain for the conformance
/// run (run `cargo xtask build-toolchain`), `docs/abi.md` missing.
///
/// `patches_check` holds the lines of a `cargo xtask patches check` run
/// just before (one per component); the report quotes its component's.
pub fn run(
    ui: &Ui,
    cache: &Cache,
    repo: &Path,
    out: &Path,
    patches_check: &[String],
) -> Result<Vec<PathBuf>> {
    let abi = std::fs::read_to_string(repo.join("docs/abi.md")).context("docs/abi.md missing")?;
    let info = ToolchainInfo::published(cache)
        .context("no toolchain: run `cargo xtask build-toolchain` first")?;
    ui.line("review: running the conformance suite on the published toolchain");
    let tc = info.conformance_toolchain(&[])?;
    let report = conformance::run_with_progress(&tc, &mut ui.conformance_progress())?;
    let bench = std::fs::read_to_string(repo.join("docs/bench.md")).unwrap_or_else(|_| {
        "**Missing:** no `docs/bench.md`; run `cargo xtask bench --markdown docs/bench.md`.".into()
    });
    std::fs::create_dir_all(out)?;
    let mut written = Vec::new();
    for s in SERIES {
        let c = s.component;
        let mut patches = Vec::new();
        for f in crate::toolchain::patches::series(repo, c)? {
            let text = std::fs::read_to_string(&f)?;
            let name = f
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            patches.push(parse_patch(&name, &text)?);
        }
        let n = patches.len();
        let mut md = format!(
            "# Review report: {}\n\nSeries `patches/{c}/`, {n} patch(es), for {}. `cargo \
             xtask patches check`, run for this report, applies every patch with `git am` to \
             the pristine {c} source pinned in `toolchain.toml`: {}.\n\n## What the series \
             changes and why\n\n",
            s.title,
            s.list,
            patches_check
                .iter()
                .find(|l| l.starts_with(&format!("{c}:")))
                .map(String::as_str)
                .unwrap_or("not run")
        );
        for (i, p) in patches.iter().enumerate() {
            md.push_str(&format!(
                "### {}/{n} {}\n\n```text\n{}\n```\n\n```text\n{}\n```\n\n",
                i + 1,
                p.subject,
                p.body,
                p.diffstat.join("\n")
            ));
        }
        md.push_str("## The ABI it implements (from `docs/abi.md`)\n\n");
        md.push_str(&demote(&abi_sections(&abi, s.abi)));
        md.push_str(
            "\n## Conformance (fresh run of `cargo xtask conformance` on the built \
             toolchain)\n\n",
        );
        md.push_str(&demote(&report.markdown()));
        md.push_str("\n## Testsuite comparison, unpatched vs patched\n\n");
        md.push_str(&comparison_text(cache, repo, s.comparison));
        md.push_str("\n\n## Benchmarks (`docs/bench.md`, from `cargo xtask bench`)\n\n");
        md.push_str(&bench);
        md.push_str(
            "\n## Reproducing\n\n```sh\ncargo xtask build-toolchain        # patched \
             toolchain from the pinned sources\ncargo xtask patches check           # every \
             series applies to its pristine tree\ncargo xtask conformance             # the \
             conformance table above\ncargo xtask test                    # fmt, clippy, \
             glibc-tests, gold tests, cargo test\ncargo xtask gcc-check               # GCC's \
             split-stack DejaGnu tests under qemu-user\ncargo xtask gcc-check --compare     # \
             gcc.target/aarch64 before/after\ncargo xtask glibc-compare           # glibc \
             nptl/elf before/after\ncargo xtask conformance --rootfs    # the suite in a \
             Debian arm64 userland (as root)\ncargo xtask bench                   # the \
             benchmark table\n```\n",
        );
        let path = out.join(format!("{c}.md"));
        write_atomic(&path, md.as_bytes())?;
        written.push(path);

        let mut cover = format!(
            "To: {}\nSubject: [PATCH 0/{n}] {}\n\nThis series adds what AArch64 GNU/Linux \
             needs for GCC's -fsplit-stack, as specified in the project's docs/abi.md: \
             a guard word at TP - 8 in every thread (glibc), the prologue, __morestack and \
             __splitstack_* (GCC, libgcc), and the rewrite of split-stack prologues that call \
             non-split code (gold).  This part:\n\n",
            s.list, s.title
        );
        for p in &patches {
            cover.push_str(&format!("  {}\n", p.subject));
        }
        cover.push_str(
            "\nTesting: the series' own tests, a conformance suite (prologue forms decoded from \
             the object code, guard offset, run-time behaviour under qemu-user, refusal by \
             older glibc), and a before/after run of the existing testsuite; see the attached \
             report for the figures and the commands that reproduce them.\n",
        );
        let path = out.join(format!("{c}-cover-letter.txt"));
        write_atomic(&path, cover.as_bytes())?;
        written.push(path);
    }
    for p in &written {
        ui.line(format!("review: wrote {}", p.display()));
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_patch_is_parsed() {
        let text = "From 0000 Mon Sep 17 00:00:00 2001\nFrom: A <a@b>\nDate: x\n\
                    Subject: [PATCH] gold: Do a thing\n\nWhy it is done.\n\n\
                    \t* aarch64.cc (f): New.\n---\n gold/aarch64.cc | 2 ++\n \
                    1 file changed, 2 insertions(+)\n\ndiff --git a/x b/x\n+y\n";
        let p = parse_patch("0001-x.patch", text).unwrap();
        assert_eq!(p.subject, "gold: Do a thing");
        assert!(p.body.contains("Why it is done."));
        assert!(p.body.contains("* aarch64.cc (f): New."));
        assert_eq!(p.diffstat.len(), 2);
        assert!(parse_patch("y", "no headers\n").is_err());
    }

    #[test]
    fn folded_and_encoded_subjects_are_joined() {
        let text = "From 0000 Mon Sep 17 00:00:00 2001\nFrom: =?UTF-8?q?J=C3=B6rg?= <j@b>\n\
                    Subject: [PATCH] gold: AArch64 split-stack support for calls into\n \
                    non-split code\n\nBody.\n---\n x | 1 +\n";
        let p = parse_patch("0001-x.patch", text).unwrap();
        assert_eq!(
            p.subject,
            "gold: AArch64 split-stack support for calls into non-split code"
        );
        assert_eq!(p.body, "Body.");
    }

    #[test]
    fn gold_comparison_is_included_or_named_as_missing() {
        let repo = tempfile::tempdir().unwrap();
        let cache = Cache::at(repo.path().join("cache"));
        let missing = comparison_text(&cache, repo.path(), "binutils");
        assert!(missing.contains("**Missing:**"), "{missing}");
        assert!(missing.contains("`cargo xtask gold-compare`"), "{missing}");
        std::fs::create_dir_all(repo.path().join("docs")).unwrap();
        std::fs::write(
            repo.path().join("docs/gold-compare.md"),
            "# gold testsuite comparison\n\n- regressions: 0\n",
        )
        .unwrap();
        let t = comparison_text(&cache, repo.path(), "binutils");
        assert!(t.contains("## gold testsuite comparison"), "{t}");
        assert!(t.contains("- regressions: 0"), "{t}");
        assert!(!t.contains("has not been run before/after"), "{t}");
    }

    #[test]
    fn gcc_section_gains_the_go_results_or_names_them_missing() {
        let repo = tempfile::tempdir().unwrap();
        let cache = Cache::at(repo.path().join("cache"));
        let missing = comparison_text(&cache, repo.path(), "gcc");
        assert!(missing.contains("no `docs/go-check.md`"), "{missing}");
        assert!(missing.contains("`cargo xtask bench --go`"), "{missing}");
        std::fs::create_dir_all(repo.path().join("docs")).unwrap();
        std::fs::write(
            repo.path().join("docs/go-check.md"),
            "# Go testsuite\n\n0 regressions\n",
        )
        .unwrap();
        std::fs::write(
            repo.path().join("docs/gccgo.md"),
            "# gccgo\n\n## Checks\n\nc\n\n## Measurements\n\n| a |\n\n### Sub\n\nm\n\n## Go testsuite\n\nz\n",
        )
        .unwrap();
        let t = comparison_text(&cache, repo.path(), "gcc");
        assert!(t.contains("0 regressions") && t.contains("| a |"), "{t}");
        assert!(
            t.contains("m\n") && !t.contains("c\n\n") && !t.contains('z'),
            "{t}"
        );
        assert!(!t.contains("no `docs/go-check.md`"), "{t}");
    }

    #[test]
    fn abi_sections_are_selected_by_number() {
        let abi = "# T\nintro\n## 1. One\na\n### 1.1 Sub\nb\n## 2. Two\nc\n## Building\nd\n";
        let s = abi_sections(abi, &[1]);
        assert!(s.contains("## 1. One") && s.contains("### 1.1 Sub") && s.contains("b\n"));
        assert!(!s.contains("Two") && !s.contains("Building") && !s.contains("intro"));
    }
}
