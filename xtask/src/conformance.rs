//! CONFORMANCE.md as data, and its check: every row is well formed, every test it names exists, every `met` row
//! names a test, every `not applicable` / `deviation` row gives its reason, and the summary at the top of the file
//! equals the counts of the table (so the two cannot drift). Run by `cargo nextest run --workspace` (this module's
//! unit tests); `cargo xtask conformance` prints the counts, `--write` rewrites the summary.
//!
//! The format (documented at the top of CONFORMANCE.md too): requirement tables have exactly the header
//! `| ID | Requirement | Source | Section | Status | Reason / note | Tests |`. The Tests cell is `—` or a list of
//! references, each in backticks:
//!
//! - `` `module::fn_name` ``: the integration test `fn fn_name` in `tests/tests/api/module.rs` (under
//!   `#[tokio::test]` or `#[test]`; the module declared in `tests/tests/api/main.rs`);
//! - `` `shared::a::b::tests::fn_name` `` (or `xtask::…`): the unit test `fn fn_name` in `mod tests` of
//!   `shared/src/a/b.rs` or `shared/src/a/b/mod.rs` (`xtask::tests::…`: `xtask/src/lib.rs`);
//! - `` `e2e:<exact title>` ``: a Chromium test `test('<exact title>', …)` in `tests/e2e/*.test.mjs`.

use std::collections::BTreeMap;
use std::path::Path;

/// The header every requirement table has, cell by cell.
pub const HEADER: [&str; 7] = ["ID", "Requirement", "Source", "Section", "Status", "Reason / note", "Tests"];
/// The allowed statuses, in the summary's order.
pub const STATUSES: [&str; 3] = ["met", "not applicable", "deviation"];
/// The allowed sources (the Source cell, exactly), in the summary's order.
pub const SOURCES: [&str; 10] = [
    "browser-based-apps-27",
    "RFC 9700",
    "OIDC Core 1.0",
    "RFC 7636",
    "RFC 9207",
    "RFC 6265bis",
    "RFC 9457",
    "Fetch Metadata",
    "OIDC BCL 1.0",
    "W3C DBSC",
];
/// Fewer rows than this and the document is not the conformance statement it claims to be.
pub const MIN_ROWS: usize = 40;
/// The empty cell.
pub const NONE: &str = "—";
const SUMMARY_START: &str =
    "<!-- conformance-summary: generated, checked by xtask (cargo xtask conformance --write) -->";
const SUMMARY_END: &str = "<!-- /conformance-summary -->";

/// A reference to a test, as written in the Tests cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestRef {
    /// `module::fn_name`: tests/tests/api/module.rs.
    Integration { module: String, name: String },
    /// `shared::a::b::tests::fn_name`: a unit test in `crate_dir/src/a/b.rs` (or `…/b/mod.rs`, or `lib.rs`).
    Unit { krate: String, modules: Vec<String>, name: String },
    /// `e2e:<title>`: a Chromium test in tests/e2e/*.test.mjs.
    E2e(String),
}

/// One row of a requirement table.
#[derive(Debug, Clone)]
pub struct Row {
    pub line: usize,
    pub id: String,
    pub requirement: String,
    pub source: String,
    pub section: String,
    pub status: String,
    pub reason: String,
    pub tests: Vec<String>,
}

/// What the check needs from the repository: file contents by relative path, and the Chromium test files.
pub trait Files {
    fn read(&self, rel: &str) -> Option<String>;
    /// `(relative path, contents)` of every `tests/e2e/*.test.mjs`.
    fn e2e(&self) -> Vec<(String, String)>;
}

/// The real repository.
pub struct Repo<'a>(pub &'a Path);

impl Files for Repo<'_> {
    fn read(&self, rel: &str) -> Option<String> {
        std::fs::read_to_string(self.0.join(rel)).ok()
    }
    fn e2e(&self) -> Vec<(String, String)> {
        let mut out = vec![];
        for entry in std::fs::read_dir(self.0.join("tests/e2e")).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".test.mjs")
                && let Ok(text) = std::fs::read_to_string(entry.path())
            {
                out.push((format!("tests/e2e/{name}"), text));
            }
        }
        out.sort();
        out
    }
}

