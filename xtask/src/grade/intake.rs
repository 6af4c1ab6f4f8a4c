// SPDX-License-Identifier: GPL-2.0

//! Taking a submission in: the students' directories, the one Rust file each exercise needs
//! from each, and what is refused before anything is built (no file, a wrong name, a link, a
//! file too large, bytes that are not UTF-8, a changed frame, code the grader does not run).
//!
//! Only the exercise's `.rs` file is taken: a student's `Makefile`, `Kbuild` or C file would
//! run commands or add code on the grader, so the build files are always the project's.

use crate::exercise::source;
use crate::exercise::spec::Exercise;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The largest source file taken, in bytes: an exercise's file is 5-12 KB.
pub const MAX_SOURCE_BYTES: u64 = 256 * 1024;

/// One student's submission: a directory of the submissions directory, or a clone of their
/// repository (the git commit is read from `.git`, git itself is never run on it).
#[derive(Debug, Clone)]
pub struct Submission {
    /// The directory's name.
    pub student: String,
    pub dir: PathBuf,
    /// The commit checked out, when the directory is a git clone.
    pub commit: Option<String>,
}

/// Why a submission was not built: a short kind (`no-file`, `file-name`, `link`, `size`,
/// `encoding`, `frame`, `forbidden`, `build`, `build-time`) and what to do about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub what: &'static str,
    pub reason: String,
}

fn refuse(what: &'static str, reason: String) -> Refusal {
    Refusal { what, reason }
}

/// The students under `root`: its sub-directories, in name order; hidden ones are skipped.
pub fn discover(root: &Path) -> std::io::Result<Vec<Submission>> {
    let mut subs = Vec::new();
    for entry in std::fs::read_dir(root)?.flatten() {
        let student = entry.file_name().to_string_lossy().into_owned();
        if student.starts_with('.') {
            continue;
        }
        let meta = entry.path().symlink_metadata()?;
        if !meta.is_dir() && !meta.file_type().is_symlink() {
            continue;
        }
        let dir = entry.path();
        let commit = git_commit(&dir.join(".git"));
        subs.push(Submission { student, dir, commit });
    }
    subs.sort_by(|a, b| a.student.cmp(&b.student));
    Ok(subs)
}

/// The commit `HEAD` names in the git directory `git`, from its files (`HEAD`, the ref's file,
/// `packed-refs`).
pub fn git_commit(git: &Path) -> Option<String> {
    let head = std::fs::read_to_string(git.join("HEAD")).ok()?;
    let head = head.trim();
    let is_id = |s: &str| s.len() == 40 && s.chars().all(|c| c.is_ascii_hexdigit());
    let Some(reference) = head.strip_prefix("ref: ") else {
        return is_id(head).then(|| head.to_string());
    };
    if reference.contains("..") {
        return None;
    }
    if let Ok(id) = std::fs::read_to_string(git.join(reference)) {
        return is_id(id.trim()).then(|| id.trim().to_string());
    }
    std::fs::read_to_string(git.join("packed-refs")).ok()?.lines().find_map(|l| {
        let (id, name) = l.split_once(' ')?;
        (name == reference && is_id(id)).then(|| id.to_string())
    })
}

/// Where a student's file for `exercise` may be, relative to their directory: beside the
/// others (`01-mutex-in-hard-irq.rs`), in the exercise's directory, or where a clone of this
/// repository keeps it.
pub fn candidates(exercise: &Exercise) -> Vec<String> {
    vec![
        format!("{}.rs", exercise.name),
        format!("{}/{}", exercise.name, crate::exercise::spec::MINE),
        format!("exercises/{}/{}", exercise.name, crate::exercise::spec::MINE),
    ]
}

/// The `.rs` files in `dir` and two levels below, relative to it, for a message.
fn rust_files(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), 0)];
    while let Some((at, depth)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&at) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = path.symlink_metadata() else { continue };
            if meta.is_dir() && depth < 2 && !entry.file_name().to_string_lossy().starts_with('.') {
                stack.push((path, depth + 1));
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push(path.strip_prefix(dir).unwrap_or(&path).display().to_string());
            }
        }
    }
    found.sort();
    found
}

