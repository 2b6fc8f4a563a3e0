//! The need -> resource graph: explicit links or links built by SPEC's rules, in a compact
//! indexed form, and its split into connected components.
//!
//! Rule-building never compares every pair when coordinates and a radius are given: resources
//! are bucketed by kind, and each bucket's located resources sit in a static 3-d k-d tree over
//! unit vectors, queried with the chord length of the radius (slightly widened). Every
//! candidate is then checked with the same haversine test as the all-pairs definition, so the
//! result equals [`LinkBuilder::all_pairs`] exactly (a property test checks it).

use crate::model::{Need, Policy, Resource, Scenario};
use petgraph::unionfind::UnionFind;
use rayon::prelude::*;
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

/// A site with the trigonometry the haversine formula needs of it done once: the link builder
/// keeps one per resource, so each candidate pair costs two sines and an arcsine.
#[derive(Debug, Clone, Copy)]
pub struct GeoPoint {
    lat_rad: f64,
    cos_lat: f64,
    lon_deg: f64,
}

impl GeoPoint {
    pub fn new(lat: f64, lon: f64) -> GeoPoint {
        let lat_rad = lat.to_radians();
        GeoPoint {
            lat_rad,
            cos_lat: lat_rad.cos(),
            lon_deg: lon,
        }
    }

    pub fn of(lat: Option<f64>, lon: Option<f64>) -> Option<GeoPoint> {
        Some(GeoPoint::new(lat?, lon?))
    }

