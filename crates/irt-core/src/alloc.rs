//! Fallible allocation. A buffer whose size follows from the data or the arguments (answers,
//! persons, items × nodes, the information matrix) is asked of the allocator with
//! `try_reserve_exact`, so that a refusal becomes [`CoreError::OutOfMemory`]. An infallible
//! allocation that fails aborts the process, and inside a database server that is a crash of
//! every session. Buffers of a size fixed in the code, or bounded by a checked setting (one
//! quadrature grid, one item's coordinates), are allocated as usual.

use crate::error::{CoreError, Result};

fn refused<T>(what: &'static str, len: usize) -> CoreError {
    CoreError::OutOfMemory {
        what,
        bytes: (len as u128) * (std::mem::size_of::<T>() as u128),
    }
}

/// An empty vector with room for `len` elements.
pub fn with_capacity<T>(len: usize, what: &'static str) -> Result<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(len)
        .map_err(|_| refused::<T>(what, len))?;
    Ok(v)
}

/// `len` copies of `value`.
pub fn filled<T: Clone>(len: usize, value: T, what: &'static str) -> Result<Vec<T>> {
    let mut v = with_capacity(len, what)?;
    v.resize(len, value);
    Ok(v)
}

/// The elements of an iterator of known length, collected into a vector allocated fallibly.
pub fn collect<T>(items: impl ExactSizeIterator<Item = T>, what: &'static str) -> Result<Vec<T>> {
    let mut v = with_capacity(items.len(), what)?;
    v.extend(items);
    Ok(v)
}

/// A zeroed n × n matrix, row-major; an `n` whose square overflows is refused like any other
/// size the allocator cannot give.
pub fn square(n: usize, what: &'static str) -> Result<Vec<f64>> {
    let len = n.checked_mul(n).ok_or(CoreError::OutOfMemory {
        what,
        bytes: (n as u128) * (n as u128) * 8,
    })?;
    filled(len, 0.0, what)
}

/// Room for `more` elements beyond the length, grown geometrically like `push` does, but
/// fallibly: call before pushing into a vector whose final size is not known in advance.
pub fn grow<T>(v: &mut Vec<T>, more: usize, what: &'static str) -> Result<()> {
    if v.capacity() - v.len() >= more {
        return Ok(());
    }
    let wanted = more.max(v.len()).max(1024);
    v.try_reserve(wanted)
        .map_err(|_| refused::<T>(what, v.len().saturating_add(wanted)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_impossible_size_is_an_error_not_an_abort() {
        // Half the address space: no allocator can give it.
        let err = filled(usize::MAX / 16, 0.0f64, "test buffer").unwrap_err();
        assert!(
            matches!(err, CoreError::OutOfMemory { what: "test buffer", bytes } if bytes > 1 << 60),
            "{err:?}"
        );
        assert!(matches!(
            square(1 << 33, "information"),
            Err(CoreError::OutOfMemory {
                what: "information",
                ..
            })
        ));
        let mut v: Vec<u64> = vec![1, 2];
        assert!(grow(&mut v, usize::MAX / 4, "answers").is_err());
        assert_eq!(v, [1, 2]);
    }

    #[test]
    fn possible_sizes_are_filled() {
        assert_eq!(filled(3, 7u8, "x").unwrap(), [7, 7, 7]);
        assert_eq!(square(2, "x").unwrap(), [0.0; 4]);
        assert_eq!(collect([1, 2].into_iter(), "x").unwrap(), [1, 2]);
        let mut v: Vec<u8> = Vec::new();
        grow(&mut v, 1, "x").unwrap();
        assert!(v.capacity() >= 1024);
    }
}
