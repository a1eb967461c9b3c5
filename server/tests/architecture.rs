//! `docs/architecture.md` stays true: every step of "The path of one
//! message" names a file that exists and a function defined in it (on the
//! named type, when one is named).

use std::fs;
use std::path::Path;

/// `(file, Type or "", function)` for every row of the path table.
fn steps(doc: &str) -> Vec<(String, String, String)> {
    let section = doc
        .split("## The path of one message")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("the doc has a path section");
    let mut out = Vec::new();
    for line in section.lines().filter(|l| l.starts_with("| ")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // "", step, file, function, ""
        let [_, step, file, function, _] = cells.as_slice() else {
            continue;
        };
        if *step == "step" || step.starts_with("---") {
            continue;
        }
        let file = file.trim_matches('`').to_owned();
        let function = function.trim_matches('`');
        let (ty, name) = match function.rsplit_once("::") {
            Some((ty, name)) => (ty.to_owned(), name.to_owned()),
            None => (String::new(), function.to_owned()),
        };
        out.push((file, ty, name));
    }
    out
}

/// Whether `source` defines `fn name` inside an `impl` of `ty` (any `impl`
/// when `ty` is empty): the nearest `impl` line above the definition names
/// the type.
fn defines(source: &str, ty: &str, name: &str) -> bool {
    let lines: Vec<&str> = source.lines().collect();
    lines.iter().enumerate().any(|(i, line)| {
        let t = line.trim_start();
        let is_def = [
            "fn ",
            "pub fn ",
            "async fn ",
            "pub async fn ",
            "pub(crate) fn ",
            "pub(super) fn ",
            "pub(crate) async fn ",
            "pub(super) async fn ",
        ]
        .iter()
        .any(|p| {
            t.strip_prefix(p).is_some_and(|rest| {
                rest.starts_with(&format!("{name}(")) || rest.starts_with(&format!("{name}<"))
            })
        });
        if !is_def {
            return false;
        }
        if ty.is_empty() {
            return true;
        }
        lines[..i]
            .iter()
            .rev()
            .find(|l| l.starts_with("impl"))
            .is_some_and(|l| {
                l.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .any(|word| word == ty)
            })
    })
}

#[test]
fn every_step_of_the_message_path_names_a_function_that_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let doc = fs::read_to_string(root.join("docs/architecture.md")).expect("docs/architecture.md");
    let steps = steps(&doc);
    assert!(
        steps.len() >= 20,
        "the path has its steps ({})",
        steps.len()
    );
    let mut wrong = Vec::new();
    for (file, ty, name) in &steps {
        match fs::read_to_string(root.join(file)) {
            Err(e) => wrong.push(format!("{file}: {e}")),
            Ok(src) if !defines(&src, ty, name) => {
                wrong.push(format!("{file} does not define {ty}::{name}"))
            }
            Ok(_) => {}
        }
    }
    assert!(
        wrong.is_empty(),
        "docs/architecture.md is out of date:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_checker_tells_a_method_from_a_free_function() {
    let src = "impl Hub {\n    pub fn send(&self) {}\n}\n\nfn push_bundle() {}\n";
    assert!(defines(src, "Hub", "send"));
    assert!(defines(src, "", "push_bundle"));
    assert!(!defines(src, "Other", "send"));
    assert!(!defines(src, "", "missing"));
}
