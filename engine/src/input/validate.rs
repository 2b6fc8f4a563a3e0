//! The one validator of SPEC's rules, over JSON value rows; it collects every problem.

use super::{too_large, InputIssue, InvalidInput, Problems, DEFAULT_COMMUNITY, MAX_MAGNITUDE};
use crate::model::*;
use crate::schema::{LINK_FIELDS, NEED_FIELDS, POLICY_FIELDS, RESOURCE_FIELDS, SCENARIO_FIELDS};
use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashMap, HashSet};

/// The most (link, start) pairs a timed scenario may make: each is an edge of the network
/// (about 106 bytes: 1,000,000 pairs took 106 MB on the greedy route), so about 0.5 GB. A
/// part that is a MIP is bounded further when it is solved (`solve::MAX_MIP_COLUMNS`).
const MAX_TIMED_COLUMNS: f64 = 5_000_000.0;

/// The most links the rules may build for one scenario (24 bytes each as edges, several
/// times that in a solver's network): about 1.2 GB of edges.
pub const MAX_LINKS: usize = 50_000_000;

/// The most per-dimension entries of one array of the model (8 bytes each: 1.6 GB).
pub const MAX_DIM_ENTRIES: usize = 200_000_000;

/// The most per-dimension cells of a plan's tables: `used_`, `utilisation_` and
/// `shadow_price_` of each resource and `unmet_` of each need, per dimension. A service's
/// JSON answer takes about 200 bytes a cell (1,000 resources with a dimension each, 3,000,000
/// cells: a 64 MB answer, 609 MB at the server's peak), so about 0.6 GB. It bounds dimensions
/// that each name few entities: 3,000 resources of a dimension each (166 KB of JSON) asked
/// for 27,000,000 cells and took the server past 4.5 GB. 200,000 needs and 20,000 resources
/// may have 11 dimensions.
pub const MAX_RESULT_CELLS: usize = 3_000_000;

/// Why `dims` dimensions over `resources` and `needs` are refused: more than
/// [`MAX_RESULT_CELLS`] cells in the plan's tables. The scenario's validator and a live
/// session's events both use it.
pub(crate) fn result_cells_issue(resources: usize, needs: usize, dims: usize) -> Option<String> {
    let cells = resources
        .saturating_mul(3)
        .saturating_add(needs)
        .saturating_mul(dims);
    (cells > MAX_RESULT_CELLS).then(|| {
        format!(
            "{dims} dimensions over {resources} resources and {needs} needs make {cells} cells in the plan's tables (used_, utilisation_ and shadow_price_ per resource, unmet_ per need, each per dimension), more than {MAX_RESULT_CELLS}: use fewer dimensions"
        )
    })
}

/// Most 64-bit words of the link builder's skill sets (one set per resource, a bit per
/// distinct skill): 200 MB. A million skills on 200,000 resources asked for 25 GB.
pub const MAX_SKILL_WORDS: usize = 25_000_000;

/// How field names are spelled in messages: JSON paths, or the columns of SPEC's table layout.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum FieldStyle {
    Json,
    Columns,
}

/// The fields resources and needs share (see `Validator::head`).
struct Head {
    id: Option<String>,
    community: String,
    kind: Option<String>,
    lat: Option<f64>,
    lon: Option<f64>,
}

pub(super) struct Validator {
    style: FieldStyle,
    problems: Problems,
    /// Whether ids and names are held to [`MAX_NAME_BYTES`] and to [`Validator::name_issue`]'s
    /// rules of form: not for what a log or store gives back, which an older binary may have
    /// accepted without them.
    bound_names: bool,
    /// Columns (table, name) refused as a whole before their cells were read: a row's
    /// issue on such a field ("missing required field") follows from the refusal and would
    /// bury it under one line per row, so it is not listed.
    refused_columns: HashSet<(String, String)>,
    /// Cells the table reader refused (table, row, column): their row's check of what
    /// depends on them ("needs at least one dimension with demand > 0" after an `inf` in
    /// `dem_loans`) would follow from the refusal, so it is not listed either.
    /// By row: (table, column).
    refused_cells: HashMap<usize, Vec<(String, String)>>,
}

/// Problems a rejection lists: a table of 131,072 empty rows had 393,216 (a 37 MB answer).
pub const MAX_ISSUES: usize = 10_000;

/// Field access inside one row, recording problems against that row.
struct Row<'a> {
    table: &'static str,
    row: Option<usize>,
    obj: &'a Map<String, Value>,
    /// Issues found before this row: a row's own are the ones after (rows are read one at
    /// a time), so looking them up costs the row, not the table.
    issues_before: usize,
}

/// One need's window under a timed policy (SPEC's time model): at most `policy.max_starts`
/// candidate starts, and a duration that a use's end can be told from its start by at the
/// last of them (at a later hour a float's step is larger: a duration too short there makes
/// a booking of no length). `(field, message)` of the first problem; `None` without a
/// reusable dimension or a duration. The scenario's validator and a live session's events
/// both check needs with it.
pub(crate) fn need_window_issue(n: &Need, policy: &Policy) -> Option<(&'static str, String)> {
    if policy.reusable.is_empty() {
        return None;
    }
    let d = n.duration_h?;
    let (slot, bound) = (policy.slot(), policy.starts_bound());
    let first = n.earliest.unwrap_or(0.0);
    let mut last = first;
    if let Some(deadline) = n.deadline {
        // The quotient first, before counting exactly: it may be far beyond usize. Then the
        // count, which takes a last start within 1e-9 h of the deadline (`snap_time`).
        if (deadline - first) / slot >= bound as f64 || n.start_count(slot) > bound {
            return Some((
                "deadline",
                format!(
                    "the window [{first}, {deadline}] holds more than {bound} starts at slot_h {slot} (policy.max_starts)"
                ),
            ));
        }
        last = first + (n.start_count(slot) - 1) as f64 * slot;
    }
    if last + d == last {
        return Some((
            "duration_h",
            format!("{d} h is too short to tell from 0 at hour {last}"),
        ));
    }
    // Times are kept to 1e-9 h (`snap_time`): a shorter use ends where it starts, and two of
    // them on one unit of capacity both fitted.
    (d < TIME_GRAIN_H).then(|| {
        (
            "duration_h",
            format!("{d:e} h is shorter than the {TIME_GRAIN_H:e} h that times are kept to"),
        )
    })
}

