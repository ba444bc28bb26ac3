//! The maintenance and backup windows (step: plan; pure): parsing, AWS's lowercase form,
//! and the rule that the daily backup window must not overlap the weekly maintenance
//! window (the CRD has the same rule in CEL; this check also covers objects stored
//! before the rule existed, so AWS never sees an impossible pair).

const WEEK: i64 = 7 * 1440;
const DAY: i64 = 1440;
const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn hh_mm(s: &str) -> Option<i64> {
    let (h, m) = s.split_once(':')?;
    let (h, m) = (h.parse::<i64>().ok()?, m.parse::<i64>().ok()?);
    ((0..24).contains(&h) && (0..60).contains(&m)).then_some(h * 60 + m)
}

fn week_minute(s: &str) -> Option<i64> {
    let (day, time) = s.split_at_checked(3)?;
    let day = DAYS.iter().position(|d| d.eq_ignore_ascii_case(day))? as i64;
    Some(day * DAY + hh_mm(time.strip_prefix(':')?)?)
}

/// `ddd:HH:mm-ddd:HH:mm` as (start minute of the week, length in minutes).
pub fn maintenance_window(s: &str) -> Option<(i64, i64)> {
    let (a, b) = s.split_once('-')?;
    let (a, b) = (week_minute(a)?, week_minute(b)?);
    Some((a, (b - a).rem_euclid(WEEK)))
}

/// `HH:mm-HH:mm` as (start minute of the day, length in minutes).
pub fn backup_window(s: &str) -> Option<(i64, i64)> {
    let (a, b) = s.split_once('-')?;
    let (a, b) = (hh_mm(a)?, hh_mm(b)?);
    Some((a, (b - a).rem_euclid(DAY)))
}

/// Whether the daily backup window overlaps the weekly maintenance window on any day.
pub fn overlap(maintenance: &str, backup: &str) -> Option<bool> {
    let (m0, ml) = maintenance_window(maintenance)?;
    let (b0, bl) = backup_window(backup)?;
    Some((0..7).any(|d| {
        let b = d * DAY + b0;
        (b - m0).rem_euclid(WEEK) < ml || (m0 - b).rem_euclid(WEEK) < bl
    }))
}

/// AWS reports windows in lowercase; the spec accepts any case.
pub fn normalise(window: &str) -> String {
    window.trim().to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_windows() {
        assert_eq!(maintenance_window("Sun:23:45-Mon:00:15"), Some((6 * DAY + 23 * 60 + 45, 30)));
        assert_eq!(maintenance_window("mon:00:00-mon:00:30"), Some((0, 30)));
        assert_eq!(backup_window("23:45-00:15"), Some((23 * 60 + 45, 30)));
        assert_eq!(maintenance_window("Xyz:00:00-Mon:00:30"), None);
        assert_eq!(backup_window("25:00-01:00"), None);
        assert_eq!(normalise("Sun:23:45-Mon:00:15"), "sun:23:45-mon:00:15");
    }

    #[test]
    fn overlap_table() {
        let cases = [
            ("Sun:23:45-Mon:00:15", "03:00-03:30", false),
            ("Mon:03:30-Mon:04:00", "03:00-03:30", false),
            ("Mon:02:30-Mon:03:00", "03:00-03:30", false),
            ("Mon:03:15-Mon:03:45", "03:00-03:30", true),
            ("Mon:02:45-Mon:03:15", "03:00-03:30", true),
            ("Sat:03:10-Sat:04:00", "03:00-03:30", true),
            ("Sun:23:45-Mon:00:15", "23:30-00:00", true),
            ("Sun:23:00-Mon:01:00", "00:10-00:40", true),
            ("Sun:23:00-Mon:01:00", "01:00-01:30", false),
            ("Tue:01:00-Tue:05:00", "02:00-02:30", true),
        ];
        for (m, b, want) in cases {
            assert_eq!(overlap(m, b), Some(want), "{m} / {b}");
        }
    }
}