/// The text of `submission`'s file for `exercise`, and the file, or why it is refused.
pub fn take(submission: &Submission, exercise: &Exercise) -> Result<(String, PathBuf), Refusal> {
    let link = submission.dir.symlink_metadata().map(|m| m.file_type().is_symlink()).unwrap_or(false);
    if link {
        return Err(refuse(
            "link",
            "the submission is a symbolic link, not a directory: submit the files themselves".into(),
        ));
    }
    let expected = candidates(exercise);
    for name in &expected {
        let path = submission.dir.join(name);
        let Ok(meta) = path.symlink_metadata() else { continue };
        if meta.file_type().is_symlink() {
            return Err(refuse("link", format!("{name} is a symbolic link: submit the file itself")));
        }
        if !meta.is_file() {
            continue;
        }
        if meta.len() > MAX_SOURCE_BYTES {
            return Err(refuse(
                "size",
                format!(
                    "{name} has {} bytes; the grader takes at most {MAX_SOURCE_BYTES}: submit only the exercise's file",
                    meta.len()
                ),
            ));
        }
        let mut bytes = Vec::new();
        let read =
            std::fs::File::open(&path).and_then(|f| f.take(MAX_SOURCE_BYTES + 1).read_to_end(&mut bytes));
        if let Err(e) = read {
            return Err(refuse("no-file", format!("{name} could not be read: {e}")));
        }
        return match String::from_utf8(bytes) {
            Ok(text) => Ok((text, path)),
            Err(e) => {
                let at = e.utf8_error().valid_up_to();
                let line = e.as_bytes()[..at].iter().filter(|b| **b == b'\n').count() + 1;
                Err(refuse(
                    "encoding",
                    format!("{name} is not UTF-8 (byte {at}, line {line}): Rust source must be UTF-8; save it as UTF-8"),
                ))
            }
        };
    }
    let found = rust_files(&submission.dir);
    if found.is_empty() {
        Err(refuse("no-file", format!("no file for this exercise: expected {}", expected[0])))
    } else {
        Err(refuse(
            "file-name",
            format!(
                "no {} (nor {}); found {}: rename your file {}",
                expected[0],
                expected[1..].join(", "),
                found.join(", "),
                expected[0]
            ),
        ))
    }
}

/// The patches (`*.patch`, `*.diff`) at the top of `dir`, in name order; links are left out.
pub fn patches(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "patch" || e == "diff"))
        .filter(|p| p.symlink_metadata().is_ok_and(|m| m.is_file()))
        .collect();
    found.sort();
    found
}

