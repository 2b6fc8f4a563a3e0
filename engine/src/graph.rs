//! The need -> resource graph: explicit links or links built by SPEC's rules, in a compact
//! indexed form, and its split into connected components.
//!
//! Rule-building never compares every pair when coordinates and a radius are given: resources
//! are bucketed by kind, and each bucket's located resources sit in a grid of cubic cells over
//! unit vectors, queried with the chord length of the radius (slightly widened). Every
//! candidate is then checked with the same haversine test as the all-pairs definition, so the
//! result equals [`LinkBuilder::all_pairs`] exactly (a property test checks it).

use crate::model::{Need, Policy, Resource, Scenario};
use petgraph::unionfind::UnionFind;
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use std::cmp::Ordering;
use std::collections::HashMap;

/// Mean Earth radius (km), as SPEC section 2 fixes it.
pub const EARTH_RADIUS_KM: f64 = 6371.0088;

/// Great-circle distance in km.
pub fn haversine_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    GeoPoint::new(lat1, lon1).km_to(&GeoPoint::new(lat2, lon2))
}

pub fn distance(r: &Resource, n: &Need) -> Option<f64> {
    Some(GeoPoint::of(r.lat, r.lon)?.km_to(&GeoPoint::of(n.lat, n.lon)?))
}

/// A site with the trigonometry the haversine formula needs of it done once: the sines and
/// cosines of half its latitude and half its longitude, and the cosine of its latitude. The
/// sine of half a difference of angles is then `sin a cos b - cos a sin b`, so a pair costs
/// multiplications, a square root and an arcsine, no sine (the link builder computes this for
/// every candidate pair, and the two sines were a tenth of its time). Against the formula
/// with the differences taken first, the result differs by rounding only (within 1e-9
/// relative plus some nanometres, bounded by a test); every distance in the engine goes
/// through here, so all paths agree exactly.
#[derive(Debug, Clone, Copy)]
pub struct GeoPoint {
    sin_half_lat: f64,
    cos_half_lat: f64,
    sin_half_lon: f64,
    cos_half_lon: f64,
    cos_lat: f64,
}

impl GeoPoint {
    pub fn new(lat: f64, lon: f64) -> GeoPoint {
        let lat = lat.to_radians();
        let (sin_half_lat, cos_half_lat) = (lat / 2.0).sin_cos();
        let (sin_half_lon, cos_half_lon) = (lon.to_radians() / 2.0).sin_cos();
        GeoPoint {
            sin_half_lat,
            cos_half_lat,
            sin_half_lon,
            cos_half_lon,
            cos_lat: lat.cos(),
        }
    }

    pub fn of(lat: Option<f64>, lon: Option<f64>) -> Option<GeoPoint> {
        Some(GeoPoint::new(lat?, lon?))
    }

    /// Great-circle distance in km (haversine, SPEC's Earth radius).
    pub fn km_to(&self, other: &GeoPoint) -> f64 {
        let half_dp =
            other.sin_half_lat * self.cos_half_lat - other.cos_half_lat * self.sin_half_lat;
        let half_dl =
            other.sin_half_lon * self.cos_half_lon - other.cos_half_lon * self.sin_half_lon;
        let h = half_dp * half_dp + self.cos_lat * other.cos_lat * (half_dl * half_dl);
        2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
    }
}

/// One link of the graph, by index into the scenario's resources and needs.
///
/// 24 bytes: rule-built networks hold tens of millions of these (20 million at 100 links per
/// need), and first touching the memory they fill was the largest single cost of building
/// them. So the indices are `u32` (a scenario of 2^32 rows would not fit in memory as
/// `Resource`s and `Need`s long before), an absent time is stored as NaN (validated inputs
/// are finite, so NaN never stands for a value), and the distance is not stored: it is a
/// property of the two sites, computed by [`distance`] for the few links a report shows.
#[derive(Clone, Copy)]
pub struct Edge {
    resource: u32,
    need: u32,
    /// Cost of serving the need in full through this link.
    pub cost: f64,
    time: f64,
}

impl Edge {
    pub fn new(resource: usize, need: usize, cost: f64, time: Option<f64>) -> Edge {
        let index = |i: usize| u32::try_from(i).expect("row index beyond u32 (cannot be held)");
        Edge {
            resource: index(resource),
            need: index(need),
            cost,
            time: time.unwrap_or(f64::NAN),
        }
    }

    /// Index of the resource.
    pub fn resource(&self) -> usize {
        self.resource as usize
    }

    /// Index of the need.
    pub fn need(&self) -> usize {
        self.need as usize
    }

