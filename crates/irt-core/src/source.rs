//! The input contract, as both front ends read it: which columns the source and the item bank
//! must have and of which types, the queries that read them, and the ids' dense indices. What
//! each row becomes is the window's (`window`).

use std::collections::HashMap;

use rustc_hash::FxBuildHasher;

use crate::alloc;
use crate::error::{CoreError, Result};

pub const SOURCE_COLUMNS: &str = "user_id, question_id, correct (boolean or 0/1) or score (an \
     integer 0 to 9, for items scored in categories), and created_at (timestamp)";
pub const BANK_COLUMNS: &str = "id and meta (jsonb)";
const GROUPS_COLUMN: &str = "user_id, question_id, correct or score, created_at, and the column \
     groups names (any type: its text names the person's group)";
const INTEGER_TYPES: [&str; 3] = ["smallint", "integer", "bigint"];
const NUMERIC_TYPES: [&str; 6] = [
    "smallint",
    "integer",
    "bigint",
    "numeric",
    "real",
    "double precision",
];

/// How a source's columns are read: ids as integers (int8) or text, the answer — `correct`, or
/// `score` in a source without `correct` — as boolean or float8, `created_at` as a timestamp (a
/// date becomes midnight).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourceShape {
    pub integer_user_ids: bool,
    pub integer_item_ids: bool,
    /// The answer column is read as float8 (else as boolean).
    pub numeric_answer: bool,
    /// The answer column is `score`: categories 0 … 9, not right (1) or wrong (0).
    pub scores: bool,
    pub date_created_at: bool,
    /// A fifth column puts each person in a group: the column `groups` names, read as text.
    pub grouped: bool,
}

impl SourceShape {
    /// Checks the source's columns, and the groups column if one is named; `column_type` gives
    /// a column's type as `format_type` spells it, or None when the relation has no such column.
    pub fn check(
        relation: &str,
        column_type: impl Fn(&str) -> Option<String>,
        groups: Option<&str>,
    ) -> Result<Self> {
        let column = |name: &str| {
            column_type(name).ok_or_else(|| CoreError::MissingColumn {
                relation: relation.into(),
                column: name.into(),
                expected: SOURCE_COLUMNS,
            })
        };
        let (user, item, created) = (
            column("user_id")?,
            column("question_id")?,
            column("created_at")?,
        );
        if !created.starts_with("timestamp") && created != "date" {
            return Err(CoreError::ColumnType {
                relation: relation.into(),
                column: "created_at",
                found: created,
                expected: "created_at must be a timestamp, timestamptz or date",
            });
        }
        // `correct` where the source has it, so that a source that also carries a `score` of
        // another meaning reads as it always did.
        let (answer, scores) = match (column_type("correct"), column_type("score")) {
            (None, Some(score)) => (score, true),
            _ => (column("correct")?, false),
        };
        let numeric_answer = NUMERIC_TYPES.contains(&answer.as_str());
        if scores && !numeric_answer {
            return Err(CoreError::ColumnType {
                relation: relation.into(),
                column: "score",
                found: answer,
                expected: "score must be an integer from 0 to 9",
            });
        }
        if answer != "boolean" && !numeric_answer {
            return Err(CoreError::ColumnType {
                relation: relation.into(),
                column: "correct",
                found: answer,
                expected: "correct must be boolean or a number that is 0 or 1",
            });
        }
        // Any type has a text form, which names the group.
        if let Some(name) = groups {
            column_type(name).ok_or_else(|| CoreError::MissingColumn {
                relation: relation.into(),
                column: name.into(),
                expected: GROUPS_COLUMN,
            })?;
        }
        Ok(Self {
            integer_user_ids: INTEGER_TYPES.contains(&user.as_str()),
            integer_item_ids: INTEGER_TYPES.contains(&item.as_str()),
            numeric_answer,
            scores,
            date_created_at: created == "date",
            grouped: groups.is_some(),
        })
    }

    /// The select list that reads a row as this shape expects: user, item, answer, time, and
    /// the column `groups` (checked to be the relation's) as text.
    pub fn select_list(&self, groups: Option<&str>) -> String {
        debug_assert_eq!(self.grouped, groups.is_some());
        let mut list = self.answer_list();
        if let Some(column) = groups {
            list.push_str(&format!(", {}::text", quote_ident(column)));
        }
        list
    }

