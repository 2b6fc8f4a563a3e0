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

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssignmentError {
    #[error("infeasible: row {0} cannot be assigned")]
    Infeasible(usize),
    #[error("invalid assignment problem: {0}")]
    Invalid(String),
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

    /// Every pair forbidden until [`AssignmentProblem::add`] allows it.
    pub fn sparse(rows: usize, cols: usize) -> Self {
        AssignmentProblem {
            rows,
            cols,
            cost: vec![FORBIDDEN; rows * cols],
        }
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
    if p.cost.len() != p.rows * p.cols {
        return Err(AssignmentError::Invalid("cost matrix size".into()));
    }
    if p.rows > p.cols {
        // Match every column instead, then read the answer back by row.
        let t = solve_rows(&p.transposed())?;
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
    solve_rows(p)
}

/// Every row gets a column (`rows <= cols`); with a transposed problem the error's row is a
/// column of the original.
fn solve_rows(p: &AssignmentProblem) -> Result<Assignment, AssignmentError> {
    let (n, m) = (p.rows, p.cols);
    let max = p
        .cost
        .iter()
        .filter(|&&c| c != FORBIDDEN)
        .map(|c| c.unsigned_abs())
        .max()
        .unwrap_or(0);
    // Path lengths stay below (n + 1) * 2 * max; keep them far from overflow.
    if (max as u128) * 2 * (n as u128 + 2) > (i64::MAX / 4) as u128 {
        return Err(AssignmentError::Invalid("costs too large".into()));
    }
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