    /// Travel/access time in hours, when known.
    pub fn time(&self) -> Option<f64> {
        (!self.time.is_nan()).then_some(self.time)
    }
}

impl PartialEq for Edge {
    fn eq(&self, other: &Edge) -> bool {
        (self.resource, self.need, self.cost, self.time())
            == (other.resource, other.need, other.cost, other.time())
    }
}

impl std::fmt::Debug for Edge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Edge")
            .field("resource", &self.resource)
            .field("need", &self.need)
            .field("cost", &self.cost)
            .field("time", &self.time())
            .finish()
    }
}

/// The scenario in indexed form: dimensions by number, quantities in flat arrays.
#[derive(Debug, Clone)]
pub struct Network {
    pub dims: Vec<String>,
    /// `capacity[r * D + d]`.
    pub capacity: Vec<f64>,
    /// `demand[n * D + d]`.
    pub demand: Vec<f64>,
    pub edges: Vec<Edge>,
    /// `uses[e * D + d]`: capacity of the edge's resource used when its need is served in full.
    pub uses: Vec<f64>,
    /// Whether any link overrides its need's demand (SPEC's `use_e`).
    pub has_use_override: bool,
}

impl Network {
    pub fn num_dims(&self) -> usize {
        self.dims.len()
    }

    pub fn edge_use(&self, e: usize) -> &[f64] {
        let d = self.dims.len();
        &self.uses[e * d..(e + 1) * d]
    }

    pub fn cap(&self, r: usize) -> &[f64] {
        let d = self.dims.len();
        &self.capacity[r * d..(r + 1) * d]
    }

    pub fn dem(&self, n: usize) -> &[f64] {
        let d = self.dims.len();
        &self.demand[n * d..(n + 1) * d]
    }

    /// Index the scenario and build (or take) its links.
    pub fn build(s: &Scenario) -> Network {
        let dims = s.dimensions();
        let dim_index: HashMap<&str, usize> = dims
            .iter()
            .enumerate()
            .map(|(i, d)| (d.as_str(), i))
            .collect();
        let nd = dims.len();
        let mut capacity = vec![0.0; s.resources.len() * nd];
        for (i, r) in s.resources.iter().enumerate() {
            for (k, &v) in &r.capacity {
                capacity[i * nd + dim_index[k.as_str()]] = v;
            }
        }
        let mut demand = vec![0.0; s.needs.len() * nd];
        for (i, n) in s.needs.iter().enumerate() {
            for (k, &v) in &n.demand {
                demand[i * nd + dim_index[k.as_str()]] = v;
            }
        }
        let mut has_use_override = false;
        let (edges, uses) = match &s.links {
            Some(links) => {
                let rix: HashMap<&str, usize> = s
                    .resources
                    .iter()
                    .enumerate()
                    .map(|(i, r)| (r.id.as_str(), i))
                    .collect();
                let nix: HashMap<&str, usize> = s
                    .needs
                    .iter()
                    .enumerate()
                    .map(|(i, n)| (n.id.as_str(), i))
                    .collect();
                let mut edges = Vec::with_capacity(links.len());
                let mut uses = Vec::with_capacity(links.len() * nd);
                for l in links {
                    let (r, n) = (rix[l.resource.as_str()], nix[l.need.as_str()]);
                    let start = uses.len();
                    uses.extend_from_slice(&demand[n * nd..(n + 1) * nd]);
                    for (k, &v) in &l.use_ {
                        let d = dim_index[k.as_str()];
                        if uses[start + d] != v {
                            has_use_override = true;
                        }
                        uses[start + d] = v;
                    }
                    edges.push(Edge::new(r, n, l.cost, l.time));
                }
                (edges, uses)
            }
            None => {
                let edges = LinkBuilder::new(&s.resources, &s.policy).build(&s.needs);
                let mut uses = Vec::with_capacity(edges.len() * nd);
                for e in &edges {
                    uses.extend_from_slice(&demand[e.need() * nd..(e.need() + 1) * nd]);
                }
                (edges, uses)
            }
        };
        Network {
            dims,
            capacity,
            demand,
            edges,
            uses,
            has_use_override,
        }
    }
}

