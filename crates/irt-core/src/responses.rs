//! Sparse answers, held compactly: compressed rows by person, a u32 item index and one byte per
//! answer. An unanswered item is simply absent; no person × item matrix is ever formed.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::alloc;
use crate::error::{CoreError, Result};
use crate::model::{ItemParams, MAX_CATEGORIES};
use crate::quadrature::Latent;

#[derive(Clone, Debug, Default)]
pub struct Responses {
    n_items: usize,
    /// Answers of person i are `offsets[i]..offsets[i + 1]`.
    offsets: Vec<usize>,
    items: Vec<u32>,
    correct: Vec<u8>,
    /// The largest answer: below 2, every answer fits every item.
    max_answer: u8,
    /// The persons grouped by the items they answered, on first use: the fit, the scoring and
    /// the item fit all ask for them.
    sets: OnceLock<ItemSets>,
    /// Each person's group of a multiple-group calibration, 0 the reference group (empty:
    /// everyone in group 0).
    groups: Vec<u16>,
    n_groups: usize,
}

/// One answer as read from the database, before repeats are resolved: 16 bytes, the largest
/// thing held per answer while a window is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attempt {
    pub person: u32,
    pub item: u32,
    /// The time stamp with the answer in its lowest four bits, so that ordering by it orders
    /// by time and breaks ties by the answer.
    order: i64,
}

/// Bits of [`Attempt::order`] that hold the answer: categories 0 … 15 fit, 0 … 9 are used.
const ANSWER_BITS: u32 = 4;

impl Attempt {
    /// `time` is any monotone time stamp, e.g. microseconds since an epoch; stamps beyond
    /// ±2⁵⁹ (past any calendar date: 18,000 years in microseconds) are clamped. `answer` is
    /// below [`MAX_CATEGORIES`].
    pub fn new(person: u32, item: u32, time: i64, answer: u8) -> Self {
        debug_assert!(usize::from(answer) < MAX_CATEGORIES);
        let time = time.clamp(i64::MIN >> ANSWER_BITS, i64::MAX >> ANSWER_BITS);
        Self {
            person,
            item,
            order: (time << ANSWER_BITS) | i64::from(answer),
        }
    }

    pub fn answer(&self) -> u8 {
        (self.order & ((1 << ANSWER_BITS) - 1)) as u8
    }
}

/// Buckets of attempts by person: grouping them by person sorts many small buckets in parallel
/// from the start, each in cache, instead of one large array.
const BUCKETS: usize = 64;

/// Attempts as read, before repeats are resolved, in buckets by person (person mod 64).
pub struct Attempts {
    buckets: Vec<Vec<Attempt>>,
}

impl Default for Attempts {
    fn default() -> Self {
        Self {
            buckets: (0..BUCKETS).map(|_| Vec::new()).collect(),
        }
    }
}

impl Attempts {
    pub fn push(&mut self, attempt: Attempt) -> Result<()> {
        let bucket = &mut self.buckets[attempt.person as usize % BUCKETS];
        alloc::grow(bucket, 1, "the answers read")?;
        bucket.push(attempt);
        Ok(())
    }
}

/// Sorts one bucket by person and item and keeps one attempt per person and item (the earliest,
/// or the latest with `keep_latest`), packed at the front; returns where each of the bucket's
/// persons' kept attempts end (person `BUCKETS * k + b` is the k-th). In place by person first
/// (each attempt swapped straight to its person's run, counted before), then each person's
/// short run by item: two passes and many small sorts in cache, where one sort of the whole
/// bucket compared every attempt about log₂ n times.
fn sort_bucket(
    bucket: &mut Vec<Attempt>,
    n_persons: usize,
    keep_latest: bool,
) -> Result<Vec<usize>> {
    let local = |a: &Attempt| a.person as usize / BUCKETS;
    let mut next = alloc::filled(n_persons.div_ceil(BUCKETS) + 1, 0usize, "the answers read")?;
    for a in bucket.iter() {
        if a.person as usize >= n_persons {
            return Err(CoreError::InvalidSetting {
                field: "persons",
                reason: format!("person index {} is out of range", a.person),
            });
        }
        next[local(a) + 1] += 1;
    }
    for k in 1..next.len() {
        next[k] += next[k - 1];
    }
    // Person k's run is ends[k - 1]..ends[k]; next[k] is its first place not yet filled.
    let mut ends = alloc::collect(next[1..].iter().copied(), "the answers read")?;
    for k in 0..ends.len() {
        while next[k] < ends[k] {
            let mut a = bucket[next[k]];
            while local(&a) != k {
                let to = &mut next[local(&a)];
                std::mem::swap(&mut a, &mut bucket[*to]);
                *to += 1;
            }
            bucket[next[k]] = a;
            next[k] += 1;
        }
    }
    // The kept attempts are written behind the ones still to be read.
    let (mut start, mut kept) = (0, 0);
    for end in ends.iter_mut() {
        bucket[start..*end].sort_unstable_by_key(|a| a.item);
        let mut at = start;
        while at < *end {
            let mut pick = bucket[at];
            at += 1;
            while at < *end && bucket[at].item == pick.item {
                let a = bucket[at];
                let better = if keep_latest {
                    a.order > pick.order
                } else {
                    a.order < pick.order
                };
                if better {
                    pick = a;
                }
                at += 1;
            }
            bucket[kept] = pick;
            kept += 1;
        }
        (start, *end) = (*end, kept);
    }
    bucket.truncate(kept);
    Ok(ends)
}

