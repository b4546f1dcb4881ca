//! Settings spelled as words: each enumerated setting writes its names once, in a [`named!`]
//! table that gives it `ALL`, `name`, `find` and `parse`; the parse is the same everywhere
//! (trimmed, case-insensitive, '-' read as '_' as equateIRT spells its methods) and so is its
//! error, which lists the valid names.

use crate::error::CoreError;

/// `impl $type { ALL, name, find, parse }` from the table of its values' names; `$argument`
/// is the setting errors name and `$one`/`$many` what a value and several are called.
macro_rules! named {
    ($type:ident, $argument:literal, $one:literal, $many:literal, { $($value:ident => $name:literal),+ $(,)? }) => {
        impl $type {
            /// Every value, in the order errors list them.
            pub const ALL: [$type; [$($name),+].len()] = [$($type::$value),+];

            pub fn name(self) -> &'static str {
                match self {
                    $($type::$value => $name),+
                }
            }

            /// The value called `s`, if one is.
            pub fn find(s: &str) -> Option<Self> {
                Self::ALL.into_iter().find(|v| $crate::names::same(v.name(), s))
            }

            /// The value called `s`, or an error that lists every name.
            pub fn parse(s: &str) -> $crate::error::Result<Self> {
                Self::find(s).ok_or_else(|| {
                    $crate::names::unknown($argument, ($one, $many), s, Self::ALL.map(Self::name).iter())
                })
            }
        }
    };
}
pub(crate) use named;

/// Whether `given` spells `name`.
pub(crate) fn same(name: &str, given: &str) -> bool {
    name.eq_ignore_ascii_case(&given.trim().replace('-', "_"))
}

/// The error for `given`, which names no value of the setting `argument`; `valid` lists the
/// names it accepts.
pub(crate) fn unknown<'a>(
    argument: &'static str,
    (one, many): (&str, &str),
    given: &str,
    valid: impl Iterator<Item = &'a &'a str>,
) -> CoreError {
    let valid: Vec<&str> = valid.copied().collect();
    CoreError::InvalidSetting {
        field: argument,
        reason: format!(
            "unknown {one} \"{given}\"; valid {many} are {}",
            valid.join(", ")
        ),
    }
}
