//! The bad-input corpus: every manifest under `e2e/testdata/invalid/` is a mistake a user
//! could make; the real API server must reject each one (schema or CEL) with a message
//! that names the field. `invalid-updates/` holds update
//! files, each naming its valid `# base:`, for rules on changes (immutable fields).

use std::path::Path;

use anyhow::Context;
use redcap_e2e::TestEnv;

/// The `# expect: <text>` header of a corpus file.
fn expectation(yaml: &str, file: &Path) -> anyhow::Result<String> {
    yaml.lines()
        .find_map(|l| l.strip_prefix("# expect:"))
        .map(|s| s.trim().to_string())
        .with_context(|| format!("{} has no `# expect:` header", file.display()))
}

fn corpus(dir: &str) -> anyhow::Result<Vec<std::path::PathBuf>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata").join(dir);
    let mut files: Vec<_> = std::fs::read_dir(&root)
        .with_context(|| format!("reading {}", root.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    Ok(files)
}

#[tokio::test]
async fn every_invalid_manifest_is_rejected_naming_the_field() -> anyhow::Result<()> {
    let env = TestEnv::from_env().await?;
    let ns = env.namespace("badinput").await?;
    let files = corpus("invalid")?;
    assert!(
        files.len() >= 20,
        "the corpus should hold at least 20 distinct mistakes, found {}",
        files.len()
    );
    let mut failures = Vec::new();
    for file in &files {
        let yaml = std::fs::read_to_string(file)?;
        let expect = expectation(&yaml, file)?;
        let (ok, out) = env.kubectl(&["create", "-n", &ns, "-f", "-"], Some(&yaml)).await?;
        if ok {
            failures.push(format!(
                "{}: accepted, expected rejection mentioning {expect:?}",
                file.display()
            ));
        } else if !out.contains(&expect) {
            failures.push(format!(
                "{}: rejected, but the message does not mention {expect:?}:\n{out}",
                file.display()
            ));
        }
    }
    // Nothing invalid was stored.
    let (_, listed) =
        env.kubectl(&["get", "redcapenvironments", "-n", &ns, "-o", "name"], None).await?;
    assert!(
        listed.trim().is_empty() || listed.contains("No resources"),
        "invalid objects were stored: {listed}"
    );
    assert!(
        failures.is_empty(),
        "{} of {} corpus files misbehaved:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
    println!("{} invalid manifests rejected with a message naming the field", files.len());
    Ok(())
}

#[tokio::test]
async fn forbidden_changes_to_a_live_environment_are_rejected() -> anyhow::Result<()> {
    let env = TestEnv::from_env().await?;
    let ns = env.namespace("badupdate").await?;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/invalid-updates");
    let cases: Vec<_> = corpus("invalid-updates")?
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n != "base.yaml"))
        .collect();
    assert!(cases.len() >= 2, "expected at least 2 update cases, found {}", cases.len());
    for case in &cases {
        let update_yaml = std::fs::read_to_string(case)?;
        let expect = expectation(&update_yaml, case)?;
        let base_name = update_yaml
            .lines()
            .find_map(|l| l.strip_prefix("# base:"))
            .map(str::trim)
            .with_context(|| format!("{} has no `# base:` header", case.display()))?;
        let base_yaml = std::fs::read_to_string(dir.join(base_name))?;
        // A fresh object per case: each starts from the valid base.
        let _ = env
            .kubectl(
                &["delete", "-n", &ns, "-f", "-", "--ignore-not-found", "--wait"],
                Some(&base_yaml),
            )
            .await?;
        let (ok, out) = env
            .kubectl(&["apply", "--server-side", "-n", &ns, "-f", "-"], Some(&base_yaml))
            .await?;
        assert!(ok, "{base_name} should be accepted: {out}");
        let (ok, out) = env
            .kubectl(&["apply", "--server-side", "-n", &ns, "-f", "-"], Some(&update_yaml))
            .await?;
        assert!(!ok, "{} should be rejected", case.display());
        assert!(
            out.contains(&expect),
            "{}: message does not mention {expect:?}:\n{out}",
            case.display()
        );
    }
    Ok(())
}
