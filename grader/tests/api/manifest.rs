//! One list of topics per crate: its `MANIFEST`. Everything else that names the topics must agree
//! with it, and this test fails when one does not:
//!
//! - the grader: every topic has a check with its ID, and every check grades a topic of the crate
//!   (or is one of the conventions every crate is graded on, under phase 1's IDs);
//! - the crate's README: its table (`| ID | topic | Python idiom | Rust idiom here | file | try it |`)
//!   has one row per topic, no other row, and the row's file column links exactly the topic's
//!   modules (`[x.rs](src/x.rs)`);
//! - the topic modules: each file a topic names opens with a `//!` comment holding `**Roadmap:**`,
//!   `**Python:**`, `**Rust:**` and `**Why:**`.
//!
//! The checks are functions of text, so the tests at the end prove each can fail.

use std::collections::BTreeSet;
use std::path::PathBuf;

use common::manifest::{Manifest, Topic};
use grader::{Check, conventions};

/// A crate the grader grades: its folder, its manifest and the grader's checks for it.
struct Graded {
    folder: &'static str,
    manifest: &'static Manifest,
    checks: Vec<Check>,
}

fn crates() -> Vec<Graded> {
    vec![
        Graded {
            folder: "phase1-http",
            manifest: &phase1_http::MANIFEST,
            checks: grader::phase1::checks(),
        },
        Graded {
            folder: "phase2-frameworks",
            manifest: &phase2_frameworks::MANIFEST,
            checks: grader::phase2::checks(),
        },
        Graded {
            folder: "phase3-db",
            manifest: &phase3_db::MANIFEST,
            checks: grader::phase3::checks(),
        },
        Graded {
            folder: "phase4-security",
            manifest: &phase4_security::MANIFEST,
            checks: grader::phase4::checks(),
        },
        Graded {
            folder: "phase5-perf",
            manifest: &phase5_perf::MANIFEST,
            checks: grader::phase5::checks(),
        },
        Graded {
            folder: "phase6-testing",
            manifest: &phase6_testing::MANIFEST,
            checks: grader::phase6::checks(),
        },
        Graded {
            folder: "phase7-deploy",
            manifest: &phase7_deploy::MANIFEST,
            checks: grader::phase7::checks(),
        },
        Graded {
            folder: "projects/shortener",
            manifest: &shortener::MANIFEST,
            checks: grader::shortener::checks(),
        },
        Graded {
            folder: "projects/shop",
            manifest: &shop::MANIFEST,
            checks: grader::shop::checks(),
        },
        Graded {
            folder: "projects/chat",
            manifest: &chat::MANIFEST,
            checks: grader::chat::checks(),
        },
    ]
}

/// Where a topic's module lives in its crate: under `src/`, unless it names another folder
/// (phase 6's chapters are its tests, benchmarks and load test).
fn module_path(module: &str) -> String {
    let elsewhere = ["src/", "tests/", "benches/", "load/"];
    if elsewhere.iter().any(|folder| module.starts_with(folder)) {
        module.to_owned()
    } else {
        format!("src/{module}")
    }
}

/// The workspace's folder.
fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

const TABLE_HEADER: &str = "| ID | topic | Python idiom | Rust idiom here | file | try it |";
const OPENING_PARTS: [&str; 4] = ["**Roadmap:**", "**Python:**", "**Rust:**", "**Why:**"];

// ---- (a) the grader's checks ----

/// What is wrong between `manifest` and `checks`.
fn check_problems(manifest: &Manifest, checks: &[Check]) -> Vec<String> {
    let conventions: BTreeSet<&str> = conventions::anonymous()
        .iter()
        .map(|check| check.name)
        .collect();
    let own: Vec<&Check> = checks
        .iter()
        .filter(|check| !conventions.contains(check.name))
        .collect();
    let ids = manifest.topic_ids();
    let mut problems = Vec::new();
    for id in &ids {
        if !own.iter().any(|check| check.topic == *id) {
            problems.push(format!("topic {id} has no grader check"));
        }
    }
    for check in own {
        if !ids.contains(&check.topic) {
            problems.push(format!(
                "the check `{}` grades topic {}, which the manifest does not have",
                check.name, check.topic
            ));
        }
    }
    problems
}

// ---- (b) the README's table ----

/// The cells of a Markdown table row (`\|` is a pipe inside a cell).
fn cells(row: &str) -> Vec<String> {
    let inner = row.trim().trim_start_matches('|').trim_end_matches('|');
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                chars.next();
                cell.push('|');
            }
            '|' => cells.push(std::mem::take(&mut cell)),
            c => cell.push(c),
        }
    }
    cells.push(cell);
    cells
        .into_iter()
        .map(|cell| cell.trim().to_owned())
        .collect()
}