/// Why SPEC's link rules exclude a pair: the first rule (in SPEC order) that fails.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Excluded {
    /// Rule 1: the kinds differ.
    Kind {
        resource_kind: String,
        need_kind: String,
    },
    /// Rule 6: other community and `cross_community` is false.
    Community {
        resource_community: String,
        need_community: String,
    },
    /// Rule 2: skills the resource lacks.
    Skills { missing: Vec<String> },
    /// Rule 3: no capacity left in a demanded dimension.
    Capacity { dimension: String },
    /// Rule 4: beyond `max_distance_km`.
    Distance {
        distance_km: f64,
        max_distance_km: f64,
    },
    /// Rule 5: cannot arrive before the deadline.
    Deadline { arrival_h: f64, deadline_h: f64 },
    /// Rule 5: the resource is gone before the need starts.
    Window {
        available_until_h: f64,
        earliest_h: f64,
    },
}

impl std::fmt::Display for Excluded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Excluded::Kind { resource_kind, need_kind } => {
                write!(f, "kind {resource_kind} does not serve kind {need_kind}")
            }
            Excluded::Community { resource_community, need_community } => write!(
                f,
                "community {resource_community} does not serve {need_community} (cross_community is false)"
            ),
            Excluded::Skills { missing } => write!(f, "lacks skills {}", missing.join(", ")),
            Excluded::Capacity { dimension } => write!(f, "no {dimension} capacity left"),
            Excluded::Distance { distance_km, max_distance_km } => write!(
                f,
                "{distance_km:.2} km away, beyond max_distance_km {max_distance_km}"
            ),
            Excluded::Deadline { arrival_h, deadline_h } => write!(
                f,
                "arrives at hour {arrival_h:.2}, after the deadline at hour {deadline_h}"
            ),
            Excluded::Window { available_until_h, earliest_h } => write!(
                f,
                "available until hour {available_until_h}, before the need starts at hour {earliest_h}"
            ),
        }
    }
}

/// SPEC's link rules for one pair: `Some(edge)` iff the link exists.
pub fn rule_link(ri: usize, r: &Resource, ni: usize, n: &Need, policy: &Policy) -> Option<Edge> {
    check_link(ri, r, ni, n, policy).ok()
}

/// SPEC's link rules for one pair: the edge, or the first rule that excludes it.
pub fn check_link(
    ri: usize,
    r: &Resource,
    ni: usize,
    n: &Need,
    policy: &Policy,
) -> Result<Edge, Excluded> {
    if r.kind != n.kind {
        return Err(Excluded::Kind {
            resource_kind: r.kind.clone(),
            need_kind: n.kind.clone(),
        });
    }
    if !policy.cross_community && r.community != n.community {
        return Err(Excluded::Community {
            resource_community: r.community.clone(),
            need_community: n.community.clone(),
        });
    }
    if !n.required_skills.is_subset(&r.skills) {
        return Err(Excluded::Skills {
            missing: n.required_skills.difference(&r.skills).cloned().collect(),
        });
    }
    // Both maps are sorted by dimension: one merge walk instead of a tree lookup per
    // dimension (this check runs for every candidate pair of the link builder).
    let mut caps = r.capacity.iter().peekable();
    for (dim, &q) in &n.demand {
        while caps.next_if(|(c, _)| c.as_str() < dim.as_str()).is_some() {}
        let cap = match caps.peek() {
            Some((c, &v)) if *c == dim => v,
            _ => 0.0,
        };
        if q > 0.0 && !has_capacity(cap) {
            return Err(Excluded::Capacity {
                dimension: dim.clone(),
            });
        }
    }
    finish_link(
        ri,
        &ResourceTerms::of(r),
        ni,
        n,
        distance(r, n),
        policy,
        std::convert::identity,
    )
}

/// Rule 3's test of a resource's capacity in a demanded dimension (`cap <= 0` excludes).
fn has_capacity(cap: f64) -> bool {
    !matches!(
        cap.partial_cmp(&0.0),
        Some(Ordering::Less | Ordering::Equal)
    )
}

/// What rules 4 and 5 and a link's cost read of a resource.
#[derive(Debug, Clone, Copy)]
struct ResourceTerms {
    cost: f64,
    available_from: Option<f64>,
    available_until: Option<f64>,
}

impl ResourceTerms {
    fn of(r: &Resource) -> ResourceTerms {
        ResourceTerms {
            cost: r.cost,
            available_from: r.available_from,
            available_until: r.available_until,
        }
    }
}

