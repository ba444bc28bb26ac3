//! DNS record sets the operator writes into zones it does not own alone (step: plan;
//! pure, no I/O).
//!
//! One rule for every record the environment needs (site alias, certificate validation,
//! SES, delegation NS): the operator never replaces a record set that holds values it
//! did not write.
//!
//! - A **shared** record (TXT, MX) is merged: the operator's value is added next to the
//!   values already there, and on removal only the operator's value is taken out.
//! - An **exclusive** record (an alias, a CNAME, a delegation's NS set) holds one target:
//!   it is written when absent, rewritten only when it holds a target the operator wrote
//!   before (`previous`, e.g. the load balancer of the compute kind being retired), and
//!   otherwise reported as a conflict for a person to resolve.
//!
//! A rewrite is a `DELETE` of the set exactly as it was read plus a `CREATE` of the new
//! set in one change batch. Route 53 applies a batch atomically and refuses a `DELETE`
//! that does not match, so an edit someone made between the read and the write fails the
//! batch (`InvalidChangeBatch`) instead of being overwritten: Route 53's only
//! compare-and-swap. A new set is a `CREATE`, which fails the same way when someone
//! created it in between.

use crate::api;

/// An alias target (a load balancer, an App Runner domain) as Route 53 takes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AliasTarget {
    /// DNS name, lower case, no trailing dot.
    pub dns_name: String,
    /// The target's own hosted zone id (the load balancer's `CanonicalHostedZoneId`).
    pub zone_id: String,
}

impl AliasTarget {
    pub fn new(dns_name: &str, zone_id: &str) -> Self {
        Self { dns_name: normalize_target(dns_name), zone_id: zone_id.to_string() }
    }

    /// The same target; an empty zone id (a target known only by its DNS name, as
    /// status records it) matches any.
    fn same(&self, other: &AliasTarget) -> bool {
        normalize_target(&self.dns_name) == normalize_target(&other.dns_name)
            && (self.zone_id == other.zone_id
                || self.zone_id.is_empty()
                || other.zone_id.is_empty())
    }
}

/// A record set: a name and type with values, or an alias.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordSet {
    /// Fully qualified, lower case, no trailing dot.
    pub name: String,
    pub type_: String,
    /// `None` for an alias (Route 53 takes no TTL there).
    pub ttl: Option<i64>,
    /// As Route 53 takes them (TXT values quoted). Empty for an alias.
    pub values: Vec<String>,
    pub alias: Option<AliasTarget>,
}

impl RecordSet {
    pub fn values(name: &str, type_: &str, ttl: i64, values: Vec<String>) -> Self {
        Self {
            name: normalize_name(name),
            type_: type_.to_string(),
            ttl: Some(ttl),
            values,
            alias: None,
        }
    }

    pub fn alias(name: &str, type_: &str, target: AliasTarget) -> Self {
        Self {
            name: normalize_name(name),
            type_: type_.to_string(),
            ttl: None,
            values: Vec::new(),
            alias: Some(target),
        }
    }

    fn holds(&self, value: &str) -> bool {
        self.values.iter().any(|v| same_value(&self.type_, v, value))
    }

    /// Same target (values as sets, or the same alias).
    fn same_target(&self, other: &RecordSet) -> bool {
        match (&self.alias, &other.alias) {
            (Some(a), Some(b)) => a.same(b),
            (None, None) => {
                self.values.len() == other.values.len()
                    && self.values.iter().all(|v| other.holds(v))
            }
            _ => false,
        }
    }
}

/// How a wanted record lives with other people's values at its name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Share {
    /// Multi-valued (TXT, MX): the operator's values are added to the set.
    Merge,
    /// One target: written when absent or when it holds one of these targets the
    /// operator wrote before; anything else is a conflict.
    Exclusive { previous: Vec<RecordSet> },
}

/// A record the environment needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WantedRecord {
    pub set: RecordSet,
    pub share: Share,
    /// Why it exists ("certificate validation"), for status and messages.
    pub purpose: String,
}

impl WantedRecord {
    pub fn merged(set: RecordSet, purpose: impl Into<String>) -> Self {
        Self { set, share: Share::Merge, purpose: purpose.into() }
    }

    pub fn exclusive(set: RecordSet, purpose: impl Into<String>) -> Self {
        Self { set, share: Share::Exclusive { previous: Vec::new() }, purpose: purpose.into() }
    }

    /// Also rewrite the set when it holds one of `previous` (targets the operator wrote).
    pub fn replacing(mut self, previous: Vec<RecordSet>) -> Self {
        self.share = Share::Exclusive { previous };
        self
    }
}

