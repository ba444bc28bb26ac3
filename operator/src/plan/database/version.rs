//! Aurora MySQL engine versions: parsing, ordering and the upgrade decision (step: plan;
//! pure).
//!
//! `8.0.mysql_aurora.3.10.3` is MySQL `8.0` plus the Aurora version `3.10.3`. Versions
//! compare numerically part by part (`3.10.3` is newer than `3.9.0`, which a string
//! comparison gets wrong). The major line is MySQL's `major.minor` plus Aurora's first
//! number: an upgrade that changes it needs `AllowMajorVersionUpgrade`.
//!
//! No update loops: AWS upgrades minor versions on its own (`AutoMinorVersionUpgrade`), so
//! a cluster running a newer version than the spec is left alone. Only a spec that asks for
//! less than the operator asked for before (the `redcap.dev/engine-version` tag on the
//! cluster) is a downgrade request, and Aurora cannot downgrade in place: it is refused.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// A parsed Aurora MySQL engine version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineVersion {
    raw: String,
    mysql: (u32, u32),
    aurora: Vec<u32>,
}

impl EngineVersion {
    /// The version as AWS writes it.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The cluster parameter group family (`aurora-mysql8.0`).
    pub fn family(&self) -> String {
        format!("aurora-mysql{}.{}", self.mysql.0, self.mysql.1)
    }

    /// MySQL `major.minor` and the Aurora major number (`(8, 0, 3)`).
    pub fn major_line(&self) -> (u32, u32, u32) {
        (self.mysql.0, self.mysql.1, self.aurora.first().copied().unwrap_or(0))
    }
}

impl FromStr for EngineVersion {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{s:?} is not an Aurora MySQL version like 8.0.mysql_aurora.3.10.3");
        let (mysql, aurora) = s.trim().split_once(".mysql_aurora.").ok_or_else(bad)?;
        let (major, minor) = mysql.split_once('.').ok_or_else(bad)?;
        let num = |p: &str| p.parse::<u32>().map_err(|_| bad());
        let aurora = aurora.split('.').map(num).collect::<Result<Vec<_>, _>>()?;
        if aurora.is_empty() {
            return Err(bad());
        }
        Ok(Self { raw: s.trim().to_string(), mysql: (num(major)?, num(minor)?), aurora })
    }
}

impl Ord for EngineVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.mysql.cmp(&other.mysql).then_with(|| self.aurora.cmp(&other.aurora))
    }
}

impl PartialOrd for EngineVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for EngineVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

/// What to do about the engine version of a running cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EngineStep {
    /// The cluster runs exactly the spec's version.
    InSync,
    /// Upgrade with `ModifyDBCluster`; `allow_major` when the major line changes.
    Upgrade { to: String, allow_major: bool },
    /// The cluster runs a newer version than the spec (an AWS minor upgrade): no change.
    RunningNewer { running: String },
    /// The running version cannot be read: no change (reported).
    Unrecognised { running: String },
    /// The spec asks for less than before and less than what runs: refused.
    Downgrade { message: String },
}

/// Decides the engine step. `requested` is the version the operator last asked for on
/// this cluster (its `redcap.dev/engine-version` tag), absent on clusters it never
/// upgraded.
pub fn engine_step(desired: &EngineVersion, running: &str, requested: Option<&str>) -> EngineStep {
    let Ok(running_v) = running.parse::<EngineVersion>() else {
        return EngineStep::Unrecognised { running: running.to_string() };
    };
    match desired.cmp(&running_v) {
        Ordering::Equal => EngineStep::InSync,
        Ordering::Greater => EngineStep::Upgrade {
            to: desired.as_str().to_string(),
            allow_major: desired.major_line() != running_v.major_line(),
        },
        Ordering::Less => {
            let asked_before = requested.and_then(|r| r.parse::<EngineVersion>().ok());
            match asked_before {
                Some(before) if *desired < before => EngineStep::Downgrade {
                    message: format!(
                        "{desired} is older than the running {running_v} (and than {before}, asked for before); Aurora cannot downgrade a cluster in place: set {running_v} or newer, or restore a snapshot into a new cluster with spec.database.restoreFrom"
                    ),
                },
                _ => EngineStep::RunningNewer { running: running_v.as_str().to_string() },
            }
        }
    }
}