    /// Great-circle distance in km (haversine, SPEC's Earth radius).
    pub fn km_to(&self, other: &GeoPoint) -> f64 {
        let dp = other.lat_rad - self.lat_rad;
        let dl = (other.lon_deg - self.lon_deg).to_radians();
        let h = (dp / 2.0).sin().powi(2) + self.cos_lat * other.cos_lat * (dl / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
    }
}

/// One link of the graph, by index into the scenario's resources and needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Edge {
    pub resource: usize,
    pub need: usize,
    /// Cost of serving the need in full through this link.
    pub cost: f64,
    /// Travel/access time in hours, when known.
    pub time: Option<f64>,
    /// Great-circle distance, when both ends have coordinates.
    pub distance_km: Option<f64>,
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
                    edges.push(Edge {
                        resource: r,
                        need: n,
                        cost: l.cost,
                        time: l.time,
                        distance_km: distance(&s.resources[r], &s.needs[n]),
                    });
                }
                (edges, uses)
            }
            None => {
                let edges = LinkBuilder::new(&s.resources, &s.policy).build(&s.needs);
                let mut uses = Vec::with_capacity(edges.len() * nd);
                for e in &edges {
                    uses.extend_from_slice(&demand[e.need * nd..(e.need + 1) * nd]);
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
    finish_link(ri, &ResourceTerms::of(r), ni, n, distance(r, n), policy)
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
fn finish_link(
    ri: usize,
    r: &ResourceTerms,
    ni: usize,
    n: &Need,
    dist: Option<f64>,
    policy: &Policy,
) -> Result<Edge, Excluded> {
    if let (Some(d), Some(max)) = (dist, policy.max_distance_km) {
        if d > max {
            return Err(Excluded::Distance {
                distance_km: d,
                max_distance_km: max,
            });
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
            return Err(Excluded::Deadline {
                arrival_h: arrival,
                deadline_h: deadline,
            });
        }
    }
    if let (Some(until), Some(earliest)) = (r.available_until, n.earliest) {
        if until < earliest {
            return Err(Excluded::Window {
                available_until_h: until,
                earliest_h: earliest,
            });
        }
    }
    Ok(Edge {
        resource: ri,
        need: ni,
        cost: r.cost + policy.cost_per_km * dist.unwrap_or(0.0),
        time,
        distance_km: dist,
    })
}

fn unit_vector(lat: f64, lon: f64) -> [f64; 3] {
    let (p, l) = (lat.to_radians(), lon.to_radians());
    [p.cos() * l.cos(), p.cos() * l.sin(), p.sin()]
}

/// A static 3-d k-d tree (implicit, median-split) over points on the unit sphere.
struct KdTree {
    points: Vec<[f64; 3]>,
    /// Resource index of each point.
    ids: Vec<usize>,
}

const KD_LEAF: usize = 12;

impl KdTree {
    fn new(mut items: Vec<([f64; 3], usize)>) -> KdTree {
        fn split(items: &mut [([f64; 3], usize)], depth: usize) {
            if items.len() <= KD_LEAF {
                return;
            }
            let axis = depth % 3;
            let mid = items.len() / 2;
            items.select_nth_unstable_by(mid, |a, b| a.0[axis].total_cmp(&b.0[axis]));
            let (lo, hi) = items.split_at_mut(mid);
            split(lo, depth + 1);
            split(&mut hi[1..], depth + 1);
        }
        split(&mut items, 0);
        KdTree {
            points: items.iter().map(|x| x.0).collect(),
            ids: items.iter().map(|x| x.1).collect(),
        }
    }

    /// Push every id within Euclidean distance sqrt(`r2`) of `q`.
    fn within(&self, q: &[f64; 3], r2: f64, out: &mut Vec<usize>) {
        self.within_range(0, self.points.len(), 0, q, r2, out);
    }

    fn within_range(
        &self,
        lo: usize,
        hi: usize,
        depth: usize,
        q: &[f64; 3],
        r2: f64,
        out: &mut Vec<usize>,
    ) {
        let d2 =
            |p: &[f64; 3]| (p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2) + (p[2] - q[2]).powi(2);
        if hi - lo <= KD_LEAF {
            for i in lo..hi {
                if d2(&self.points[i]) <= r2 {
                    out.push(self.ids[i]);
                }
            }
            return;
        }
        let axis = depth % 3;
        let mid = lo + (hi - lo) / 2;
        let p = &self.points[mid];
        if d2(p) <= r2 {
            out.push(self.ids[mid]);
        }
        let diff = q[axis] - p[axis];
        let (near, far) = if diff <= 0.0 {
            ((lo, mid), (mid + 1, hi))
        } else {
            ((mid + 1, hi), (lo, mid))
        };
        self.within_range(near.0, near.1, depth + 1, q, r2, out);
        if diff * diff <= r2 {
            self.within_range(far.0, far.1, depth + 1, q, r2, out);
        }
    }
}

/// Resources of one kind, indexed for radius queries.
struct KindBucket {
    all: Vec<usize>,
    unlocated: Vec<usize>,
    tree: KdTree,
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

    /// Whether every bit of `mask` is set in `row`.
    fn covers(&self, row: usize, mask: &[u64]) -> bool {
        let r = &self.bits[row * self.words..(row + 1) * self.words];
        mask.iter().zip(r).all(|(m, b)| m & !b == 0)
    }
}

fn set_bit(words: &mut [u64], bit: u32) {
    words[bit as usize / 64] |= 1 << (bit % 64);
}

/// What the rules read of a resource, in the builder's numbering.
struct Site {
    community: u32,
    pos: Option<GeoPoint>,
    terms: ResourceTerms,
}

/// A need in the builder's numbering; scratch reused across the needs of one chunk.
#[derive(Default)]
struct NeedKey {
    community: u32,
    skills: Vec<u64>,
    dims: Vec<u64>,
    candidates: Vec<usize>,
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
    sites: Vec<Site>,
    skills: BitRows,
    dims: BitRows,
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
                let tree = KdTree::new(located);
                (
                    kind,
                    KindBucket {
                        all,
                        unlocated,
                        tree,
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
            sites,
            skills,
            dims,
        }
    }

    /// Number the need's names into `key`; false when no resource can serve it (a required
    /// skill or a demanded dimension that no resource has).
    fn key_of(&self, n: &Need, key: &mut NeedKey) -> bool {
        key.community = self.communities.get(&n.community).unwrap_or(u32::MAX);
        key.skills.clear();
        key.skills.resize(self.skills.words, 0);
        for s in &n.required_skills {
            let Some(b) = self.skill_names.get(s) else {
                return false;
            };
            set_bit(&mut key.skills, b);
        }
        key.dims.clear();
        key.dims.resize(self.dims.words, 0);
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
        let mut candidates = std::mem::take(&mut key.candidates);
        let list = match (n.lat, n.lon, self.policy.max_distance_km) {
            (Some(lat), Some(lon), Some(max_km)) => {
                // Chord length of the radius, widened so rounding can only add candidates;
                // the exact haversine test in `finish_link` decides.
                let angle = (max_km / EARTH_RADIUS_KM).min(std::f64::consts::PI);
                let chord = 2.0 * (angle / 2.0).sin() * (1.0 + 1e-9) + 1e-12;
                candidates.clear();
                candidates.extend_from_slice(&bucket.unlocated);
                bucket
                    .tree
                    .within(&unit_vector(lat, lon), chord * chord, &mut candidates);
                candidates.sort_unstable();
                &candidates[..]
            }
            _ => &bucket.all[..],
        };
        for &ri in list {
            let site = &self.sites[ri];
            if (!self.policy.cross_community && site.community != key.community)
                || !self.skills.covers(ri, &key.skills)
                || !self.dims.covers(ri, &key.dims)
            {
                continue;
            }
            let dist = match (&site.pos, &pos) {
                (Some(a), Some(b)) => Some(a.km_to(b)),
                _ => None,
            };
            if let Ok(e) = finish_link(ri, &site.terms, ni, n, dist, self.policy) {
                out.push(e);
            }
        }
        key.candidates = candidates;
    }

    /// Links of every need, ordered by need then resource (input order).
    ///
    /// Needs go in waves of `WAVE`, each split into chunks built on all cores, then copied
    /// in place at the end of the output: the chunk buffers of one wave are freed before the
    /// next reuses their memory, so about one output's worth of fresh pages is touched (at
    /// 20 million links the output is a gigabyte, and first touching a page is most of the
    /// cost on this kind of machine).
    pub fn build(&self, needs: &[Need]) -> Vec<Edge> {
        const CHUNK: usize = 256;
        const WAVE: usize = 64 * CHUNK;
        let mut out: Vec<Edge> = Vec::new();
        for (w, wave) in needs.chunks(WAVE).enumerate() {
            // Chunk buffers sized by the links per need so far (a quarter more), so that most
            // never grow: growing copies them, and the allocator's work showed in the profile.
            let per_need = out.len().div_ceil((w * WAVE).max(1));
            let reserve = CHUNK * per_need * 5 / 4;
            let parts: Vec<Vec<Edge>> = wave
                .par_chunks(CHUNK)
                .enumerate()
                .map(|(c, chunk)| {
                    let mut key = NeedKey::default();
                    let mut part = Vec::with_capacity(reserve);
                    for (i, n) in chunk.iter().enumerate() {
                        self.links_into(w * WAVE + c * CHUNK + i, n, &mut key, &mut part);
                    }
                    part
                })
                .collect();
            append_parallel(&mut out, parts);
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

/// Append the parts to `out` one after another, copied on all cores straight into place.
fn append_parallel<T: Send>(out: &mut Vec<T>, parts: Vec<Vec<T>>) {
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
        for (slot, x) in dst.iter_mut().zip(src) {
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
        uf.union(e.resource, num_resources + e.need);
    }
    let mut by_root: HashMap<usize, usize> = HashMap::new();
    let mut comps: Vec<Component> = Vec::new();
    let mut need_has_edge = vec![false; num_needs];
    let mut res_has_edge = vec![false; num_resources];
    for e in edges {
        need_has_edge[e.need] = true;
        res_has_edge[e.resource] = true;
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
        let c = by_root[&uf.find(e.resource)];
        comps[c].edges.push(i);
    }
    comps
}
