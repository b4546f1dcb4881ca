//! The rows of the window as they arrive, counted and checked. The connection's thread only
//! counts a row and copies its values into a batch; turning ids into indices and keeping the
//! answers happens on a second thread when the run has more than one, so that it overlaps the
//! database's scan instead of adding to it. A front end only decodes the values its connection
//! delivers.

use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::JoinHandle;

use rayon::ThreadPool;

use crate::alloc;
use crate::error::{CoreError, Result};
use crate::model::MAX_CATEGORIES;
use crate::responses::{Attempt, Attempts, Responses};
use crate::settings::AttemptRule;
use crate::source::{Ids, SourceShape};

/// The answers in the window, one per user and item, grouped by user, as a front end read them.
pub struct Answers {
    /// The answers are categories read from `score`, not right or wrong.
    pub scores: bool,
    pub user_ids: Vec<String>,
    pub item_ids: Vec<String>,
    pub responses: Responses,
    /// Rows in the window, NULL answers included.
    pub rows_in_window: i64,
    pub null_answers: i64,
    /// Later (or earlier) attempts at the same item that did not count.
    pub repeated: i64,
    /// Each user's group, where the source was read with a groups column.
    pub groups: Option<GroupsRead>,
    /// Rows skipped for a NULL group.
    pub null_groups: i64,
}

/// The groups as read: their names in order of first sight, and each user's (in `user_ids`
/// order) as an index into them.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupsRead {
    pub names: Vec<String>,
    pub of_user: Vec<u32>,
}

/// The most groups a run estimates a latent distribution for: a column with more values names
/// something else than groups (a person, a school), and reading it would only fill memory.
pub const MAX_GROUPS: usize = 100;

/// Rows copied before the batch is handed over: large enough that handing over is rare, small
/// enough (about half a megabyte) to stay in cache.
const BATCH_ROWS: usize = 16_384;
/// Full batches waiting for the decoding thread; the reader waits when it is this far ahead.
const QUEUED_BATCHES: usize = 2;

/// A user or question id as the connection delivers it: an integer column's value, or text.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RawId<'a> {
    Integer(i64),
    Text(&'a str),
}

/// The value of a non-NULL answer (`correct`, or `score`), as read.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Correct {
    Boolean(bool),
    Number(f64),
}

/// The window being read: at most `limit` rows, ids not NULL (counted and refused at the end,
/// with their number), `correct` 0 or 1, or `score` a category 0 … 9.
pub struct Window {
    relation: String,
    limit: i64,
    rows: i64,
    null_answers: i64,
    null_ids: i64,
    null_groups: i64,
    batch: Batch,
    decoder: Decoder,
}

impl Window {
    /// Decodes on a thread of its own when `pool` has more than one thread: the read then uses
    /// two cores, as the rest of the run does.
    pub fn new(relation: &str, shape: SourceShape, limit: i64, pool: &ThreadPool) -> Self {
        Self {
            relation: relation.into(),
            limit,
            rows: 0,
            null_answers: 0,
            null_ids: 0,
            null_groups: 0,
            batch: Batch::new(shape),
            decoder: Decoder::new(relation, shape, pool.current_num_threads() > 1),
        }
    }

    /// Counts a row before its values are looked at; refuses the row past the limit, so that a
    /// read stops there.
    #[inline]
    pub fn count_row(&mut self) -> Result<()> {
        self.rows += 1;
        if self.rows > self.limit {
            return Err(self.first_error(CoreError::TooManyAnswers {
                relation: self.relation.clone(),
                limit: self.limit,
            }));
        }
        Ok(())
    }

    /// A counted row whose user or question id is NULL: refused at the end, with their number.
    pub fn null_id(&mut self) {
        self.null_ids += 1;
    }

    /// A counted row with a NULL `correct`: skipped and counted. Its ids are not indexed, so a
    /// user with no other answer does not appear.
    pub fn null_answer(&mut self) {
        self.null_answers += 1;
    }

    /// A counted row of a grouped source whose group is NULL: skipped and counted, like a NULL
    /// answer.
    pub fn null_group(&mut self) {
        self.null_groups += 1;
    }

    /// The group of the row whose [`Window::answer`] comes next, in a grouped source (where
    /// every answer has one).
    #[inline]
    pub fn in_group(&mut self, group: &str) -> Result<()> {
        self.batch.in_group(group)
    }