/// How many answered an item, and how many of them rightly (the sum of the answers), and in
/// each category.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Tally {
    pub n: u64,
    pub n_correct: u64,
    pub by_answer: [u64; MAX_CATEGORIES],
}

impl Tally {
    /// The one answer every answer is, if there is one.
    pub fn constant(&self) -> Option<u8> {
        let mut reached = (0..MAX_CATEGORIES as u8).filter(|&x| self.by_answer[usize::from(x)] > 0);
        match (reached.next(), reached.next()) {
            (Some(x), None) => Some(x),
            _ => None,
        }
    }
}

/// Per-item classical statistics, used for start values.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ItemStats {
    pub n: u64,
    /// The sum of the answers: the number right of a right/wrong item.
    pub n_correct: u64,
    /// Answers in each category below [`MAX_CATEGORIES`].
    pub by_answer: [u64; MAX_CATEGORIES],
    /// The largest answer.
    pub max_answer: u8,
    /// Point-biserial correlation of the item with the person's proportion correct on the
    /// other items they answered (of an item in categories, the correlation of its score with
    /// the mean score on the others); 0 when it cannot be computed.
    pub point_biserial: f64,
}

impl ItemStats {
    pub fn p_value(&self) -> f64 {
        self.n_correct as f64 / self.n as f64
    }
}

impl Responses {
    /// Starts an empty set for `n_items` items; add persons in order with [`Self::push_person`].
    pub fn with_items(n_items: usize) -> Self {
        Self {
            n_items,
            offsets: vec![0],
            ..Self::default()
        }
    }

    /// Puts person i in group `of_person[i]`, once every person is in: group 0 is the
    /// reference group, and every group from 0 to the largest must have persons (a group
    /// without any has no latent distribution to estimate).
    pub fn set_groups(&mut self, of_person: Vec<u16>) -> Result<()> {
        if of_person.len() != self.n_persons() {
            return Err(CoreError::InvalidArgument {
                message: format!(
                    "a group per person is needed: {} persons, {} groups given",
                    self.n_persons(),
                    of_person.len()
                ),
            });
        }
        let n_groups = of_person
            .iter()
            .map(|&g| usize::from(g) + 1)
            .max()
            .unwrap_or(1);
        let mut sizes = alloc::filled(n_groups, 0usize, "the groups")?;
        for &g in &of_person {
            sizes[usize::from(g)] += 1;
        }
        if let Some(empty) = sizes.iter().position(|&n| n == 0) {
            return Err(CoreError::InvalidArgument {
                message: format!("group {empty} has no persons"),
            });
        }
        self.groups = of_person;
        self.n_groups = n_groups;
        self.sets = OnceLock::new();
        Ok(())
    }

    /// Person i's group (0 without groups).
    #[inline(always)]
    pub fn group(&self, i: usize) -> usize {
        self.groups.get(i).map_or(0, |&g| usize::from(g))
    }

    /// Refuses latent distributions that are not one per group, each with a finite mean and a
    /// finite positive variance.
    pub fn check_latents(&self, latents: &[Latent]) -> Result<()> {
        if latents.len() != self.n_groups() {
            return Err(CoreError::InvalidArgument {
                message: format!(
                    "a latent distribution per group is needed: {} groups, {} given",
                    self.n_groups(),
                    latents.len()
                ),
            });
        }
        if latents
            .iter()
            .any(|l| !(l.mean.is_finite() && l.variance.is_finite() && l.variance > 0.0))
        {
            return Err(CoreError::NonFinite {
                what: "latent distribution",
            });
        }
        Ok(())
    }

