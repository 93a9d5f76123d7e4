//! The crate's layout, checked: no chapter imports another chapter, and the vocabulary imports none.
//!
//! The chapters are the modules [`MANIFEST`](crate::MANIFEST) names; the assembly (`lib.rs`,
//! `main.rs`, `openapi.rs`, `seed.rs`, and this test) may use anything; every other file under
//! `src/` is vocabulary. The test reads the source: every `crate::` path outside comments, and
//! `super::` where it could leave a chapter's folder.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::MANIFEST;

const ASSEMBLY: [&str; 5] = ["lib.rs", "main.rs", "openapi.rs", "seed.rs", "layout.rs"];

/// What a file is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// A chapter: a module of a topic; the name of its top-level module.
    Chapter(String),
    Vocabulary,
    Assembly,
}

/// The top-level module a file under `src/` belongs to: `tokens/keys.rs` → `tokens`.
fn root_of(file: &str) -> String {
    let first = file.split('/').next().unwrap_or(file);
    first.trim_end_matches(".rs").to_owned()
}

fn chapters() -> BTreeSet<String> {
    MANIFEST
        .topics
        .iter()
        .flat_map(|topic| topic.modules.iter())
        .map(|module| root_of(module))
        .collect()
}

fn kind_of(file: &str, chapters: &BTreeSet<String>) -> Kind {
    if ASSEMBLY.contains(&file) {
        return Kind::Assembly;
    }
    let root = root_of(file);
    if chapters.contains(&root) {
        Kind::Chapter(root)
    } else {
        Kind::Vocabulary
    }
}

/// `source` without its comments and the text of its string literals, each line kept in place:
/// `"http://x"` is not a comment and `"crate::scopes"` is not a path.
fn code_only(source: &str) -> String {
    let mut code = String::with_capacity(source.len());
    let mut chars = source.chars().peekable();
    let (mut in_string, mut in_comment) = (false, false);
    while let Some(c) = chars.next() {
        if c == '\n' {
            in_comment = false;
            code.push(c);
        } else if in_comment {
        } else if in_string {
            match c {
                '\\' => {
                    chars.next();
                }
                '"' => {
                    in_string = false;
                    code.push(c);
                }
                _ => {}
            }
        } else if c == '/' && chars.peek() == Some(&'/') {
            in_comment = true;
        } else if c == '\'' && chars.peek() == Some(&'"') {
            // The character `'"'` opens no string.
            code.push(c);
            code.extend(chars.next());
        } else {
            in_string = c == '"';
            code.push(c);
        }
    }
    code
}

/// The top-level modules (or items of `lib.rs`) a source refers to by `crate::` paths, each with
/// its line, `use crate::{a, b::c}` groups included, over as many lines as rustfmt gives them; and
/// the lines that use `super::` to leave a file's folder.
fn references(source: &str, nested: bool) -> (Vec<(usize, String)>, Vec<usize>) {
    let code = code_only(source);
    let line_of = |offset: usize| code[..offset].matches('\n').count() + 1;
    let mut found = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        let Some(group) = rest.strip_prefix('{') else {
            found.push((line_of(at), ident(rest)));
            continue;
        };
        // The names at the group's top level: `{auth::{Caller, Scope}, books}` → auth, books.
        let (mut depth, mut start) = (0, 0);
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    found.push((line_of(at), ident(group[start..i].trim())));
                    break;
                }
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    found.push((line_of(at), ident(group[start..i].trim())));
                    start = i + 1;
                }
                _ => {}
            }
        }
    }
    found.retain(|(_, name)| !name.is_empty());
    // In a top-level file, and in a folder's `mod.rs`, `super::` is the crate itself (a test
    // module's `use super::*;` aside); deeper in a chapter's folder one `super::` stays in it, two
    // leave it.
    let escapes = code
        .lines()
        .enumerate()
        .filter(|(_, line)| {
            if nested {
                line.contains("super::super::")
            } else {
                line.contains("super::") && line.trim() != "use super::*;"
            }
        })
        .map(|(number, _)| number + 1)
        .collect();
    (found, escapes)
}

