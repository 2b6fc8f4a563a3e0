//! [`solve_assignment`]: the linear assignment problem, dense or sparse, square or
//! rectangular, by Jonker-Volgenant-style shortest augmenting paths with row and column
//! potentials (the method SciPy's `linear_sum_assignment` uses, after Crouse 2016), on `i64`
//! costs. Each row is assigned to a distinct column; with more rows than columns the problem
//! is transposed. Missing (forbidden) pairs are allowed; when no complete assignment exists the
//! answer is an error naming a row that cannot be matched.

/// A cell that may not be used.
pub const FORBIDDEN: i64 = i64::MAX;

/// An assignment instance: `rows x cols` costs, row-major, [`FORBIDDEN`] for missing pairs.
#[derive(Debug, Clone, PartialEq)]
pub struct AssignmentProblem {
    pub rows: usize,
    pub cols: usize,
    pub cost: Vec<i64>,
}

/// Why an assignment problem has no optimal assignment, or could not be solved exactly.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssignmentError {
    #[error("infeasible: row {0} cannot be assigned")]
    Infeasible(usize),
    #[error("invalid assignment problem: {0}")]
    Invalid(InvalidAssignment),
    /// The caller's `stop` said so before the last row was assigned.
    #[error("stopped before every row was assigned")]
    Stopped,
}

/// An assignment problem the solver refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidAssignment {
    #[error("cost matrix size: {len} cells for {rows} x {cols}")]
    MatrixSize {
        rows: usize,
        cols: usize,
        len: usize,
    },
    /// A matrix of `rows x cols` cells that no allocation can hold.
    #[error("{rows} x {cols} cells are more than memory can address")]
    TooManyCells { rows: usize, cols: usize },
    /// Path lengths could leave the range kept free of overflow: `largest` |cost| against
    /// the `limit` for this many rows.
    #[error(
        "costs too large for exact path lengths: the largest |cost| is {largest}, at most {limit} with {rows} rows"
    )]
    CostsTooLarge {
        largest: u64,
        limit: u64,
        rows: usize,
    },
}

/// An optimal assignment.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    pub cost: i128,
    /// Column of each row (`None` only for rows left over when rows outnumber columns).
    pub col_of_row: Vec<Option<usize>>,
    /// Optimal duals of the LP relaxation (rows <= cols): `u_r + v_c <= cost` on every allowed
    /// pair, with equality on the chosen ones; `v_c <= 0`, and 0 on unassigned columns. So
    /// `-v_c` is what one more unit of column `c` would save, and `u_r` is row `r`'s price.
    pub row_potential: Vec<i64>,
    pub col_potential: Vec<i64>,
}

impl AssignmentProblem {
    pub fn dense(rows: usize, cols: usize, cost: Vec<i64>) -> Self {
        AssignmentProblem { rows, cols, cost }
    }

    /// Every pair forbidden until [`AssignmentProblem::add`] allows it. The matrix is dense
    /// (`rows x cols` cells), so dimensions no allocation can hold are refused here, before
    /// anything is allocated; the caller bounds the cells it is willing to hold.
    pub fn sparse(rows: usize, cols: usize) -> Result<Self, InvalidAssignment> {
        // Past `isize::MAX` bytes the allocation itself would panic ("capacity overflow").
        let cells = rows
            .checked_mul(cols)
            .filter(|&c| c <= isize::MAX as usize / std::mem::size_of::<i64>())
            .ok_or(InvalidAssignment::TooManyCells { rows, cols })?;
        Ok(AssignmentProblem {
            rows,
            cols,
            cost: vec![FORBIDDEN; cells],
        })
    }

    /// Allow pair `(r, c)` at cost `w`; of parallel pairs the cheapest counts.
    pub fn add(&mut self, r: usize, c: usize, w: i64) {
        let cell = &mut self.cost[r * self.cols + c];
        *cell = (*cell).min(w);
    }

    fn transposed(&self) -> AssignmentProblem {
        let mut t = vec![FORBIDDEN; self.rows * self.cols];
        for r in 0..self.rows {
            for c in 0..self.cols {
                t[c * self.rows + r] = self.cost[r * self.cols + c];
            }
        }
        AssignmentProblem::dense(self.cols, self.rows, t)
    }
}

/// Solve to optimality (minimum total cost).
pub fn solve_assignment(p: &AssignmentProblem) -> Result<Assignment, AssignmentError> {
    solve_assignment_until(p, &|| false)
}