    fn answer_list(&self) -> String {
        let id = |integer: bool, column: &str| {
            format!("{column}::{}", if integer { "int8" } else { "text" })
        };
        format!(
            "{}, {}, {}, {}",
            id(self.integer_user_ids, "user_id"),
            id(self.integer_item_ids, "question_id"),
            match (self.scores, self.numeric_answer) {
                (true, _) => "score::float8",
                (false, true) => "correct::float8",
                (false, false) => "correct",
            },
            // Attempt times only order a user's attempts at an item: read as stored
            // (microseconds since 2000), without calendar arithmetic.
            if self.date_created_at {
                "created_at::timestamp"
            } else {
                "created_at"
            },
        )
    }
}

/// A relation as a front end resolved it: its name as the database quotes it, and its columns'
/// types as `format_type` spells them.
pub struct Relation {
    pub quoted: String,
    columns: HashMap<String, String>,
}

impl Relation {
    pub fn new(quoted: String, columns: impl IntoIterator<Item = (String, String)>) -> Self {
        Self {
            quoted,
            columns: columns.into_iter().collect(),
        }
    }

    fn column_type(&self, name: &str) -> Option<String> {
        self.columns.get(name).cloned()
    }

    /// How this relation is read as the source of answers (see [`SourceShape::check`]).
    pub fn source_shape(&self, groups: Option<&str>) -> Result<SourceShape> {
        SourceShape::check(&self.quoted, |c| self.column_type(c), groups)
    }

    /// Whether it has the bank's columns (see [`check_bank`]).
    pub fn check_bank(&self) -> Result<()> {
        check_bank(&self.quoted, |c| self.column_type(c))
    }
}

/// A column name as an identifier in a query: always quoted, inner quotes doubled.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The query that reads the bank's anchors and stored parameters, ordered by id.
pub fn bank_query(quoted_relation: &str) -> String {
    format!(
        "SELECT id::text, coalesce(meta->'tags' @> '[\"anchor\"]'::jsonb, false), meta->'irt' FROM {quoted_relation} \
         WHERE meta->'tags' @> '[\"anchor\"]'::jsonb OR meta ? 'irt' ORDER BY 1"
    )
}

/// Checks the bank's columns (see [`SourceShape::check`]).
pub fn check_bank(relation: &str, column_type: impl Fn(&str) -> Option<String>) -> Result<()> {
    let missing = |column: &str| CoreError::MissingColumn {
        relation: relation.into(),
        column: column.into(),
        expected: BANK_COLUMNS,
    };
    column_type("id").ok_or_else(|| missing("id"))?;
    let meta = column_type("meta").ok_or_else(|| missing("meta"))?;
    if meta != "jsonb" {
        return Err(CoreError::ColumnType {
            relation: relation.into(),
            column: "meta",
            found: meta,
            expected: "meta must be jsonb",
        });
    }
    Ok(())
}

/// Integer ids below this are looked up in a table indexed by the id itself (at most 4 MiB):
/// serial ids of questions, and of users on most platforms, need no hashing at all.
const DIRECT_IDS: i64 = 1 << 20;
const UNSEEN: u32 = u32::MAX;

/// Dense indices for the ids of one column, in order of first sight. Integer ids are hashed as
/// numbers, several times cheaper per row than text.
pub enum Ids {
    Integer {
        direct: Vec<u32>,
        /// Fx: ids are numbers from the database, not keys an outsider picks to collide, and
        /// SipHash costs more than the rest of the row's handling.
        hashed: HashMap<i64, u32, FxBuildHasher>,
        count: usize,
    },
    Text(HashMap<String, u32>),
}

impl Ids {
    pub fn new(integer: bool) -> Self {
        if integer {
            Self::Integer {
                direct: Vec::new(),
                hashed: HashMap::default(),
                count: 0,
            }
        } else {
            Self::Text(HashMap::new())
        }
    }

    /// The index of an integer id (of an integer column).
    pub fn integer(&mut self, id: i64) -> Result<u32> {
        let Self::Integer {
            direct,
            hashed,
            count,
        } = self
        else {
            unreachable!("integer ids are read from integer columns only")
        };
        let next = *count as u32;
        let slot = if (0..DIRECT_IDS).contains(&id) {
            let at = id as usize;
            if at >= direct.len() {
                let len = (at + 1).next_power_of_two();
                alloc::grow(direct, len - direct.len(), "the id table")?;
                direct.resize(len, UNSEEN);
            }
            &mut direct[at]
        } else {
            grow(hashed)?;
            hashed.entry(id).or_insert(UNSEEN)
        };
        if *slot == UNSEEN {
            *slot = next;
            *count += 1;
        }
        Ok(*slot)
    }