    /// The number of groups: 1 without groups.
    pub fn n_groups(&self) -> usize {
        self.n_groups.max(1)
    }

    /// These answers with the items of `apart` answered apart in each group: the reference
    /// group keeps item j, group g > 0 answers its copy, numbered from the data's items on, item
    /// after item and group after group (apart[k]'s copy for group g is
    /// `n_items + k·(groups − 1) + g − 1`). The same persons in the same groups; returns the
    /// answers and the data's item behind each of their items.
    pub fn apart_by_group(&self, apart: &[usize]) -> Result<(Self, Vec<usize>)> {
        let extra = self.n_groups() - 1;
        let mut copy_of = alloc::filled(self.n_items, None, "the items apart by group")?;
        for (k, &j) in apart.iter().enumerate() {
            *copy_of.get_mut(j).ok_or(CoreError::ItemOutOfRange {
                item: j,
                n_items: self.n_items,
            })? = Some(k);
        }
        let mut origin = alloc::with_capacity(
            self.n_items + apart.len() * extra,
            "the items apart by group",
        )?;
        origin.extend(0..self.n_items);
        origin.extend(apart.iter().flat_map(|&j| std::iter::repeat_n(j, extra)));
        let mut offsets = alloc::with_capacity(self.n_persons() + 1, "the items apart by group")?;
        let mut items = alloc::with_capacity(self.items.len(), "the items apart by group")?;
        let mut correct = alloc::with_capacity(self.items.len(), "the items apart by group")?;
        let mut person: Vec<(u32, u8)> = Vec::new();
        offsets.push(0);
        for i in 0..self.n_persons() {
            let g = self.group(i);
            let (answered, answers) = self.person(i);
            person.clear();
            person.extend(
                answered
                    .iter()
                    .zip(answers)
                    .map(|(&j, &x)| match copy_of[j as usize] {
                        Some(k) if g > 0 => ((self.n_items + k * extra + g - 1) as u32, x),
                        _ => (j, x),
                    }),
            );
            person.sort_unstable_by_key(|&(j, _)| j);
            items.extend(person.iter().map(|&(j, _)| j));
            correct.extend(person.iter().map(|&(_, x)| x));
            offsets.push(items.len());
        }
        let mut out = Self::from_parts(origin.len(), offsets, items, correct)?;
        if !self.groups.is_empty() {
            out.set_groups(self.groups.clone())?;
        }
        Ok((out, origin))
    }

    /// The persons of `groups` (group `groups[k]` becomes group k) and the items they answered:
    /// a comparison of some of the groups. Returns the answers and the data's item behind each
    /// of their items.
    pub fn of_groups(&self, groups: &[usize]) -> Result<(Self, Vec<usize>)> {
        let mut new_group = alloc::filled(self.n_groups(), None, "the groups compared")?;
        for (k, &g) in groups.iter().enumerate() {
            new_group[g] = Some(k as u16);
        }
        let mut answered = alloc::filled(self.n_items, false, "the groups compared")?;
        let mut of_person = alloc::with_capacity(self.n_persons(), "the groups compared")?;
        let mut offsets = alloc::with_capacity(self.n_persons() + 1, "the groups compared")?;
        offsets.push(0);
        let (mut items, mut correct) = (Vec::new(), Vec::new());
        for i in 0..self.n_persons() {
            let Some(g) = new_group[self.group(i)] else {
                continue;
            };
            let (answered_by_i, answers) = self.person(i);
            alloc::grow(&mut items, answered_by_i.len(), "the groups compared")?;
            alloc::grow(&mut correct, answered_by_i.len(), "the groups compared")?;
            for &j in answered_by_i {
                answered[j as usize] = true;
            }
            items.extend_from_slice(answered_by_i);
            correct.extend_from_slice(answers);
            offsets.push(items.len());
            of_person.push(g);
        }
        let mut new_index = alloc::filled(self.n_items, None, "the groups compared")?;
        let mut origin = alloc::with_capacity(self.n_items, "the groups compared")?;
        for (j, _) in answered.iter().enumerate().filter(|(_, &a)| a) {
            new_index[j] = Some(origin.len() as u32);
            origin.push(j);
        }
        for j in &mut items {
            *j = new_index[*j as usize].expect("an answered item is kept");
        }
        let mut out = Self::from_parts(origin.len(), offsets, items, correct)?;
        out.set_groups(of_person)?;
        Ok((out, origin))
    }