/// [`solve_assignment`], asking `stop` before each row's shortest path (a time limit, a
/// caller gone): an O(n^3) solve of 5,000 rows takes seconds, and nothing else bounds it.
pub fn solve_assignment_until(
    p: &AssignmentProblem,
    stop: &dyn Fn() -> bool,
) -> Result<Assignment, AssignmentError> {
    // Checked: dimensions whose product leaves usize are refused, not wrapped.
    if p.rows.checked_mul(p.cols) != Some(p.cost.len()) {
        return Err(AssignmentError::Invalid(InvalidAssignment::MatrixSize {
            rows: p.rows,
            cols: p.cols,
            len: p.cost.len(),
        }));
    }
    if p.rows > p.cols {
        // Match every column instead, then read the answer back by row.
        let t = solve_rows(&p.transposed(), stop)?;
        let mut col_of_row = vec![None; p.rows];
        for (c, r) in t.col_of_row.iter().enumerate() {
            if let Some(r) = r {
                col_of_row[*r] = Some(c);
            }
        }
        return Ok(Assignment {
            cost: t.cost,
            col_of_row,
            row_potential: t.col_potential,
            col_potential: t.row_potential,
        });
    }
    solve_rows(p, stop)
}

/// Every row gets a column (`rows <= cols`); with a transposed problem the error's row is a
/// column of the original.
fn solve_rows(
    p: &AssignmentProblem,
    stop: &dyn Fn() -> bool,
) -> Result<Assignment, AssignmentError> {
    let n = p.rows;
    let max = p
        .cost
        .iter()
        .filter(|&&c| c != FORBIDDEN)
        .map(|c| c.unsigned_abs())
        .max()
        .unwrap_or(0);
    // Path lengths stay below (n + 1) * 2 * max; keep them far from overflow.
    let limit = (i64::MAX / 4) as u128 / (2 * (n as u128 + 2));
    if max as u128 > limit {
        return Err(AssignmentError::Invalid(InvalidAssignment::CostsTooLarge {
            largest: max,
            limit: limit as u64,
            rows: n,
        }));
    }
    match method(p) {
        Method::Lapjv => lapjv(p, stop),
        Method::ShortestAugmentingPaths => shortest_augmenting_paths(p, stop),
    }
}

/// Which algorithm [`solve_assignment`] runs on a problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Complete square problems.
    Lapjv,
    /// Rectangular or sparse ones.
    ShortestAugmentingPaths,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Lapjv => "lapjv",
            Method::ShortestAugmentingPaths => "shortest_augmenting_paths",
        }
    }
}

/// The algorithm for `p` (transposed first when it has more rows than columns).
pub fn method(p: &AssignmentProblem) -> Method {
    if p.rows == p.cols && p.rows >= 2 && !p.cost.contains(&FORBIDDEN) {
        Method::Lapjv
    } else {
        Method::ShortestAugmentingPaths
    }
}

/// Shortest augmenting paths from each row in turn (Crouse's variant, as in SciPy): handles
/// rectangular problems and forbidden pairs.
fn shortest_augmenting_paths(
    p: &AssignmentProblem,
    stop: &dyn Fn() -> bool,
) -> Result<Assignment, AssignmentError> {
    let (n, m) = (p.rows, p.cols);
    const INF: i64 = i64::MAX / 2;
    const NONE: usize = usize::MAX;
    let mut u = vec![0i64; n];
    let mut v = vec![0i64; m];
    let mut col4row = vec![NONE; n];
    let mut row4col = vec![NONE; m];
    let mut shortest = vec![INF; m];
    let mut path = vec![NONE; m];
    let mut remaining: Vec<usize> = Vec::with_capacity(m);
    let mut visited_rows: Vec<usize> = Vec::with_capacity(n);
    let mut visited_cols: Vec<usize> = Vec::with_capacity(m);

    for cur in 0..n {
        if stop() {
            return Err(AssignmentError::Stopped);
        }
        remaining.clear();
        remaining.extend((0..m).rev());
        shortest.iter_mut().for_each(|s| *s = INF);
        visited_rows.clear();
        visited_cols.clear();

        let mut i = cur;
        let mut min_val = 0i64;
        let sink;
        loop {
            visited_rows.push(i);
            let row = &p.cost[i * m..(i + 1) * m];
            let mut lowest = INF;
            let mut best = NONE;
            let mut best_pos = 0;
            for (pos, &j) in remaining.iter().enumerate() {
                let c = row[j];
                if c != FORBIDDEN {
                    let r = min_val + c - u[i] - v[j];
                    if r < shortest[j] {
                        path[j] = i;
                        shortest[j] = r;
                    }
                }
                let s = shortest[j];
                if s < lowest || (s == lowest && s < INF && row4col[j] == NONE) {
                    lowest = s;
                    best = j;
                    best_pos = pos;
                }
            }
            if best == NONE || lowest >= INF {
                return Err(AssignmentError::Infeasible(cur));
            }
            min_val = lowest;
            let j = best;
            remaining.swap_remove(best_pos);
            visited_cols.push(j);
            if row4col[j] == NONE {
                sink = j;
                break;
            }
            i = row4col[j];
        }
        // Update the potentials.
        u[cur] += min_val;
        for &i in &visited_rows {
            if i != cur {
                u[i] += min_val - shortest[col4row[i]];
            }
        }
        for &j in &visited_cols {
            v[j] -= min_val - shortest[j];
        }
        // Augment along the path back to `cur`.
        let mut j = sink;
        loop {
            let i = path[j];
            row4col[j] = i;
            std::mem::swap(&mut col4row[i], &mut j);
            if i == cur {
                break;
            }
        }
    }
    let cost = (0..n).map(|i| p.cost[i * m + col4row[i]] as i128).sum();
    Ok(Assignment {
        cost,
        col_of_row: col4row.into_iter().map(Some).collect(),
        row_potential: u,
        col_potential: v,
    })
}

