//! The shipped YAML against the schema's CEL rules: every example in
//! `manifests/examples/` is accepted and parses into the Rust types, and every `layer: cel`
//! case of `e2e/testdata/invalid*/` is refused with its `# expect:` text. (The `layer:
//! schema` cases need a real API server; the e2e corpus run covers them.)

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use super::failures;
use crate::api::RedcapEnvironment;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| entry.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

fn documents(path: &Path) -> Vec<Value> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_yaml::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .filter(|doc| doc["kind"] == "RedcapEnvironment")
        .collect()
}

fn header(path: &Path, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let prefix = format!("# {key}: ");
    text.lines().find_map(|l| l.strip_prefix(&prefix).map(str::to_owned))
}

#[test]
fn examples_are_valid() {
    let files = yaml_files(&repo().join("manifests/examples"));
    assert!(files.len() >= 3, "examples missing: {files:?}");
    for path in files {
        for doc in documents(&path) {
            let failures = failures(&doc, None);
            assert!(failures.is_empty(), "{}: {failures:#?}", path.display());
            serde_json::from_value::<RedcapEnvironment>(doc)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }
}

#[test]
fn invalid_corpus_is_refused_by_its_cel_rule() {
    let files = yaml_files(&repo().join("e2e/testdata/invalid"));
    assert!(files.len() >= 22, "only {} invalid cases", files.len());
    let mut cel_cases = 0;
    for path in files {
        let expect = header(&path, "expect")
            .unwrap_or_else(|| panic!("{}: no # expect: line", path.display()));
        match header(&path, "layer").as_deref() {
            Some("cel") => {}
            Some("schema") => continue,
            other => panic!("{}: layer {other:?}, want cel or schema", path.display()),
        }
        cel_cases += 1;
        let docs = documents(&path);
        assert_eq!(docs.len(), 1, "{}", path.display());
        let failures = failures(&docs[0], None);
        assert!(
            failures.iter().any(|f| f.contains(&expect)),
            "{}: no failure contains {expect:?}: {failures:#?}",
            path.display()
        );
    }
    assert!(cel_cases >= 15, "only {cel_cases} CEL cases");
}

#[test]
fn invalid_updates_are_refused() {
    let dir = repo().join("e2e/testdata/invalid-updates");
    let base = documents(&dir.join("base.yaml")).remove(0);
    assert!(failures(&base, None).is_empty(), "base.yaml must be valid");
    let cases: Vec<PathBuf> = yaml_files(&dir)
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n != "base.yaml"))
        .collect();
    assert!(cases.len() >= 2);
    for path in cases {
        let expect = header(&path, "expect")
            .unwrap_or_else(|| panic!("{}: no # expect: line", path.display()));
        let update = documents(&path).remove(0);
        // Valid as a new object: only the transition from the base is wrong.
        assert!(
            failures(&update, None).is_empty(),
            "{} is invalid even on creation",
            path.display()
        );
        let failures = failures(&update, Some(&base));
        assert!(
            failures.iter().any(|f| f.contains(&expect)),
            "{}: no failure contains {expect:?}: {failures:#?}",
            path.display()
        );
    }
}