    /// Adds the next person's answers as (item index, correct) pairs.
    pub fn push_person(&mut self, answers: impl IntoIterator<Item = (u32, bool)>) -> Result<()> {
        self.push_scored_person(answers.into_iter().map(|(j, x)| (j, u8::from(x))))
    }

    /// Adds the next person's answers as (item index, category) pairs: 0 or 1 for a right/wrong
    /// item, 0 … K−1 for an item in K categories.
    pub fn push_scored_person(
        &mut self,
        answers: impl IntoIterator<Item = (u32, u8)>,
    ) -> Result<()> {
        self.sets = OnceLock::new();
        for (item, correct) in answers {
            if item as usize >= self.n_items {
                return Err(CoreError::ItemOutOfRange {
                    item: item as usize,
                    n_items: self.n_items,
                });
            }
            self.items.push(item);
            self.correct.push(correct);
            self.max_answer = self.max_answer.max(correct);
        }
        self.offsets.push(self.items.len());
        Ok(())
    }

    /// Builds from compressed rows: person i's answers are `offsets[i]..offsets[i + 1]` of
    /// `items` and `correct`.
    pub fn from_parts(
        n_items: usize,
        offsets: Vec<usize>,
        items: Vec<u32>,
        correct: Vec<u8>,
    ) -> Result<Self> {
        let valid_offsets = offsets.first() == Some(&0)
            && offsets.last() == Some(&items.len())
            && offsets.windows(2).all(|w| w[0] <= w[1])
            && items.len() == correct.len();
        if !valid_offsets {
            return Err(CoreError::InvalidSetting {
                field: "offsets",
                reason: "offsets must rise from 0 to the number of answers".into(),
            });
        }
        if let Some(&item) = items.iter().find(|&&j| j as usize >= n_items) {
            return Err(CoreError::ItemOutOfRange {
                item: item as usize,
                n_items,
            });
        }
        Ok(Self {
            n_items,
            offsets,
            items,
            max_answer: correct.iter().copied().max().unwrap_or(0),
            correct,
            sets: OnceLock::new(),
            groups: Vec::new(),
            n_groups: 1,
        })
    }

    /// Builds from attempts in any order, keeping one per person and item: the earliest, or
    /// the latest with `keep_latest`; ties in time are broken by `correct`, so the choice never
    /// depends on the input order. Sorting here, in parallel on `pool`, is several times
    /// faster than asking the database for sorted rows. Returns the set and the number of
    /// attempts dropped as repeats.
    pub fn from_attempts(
        n_persons: usize,
        n_items: usize,
        attempts: Attempts,
        keep_latest: bool,
        pool: &rayon::ThreadPool,
    ) -> Result<(Self, usize)> {
        use rayon::prelude::*;
        let mut buckets = attempts.buckets;
        let total: usize = buckets.iter().map(Vec::len).sum();
        let ends: Vec<Vec<usize>> = pool.install(|| {
            buckets
                .par_iter_mut()
                .map(|bucket| sort_bucket(bucket, n_persons, keep_latest))
                .collect::<Result<_>>()
        })?;
        // Person p's kept attempts are a run of bucket p mod BUCKETS.
        let run = |p: usize| {
            let (ends, k) = (&ends[p % BUCKETS], p / BUCKETS);
            (if k == 0 { 0 } else { ends[k - 1] })..ends[k]
        };
        let mut offsets = alloc::with_capacity(n_persons + 1, "the answers' person offsets")?;
        offsets.push(0);
        for p in 0..n_persons {
            offsets.push(offsets[p] + run(p).len());
        }
        let kept = offsets[n_persons];
        let mut items = alloc::filled(kept, 0u32, "the answers' items")?;
        let mut correct = alloc::filled(kept, 0u8, "the answers' outcomes")?;
        // Copied in parallel: as many ranges of persons as buckets, each into its own part of
        // the arrays.
        let (mut items_left, mut correct_left) = (&mut items[..], &mut correct[..]);
        let mut parts = Vec::with_capacity(BUCKETS);
        for r in 0..BUCKETS {
            let persons = r * n_persons / BUCKETS..(r + 1) * n_persons / BUCKETS;
            let len = offsets[persons.end] - offsets[persons.start];
            let (i, rest) = std::mem::take(&mut items_left).split_at_mut(len);
            items_left = rest;
            let (c, rest) = std::mem::take(&mut correct_left).split_at_mut(len);
            correct_left = rest;
            parts.push((persons, i, c));
        }
        pool.install(|| {
            parts.into_par_iter().for_each(|(persons, items, correct)| {
                let mut at = 0;
                for p in persons {
                    let attempts = &buckets[p % BUCKETS][run(p)];
                    for (k, a) in attempts.iter().enumerate() {
                        items[at + k] = a.item;
                        correct[at + k] = a.answer();
                    }
                    at += attempts.len();
                }
            })
        });
        let repeats = total - items.len();
        Ok((Self::from_parts(n_items, offsets, items, correct)?, repeats))
    }