/// The link targets of a Markdown cell: `[x](src/x.rs)` gives `src/x.rs`.
fn links(cell: &str) -> BTreeSet<String> {
    cell.split("](")
        .skip(1)
        .filter_map(|rest| rest.split(')').next())
        .map(str::to_owned)
        .collect()
}

/// What is wrong between `manifest` and the README text `readme`.
fn readme_problems(manifest: &Manifest, readme: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(table) = readme.split_once(TABLE_HEADER).map(|(_, rest)| rest) else {
        return vec![format!("the README has no table headed `{TABLE_HEADER}`")];
    };
    let rows: Vec<Vec<String>> = table
        .lines()
        .skip(1) // the rest of the header's line
        .skip_while(|line| line.trim().starts_with("|---") || line.trim().starts_with("| ---"))
        .take_while(|line| line.trim_start().starts_with('|'))
        .map(cells)
        .collect();
    let mut matched: Vec<&Topic> = Vec::new();
    for row in &rows {
        let [id, title, _, _, file, ..] = row.as_slice() else {
            problems.push(format!("a row with too few columns: {row:?}"));
            continue;
        };
        let candidates: Vec<&Topic> = manifest.topics.iter().filter(|t| t.id == id).collect();
        let topic = match candidates.as_slice() {
            [] => {
                problems.push(format!("the README has a row {id} the manifest lacks"));
                continue;
            }
            [only] => *only,
            several => match several.iter().find(|t| t.title == title) {
                Some(topic) => *topic,
                None => {
                    problems.push(format!(
                        "the README's row {id} `{title}` is none of the manifest's topics {id}"
                    ));
                    continue;
                }
            },
        };
        if matched.iter().any(|seen| std::ptr::eq(*seen, topic)) {
            problems.push(format!(
                "the README has two rows for {id} `{}`",
                topic.title
            ));
            continue;
        }
        matched.push(topic);
        let expected: BTreeSet<String> = topic
            .modules
            .iter()
            .map(|module| module_path(module))
            .collect();
        let linked = links(file);
        if linked != expected {
            problems.push(format!(
                "the README's row {id} links {linked:?}, the topic's modules are {expected:?}"
            ));
        }
    }
    for topic in manifest.topics {
        if !matched.iter().any(|seen| std::ptr::eq(*seen, topic)) {
            problems.push(format!(
                "the README has no row for {} `{}`",
                topic.id, topic.title
            ));
        }
    }
    problems
}

// ---- (c) the modules' openings ----

/// What is wrong with the opening of module `name`, whose text is `source`.
fn opening_problems(name: &str, source: &str) -> Vec<String> {
    // rustdoc reads `//!` lines separated by blank lines as one comment.
    let opening: Vec<&str> = source
        .lines()
        .take_while(|line| line.starts_with("//!") || line.trim().is_empty())
        .filter(|line| line.starts_with("//!"))
        .collect();
    if opening.is_empty() {
        return vec![format!("{name} does not open with a `//!` comment")];
    }
    let opening = opening.join("\n");
    OPENING_PARTS
        .iter()
        .filter(|part| !opening.contains(**part))
        .map(|part| format!("{name}'s opening has no {part}"))
        .collect()
}

/// Everything wrong in `graded`, read from the workspace.
fn problems(graded: &Graded) -> Vec<String> {
    let folder = root().join(graded.folder);
    let mut problems = check_problems(graded.manifest, &graded.checks);
    match std::fs::read_to_string(folder.join("README.md")) {
        Ok(readme) => problems.extend(readme_problems(graded.manifest, &readme)),
        Err(err) => problems.push(format!("cannot read the README: {err}")),
    }
    for topic in graded.manifest.topics {
        for module in topic.modules {
            let name = module_path(module);
            match std::fs::read_to_string(folder.join(&name)) {
                Ok(source) => problems.extend(opening_problems(&name, &source)),
                Err(err) => problems.push(format!("{}: cannot read {name}: {err}", topic.id)),
            }
        }
    }
    problems
}

#[test]
fn every_crate_agrees_with_its_manifest() {
    let mut report = Vec::new();
    for graded in crates() {
        for problem in problems(&graded) {
            report.push(format!("{}: {problem}", graded.folder));
        }
    }
    assert!(report.is_empty(), "\n{}", report.join("\n"));
}

/// The conventions are graded in every crate under phase 1's IDs: those must be phase 1's topics.
#[test]
fn the_conventions_grade_phase_one_topics() {
    let ids = phase1_http::MANIFEST.topic_ids();
    for topic in conventions::TOPICS {
        assert!(ids.contains(&topic), "{topic}");
    }
}

