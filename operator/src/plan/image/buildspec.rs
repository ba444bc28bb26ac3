//! The CodeBuild buildspec and the project's environment variables (step: plan; pure).
//!
//! The buildspec is rendered per source kind (S3 object, HTTPS URL, consortium download)
//! and per language selection, so what runs is explicit and golden-tested. Values travel
//! in the project's environment variables; the only spec values written into the text are
//! language names, which the schema (and [`valid_language`]) limit to letters, digits,
//! spaces and `._()-`. Consortium credentials are `SECRETS_MANAGER` variables: CodeBuild
//! reads them from the secret at build time and masks them in the log; the password
//! reaches `curl` on stdin, never on a command line.
//!
//! What the build does, against the contract in `containers/redcap/README.md`: fetch the
//! zip to `redcap.zip` and check it holds `redcap/redcap_v<version>/`, put the language
//! files in `languages/` (which always exists), log in to ECR, `docker build --build-arg
//! REDCAP_VERSION=<version>` in the context, push the tag, and export the digest.

use std::collections::BTreeMap;

use crate::api::RedcapSpec;

/// Where the consortium serves release zips to its members (what REDCap's own upgrade
/// module calls).
pub const COMMUNITY_DOWNLOAD_URL: &str =
    "https://redcap.vumc.org/plugins/redcap_consortium/versions.php";

/// How the build gets the release zip.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ZipSource {
    /// `aws s3 cp` of `s3://bucket/key`.
    S3 { bucket: String, key: String },
    /// `curl` over HTTPS, with an optional sha256 check.
    Url { url: String, sha256: Option<String> },
    /// A POST to the consortium with the credentials in this Secrets Manager secret
    /// (JSON keys `username` and `password`).
    Community { secret_arn: String },
}

/// Which language files the build fetches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Languages {
    /// English only.
    None,
    /// Every `*.ini` directly under `s3://bucket/prefix` (prefix ends with `/` or is empty).
    All { bucket: String, prefix: String },
    /// These `<name>.ini` files under the prefix.
    Named { bucket: String, prefix: String, names: Vec<String> },
}

/// One project environment variable.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct EnvVar {
    pub name: String,
    pub value: String,
    /// `false`: PLAINTEXT; `true`: SECRETS_MANAGER (`value` is `<secret-arn>:<json-key>`).
    pub secret: bool,
}

/// What the build needs to know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildInputs {
    pub repository_uri: String,
    pub tag: String,
    pub version: String,
    pub container_revision: String,
    pub zip: ZipSource,
    pub languages: Languages,
}

/// A language name safe to write into the buildspec inside double quotes (the schema's
/// pattern: no quotes, `$`, backslashes or backticks).
pub fn valid_language(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b" ._()-".contains(&b))
}

/// The languages the spec asks for. `prefix` gets a trailing `/` (a key prefix names a
/// folder of `<Language>.ini` files).
pub fn languages_of(spec: &RedcapSpec) -> Languages {
    let Some(src) = &spec.languages_source else {
        return Languages::None;
    };
    let mut prefix = src.key.clone();
    if !prefix.is_empty() && !prefix.ends_with('/') {
        prefix.push('/');
    }
    if spec.languages.is_empty() {
        Languages::All { bucket: src.bucket.clone(), prefix }
    } else {
        let mut names = spec.languages.clone();
        names.sort();
        names.dedup();
        Languages::Named { bucket: src.bucket.clone(), prefix, names }
    }
}