    /// Every answer x to item j becomes `map(j, x)`.
    pub fn renumber_answers(&mut self, map: impl Fn(usize, u8) -> u8) {
        for (x, &j) in self.correct.iter_mut().zip(&self.items) {
            *x = map(j as usize, *x);
        }
        self.max_answer = self.correct.iter().copied().max().unwrap_or(0);
    }

    /// The answers to the items that `new_index` maps to an index among `n_kept` items; persons
    /// left without answers drop out. Returns the new set, without groups (a run numbers its
    /// groups after the exclusions), and the old index of every person in it.
    pub fn keep_items(
        &self,
        new_index: &[Option<u32>],
        n_kept: usize,
    ) -> Result<(Self, Vec<usize>)> {
        let kept_answers = self
            .items
            .iter()
            .filter(|&&j| new_index[j as usize].is_some())
            .count();
        let mut offsets = alloc::with_capacity(self.n_persons() + 1, "the kept answers")?;
        let mut items = alloc::with_capacity(kept_answers, "the kept answers")?;
        let mut correct = alloc::with_capacity(kept_answers, "the kept answers")?;
        let mut persons = alloc::with_capacity(self.n_persons(), "the kept persons")?;
        offsets.push(0);
        for i in 0..self.n_persons() {
            let (answered, outcomes) = self.person(i);
            let before = items.len();
            for (&j, &x) in answered.iter().zip(outcomes) {
                if let Some(k) = new_index[j as usize] {
                    items.push(k);
                    correct.push(x);
                }
            }
            if items.len() > before {
                offsets.push(items.len());
                persons.push(i);
            }
        }
        Ok((Self::from_parts(n_kept, offsets, items, correct)?, persons))
    }

    /// Builds from long-format triples (person, item, correct) in any order; persons and items
    /// are dense 0-based indices.
    pub fn from_triples(
        n_persons: usize,
        n_items: usize,
        triples: &[(u32, u32, bool)],
    ) -> Result<Self> {
        let mut order: Vec<usize> = (0..triples.len()).collect();
        order.sort_by_key(|&i| (triples[i].0, triples[i].1));
        let mut out = Self::with_items(n_items);
        out.items.reserve(triples.len());
        out.correct.reserve(triples.len());
        let mut next = 0;
        for person in 0..n_persons as u32 {
            let start = next;
            while next < order.len() && triples[order[next]].0 == person {
                next += 1;
            }
            out.push_person(
                order[start..next]
                    .iter()
                    .map(|&i| (triples[i].1, triples[i].2)),
            )?;
        }
        if next < order.len() {
            return Err(CoreError::InvalidSetting {
                field: "persons",
                reason: format!("person index {} is out of range", triples[order[next]].0),
            });
        }
        Ok(out)
    }

    pub fn n_persons(&self) -> usize {
        self.offsets.len() - 1
    }

    pub fn n_items(&self) -> usize {
        self.n_items
    }

    pub fn n_answers(&self) -> usize {
        self.items.len()
    }

    /// Every person's set of answered items (see [`ItemSets`]), grouped on the first call.
    pub(crate) fn item_sets(&self) -> Result<&ItemSets> {
        if let Some(sets) = self.sets.get() {
            return Ok(sets);
        }
        let sets = ItemSets::group(self)?;
        Ok(self.sets.get_or_init(|| sets))
    }

    /// The answers of person `i`: item indices and 0/1 bytes.
    pub fn person(&self, i: usize) -> (&[u32], &[u8]) {
        let range = self.offsets[i]..self.offsets[i + 1];
        (&self.items[range.clone()], &self.correct[range])
    }

    /// Bytes held, for memory reports.
    pub fn heap_bytes(&self) -> usize {
        self.offsets.capacity() * std::mem::size_of::<usize>()
            + self.items.capacity() * 4
            + self.correct.capacity()
    }