/// The time model's columns: each need's starts times its candidate resources (its explicit
/// links, or the resources of its kind); 0 without a reusable dimension.
pub(crate) fn timed_columns<'a>(
    resources: impl IntoIterator<Item = &'a Resource>,
    needs: &[&Need],
    links: Option<&[Link]>,
    policy: &Policy,
) -> f64 {
    if policy.reusable.is_empty() || !needs.iter().any(|n| n.duration_h.is_some()) {
        return 0.0;
    }
    let mut candidates: HashMap<&str, f64> = HashMap::new();
    match links {
        Some(links) => links
            .iter()
            .for_each(|l| *candidates.entry(&l.need).or_default() += 1.0),
        None => {
            let mut of_kind: HashMap<&str, f64> = HashMap::new();
            resources
                .into_iter()
                .for_each(|r| *of_kind.entry(&r.kind).or_default() += 1.0);
            for n in needs {
                candidates.insert(&n.id, of_kind.get(n.kind.as_str()).copied().unwrap_or(0.0));
            }
        }
    }
    let slot = policy.slot();
    needs
        .iter()
        .map(|n| {
            let starts = n.start_count(slot) as f64;
            starts * candidates.get(n.id.as_str()).copied().unwrap_or(0.0)
        })
        .sum()
}

/// Text holding U+0000 is refused: no name means it, and PostgreSQL's JSON types and many
/// readers of the result files (C strings, terminals) cannot take it.
const NUL_TEXT: &str = "must not contain the character U+0000 (NUL)";

/// The longest id or name (an entity's id, kind, community, a skill, a dimension), in bytes:
/// each is repeated in every plan row, change, log entry and answer that names it, so one of
/// a megabyte made every one of them a megabyte.
pub const MAX_NAME_BYTES: usize = 1024;

/// Why a name is refused ([`Validator::name_issue`]).
enum NameIssue {
    Empty,
    Nul,
    TooLong(usize),
    Control(String),
    Spaces(String),
}

impl NameIssue {
    fn message(self) -> String {
        match self {
            NameIssue::Empty => "must not be empty".into(),
            NameIssue::Nul => NUL_TEXT.into(),
            NameIssue::TooLong(len) => name_too_long(len),
            NameIssue::Control(m) | NameIssue::Spaces(m) => m,
        }
    }

    /// The words for a dimension's name, which stands in the field's path.
    fn of_dimension(self) -> String {
        match self {
            NameIssue::Empty => "dimension name must not be empty".into(),
            NameIssue::Nul => NUL_TEXT.into(),
            other => format!("a dimension name {}", other.message()),
        }
    }
}

/// The refusal of a name longer than [`MAX_NAME_BYTES`].
pub(crate) fn name_too_long(len: usize) -> String {
    format!("{len} bytes long: ids and names are at most {MAX_NAME_BYTES} bytes")
}

/// Why a time model of `columns` (link, start) pairs is refused: above
/// [`MAX_TIMED_COLUMNS`]. The scenario's validator and a live session's events both use it.
pub(crate) fn timed_size_issue(columns: f64) -> Option<String> {
    (columns > MAX_TIMED_COLUMNS).then(|| {
        format!(
            "the time model could need {columns:.0} (link, start) pairs, more than {MAX_TIMED_COLUMNS:.0}: use a longer slot_h, shorter windows or fewer candidate resources"
        )
    })
}

impl Validator {
    pub(super) fn new(style: FieldStyle) -> Self {
        Validator {
            style,
            problems: Problems::default(),
            bound_names: true,
            refused_columns: HashSet::new(),
            refused_cells: HashMap::new(),
        }
    }

    /// The validator of what was accepted once and is read back (see `bound_names`).
    pub(super) fn for_logged(style: FieldStyle) -> Self {
        Validator {
            bound_names: false,
            ..Validator::new(style)
        }
    }

    /// Whether `s` is a name too long to accept now.
    fn too_long(&self, s: &str) -> bool {
        self.bound_names && s.len() > MAX_NAME_BYTES
    }

    /// Why `s` is refused as an id or name (an entity's id, kind, community, a skill, a
    /// dimension), if it is. Names are compared as written, so `" n1"` and `"n1"` would be two
    /// needs, and a skill `"wheelchair "` would match no resource's `"wheelchair"`; every
    /// format reads them alike (a CSV cell is not trimmed for them). A line break or tab in a
    /// name is most often a CSV's stray quote that joined the rows after it into one cell.
    fn name_issue(&self, s: &str) -> Option<NameIssue> {
        if s.trim().is_empty() {
            return Some(NameIssue::Empty);
        }
        if s.contains('\0') {
            return Some(NameIssue::Nul);
        }
        if !self.bound_names {
            return None;
        }
        if s.len() > MAX_NAME_BYTES {
            return Some(NameIssue::TooLong(s.len()));
        }
        if s.chars().any(char::is_control) {
            return Some(NameIssue::Control(format!(
                "{s:?} holds a control character (a line break, a tab): a stray quote in a CSV file joins the lines after it into one cell"
            )));
        }
        if s.trim() != s {
            return Some(NameIssue::Spaces(format!(
                "{s:?} begins or ends with white space: names are compared as written, and {:?} would be another",
                s.trim()
            )));
        }
        None
    }

    pub(super) fn finish<T>(self, value: T) -> Result<T, InvalidInput> {
        match self.problems.refusal("scenario") {
            None => Ok(value),
            Some(e) => Err(e),
        }
    }

    /// Problems found before the validator ran (reading Arrow cells).
    pub(super) fn take(&mut self, found: Problems) {
        let (issues, unlisted) = found.into_parts();
        self.problems.count(unlisted);
        for i in issues {
            match (i.row, &i.field) {
                (None, Some(field)) => {
                    self.refused_columns
                        .insert((i.table.clone(), field.clone()));
                }
                (Some(row), Some(field)) => {
                    self.refused_cells
                        .entry(row)
                        .or_default()
                        .push((i.table.clone(), field.clone()));
                }
                _ => {}
            }
            self.push(&i.table, i.row, i.field, i.message);
        }
    }

    fn push(&mut self, table: &str, row: Option<usize>, field: Option<String>, message: String) {
        if let (Some(_), Some(f), false) = (row, &field, self.refused_columns.is_empty()) {
            if self
                .refused_columns
                .contains(&(table.to_string(), f.clone()))
            {
                return;
            }
        }
        self.problems.push(InputIssue {
            table: table.into(),
            row,
            field,
            message,
        });
    }

    fn issue(&mut self, r: &Row, field: &str, message: impl Into<String>) {
        self.push(r.table, r.row, Some(field.to_string()), message.into());
    }

    /// The name of the field holding dimension `dim` of quantity map `key`.
    fn qty_field(&self, key: &str, dim: &str) -> String {
        match self.style {
            FieldStyle::Json => format!("{key}.{dim}"),
            FieldStyle::Columns => {
                let prefix = match key {
                    "capacity" => "cap",
                    "demand" => "dem",
                    _ => "use",
                };
                format!("{prefix}_{dim}")
            }
        }
    }