    /// A counted row with both ids and the answer not NULL. An earlier row's error (a value
    /// that is not 0 or 1, or not a category; memory) may be returned here, up to a few batches
    /// after its row.
    #[inline]
    pub fn answer(&mut self, user: RawId, item: RawId, correct: Correct, time: i64) -> Result<()> {
        self.batch.push(user, item, correct, time)?;
        if self.batch.len() == BATCH_ROWS {
            self.decoder.take(&mut self.batch)?;
        }
        Ok(())
    }

    /// The answers, one per user and item by `rule`, grouped by user.
    pub fn finish(mut self, rule: AttemptRule, pool: &ThreadPool) -> Result<Answers> {
        self.decoder.take(&mut self.batch)?;
        let decoded = self.decoder.into_decoded()?;
        if self.null_ids > 0 {
            return Err(CoreError::NullIds {
                relation: self.relation,
                count: self.null_ids,
            });
        }
        let (responses, repeated) = Responses::from_attempts(
            decoded.users.len(),
            decoded.items.len(),
            decoded.attempts,
            rule == AttemptRule::Last,
            pool,
        )?;
        let groups = decoded.groups.map(|g| GroupsRead {
            names: g.names.into_ids(),
            of_user: g.of_user,
        });
        Ok(Answers {
            scores: decoded.scores,
            user_ids: decoded.users.into_ids(),
            item_ids: decoded.items.into_ids(),
            responses,
            rows_in_window: self.rows,
            null_answers: self.null_answers,
            repeated: repeated as i64,
            groups,
            null_groups: self.null_groups,
        })
    }

    /// `error`, unless a row before it failed: rows are decoded in order, so the error reported
    /// is the first one, on one thread or two.
    fn first_error(&mut self, error: CoreError) -> CoreError {
        let earlier = self.decoder.take(&mut self.batch);
        match earlier.and_then(|()| self.decoder.settle().map(drop)) {
            Err(earlier) => earlier,
            Ok(()) => error,
        }
    }
}

/// Rows as copied off the connection, before their ids are looked up.
struct Batch {
    users: IdColumn,
    items: IdColumn,
    /// The answer as a number: a boolean is 0 or 1.
    correct: Vec<f64>,
    times: Vec<i64>,
    /// Each row's group, read as text, in a grouped source.
    groups: Option<IdColumn>,
}

impl Batch {
    /// A batch's size is fixed here, not by the data: allocated as usual.
    fn new(shape: SourceShape) -> Self {
        Self {
            users: IdColumn::new(shape.integer_user_ids),
            items: IdColumn::new(shape.integer_item_ids),
            correct: Vec::with_capacity(BATCH_ROWS),
            times: Vec::with_capacity(BATCH_ROWS),
            groups: shape.grouped.then(|| IdColumn::new(false)),
        }
    }

    #[inline]
    fn in_group(&mut self, group: &str) -> Result<()> {
        self.groups
            .as_mut()
            .expect("groups are given for a grouped source only")
            .push(RawId::Text(group))
    }

    fn len(&self) -> usize {
        self.times.len()
    }

    #[inline]
    fn push(&mut self, user: RawId, item: RawId, correct: Correct, time: i64) -> Result<()> {
        self.users.push(user)?;
        self.items.push(item)?;
        self.correct.push(match correct {
            Correct::Boolean(x) => f64::from(u8::from(x)),
            Correct::Number(v) => v,
        });
        self.times.push(time);
        Ok(())
    }

    fn clear(&mut self) {
        self.users.clear();
        self.items.clear();
        self.correct.clear();
        self.times.clear();
        if let Some(groups) = &mut self.groups {
            groups.clear();
        }
    }
}

/// One id column of a batch: integers, or texts end to end in one string.
enum IdColumn {
    Integer(Vec<i64>),
    Text { text: String, ends: Vec<usize> },
}

impl IdColumn {
    fn new(integer: bool) -> Self {
        if integer {
            Self::Integer(Vec::with_capacity(BATCH_ROWS))
        } else {
            Self::Text {
                text: String::new(),
                ends: Vec::with_capacity(BATCH_ROWS),
            }
        }
    }

    #[inline]
    fn push(&mut self, id: RawId) -> Result<()> {
        match (self, id) {
            (Self::Integer(ids), RawId::Integer(id)) => ids.push(id),
            (Self::Text { text, ends }, RawId::Text(id)) => {
                // Ids are as long as the data makes them.
                text.try_reserve(id.len())
                    .map_err(|_| CoreError::OutOfMemory {
                        what: "the ids read",
                        bytes: (text.len() + id.len()) as u128,
                    })?;
                text.push_str(id);
                ends.push(text.len());
            }
            _ => unreachable!("ids are delivered as the source's shape reads them"),
        }
        Ok(())
    }