    /// How many answered each item, rightly and in each category: one pass of integer adds,
    /// for what needs no more than that (exclusions, categories, the anchors' answers).
    pub fn item_tallies(&self) -> Result<Vec<Tally>> {
        let mut tallies = alloc::filled(self.n_items, Tally::default(), "item tallies")?;
        for (&j, &x) in self.items.iter().zip(&self.correct) {
            let t = &mut tallies[j as usize];
            t.n += 1;
            t.n_correct += u64::from(x);
            if let Some(count) = t.by_answer.get_mut(usize::from(x)) {
                *count += 1;
            }
        }
        Ok(tallies)
    }

    pub fn item_stats(&self) -> Result<Vec<ItemStats>> {
        let mut stats = alloc::filled(self.n_items, ItemStats::default(), "item statistics")?;
        // Sums for the correlation of x_ij with the rest score proportion r_ij.
        // Per item over persons with other answers: Σr, Σr², Σxr, n, Σx, Σx².
        let mut sums = alloc::filled(self.n_items, [0.0f64; 6], "item statistics")?;
        for i in 0..self.n_persons() {
            let (items, correct) = self.person(i);
            let total: u32 = correct.iter().map(|&x| x as u32).sum();
            for (&j, &x) in items.iter().zip(correct) {
                let s = &mut stats[j as usize];
                s.n += 1;
                s.n_correct += x as u64;
                if let Some(count) = s.by_answer.get_mut(usize::from(x)) {
                    *count += 1;
                }
                s.max_answer = s.max_answer.max(x);
                if items.len() > 1 {
                    let rest = (total - x as u32) as f64 / (items.len() - 1) as f64;
                    let acc = &mut sums[j as usize];
                    acc[0] += rest;
                    acc[1] += rest * rest;
                    acc[2] += x as f64 * rest;
                    acc[3] += 1.0;
                    acc[4] += x as f64;
                    acc[5] += (x as f64).powi(2);
                }
            }
        }
        for (s, acc) in stats.iter_mut().zip(&sums) {
            let n = acc[3];
            if n < 2.0 {
                continue;
            }
            let cov = acc[2] / n - (acc[4] / n) * (acc[0] / n);
            // A right/wrong item's variance as p(1 − p) (the same number, kept to its bits).
            let var_x = if s.max_answer > 1 {
                acc[5] / n - (acc[4] / n).powi(2)
            } else {
                acc[4] / n * (1.0 - acc[4] / n)
            };
            let var_r = acc[1] / n - (acc[0] / n).powi(2);
            if var_x > 0.0 && var_r > 0.0 {
                s.point_biserial = cov / (var_x * var_r).sqrt();
            }
        }
        Ok(stats)
    }

    /// Every answer lies within its item's categories (a right/wrong item has 2): the E-step's
    /// tables hold no row for any other answer.
    pub fn check_answers(&self, items: &[ItemParams]) -> Result<()> {
        if self.max_answer < 2 {
            return Ok(());
        }
        let categories = |j: usize| {
            let item = items.get(j)?;
            item.steps().map(|_| item.categories())
        };
        check_categories(&self.item_stats()?, categories, false)
    }

    /// Every person answered something and no item is empty or constant.
    pub fn check(&self) -> Result<Vec<ItemStats>> {
        if self.n_answers() == 0 {
            return Err(CoreError::NoAnswers);
        }
        if let Some(person) =
            (0..self.n_persons()).find(|&i| self.offsets[i] == self.offsets[i + 1])
        {
            return Err(CoreError::EmptyPerson { person });
        }
        let stats = self.item_stats()?;
        for (item, s) in stats.iter().enumerate() {
            if s.n == 0 {
                return Err(CoreError::EmptyItem { item });
            }
            let distinct = s.by_answer.iter().filter(|&&c| c > 0).count()
                + usize::from(usize::from(s.max_answer) >= MAX_CATEGORIES);
            if distinct == 1 {
                return Err(CoreError::ConstantItem {
                    item,
                    all_correct: s.by_answer[0] == 0,
                });
            }
        }
        Ok(stats)
    }
}