/// Splits a Markdown table line into trimmed cells (`\|` is a literal bar inside a cell).
fn cells(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|');
    let inner = inner.strip_suffix('|').unwrap_or(inner);
    let mut out = vec![String::new()];
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                out.last_mut().unwrap().push('|');
                chars.next();
            }
            '|' => out.push(String::new()),
            c => out.last_mut().unwrap().push(c),
        }
    }
    out.into_iter().map(|c| c.trim().to_string()).collect()
}

/// The rows of every requirement table (a table whose header is [`HEADER`]), and the format errors found.
pub fn parse(markdown: &str) -> (Vec<Row>, Vec<String>) {
    let mut rows = vec![];
    let mut errors = vec![];
    let lines: Vec<&str> = markdown.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        if !(lines[i].trim_start().starts_with('|') && cells(lines[i]) == HEADER) {
            // A table that looks like a requirement table but has another header would drop out of the check.
            if lines[i].trim_start().starts_with('|') && cells(lines[i]).first().is_some_and(|c| c == "ID") {
                errors.push(format!("line {}: a table headed `ID` must have exactly the columns {HEADER:?}", i + 1));
            }
            i += 1;
            continue;
        }
        i += 2; // the header and its |---| line
        while i < lines.len() && lines[i].trim_start().starts_with('|') {
            let c = cells(lines[i]);
            let line = i + 1;
            if c.len() != HEADER.len() {
                errors.push(format!("line {line}: {} cells, expected {}", c.len(), HEADER.len()));
            } else {
                match test_cell(&c[6]) {
                    Ok(tests) => rows.push(Row {
                        line,
                        id: c[0].clone(),
                        requirement: c[1].clone(),
                        source: c[2].clone(),
                        section: c[3].clone(),
                        status: c[4].clone(),
                        reason: c[5].clone(),
                        tests,
                    }),
                    Err(e) => errors.push(format!("line {line} ({}): {e}", c[0])),
                }
            }
            i += 1;
        }
    }
    (rows, errors)
}

/// The Tests cell: `—`, or backticked references separated by commas, spaces or `<br>`. Anything else is an error
/// (so a reference cannot be half-written and silently ignored).
fn test_cell(cell: &str) -> Result<Vec<String>, String> {
    if cell == NONE || cell.is_empty() {
        return Ok(vec![]);
    }
    let mut refs = vec![];
    let mut rest = cell;
    loop {
        let trimmed = rest.trim_start_matches(|c: char| c == ',' || c.is_whitespace());
        let trimmed = trimmed.strip_prefix("<br>").unwrap_or(trimmed);
        if trimmed.len() != rest.len() {
            rest = trimmed;
            continue;
        }
        if rest.is_empty() {
            return Ok(refs);
        }
        let Some(body) = rest.strip_prefix('`') else {
            return Err(format!("the Tests cell has text outside backticks: {rest:?}"));
        };
        let end = body.find('`').ok_or("an unclosed backtick in the Tests cell")?;
        refs.push(body[..end].to_string());
        rest = &body[end + 1..];
    }
}

fn is_ident(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit())
}

/// Reads one reference; `Err` names what is wrong with its shape.
pub fn parse_ref(text: &str) -> Result<TestRef, String> {
    if let Some(title) = text.strip_prefix("e2e:") {
        return if title.is_empty() || title != title.trim() {
            Err(format!("`{text}`: an e2e title must be exact (no surrounding spaces)"))
        } else {
            Ok(TestRef::E2e(title.to_string()))
        };
    }
    let parts: Vec<&str> = text.split("::").collect();
    if !parts.iter().all(|p| is_ident(p)) {
        return Err(format!("`{text}`: not `module::fn`, `shared::…::tests::fn` or `e2e:<title>`"));
    }
    match parts.as_slice() {
        [krate @ ("shared" | "xtask"), modules @ .., "tests", name] => Ok(TestRef::Unit {
            krate: krate.to_string(),
            modules: modules.iter().map(|m| m.to_string()).collect(),
            name: name.to_string(),
        }),
        ["shared" | "xtask", ..] => Err(format!("`{text}`: a unit test is `crate::path::tests::fn`")),
        [module, name] => Ok(TestRef::Integration { module: module.to_string(), name: name.to_string() }),
        _ => Err(format!("`{text}`: not `module::fn`, `shared::…::tests::fn` or `e2e:<title>`")),
    }
}