/// Jonker & Volgenant (1987), "A shortest augmenting path algorithm for dense and sparse linear
/// assignment problems", for complete square problems: column reduction, reduction transfer and
/// two rounds of augmenting row reduction assign most rows cheaply; the rest are augmented by
/// Dijkstra-like searches that scan columns in blocks of equal distance. On random dense costs
/// the initial phases leave few free rows, which is why this beats plain shortest augmenting
/// paths (SciPy's) several times over. Costs were checked small enough for `i64` sums.
// Rows and columns index several arrays at once; index loops read best here.
#[allow(clippy::needless_range_loop)]
fn lapjv(p: &AssignmentProblem, stop: &dyn Fn() -> bool) -> Result<Assignment, AssignmentError> {
    // Asked before the reductions too: they may leave no row to augment.
    if stop() {
        return Err(AssignmentError::Stopped);
    }
    const NONE: usize = usize::MAX;
    let n = p.rows;
    let c = |i: usize| &p.cost[i * n..(i + 1) * n];
    let mut v = vec![i64::MAX; n];
    let mut x = vec![NONE; n]; // column of each row
    let mut y = vec![NONE; n]; // row of each column

    // Column reduction: v[j] = min_i c[i][j], scanned by rows for cache locality (the first
    // row attaining the minimum wins, as in the column-wise original).
    let mut argmin = vec![0usize; n];
    for i in 0..n {
        for (j, &cij) in c(i).iter().enumerate() {
            if cij < v[j] {
                v[j] = cij;
                argmin[j] = i;
            }
        }
    }
    let mut matches = vec![0u32; n];
    for j in (0..n).rev() {
        let i = argmin[j];
        matches[i] += 1;
        if matches[i] == 1 {
            x[i] = j;
            y[j] = i;
        } else if v[j] < v[x[i]] {
            let j1 = x[i];
            x[i] = j;
            y[j] = i;
            y[j1] = NONE;
        }
    }
    // Reduction transfer: a row matched once passes its slack to its column's price.
    let mut free = Vec::with_capacity(n);
    for i in 0..n {
        if matches[i] == 0 {
            free.push(i);
        } else if matches[i] == 1 {
            let j1 = x[i];
            let row = c(i);
            let mut min = i64::MAX;
            for j in 0..n {
                if j != j1 {
                    min = min.min(row[j] - v[j]);
                }
            }
            v[j1] -= min;
        }
    }
    // Augmenting row reduction, twice.
    for _ in 0..2 {
        let previous = std::mem::take(&mut free);
        let mut todo = previous;
        let mut k = 0;
        while k < todo.len() {
            let i = todo[k];
            k += 1;
            let row = c(i);
            let (mut umin, mut j1) = (row[0] - v[0], 0usize);
            let (mut usubmin, mut j2) = (i64::MAX, NONE);
            for j in 1..n {
                let h = row[j] - v[j];
                if h < usubmin {
                    if h >= umin {
                        usubmin = h;
                        j2 = j;
                    } else {
                        usubmin = umin;
                        j2 = j1;
                        umin = h;
                        j1 = j;
                    }
                }
            }
            let mut i0 = y[j1];
            if umin < usubmin {
                v[j1] -= usubmin - umin;
            } else if i0 != NONE {
                j1 = j2;
                i0 = y[j2];
            }
            x[i] = j1;
            y[j1] = i;
            if i0 != NONE {
                x[i0] = NONE;
                if umin < usubmin {
                    // Re-examine the displaced row at once.
                    k -= 1;
                    todo[k] = i0;
                } else {
                    free.push(i0);
                }
            }
        }
    }
    // Augmentation: one shortest path per remaining free row.
    let mut d = vec![0i64; n];
    let mut pred = vec![0usize; n];
    let mut cols: Vec<usize> = (0..n).collect();
    for &start in &free {
        if stop() {
            return Err(AssignmentError::Stopped);
        }
        let row = c(start);
        for j in 0..n {
            d[j] = row[j] - v[j];
            pred[j] = start;
            cols[j] = j;
        }
        // cols[..low]: ready (final distance); cols[low..up]: at the current minimum distance.
        let (mut low, mut up) = (0usize, 0usize);
        let mut last = 0usize;
        let mut min = 0i64;
        let end = 'search: loop {
            if up == low {
                last = low;
                min = d[cols[up]];
                up += 1;
                // The scan covers the columns after the first; `up` moves inside it.
                let first = up;
                for k in first..n {
                    let j = cols[k];
                    let h = d[j];
                    if h <= min {
                        if h < min {
                            up = low;
                            min = h;
                        }
                        cols[k] = cols[up];
                        cols[up] = j;
                        up += 1;
                    }
                }
                for k in low..up {
                    if y[cols[k]] == NONE {
                        break 'search cols[k];
                    }
                }
            }
            let j1 = cols[low];
            low += 1;
            let i = y[j1];
            let row = c(i);
            let h = row[j1] - v[j1] - min;
            let mut k = up;
            while k < n {
                let j = cols[k];
                let v2 = row[j] - v[j] - h;
                if v2 < d[j] {
                    pred[j] = i;
                    if v2 == min {
                        if y[j] == NONE {
                            break 'search j;
                        }
                        cols[k] = cols[up];
                        cols[up] = j;
                        up += 1;
                    }
                    d[j] = v2;
                }
                k += 1;
            }
        };
        // Columns made ready before the last refill move their price by how much closer they
        // are than the path's end.
        for &j in &cols[..last] {
            v[j] += d[j] - min;
        }
        let mut j = end;
        loop {
            let i = pred[j];
            y[j] = i;
            let prev = x[i];
            x[i] = j;
            if i == start {
                break;
            }
            j = prev;
        }
    }
    // Duals in this module's convention: u_r + v_c <= cost, v_c <= 0.
    let shift = v.iter().copied().max().unwrap_or(0);
    let col_potential: Vec<i64> = v.iter().map(|&vj| vj - shift).collect();
    let row_potential: Vec<i64> = (0..n).map(|i| c(i)[x[i]] - col_potential[x[i]]).collect();
    let cost = (0..n).map(|i| c(i)[x[i]] as i128).sum();
    Ok(Assignment {
        cost,
        col_of_row: x.into_iter().map(Some).collect(),
        row_potential,
        col_potential,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracle;
    use proptest::prelude::*;

    /// `stop` is asked before each row's path, on both algorithms (and before the square
    /// one's reductions): told to stop, the solve ends `Stopped`; never told to, it answers
    /// as `solve_assignment`.
    #[test]
    fn a_solve_stops_when_asked() {
        let n = 40;
        let cost: Vec<i64> = (0..n * n).map(|k| ((k * 7919) % 97) as i64).collect();
        let square = AssignmentProblem::dense(n, n, cost.clone());
        let mut sparse = AssignmentProblem::dense(n, n, cost);
        sparse.cost[1] = FORBIDDEN;
        for p in [square, sparse] {
            assert_eq!(
                solve_assignment_until(&p, &|| true).map(|a| a.cost),
                Err(AssignmentError::Stopped),
                "{:?}",
                method(&p)
            );
            assert_eq!(
                solve_assignment_until(&p, &|| false).map(|a| a.cost),
                solve_assignment(&p).map(|a| a.cost)
            );
        }
    }

    #[test]
    fn a_small_square_problem_by_hand() {
        let p = AssignmentProblem::dense(3, 3, vec![4, 1, 3, 2, 0, 5, 3, 2, 2]);
        assert_eq!(method(&p), Method::Lapjv);
        let a = solve_assignment(&p).unwrap();
        assert_eq!(a.cost, 5);
        assert_eq!(a.col_of_row, [Some(1), Some(0), Some(2)]);
        oracle::check_duals(&p, &a);
    }

    #[test]
    fn rectangular_problems_both_ways() {
        // Two rows, three columns: each row takes its cheapest free column.
        let wide = AssignmentProblem::dense(2, 3, vec![5, 1, 9, 6, 2, 3]);
        assert_eq!(method(&wide), Method::ShortestAugmentingPaths);
        let a = solve_assignment(&wide).unwrap();
        assert_eq!(
            (a.cost, a.col_of_row.as_slice()),
            (4, &[Some(1), Some(2)][..])
        );
        oracle::check_duals(&wide, &a);
        // Its transpose: one row is left over.
        let tall = AssignmentProblem::dense(3, 2, vec![5, 6, 1, 2, 9, 3]);
        let a = solve_assignment(&tall).unwrap();
        assert_eq!(
            (a.cost, a.col_of_row.as_slice()),
            (4, &[None, Some(0), Some(1)][..])
        );
        oracle::check_duals(&tall, &a);
    }

    #[test]
    fn a_matrix_beyond_usize_is_refused_before_it_is_allocated() {
        assert!(matches!(
            AssignmentProblem::sparse(usize::MAX / 2, 3),
            Err(InvalidAssignment::TooManyCells { .. })
        ));
        // A product within usize, but more bytes than an allocation may have.
        assert!(matches!(
            AssignmentProblem::sparse(1 << 31, 1 << 31),
            Err(InvalidAssignment::TooManyCells { .. })
        ));
        assert_eq!(AssignmentProblem::sparse(0, 5).unwrap().cost.len(), 0);
    }

    #[test]
    fn sparse_problems_keep_the_cheapest_parallel_pair() {
        let mut p = AssignmentProblem::sparse(2, 2).unwrap();
        p.add(0, 0, 7);
        p.add(0, 0, 4);
        p.add(1, 1, 1);
        assert_eq!(method(&p), Method::ShortestAugmentingPaths);
        let a = solve_assignment(&p).unwrap();
        assert_eq!(
            (a.cost, a.col_of_row.as_slice()),
            (5, &[Some(0), Some(1)][..])
        );
    }

    #[test]
    fn errors_name_the_fault() {
        // Both rows can only use column 0: the second cannot be assigned.
        let mut p = AssignmentProblem::sparse(2, 2).unwrap();
        p.add(0, 0, 1);
        p.add(1, 0, 1);
        assert_eq!(solve_assignment(&p), Err(AssignmentError::Infeasible(1)));
        let p = AssignmentProblem::dense(2, 2, vec![1, 2, 3]);
        assert_eq!(
            solve_assignment(&p),
            Err(AssignmentError::Invalid(InvalidAssignment::MatrixSize {
                rows: 2,
                cols: 2,
                len: 3
            }))
        );
        let p = AssignmentProblem::dense(2, 2, vec![i64::MAX / 4, 0, 0, 0]);
        let Err(AssignmentError::Invalid(e @ InvalidAssignment::CostsTooLarge { .. })) =
            solve_assignment(&p)
        else {
            panic!("not refused")
        };
        assert_eq!(
            e.to_string(),
            format!(
                "costs too large for exact path lengths: the largest |cost| is {}, at most {} with 2 rows",
                i64::MAX / 4,
                (i64::MAX / 4) / 8
            )
        );
        // Dimensions whose product leaves usize: refused (this was an overflow panic in debug).
        let p = AssignmentProblem::dense(usize::MAX / 2, 3, vec![1]);
        assert_eq!(
            solve_assignment(&p),
            Err(AssignmentError::Invalid(InvalidAssignment::MatrixSize {
                rows: usize::MAX / 2,
                cols: 3,
                len: 1
            }))
        );
    }

    #[test]
    fn empty_and_single_cell_problems() {
        let a = solve_assignment(&AssignmentProblem::dense(0, 3, Vec::new())).unwrap();
        assert_eq!((a.cost, a.col_of_row.len()), (0, 0));
        let p = AssignmentProblem::dense(1, 1, vec![-3]);
        assert_eq!(method(&p), Method::ShortestAugmentingPaths);
        assert_eq!(solve_assignment(&p).unwrap().cost, -3);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        /// Against enumeration of every assignment, with duals that certify the optimum;
        /// complete square problems go through LAPJV, the others through shortest paths.
        #[test]
        fn agrees_with_brute_force(p in oracle::assignment_problem()) {
            match (oracle::brute_force_assignment(&p), solve_assignment(&p)) {
                (Some(c), Ok(a)) => {
                    prop_assert_eq!(a.cost, c);
                    oracle::check_duals(&p, &a);
                }
                (None, Err(AssignmentError::Infeasible(_))) => {}
                (want, got) => prop_assert!(false, "expected {:?}, got {:?}", want, got),
            }
        }
    }
}