/// Checks that a restore source's engine can be restored at the spec's version: Aurora
/// MySQL, at a version not newer than the spec's (seed issue 99).
pub fn check_restorable(
    desired: &EngineVersion,
    engine: &str,
    version: &str,
    what: &str,
) -> Result<(), String> {
    if engine != super::ENGINE {
        return Err(format!(
            "{what} is a {engine:?} database; only {} can be restored",
            super::ENGINE
        ));
    }
    let source: EngineVersion =
        version.parse().map_err(|e| format!("{what} has an unrecognised engine version: {e}"))?;
    if source > *desired {
        return Err(format!(
            "{what} runs {source}, newer than spec.database.engineVersion {desired}; set spec.database.engineVersion to {source} or newer (Aurora cannot restore to an older version)"
        ));
    }
    // An older major line restores into a newer one (Aurora MySQL 2 -> 3 is AWS's own
    // upgrade path by snapshot restore), so only "newer than the spec" is refused.
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> EngineVersion {
        s.parse().expect("version")
    }

    #[test]
    fn parses_and_orders_numerically() {
        assert!(v("8.0.mysql_aurora.3.10.3") > v("8.0.mysql_aurora.3.9.0"));
        assert!(v("8.0.mysql_aurora.3.10.3") < v("8.0.mysql_aurora.3.10.4"));
        assert!(v("8.0.mysql_aurora.4.0.0") > v("8.0.mysql_aurora.3.99.99"));
        assert!(v("5.7.mysql_aurora.2.12.1") < v("8.0.mysql_aurora.3.01.0"));
        assert_eq!(v("8.0.mysql_aurora.3.08.0"), v("8.0.mysql_aurora.3.08.0"));
        // Leading zeros are numbers, not strings.
        assert_eq!(v("8.0.mysql_aurora.3.08.0").cmp(&v("8.0.mysql_aurora.3.8.0")), Ordering::Equal);
        assert_eq!(v("8.0.mysql_aurora.3.10.3").family(), "aurora-mysql8.0");
        assert_eq!(v("8.0.mysql_aurora.3.10.3").major_line(), (8, 0, 3));
        for bad in ["", "8.0", "8.0.mysql_aurora.", "8.0.mysql_aurora.3.x.1", "aurora"] {
            assert!(bad.parse::<EngineVersion>().is_err(), "{bad}");
        }
    }

    #[test]
    fn engine_steps() {
        let want = v("8.0.mysql_aurora.3.10.3");
        assert_eq!(engine_step(&want, "8.0.mysql_aurora.3.10.3", None), EngineStep::InSync);
        assert_eq!(
            engine_step(&want, "8.0.mysql_aurora.3.08.2", None),
            EngineStep::Upgrade { to: "8.0.mysql_aurora.3.10.3".into(), allow_major: false }
        );
        assert_eq!(
            engine_step(&v("8.0.mysql_aurora.4.0.1"), "8.0.mysql_aurora.3.10.3", None),
            EngineStep::Upgrade { to: "8.0.mysql_aurora.4.0.1".into(), allow_major: true }
        );
        // AWS upgraded the cluster: never an update, whatever the tag says.
        for tag in [None, Some("8.0.mysql_aurora.3.10.3"), Some("8.0.mysql_aurora.3.08.0")] {
            assert_eq!(
                engine_step(&want, "8.0.mysql_aurora.3.10.4", tag),
                EngineStep::RunningNewer { running: "8.0.mysql_aurora.3.10.4".into() },
                "{tag:?}"
            );
        }
        // The spec went below what it asked for before and below what runs: refused.
        let lower = v("8.0.mysql_aurora.3.08.0");
        assert!(matches!(
            engine_step(&lower, "8.0.mysql_aurora.3.10.4", Some("8.0.mysql_aurora.3.10.3")),
            EngineStep::Downgrade { message } if message.contains("cannot downgrade")
        ));
        // Lower than before but still at or above what runs: an ordinary step.
        assert_eq!(
            engine_step(&lower, "8.0.mysql_aurora.3.08.0", Some("8.0.mysql_aurora.3.10.3")),
            EngineStep::InSync
        );
        assert!(matches!(
            engine_step(&want, "something-else", None),
            EngineStep::Unrecognised { .. }
        ));
    }

    #[test]
    fn restorable_sources() {
        let want = v("8.0.mysql_aurora.3.10.3");
        assert!(
            check_restorable(&want, "aurora-mysql", "8.0.mysql_aurora.3.08.2", "snapshot s")
                .is_ok()
        );
        assert!(
            check_restorable(&want, "aurora-mysql", "8.0.mysql_aurora.3.10.3", "snapshot s")
                .is_ok()
        );
        let newer =
            check_restorable(&want, "aurora-mysql", "8.0.mysql_aurora.3.10.4", "snapshot s")
                .expect_err("newer snapshot");
        assert!(newer.contains("newer than spec.database.engineVersion"), "{newer}");
        let other = check_restorable(&want, "aurora-postgresql", "15.4", "snapshot s")
            .expect_err("postgres");
        assert!(other.contains("aurora-postgresql"), "{other}");
        assert!(
            check_restorable(&want, "aurora-mysql", "5.7.mysql_aurora.2.11.2", "snapshot s")
                .is_ok()
        );
    }
}