/// Whether `source` has `fn name(` (or `async fn`) right under a `#[test]` / `#[tokio::test…]` attribute (doc
/// comments and other attributes in between allowed), after `after` (a byte offset).
pub fn has_test_fn(source: &str, name: &str, after: usize) -> bool {
    let mut offset = 0;
    let mut under_test_attr = false;
    for line in source.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let t = line.trim();
        if t.starts_with("#[test]") || t.starts_with("#[tokio::test") {
            under_test_attr = true;
        } else if t.starts_with("#[") || t.starts_with("//") || t.is_empty() {
            // keeps whatever came before
        } else {
            let declares = ["fn ", "async fn "].iter().any(|p| {
                t.strip_prefix(p)
                    .and_then(|r| r.strip_prefix(name))
                    .is_some_and(|r| r.starts_with('(') || r.starts_with('<'))
            });
            if declares && under_test_attr && start >= after {
                return true;
            }
            under_test_attr = false;
        }
    }
    false
}

/// The titles of `test('…', …)` calls in a node test file (any quote style; the title may start on the next line).
pub fn e2e_titles(source: &str) -> Vec<String> {
    let mut titles = vec![];
    let bytes = source.as_bytes();
    let mut from = 0;
    while let Some(pos) = source[from..].find("test(") {
        let at = from + pos;
        from = at + 5;
        let prev = if at == 0 { b' ' } else { bytes[at - 1] };
        if prev.is_ascii_alphanumeric() || prev == b'_' || prev == b'.' || prev == b'$' {
            continue;
        }
        let rest = source[from..].trim_start();
        let Some(quote) = rest.chars().next().filter(|c| matches!(c, '\'' | '"' | '`')) else { continue };
        let mut title = String::new();
        let mut chars = rest[1..].chars();
        let mut closed = false;
        while let Some(c) = chars.next() {
            match c {
                '\\' => title.extend(chars.next()),
                c if c == quote => {
                    closed = true;
                    break;
                }
                c => title.push(c),
            }
        }
        if closed {
            titles.push(title);
        }
    }
    titles
}

/// Whether the test a reference names exists; `Err` says where it was looked for.
pub fn resolve(r: &TestRef, files: &dyn Files) -> Result<(), String> {
    match r {
        TestRef::Integration { module, name } => {
            let path = format!("tests/tests/api/{module}.rs");
            let main = files.read("tests/tests/api/main.rs").unwrap_or_default();
            if !main.lines().any(|l| l.trim() == format!("mod {module};")) {
                return Err(format!("`{module}::{name}`: no `mod {module};` in tests/tests/api/main.rs"));
            }
            let source = files.read(&path).ok_or(format!("`{module}::{name}`: no {path}"))?;
            if has_test_fn(&source, name, 0) {
                Ok(())
            } else {
                Err(format!("`{module}::{name}`: no test `fn {name}` in {path}"))
            }
        }
        TestRef::Unit { krate, modules, name } => {
            let shown =
                format!("{krate}::{}tests::{name}", modules.iter().map(|m| format!("{m}::")).collect::<String>());
            let candidates = if modules.is_empty() {
                vec![format!("{krate}/src/lib.rs")]
            } else {
                let p = modules.join("/");
                vec![format!("{krate}/src/{p}.rs"), format!("{krate}/src/{p}/mod.rs")]
            };
            let (path, source) = candidates
                .iter()
                .find_map(|c| files.read(c).map(|s| (c.clone(), s)))
                .ok_or(format!("`{shown}`: none of {}", candidates.join(", ")))?;
            let Some(tests_mod) = source.find("mod tests") else {
                return Err(format!("`{shown}`: {path} has no `mod tests`"));
            };
            if has_test_fn(&source, name, tests_mod) {
                Ok(())
            } else {
                Err(format!("`{shown}`: no test `fn {name}` in `mod tests` of {path}"))
            }
        }
        TestRef::E2e(title) => {
            let all = files.e2e();
            if all.iter().any(|(_, src)| e2e_titles(src).iter().any(|t| t == title)) {
                Ok(())
            } else {
                Err(format!("`e2e:{title}`: no test with this exact title in tests/e2e/*.test.mjs"))
            }
        }
    }
}

