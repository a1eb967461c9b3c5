//! The server's modules import one way only: each top-level module of
//! `server/src` may use modules below it in [`LAYERS`], never one above it
//! or at its own level, so the import graph has no cycle. The test reads the
//! sources, so a `use crate::hub` added to `store` fails here, not in review.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// Top-level modules of `server/src`, from the bottom up; modules on one
/// line are independent of each other.
const LAYERS: &[&[&str]] = &[
    &["sync", "b64", "config", "outbox", "fds"],
    &["credentials"],
    &["store"],
    &["clock"],
    &["accounts", "transfers"],
    &["hub"],
    &["admission"],
    &["state"],
    &["connection"],
    &["cmd"],
    &["server", "admin"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("read server/src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to (`store/history/file.rs` →
/// `store`), or `None` for the crate root and the binary.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (name != "lib" && name != "main").then(|| name.to_owned())
}

/// Every `crate::NAME` named in a file's code (comments and strings
/// included, which errs on the strict side).
fn crate_paths(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (i, _) in text.match_indices("crate::") {
        let before = text[..i].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // e.g. `cove_server::` is not `crate::`
        }
        let rest = &text[i + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            found.push(name);
        }
    }
    found
}

#[test]
fn modules_import_only_modules_below_them() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut seen = BTreeMap::new();
    let mut wrong = Vec::new();
    for file in &files {
        let Some(module) = module_of(&src, file) else {
            continue;
        };
        let Some(own) = layer_of(&module) else {
            wrong.push(format!("{module}: not in LAYERS; add it where it belongs"));
            continue;
        };
        seen.insert(module.clone(), own);
        let text = fs::read_to_string(file).expect("read source");
        for used in crate_paths(&text) {
            if used == module {
                continue;
            }
            match layer_of(&used) {
                Some(layer) if layer < own => {}
                _ => wrong.push(format!(
                    "{} uses crate::{used}, which is not below {module}",
                    file.display()
                )),
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layering:\n{}",
        wrong.join("\n")
    );
    // Every listed module exists, so the list stays true.
    for layer in LAYERS {
        for m in *layer {
            assert!(
                seen.contains_key(*m),
                "LAYERS names {m}, which is not in server/src"
            );
        }
    }
}

#[test]
fn the_checker_sees_an_upward_import() {
    // The parser itself: an upward path is found, a foreign crate's is not.
    assert_eq!(crate_paths("use crate::hub::Hub;"), ["hub"]);
    assert_eq!(
        crate_paths("x = cove_server::hub::Hub;"),
        Vec::<String>::new()
    );
    assert!(layer_of("store") < layer_of("hub"));
}
