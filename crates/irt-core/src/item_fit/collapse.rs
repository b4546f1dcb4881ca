//! S-X2's tables and their collapsing, as mirt 1.46.1's `collapseCells` (mincell 1) does it,
//! step for step and quirk for quirk, and the statistic over what is left.

use statrs::distribution::{ChiSquared, ContinuousCDF};

use crate::alloc;
use crate::error::Result;
use crate::model::MAX_CATEGORIES;

/// mirt merges a cell (or a row holding one) with an expected count below this.
const MIN_EXPECTED: f64 = 1.0;
/// … and the last category's column while its expected total is below MIN_EXPECTED times this
/// share of the rows, rounded up.
const LAST_COLUMN_ROWS: f64 = 0.1;
/// A category with expected answers in fewer than this share of the rows is merged into the one
/// below it.
const RARE_COLUMN_SHARE: f64 = 0.05;

/// One summed score's persons among those who answered an item, by their answer's category
/// (the table's first `categories` entries; the others 0).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoreRow {
    /// The summed score; after collapsing, that of the row the others were merged into.
    pub score: usize,
    pub observed: [f64; MAX_CATEGORIES],
    /// NaN where no answer in the category gives the score (an item in categories at either
    /// end of the range; mirt's NA) and, collapsed, where nothing is left to compare.
    pub expected: [f64; MAX_CATEGORIES],
}

impl ScoreRow {
    /// A row of `categories` cells, NaN where `possible` says no answer gives the score.
    pub(super) fn empty(score: usize, categories: usize, possible: impl Fn(usize) -> bool) -> Self {
        let mut expected = [0.0; MAX_CATEGORIES];
        for (k, e) in expected[..categories].iter_mut().enumerate() {
            if !possible(k) {
                *e = f64::NAN;
            }
        }
        Self {
            score,
            observed: [0.0; MAX_CATEGORIES],
            expected,
        }
    }

    fn persons(&self) -> f64 {
        self.observed.iter().sum()
    }

    fn absorb(&mut self, other: &ScoreRow) {
        for k in 0..MAX_CATEGORIES {
            self.observed[k] += other.observed[k];
            self.expected[k] += other.expected[k];
        }
    }

    /// Category `from`'s cells added into category `into`'s and emptied.
    fn merge_column(&mut self, from: usize, into: usize) {
        self.observed[into] += self.observed[from];
        self.expected[into] += self.expected[from];
        self.observed[from] = 0.0;
        self.expected[from] = 0.0;
    }
}

/// One item's S-X2 table, a row per summed score from 1 to its longest form's highest − 1.
#[derive(Clone, Debug, PartialEq)]
pub struct ScoreTable {
    /// Columns: the item's categories (2 for right/wrong), fewer once collapsed.
    pub categories: usize,
    pub rows: Vec<ScoreRow>,
    /// A score observed among the item's persons had likelihood 0 at every node (underflow):
    /// its expected answers are unknown, and S-X2 is not computed.
    pub underflow: bool,
}

impl ScoreTable {
    /// mirt's `collapseCells` with mincell 1:
    /// 1. rows where some category cannot give the score (an item in categories near either
    ///    end) are folded into the nearest complete row, the lower half of them upwards and the
    ///    upper half downwards; rows without persons dropped;
    /// 2. from the lowest score up, a row of one person merged into the next (the last into the
    ///    one before);
    /// 3. with three or more categories: in each row that had an expected cell below 1 before
    ///    step 2 (mirt marks the rows then and reads the marks by position after it), the
    ///    smallest cell (the last of equals) merged into its smaller neighbour (the lower on a
    ///    tie), again until every cell is ≥ 1 or two are left, the survivors moved to the
    ///    front; then the last category merged into the one before while its expected total
    ///    is below ⌈0.1 rows⌉;
    /// 4. a category with expected answers in fewer than 5 % of the rows merged into the one
    ///    below, from the highest down;
    /// 5. until no expected cell lies in (0, 1), the lowest row with such a cell merged into a
    ///    neighbour: the first into the second, the last into the one before, any other into
    ///    the neighbour with fewer persons (the lower one on a tie);
    /// 6. cells with expected 0 are left out (NaN).
    pub fn collapsed(&self) -> Result<ScoreTable> {
        let mut rows: Vec<ScoreRow> = alloc::collect(self.rows.iter().copied(), "the S-X2 tables")?;
        let mut categories = self.categories;
        fold_incomplete_rows(&mut rows, categories);
        rows.retain(|r| r.persons() > 0.0);
        let marked = alloc::collect(
            rows.iter()
                .map(|r| r.expected[..categories].iter().any(|&e| e < MIN_EXPECTED)),
            "the S-X2 tables",
        )?;
        merge_single_persons(&mut rows);
        if categories > 2 {
            for (row, _) in rows.iter_mut().zip(&marked).filter(|(_, &m)| m) {
                merge_within(row, categories);
            }
            while categories > 2 {
                let last = categories - 1;
                let total: f64 = rows.iter().map(|r| r.expected[last]).sum();
                if total >= MIN_EXPECTED * (rows.len() as f64 * LAST_COLUMN_ROWS).ceil() {
                    break;
                }
                rows.iter_mut().for_each(|r| r.merge_column(last, last - 1));
                categories -= 1;
            }
        }
        categories = merge_rare_columns(&mut rows, categories);
        merge_sparse_rows(&mut rows, categories);
        for e in rows.iter_mut().flat_map(|r| &mut r.expected[..categories]) {
            if *e == 0.0 {
                *e = f64::NAN;
            }
        }
        Ok(ScoreTable {
            categories,
            rows,
            underflow: self.underflow,
        })
    }

