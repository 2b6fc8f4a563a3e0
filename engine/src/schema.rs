//! SPEC section 3's catalogue of scenario fields, declared once: the JSON validator, the
//! Arrow reader (columns map onto these fields) and the table readers and writers use it.

pub const RESOURCE_FIELDS: &[&str] = &[
    "id",
    "community",
    "kind",
    "lat",
    "lon",
    "capacity",
    "skills",
    "cost",
    "available_from",
    "available_until",
    "turnaround_h",
];
pub const NEED_FIELDS: &[&str] = &[
    "id",
    "community",
    "kind",
    "lat",
    "lon",
    "demand",
    "priority",
    "required_skills",
    "min_fill",
    "indivisible",
    "earliest",
    "deadline",
    "duration_h",
];
pub const LINK_FIELDS: &[&str] = &["resource", "need", "cost", "time", "use"];
pub const POLICY_FIELDS: &[&str] = &[
    "objective",
    "cost_weight",
    "fairness",
    "group_by",
    "max_distance_km",
    "speed_kmh",
    "cost_per_km",
    "cross_community",
    "solver",
    "time_limit_s",
    "mip_gap",
    "threads",
    "deprivation",
    "reusable",
    "slot_h",
    "max_starts",
];
pub const SCENARIO_FIELDS: &[&str] = &["name", "resources", "needs", "links", "policy"];

/// The column prefix of each quantity map in SPEC's table layout (`cap_<dim>` is
/// `capacity[dim]` of a resource, and so on): (table, column prefix, JSON field).
pub const QUANTITY_COLUMNS: [(&str, &str, &str); 3] = [
    ("resources", "cap_", "capacity"),
    ("needs", "dem_", "demand"),
    ("links", "use_", "use"),
];

/// Scalar numeric columns of the three tables.
const NUMBER_COLUMNS: &[&str] = &[
    "lat",
    "lon",
    "cost",
    "priority",
    "min_fill",
    "earliest",
    "deadline",
    "available_from",
    "available_until",
    "time",
    "duration_h",
    "turnaround_h",
];
const FLAG_COLUMNS: &[&str] = &["indivisible", "cross_community"];
const SET_COLUMNS: &[&str] = &["skills", "required_skills"];

/// What a column of SPEC's table layout holds, by its name (table readers type their columns
/// by it: numbers as Float64, flags as Boolean, sets as lists of strings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    Number,
    Flag,
    Set,
    Text,
}

impl ColumnKind {
    /// What a column of this kind holds, as a refusal of another type says it (`expected
    /// numbers, found Boolean`), the file readers' and the Arrow reader's alike.
    pub fn expected(self) -> &'static str {
        match self {
            ColumnKind::Number => "numbers",
            ColumnKind::Flag => "booleans",
            ColumnKind::Set => "lists of strings",
            ColumnKind::Text => "strings",
        }
    }
}

/// The kind of a column by its name; a name SPEC does not define is `Text` (the validator
/// reports unknown columns).
pub fn column_kind(name: &str) -> ColumnKind {
    if NUMBER_COLUMNS.contains(&name)
        || QUANTITY_COLUMNS
            .iter()
            .any(|(_, prefix, _)| name.starts_with(prefix))
    {
        ColumnKind::Number
    } else if FLAG_COLUMNS.contains(&name) {
        ColumnKind::Flag
    } else if SET_COLUMNS.contains(&name) {
        ColumnKind::Set
    } else {
        ColumnKind::Text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every scalar field of the catalogue has a kind that matches how the validator reads it,
    /// and every quantity column is a number.
    #[test]
    fn column_kinds_follow_the_catalogue() {
        assert_eq!(column_kind("cap_crew"), ColumnKind::Number);
        assert_eq!(column_kind("dem_beds"), ColumnKind::Number);
        assert_eq!(column_kind("use_u"), ColumnKind::Number);
        assert_eq!(column_kind("deadline"), ColumnKind::Number);
        assert_eq!(column_kind("cross_community"), ColumnKind::Flag);
        assert_eq!(column_kind("required_skills"), ColumnKind::Set);
        assert_eq!(column_kind("id"), ColumnKind::Text);
        for f in RESOURCE_FIELDS.iter().chain(NEED_FIELDS).chain(LINK_FIELDS) {
            if column_kind(f) != ColumnKind::Text {
                continue;
            }
            assert!(
                [
                    "id",
                    "community",
                    "kind",
                    "resource",
                    "need",
                    "capacity",
                    "demand",
                    "use"
                ]
                .contains(f),
                "{f} is neither typed nor text"
            );
        }
        for (_, _, map) in QUANTITY_COLUMNS {
            assert!(RESOURCE_FIELDS
                .iter()
                .chain(NEED_FIELDS)
                .chain(LINK_FIELDS)
                .any(|f| *f == map));
        }
    }
}