    fn object<'a>(
        &mut self,
        table: &'static str,
        row: Option<usize>,
        value: &'a Value,
        allowed: &[&str],
    ) -> Option<Row<'a>> {
        let Value::Object(obj) = value else {
            self.push(
                table,
                row,
                None,
                format!("expected an object, got {}", kind_of(value)),
            );
            return None;
        };
        let issues_before = self.problems.listed().len();
        for key in obj.keys() {
            if !allowed.contains(&key.as_str()) {
                self.push(table, row, Some(key.clone()), "unknown field".into());
            }
        }
        Some(Row {
            table,
            row,
            obj,
            issues_before,
        })
    }

    fn get<'a>(r: &Row<'a>, key: &str) -> Option<&'a Value> {
        r.obj.get(key).filter(|v| !v.is_null())
    }

    fn string(&mut self, r: &Row, key: &str, required: bool) -> Option<String> {
        match Self::get(r, key) {
            None => {
                if required {
                    self.issue(r, key, "missing required field");
                }
                None
            }
            Some(Value::String(s)) => match self.name_issue(s) {
                Some(why) => {
                    self.issue(r, key, why.message());
                    None
                }
                None => Some(s.clone()),
            },
            Some(v) => {
                self.issue(r, key, format!("expected a string, got {}", kind_of(v)));
                None
            }
        }
    }

    fn number(&mut self, r: &Row, key: &str) -> Option<f64> {
        match Self::get(r, key) {
            None => None,
            Some(Value::Number(n)) => match n.as_f64() {
                Some(x) if x.is_finite() && x.abs() <= MAX_MAGNITUDE => Some(x),
                Some(x) if x.is_finite() => {
                    self.issue(r, key, too_large(x));
                    None
                }
                _ => {
                    self.issue(r, key, "not a finite number");
                    None
                }
            },
            Some(v) => {
                self.issue(r, key, format!("expected a number, got {}", kind_of(v)));
                None
            }
        }
    }

    /// A number that must satisfy `ok`; `rule` describes it for the message.
    fn checked(&mut self, r: &Row, key: &str, ok: impl Fn(f64) -> bool, rule: &str) -> Option<f64> {
        let x = self.number(r, key)?;
        if ok(x) {
            Some(x)
        } else {
            self.issue(r, key, format!("{x} is out of range: must be {rule}"));
            None
        }
    }

    /// One of a fixed set of names.
    fn choice<T: ClosedSet>(&mut self, r: &Row, key: &str) -> Option<T> {
        let s = self.string(r, key, false)?;
        if let Some(v) = T::ALL.iter().find(|v| v.name() == s) {
            return Some(*v);
        }
        let names: Vec<String> = T::ALL.iter().map(|v| v.name()).collect();
        self.issue(
            r,
            key,
            format!("unknown {key} {s:?}: expected one of {}", names.join(", ")),
        );
        None
    }

    fn boolean(&mut self, r: &Row, key: &str) -> Option<bool> {
        match Self::get(r, key) {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(v) => {
                self.issue(
                    r,
                    key,
                    format!("expected true or false, got {}", kind_of(v)),
                );
                None
            }
        }
    }

    fn string_set(&mut self, r: &Row, key: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        match Self::get(r, key) {
            None => {}
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    match item {
                        // An empty item is "expected a non-empty string", below.
                        Value::String(s) if !s.is_empty() => match self.name_issue(s) {
                            Some(why) => self.issue(r, &format!("{key}[{i}]"), why.message()),
                            // A CSV cell's items are `;`-separated (SPEC section 3): such an
                            // item would be two once written to CSV and read back.
                            None if self.bound_names && s.contains(';') => self.issue(
                                r,
                                &format!("{key}[{i}]"),
                                format!(
                                    "{s:?} holds ';', which separates a set's items in CSV tables"
                                ),
                            ),
                            None => {
                                out.insert(s.clone());
                            }
                        },
                        other => self.issue(
                            r,
                            &format!("{key}[{i}]"),
                            format!("expected a non-empty string, got {}", kind_of(other)),
                        ),
                    }
                }
            }
            Some(v) => self.issue(
                r,
                key,
                format!("expected a list of strings, got {}", kind_of(v)),
            ),
        }
        out
    }

    fn quantities(&mut self, r: &Row, key: &str) -> Quantities {
        let mut out = Quantities::new();
        match Self::get(r, key) {
            None => {}
            Some(Value::Object(m)) => {
                for (dim, v) in m {
                    let field = self.qty_field(key, dim);
                    if let Some(why) = self.name_issue(dim) {
                        // A long name is not repeated in the field's path.
                        let field = if dim.len() > MAX_NAME_BYTES {
                            key
                        } else {
                            &field
                        };
                        self.issue(r, field, why.of_dimension());
                        continue;
                    }
                    match v {
                        Value::Null => {}
                        Value::Number(n) => match n.as_f64() {
                            Some(x) if x.is_finite() && x > MAX_MAGNITUDE => {
                                self.issue(r, &field, too_large(x))
                            }
                            Some(x) if x.is_finite() && x >= 0.0 => {
                                out.insert(dim.clone(), x);
                            }
                            Some(x) if x.is_finite() => self.issue(
                                r,
                                &field,
                                format!("{x} is negative: quantities must be >= 0"),
                            ),
                            _ => self.issue(r, &field, "not a finite number"),
                        },
                        other => self.issue(
                            r,
                            &field,
                            format!("expected a number, got {}", kind_of(other)),
                        ),
                    }
                }
            }
            Some(v) => self.issue(
                r,
                key,
                format!(
                    "expected an object of dimension -> quantity, got {}",
                    kind_of(v)
                ),
            ),
        }
        out
    }

    fn coordinates(&mut self, r: &Row) -> (Option<f64>, Option<f64>) {
        let lat = self.checked(r, "lat", |x| (-90.0..=90.0).contains(&x), "in [-90, 90]");
        let lon = self.checked(
            r,
            "lon",
            |x| (-180.0..=180.0).contains(&x),
            "in [-180, 180]",
        );
        let lat_given = Self::get(r, "lat").is_some();
        let lon_given = Self::get(r, "lon").is_some();
        if lat_given != lon_given {
            let missing = if lat_given { "lon" } else { "lat" };
            self.issue(r, missing, "lat and lon must be given together");
            return (None, None);
        }
        match (lat, lon) {
            (Some(a), Some(b)) => (Some(a), Some(b)),
            _ => (None, None),
        }
    }

    fn hours(&mut self, r: &Row, key: &str) -> Option<f64> {
        self.checked(
            r,
            key,
            |x| x >= 0.0,
            ">= 0 (hours from the start of the scenario)",
        )
    }

    /// The fields resources and needs share, read in this order: id, community (defaulted),
    /// kind, coordinates.
    fn head(&mut self, r: &Row) -> Head {
        let id = self.string(r, "id", true);
        let community = self
            .string(r, "community", false)
            .unwrap_or_else(|| DEFAULT_COMMUNITY.into());
        let kind = self.string(r, "kind", true);
        let (lat, lon) = self.coordinates(r);
        Head {
            id,
            community,
            kind,
            lat,
            lon,
        }
    }

    /// A time window `[from, until]` in hours; an `until` before `from` is an issue on `until`.
    fn window(&mut self, r: &Row, from: &str, until: &str) -> (Option<f64>, Option<f64>) {
        let (a, b) = (self.hours(r, from), self.hours(r, until));
        if let (Some(a), Some(b)) = (a, b) {
            if a > b {
                self.issue(r, until, format!("{b} is before {from} {a}"));
            }
        }
        (a, b)
    }

    fn resource(&mut self, i: usize, value: &Value) -> Option<Resource> {
        let r = self.object("resources", Some(i), value, RESOURCE_FIELDS)?;
        let head = self.head(&r);
        let capacity = self.quantities(&r, "capacity");
        let skills = self.string_set(&r, "skills");
        let cost = self
            .checked(&r, "cost", |x| x >= 0.0, ">= 0")
            .unwrap_or(0.0);
        let (available_from, available_until) =
            self.window(&r, "available_from", "available_until");
        let turnaround_h = self.hours(&r, "turnaround_h");
        Some(Resource {
            id: head.id?,
            community: head.community,
            kind: head.kind?,
            lat: head.lat,
            lon: head.lon,
            capacity,
            skills,
            cost,
            available_from,
            available_until,
            turnaround_h,
            holds: Vec::new(),
        })
    }

    fn need(&mut self, i: usize, value: &Value) -> Option<Need> {
        let r = self.object("needs", Some(i), value, NEED_FIELDS)?;
        let head = self.head(&r);
        let demand_given = Self::get(&r, "demand").is_some();
        let demand = self.quantities(&r, "demand");
        if !demand.values().any(|&x| x > 0.0) && !self.has_issue_on(&r, "demand") {
            let msg = if demand_given {
                "needs at least one dimension with demand > 0"
            } else {
                "missing required field (at least one dimension with demand > 0)"
            };
            self.issue(&r, "demand", msg);
        }
        let priority = self
            .checked(&r, "priority", |x| x > 0.0, "> 0")
            .unwrap_or(1.0);
        let required_skills = self.string_set(&r, "required_skills");
        let min_fill = self
            .checked(&r, "min_fill", |x| (0.0..=1.0).contains(&x), "in [0, 1]")
            .unwrap_or(0.0);
        let indivisible = self.boolean(&r, "indivisible").unwrap_or(false);
        let (earliest, deadline) = self.window(&r, "earliest", "deadline");
        let duration_h = self.checked(&r, "duration_h", |x| x > 0.0, "> 0 (hours)");
        Some(Need {
            id: head.id?,
            community: head.community,
            kind: head.kind?,
            lat: head.lat,
            lon: head.lon,
            demand,
            priority,
            required_skills,
            min_fill,
            indivisible,
            earliest,
            deadline,
            duration_h,
        })
    }

    fn has_issue_on(&self, r: &Row, key: &str) -> bool {
        let prefix = match self.style {
            FieldStyle::Json => format!("{key}."),
            FieldStyle::Columns => "dem_".to_string(),
        };
        let on = |f: &str| f == key || f.starts_with(&prefix);
        let refused = r
            .row
            .and_then(|row| self.refused_cells.get(&row))
            .is_some_and(|cells| cells.iter().any(|(t, f)| t == r.table && on(f)));
        // A column refused as a whole (`dem_beds` of strings) explains every row it leaves
        // without the field.
        let column_refused = self
            .refused_columns
            .iter()
            .any(|(t, f)| t == r.table && on(f));
        refused
            || column_refused
            || self.problems.listed()[r.issues_before..]
                .iter()
                .any(|i| i.table == r.table && i.row == r.row && i.field.as_deref().is_some_and(on))
    }

    fn link(&mut self, i: usize, value: &Value) -> Option<Link> {
        let r = self.object("links", Some(i), value, LINK_FIELDS)?;
        let resource = self.string(&r, "resource", true);
        let need = self.string(&r, "need", true);
        // Link costs may be negative: OR-Library maximisation instances negate profits.
        let cost = self.number(&r, "cost").unwrap_or(0.0);
        let time = self.hours(&r, "time");
        let use_ = self.quantities(&r, "use");
        Some(Link {
            resource: resource?,
            need: need?,
            cost,
            time,
            use_,
        })
    }

    pub(super) fn policy(&mut self, value: &Value) -> Policy {
        let mut p = Policy::default();
        let Some(r) = self.object("policy", None, value, POLICY_FIELDS) else {
            return p;
        };
        let objective = self.choice(&r, "objective");
        if let Some(v) = objective {
            p.objective = v;
        }
        let objective_named = objective.is_some() || Self::get(&r, "objective").is_none();
        if let Some(w) = self.checked(&r, "cost_weight", |x| x >= 0.0, ">= 0") {
            p.cost_weight = w;
        }
        match Self::get(&r, "fairness") {
            None => {}
            Some(Value::String(s)) if s == "none" => p.fairness = Fairness::None,
            Some(Value::String(s)) if s == "maxmin" => p.fairness = Fairness::Maxmin,
            Some(Value::String(s)) if s == "leximin" => p.fairness = Fairness::Leximin,
            Some(Value::Object(m)) if m.len() == 1 && m.contains_key("min_share") => {
                match m.get("min_share").and_then(Value::as_f64) {
                    Some(s) if (0.0..=1.0).contains(&s) => p.fairness = Fairness::MinShare(s),
                    _ => self.issue(
                        &r,
                        "fairness.min_share",
                        "min_share must be a number in [0, 1]",
                    ),
                }
            }
            Some(other) => self.issue(
                &r,
                "fairness",
                format!(
                    "unknown fairness {other}: expected \"none\", \"maxmin\", \"leximin\" or {{\"min_share\": s}}"
                ),
            ),
        }
        if let Some(v) = self.choice(&r, "group_by") {
            p.group_by = v;
        }
        p.max_distance_km = self.checked(&r, "max_distance_km", |x| x >= 0.0, ">= 0");
        p.speed_kmh = self.checked(&r, "speed_kmh", |x| x > 0.0, "> 0");
        if let Some(c) = self.checked(&r, "cost_per_km", |x| x >= 0.0, ">= 0") {
            p.cost_per_km = c;
        }
        if let Some(b) = self.boolean(&r, "cross_community") {
            p.cross_community = b;
        }
        if let Some(v) = self.choice(&r, "solver") {
            p.solver = v;
        }
        p.time_limit_s = self.checked(&r, "time_limit_s", |x| x > 0.0, "> 0");
        if let Some(g) = self.checked(&r, "mip_gap", |x| (0.0..=1.0).contains(&x), "in [0, 1]") {
            p.mip_gap = g;
        }
        let rule = format!("a whole number in [1, {MAX_THREADS}]");
        if let Some(t) = self.checked(
            &r,
            "threads",
            |x| (1.0..=MAX_THREADS as f64).contains(&x) && x.fract() == 0.0,
            &rule,
        ) {
            p.threads = Some(t as usize);
        }
        if objective_named {
            p.deprivation = self.deprivation(&r, p.objective);
        }
        p.reusable = self.string_set(&r, "reusable");
        // Starts closer than the grain times are kept to would fall on one instant.
        p.slot_h = self.checked(
            &r,
            "slot_h",
            |x| x >= TIME_GRAIN_H,
            &format!(">= {TIME_GRAIN_H:e} (hours: times are kept to {TIME_GRAIN_H:e} h)"),
        );
        if let Some(m) = self.checked(
            &r,
            "max_starts",
            |x| (1.0..=MAX_MAX_STARTS as f64).contains(&x) && x.fract() == 0.0,
            &format!("a whole number in [1, {MAX_MAX_STARTS}]"),
        ) {
            p.max_starts = Some(m as usize);
        }
        p
    }

    /// `policy.deprivation`: required by the deprivation objective and refused by the others;
    /// breakpoints `[[u, c], ...]` of a convex, increasing cost from (0, 0) to u = 1.
    fn deprivation(&mut self, r: &Row, objective: Objective) -> Option<DeprivationCost> {
        const FIELD: &str = "deprivation";
        let wanted = objective == Objective::Deprivation;
        let Some(value) = Self::get(r, FIELD) else {
            if wanted {
                self.issue(
                    r,
                    FIELD,
                    "required by objective deprivation: breakpoints [[u, c], ...]",
                );
            }
            return None;
        };
        if !wanted {
            let message = format!(
                "only used by objective deprivation, not {}",
                objective.as_str()
            );
            self.issue(r, FIELD, message);
            return None;
        }
        let Some(points) = value.as_array() else {
            self.issue(
                r,
                FIELD,
                format!("expected a list of [u, c] pairs, got {}", kind_of(value)),
            );
            return None;
        };
        if points.len() < 2 || points.len() > MAX_DEPRIVATION_BREAKPOINTS {
            let message = format!(
                "{} breakpoints: between 2 and {MAX_DEPRIVATION_BREAKPOINTS} are needed",
                points.len()
            );
            self.issue(r, FIELD, message);
            return None;
        }
        let mut pairs = Vec::with_capacity(points.len());
        for (k, point) in points.iter().enumerate() {
            let pair = point.as_array().filter(|a| a.len() == 2).and_then(|a| {
                let (u, c) = (a[0].as_f64()?, a[1].as_f64()?);
                (u.is_finite() && c.is_finite() && c.abs() <= MAX_MAGNITUDE).then_some((u, c))
            });
            match pair {
                Some(pair) => pairs.push(pair),
                None => {
                    let message = format!("{point} is not a pair [u, c] of finite numbers");
                    self.issue(r, &format!("{FIELD}[{k}]"), message);
                    return None;
                }
            }
        }
        let problem = deprivation_problem(&pairs);
        if let Some((k, message)) = problem {
            self.issue(r, &format!("{FIELD}[{k}]"), message);
            return None;
        }
        Some(DeprivationCost(pairs))
    }

    fn table<'a>(
        &mut self,
        root: &'a Map<String, Value>,
        key: &str,
        required: bool,
    ) -> Option<&'a Vec<Value>> {
        match root.get(key) {
            None | Some(Value::Null) => {
                if required {
                    self.push(
                        "scenario",
                        None,
                        Some(key.into()),
                        "missing required field".into(),
                    );
                }
                None
            }
            Some(Value::Array(a)) => Some(a),
            Some(v) => {
                self.push(
                    "scenario",
                    None,
                    Some(key.into()),
                    format!("expected a list, got {}", kind_of(v)),
                );
                None
            }
        }
    }

    pub(super) fn scenario(mut self, value: &Value) -> Result<Scenario, InvalidInput> {
        let Some(root) = self.object("scenario", None, value, SCENARIO_FIELDS) else {
            return Err(self.problems.refusal("scenario").unwrap_or_else(|| {
                InvalidInput::of_table("scenario", "expected an object".into())
            }));
        };
        let root = root.obj;
        let name = match root.get("name") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.contains('\0') => {
                self.push("scenario", None, Some("name".into()), NUL_TEXT.into());
                None
            }
            // Held as ids are: a 5 MB name was taken, and echoed in every answer's summary.
            Some(Value::String(s)) if self.too_long(s) => {
                self.push(
                    "scenario",
                    None,
                    Some("name".into()),
                    name_too_long(s.len()),
                );
                None
            }
            Some(Value::String(s)) => Some(s.clone()),
            Some(v) => {
                self.push(
                    "scenario",
                    None,
                    Some("name".into()),
                    format!("expected a string, got {}", kind_of(v)),
                );
                None
            }
        };
        let mut resources = Vec::new();
        let mut needs = Vec::new();
        let mut rows_ok = true;
        if let Some(rows) = self.table(root, "resources", true) {
            for (i, v) in rows.iter().enumerate() {
                match self.resource(i, v) {
                    Some(r) => resources.push(r),
                    None => rows_ok = false,
                }
            }
        }
        if let Some(rows) = self.table(root, "needs", true) {
            for (i, v) in rows.iter().enumerate() {
                match self.need(i, v) {
                    Some(n) => needs.push(n),
                    None => rows_ok = false,
                }
            }
        }
        let mut links = None;
        if let Some(rows) = self.table(root, "links", false) {
            let mut out = Vec::new();
            for (i, v) in rows.iter().enumerate() {
                match self.link(i, v) {
                    Some(l) => out.push(l),
                    None => rows_ok = false,
                }
            }
            links = Some(out);
        }
        let policy = match root.get("policy") {
            None | Some(Value::Null) => Policy::default(),
            Some(p) => self.policy(p),
        };
        if rows_ok {
            self.cross_checks(&resources, &needs, links.as_deref());
        }
        let scenario = Scenario {
            name,
            resources,
            needs,
            links,
            policy,
        };
        if rows_ok {
            self.policy_checks(&scenario);
        }
        self.finish(scenario)
    }

    /// [`Validator::policy_checks`] alone, for a scenario validated under another policy.
    pub(super) fn policy_fit(mut self, scenario: Scenario) -> Result<Scenario, InvalidInput> {
        self.policy_checks(&scenario);
        self.finish(scenario)
    }

    /// The checks of the rows against the policy: reusable dimensions and windows, then the
    /// time model's and the model's sizes (only when nothing else is wrong).
    fn policy_checks(&mut self, s: &Scenario) {
        self.time_checks(&s.resources, &s.needs, &s.policy);
        if self.problems.is_empty() {
            self.time_size(&s.resources, &s.needs, s.links.as_deref(), &s.policy);
        }
        if self.problems.is_empty() {
            self.model_size(&s.resources, &s.needs, s.links.as_deref(), &s.policy);
        }
    }

    /// SPEC's time model: every reusable dimension is named by some resource's capacity or
    /// need's demand (a name no row uses is a typo; one only needs ask for is
    /// every shelter gone, and those needs go unserved), and no need's window holds more
    /// candidate starts than `policy.max_starts` (the model's size stays bounded).
    fn time_checks(&mut self, resources: &[Resource], needs: &[Need], policy: &Policy) {
        // One pass over the rows, not one per reusable name (a million names over 100,000
        // resources took minutes).
        let named: std::collections::HashSet<&str> = resources
            .iter()
            .flat_map(|r| r.capacity.keys().map(String::as_str))
            .chain(
                needs
                    .iter()
                    .flat_map(|n| n.demand.keys().map(String::as_str)),
            )
            .collect();
        for dim in &policy.reusable {
            if !named.contains(dim.as_str()) {
                self.push(
                    "policy",
                    None,
                    Some("reusable".into()),
                    format!(
                        "no resource's capacity and no need's demand names the reusable \
                         dimension {dim:?}"
                    ),
                );
            }
        }
        for (i, n) in needs.iter().enumerate() {
            if let Some((field, message)) = need_window_issue(n, policy) {
                self.push("needs", Some(i), Some(field.into()), message);
            }
        }
    }

    /// The time model's columns are (link, start) pairs: at most each need's starts times its
    /// candidate resources (its explicit links, or the resources of its kind). Refused above
    /// [`MAX_TIMED_COLUMNS`] before any is made, so that no input fills memory with them.
    fn time_size(
        &mut self,
        resources: &[Resource],
        needs: &[Need],
        links: Option<&[Link]>,
        policy: &Policy,
    ) {
        let needs: Vec<&Need> = needs.iter().collect();
        let columns = timed_columns(resources, &needs, links, policy);
        if let Some(message) = timed_size_issue(columns) {
            self.push("policy", None, Some("slot_h".into()), message);
        }
    }

    /// The model's arrays stay bounded: capacity, demand and each link's use are stored per
    /// dimension (`Network`), so resources plus needs, and links, times the dimensions are
    /// at most [`MAX_DIM_ENTRIES`]; rule-built links are at most [`MAX_LINKS`] besides.
    fn model_size(
        &mut self,
        resources: &[Resource],
        needs: &[Need],
        links: Option<&[Link]>,
        policy: &Policy,
    ) {
        let d = dimension_names(resources, needs, links).len().max(1);
        if let Some(message) = result_cells_issue(resources.len(), needs.len(), d) {
            // Named where most of the cells are: three a dimension per resource, one per need.
            let (table, field) = if resources.len() * 3 >= needs.len() {
                ("resources", "capacity")
            } else {
                ("needs", "demand")
            };
            self.push(table, None, Some(field.into()), message);
            return;
        }
        let rows = (resources.len() + needs.len()).saturating_mul(d);
        if rows > MAX_DIM_ENTRIES {
            self.push(
                "needs",
                None,
                Some("demand".into()),
                format!(
                    "{d} dimensions over {} resources and needs make {rows} entries, more than {MAX_DIM_ENTRIES}: use fewer dimensions",
                    resources.len() + needs.len()
                ),
            );
            return;
        }
        // The link builder keeps a bit set of skills per resource.
        let skills: std::collections::HashSet<&str> = resources
            .iter()
            .flat_map(|r| r.skills.iter().map(String::as_str))
            .collect();
        let words = resources.len().saturating_mul(skills.len().div_ceil(64));
        if words > MAX_SKILL_WORDS {
            self.push(
                "resources",
                None,
                Some("skills".into()),
                format!(
                    "{} distinct skills over {} resources make {words} words of skill sets, more than {MAX_SKILL_WORDS}: use fewer distinct skills",
                    skills.len(),
                    resources.len()
                ),
            );
            return;
        }
        let per_dims = MAX_DIM_ENTRIES / d;
        match links {
            Some(links) if links.len() > per_dims => self.push(
                "links",
                None,
                None,
                format!(
                    "{} links in {d} dimensions make more than {MAX_DIM_ENTRIES} entries: use fewer links or dimensions",
                    links.len()
                ),
            ),
            Some(_) => {}
            None => self.link_count(resources, needs, policy, MAX_LINKS.min(per_dims), ""),
        }
    }

    /// [`super::links_within`]'s check.
    pub(super) fn links_within(&mut self, s: &Scenario, cap: usize) {
        match &s.links {
            Some(links) if links.len() > cap => self.push(
                "links",
                None,
                None,
                format!(
                    "{} links, more than this server's {cap} (its --max-links): send fewer links",
                    links.len()
                ),
            ),
            Some(_) => {}
            None => self.link_count(
                &s.resources,
                &s.needs,
                &s.policy,
                cap,
                " (this server's --max-links)",
            ),
        }
    }

    /// The rule-built links are at most `cap` ([`MAX_LINKS`], or fewer with many dimensions):
    /// counted (a pass of the link builder that keeps none) only when every need of a kind
    /// linking every resource of it could exceed that, so a scenario of a few megabytes never
    /// asks for tens of gigabytes.
    /// `whose` names the bound when it is not the engine's own.
    fn link_count(
        &mut self,
        resources: &[Resource],
        needs: &[Need],
        policy: &Policy,
        cap: usize,
        whose: &str,
    ) {
        let mut of_kind: HashMap<&str, (f64, f64)> = HashMap::new();
        resources
            .iter()
            .for_each(|r| of_kind.entry(&r.kind).or_default().0 += 1.0);
        needs
            .iter()
            .for_each(|n| of_kind.entry(&n.kind).or_default().1 += 1.0);
        let bound: f64 = of_kind.values().map(|(r, n)| r * n).sum();
        if bound <= cap as f64 {
            return;
        }
        let links = crate::graph::LinkBuilder::new(resources, policy).count(needs, cap);
        if links > cap {
            self.push(
                "policy",
                None,
                Some("max_distance_km".into()),
                format!(
                    "the link rules give more than {cap} links{whose} (at least {links}; fewer with more dimensions, {MAX_DIM_ENTRIES} link x dimension entries at most): use a smaller max_distance_km, explicit links, fewer needs per resource kind or fewer dimensions"
                ),
            );
        }
    }

    /// Each id's first row; a later row with the same id is an issue naming both rows.
    fn index_ids<'a>(
        &mut self,
        table: &str,
        ids: impl Iterator<Item = &'a str>,
    ) -> HashMap<&'a str, usize> {
        let mut index = HashMap::new();
        for (i, id) in ids.enumerate() {
            if let Some(&first) = index.get(id) {
                self.push(
                    table,
                    Some(i),
                    Some("id".into()),
                    format!("duplicate id {id:?} (first at {table}[{first}])"),
                );
            } else {
                index.insert(id, i);
            }
        }
        index
    }

    /// Rules that involve more than one row: unique ids, links to known rows, known dimensions.
    fn cross_checks(&mut self, resources: &[Resource], needs: &[Need], links: Option<&[Link]>) {
        let res_index = self.index_ids("resources", resources.iter().map(|r| r.id.as_str()));
        let need_index = self.index_ids("needs", needs.iter().map(|n| n.id.as_str()));
        let Some(links) = links else { return };
        let mut seen: HashMap<(&str, &str), usize> = HashMap::new();
        for (i, l) in links.iter().enumerate() {
            let r = res_index.get(l.resource.as_str()).map(|&k| &resources[k]);
            let n = need_index.get(l.need.as_str()).map(|&k| &needs[k]);
            if r.is_none() {
                self.push(
                    "links",
                    Some(i),
                    Some("resource".into()),
                    format!("unknown resource id {:?}", l.resource),
                );
            }
            if n.is_none() {
                self.push(
                    "links",
                    Some(i),
                    Some("need".into()),
                    format!("unknown need id {:?}", l.need),
                );
            }
            if let Some(first) = seen.insert((&l.resource, &l.need), i) {
                seen.insert((&l.resource, &l.need), first);
                self.push(
                    "links",
                    Some(i),
                    Some("need".into()),
                    format!(
                        "duplicate link {:?} -> {:?} (first at links[{first}])",
                        l.resource, l.need
                    ),
                );
            }
            if let (Some(r), Some(n)) = (r, n) {
                for dim in l.use_.keys() {
                    if !r.capacity.contains_key(dim) && !n.demand.contains_key(dim) {
                        let field = self.qty_field("use", dim);
                        self.push(
                            "links",
                            Some(i),
                            Some(field),
                            format!(
                                "unknown dimension {dim:?}: neither resource {:?} has capacity nor need {:?} has demand in it",
                                r.id, n.id
                            ),
                        );
                    }
                }
            }
        }
    }
}