    /// The cells compared: those with an expected count.
    fn cells(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        self.rows.iter().flat_map(move |r| {
            r.observed[..self.categories]
                .iter()
                .zip(&r.expected[..self.categories])
                .filter(|(_, e)| !e.is_nan())
                .map(|(&o, &e)| (o, e))
        })
    }

    /// Σ (O − E)² / E over the cells with an expected count.
    pub fn statistic(&self) -> f64 {
        self.cells().map(|(o, e)| (o - e).powi(2) / e).sum()
    }
}

/// Step 1: rows with an impossible cell (NaN) folded into the nearest complete row, mirt's
/// lower half of them up and upper half down; every NaN then 0. Nothing is left when no
/// complete row lies between the halves.
fn fold_incomplete_rows(rows: &mut Vec<ScoreRow>, categories: usize) {
    let incomplete = |r: &ScoreRow| r.expected[..categories].iter().any(|e| e.is_nan());
    // The position of the n-th incomplete row.
    let nth = |rows: &[ScoreRow], n: usize| {
        rows.iter()
            .enumerate()
            .filter(|(_, r)| incomplete(r))
            .nth(n)
            .map(|(at, _)| at)
    };
    let count = rows.iter().filter(|r| incomplete(r)).count();
    let half = count / 2;
    let bounds = (half > 0).then(|| {
        (
            nth(rows, 0),
            nth(rows, half - 1),
            nth(rows, half),
            nth(rows, count - 1),
        )
    });
    for e in rows.iter_mut().flat_map(|r| &mut r.expected[..categories]) {
        if e.is_nan() {
            *e = 0.0;
        }
    }
    if count == 0 {
        return;
    }
    let Some((Some(first), Some(up_end), Some(low_start), Some(last))) = bounds else {
        rows.clear();
        return;
    };
    if up_end + 1 >= low_start {
        rows.clear();
        return;
    }
    for r in first..=up_end {
        let row = rows[r];
        rows[up_end + 1].absorb(&row);
    }
    for r in low_start..=last {
        let row = rows[r];
        rows[low_start - 1].absorb(&row);
    }
    rows.drain(low_start..=last);
    rows.drain(first..=up_end);
}

/// Step 2: a row of one person merged into the next, from the lowest score up; the last into
/// the one before.
fn merge_single_persons(rows: &mut Vec<ScoreRow>) {
    let mut k = 0;
    while k + 1 < rows.len() {
        if rows[k].persons() == 1.0 {
            let row = rows.remove(k);
            rows[k].absorb(&row);
        } else {
            k += 1;
        }
    }
    if rows.len() > 1 && rows[rows.len() - 1].persons() == 1.0 {
        let row = rows.pop().expect("two rows");
        rows.last_mut().expect("one row").absorb(&row);
    }
}

/// Step 3 within one row: the smallest expected cell into its smaller neighbour until every
/// cell is ≥ 1 (at least one merge) or two are left; the survivors moved to the front.
fn merge_within(row: &mut ScoreRow, categories: usize) {
    let mut expected = row.expected[..categories].to_vec();
    let mut observed = row.observed[..categories].to_vec();
    while expected.len() > 2 {
        let smallest = expected.iter().copied().fold(f64::INFINITY, f64::min);
        let at = expected
            .iter()
            .rposition(|&e| e == smallest)
            .expect("a smallest cell");
        let into = if at == 0 {
            1
        } else if at == expected.len() - 1 || expected[at - 1] <= expected[at + 1] {
            at - 1
        } else {
            at + 1
        };
        expected[into] += expected[at];
        observed[into] += observed[at];
        expected.remove(at);
        observed.remove(at);
        if expected.iter().all(|&e| e >= MIN_EXPECTED) {
            break;
        }
    }
    row.expected = [0.0; MAX_CATEGORIES];
    row.observed = [0.0; MAX_CATEGORIES];
    row.expected[..expected.len()].copy_from_slice(&expected);
    row.observed[..observed.len()].copy_from_slice(&observed);
}