/// Rules 4 and 5 and the link itself, once rules 1, 6, 2 and 3 have passed: shared by
/// [`check_link`] and the link builder's interned path, so both decide alike.
///
/// The reason for an exclusion goes through `excluded`: the builder maps it to `()`, so its
/// result is a plain `Option<Edge>` in registers (a `Result` carrying `Excluded`, whose other
/// variants hold strings, went through memory and stalled every link it built).
#[inline]
fn finish_link<E>(
    ri: usize,
    r: &ResourceTerms,
    ni: usize,
    n: &Need,
    dist: Option<f64>,
    policy: &Policy,
    excluded: impl FnOnce(Excluded) -> E,
) -> Result<Edge, E> {
    if let (Some(d), Some(max)) = (dist, policy.max_distance_km) {
        if d > max {
            return Err(excluded(Excluded::Distance {
                distance_km: d,
                max_distance_km: max,
            }));
        }
    }
    let time = match (dist, policy.speed_kmh) {
        (Some(d), Some(v)) => Some(d / v),
        _ => None,
    };
    let t = time.unwrap_or(0.0);
    if let Some(deadline) = n.deadline {
        let arrival = r.available_from.unwrap_or(0.0) + t;
        if arrival > deadline {
            return Err(excluded(Excluded::Deadline {
                arrival_h: arrival,
                deadline_h: deadline,
            }));
        }
    }
    if let (Some(until), Some(earliest)) = (r.available_until, n.earliest) {
        if until < earliest {
            return Err(excluded(Excluded::Window {
                available_until_h: until,
                earliest_h: earliest,
            }));
        }
    }
    Ok(Edge::new(
        ri,
        ni,
        r.cost + policy.cost_per_km * dist.unwrap_or(0.0),
        time,
    ))
}

fn unit_vector(lat: f64, lon: f64) -> [f64; 3] {
    let (p, l) = (lat.to_radians(), lon.to_radians());
    [p.cos() * l.cos(), p.cos() * l.sin(), p.sin()]
}

/// Chord length (on the unit sphere) of a great-circle radius, widened so that rounding can
/// only add candidates; the exact haversine test in `finish_link` decides.
fn query_chord(max_km: f64) -> f64 {
    let angle = (max_km / EARTH_RADIUS_KM).min(std::f64::consts::PI);
    2.0 * (angle / 2.0).sin() * (1.0 + 1e-9) + 1e-12
}

/// Points on the unit sphere in cubic cells of half the query chord: every point within that
/// chord of a query lies in the 5 x 5 x 5 cells around the query's cell. The points are sorted
/// by cell, a column of cells (same x and y) is one hash lookup, and within it the cells are
/// in z order; a query reads 25 short runs of contiguous points. (Cells of the whole chord
/// read 9 runs but test about half as many points again: 18% more instructions in the query
/// loop. The k-d tree this replaces was 12% of the profile at 100 links per need, its descent
/// branching unpredictably.)
struct CellGrid {
    side: f64,
    /// (x, y) cell -> the range of `points` in that column, sorted by z cell.
    columns: Columns,
    z_cell: Vec<i64>,
    points: Vec<[f64; 3]>,
    /// Resource index of each point.
    ids: Vec<usize>,
}

/// A grid hit as one integer, `resource << 32 | place`: sorting these puts hits in resource
/// order. (Places and resource indices are below 2^32, as `Edge`'s indices are.)
fn pack_hit(resource: usize, place: u64) -> u64 {
    (resource as u64) << 32 | place
}

fn unpack_hit(hit: u64) -> (usize, u64) {
    ((hit >> 32) as usize, hit & u64::from(u32::MAX))
}

/// Cells per query chord, and so the reach of a query in cells each way.
const CELLS_PER_CHORD: i64 = 2;

impl CellGrid {
    fn new(chord: f64, items: Vec<([f64; 3], usize)>) -> CellGrid {
        let side = chord / CELLS_PER_CHORD as f64;
        let mut items: Vec<([i64; 3], [f64; 3], usize)> = items
            .into_iter()
            .map(|(p, id)| (CellGrid::cell(side, &p), p, id))
            .collect();
        items.sort_unstable_by_key(|x| (x.0, x.2));
        let mut ranges = Vec::new();
        let mut start = 0;
        for i in 1..=items.len() {
            if i == items.len() || items[i].0[..2] != items[start].0[..2] {
                let c = items[start].0;
                ranges.push(((c[0], c[1]), (start, i)));
                start = i;
            }
        }
        CellGrid {
            side,
            columns: Columns::new(ranges),
            z_cell: items.iter().map(|x| x.0[2]).collect(),
            points: items.iter().map(|x| x.1).collect(),
            ids: items.iter().map(|x| x.2).collect(),
        }
    }

    /// The squared query chord.
    fn reach2(&self) -> f64 {
        (self.side * CELLS_PER_CHORD as f64).powi(2)
    }

    fn cell(side: f64, p: &[f64; 3]) -> [i64; 3] {
        // Coordinates are in [-1, 1] and the side at least 1e-12: the quotients fit in i64.
        p.map(|x| (x / side).floor() as i64)
    }