/// Counts per source: `source → [met, not applicable, deviation]`, in [`SOURCES`] order.
pub fn counts(rows: &[Row]) -> Vec<(&'static str, [usize; 3])> {
    let mut by: BTreeMap<usize, [usize; 3]> = BTreeMap::new();
    for r in rows {
        if let (Some(s), Some(st)) =
            (SOURCES.iter().position(|s| *s == r.source), STATUSES.iter().position(|s| *s == r.status))
        {
            by.entry(s).or_default()[st] += 1;
        }
    }
    SOURCES.iter().enumerate().map(|(i, s)| (*s, by.get(&i).copied().unwrap_or_default())).collect()
}

/// The summary block as it must stand between the markers at the top of CONFORMANCE.md.
pub fn summary(rows: &[Row]) -> String {
    let per = counts(rows);
    let total: [usize; 3] = per.iter().fold([0; 3], |mut acc, (_, c)| {
        for i in 0..3 {
            acc[i] += c[i];
        }
        acc
    });
    let mut s = format!(
        "**{} requirements: {} met, {} not applicable, {} deviation.**\n\n",
        total.iter().sum::<usize>(),
        total[0],
        total[1],
        total[2]
    );
    s.push_str("| Source | Rows | met | not applicable | deviation |\n|---|---|---|---|---|\n");
    for (source, c) in &per {
        s.push_str(&format!("| {source} | {} | {} | {} | {} |\n", c.iter().sum::<usize>(), c[0], c[1], c[2]));
    }
    s
}

/// The text between the summary markers, if both are there.
fn summary_in(markdown: &str) -> Option<(usize, usize)> {
    let start = markdown.find(SUMMARY_START)? + SUMMARY_START.len();
    let end = start + markdown[start..].find(SUMMARY_END)?;
    Some((start, end))
}

/// `markdown` with its summary block replaced by the one the table implies.
pub fn with_summary(markdown: &str) -> Result<String, String> {
    let (rows, _) = parse(markdown);
    let (start, end) = summary_in(markdown).ok_or("CONFORMANCE.md has no summary markers")?;
    Ok(format!("{}\n{}\n{}", &markdown[..start], summary(&rows), &markdown[end..]))
}