    /// The k-th id of the batch, as an error names it.
    fn name(&self, k: usize) -> String {
        match self {
            Self::Integer(values) => values[k].to_string(),
            Self::Text { text, ends } => {
                let start = if k == 0 { 0 } else { ends[k - 1] };
                text[start..ends[k]].to_string()
            }
        }
    }

    /// The index of the k-th id of the batch.
    fn index(&self, k: usize, ids: &mut Ids) -> Result<u32> {
        match self {
            Self::Integer(values) => ids.integer(values[k]),
            Self::Text { text, ends } => {
                let start = if k == 0 { 0 } else { ends[k - 1] };
                ids.text(&text[start..ends[k]])
            }
        }
    }

    fn clear(&mut self) {
        match self {
            Self::Integer(ids) => ids.clear(),
            Self::Text { text, ends } => {
                text.clear();
                ends.clear();
            }
        }
    }
}

/// What decoding keeps: the ids' indices and the answers.
struct Decoded {
    relation: String,
    /// Answers are categories (`score`), not right or wrong.
    scores: bool,
    users: Ids,
    items: Ids,
    attempts: Attempts,
    groups: Option<UserGroups>,
}

/// The groups seen, and each user's, by user index.
struct UserGroups {
    names: Ids,
    of_user: Vec<u32>,
}

impl UserGroups {
    /// Puts `user` in group k of the batch, or finds it there already; a user seen in another
    /// group is refused.
    fn take(&mut self, relation: &str, batch: &Batch, k: usize, user: u32) -> Result<()> {
        let column = batch.groups.as_ref().expect("a grouped batch");
        let group = column.index(k, &mut self.names)?;
        if self.names.len() > MAX_GROUPS {
            return Err(CoreError::TooManyGroups {
                relation: relation.into(),
                limit: MAX_GROUPS,
            });
        }
        let user = user as usize;
        if user == self.of_user.len() {
            alloc::grow(&mut self.of_user, 1, "the groups of the users")?;
            self.of_user.push(group);
        }
        let first = self.of_user[user];
        if first != group {
            return Err(CoreError::GroupChanged {
                relation: relation.into(),
                user: batch.users.name(k),
                first: self.names.name(first),
                second: column.name(k),
            });
        }
        Ok(())
    }
}

impl Decoded {
    fn new(relation: &str, shape: SourceShape) -> Self {
        Self {
            relation: relation.into(),
            scores: shape.scores,
            users: Ids::new(shape.integer_user_ids),
            items: Ids::new(shape.integer_item_ids),
            attempts: Attempts::default(),
            groups: shape.grouped.then(|| UserGroups {
                names: Ids::new(false),
                of_user: Vec::new(),
            }),
        }
    }

    fn take(&mut self, batch: &Batch) -> Result<()> {
        let highest = if self.scores {
            (MAX_CATEGORIES - 1) as f64
        } else {
            1.0
        };
        for (k, (&value, &time)) in batch.correct.iter().zip(&batch.times).enumerate() {
            // NaN fails both comparisons.
            if !(value >= 0.0 && value <= highest && value.fract() == 0.0) {
                return Err(self.bad_answer(batch, k, value));
            }
            let user = batch.users.index(k, &mut self.users)?;
            if let Some(groups) = &mut self.groups {
                groups.take(&self.relation, batch, k, user)?;
            }
            let item = batch.items.index(k, &mut self.items)?;
            self.attempts
                .push(Attempt::new(user, item, time, value as u8))?;
        }
        Ok(())
    }

    fn bad_answer(&self, batch: &Batch, k: usize, value: f64) -> CoreError {
        let relation = self.relation.clone();
        if self.scores {
            CoreError::NotAScore {
                relation,
                item: batch.items.name(k),
                value,
            }
        } else {
            CoreError::NotBinary { relation, value }
        }
    }
}

/// Where full batches go: decoded at once on the reading thread, or sent to a thread of their
/// own. The first error is kept: decoding stops there.
enum Decoder {
    Inline(Decoded),
    Thread(Worker),
    Failed(CoreError),
}