fn ident(text: &str) -> String {
    text.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// What is wrong with `file` (a path under `src/`) holding `source`: one line per import that
/// breaks the layout.
fn violations(file: &str, source: &str, chapters: &BTreeSet<String>) -> Vec<String> {
    let kind = kind_of(file, chapters);
    if kind == Kind::Assembly {
        return Vec::new();
    }
    let vocabulary = |name: &str| {
        !chapters.contains(name)
            && source_file(name).is_some_and(|path| !ASSEMBLY.contains(&path.as_str()))
    };
    let nested = file.contains('/') && !file.ends_with("/mod.rs");
    let (found, escapes) = references(source, nested);
    let mut wrong = Vec::new();
    for (line, name) in found {
        let allowed = match &kind {
            Kind::Chapter(own) => *own == name || vocabulary(&name),
            Kind::Vocabulary => vocabulary(&name),
            Kind::Assembly => true,
        };
        if !allowed {
            let what = if chapters.contains(&name) {
                "another chapter"
            } else {
                "something that is not vocabulary"
            };
            wrong.push(format!("{file}:{line}: uses crate::{name}, {what}"));
        }
    }
    for line in escapes {
        wrong.push(format!(
            "{file}:{line}: reaches outside its folder with super::"
        ));
    }
    wrong
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The file of top-level module `name`, relative to `src/`, if it has one.
fn source_file(name: &str) -> Option<String> {
    let flat = format!("{name}.rs");
    let folder = format!("{name}/mod.rs");
    [flat, folder]
        .into_iter()
        .find(|file| src().join(file).is_file())
}

/// Every `.rs` file under `src/`, relative to it, with `/` between folders.
fn source_files() -> Vec<String> {
    fn walk(dir: &Path, prefix: &str, files: &mut Vec<String>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .expect("src/ is readable")
            .map(|entry| entry.expect("a directory entry").path())
            .collect();
        entries.sort();
        for path in entries {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                walk(&path, &format!("{prefix}{name}/"), files);
            } else if name.ends_with(".rs") {
                files.push(format!("{prefix}{name}"));
            }
        }
    }
    let mut files = Vec::new();
    walk(&src(), "", &mut files);
    files
}

#[test]
fn no_chapter_imports_another_and_the_vocabulary_imports_none() {
    let chapters = chapters();
    let mut wrong = Vec::new();
    for file in source_files() {
        let source = std::fs::read_to_string(src().join(&file)).expect("a source file");
        wrong.extend(violations(&file, &source, &chapters));
    }
    assert!(
        wrong.is_empty(),
        "the layout is broken:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn every_module_the_manifest_names_exists() {
    for topic in MANIFEST.topics {
        for module in topic.modules {
            assert!(src().join(module).is_file(), "{} names {module}", topic.id);
        }
    }
}

#[test]
fn the_check_finds_a_chapter_that_imports_another() {
    let chapters = chapters();
    let cases = [
        ("tokens/endpoint.rs", "use crate::passwords::Passwords;", 1),
        (
            "hateoas.rs",
            "use crate::{auth::Caller, idempotency::Records};",
            1,
        ),
        ("users.rs", "let x = crate::tokens::keys::KEPT_KEYS;", 1),
        ("auth/caller.rs", "use crate::SCHEMA;", 1),
        ("tokens/keys.rs", "use super::super::rbac::Admin;", 1),
        ("passwords.rs", "use super::rbac::Admin;", 1),
        (
            "tokens/keys.rs",
            "use super::refresh::issue;\nuse crate::auth::Caller;",
            0,
        ),
        (
            "versioning.rs",
            "// see crate::scopes for the other half",
            0,
        ),
        ("openapi.rs", "use crate::{hateoas, scopes};", 0),
        // rustfmt's form of a long group, one name a line.
        (
            "hateoas.rs",
            "use crate::{\n    auth::{Caller, Scope},\n    scopes::Scoped,\n    users,\n};",
            1,
        ),
        // In a folder's `mod.rs`, `super::` is already the crate root.
        ("tokens/mod.rs", "use super::rbac::Admin;", 1),
        (
            "tokens/mod.rs",
            "#[cfg(test)]\nmod tests {\n    use super::*;\n}",
            0,
        ),
        // After a test module, the rest of the file is checked as before.
        (
            "passwords.rs",
            "#[cfg(test)]\nmod tests {\n    use super::*;\n}\nuse super::rbac::Admin;",
            1,
        ),
        // A `//` in a string is not a comment, and a path in a string is not a path.
        (
            "versioning.rs",
            "const URL: &str = \"http://x\"; use crate::scopes::Scoped;",
            1,
        ),
        ("versioning.rs", "const S: &str = \"crate::scopes\";", 0),
        (
            "versioning.rs",
            "let q = '\"'; use crate::scopes::Scoped;",
            1,
        ),
    ];
    for (file, source, expected) in cases {
        assert_eq!(
            violations(file, source, &chapters).len(),
            expected,
            "{file}: {source}"
        );
    }
}