/// The project's environment variables, sorted by name (the order AWS keeps them in does
/// not matter; see `plan::image::project`).
pub fn environment(inputs: &BuildInputs) -> Vec<EnvVar> {
    let mut vars = BTreeMap::new();
    let mut plain = |name: &str, value: &str| {
        vars.insert(name.to_string(), (value.to_string(), false));
    };
    plain("ECR_REPOSITORY_URI", &inputs.repository_uri);
    plain("IMAGE_TAG", &inputs.tag);
    plain("REDCAP_VERSION", &inputs.version);
    plain("CONTAINER_REVISION", &inputs.container_revision);
    match &inputs.zip {
        ZipSource::S3 { bucket, key } => plain("REDCAP_S3_URI", &format!("s3://{bucket}/{key}")),
        ZipSource::Url { url, sha256 } => {
            plain("REDCAP_URL", url);
            if let Some(sum) = sha256 {
                plain("REDCAP_SHA256", sum);
            }
        }
        ZipSource::Community { .. } => plain("REDCAP_COMMUNITY_URL", COMMUNITY_DOWNLOAD_URL),
    }
    match &inputs.languages {
        Languages::None => {}
        Languages::All { bucket, prefix } | Languages::Named { bucket, prefix, .. } => {
            plain("LANGUAGES_S3_URI", &format!("s3://{bucket}/{prefix}"))
        }
    }
    if let ZipSource::Community { secret_arn } = &inputs.zip {
        vars.insert("REDCAP_COMMUNITY_USERNAME".into(), (format!("{secret_arn}:username"), true));
        vars.insert("REDCAP_COMMUNITY_PASSWORD".into(), (format!("{secret_arn}:password"), true));
    }
    vars.into_iter().map(|(name, (value, secret))| EnvVar { name, value, secret }).collect()
}

/// Indents every line of `block` by `n` spaces (for YAML block scalars).
fn indent(block: &str, n: usize) -> String {
    let pad = " ".repeat(n);
    block
        .lines()
        .map(|l| if l.is_empty() { String::new() } else { format!("{pad}{l}") })
        .collect::<Vec<_>>()
        .join("\n")
}

fn fetch_zip(zip: &ZipSource) -> String {
    match zip {
        ZipSource::S3 { .. } => r#"echo "Fetching REDCap ${REDCAP_VERSION} from ${REDCAP_S3_URI}"
aws s3 cp --only-show-errors "${REDCAP_S3_URI}" redcap.zip"#
            .to_string(),
        ZipSource::Url { sha256, .. } => {
            let mut s = r#"echo "Fetching REDCap ${REDCAP_VERSION} from ${REDCAP_URL}"
curl --fail --silent --show-error --location --proto '=https' --retry 3 --output redcap.zip "${REDCAP_URL}""#
                .to_string();
            if sha256.is_some() {
                s.push_str(
                    r#"
echo "${REDCAP_SHA256}  redcap.zip" | sha256sum --check --strict -"#,
                );
            }
            s
        }
        ZipSource::Community { .. } => r#"echo "Downloading REDCap ${REDCAP_VERSION} from the REDCap consortium"
printf '%s' "${REDCAP_COMMUNITY_PASSWORD}" | curl --fail --silent --show-error --location --proto '=https' --retry 3 \
  --output redcap.zip \
  --data-urlencode "username=${REDCAP_COMMUNITY_USERNAME}" \
  --data-urlencode "password@-" \
  --data-urlencode "version=${REDCAP_VERSION}" \
  --data-urlencode "install=1" \
  "${REDCAP_COMMUNITY_URL}""#
            .to_string(),
    }
}

fn fetch_languages(languages: &Languages) -> String {
    let mut s = String::from("mkdir -p languages");
    match languages {
        Languages::None => s.push_str("\necho \"No language files: English only\""),
        Languages::All { .. } => s.push_str(
            r#"
aws s3 cp --only-show-errors --recursive "${LANGUAGES_S3_URI}" languages/ --exclude "*" --include "*.ini" --exclude "*/*"
echo "Language files: $(ls languages)""#,
        ),
        Languages::Named { names, .. } => {
            for name in names {
                s.push_str(&format!(
                    "\naws s3 cp --only-show-errors \"${{LANGUAGES_S3_URI}}{name}.ini\" \"languages/{name}.ini\""
                ));
            }
        }
    }
    s
}

