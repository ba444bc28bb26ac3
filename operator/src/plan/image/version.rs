//! REDCap versions: parsing, the supported range, and the version a release zip's name
//! carries (step: plan; pure, no I/O).
//!
//! The seed tested REDCap 14.1.5, 15.8.0 and 16.1.5; its container needed changes for
//! REDCap 16 (the bundled AWS SDK). The operator accepts [`MIN_SUPPORTED`] and later:
//! older releases predate the PHP and SDK the container is built for. A later major is
//! accepted too (the consortium ships one a year); if the container cannot build it, the
//! build fails and says where.

use std::fmt;

use crate::api::RedcapSource;

use super::super::PlanError;

/// The oldest REDCap release the image is built for.
pub const MIN_SUPPORTED: Version = Version { major: 14, minor: 0, patch: 0 };

/// A REDCap release number `X.Y.Z`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    pub major: u16,
    pub minor: u16,
    pub patch: u16,
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl std::str::FromStr for Version {
    type Err = String;

    /// Exactly three dot-separated decimal numbers of at most three digits, without
    /// leading `v` or suffixes (what the consortium uses and the schema allows).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split('.').collect();
        let number = |p: &str| -> Option<u16> {
            (!p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
                .then(|| p.parse().ok())
                .flatten()
        };
        match parts.as_slice() {
            [a, b, c] => match (number(a), number(b), number(c)) {
                (Some(major), Some(minor), Some(patch)) => Ok(Version { major, minor, patch }),
                _ => Err(format!("{s:?} is not a version X.Y.Z")),
            },
            _ => Err(format!("{s:?} is not a version X.Y.Z")),
        }
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> PlanError {
    PlanError::InvalidSpec { field, message: message.into() }
}

/// `spec.redcap.version`, parsed and within the supported range.
pub fn supported_version(version: &str) -> Result<Version, PlanError> {
    let v: Version = version.parse().map_err(|e: String| invalid("spec.redcap.version", e))?;
    if v < MIN_SUPPORTED {
        return Err(invalid(
            "spec.redcap.version",
            format!(
                "REDCap {v} is not supported: the image is built for REDCap {MIN_SUPPORTED} and later"
            ),
        ));
    }
    Ok(v)
}

/// The version in a release zip's file name: `redcap<X.Y.Z>.zip` (the consortium's
/// naming, which the seed parsed too), possibly after other characters. `None` when the
/// name carries none.
pub fn version_in_file_name(name: &str) -> Option<Version> {
    let stem = name.strip_suffix(".zip")?;
    let at = stem.rfind("redcap")?;
    stem[at + "redcap".len()..].parse().ok()
}

/// The last segment of a path or URL path (`a/b/redcap15.8.0.zip` -> `redcap15.8.0.zip`).
fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The path of an `https://` URL without query or fragment.
fn url_path(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    rest.split_once('/').map_or("", |(_, p)| p)
}

/// Checks that the release zip's name carries `version` (community downloads are asked
/// for the version by name, so they carry no file name to check). The message names the
/// field and both versions.
pub fn check_source_name(source: &RedcapSource, version: Version) -> Result<(), PlanError> {
    let (field, name) = match (&source.s3, &source.url) {
        (Some(s3), _) => ("spec.redcap.source.s3.key", base_name(&s3.key).to_string()),
        (None, Some(url)) => {
            ("spec.redcap.source.url.url", base_name(url_path(&url.url)).to_string())
        }
        (None, None) => return Ok(()),
    };
    match version_in_file_name(&name) {
        None => Err(invalid(
            field,
            format!(
                "the release zip {name:?} does not carry a version: name it redcap{version}.zip, as the consortium does"
            ),
        )),
        Some(found) if found != version => Err(invalid(
            field,
            format!(
                "the release zip {name:?} is REDCap {found}, but spec.redcap.version is {version}"
            ),
        )),
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::UrlSource;

    fn v(s: &str) -> Version {
        s.parse().expect("version")
    }

    #[test]
    fn parsing() {
        assert_eq!(v("15.8.0"), Version { major: 15, minor: 8, patch: 0 });
        assert_eq!(v("16.1.5").to_string(), "16.1.5");
        for bad in
            ["", "15", "15.8", "v15.8.0", "15.8.0.1", "15.8.x", "1000.0.0", "15..0", "15.8.0-rc1"]
        {
            assert!(bad.parse::<Version>().is_err(), "{bad}");
        }
        assert!(v("14.1.5") < v("14.10.0"), "numeric, not lexical");
    }

    #[test]
    fn supported_range() {
        for ok in ["14.0.0", "14.1.5", "15.8.0", "16.1.5", "17.0.0"] {
            assert_eq!(supported_version(ok).map(|x| x.to_string()), Ok(ok.to_string()));
        }
        let err = supported_version("13.7.5").expect_err("too old");
        assert_eq!(
            err.to_string(),
            "spec.redcap.version: REDCap 13.7.5 is not supported: the image is built for REDCap 14.0.0 and later"
        );
        assert!(supported_version("x").is_err());
    }

    #[test]
    fn file_names() {
        let cases = [
            ("redcap15.8.0.zip", Some("15.8.0")),
            ("myredcap16.1.5.zip", Some("16.1.5")),
            ("redcap15.8.0.zip.zip", None),
            ("redcap.zip", None),
            ("redcap_15.8.0.zip", None),
            ("REDCap15.8.0.zip", None),
            ("redcap15.8.0.tar.gz", None),
        ];
        for (name, want) in cases {
            assert_eq!(
                version_in_file_name(name).map(|x| x.to_string()).as_deref(),
                want,
                "{name}"
            );
        }
    }

    #[test]
    fn source_names_must_carry_the_spec_version() {
        let s3 = RedcapSource::s3("b", "releases/redcap15.8.0.zip");
        assert!(check_source_name(&s3, v("15.8.0")).is_ok());
        let err = check_source_name(&s3, v("16.1.5")).expect_err("other version");
        assert_eq!(
            err.to_string(),
            "spec.redcap.source.s3.key: the release zip \"redcap15.8.0.zip\" is REDCap 15.8.0, but spec.redcap.version is 16.1.5"
        );
        let unnamed = RedcapSource::s3("b", "releases/latest.zip");
        let err = check_source_name(&unnamed, v("15.8.0")).expect_err("no version");
        assert!(err.to_string().contains("does not carry a version"), "{err}");

        let url = |u: &str| RedcapSource {
            url: Some(UrlSource { url: u.into(), sha256: None }),
            ..RedcapSource::default()
        };
        assert!(
            check_source_name(
                &url("https://files.example.org/r/redcap15.8.0.zip?sig=1#x"),
                v("15.8.0")
            )
            .is_ok()
        );
        assert!(
            check_source_name(
                &url("https://files.example.org/download?file=redcap15.8.0.zip"),
                v("15.8.0")
            )
            .is_err()
        );
        assert!(check_source_name(&RedcapSource::default(), v("15.8.0")).is_ok());
    }
}