/// The answers of every item fit its categories (`categories(j)`; None for a right/wrong item,
/// which has 2), and, where `all_answered` (a fit), every category of an item in categories
/// was answered: a category no one reached has no estimable threshold.
pub fn check_categories(
    stats: &[ItemStats],
    categories: impl Fn(usize) -> Option<usize>,
    all_answered: bool,
) -> Result<()> {
    for (item, s) in stats.iter().enumerate() {
        let k = categories(item);
        let limit = k.unwrap_or(2);
        if usize::from(s.max_answer) >= limit {
            return Err(CoreError::AnswerBeyondCategories {
                item,
                answer: s.max_answer,
                categories: limit,
            });
        }
        if let (Some(k), true) = (k, all_answered) {
            if let Some(category) = (0..k).find(|&x| s.by_answer[x] == 0) {
                return Err(CoreError::EmptyCategory {
                    item,
                    category,
                    categories: k,
                });
            }
        }
    }
    Ok(())
}

/// Every person's set of answered items, however few share it, within their group: sets
/// numbered in order of their first person, with that person and the number who answered
/// exactly it.
#[derive(Clone, Debug)]
pub(crate) struct ItemSets {
    pub of_person: Vec<u32>,
    pub first: Vec<usize>,
    pub count: Vec<usize>,
}

