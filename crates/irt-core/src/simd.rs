//! The hot loops compiled a second time with AVX2, chosen at run time. A portable x86-64 build
//! may only assume SSE2, two doubles per instruction; the loops over quadrature nodes are plain
//! element-wise adds and multiplies that AVX2 does four at a time. No fused multiply-add is
//! enabled and Rust never reorders floating-point arithmetic, so both copies compute every bit
//! alike: results do not depend on the machine.

/// Whether this CPU runs the AVX2 copies (detected once, then a cached load).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) fn has_avx2() -> bool {
    #[cfg(test)]
    if tests::PORTABLE.load(std::sync::atomic::Ordering::Relaxed) {
        return false;
    }
    std::arch::is_x86_feature_detected!("avx2")
}

/// Defines a function compiled twice, portable and with AVX2, that calls the AVX2 copy where
/// the CPU has it. Only the body and what it inlines get the wider instructions, so the helpers
/// of its inner loops are `#[inline(always)]`.
macro_rules! multiversion {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn portable($($arg: $ty),*) $(-> $ret)? $body

            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2")]
            fn avx2($($arg: $ty),*) $(-> $ret)? {
                portable($($arg),*)
            }

            #[cfg(target_arch = "x86_64")]
            if $crate::simd::has_avx2() {
                // SAFETY: the CPU has AVX2, checked just above.
                return unsafe { avx2($($arg),*) };
            }
            portable($($arg),*)
        }
    };
}
pub(crate) use multiversion;

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    /// Makes every multiversioned function take its portable copy while set. Other tests may
    /// run meanwhile: they compute the same bits either way, which is what the tests of the
    /// copies assert.
    pub(crate) static PORTABLE: AtomicBool = AtomicBool::new(false);

    /// `f` run with the AVX2 copies (where the CPU has them) and with the portable ones; one
    /// such comparison at a time, so that none switches the copies under another.
    pub(crate) fn both<R>(f: impl Fn() -> R) -> (R, R) {
        static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let wide = f();
        PORTABLE.store(true, Ordering::Relaxed);
        let portable = f();
        PORTABLE.store(false, Ordering::Relaxed);
        (wide, portable)
    }
}