    /// Note `resource << 32 | place in the grid` of every point within the query chord of `q`
    /// in `hits`, after its first `len` entries; returns the new length (`hits` may be longer).
    ///
    /// Without a branch per point: each point read is written, and the length moves past it
    /// only when it is within reach. About half the points read are, so a branch on it was
    /// mispredicted half the time.
    fn within(&self, q: &[f64; 3], hits: &mut Vec<u64>, mut len: usize) -> usize {
        const R: i64 = CELLS_PER_CHORD;
        let r2 = self.reach2();
        let [cx, cy, cz] = CellGrid::cell(self.side, q);
        for x in cx - R..=cx + R {
            for y in cy - R..=cy + R {
                let Some((lo, hi)) = self.columns.get(x, y) else {
                    continue;
                };
                let z = &self.z_cell[lo..hi];
                let (first, end) = (
                    lo + z.partition_point(|&z| z < cz - R),
                    lo + z.partition_point(|&z| z <= cz + R),
                );
                if hits.len() < len + (end - first) {
                    hits.resize(len + (end - first), 0);
                }
                for i in first..end {
                    let p = &self.points[i];
                    let d2 = (p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2) + (p[2] - q[2]).powi(2);
                    hits[len] = pack_hit(self.ids[i], i as u64);
                    len += usize::from(d2 <= r2);
                }
            }
        }
        len
    }
}

/// A grid's columns: (x, y) cell -> range of points. A table over the columns' bounding box
/// when that is small against the number of points (one region: a hash lookup per column,
/// 25 per query, was a sixth of the query's time), a hash map otherwise (points all over
/// the globe).
enum Columns {
    Table {
        x0: i64,
        y0: i64,
        width: i64,
        height: i64,
        /// By x, then y, over the box; empty columns have empty ranges.
        ranges: Vec<(usize, usize)>,
    },
    Map(FxHashMap<(i64, i64), (usize, usize)>),
}

impl Columns {
    fn new(ranges: Vec<((i64, i64), (usize, usize))>) -> Columns {
        if ranges.is_empty() {
            return Columns::Map(FxHashMap::default());
        }
        let (mut x0, mut x1, mut y0, mut y1) = (i64::MAX, i64::MIN, i64::MAX, i64::MIN);
        for &((x, y), _) in &ranges {
            (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
        }
        // Widths are below 2^41 (coordinates in [-1, 1], side at least 1e-12 / 2): the
        // product cannot overflow i128, and a small one fits usize.
        let cells = (x1 as i128 - x0 as i128 + 1) * (y1 as i128 - y0 as i128 + 1);
        if cells > 4 * ranges.len() as i128 + 1024 {
            return Columns::Map(ranges.into_iter().collect());
        }
        let (width, height) = (x1 - x0 + 1, y1 - y0 + 1);
        let mut table = vec![(0, 0); cells as usize];
        for ((x, y), r) in ranges {
            table[((x - x0) * height + (y - y0)) as usize] = r;
        }
        Columns::Table {
            x0,
            y0,
            width,
            height,
            ranges: table,
        }
    }

    fn get(&self, x: i64, y: i64) -> Option<(usize, usize)> {
        match self {
            Columns::Table {
                x0,
                y0,
                width,
                height,
                ranges,
            } => {
                let (dx, dy) = (x - x0, y - y0);
                if dx < 0 || dy < 0 || dx >= *width || dy >= *height {
                    return None;
                }
                Some(ranges[(dx * height + dy) as usize])
            }
            Columns::Map(map) => map.get(&(x, y)).copied(),
        }
    }
}

/// Resources of one kind, indexed for radius queries.
struct KindBucket {
    all: Vec<usize>,
    unlocated: Vec<usize>,
    /// The located ones, when the policy has a radius.
    grid: Option<CellGrid>,
    /// What the rules read of the grid's resources, in grid order: a query's hits lie in a
    /// few runs of neighbouring places, so reading them here stays in a few cache lines'
    /// reach, where reading by resource index jumped through the whole table and missed the
    /// cache on most links.
    grid_sites: SiteTable,
}

/// Names numbered once per builder, so that a candidate pair is checked with integer compares
/// and bit masks rather than string compares (those were a fifth of the profile at 100 links
/// per need).
#[derive(Default)]
struct Names<'a> {
    ids: HashMap<&'a str, u32>,
}

impl<'a> Names<'a> {
    fn add(&mut self, name: &'a str) -> u32 {
        let next = self.ids.len() as u32;
        *self.ids.entry(name).or_insert(next)
    }