impl Decoder {
    fn new(relation: &str, shape: SourceShape, threaded: bool) -> Self {
        if threaded {
            if let Some(worker) = Worker::spawn(Decoded::new(relation, shape), shape) {
                return Self::Thread(worker);
            }
        }
        // One thread asked for, or none to be had: decode on this one.
        Self::Inline(Decoded::new(relation, shape))
    }

    /// Decodes the batch, or hands it over; `batch` is left empty.
    fn take(&mut self, batch: &mut Batch) -> Result<()> {
        if batch.len() == 0 {
            return Ok(());
        }
        let result = match self {
            Self::Inline(decoded) => {
                let result = decoded.take(batch);
                batch.clear();
                result
            }
            Self::Thread(worker) => match worker.send(batch) {
                None => Ok(()),
                // The thread stopped at an error, which is the read's.
                Some(unsent) => self.settle().and_then(|decoded| decoded.take(&unsent)),
            },
            Self::Failed(error) => Err(error.clone()),
        };
        if let Err(error) = &result {
            *self = Self::Failed(error.clone());
        }
        result
    }

    /// Waits for the thread, if there is one, to decode what it was given.
    fn settle(&mut self) -> Result<&mut Decoded> {
        if let Self::Thread(worker) = self {
            *self = match worker.join() {
                Ok(decoded) => Self::Inline(decoded),
                Err(error) => Self::Failed(error),
            };
        }
        match self {
            Self::Inline(decoded) => Ok(decoded),
            Self::Failed(error) => Err(error.clone()),
            Self::Thread(_) => unreachable!("settled above"),
        }
    }

    fn into_decoded(mut self) -> Result<Decoded> {
        self.settle()?;
        match self {
            Self::Inline(decoded) => Ok(decoded),
            Self::Failed(error) => Err(error),
            Self::Thread(_) => unreachable!("settled above"),
        }
    }
}

/// The decoding thread: full batches in, emptied ones back. It ends when its channel closes or
/// at an error, and is waited for when dropped, so that a read ended by an error or a cancel
/// leaves nothing running.
struct Worker {
    to: Option<SyncSender<Batch>>,
    back: Receiver<Batch>,
    handle: Option<JoinHandle<Result<Decoded>>>,
    shape: SourceShape,
}

impl Worker {
    fn spawn(mut decoded: Decoded, shape: SourceShape) -> Option<Self> {
        let (to, batches) = mpsc::sync_channel::<Batch>(QUEUED_BATCHES);
        let (recycle, back) = mpsc::channel::<Batch>();
        let handle = std::thread::Builder::new()
            .name("pg_irt read".into())
            .spawn(move || {
                for mut batch in batches {
                    decoded.take(&batch)?;
                    batch.clear();
                    // The reader may be gone already: the batch is then simply freed.
                    let _ = recycle.send(batch);
                }
                Ok(decoded)
            })
            .ok()?;
        Some(Self {
            to: Some(to),
            back,
            handle: Some(handle),
            shape,
        })
    }

    /// Hands the batch over and leaves an emptied one in its place; gives the batch back when
    /// the thread has stopped.
    fn send(&mut self, batch: &mut Batch) -> Option<Batch> {
        let next = self
            .back
            .try_recv()
            .unwrap_or_else(|_| Batch::new(self.shape));
        let full = std::mem::replace(batch, next);
        let to = self
            .to
            .as_ref()
            .expect("a worker is sent to only before it is joined");
        to.send(full).err().map(|unsent| unsent.0)
    }

