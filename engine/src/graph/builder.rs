//! Building links by SPEC's rules for every need at once, through the spatial index, in
//! parallel over needs.

use super::grid::{pack_hit, query_chord, unit_vector, unpack_hit, CellGrid};
use super::rules::{finish_link, has_capacity, ResourceTerms};
use super::{rule_link, Edge, GeoPoint};
use crate::model::{Need, Policy, Resource};
use rayon::prelude::*;
use std::collections::HashMap;

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
/// and bit masks rather than string compares, on the builder's hottest path.
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
/// `finish_link` as [`check_link`], so the result equals [`LinkBuilder::all_pairs`] exactly,
/// but for a need with a duration under the time model: there `check_link` also asks for a
/// usable start, and the builder's links without one are dropped later, when
/// `Network::build` expands links into their starts.
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
    /// the link, if any, is pushed to `out` (pushed here rather than returned, so the edge
    /// stays in registers on the hot path).
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

    /// How many links [`LinkBuilder::build`] makes, counted a need at a time into one buffer
    /// per chunk (memory of one need's links, not the model's); the count stops after the
    /// first wave of needs that takes it past `limit`.
    pub fn count(&self, needs: &[Need], limit: usize) -> usize {
        const CHUNK: usize = 256;
        const WAVE: usize = 64 * CHUNK;
        let mut total = 0;
        for wave in needs.chunks(WAVE) {
            total += wave
                .par_chunks(CHUNK)
                .map(|chunk| {
                    let (mut key, mut buf, mut links) = (NeedKey::default(), Vec::new(), 0);
                    for n in chunk {
                        buf.clear();
                        self.links_into(0, n, &mut key, &mut buf);
                        links += buf.len();
                    }
                    links
                })
                .sum::<usize>();
            if total > limit {
                break;
            }
        }
        total
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