    fn get(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
    }

    fn words(&self) -> usize {
        self.ids.len().div_ceil(64)
    }
}

/// One bit set per resource, `words` 64-bit words each.
struct BitRows {
    words: usize,
    bits: Vec<u64>,
}

impl BitRows {
    fn new(rows: usize, words: usize) -> BitRows {
        BitRows {
            words,
            bits: vec![0; rows * words],
        }
    }

    fn set(&mut self, row: usize, bit: u32) {
        set_bit(
            &mut self.bits[row * self.words..(row + 1) * self.words],
            bit,
        );
    }

    /// The given rows, in the given order.
    fn subset(&self, rows: &[usize]) -> BitRows {
        let w = self.words;
        BitRows {
            words: w,
            bits: rows
                .iter()
                .flat_map(|&r| &self.bits[r * w..(r + 1) * w])
                .copied()
                .collect(),
        }
    }

    /// Whether every bit of `mask` (`words` long) is set in `row`.
    fn covers(&self, row: usize, mask: &[u64]) -> bool {
        // Up to 64 names, the usual case, is one word: tested without slicing (this runs for
        // every candidate pair).
        match mask {
            [] => true,
            [m] => m & !self.bits[row] == 0,
            _ => {
                let r = &self.bits[row * self.words..(row + 1) * self.words];
                mask.iter().zip(r).all(|(m, b)| m & !b == 0)
            }
        }
    }
}

fn set_bit(words: &mut [u64], bit: u32) {
    words[bit as usize / 64] |= 1 << (bit % 64);
}

/// What the rules read of a resource, in the builder's numbering.
#[derive(Clone, Copy)]
struct Site {
    community: u32,
    pos: Option<GeoPoint>,
    terms: ResourceTerms,
}

/// What the rules read of resources, one row each: the builder's table is by resource index,
/// a bucket's copy is in its grid's order.
struct SiteTable {
    sites: Vec<Site>,
    skills: BitRows,
    dims: BitRows,
}

impl SiteTable {
    /// The given rows, in the given order.
    fn subset(&self, rows: &[usize]) -> SiteTable {
        SiteTable {
            sites: rows.iter().map(|&r| self.sites[r]).collect(),
            skills: self.skills.subset(rows),
            dims: self.dims.subset(rows),
        }
    }
}

/// A need in the builder's numbering; scratch reused across the needs of one chunk.
#[derive(Default)]
struct NeedKey {
    community: u32,
    skills: Vec<u64>,
    dims: Vec<u64>,
    /// The grid's hits for the need (see `links_into`).
    hits: Vec<u64>,
}

/// Builds links by SPEC's rules, through a spatial index, in parallel over needs.
///
/// Rules 1, 6, 2 and 3 (kind, community, skills, capacity) are decided on numbered names:
/// the kind picks the bucket, communities are compared as numbers, skills and the dimensions
/// with capacity are bit sets. Rules 4 and 5 and the link's values go through the same
/// `finish_link` as [`check_link`], so the result equals [`LinkBuilder::all_pairs`] exactly.
pub struct LinkBuilder<'a> {
    policy: &'a Policy,
    buckets: HashMap<&'a str, KindBucket>,
    communities: Names<'a>,
    skill_names: Names<'a>,
    dim_names: Names<'a>,
    /// By resource index.
    table: SiteTable,
}

impl<'a> LinkBuilder<'a> {
    pub fn new(resources: &'a [Resource], policy: &'a Policy) -> Self {
        let mut groups: HashMap<&str, Vec<usize>> = HashMap::new();
        let (mut communities, mut skill_names, mut dim_names) =
            (Names::default(), Names::default(), Names::default());
        for (i, r) in resources.iter().enumerate() {
            groups.entry(r.kind.as_str()).or_default().push(i);
            for s in &r.skills {
                skill_names.add(s);
            }
            for (d, &cap) in &r.capacity {
                if has_capacity(cap) {
                    dim_names.add(d);
                }
            }
        }
        let mut skills = BitRows::new(resources.len(), skill_names.words());
        let mut dims = BitRows::new(resources.len(), dim_names.words());
        let mut sites = Vec::with_capacity(resources.len());
        for (i, r) in resources.iter().enumerate() {
            for s in &r.skills {
                skills.set(i, skill_names.ids[s.as_str()]);
            }
            for (d, &cap) in &r.capacity {
                if has_capacity(cap) {
                    dims.set(i, dim_names.ids[d.as_str()]);
                }
            }
            sites.push(Site {
                community: communities.add(&r.community),
                pos: GeoPoint::of(r.lat, r.lon),
                terms: ResourceTerms::of(r),
            });
        }
        let table = SiteTable {
            sites,
            skills,
            dims,
        };
        let buckets = groups
            .into_iter()
            .map(|(kind, all)| {
                let mut located = Vec::new();
                let mut unlocated = Vec::new();
                for &i in &all {
                    match (resources[i].lat, resources[i].lon) {
                        (Some(a), Some(b)) => located.push((unit_vector(a, b), i)),
                        _ => unlocated.push(i),
                    }
                }
                let grid = policy
                    .max_distance_km
                    .map(|km| CellGrid::new(query_chord(km), located));
                let grid_sites = table.subset(grid.as_ref().map_or(&[], |g| &g.ids));
                (
                    kind,
                    KindBucket {
                        all,
                        unlocated,
                        grid,
                        grid_sites,
                    },
                )
            })
            .collect();
        LinkBuilder {
            policy,
            buckets,
            communities,
            skill_names,
            dim_names,
            table,
        }
    }