/// A student's patch applied to the exercise's starter, as `exercises/NAME/mine.rs` (`git
/// apply`, paths as `git diff` writes them: `a/exercises/NAME/mine.rs`), in the sandbox, in
/// `work`. `None` when the student handed in no patch; a patch that does not apply, or changes
/// no such file, is refused with git's words.
pub fn take_patch(
    submission: &Submission,
    exercise: &Exercise,
    starter: &str,
    bwrap: &Path,
    work: &Path,
) -> Option<Result<(String, PathBuf), Refusal>> {
    let patches = patches(&submission.dir);
    let patch = patches.first()?;
    let name = patch.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let target = format!("exercises/{}/{}", exercise.name, crate::exercise::spec::MINE);
    let result = (|| {
        let size = patch.symlink_metadata().map(|m| m.len()).unwrap_or(0);
        if size > MAX_SOURCE_BYTES {
            return Err(refuse(
                "size",
                format!("{name} has {size} bytes; the grader takes at most {MAX_SOURCE_BYTES}"),
            ));
        }
        let text =
            std::fs::read(patch).map_err(|e| refuse("no-file", format!("{name} could not be read: {e}")))?;
        if !String::from_utf8_lossy(&text).contains(&target) {
            return Err(refuse(
                "file-name",
                format!("{name} changes no {target}: make the patch against it"),
            ));
        }
        let _ = std::fs::remove_dir_all(work);
        let file = work.join(&target);
        let made = std::fs::create_dir_all(file.parent().unwrap_or(work))
            .and_then(|()| std::fs::write(&file, starter))
            .and_then(|()| std::fs::write(work.join("submission.patch"), &text));
        made.map_err(|e| refuse("no-file", format!("could not write {}: {e}", work.display())))?;
        let mut apply = std::process::Command::new("/usr/bin/git");
        apply.args(["apply", "--whitespace=nowarn", "--include", &target, "submission.patch"]);
        let out = super::sandbox::wrap(bwrap, &apply, &[], work)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| refuse("patch", format!("git apply could not run: {e}")))?;
        if !out.status.success() {
            return Err(refuse(
                "patch",
                format!(
                    "{name} does not apply to the starter: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            ));
        }
        let text = std::fs::read_to_string(&file)
            .map_err(|e| refuse("encoding", format!("the patched file is not UTF-8: {e}")))?;
        Ok((text, PathBuf::from(&name)))
    })();
    Some(result)
}

/// Constructs a submission's own lines (the TODO blocks) may not hold, unless the exercise's
/// own variants have the same line: they reach past the module (the guest's ports and files,
/// such as the harness's serial channel) or change how it links.
const FORBIDDEN: &[&str] =
    &["unsafe", "asm!", "global_asm!", "no_mangle", "link_section", "export_name", "extern"];

/// The lines of the TODO blocks of `annotated`'s variants that hold a [`FORBIDDEN`] word and
/// close every brace they open: a line such as `unsafe {` alone would let any code follow it.
fn allowed_lines(annotated: &str, own: &dyn Fn(&str) -> Vec<(usize, String)>) -> Vec<String> {
    let mut allowed = Vec::new();
    for variant in source::variants(annotated).unwrap_or_default() {
        if let Ok(generated) = source::generate(annotated, &variant) {
            allowed.extend(own(&generated).into_iter().map(|(_, l)| l).filter(|l| {
                let opens = l.matches('{').count();
                opens == l.matches('}').count() && FORBIDDEN.iter().any(|w| l.contains(w))
            }));
        }
    }
    allowed
}

/// Why `text` is refused before it is built: its frame differs from the exercise's, or a line
/// of its TODO blocks holds a [`FORBIDDEN`] word that no variant of the exercise has on that
/// line. `annotated` is the exercise's annotated source.
pub fn screen(text: &str, annotated: &str) -> Result<(), Refusal> {
    let starter = source::generate(annotated, "starter").map_err(|e| refuse("frame", e.message))?;
    if let Some(difference) = source::frame_difference(&starter, text) {
        return Err(refuse(
            "frame",
            format!("{difference}; only the lines from `// TODO n:` to `// END TODO n` are yours to change"),
        ));
    }
    let own = |text: &str| -> Vec<(usize, String)> {
        let frame: Vec<usize> = source::frame(text).into_iter().map(|(n, _)| n).collect();
        text.lines()
            .enumerate()
            .filter(|(i, _)| !frame.contains(&(i + 1)))
            .map(|(i, l)| (i + 1, l.trim().to_string()))
            .collect()
    };
    let allowed = allowed_lines(annotated, &own);
    for (number, line) in own(text) {
        let code = line.split("//").next().unwrap_or("");
        let word = FORBIDDEN.iter().find(|w| {
            code.match_indices(**w).any(|(at, _)| {
                let before = code[..at].chars().last();
                let after = code[at + w.len()..].chars().next();
                !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
                    && (w.ends_with('!') || !after.is_some_and(|c| c.is_alphanumeric() || c == '_'))
            })
        });
        if let Some(word) = word {
            if !allowed.contains(&line) {
                return Err(refuse(
                    "forbidden",
                    format!(
                        "line {number} uses `{}`, which the grader does not build: the exercise needs none \
                         (it would let the module reach past itself, to the guest's devices and files)",
                        word.trim_end_matches('!')
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The shard (`K/N`, 1-based) a student lands in: the first 8 bytes of SHA-256 of the
/// student's name, modulo `N`. Stable across machines and runs, and independent of the class
/// list, so that a student added later moves no one else.
pub fn shard_of(student: &str, shards: u32) -> u32 {
    let hash = Sha256::digest(student.as_bytes());
    let value = u64::from_le_bytes(hash[..8].try_into().expect("8 bytes"));
    (value % u64::from(shards)) as u32 + 1
}

/// `K/N` with `1 <= K <= N`.
pub fn parse_shard(text: &str) -> Result<(u32, u32), String> {
    let (k, n) = text.split_once('/').ok_or_else(|| format!("--shard {text}: expected K/N, such as 2/4"))?;
    let (k, n): (u32, u32) = match (k.parse(), n.parse()) {
        (Ok(k), Ok(n)) => (k, n),
        _ => return Err(format!("--shard {text}: K and N are numbers, such as 2/4")),
    };
    if n == 0 || k == 0 || k > n {
        return Err(format!("--shard {text}: K runs from 1 to N, and N is at least 1"));
    }
    Ok((k, n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exercise::spec;

    fn exercise1() -> Exercise {
        spec::load_all(&spec::root()).unwrap().remove(0)
    }

    #[test]
    fn every_student_lands_in_exactly_one_shard_and_stays_there() {
        let students: Vec<String> = (0..1000).map(|i| format!("student-{i:04}")).collect();
        for n in [1, 2, 3, 7, 16] {
            let mut sizes = vec![0usize; n as usize];
            for s in &students {
                let in_shards: Vec<u32> = (1..=n).filter(|k| shard_of(s, n) == *k).collect();
                assert_eq!(in_shards.len(), 1, "{s} in {in_shards:?} of {n}");
                sizes[(in_shards[0] - 1) as usize] += 1;
            }
            assert_eq!(sizes.iter().sum::<usize>(), students.len());
            // Spread: no shard holds twice its share.
            assert!(sizes.iter().all(|s| *s * n as usize <= 2 * students.len()), "{sizes:?}");
        }
        // The same name, the same shard, whatever else is in the class.
        assert_eq!(shard_of("ada", 4), shard_of("ada", 4));
        assert_eq!(shard_of("ada", 1), 1);
        assert_eq!(parse_shard("2/4"), Ok((2, 4)));
        for bad in ["0/4", "5/4", "1/0", "x", "1/x"] {
            assert!(parse_shard(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_file_is_found_or_refused_with_its_reason() {
        let ex = exercise1();
        let root = std::env::temp_dir().join(format!("irqlock-intake-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let make = |student: &str, files: &[(&str, &[u8])]| {
            let dir = root.join(student);
            std::fs::create_dir_all(&dir).unwrap();
            for (name, bytes) in files {
                let path = dir.join(name);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(path, bytes).unwrap();
            }
            Submission { student: student.into(), dir, commit: None }
        };
        let name = format!("{}.rs", ex.name);
        assert_eq!(take(&make("a", &[(&name, b"fn x() {}")]), &ex).unwrap().0, "fn x() {}");
        let nested = format!("exercises/{}/mine.rs", ex.name);
        assert!(take(&make("b", &[(&nested, b"x")]), &ex).is_ok());
        assert_eq!(take(&make("c", &[]), &ex).unwrap_err().what, "no-file");
        let wrong = take(&make("d", &[("ex1.rs", b"x")]), &ex).unwrap_err();
        assert_eq!(wrong.what, "file-name");
        assert!(wrong.reason.contains("found ex1.rs"), "{}", wrong.reason);
        let bad = take(&make("e", &[(&name, b"ok\n\xff\xfe")]), &ex).unwrap_err();
        assert_eq!((bad.what, bad.reason.contains("line 2")), ("encoding", true), "{}", bad.reason);
        let big = vec![b'/'; MAX_SOURCE_BYTES as usize + 1];
        assert_eq!(take(&make("f", &[(&name, &big)]), &ex).unwrap_err().what, "size");
        let linked = make("g", &[]);
        std::os::unix::fs::symlink("/etc/shadow", linked.dir.join(&name)).unwrap();
        assert_eq!(take(&linked, &ex).unwrap_err().what, "link");
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn the_screen_refuses_a_changed_frame_and_unsafe_code_the_exercise_lacks() {
        let ex = exercise1();
        let annotated = ex.source().unwrap();
        let solution = source::generate(&annotated, "solution").unwrap();
        assert_eq!(screen(&solution, &annotated), Ok(()));
        let frame = solution.replace("name: \"ex01\"", "name: \"ex02\"");
        assert_eq!(screen(&frame, &annotated).unwrap_err().what, "frame");
        let reach = solution.replace(
            "*this.value.lock() += 1;",
            "*this.value.lock() += 1;\n        unsafe { kernel::bindings::__module_get(core::ptr::null_mut()) };",
        );
        let refused = screen(&reach, &annotated).unwrap_err();
        assert_eq!(refused.what, "forbidden", "{}", refused.reason);
        assert!(refused.reason.contains("`unsafe`"), "{}", refused.reason);
        // Words that only contain a forbidden one, and comments, are not code that reaches out.
        let benign = solution.replace(
            "*this.value.lock() += 1;",
            "*this.value.lock() += 1; // unsafe? no\n        let _unsafe_count = 0;",
        );
        assert_eq!(screen(&benign, &annotated), Ok(()));
        // An exercise whose own variants need `unsafe` on a line (the edu registration) allows
        // that line.
        let edu =
            spec::load_all(&spec::root()).unwrap().into_iter().find(|e| e.name.starts_with("04")).unwrap();
        let annotated = edu.source().unwrap();
        for variant in ["solution", "starter"] {
            assert_eq!(
                screen(&source::generate(&annotated, variant).unwrap(), &annotated),
                Ok(()),
                "{variant}"
            );
        }
        // Every variant of every exercise passes the screen, which allows no line that opens
        // an `unsafe` block without closing it.
        for ex in spec::load_all(&spec::root()).unwrap() {
            let annotated = ex.source().unwrap();
            for variant in source::variants(&annotated).unwrap() {
                let text = source::generate(&annotated, &variant).unwrap();
                assert_eq!(screen(&text, &annotated), Ok(()), "{} {variant}", ex.name);
            }
        }
        let open = source::generate(&annotated, "solution").unwrap().replacen(
            "unsafe { irq::ThreadedRegistration::new(request, flags, c\"ex04\", Ok::<_, Error>(handler)) },",
            "unsafe {\n            irq::ThreadedRegistration::new(request, flags, c\"ex04\", Ok::<_, Error>(handler))\n        },",
            1,
        );
        assert_eq!(screen(&open, &annotated).unwrap_err().what, "forbidden");
    }

    /// A patch against the starter (as `git diff` writes one) is applied in the sandbox; one
    /// that does not apply, or that changes another file, is refused.
    #[test]
    fn a_patch_is_applied_to_the_starter_or_refused() {
        let Ok(bwrap) = super::super::sandbox::bwrap() else {
            eprintln!("bwrap is not installed: not checked");
            return;
        };
        let ex = exercise1();
        let annotated = ex.source().unwrap();
        let starter = source::generate(&annotated, "starter").unwrap();
        let solution = source::generate(&annotated, "solution").unwrap();
        let root = std::env::temp_dir().join(format!("irqlock-patch-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let (a, b) = (root.join("a"), root.join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        std::fs::write(a.join("mine.rs"), &starter).unwrap();
        std::fs::write(b.join("mine.rs"), &solution).unwrap();
        let diff = std::process::Command::new("diff")
            .arg("-u")
            .arg(a.join("mine.rs"))
            .arg(b.join("mine.rs"))
            .output()
            .unwrap();
        let target = format!("exercises/{}/mine.rs", ex.name);
        let body = String::from_utf8_lossy(&diff.stdout).lines().skip(2).collect::<Vec<_>>().join("\n");
        let patch = format!("--- a/{target}\n+++ b/{target}\n{body}\n");
        let student = root.join("student");
        std::fs::create_dir_all(&student).unwrap();
        std::fs::write(student.join("fix.patch"), &patch).unwrap();
        let sub = Submission { student: "student".into(), dir: student.clone(), commit: None };
        let (text, _) = take_patch(&sub, &ex, &starter, &bwrap, &root.join("work")).unwrap().unwrap();
        assert_eq!(text, solution);
        // Against the solution, the same patch does not apply.
        let refused = take_patch(&sub, &ex, &solution, &bwrap, &root.join("work")).unwrap().unwrap_err();
        assert_eq!(refused.what, "patch", "{}", refused.reason);
        std::fs::write(student.join("fix.patch"), patch.replace(&target, "Makefile")).unwrap();
        assert_eq!(
            take_patch(&sub, &ex, &starter, &bwrap, &root.join("work")).unwrap().unwrap_err().what,
            "file-name"
        );
        std::fs::remove_file(student.join("fix.patch")).unwrap();
        assert!(take_patch(&sub, &ex, &starter, &bwrap, &root.join("work")).is_none());
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn a_clones_commit_is_read_from_its_files() {
        let git = std::env::temp_dir().join(format!("irqlock-git-{}", std::process::id()));
        std::fs::create_dir_all(git.join("refs/heads")).unwrap();
        let id = "0123456789abcdef0123456789abcdef01234567";
        std::fs::write(git.join("HEAD"), "ref: refs/heads/main\n").unwrap();
        std::fs::write(git.join("refs/heads/main"), format!("{id}\n")).unwrap();
        assert_eq!(git_commit(&git).as_deref(), Some(id));
        std::fs::remove_file(git.join("refs/heads/main")).unwrap();
        std::fs::write(git.join("packed-refs"), format!("# pack-refs\n{id} refs/heads/main\n")).unwrap();
        assert_eq!(git_commit(&git).as_deref(), Some(id));
        std::fs::write(git.join("HEAD"), "ref: ../../etc/passwd\n").unwrap();
        assert_eq!(git_commit(&git), None);
        let _ = std::fs::remove_dir_all(&git);
    }
}