pub(crate) fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(s) if s.is_empty() => "an empty string",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// The steepest piece a deprivation cost may have: its slope is a coefficient of the LP, and
/// HiGHS refuses matrix values above 1e15 (keeping well below keeps it well conditioned).
pub const MAX_DEPRIVATION_SLOPE: f64 = 1e9;
/// The most breakpoints a deprivation cost may have.
pub const MAX_DEPRIVATION_BREAKPOINTS: usize = 64;

/// The first breakpoint (by position) that breaks a deprivation cost's rules, and which rule.
fn deprivation_problem(points: &[(f64, f64)]) -> Option<(usize, String)> {
    if points[0] != (0.0, 0.0) {
        return Some((0, "the first breakpoint must be [0, 0]".into()));
    }
    let last = points.len() - 1;
    if points[last].0 != 1.0 {
        return Some((
            last,
            format!(
                "the last breakpoint must have u = 1, not {}",
                points[last].0
            ),
        ));
    }
    let mut slope = 0.0;
    for k in 1..points.len() {
        let ((u0, c0), (u1, c1)) = (points[k - 1], points[k]);
        if u1 <= u0 {
            return Some((k, format!("u must increase: {u1} after {u0}")));
        }
        if c1 < c0 {
            return Some((k, format!("the cost must not decrease: {c1} after {c0}")));
        }
        let s = (c1 - c0) / (u1 - u0);
        if s > MAX_DEPRIVATION_SLOPE {
            return Some((
                k,
                format!("slope {s} is above {MAX_DEPRIVATION_SLOPE}: spread the breakpoints"),
            ));
        }
        if s < slope * (1.0 - 1e-12) {
            return Some((
                k,
                format!("the cost must be convex: slope {s} after slope {slope}"),
            ));
        }
        slope = s;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::LinkBuilder;
    use serde_json::json;

    /// `resources` x `needs` of kind "van" spread over ~10 km, and as many of kind "boat" at
    /// one spot, in two communities; a 3 km radius, no links across communities.
    fn scenario(resources: usize, needs: usize) -> Scenario {
        let spot = |i: usize, spread: bool| {
            let f = if spread {
                (i * 7919 % 1000) as f64 / 1000.0
            } else {
                0.0
            };
            (
                59.3 + 0.09 * f,
                18.0 + 0.17 * ((i * 104_729 % 1000) as f64 / 1000.0) * f,
            )
        };
        let mut rs = Vec::new();
        let mut ns = Vec::new();
        for (kind, spread) in [("van", true), ("boat", false)] {
            for i in 0..resources {
                let (lat, lon) = spot(i, spread);
                rs.push(
                    json!({"id": format!("{kind}{i}"), "kind": kind, "lat": lat, "lon": lon,
                    "community": format!("c{}", i % 2), "capacity": {"units": 1}}),
                );
            }
            for i in 0..needs {
                let (lat, lon) = spot(i + 500, spread);
                ns.push(
                    json!({"id": format!("n{kind}{i}"), "kind": kind, "lat": lat, "lon": lon,
                    "community": format!("c{}", i % 3 % 2), "demand": {"units": 1}}),
                );
            }
        }
        crate::scenario_from_value(&json!({"resources": rs, "needs": ns,
            "policy": {"max_distance_km": 3, "cross_community": false}}))
        .unwrap()
    }

    /// A scenario's name is held to the bound of ids (a 5 MB name was taken and echoed back
    /// in the summary of every answer).
    #[test]
    fn a_scenario_name_is_held_to_the_bound_of_ids() {
        let with_name = |name: String| {
            crate::scenario_from_value(&json!({"name": name,
                "resources": [{"id": "r", "kind": "k", "capacity": {"u": 1}}],
                "needs": [{"id": "n", "kind": "k", "demand": {"u": 1}}]}))
        };
        let err = with_name("n".repeat(MAX_NAME_BYTES + 1)).unwrap_err();
        assert_eq!(err.issues.len(), 1, "{err}");
        assert_eq!(err.issues[0].table, "scenario");
        assert_eq!(err.issues[0].field.as_deref(), Some("name"));
        assert_eq!(err.issues[0].message, name_too_long(MAX_NAME_BYTES + 1));
        let ok = with_name("n".repeat(MAX_NAME_BYTES)).unwrap();
        assert_eq!(ok.name.map(|n| n.len()), Some(MAX_NAME_BYTES));
    }

    /// A set item holding `;` is refused (a CSV table would read it back as two items), as
    /// is a name with surrounding white space or a line break; what a log gives back is not
    /// judged again.
    #[test]
    fn set_items_and_names_keep_to_what_every_format_reads_alike() {
        let v = json!({"resources": [{"id": "r1", "kind": "k", "capacity": {"u": 1},
                "skills": ["a;b", " c", "d\ne"]}],
            "needs": [{"id": "n", "kind": "k", "demand": {"u": 1}}]});
        let err = crate::scenario_from_value(&v).unwrap_err();
        let at: Vec<(Option<&str>, bool)> = err
            .issues
            .iter()
            .map(|i| (i.field.as_deref(), i.message.contains(';')))
            .collect();
        assert_eq!(
            at,
            [
                (Some("skills[0]"), true),
                (Some("skills[1]"), false),
                (Some("skills[2]"), false)
            ],
            "{err}"
        );
        assert!(crate::input::scenario_from_logged_value(&v).is_ok());
    }

    /// Text holding U+0000 is refused where it stands (row and field), wherever a scenario
    /// holds text: the name, ids, kinds, skill lists and dimension names.
    #[test]
    fn text_with_a_nul_is_refused_naming_its_field() {
        let err = crate::scenario_from_value(&json!({"name": "x\0y",
            "resources": [{"id": "r\0", "kind": "k", "skills": ["a\0"],
                "capacity": {"u": 1, "v\0": 1}}],
            "needs": [{"id": "n", "kind": "k\0", "demand": {"u": 1}}]}))
        .unwrap_err();
        let at: Vec<(&str, Option<usize>, Option<&str>)> = err
            .issues
            .iter()
            .filter(|i| i.message == NUL_TEXT)
            .map(|i| (i.table.as_str(), i.row, i.field.as_deref()))
            .collect();
        assert_eq!(
            at,
            vec![
                ("scenario", None, Some("name")),
                ("resources", Some(0), Some("id")),
                ("resources", Some(0), Some("capacity.v\u{0}")),
                ("resources", Some(0), Some("skills[0]")),
                ("needs", Some(0), Some("kind")),
            ],
            "{err}"
        );
    }

    #[test]
    fn links_are_counted_as_built_and_refused_past_the_cap() {
        let s = scenario(40, 30);
        let builder = LinkBuilder::new(&s.resources, &s.policy);
        let built = builder.build(&s.needs).len();
        // Boats share one spot: every same-community pair (2 x 20 x 15 = 600); vans fewer.
        assert!(built > 600 && built < 1200, "{built}");
        assert_eq!(builder.count(&s.needs, usize::MAX), built);
        // A count past its limit stops, still above the limit.
        assert!(builder.count(&s.needs, 10) > 10);

        let checked = |cap: usize| {
            let mut v = Validator::new(FieldStyle::Json);
            v.link_count(&s.resources, &s.needs, &s.policy, cap, "");
            v.problems.listed().to_vec()
        };
        assert!(checked(built).is_empty());
        let issues = checked(built - 1);
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(
            (issues[0].table.as_str(), issues[0].field.as_deref()),
            ("policy", Some("max_distance_km"))
        );
        assert!(
            issues[0]
                .message
                .contains(&format!("more than {} links (at least {built}", built - 1)),
            "{}",
            issues[0].message
        );
    }

    /// One resource with capacity in 20,000 dimensions and 20,000 needs each demanding one
    /// of them: the demand array alone was 20,000 x 20,000 entries (3.2 GB), and each of the
    /// 20,000 links as many again.
    /// A rejection lists the first `MAX_ISSUES` problems and counts the rest: 4,000 empty
    /// needs have 12,000 (each without id, kind and demand).
    #[test]
    fn the_problems_listed_are_bounded() {
        let needs: Vec<serde_json::Value> = (0..4000).map(|_| serde_json::json!({})).collect();
        let e = crate::scenario_from_value(&serde_json::json!({"resources": [], "needs": needs}))
            .unwrap_err();
        assert_eq!(e.issues.len(), MAX_ISSUES + 1);
        let last = e.issues.last().unwrap();
        assert_eq!(
            last.message,
            format!("2000 more problem(s) not listed (the first {MAX_ISSUES} are)")
        );
        assert_eq!(
            (e.issues[0].table.as_str(), e.issues[0].row),
            ("needs", Some(0))
        );
    }

    #[test]
    fn per_dimension_arrays_are_bounded() {
        let n = 20_000;
        let capacity: serde_json::Map<String, serde_json::Value> =
            (0..n).map(|d| (format!("d{d}"), json!(1))).collect();
        let needs: Vec<serde_json::Value> = (0..n)
            .map(|i| json!({"id": format!("n{i}"), "kind": "k", "demand": {format!("d{i}"): 1}}))
            .collect();
        let e = crate::scenario_from_value(&json!({
            "resources": [{"id": "r", "kind": "k", "capacity": capacity}],
            "needs": needs}))
        .unwrap_err();
        assert_eq!(e.issues.len(), 1, "{:?}", e.issues);
        assert_eq!(
            (e.issues[0].table.as_str(), e.issues[0].field.as_deref()),
            ("needs", Some("demand"))
        );
        assert!(
            e.issues[0]
                .message
                .contains("20000 dimensions over 1 resources and 20000 needs make 400060000 cells"),
            "{}",
            e.issues[0].message
        );
        // The tables within their bound (15,000 x 20 cells a dimension, 300,000), links not:
        // 1,000 resources with 20 dimensions and 12,000 needs of one of them link 12,000,000
        // times, above 200,000,000 / 20 = 10,000,000.
        let s = scenario(1, 1);
        let mut r = s.resources[0].clone();
        r.capacity = (0..20).map(|d| (format!("d{d}"), 1.0)).collect();
        let mut need = s.needs[0].clone();
        (need.kind, need.lat, need.lon) = (r.kind.clone(), None, None);
        need.demand = [("d0".to_string(), 1.0)].into_iter().collect();
        (r.lat, r.lon) = (None, None);
        r.community = need.community.clone();
        let (rs, ns) = (vec![r; 1_000], vec![need; 12_000]);
        let mut v = Validator::new(FieldStyle::Json);
        v.model_size(&rs, &ns, None, &s.policy);
        assert_eq!(v.problems.listed().len(), 1, "{:?}", v.problems.listed());
        assert!(
            v.problems.listed()[0]
                .message
                .contains("more than 10000000 links"),
            "{}",
            v.problems.listed()[0].message
        );
        // Within both bounds: no issue.
        let mut v = Validator::new(FieldStyle::Json);
        v.model_size(&s.resources, &s.needs, None, &s.policy);
        assert!(v.problems.listed().is_empty(), "{:?}", v.problems.listed());
    }
}
