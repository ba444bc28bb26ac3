//! The image tag: which image the spec asks for (step: plan; pure, no I/O).
//!
//! `<version>[-<deployTag>]-<inputs>`, e.g. `15.8.0-3f9a0c2b7d1e` or
//! `15.8.0-upgrade-v2-77b0e1c4a9d3`. `<inputs>` is 12 hex characters of sha256 over
//! everything that goes into the image: the build scheme ([`BUILD_SCHEME`]), the REDCap
//! version and where its zip comes from, the language files, the container revision (the
//! embedded `containers/redcap/`), `deployTag`, `rebuildToken` and the value of the
//! `redcap.dev/rebuild-requested-at` annotation. Equal inputs give the same tag, so an
//! image that exists is never built again, and any change to an input (a new version, an
//! operator release with another container, a new rebuild token) asks for a new image.
//! The tag is never `latest`, and the repository refuses to move it (immutable tags): the
//! digest behind a tag never changes.

use sha2::{Digest, Sha256};

use crate::api::RedcapSpec;

/// Bumped when the pipeline (the buildspec) changes what ends up in the image.
pub const BUILD_SCHEME: &str = "redcap-image-v1";
/// Hex characters of the inputs hash in the tag.
pub const INPUTS_HASH_LEN: usize = 12;
/// Longest `deployTag` part kept in the tag (Docker tags are at most 128 characters).
pub const DEPLOY_TAG_MAX: usize = 96;

/// Everything that decides the image, besides the spec.
#[derive(Clone, Copy, Debug)]
pub struct TagInputs<'a> {
    pub redcap: &'a RedcapSpec,
    /// Full container revision (`plan::image::context::revision`).
    pub container_revision: &'a str,
    /// The `redcap.dev/rebuild-requested-at` annotation, when set.
    pub rebuild_requested_at: Option<&'a str>,
}

/// The image tag for `inputs`.
pub fn image_tag(inputs: &TagInputs<'_>) -> String {
    let r = inputs.redcap;
    let mut h = Sha256::new();
    let mut field = |name: &str, value: &str| {
        // Length-prefixed, so no two different input sets hash alike.
        h.update(name.as_bytes());
        h.update((value.len() as u64).to_be_bytes());
        h.update(value.as_bytes());
    };
    field("scheme", BUILD_SCHEME);
    field("version", &r.version);
    match (&r.source.s3, &r.source.url, &r.source.community) {
        (Some(s3), _, _) => field("source", &format!("s3://{}/{}", s3.bucket, s3.key)),
        (None, Some(url), _) => {
            field("source", &url.url);
            field("sha256", url.sha256.as_deref().unwrap_or(""));
        }
        (None, None, Some(_)) => field("source", "community"),
        (None, None, None) => field("source", ""),
    }
    let mut languages = r.languages.clone();
    languages.sort();
    field("languages", &languages.join("\n"));
    field(
        "languagesSource",
        &r.languages_source
            .as_ref()
            .map(|l| format!("s3://{}/{}", l.bucket, l.key))
            .unwrap_or_default(),
    );
    field("container", inputs.container_revision);
    field("deployTag", r.deploy_tag.as_deref().unwrap_or(""));
    field("rebuildToken", r.rebuild_token.as_deref().unwrap_or(""));
    field("rebuildRequestedAt", inputs.rebuild_requested_at.unwrap_or(""));
    let hash = hex::encode(h.finalize());
    let mut tag = r.version.clone();
    if let Some(deploy) = r.deploy_tag.as_deref().filter(|d| !d.is_empty()) {
        tag.push('-');
        tag.push_str(&deploy[..deploy.len().min(DEPLOY_TAG_MAX)]);
    }
    tag.push('-');
    tag.push_str(&hash[..INPUTS_HASH_LEN]);
    tag
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{RedcapSource, S3Location};

    fn spec() -> RedcapSpec {
        RedcapSpec::new("15.8.0", RedcapSource::s3("releases", "redcap15.8.0.zip"))
    }

    fn tag_of(r: &RedcapSpec, revision: &str, annotation: Option<&str>) -> String {
        image_tag(&TagInputs {
            redcap: r,
            container_revision: revision,
            rebuild_requested_at: annotation,
        })
    }

    fn docker_tag_ok(tag: &str) -> bool {
        // Docker: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
        tag.len() <= 128
            && tag.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
            && tag.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
    }

    #[test]
    fn shape_and_determinism() {
        let r = spec();
        let t = tag_of(&r, "abc", None);
        assert!(t.starts_with("15.8.0-"), "{t}");
        assert_eq!(t.len(), "15.8.0-".len() + INPUTS_HASH_LEN);
        assert_eq!(t, tag_of(&r, "abc", None));
        assert_ne!(t, "latest");
        assert!(docker_tag_ok(&t), "{t}");
    }

    #[test]
    fn every_input_changes_the_tag() {
        let base = spec();
        let t = tag_of(&base, "abc", None);
        let mut variants = Vec::new();
        let mut r = base.clone();
        r.version = "16.1.5".into();
        r.source = RedcapSource::s3("releases", "redcap16.1.5.zip");
        variants.push(tag_of(&r, "abc", None));
        let mut r = base.clone();
        r.source = RedcapSource::s3("other", "redcap15.8.0.zip");
        variants.push(tag_of(&r, "abc", None));
        let mut r = base.clone();
        r.languages = vec!["Japanese".into()];
        r.languages_source = Some(S3Location { bucket: "l".into(), key: "lang/".into() });
        variants.push(tag_of(&r, "abc", None));
        let mut r = base.clone();
        r.rebuild_token = Some("1".into());
        variants.push(tag_of(&r, "abc", None));
        variants.push(tag_of(&base, "abd", None));
        variants.push(tag_of(&base, "abc", Some("2026-01-01T00:00:00Z")));
        let mut r = base.clone();
        r.deploy_tag = Some("upgrade-v2".into());
        let deploy = tag_of(&r, "abc", None);
        assert!(deploy.starts_with("15.8.0-upgrade-v2-"), "{deploy}");
        variants.push(deploy);
        for v in &variants {
            assert_ne!(*v, t);
            assert!(docker_tag_ok(v), "{v}");
        }
        let mut unique = variants.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), variants.len());
    }

    #[test]
    fn language_order_does_not_matter_and_long_deploy_tags_are_cut() {
        let mut a = spec();
        a.languages = vec!["Spanish".into(), "Japanese".into()];
        let mut b = a.clone();
        b.languages.reverse();
        assert_eq!(tag_of(&a, "r", None), tag_of(&b, "r", None));
        let mut long = spec();
        long.deploy_tag = Some("x".repeat(128));
        let t = tag_of(&long, "r", None);
        assert!(docker_tag_ok(&t), "{} characters", t.len());
        let mut longer = long.clone();
        longer.deploy_tag = Some(format!("{}y", "x".repeat(127)));
        assert_ne!(t, tag_of(&longer, "r", None), "the hash covers the whole deployTag");
    }
}
