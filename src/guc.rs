//! The extension's settings, `pg_irt.*`, registered once at load.

use irt_core::settings::defaults;
use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting};
use pgrx::pg_sys;

/// Upper bound on calibration threads; 0 means the cores available.
pub static MAX_THREADS: GucSetting<i32> = GucSetting::<i32>::new(0);
/// The largest number of answers (rows in the window) a run may load.
pub static MAX_ANSWERS: GucSetting<i32> = GucSetting::<i32>::new(defaults::MAX_ANSWERS);
/// The most memory, in MB, a run may be predicted to hold before its fit starts.
pub static MAX_MEMORY_MB: GucSetting<i32> = GucSetting::<i32>::new(defaults::MAX_MEMORY_MB);

pub fn init() {
    GucRegistry::define_int_guc(
        c"pg_irt.max_threads",
        c"Largest number of threads a calibration uses (0: the cores available).",
        c"mirt_calibrate's threads argument is capped by this setting.",
        &MAX_THREADS,
        0,
        1024,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"pg_irt.max_answers",
        c"Largest number of answers in the window that a calibration loads.",
        c"A larger window is refused with SQLSTATE 54000: the read stops at the limit. A run peaks at about 25 bytes of backend memory per answer.",
        &MAX_ANSWERS,
        1,
        i32::MAX,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"pg_irt.max_memory",
        c"Most memory (MB) a calibration may be predicted to hold.",
        c"A run predicted to hold more (its answers, the E-step's accumulators, the information matrix, the scores) is refused with SQLSTATE 54000 naming the largest part, before the fit allocates it.",
        &MAX_MEMORY_MB,
        1,
        i32::MAX,
        GucContext::Suset,
        GucFlags::UNIT_MB,
    );
    // SAFETY: called from _PG_init in the backend's main thread with a static C string.
    unsafe { pg_sys::MarkGUCPrefixReserved(c"pg_irt".as_ptr()) };
}

/// Threads for a run: the requested count (or the cores), capped by pg_irt.max_threads.
pub fn threads(requested: Option<usize>) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let wanted = requested.unwrap_or(cores);
    match MAX_THREADS.get() {
        0 => wanted,
        cap => wanted.min(cap as usize),
    }
}
