//! The instance set of a cluster: one writer plus `spec.database.readers` readers, all
//! `db.serverless` (step: plan; pure).
//!
//! The set is counted, not matched by role: after a failover any instance may be the
//! writer. Missing instances get the lowest free numbers (`<cluster>-<n>`, never a number
//! an instance that is still being deleted holds); surplus instances are removed highest
//! number first, never the current writer and never an instance the operator did not
//! name. Promotion tiers: 0 for the first instance, 1 for the second (the preferred
//! failover target), 2 for the rest. Instances are spread over the network's zones.

use super::names::{instance_id, instance_index};

/// An instance of the cluster as RDS reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedInstance {
    pub id: String,
    pub status: String,
    pub writer: bool,
    pub promotion_tier: Option<i32>,
    /// Pending cluster parameter group change (`pending-reboot`).
    pub parameters_pending_reboot: bool,
}

impl ObservedInstance {
    pub fn deleting(&self) -> bool {
        self.status == "deleting"
    }

    pub fn available(&self) -> bool {
        self.status == "available"
    }
}

/// An instance to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewInstance {
    pub id: String,
    pub promotion_tier: i32,
    pub availability_zone: Option<String>,
}

/// What the instance set needs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InstancePlan {
    pub create: Vec<NewInstance>,
    pub delete: Vec<String>,
    /// Why fewer instances are removed than asked for.
    pub notes: Vec<String>,
}

impl InstancePlan {
    pub fn is_empty(&self) -> bool {
        self.create.is_empty() && self.delete.is_empty()
    }
}

/// Promotion tier of instance `n`.
pub fn promotion_tier(n: u32) -> i32 {
    match n {
        0 => 0,
        1 => 1,
        _ => 2,
    }
}

/// Creates and deletes that bring the cluster to `want` instances.
pub fn instance_plan(
    cluster_id: &str,
    want: u32,
    seen: &[ObservedInstance],
    zones: &[String],
) -> InstancePlan {
    let mut plan = InstancePlan::default();
    let live: Vec<&ObservedInstance> = seen.iter().filter(|i| !i.deleting()).collect();
    let want = want as usize;
    if live.len() < want {
        let taken: Vec<u32> =
            seen.iter().filter_map(|i| instance_index(cluster_id, &i.id)).collect();
        let free = (0..).filter(|n| !taken.contains(n));
        for n in free.take(want - live.len()) {
            plan.create.push(NewInstance {
                id: instance_id(cluster_id, n),
                promotion_tier: promotion_tier(n),
                availability_zone: (!zones.is_empty())
                    .then(|| zones[n as usize % zones.len()].clone()),
            });
        }
    } else if live.len() > want {
        let surplus = live.len() - want;
        let mut candidates: Vec<(u32, &str)> = live
            .iter()
            .filter(|i| !i.writer)
            .filter_map(|i| instance_index(cluster_id, &i.id).map(|n| (n, i.id.as_str())))
            .collect();
        candidates.sort_by_key(|c| std::cmp::Reverse(c.0));
        plan.delete = candidates.iter().take(surplus).map(|(_, id)| id.to_string()).collect();
        if plan.delete.len() < surplus {
            plan.notes.push(format!(
                "{} instance(s) more than spec.database.readers asks for remain: the writer and instances not created by the operator are never removed",
                surplus - plan.delete.len()
            ));
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inst(id: &str, status: &str, writer: bool) -> ObservedInstance {
        ObservedInstance {
            id: id.into(),
            status: status.into(),
            writer,
            promotion_tier: None,
            parameters_pending_reboot: false,
        }
    }

    fn zones() -> Vec<String> {
        vec!["eu-west-1a".into(), "eu-west-1b".into()]
    }

    #[test]
    fn a_new_cluster_gets_a_writer_and_readers_spread_over_zones() {
        let plan = instance_plan("c", 3, &[], &zones());
        assert_eq!(
            plan.create,
            vec![
                NewInstance {
                    id: "c-0".into(),
                    promotion_tier: 0,
                    availability_zone: Some("eu-west-1a".into())
                },
                NewInstance {
                    id: "c-1".into(),
                    promotion_tier: 1,
                    availability_zone: Some("eu-west-1b".into())
                },
                NewInstance {
                    id: "c-2".into(),
                    promotion_tier: 2,
                    availability_zone: Some("eu-west-1a".into())
                },
            ]
        );
        assert!(plan.delete.is_empty());
    }

    #[test]
    fn in_sync_means_nothing_to_do() {
        let seen = [inst("c-0", "available", true), inst("c-1", "creating", false)];
        assert!(instance_plan("c", 2, &seen, &zones()).is_empty());
    }

    #[test]
    fn adding_a_reader_takes_the_lowest_free_number_not_held_by_a_deleting_one() {
        let seen = [
            inst("c-0", "available", true),
            inst("c-1", "deleting", false),
            inst("c-2", "available", false),
        ];
        let plan = instance_plan("c", 3, &seen, &zones());
        assert_eq!(plan.create.len(), 1);
        assert_eq!(plan.create[0].id, "c-3");
    }

    #[test]
    fn removing_readers_never_touches_the_writer_or_foreign_instances() {
        // After a failover, c-2 is the writer.
        let seen = [
            inst("c-0", "available", false),
            inst("c-1", "available", false),
            inst("c-2", "available", true),
            inst("hand-made", "available", false),
        ];
        let plan = instance_plan("c", 1, &seen, &zones());
        assert_eq!(plan.delete, vec!["c-1".to_string(), "c-0".to_string()]);
        assert_eq!(plan.notes.len(), 1, "{:?}", plan.notes);
        let plan = instance_plan("c", 2, &seen, &zones());
        assert_eq!(plan.delete, vec!["c-1".to_string(), "c-0".to_string()]);
        assert!(plan.notes.is_empty());
    }

    #[test]
    fn tiers() {
        assert_eq!((0..4).map(promotion_tier).collect::<Vec<_>>(), [0, 1, 2, 2]);
    }
}