/// Step 4: a category with expected answers in fewer than 5 % of the rows merged into the one
/// below, from the highest down; returns the categories left.
fn merge_rare_columns(rows: &mut [ScoreRow], categories: usize) -> usize {
    if rows.is_empty() {
        return categories;
    }
    let mut kept = [true; MAX_CATEGORIES];
    for k in (1..categories).rev() {
        let with = rows.iter().filter(|r| r.expected[k] > 0.0).count();
        if (with as f64) < RARE_COLUMN_SHARE * rows.len() as f64 {
            kept[k] = false;
            rows.iter_mut().for_each(|r| r.merge_column(k, k - 1));
        }
    }
    let left: Vec<usize> = (0..categories).filter(|&k| kept[k]).collect();
    for row in rows.iter_mut() {
        let (observed, expected) = (row.observed, row.expected);
        row.observed = [0.0; MAX_CATEGORIES];
        row.expected = [0.0; MAX_CATEGORIES];
        for (to, &from) in left.iter().enumerate() {
            row.observed[to] = observed[from];
            row.expected[to] = expected[from];
        }
    }
    left.len()
}

/// Step 5: the lowest row with an expected cell in (0, 1) merged into a neighbour, until none.
fn merge_sparse_rows(rows: &mut Vec<ScoreRow>, categories: usize) {
    while rows.len() > 1 {
        let sparse = |r: &ScoreRow| {
            r.expected[..categories]
                .iter()
                .any(|&e| e > 0.0 && e < MIN_EXPECTED)
        };
        let Some(k) = rows.iter().position(sparse) else {
            break;
        };
        let into = if k == 0 {
            1
        } else if k == rows.len() - 1 || rows[k - 1].persons() <= rows[k + 1].persons() {
            k - 1
        } else {
            k + 1
        };
        let row = rows.remove(k);
        rows[if into > k { k } else { into }].absorb(&row);
    }
}

/// S-X2's summary for one item.
#[derive(Default)]
pub(super) struct SX2 {
    pub(super) statistic: Option<f64>,
    pub(super) df: Option<u32>,
    pub(super) p: Option<f64>,
    pub(super) rmsea: Option<f64>,
}

impl SX2 {
    /// From the item's table, the parameters estimated for it as mirt counts them (its own and
    /// one every item shares) and the persons who answered it.
    pub(super) fn of(table: &ScoreTable, estimated: usize, persons: f64) -> Result<Self> {
        if persons == 0.0 {
            return Ok(Self::default());
        }
        let collapsed = table.collapsed()?;
        // mirt's table has no dimensions left (NA) with fewer than two rows or categories.
        let df = if collapsed.rows.len() < 2 || collapsed.categories < 2 {
            None
        } else {
            (collapsed.cells().count())
                .checked_sub(collapsed.rows.len() + estimated)
                .filter(|&df| df > 0)
        };
        let Some(df) = df else {
            return Ok(Self {
                df: Some(0),
                ..Self::default()
            });
        };
        let df = df as u32;
        let x2 = collapsed.statistic();
        if table.underflow || !x2.is_finite() {
            return Ok(Self {
                df: Some(df),
                ..Self::default()
            });
        }
        let chi2 = ChiSquared::new(f64::from(df)).expect("a positive df");
        let per_df = x2 / f64::from(df);
        Ok(Self {
            statistic: Some(x2),
            df: Some(df),
            p: Some(chi2.sf(x2)),
            rmsea: Some(if per_df > 1.0 {
                ((per_df - 1.0) / (persons - 1.0)).sqrt()
            } else {
                0.0
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An item in four categories alone in its form: at scores 1 and 2 only one category each
    /// is possible, so no complete row lies between the ends, and nothing is left to test.
    #[test]
    fn a_table_without_a_complete_row_collapses_to_nothing() {
        let mut rows = vec![
            ScoreRow::empty(1, 4, |k| k == 1),
            ScoreRow::empty(2, 4, |k| k == 2),
        ];
        for (row, k) in rows.iter_mut().zip([1, 2]) {
            row.observed[k] = 5.0;
            row.expected[k] = 5.0;
        }
        let table = ScoreTable {
            categories: 4,
            rows,
            underflow: false,
        };
        assert!(table.collapsed().unwrap().rows.is_empty());
        let s_x2 = SX2::of(&table, 4, 10.0).unwrap();
        assert_eq!((s_x2.statistic, s_x2.df), (None, Some(0)));
    }
}