/// Every problem with the document: format, ids, statuses, sources, reasons, tests, row count, summary.
pub fn check(markdown: &str, files: &dyn Files) -> (Vec<Row>, Vec<String>) {
    let (rows, mut errors) = parse(markdown);
    let mut seen = BTreeMap::new();
    for r in &rows {
        let at = format!("line {} ({})", r.line, r.id);
        if !r.id.starts_with(|c: char| c.is_ascii_uppercase())
            || !r.id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            errors.push(format!("{at}: an id is letters, digits and dashes, e.g. BBA-1"));
        }
        if let Some(first) = seen.insert(r.id.clone(), r.line) {
            errors.push(format!("{at}: id {} already used on line {first}", r.id));
        }
        if !STATUSES.contains(&r.status.as_str()) {
            errors.push(format!("{at}: status {:?} is not one of {STATUSES:?}", r.status));
        }
        if !SOURCES.contains(&r.source.as_str()) {
            errors.push(format!("{at}: source {:?} is not one of {SOURCES:?}", r.source));
        }
        if r.requirement.is_empty() || r.section.is_empty() || r.section == NONE {
            errors.push(format!("{at}: the requirement and its section are required"));
        }
        if r.status == "met" && r.tests.is_empty() {
            errors.push(format!("{at}: a met requirement names at least one test"));
        }
        if r.status != "met" && (r.reason.is_empty() || r.reason == NONE) {
            errors.push(format!("{at}: a {} row gives its reason", r.status));
        }
        for t in &r.tests {
            if let Err(e) = parse_ref(t).and_then(|tr| resolve(&tr, files)) {
                errors.push(format!("{at}: {e}"));
            }
        }
    }
    if rows.len() < MIN_ROWS {
        errors.push(format!("{} rows; at least {MIN_ROWS} expected", rows.len()));
    }
    match summary_in(markdown) {
        None => errors.push(format!("no summary block ({SUMMARY_START} … {SUMMARY_END})")),
        Some((start, end)) => {
            let expected = summary(&rows);
            if markdown[start..end].trim() != expected.trim() {
                errors.push(format!(
                    "the summary does not match the table (run `cargo xtask conformance --write`); expected:\n{expected}"
                ));
            }
        }
    }
    (rows, errors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A fabricated repository: a test module, a unit test file and a Chromium test file.
    struct Fake(HashMap<&'static str, &'static str>);

    impl Files for Fake {
        fn read(&self, rel: &str) -> Option<String> {
            self.0.get(rel).map(|s| s.to_string())
        }
        fn e2e(&self) -> Vec<(String, String)> {
            self.0
                .iter()
                .filter(|(k, _)| k.ends_with(".test.mjs"))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        }
    }

    fn fake() -> Fake {
        Fake(HashMap::from([
            ("tests/tests/api/main.rs", "mod signin;\nmod security;\n"),
            (
                "tests/tests/api/signin.rs",
                "fn helper() {}\n\n#[tokio::test]\nasync fn signs_in() {}\n\n/// Doc.\n#[test]\n#[ignore]\nfn sync_one() {}\n",
            ),
            ("tests/tests/api/security.rs", "async fn not_a_test() {}\n"),
            (
                "shared/src/http/gate.rs",
                "fn csrf() {}\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn csrf_gate() {}\n}\n",
            ),
            (
                "tests/e2e/app.test.mjs",
                "test('signs in', async () => {});\n  test(\n    'two tabs’ logins',\n    {},\n  );\n",
            ),
        ]))
    }

    const HEAD: &str =
        "| ID | Requirement | Source | Section | Status | Reason / note | Tests |\n|---|---|---|---|---|---|---|\n";

    /// A table of `n` good rows followed by `extra`, with the right summary.
    fn doc(n: usize, extra: &str) -> String {
        let mut t = String::from(HEAD);
        for i in 0..n {
            t.push_str(&format!("| OK-{i} | Signs in. | RFC 7636 | 4.1 | met | — | `signin::signs_in` |\n"));
        }
        t.push_str(extra);
        let rows = parse(&t).0;
        format!("# Conformance\n\n{SUMMARY_START}\n{}{SUMMARY_END}\n\n{t}", summary(&rows))
    }

    fn errors(markdown: &str) -> Vec<String> {
        check(markdown, &fake()).1
    }

    #[test]
    fn a_good_table_passes() {
        let extra = "| A-1 | Gate. | Fetch Metadata | 2 | met | a note | `shared::http::gate::tests::csrf_gate`, `signin::sync_one` |\n\
                     | A-2 | Tabs. | RFC 6265bis | 4.1.3 | met | — | `e2e:two tabs’ logins`<br>`e2e:signs in` |\n\
                     | A-3 | Later. | RFC 9700 | 2.2.1 | deviation | not built yet | — |\n\
                     | A-4 | Bars \\| pipes. | RFC 9207 | 2.4 | not applicable | no such flow | — |\n";
        let md = doc(MIN_ROWS, extra);
        assert_eq!(errors(&md), Vec::<String>::new());
        let (rows, _) = parse(&md);
        assert_eq!(rows.len(), MIN_ROWS + 4);
        assert_eq!(rows.last().unwrap().requirement, "Bars | pipes.");
        assert!(summary(&rows).contains(&format!("| RFC 7636 | {MIN_ROWS} | {MIN_ROWS} | 0 | 0 |")));
    }

    #[test]
    fn the_check_fails_on_a_fabricated_bad_table() {
        let bad = "| B-1 | Missing test. | RFC 7636 | 4.1 | met | — | `signin::no_such_test` |\n\
                   | B-2 | No tests. | RFC 7636 | 4.2 | met | — | — |\n\
                   | B-3 | No reason. | RFC 9700 | 2.5 | deviation | — | — |\n\
                   | B-4 | Bad status. | RFC 9700 | 2.5 | partly | x | — |\n\
                   | B-5 | Bad source. | RFC 1 | 1 | met | — | `signin::signs_in` |\n\
                   | OK-0 | Duplicate id. | RFC 7636 | 4.1 | met | — | `signin::signs_in` |\n\
                   | B-7 | Not a test fn. | RFC 7636 | 4.1 | met | — | `security::not_a_test` |\n\
                   | B-8 | No module. | RFC 7636 | 4.1 | met | — | `refresh::x` |\n\
                   | B-9 | No unit test. | RFC 7636 | 4.1 | met | — | `shared::http::gate::tests::csrf` |\n\
                   | B-10 | No such file. | RFC 7636 | 4.1 | met | — | `shared::nope::tests::x` |\n\
                   | B-11 | No e2e. | RFC 7636 | 4.1 | met | — | `e2e:signs in twice` |\n\
                   | B-12 | Loose text. | RFC 7636 | 4.1 | met | — | signin::signs_in |\n\
                   | B-13 | Too few cells. | RFC 7636 | met |\n\n\
                   | ID | Requirement | Source | Status | Tests |\n|---|---|---|---|---|\n\
                   | B-14 | Wrong header. | RFC 7636 | met | — |\n";
        let errs = errors(&doc(MIN_ROWS, bad));
        let has = |needle: &str| errs.iter().any(|e| e.contains(needle));
        assert!(has("(B-1): `signin::no_such_test`: no test `fn no_such_test`"), "{errs:#?}");
        assert!(has("(B-2): a met requirement names at least one test"), "{errs:#?}");
        assert!(has("(B-3): a deviation row gives its reason"), "{errs:#?}");
        assert!(has("(B-4): status \"partly\""), "{errs:#?}");
        assert!(has("(B-5): source \"RFC 1\""), "{errs:#?}");
        assert!(has("(OK-0): id OK-0 already used"), "{errs:#?}");
        assert!(has("(B-7): `security::not_a_test`"), "{errs:#?}");
        assert!(has("(B-8): `refresh::x`: no `mod refresh;`"), "{errs:#?}");
        assert!(has("(B-9): `shared::http::gate::tests::csrf`: no test `fn csrf`"), "{errs:#?}");
        assert!(has("(B-10): `shared::nope::tests::x`: none of shared/src/nope.rs"), "{errs:#?}");
        assert!(has("(B-11): `e2e:signs in twice`"), "{errs:#?}");
        assert!(has("(B-12): the Tests cell has text outside backticks"), "{errs:#?}");
        assert!(has("4 cells, expected 7"), "{errs:#?}");
        assert!(has("a table headed `ID` must have exactly the columns"), "{errs:#?}");
    }

    #[test]
    fn too_few_rows_and_a_stale_summary_fail() {
        let errs = errors(&doc(3, ""));
        assert!(errs.iter().any(|e| e.contains("3 rows; at least 40")), "{errs:#?}");
        let md = doc(MIN_ROWS, "").replace(&format!("**{MIN_ROWS} requirements"), "**99 requirements");
        let errs = errors(&md);
        assert!(errs.iter().any(|e| e.contains("the summary does not match")), "{errs:#?}");
        assert!(errors(&with_summary(&md).unwrap()).is_empty());
        let errs = errors(&doc(MIN_ROWS, "").replace(SUMMARY_END, ""));
        assert!(errs.iter().any(|e| e.contains("no summary block")), "{errs:#?}");
    }

    #[test]
    fn reference_shapes() {
        assert_eq!(parse_ref("signin::a_b"), Ok(TestRef::Integration { module: "signin".into(), name: "a_b".into() }));
        assert_eq!(
            parse_ref("shared::proxy::path::tests::x"),
            Ok(TestRef::Unit {
                krate: "shared".into(),
                modules: vec!["proxy".into(), "path".into()],
                name: "x".into()
            })
        );
        assert_eq!(
            parse_ref("xtask::tests::x"),
            Ok(TestRef::Unit { krate: "xtask".into(), modules: vec![], name: "x".into() })
        );
        assert_eq!(parse_ref("e2e:a, b"), Ok(TestRef::E2e("a, b".into())));
        for bad in ["signin", "a::b::c", "shared::proxy::x", "signin::a b", "e2e: padded", "e2e:"] {
            assert!(parse_ref(bad).is_err(), "{bad}");
        }
    }

    /// The real document: every rule holds, and the counts are printed (`cargo test -p xtask -- --nocapture`).
    #[test]
    fn conformance_md_is_consistent_and_every_named_test_exists() {
        let root = crate::repo_root();
        let text = std::fs::read_to_string(root.join("CONFORMANCE.md")).expect("CONFORMANCE.md at the repo root");
        let (rows, errors) = check(&text, &Repo(&root));
        assert!(errors.is_empty(), "CONFORMANCE.md:\n{}", errors.join("\n"));
        assert!(rows.len() >= MIN_ROWS);
        println!("{}", summary(&rows));
    }
}