/// One change to one record set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordWrite {
    /// `CREATE`: the set does not exist.
    Create(RecordSet),
    /// `DELETE` of `old` exactly as read plus `CREATE` of `new`, in one batch.
    Replace { old: RecordSet, new: RecordSet },
    /// `DELETE` exactly as read.
    Delete(RecordSet),
}

impl RecordWrite {
    /// The set's name and type, for messages.
    pub fn label(&self) -> String {
        let s = match self {
            RecordWrite::Create(s) | RecordWrite::Delete(s) => s,
            RecordWrite::Replace { new, .. } => new,
        };
        format!("{} {}", s.type_, s.name)
    }
}

/// What to do about one wanted record, given the set at its name and type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordStep {
    InSync,
    Write(Box<RecordWrite>),
    /// The set holds a target the operator did not write: left alone, said in status.
    Conflict(String),
}

/// The step that brings `seen` (the set at the wanted name and type, if any) to hold the
/// wanted record without replacing anyone else's values.
pub fn record_step(want: &WantedRecord, seen: Option<&RecordSet>) -> RecordStep {
    let Some(seen) = seen else {
        return RecordStep::Write(Box::new(RecordWrite::Create(want.set.clone())));
    };
    match &want.share {
        Share::Merge => {
            let missing: Vec<&String> = want.set.values.iter().filter(|v| !seen.holds(v)).collect();
            if missing.is_empty() && seen.alias.is_none() {
                return RecordStep::InSync;
            }
            if seen.alias.is_some() {
                return RecordStep::Conflict(format!(
                    "{} {} is an alias record; the operator would have to replace it to add {}",
                    seen.type_, seen.name, want.purpose
                ));
            }
            let mut new = seen.clone();
            new.values.extend(missing.into_iter().cloned());
            RecordStep::Write(Box::new(RecordWrite::Replace { old: seen.clone(), new }))
        }
        Share::Exclusive { previous } => {
            if seen.same_target(&want.set) {
                return RecordStep::InSync;
            }
            if previous.iter().any(|p| p.same_target(seen)) {
                return RecordStep::Write(Box::new(RecordWrite::Replace {
                    old: seen.clone(),
                    new: want.set.clone(),
                }));
            }
            RecordStep::Conflict(format!(
                "{} {} holds {}, which this environment did not write; remove it, or point it at {}, for the {}",
                seen.type_,
                seen.name,
                describe_target(seen),
                describe_target(&want.set),
                want.purpose
            ))
        }
    }
}

/// What removing the operator's record does to `seen`: nothing when the set does not
/// hold the operator's value, a `DELETE` when it holds only that, else a rewrite without
/// it (others' values stay).
pub fn removal_step(want: &WantedRecord, seen: Option<&RecordSet>) -> Option<RecordWrite> {
    let seen = seen?;
    match &want.share {
        Share::Merge => {
            if seen.alias.is_some() || !want.set.values.iter().any(|v| seen.holds(v)) {
                return None;
            }
            let rest: Vec<String> = seen
                .values
                .iter()
                .filter(|v| !want.set.values.iter().any(|w| same_value(&seen.type_, v, w)))
                .cloned()
                .collect();
            if rest.is_empty() {
                Some(RecordWrite::Delete(seen.clone()))
            } else {
                let mut new = seen.clone();
                new.values = rest;
                Some(RecordWrite::Replace { old: seen.clone(), new })
            }
        }
        Share::Exclusive { previous } => {
            let ours = seen.same_target(&want.set) || previous.iter().any(|p| p.same_target(seen));
            ours.then(|| RecordWrite::Delete(seen.clone()))
        }
    }
}

fn describe_target(set: &RecordSet) -> String {
    match &set.alias {
        Some(a) => format!("an alias to {}", a.dns_name),
        None => set.values.join(" "),
    }
}