    /// Number the need's names into `key`; false when no resource can serve it (a required
    /// skill or a demanded dimension that no resource has).
    fn key_of(&self, n: &Need, key: &mut NeedKey) -> bool {
        key.community = self.communities.get(&n.community).unwrap_or(u32::MAX);
        key.skills.clear();
        key.skills.resize(self.table.skills.words, 0);
        for s in &n.required_skills {
            let Some(b) = self.skill_names.get(s) else {
                return false;
            };
            set_bit(&mut key.skills, b);
        }
        key.dims.clear();
        key.dims.resize(self.table.dims.words, 0);
        for (d, &q) in &n.demand {
            if q > 0.0 {
                let Some(b) = self.dim_names.get(d) else {
                    return false;
                };
                set_bit(&mut key.dims, b);
            }
        }
        true
    }

    /// Append the need's links to `out`, by resource (input order).
    fn links_into(&self, ni: usize, n: &Need, key: &mut NeedKey, out: &mut Vec<Edge>) {
        let Some(bucket) = self.buckets.get(n.kind.as_str()) else {
            return;
        };
        if !self.key_of(n, key) {
            return;
        }
        let pos = GeoPoint::of(n.lat, n.lon);
        let (Some(lat), Some(lon), Some(grid)) = (n.lat, n.lon, &bucket.grid) else {
            // No radius to search within: every resource of the kind, in resource order.
            for &ri in &bucket.all {
                self.link_into(ri, &self.table, ri, ni, n, key, &pos, out);
            }
            return;
        };
        // The grid finds resources out of resource order; its hits are sorted back into it
        // (`pack_hit`). The kind's unlocated resources are noted with the place UNLOCATED.
        const UNLOCATED: u64 = u32::MAX as u64;
        let mut hits = std::mem::take(&mut key.hits);
        hits.clear();
        hits.extend(bucket.unlocated.iter().map(|&ri| pack_hit(ri, UNLOCATED)));
        let unlocated = hits.len();
        let len = grid.within(&unit_vector(lat, lon), &mut hits, unlocated);
        hits.truncate(len);
        hits.sort_unstable();
        for &h in &hits {
            let (ri, g) = unpack_hit(h);
            if g == UNLOCATED {
                self.link_into(ri, &self.table, ri, ni, n, key, &pos, out);
            } else {
                self.link_into(ri, &bucket.grid_sites, g as usize, ni, n, key, &pos, out);
            }
        }
        key.hits = hits;
    }

    /// SPEC's rules for resource `ri` (row `row` of `table`) and the need keyed in `key`:
    /// the link, if any, is pushed to `out`. (Returned as an `Option<Edge>` from a function
    /// not inlined, the link went through the stack and stalled the caller's reload of it.)
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn link_into(
        &self,
        ri: usize,
        table: &SiteTable,
        row: usize,
        ni: usize,
        n: &Need,
        key: &NeedKey,
        pos: &Option<GeoPoint>,
        out: &mut Vec<Edge>,
    ) {
        let site = &table.sites[row];
        if (!self.policy.cross_community && site.community != key.community)
            || !table.skills.covers(row, &key.skills)
            || !table.dims.covers(row, &key.dims)
        {
            return;
        }
        let dist = match (&site.pos, pos) {
            (Some(a), Some(b)) => Some(a.km_to(b)),
            _ => None,
        };
        if let Ok(e) = finish_link(ri, &site.terms, ni, n, dist, self.policy, drop) {
            out.push(e);
        }
    }

