//! Golden test of the shipped CRD (api step): `crds/redcapenvironments.redcap.dev.yaml`
//! must be exactly what `api::crds_yaml()` prints, so the chart, the plain manifests and
//! `kubectl explain` never drift from the Rust types. It only reads and (on request)
//! writes that one file.

use std::path::PathBuf;

fn golden_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../crds/redcapenvironments.redcap.dev.yaml")
}

#[test]
fn crd_yaml_matches_golden_file() {
    let generated = redcap_operator::api::crds_yaml().expect("CRDs serialise to YAML");
    let path = golden_path();

    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &generated).expect("write the golden CRD file");
        return;
    }

    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        let first_difference = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(generated.lines().count()));
        panic!(
            "{} is stale (first difference at line {}).\n\
             Regenerate it with:\n    \
             UPDATE_GOLDEN=1 cargo test -p redcap-operator --test crd_golden\n\
             or: cargo run -p redcap-operator -- crd > crds/redcapenvironments.redcap.dev.yaml",
            path.display(),
            first_difference + 1,
        );
    }
}