/// Route 53 answers with trailing dots, and domain names in any case.
pub fn normalize_name(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// An alias target's DNS name: Route 53 may answer an ALB's name with `dualstack.` in
/// front (it serves both address families either way).
fn normalize_target(name: &str) -> String {
    let n = normalize_name(name);
    n.strip_prefix("dualstack.").map(str::to_string).unwrap_or(n)
}

fn same_value(type_: &str, a: &str, b: &str) -> bool {
    match type_ {
        // TXT content is case-sensitive; the others are names (MX: preference + name).
        "TXT" => a == b,
        _ => normalize_name(a) == normalize_name(b),
    }
}

/// A record as `status.outputs.dnsRecords` lists it, for someone to create by hand (TXT
/// without Route 53's quotes; an alias as the DNS name to point at).
pub fn output_record(want: &WantedRecord) -> api::DnsRecord {
    let value = match &want.set.alias {
        Some(a) => a.dns_name.clone(),
        None => want.set.values.iter().map(|v| v.trim_matches('"')).collect::<Vec<_>>().join(" "),
    };
    // An alias is a CNAME for a DNS provider without aliases (not at a zone apex).
    let type_ = if want.set.alias.is_some() { "CNAME" } else { want.set.type_.as_str() };
    api::DnsRecord {
        name: want.set.name.clone(),
        type_: type_.to_string(),
        value,
        purpose: Some(want.purpose.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn txt(values: &[&str]) -> RecordSet {
        RecordSet::values(
            "mail.example.org",
            "TXT",
            300,
            values.iter().map(|v| format!("\"{v}\"")).collect(),
        )
    }

    fn alias(dns: &str) -> RecordSet {
        RecordSet::alias("redcap.example.org", "A", AliasTarget::new(dns, "Z1"))
    }

    #[test]
    fn an_absent_set_is_created() {
        let want = WantedRecord::merged(txt(&["spf"]), "SPF");
        assert_eq!(
            record_step(&want, None),
            RecordStep::Write(Box::new(RecordWrite::Create(txt(&["spf"]))))
        );
    }

    #[test]
    fn a_shared_set_gains_the_value_and_keeps_the_others() {
        let want = WantedRecord::merged(txt(&["spf"]), "SPF");
        let seen = txt(&["someone-else"]);
        let RecordStep::Write(w) = record_step(&want, Some(&seen)) else { panic!("a merge") };
        let RecordWrite::Replace { old, new } = *w else { panic!("a merge") };
        assert_eq!(old, seen);
        assert_eq!(new.values, ["\"someone-else\"", "\"spf\""]);
        assert_eq!(record_step(&want, Some(&new)), RecordStep::InSync);
    }

    #[test]
    fn removal_takes_out_only_the_operator_value() {
        let want = WantedRecord::merged(txt(&["spf"]), "SPF");
        let both = txt(&["someone-else", "spf"]);
        assert_eq!(
            removal_step(&want, Some(&both)),
            Some(RecordWrite::Replace { old: both.clone(), new: txt(&["someone-else"]) })
        );
        assert_eq!(
            removal_step(&want, Some(&txt(&["spf"]))),
            Some(RecordWrite::Delete(txt(&["spf"])))
        );
        assert_eq!(removal_step(&want, Some(&txt(&["someone-else"]))), None);
        assert_eq!(removal_step(&want, None), None);
    }

    #[test]
    fn an_exclusive_set_is_never_taken_from_someone_else() {
        let want = WantedRecord::exclusive(alias("lb-new.elb.amazonaws.com"), "the site");
        let foreign = alias("other.example.net");
        let RecordStep::Conflict(why) = record_step(&want, Some(&foreign)) else {
            panic!("a conflict")
        };
        assert!(why.contains("other.example.net") && why.contains("did not write"), "{why}");
        assert_eq!(removal_step(&want, Some(&foreign)), None);
    }

    #[test]
    fn an_exclusive_set_moves_from_a_target_the_operator_wrote() {
        let old = alias("lb-old.elb.amazonaws.com");
        let want = WantedRecord::exclusive(alias("lb-new.elb.amazonaws.com"), "the site")
            .replacing(vec![old.clone()]);
        assert_eq!(
            record_step(&want, Some(&old)),
            RecordStep::Write(Box::new(RecordWrite::Replace {
                old: old.clone(),
                new: want.set.clone()
            }))
        );
        // Route 53's answer: trailing dot, upper case, dualstack prefix.
        let seen = alias("DualStack.LB-NEW.elb.amazonaws.com.");
        assert_eq!(record_step(&want, Some(&seen)), RecordStep::InSync);
        assert_eq!(removal_step(&want, Some(&old)), Some(RecordWrite::Delete(old)));
    }

    #[test]
    fn values_compare_as_sets_and_txt_is_case_sensitive() {
        let want = WantedRecord::exclusive(
            RecordSet::values("x.example.org", "NS", 172800, vec!["a.".into(), "b".into()]),
            "delegation",
        );
        let seen = RecordSet::values("x.example.org.", "NS", 300, vec!["B.".into(), "a".into()]);
        assert_eq!(record_step(&want, Some(&seen)), RecordStep::InSync);
        let want = WantedRecord::merged(txt(&["Abc"]), "x");
        assert!(matches!(record_step(&want, Some(&txt(&["abc"]))), RecordStep::Write(_)));
    }

    #[test]
    fn status_lists_an_alias_as_the_name_to_point_at() {
        let r = output_record(&WantedRecord::exclusive(alias("lb.elb.amazonaws.com."), "site"));
        assert_eq!((r.type_.as_str(), r.value.as_str()), ("CNAME", "lb.elb.amazonaws.com"));
        let r = output_record(&WantedRecord::merged(txt(&["v=spf1"]), "SPF"));
        assert_eq!((r.type_.as_str(), r.value.as_str()), ("TXT", "v=spf1"));
    }
}
