//! Dense indices for the user and question ids read from the source, in order of first sight.
//! Integer ids are read and hashed as numbers, which is several times cheaper per row than
//! text; any other type is read as its text.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use irt_core::alloc;
use pgrx::pg_sys;
use pgrx::FromDatum;

use crate::errors::{out_of_memory, raise_core};

const INTEGER_TYPES: [&str; 3] = ["smallint", "integer", "bigint"];

/// Integer ids below this are looked up in a table indexed by the id itself (at most 4 MiB):
/// serial ids of questions, and of users on most platforms, need no hashing at all.
const DIRECT_IDS: i64 = 1 << 20;
const UNSEEN: u32 = u32::MAX;

/// The ids of one column of the source.
pub enum IdColumn {
    Integer {
        direct: Vec<u32>,
        hashed: HashMap<i64, u32, BuildHasherDefault<IntegerHasher>>,
        count: usize,
    },
    Text(HashMap<String, u32>),
}

impl IdColumn {
    /// For a column of the given type (as `format_type` spells it).
    pub fn for_type(ty: &str) -> Self {
        if INTEGER_TYPES.contains(&ty) {
            Self::Integer {
                direct: Vec::new(),
                hashed: HashMap::default(),
                count: 0,
            }
        } else {
            Self::Text(HashMap::new())
        }
    }

    /// The select-list expression that reads `column` in the form this reader expects.
    pub fn select(&self, column: &str) -> String {
        match self {
            Self::Integer { .. } => format!("{column}::int8"),
            Self::Text(_) => format!("{column}::text"),
        }
    }

    /// The index of a non-NULL id read by [`Self::select`]'s expression.
    pub fn index(&mut self, id: pg_sys::Datum) -> u32 {
        let next = self.len() as u32;
        match self {
            Self::Integer {
                direct,
                hashed,
                count,
            } => {
                let id = id.value() as i64;
                let slot = if (0..DIRECT_IDS).contains(&id) {
                    let at = id as usize;
                    if at >= direct.len() {
                        let len = (at + 1).next_power_of_two();
                        alloc::grow(direct, len - direct.len(), "the id table")
                            .unwrap_or_else(|e| raise_core(e));
                        direct.resize(len, UNSEEN);
                    }
                    &mut direct[at]
                } else {
                    hashed
                        .try_reserve(1)
                        .unwrap_or_else(|_| out_of_memory("the id table"));
                    hashed.entry(id).or_insert(UNSEEN)
                };
                if *slot == UNSEEN {
                    *slot = next;
                    *count += 1;
                }
                *slot
            }
            Self::Text(index) => {
                // SAFETY: the expression yields text, and the caller checked it is not NULL.
                let id = unsafe { <&str>::from_datum(id, false) }.expect("not NULL");
                if let Some(&i) = index.get(id) {
                    return i;
                }
                index
                    .try_reserve(1)
                    .unwrap_or_else(|_| out_of_memory("the id table"));
                index.insert(id.to_owned(), next);
                next
            }
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Self::Integer { count, .. } => *count,
            Self::Text(index) => index.len(),
        }
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

/// A multiplicative hash of one integer: ids are numbers from the database, not keys an outsider
/// picks to collide, and SipHash costs more than the rest of the row's handling.
#[derive(Default)]
pub struct IntegerHasher(u64);

impl Hasher for IntegerHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_i64(&mut self, n: i64) {
        self.write_u64(n as u64);
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    /// The product's high bits are its well-mixed ones; the table indexes by the low bits.
    fn finish(&self) -> u64 {
        self.0.rotate_left(26)
    }
}