    /// Links of every need, ordered by need then resource (input order).
    ///
    /// Needs go in waves of `WAVE`, each split into chunks built on all cores into buffers
    /// kept from wave to wave, then copied in place at the end of the output. Only the output
    /// and one wave's buffers are fresh memory: at 20 million links the output is 470 MB, and
    /// first touching a page costs more on this kind of machine than filling it (freeing and
    /// reallocating the buffers every wave gave their pages back and touched them anew).
    pub fn build(&self, needs: &[Need]) -> Vec<Edge> {
        const CHUNK: usize = 256;
        const WAVE: usize = 64 * CHUNK;
        let mut out: Vec<Edge> = Vec::new();
        let mut parts: Vec<Vec<Edge>> = vec![Vec::new(); WAVE / CHUNK];
        for (w, wave) in needs.chunks(WAVE).enumerate() {
            let used = wave.len().div_ceil(CHUNK);
            wave.par_chunks(CHUNK)
                .zip(&mut parts[..used])
                .enumerate()
                .for_each(|(c, (chunk, part))| {
                    let mut key = NeedKey::default();
                    part.clear();
                    for (i, n) in chunk.iter().enumerate() {
                        self.links_into(w * WAVE + c * CHUNK + i, n, &mut key, part);
                    }
                });
            append_parallel(&mut out, &parts[..used]);
        }
        out
    }

    /// The definition itself, every pair compared: the reference for tests and benches.
    pub fn all_pairs(resources: &[Resource], needs: &[Need], policy: &Policy) -> Vec<Edge> {
        let mut out = Vec::new();
        for (ni, n) in needs.iter().enumerate() {
            for (ri, r) in resources.iter().enumerate() {
                if let Some(e) = rule_link(ri, r, ni, n, policy) {
                    out.push(e);
                }
            }
        }
        out
    }
}

/// Append copies of the parts to `out` one after another, written on all cores straight
/// into place.
fn append_parallel<T: Copy + Send + Sync>(out: &mut Vec<T>, parts: &[Vec<T>]) {
    let start = out.len();
    let total: usize = parts.iter().map(Vec::len).sum();
    out.reserve(total);
    let mut slots = &mut out.spare_capacity_mut()[..total];
    let mut jobs = Vec::with_capacity(parts.len());
    for part in parts {
        let (head, rest) = std::mem::take(&mut slots).split_at_mut(part.len());
        slots = rest;
        jobs.push((head, part));
    }
    jobs.into_par_iter().for_each(|(dst, src)| {
        for (slot, &x) in dst.iter_mut().zip(src) {
            slot.write(x);
        }
    });
    // SAFETY: the slices handed out above tile the `total` spare slots after `start` exactly
    // (each is as long as its part, and the lengths sum to `total`), and each job wrote every
    // slot of its slice (a slice and its part have equal lengths, so the zip covers the
    // slice). So the first `start + total` elements are initialised. Had a job panicked,
    // `for_each` would have re-raised it before this line, leaving the length at `start`
    // (what was written then leaks, never read).
    unsafe { out.set_len(start + total) };
}

/// A connected part of the need-resource graph with at least one link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    pub needs: Vec<usize>,
    pub resources: Vec<usize>,
    pub edges: Vec<usize>,
}

/// Split the linked part of the graph into connected components, ordered by their first need.
pub fn components(num_resources: usize, num_needs: usize, edges: &[Edge]) -> Vec<Component> {
    let mut uf = UnionFind::<usize>::new(num_resources + num_needs);
    for e in edges {
        uf.union(e.resource(), num_resources + e.need());
    }
    let mut by_root: HashMap<usize, usize> = HashMap::new();
    let mut comps: Vec<Component> = Vec::new();
    let mut need_has_edge = vec![false; num_needs];
    let mut res_has_edge = vec![false; num_resources];
    for e in edges {
        need_has_edge[e.need()] = true;
        res_has_edge[e.resource()] = true;
    }
    for (n, _) in need_has_edge.iter().enumerate().filter(|(_, &h)| h) {
        let root = uf.find(num_resources + n);
        let next = comps.len();
        let c = *by_root.entry(root).or_insert(next);
        if c == next {
            comps.push(Component {
                needs: Vec::new(),
                resources: Vec::new(),
                edges: Vec::new(),
            });
        }
        comps[c].needs.push(n);
    }
    for (r, _) in res_has_edge.iter().enumerate().filter(|(_, &h)| h) {
        let c = by_root[&uf.find(r)];
        comps[c].resources.push(r);
    }
    for (i, e) in edges.iter().enumerate() {
        let c = by_root[&uf.find(e.resource())];
        comps[c].edges.push(i);
    }
    comps
}