    /// Closes the channel and waits for the thread's result; a panic there goes on here.
    fn join(&mut self) -> Result<Decoded> {
        self.to.take();
        let handle = self.handle.take().expect("a worker is joined once");
        match handle.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.to.take();
        if let Some(handle) = self.handle.take() {
            // Dropped while unwinding from an error: its result is not wanted.
            let _ = handle.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHAPE: SourceShape = SourceShape {
        integer_user_ids: true,
        integer_item_ids: false,
        numeric_answer: true,
        scores: false,
        date_created_at: false,
        grouped: false,
    };

    fn pool(threads: usize) -> ThreadPool {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
    }

    #[test]
    fn a_window_counts_checks_and_groups_its_rows() {
        for threads in [1, 2] {
            let pool = pool(threads);
            let mut w = Window::new("attempt", SHAPE, 5, &pool);
            for (user, item, correct, time) in [
                (7, "q1", Correct::Number(1.0), 2),
                (7, "q1", Correct::Number(0.0), 1),
                (9, "q2", Correct::Boolean(true), 3),
            ] {
                w.count_row().unwrap();
                w.answer(RawId::Integer(user), RawId::Text(item), correct, time)
                    .unwrap();
            }
            w.count_row().unwrap();
            w.null_answer();
            w.count_row().unwrap();
            w.null_id();
            let Err(err) = w.finish(AttemptRule::First, &pool) else {
                panic!("a NULL id is refused at the end");
            };
            assert!(matches!(err, CoreError::NullIds { count: 1, .. }), "{err}");
        }
        let pool = pool(2);
        let mut w = Window::new("attempt", SHAPE, 5, &pool);
        for (user, item, correct, time) in [(7, "q1", 1.0, 2), (7, "q1", 0.0, 1), (9, "q2", 1.0, 3)]
        {
            w.count_row().unwrap();
            w.answer(
                RawId::Integer(user),
                RawId::Text(item),
                Correct::Number(correct),
                time,
            )
            .unwrap();
        }
        w.count_row().unwrap();
        w.null_answer();
        let answers = w.finish(AttemptRule::First, &pool).unwrap();
        assert_eq!(
            (
                answers.rows_in_window,
                answers.null_answers,
                answers.repeated
            ),
            (4, 1, 1)
        );
        assert_eq!(answers.user_ids, ["7", "9"]);
        assert_eq!(answers.item_ids, ["q1", "q2"]);
        // The first attempt (time 1, wrong) counts.
        assert_eq!(answers.responses.person(0).1, [0]);
    }

    /// Many batches of rows, ids of both kinds: the same answers whether a second thread
    /// decodes them or not.
    #[test]
    fn one_thread_or_two_read_the_same_answers() {
        let read = |threads: usize, integer_items: bool| {
            let pool = pool(threads);
            let shape = SourceShape {
                integer_item_ids: integer_items,
                ..SHAPE
            };
            let mut w = Window::new("attempt", shape, i64::MAX, &pool);
            let names: Vec<String> = (0..40).map(|j| format!("item {j}")).collect();
            for k in 0..(5 * BATCH_ROWS as i64 + 123) {
                let (user, item) = ((k * 7919) % 2_003, (k * 31) % 40);
                let item = if integer_items {
                    RawId::Integer(1_000 + item)
                } else {
                    RawId::Text(&names[item as usize])
                };
                w.count_row().unwrap();
                w.answer(RawId::Integer(user), item, Correct::Boolean(k % 3 == 0), -k)
                    .unwrap();
            }
            w.finish(AttemptRule::Last, &pool).unwrap()
        };
        for integer_items in [true, false] {
            let (one, two) = (read(1, integer_items), read(2, integer_items));
            assert_eq!(one.user_ids, two.user_ids);
            assert_eq!(one.item_ids, two.item_ids);
            assert_eq!(one.repeated, two.repeated);
            assert!(one.repeated > 0);
            assert_eq!(one.responses.n_answers(), two.responses.n_answers());
            for i in 0..one.responses.n_persons() {
                assert_eq!(one.responses.person(i), two.responses.person(i));
            }
        }
    }

    /// A bad value stops the read within a few batches, and it is the error reported, even
    /// when the row limit is passed before the decoding thread reaches it.
    #[test]
    fn the_first_bad_row_is_the_error_on_one_thread_or_two() {
        for threads in [1, 2] {
            let pool = pool(threads);
            let mut w = Window::new("attempt", SHAPE, i64::MAX, &pool);
            let mut stopped_at = None;
            for k in 0..(20 * BATCH_ROWS as i64) {
                w.count_row().unwrap();
                let correct = Correct::Number(if k == 10 { 0.5 } else { 1.0 });
                if let Err(e) = w.answer(RawId::Integer(k), RawId::Text("q"), correct, k) {
                    assert!(matches!(e, CoreError::NotBinary { value, .. } if value == 0.5));
                    stopped_at = Some(k);
                    break;
                }
            }
            let stopped_at = stopped_at.expect("the read stops") as usize;
            assert!(
                stopped_at < (QUEUED_BATCHES + 3) * BATCH_ROWS,
                "{stopped_at}"
            );

            let mut w = Window::new("attempt", SHAPE, 100, &pool);
            let mut first = None;
            for k in 0..=100 {
                if let Err(e) = w.count_row() {
                    first = Some(e);
                    break;
                }
                let correct = Correct::Number(if k == 10 { 2.0 } else { 1.0 });
                w.answer(RawId::Integer(k), RawId::Text("q"), correct, k)
                    .unwrap();
            }
            assert!(
                matches!(first, Some(CoreError::NotBinary { value, .. }) if value == 2.0),
                "{first:?}"
            );
        }
    }

    /// Scores are categories 0 … 9: kept as they are, and a value that is not one is refused
    /// with the item it was given for.
    #[test]
    fn scores_are_categories_and_a_bad_one_names_its_item() {
        let shape = SourceShape {
            scores: true,
            ..SHAPE
        };
        let pool = pool(1);
        let mut w = Window::new("attempt", shape, 10, &pool);
        for (user, score) in [(1, 3.0), (2, 0.0), (3, 9.0)] {
            w.count_row().unwrap();
            w.answer(
                RawId::Integer(user),
                RawId::Text("q"),
                Correct::Number(score),
                0,
            )
            .unwrap();
        }
        let answers = w.finish(AttemptRule::First, &pool).unwrap();
        let scores: Vec<u8> = (0..3).map(|i| answers.responses.person(i).1[0]).collect();
        assert_eq!(scores, [3, 0, 9]);
        for bad in [10.0, -1.0, 1.5, f64::NAN] {
            let mut w = Window::new("attempt", shape, 10, &pool);
            w.count_row().unwrap();
            let err = w
                .answer(
                    RawId::Integer(1),
                    RawId::Text("essay 7"),
                    Correct::Number(bad),
                    0,
                )
                .and_then(|()| w.finish(AttemptRule::First, &pool).map(drop))
                .unwrap_err();
            assert!(
                matches!(&err, CoreError::NotAScore { item, .. } if item == "essay 7"),
                "{err}"
            );
            assert!(err.to_string().contains(&bad.to_string()), "{err}");
        }
    }

    /// A grouped source: each user's group as first seen, a NULL group skipped and counted, a
    /// user in two groups refused with both, and a column of too many values stopped early.
    #[test]
    fn a_grouped_window_gives_each_user_one_group() {
        let shape = SourceShape {
            grouped: true,
            ..SHAPE
        };
        for threads in [1, 2] {
            let pool = pool(threads);
            let mut w = Window::new("attempt", shape, 10, &pool);
            for (user, item, group) in [
                (7, "q1", Some("b")),
                (9, "q1", Some("a")),
                (7, "q2", Some("b")),
                (8, "q1", None),
            ] {
                w.count_row().unwrap();
                match group {
                    Some(g) => {
                        w.in_group(g).unwrap();
                        w.answer(
                            RawId::Integer(user),
                            RawId::Text(item),
                            Correct::Boolean(true),
                            0,
                        )
                        .unwrap();
                    }
                    None => w.null_group(),
                }
            }
            let answers = w.finish(AttemptRule::First, &pool).unwrap();
            assert_eq!(answers.user_ids, ["7", "9"]);
            assert_eq!(
                answers.groups,
                Some(GroupsRead {
                    names: vec!["b".into(), "a".into()],
                    of_user: vec![0, 1]
                })
            );
            assert_eq!(answers.null_groups, 1);

            let mut w = Window::new("attempt", shape, 10, &pool);
            for (item, group) in [("q1", "b"), ("q2", "c")] {
                w.count_row().unwrap();
                w.in_group(group).unwrap();
                w.answer(
                    RawId::Integer(7),
                    RawId::Text(item),
                    Correct::Boolean(true),
                    0,
                )
                .unwrap();
            }
            let err = w.finish(AttemptRule::First, &pool).map(drop).unwrap_err();
            assert_eq!(
                err.to_string(),
                "user 7 is in group \"b\" and in group \"c\" in the window of attempt"
            );

            let mut w = Window::new("attempt", shape, i64::MAX, &pool);
            let groups: Vec<String> = (0..=MAX_GROUPS).map(|g| g.to_string()).collect();
            let err = groups
                .iter()
                .enumerate()
                .find_map(|(user, g)| {
                    w.count_row().unwrap();
                    w.in_group(g).unwrap();
                    w.answer(
                        RawId::Integer(user as i64),
                        RawId::Text("q"),
                        Correct::Boolean(true),
                        0,
                    )
                    .err()
                })
                .unwrap_or_else(|| w.finish(AttemptRule::First, &pool).map(drop).unwrap_err());
            assert!(
                matches!(
                    err,
                    CoreError::TooManyGroups {
                        limit: MAX_GROUPS,
                        ..
                    }
                ),
                "{err}"
            );
        }
    }
}