impl ItemSets {
    /// One pass over the persons (about a millisecond per million answers: not worth polling
    /// an interrupt).
    pub fn group(data: &Responses) -> Result<Self> {
        let mut index: HashMap<(usize, &[u32]), u32> = HashMap::new();
        index
            .try_reserve(data.n_persons())
            .map_err(|_| CoreError::OutOfMemory {
                what: "the test forms",
                bytes: data.n_persons() as u128 * 40,
            })?;
        let mut sets = Self {
            of_person: alloc::with_capacity(data.n_persons(), "the test forms")?,
            first: Vec::new(),
            count: Vec::new(),
        };
        for i in 0..data.n_persons() {
            let next = sets.first.len() as u32;
            let set = *index
                .entry((data.group(i), data.person(i).0))
                .or_insert(next);
            if set == next {
                alloc::grow(&mut sets.first, 1, "the test forms")?;
                alloc::grow(&mut sets.count, 1, "the test forms")?;
                sets.first.push(i);
                sets.count.push(0);
            }
            sets.count[set as usize] += 1;
            sets.of_person.push(set);
        }
        Ok(sets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tallies_count_what_the_statistics_count() {
        let data = crate::simulate::simulate(3, 500, 40, 15, 0.0, 1.0).data;
        let (tallies, stats) = (data.item_tallies().unwrap(), data.item_stats().unwrap());
        for (t, s) in tallies.iter().zip(&stats) {
            assert_eq!((t.n, t.n_correct), (s.n, s.n_correct));
        }
        assert_eq!(tallies.iter().map(|t| t.n).sum::<u64>(), 500 * 15);
    }

    #[test]
    fn triples_round_trip_in_person_order() {
        let r = Responses::from_triples(
            2,
            3,
            &[(1, 2, true), (0, 1, false), (1, 0, false), (0, 0, true)],
        )
        .unwrap();
        assert_eq!(r.person(0), (&[0u32, 1][..], &[1u8, 0][..]));
        assert_eq!(r.person(1), (&[0u32, 2][..], &[0u8, 1][..]));
        assert_eq!(r.n_answers(), 4);
    }

    /// Two of three groups: their persons in order, renumbered by position, and only the items
    /// they answered, each mapped back to the data's.
    #[test]
    fn a_comparison_keeps_the_persons_of_its_groups_and_their_items() {
        let mut r = Responses::from_triples(
            4,
            4,
            &[
                (0, 0, true),
                (1, 3, false),
                (1, 1, true),
                (2, 2, true),
                (3, 1, false),
            ],
        )
        .unwrap();
        r.set_groups(vec![0, 1, 2, 1]).unwrap();
        let (pair, origin) = r.of_groups(&[0, 2]).unwrap();
        assert_eq!(origin, [0, 2]);
        assert_eq!(
            (pair.n_persons(), pair.n_items(), pair.n_groups()),
            (2, 2, 2)
        );
        assert_eq!(pair.person(0), (&[0u32][..], &[1u8][..]));
        assert_eq!(pair.person(1), (&[1u32][..], &[1u8][..]));
        assert_eq!((pair.group(0), pair.group(1)), (0, 1));
        let (pair, origin) = r.of_groups(&[1, 0]).unwrap();
        assert_eq!(origin, [0, 1, 3]);
        assert_eq!((pair.group(0), pair.group(1), pair.group(2)), (1, 0, 0));
        assert_eq!(pair.person(1), (&[1u32, 2][..], &[1u8, 0][..]));
    }

    #[test]
    fn attempts_keep_the_first_or_the_last_per_person_and_item() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let at = Attempt::new;
        let attempts = || {
            let mut attempts = Attempts::default();
            for a in [
                at(1, 0, 5, 1),
                at(0, 1, 9, 0),
                at(0, 1, 3, 1),
                at(1, 0, 2, 0),
                at(0, 0, 1, 1),
                at(65, 1, 1, 1),
            ] {
                attempts.push(a).unwrap();
            }
            attempts
        };
        let (first, repeats) = Responses::from_attempts(66, 2, attempts(), false, &pool).unwrap();
        assert_eq!(repeats, 2);
        assert_eq!(first.person(0), (&[0u32, 1][..], &[1u8, 1][..]));
        assert_eq!(first.person(1), (&[0u32][..], &[0u8][..]));
        assert_eq!(first.person(2), (&[][..], &[][..]));
        assert_eq!(first.person(64), (&[][..], &[][..]));
        assert_eq!(first.person(65), (&[1u32][..], &[1u8][..]));
        let (last, _) = Responses::from_attempts(66, 2, attempts(), true, &pool).unwrap();
        assert_eq!(last.person(0), (&[0u32, 1][..], &[1u8, 0][..]));
        assert_eq!(last.person(1), (&[0u32][..], &[1u8][..]));
        // A person past the count is refused, not dropped.
        assert!(matches!(
            Responses::from_attempts(65, 2, attempts(), true, &pool),
            Err(CoreError::InvalidSetting {
                field: "persons",
                ..
            })
        ));
    }

    /// Many persons to a bucket, repeats of up to four attempts, ties in time: the same choice
    /// as a map from (person, item) to the least or greatest (time, answer).
    #[test]
    fn attempts_choose_as_a_map_of_extremes_would() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let mut rng = crate::simulate::Rng::new(8);
        let (n_persons, n_items) = (1_000, 30);
        let drawn: Vec<(u32, u32, i64, bool)> = (0..40_000)
            .map(|_| {
                let person = (rng.next_u64() % n_persons as u64) as u32;
                let item = (rng.next_u64() % n_items as u64) as u32;
                (
                    person,
                    item,
                    (rng.next_u64() % 8) as i64,
                    rng.uniform() < 0.5,
                )
            })
            .collect();
        for keep_latest in [false, true] {
            let mut attempts = Attempts::default();
            let mut want = std::collections::BTreeMap::new();
            for &(person, item, time, correct) in &drawn {
                attempts
                    .push(Attempt::new(person, item, time, u8::from(correct)))
                    .unwrap();
                want.entry((person, item))
                    .and_modify(|kept: &mut (i64, bool)| {
                        if ((time, correct) > *kept) == keep_latest {
                            *kept = (time, correct);
                        }
                    })
                    .or_insert((time, correct));
            }
            let (data, repeats) =
                Responses::from_attempts(n_persons, n_items, attempts, keep_latest, &pool).unwrap();
            assert_eq!(repeats, drawn.len() - want.len());
            let got: Vec<((u32, u32), bool)> = (0..n_persons)
                .flat_map(|i| {
                    let (items, correct) = data.person(i);
                    let pairs: Vec<_> = items
                        .iter()
                        .zip(correct)
                        .map(|(&j, &x)| ((i as u32, j), x == 1))
                        .collect();
                    pairs
                })
                .collect();
            let expected: Vec<((u32, u32), bool)> = want
                .into_iter()
                .map(|(key, (_, correct))| (key, correct))
                .collect();
            assert_eq!(got, expected);
        }
    }

    #[test]
    fn check_names_the_bad_item_or_person() {
        let r = Responses::from_triples(
            2,
            2,
            &[(0, 0, true), (1, 0, false), (0, 1, true), (1, 1, true)],
        )
        .unwrap();
        assert_eq!(
            r.check().unwrap_err(),
            CoreError::ConstantItem {
                item: 1,
                all_correct: true
            }
        );
        let r = Responses::from_triples(2, 1, &[(0, 0, true)]).unwrap();
        assert_eq!(r.check().unwrap_err(), CoreError::EmptyPerson { person: 1 });
        assert_eq!(
            Responses::with_items(3).check().unwrap_err(),
            CoreError::NoAnswers
        );
        let r = Responses::from_triples(2, 2, &[(0, 0, true), (1, 0, false)]).unwrap();
        assert_eq!(r.check().unwrap_err(), CoreError::EmptyItem { item: 1 });
        assert!(matches!(
            Responses::from_triples(1, 1, &[(0, 4, true)]),
            Err(CoreError::ItemOutOfRange { .. })
        ));
    }
}