/// The buildspec (YAML) for `inputs`.
pub fn buildspec(inputs: &BuildInputs) -> String {
    let check_zip = r#"if ! unzip -l redcap.zip > /tmp/redcap-zip-contents 2>/dev/null; then
  echo "redcap.zip is not a zip archive: check the release source (or the consortium credentials and version)" >&2
  exit 1
fi
if ! grep -qF " redcap/redcap_v${REDCAP_VERSION}/" /tmp/redcap-zip-contents; then
  echo "redcap.zip holds no redcap/redcap_v${REDCAP_VERSION}/ folder: it is not REDCap ${REDCAP_VERSION}" >&2
  exit 1
fi"#;
    let login = r#"aws ecr get-login-password --region "${AWS_REGION}" | docker login --username AWS --password-stdin "${ECR_REPOSITORY_URI%%/*}""#;
    let build = r#"docker build --pull --build-arg "REDCAP_VERSION=${REDCAP_VERSION}" --tag "${ECR_REPOSITORY_URI}:${IMAGE_TAG}" .
docker push "${ECR_REPOSITORY_URI}:${IMAGE_TAG}"
IMAGE_DIGEST="$(docker inspect --format '{{index .RepoDigests 0}}' "${ECR_REPOSITORY_URI}:${IMAGE_TAG}" | cut -d@ -f2)"
echo "Pushed ${ECR_REPOSITORY_URI}:${IMAGE_TAG} as ${IMAGE_DIGEST} (container revision ${CONTAINER_REVISION})""#;
    let step =
        |script: String| format!("      - |\n        set -o pipefail\n{}\n", indent(&script, 8));
    let mut out = String::from(
        "# REDCap image build, rendered by redcap-operator (plan::image::buildspec).\n\
         # Inputs are the project's environment variables; nothing secret is written here.\n\
         version: 0.2\n\
         env:\n  shell: bash\n  exported-variables:\n    - IMAGE_DIGEST\n\
         phases:\n  pre_build:\n    on-failure: ABORT\n    commands:\n",
    );
    out.push_str(&step(fetch_zip(&inputs.zip)));
    out.push_str(&step(check_zip.to_string()));
    out.push_str(&step(fetch_languages(&inputs.languages)));
    out.push_str(&step(login.to_string()));
    out.push_str("  build:\n    on-failure: ABORT\n    commands:\n");
    out.push_str(&step(build.to_string()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{RedcapSource, S3Location};

    fn inputs(zip: ZipSource, languages: Languages) -> BuildInputs {
        BuildInputs {
            repository_uri:
                "123456789012.dkr.ecr.eu-west-1.amazonaws.com/redcap/rc-prod-redcap-1a2b3c4d".into(),
            tag: "15.8.0-3f9a0c2b7d1e".into(),
            version: "15.8.0".into(),
            container_revision: "0123456789abcdef".into(),
            zip,
            languages,
        }
    }

    fn s3() -> ZipSource {
        ZipSource::S3 { bucket: "my-releases".into(), key: "redcap/redcap15.8.0.zip".into() }
    }

    /// Compares with `golden/<name>`; `UPDATE_GOLDEN=1` rewrites the file.
    fn golden(name: &str, actual: &str) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/plan/image/golden")
            .join(name);
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
            std::fs::write(&path, actual).expect("write golden");
            return;
        }
        let want = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 creates it)", path.display()));
        assert_eq!(actual, want, "{} differs (UPDATE_GOLDEN=1 updates it)", path.display());
    }

    fn parses(spec: &str) -> serde_yaml::Value {
        let doc: serde_yaml::Value = serde_yaml::from_str(spec).expect("valid YAML");
        assert_eq!(doc["version"], serde_yaml::Value::from(0.2));
        for phase in ["pre_build", "build"] {
            assert_eq!(doc["phases"][phase]["on-failure"], "ABORT", "{phase}");
            let commands = doc["phases"][phase]["commands"].as_sequence().expect("commands");
            assert!(!commands.is_empty());
            for c in commands {
                assert!(c.as_str().expect("string").starts_with("set -o pipefail\n"), "{c:?}");
            }
        }
        doc
    }

    #[test]
    fn s3_source_without_languages() {
        let i = inputs(s3(), Languages::None);
        let spec = buildspec(&i);
        parses(&spec);
        golden("buildspec-s3.yml", &spec);
        assert!(!spec.contains("curl"), "an S3 build never downloads over HTTP");
        let env = environment(&i);
        let names: Vec<&str> = env.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "CONTAINER_REVISION",
                "ECR_REPOSITORY_URI",
                "IMAGE_TAG",
                "REDCAP_S3_URI",
                "REDCAP_VERSION"
            ]
        );
        assert!(env.iter().all(|v| !v.secret));
        assert_eq!(env[3].value, "s3://my-releases/redcap/redcap15.8.0.zip");
    }

    #[test]
    fn url_source_with_checksum_and_named_languages() {
        let i = inputs(
            ZipSource::Url {
                url: "https://files.example.org/redcap15.8.0.zip".into(),
                sha256: Some("ab".repeat(32)),
            },
            Languages::Named {
                bucket: "langs".into(),
                prefix: "redcap/languages/".into(),
                names: vec!["Japanese".into(), "Portuguese (Brazil)".into()],
            },
        );
        let spec = buildspec(&i);
        parses(&spec);
        golden("buildspec-url.yml", &spec);
        assert!(spec.contains("sha256sum --check"));
        assert!(spec.contains(r#""languages/Portuguese (Brazil).ini""#));
        let env = environment(&i);
        assert!(env.iter().any(|v| v.name == "REDCAP_SHA256"));
        assert!(
            env.iter()
                .any(|v| v.name == "LANGUAGES_S3_URI" && v.value == "s3://langs/redcap/languages/")
        );
        let no_sum = inputs(
            ZipSource::Url {
                url: "https://files.example.org/redcap15.8.0.zip".into(),
                sha256: None,
            },
            Languages::None,
        );
        assert!(!buildspec(&no_sum).contains("sha256sum"));
        assert!(!environment(&no_sum).iter().any(|v| v.name == "REDCAP_SHA256"));
    }

    #[test]
    fn community_source_keeps_credentials_in_secrets_manager_variables() {
        let arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:redcap/rc-x/community-credentials-AbCdEf";
        let i = inputs(
            ZipSource::Community { secret_arn: arn.into() },
            Languages::All { bucket: "langs".into(), prefix: "languages/".into() },
        );
        let spec = buildspec(&i);
        parses(&spec);
        golden("buildspec-community.yml", &spec);
        assert!(spec.contains("password@-"), "the password goes to curl on stdin");
        assert!(!spec.contains("password=${"), "never on the command line");
        let env = environment(&i);
        let secret: Vec<(&str, &str)> =
            env.iter().filter(|v| v.secret).map(|v| (v.name.as_str(), v.value.as_str())).collect();
        assert_eq!(
            secret,
            [
                ("REDCAP_COMMUNITY_PASSWORD", format!("{arn}:password").as_str()),
                ("REDCAP_COMMUNITY_USERNAME", format!("{arn}:username").as_str())
            ]
        );
    }

    #[test]
    fn languages_from_the_spec() {
        let mut spec = RedcapSpec::new("15.8.0", RedcapSource::s3("b", "redcap15.8.0.zip"));
        assert_eq!(languages_of(&spec), Languages::None);
        spec.languages_source = Some(S3Location { bucket: "l".into(), key: "lang".into() });
        assert_eq!(
            languages_of(&spec),
            Languages::All { bucket: "l".into(), prefix: "lang/".into() }
        );
        spec.languages = vec!["Spanish".into(), "Japanese".into(), "Spanish".into()];
        assert_eq!(
            languages_of(&spec),
            Languages::Named {
                bucket: "l".into(),
                prefix: "lang/".into(),
                names: vec!["Japanese".into(), "Spanish".into()]
            }
        );
        for ok in ["Japanese", "Portuguese (Brazil)", "Chinese_Simplified", "de.v2"] {
            assert!(valid_language(ok), "{ok}");
        }
        for bad in ["", "$(reboot)", "a\"b", "`x`", "a\\b", " lead", "x/y"] {
            assert!(!valid_language(bad), "{bad}");
        }
    }
}
