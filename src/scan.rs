//! Streams a query's rows straight from the executor into a Rust closure. A DestReceiver gets
//! each result slot and hands its datums over; no tuple is formed, copied or kept, which makes
//! reading millions of answers several times cheaper than fetching them through an SPI cursor.
//! The executor checks for interrupts between rows, so a cancel stops the scan.

use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::PgSqlErrorCode;

use crate::errors::raise;

type RowSink<'a> = dyn FnMut(&[pg_sys::Datum], &[bool]) + 'a;

/// What the executor sees: a DestReceiver first, so that a pointer to it is a pointer to this.
#[repr(C)]
struct Receiver<'a> {
    base: pg_sys::DestReceiver,
    sink: *mut RowSink<'a>,
}

#[pg_guard]
unsafe extern "C-unwind" fn receive(
    slot: *mut pg_sys::TupleTableSlot,
    receiver: *mut pg_sys::DestReceiver,
) -> bool {
    // SAFETY: the executor passes back the receiver built in `for_each_row`, whose sink outlives
    // the query, and a slot valid for this call.
    unsafe {
        let receiver = &mut *(receiver as *mut Receiver);
        pg_sys::slot_getallattrs(slot);
        let n = (*slot).tts_nvalid as usize;
        let values = std::slice::from_raw_parts((*slot).tts_values, n);
        let nulls = std::slice::from_raw_parts((*slot).tts_isnull, n);
        (*receiver.sink)(values, nulls);
    }
    true
}

// Nothing to set up or tear down; these cannot fail, so they need no guard.
unsafe extern "C-unwind" fn startup(
    _: *mut pg_sys::DestReceiver,
    _: std::ffi::c_int,
    _: pg_sys::TupleDesc,
) {
}

unsafe extern "C-unwind" fn nothing(_: *mut pg_sys::DestReceiver) {}

/// Runs the read-only `query` (inside an SPI connection) with parameters of the given types and
/// values, calling `sink` with each row's datums and null flags. Datums that point into the row
/// are valid only during the call.
pub fn for_each_row(
    query: &str,
    params: &[(pg_sys::Oid, pg_sys::Datum)],
    mut sink: impl FnMut(&[pg_sys::Datum], &[bool]),
) {
    let failed = |what: &str, code: i32| -> ! {
        // SAFETY: SPI_result_code_string returns a static string for any code.
        let reason = unsafe { std::ffi::CStr::from_ptr(pg_sys::SPI_result_code_string(code)) };
        raise(
            PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
            format!("{what} failed: {}", reason.to_string_lossy()),
            None,
            None,
        )
    };
    let text = std::ffi::CString::new(query).expect("queries are built without NUL bytes");
    let mut types: Vec<pg_sys::Oid> = params.iter().map(|p| p.0).collect();
    let sink: &mut RowSink = &mut sink;
    let mut receiver = Receiver {
        base: pg_sys::DestReceiver {
            receiveSlot: Some(receive),
            rStartup: Some(startup),
            rShutdown: Some(nothing),
            rDestroy: Some(nothing),
            mydest: pg_sys::CommandDest::DestNone,
        },
        sink,
    };
    // SAFETY: plain SPI calls within the caller's connection; the parameter list is allocated by
    // PostgreSQL with room for every parameter, and the plan is freed before returning.
    unsafe {
        let plan = pg_sys::SPI_prepare(text.as_ptr(), types.len() as i32, types.as_mut_ptr());
        if plan.is_null() {
            failed("preparing the read", pg_sys::SPI_result);
        }
        let list = pg_sys::makeParamList(params.len() as i32);
        let slots = (*list).params.as_mut_slice(params.len());
        for (slot, &(ptype, value)) in slots.iter_mut().zip(params) {
            *slot = pg_sys::ParamExternData {
                value,
                isnull: false,
                pflags: pg_sys::PARAM_FLAG_CONST as u16,
                ptype,
            };
        }
        let options = pg_sys::SPIExecuteOptions {
            params: list,
            read_only: true,
            dest: &mut receiver.base,
            ..Default::default()
        };
        let code = pg_sys::SPI_execute_plan_extended(plan, &options);
        if code < 0 {
            failed("the read", code);
        }
        pg_sys::SPI_freeplan(plan);
    }
}
