//! The spatial index of the link builder: unit vectors in cubic cells, queried by chord.

use super::EARTH_RADIUS_KM;
use rustc_hash::FxHashMap;

pub(super) fn unit_vector(lat: f64, lon: f64) -> [f64; 3] {
    let (p, l) = (lat.to_radians(), lon.to_radians());
    [p.cos() * l.cos(), p.cos() * l.sin(), p.sin()]
}

/// Chord length (on the unit sphere) of a great-circle radius, widened so that rounding can
/// only add candidates; the exact haversine test in `finish_link` decides.
pub(super) fn query_chord(max_km: f64) -> f64 {
    let angle = (max_km / EARTH_RADIUS_KM).min(std::f64::consts::PI);
    2.0 * (angle / 2.0).sin() * (1.0 + 1e-9) + 1e-12
}

/// Points on the unit sphere in cubic cells of half the query chord: every point within that
/// chord of a query lies in the 5 x 5 x 5 cells around the query's cell. The points are sorted
/// by cell, a column of cells (same x and y) is one hash lookup, and within it the cells are
/// in z order; a query reads 25 short runs of contiguous points (measured against cells of the
/// whole chord and a k-d tree: benches/RESULTS.md, "Link building: design measurements").
pub(super) struct CellGrid {
    side: f64,
    /// (x, y) cell -> the range of `points` in that column, sorted by z cell.
    columns: Columns,
    z_cell: Vec<i64>,
    points: Vec<[f64; 3]>,
    /// Resource index of each point.
    pub(super) ids: Vec<usize>,
}

/// A grid hit as one integer, `resource << 32 | place`: sorting these puts hits in resource
/// order. (Places and resource indices are below 2^32, as `Edge`'s indices are.)
pub(super) fn pack_hit(resource: usize, place: u64) -> u64 {
    (resource as u64) << 32 | place
}

pub(super) fn unpack_hit(hit: u64) -> (usize, u64) {
    ((hit >> 32) as usize, hit & u64::from(u32::MAX))
}

/// Cells per query chord, and so the reach of a query in cells each way.
const CELLS_PER_CHORD: i64 = 2;

impl CellGrid {
    pub(super) fn new(chord: f64, items: Vec<([f64; 3], usize)>) -> CellGrid {
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
    /// only when it is within reach. About half the points read are, so a branch on it
    /// could not be predicted.
    pub(super) fn within(&self, q: &[f64; 3], hits: &mut Vec<u64>, mut len: usize) -> usize {
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
/// when that is small against the number of points (one region: no hash lookup for the 25
/// columns of a query), a hash map otherwise (points all over the globe).
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A query finds exactly the points within its chord, by brute force over every point,
    /// both with points in one region (the table of columns) and all over the globe (the map).
    #[test]
    fn a_query_finds_exactly_the_points_within_its_chord() {
        let mut x: u64 = 11;
        let mut next = || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 11) as f64 / (1u64 << 53) as f64
        };
        for (lat_span, lon_span, km) in [(2.0, 2.0, 30.0), (180.0, 360.0, 800.0)] {
            let mut site = || unit_vector(next() * lat_span - lat_span / 2.0, next() * lon_span);
            let points: Vec<[f64; 3]> = (0..800).map(|_| site()).collect();
            let queries: Vec<[f64; 3]> = (0..100).map(|_| site()).collect();
            let chord = query_chord(km);
            let grid = CellGrid::new(chord, points.iter().copied().zip(0..).collect());
            let mut hits = Vec::new();
            for q in &queries {
                let len = grid.within(q, &mut hits, 0);
                let mut found: Vec<usize> = hits[..len].iter().map(|&h| unpack_hit(h).0).collect();
                found.sort_unstable();
                let want: Vec<usize> = (0..points.len())
                    .filter(|&i| {
                        let p = points[i];
                        (p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2) + (p[2] - q[2]).powi(2)
                            <= grid.reach2()
                    })
                    .collect();
                assert_eq!(found, want);
            }
        }
    }

    #[test]
    fn hits_pack_and_unpack() {
        assert_eq!(unpack_hit(pack_hit(123_456, 789)), (123_456, 789));
        assert!(pack_hit(1, u64::from(u32::MAX)) < pack_hit(2, 0));
    }
}