    /// The index of a text id (of any other column).
    pub fn text(&mut self, id: &str) -> Result<u32> {
        let Self::Text(index) = self else {
            unreachable!("text ids are read from text columns only")
        };
        if let Some(&i) = index.get(id) {
            return Ok(i);
        }
        let next = index.len() as u32;
        grow(index)?;
        index.insert(id.to_owned(), next);
        Ok(next)
    }

    pub fn len(&self) -> usize {
        match self {
            Self::Integer { count, .. } => *count,
            Self::Text(index) => index.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The text id with index `i`, as an error names it (a search: not for every row).
    pub fn name(&self, i: u32) -> String {
        let Self::Text(index) = self else {
            unreachable!("named by index only where read as text")
        };
        index
            .iter()
            .find(|&(_, &at)| at == i)
            .map_or_else(String::new, |(id, _)| id.clone())
    }

    /// The ids as text, ordered by their index.
    pub fn into_ids(self) -> Vec<String> {
        let mut ids: Vec<(String, u32)> = match self {
            Self::Integer { direct, hashed, .. } => direct
                .into_iter()
                .enumerate()
                .filter(|&(_, i)| i != UNSEEN)
                .map(|(id, i)| (id as i64, i))
                .chain(hashed)
                .map(|(id, i)| (id.to_string(), i))
                .collect(),
            Self::Text(index) => index.into_iter().collect(),
        };
        ids.sort_unstable_by_key(|&(_, i)| i);
        ids.into_iter().map(|(id, _)| id).collect()
    }
}

/// Room for one more id, asked of the allocator fallibly.
fn grow<K: std::hash::Hash + Eq, S: std::hash::BuildHasher>(
    map: &mut HashMap<K, u32, S>,
) -> Result<()> {
    map.try_reserve(1).map_err(|_| CoreError::OutOfMemory {
        what: "the id table",
        bytes: ((map.len() + 1) * 2 * std::mem::size_of::<(K, u32)>()) as u128,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn types<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, t)| t.to_string())
        }
    }

    #[test]
    fn a_source_is_checked_and_read_by_its_shape() {
        let shape = SourceShape::check(
            "attempt",
            types(&[
                ("user_id", "bigint"),
                ("question_id", "text"),
                ("correct", "integer"),
                ("created_at", "date"),
            ]),
            None,
        )
        .unwrap();
        assert_eq!(
            shape.select_list(None),
            "user_id::int8, question_id::text, correct::float8, created_at::timestamp"
        );
        let err = SourceShape::check(
            "v",
            types(&[
                ("user_id", "bigint"),
                ("question_id", "text"),
                ("created_at", "date"),
            ]),
            None,
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "relation v has no column \"correct\"");
        let err = SourceShape::check(
            "v",
            types(&[
                ("user_id", "bigint"),
                ("question_id", "text"),
                ("correct", "text"),
                ("created_at", "date"),
            ]),
            None,
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "column correct of v has type text");
        let scored = |score: &str, correct: Option<&str>| {
            let mut columns = vec![
                ("user_id", "bigint"),
                ("question_id", "bigint"),
                ("created_at", "timestamp with time zone"),
                ("score", score),
            ];
            columns.extend(correct.map(|c| ("correct", c)));
            SourceShape::check("v", types(&columns), None)
        };
        let shape = scored("smallint", None).unwrap();
        assert!(shape.scores && shape.numeric_answer);
        assert_eq!(
            shape.select_list(None),
            "user_id::int8, question_id::int8, score::float8, created_at"
        );
        let both = scored("smallint", Some("boolean")).unwrap();
        assert!(!both.scores && both.select_list(None).contains("correct"));
        let err = scored("text", None).unwrap_err();
        assert_eq!(err.to_string(), "column score of v has type text");
    }

    /// The groups column is any column of the source, read as text under its quoted name.
    #[test]
    fn a_groups_column_is_read_as_text_by_its_quoted_name() {
        let columns = [
            ("user_id", "bigint"),
            ("question_id", "bigint"),
            ("correct", "boolean"),
            ("created_at", "timestamp with time zone"),
            ("School \"Type\"", "integer"),
        ];
        let shape = SourceShape::check("v", types(&columns), Some("School \"Type\"")).unwrap();
        assert!(shape.grouped);
        assert!(shape
            .select_list(Some("School \"Type\""))
            .ends_with(", created_at, \"School \"\"Type\"\"\"::text"));
        let err = SourceShape::check("v", types(&columns), Some("school type")).unwrap_err();
        assert_eq!(err.to_string(), "relation v has no column \"school type\"");
    }
}