// ---- each check can fail ----

const MANIFEST: Manifest = Manifest {
    package: "phase0",
    title: "Phase 0",
    port: 8000,
    topics: &[
        Topic {
            id: "0.1",
            title: "first",
            modules: &["first.rs"],
            routes: &[],
        },
        Topic {
            id: "0.2",
            title: "second, in two files",
            modules: &["second/mod.rs", "second/part.rs"],
            routes: &[],
        },
        Topic {
            id: "0.2",
            title: "second, the other half",
            modules: &["other.rs"],
            routes: &[],
        },
    ],
    try_it: &[],
};

const README: &str = "# Phase 0

| ID | topic | Python idiom | Rust idiom here | file | try it |
|---|---|---|---|---|---|
| 0.1 | first | `a` | `b` | [`first.rs`](src/first.rs) | `curl localhost:8000/a \\| grep x` |
| 0.2 | second, in two files | `a` | `b` | [`second/mod.rs`](src/second/mod.rs), [`second/part.rs`](src/second/part.rs) | - |
| 0.2 | second, the other half | `a` | `b` | [`other.rs`](src/other.rs) | - |

After the table.
";

#[test]
fn a_readme_that_agrees_has_no_problem() {
    assert_eq!(readme_problems(&MANIFEST, README), Vec::<String>::new());
}

#[test]
fn a_missing_row_an_extra_row_or_another_file_is_found() {
    let without_first: String = README
        .lines()
        .filter(|line| !line.starts_with("| 0.1"))
        .map(|line| format!("{line}\n"))
        .collect();
    let problems = readme_problems(&MANIFEST, &without_first);
    assert!(
        problems.iter().any(|p| p.contains("no row for 0.1")),
        "{problems:?}"
    );

    let extra = README.replace(
        "(src/other.rs) | - |\n",
        "(src/other.rs) | - |\n| 0.9 | ninth | a | b | [`x.rs`](src/x.rs) | - |\n",
    );
    let problems = readme_problems(&MANIFEST, &extra);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("row 0.9 the manifest lacks")),
        "{problems:?}"
    );

    let elsewhere = README.replace("(src/first.rs)", "(src/elsewhere.rs)");
    let problems = readme_problems(&MANIFEST, &elsewhere);
    assert!(
        problems.iter().any(|p| p.contains("row 0.1 links")),
        "{problems:?}"
    );

    let half = README.replace(", [`second/part.rs`](src/second/part.rs)", "");
    assert_eq!(readme_problems(&MANIFEST, &half).len(), 1);

    assert_eq!(readme_problems(&MANIFEST, "# no table").len(), 1);
}

#[test]
fn an_opening_without_its_four_parts_is_found() {
    let whole = "//! 0.1 First.\n//!\n//! **Roadmap:** \"x\"\n//!\n//! **Python:** a\n//!\n//! **Rust:** b\n//!\n//! **Why:** c\n\nuse x;\n";
    assert_eq!(opening_problems("first.rs", whole), Vec::<String>::new());
    let no_why = whole.replace("**Why:**", "**Because:**");
    assert_eq!(
        opening_problems("first.rs", &no_why),
        ["first.rs's opening has no **Why:**"]
    );
    // The parts count only in the opening comment, not further down.
    let late = format!("//! 0.1 First.\n\nuse x;\n{whole}");
    assert_eq!(opening_problems("first.rs", &late).len(), 4);
    assert_eq!(opening_problems("first.rs", "use x;\n").len(), 1);
}

#[test]
fn a_topic_without_a_check_or_a_check_without_a_topic_is_found() {
    let mut checks: Vec<Check> = grader::checks![
        "0.1", "first" => ok,
        "0.2", "second" => ok,
    ];
    assert_eq!(check_problems(&MANIFEST, &checks), Vec::<String>::new());
    checks.remove(1);
    assert_eq!(
        check_problems(&MANIFEST, &checks),
        ["topic 0.2 has no grader check"]
    );
    checks.extend(grader::checks!["0.7", "seventh" => ok]);
    assert_eq!(check_problems(&MANIFEST, &checks).len(), 2);
    // The conventions, graded everywhere under phase 1's IDs, are not the crate's topics.
    let mut with_conventions: Vec<Check> = grader::checks![
        "0.1", "first" => ok,
        "0.2", "second" => ok,
    ];
    with_conventions.extend(conventions::anonymous());
    assert_eq!(
        check_problems(&MANIFEST, &with_conventions),
        Vec::<String>::new()
    );
}

async fn ok(_: &grader::Target) -> anyhow::Result<()> {
    Ok(())
}
