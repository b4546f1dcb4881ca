//! `pg-irt promote`: the extension's `mirt_promote` from outside the database, in one
//! transaction: the store's promotion (`irt_store::promote`), committed only when it applies.

use irt_core::promotion::Rules;
use irt_store::Promotion;
use tokio::runtime::Runtime;
use tokio_postgres::Client;

use crate::failure::Failure;
use crate::session::Connection;

/// What to judge, by which rules, where the bank is, and whether to change it.
pub struct Request<'a> {
    pub run_id: Option<&'a str>,
    pub rules: Rules,
    pub items: &'a str,
    pub apply: bool,
}

pub fn run(
    runtime: &Runtime,
    client: &mut Client,
    request: &Request,
) -> Result<Promotion, Failure> {
    let mut session = Connection {
        runtime,
        tx: runtime.block_on(client.transaction())?,
    };
    let done = irt_store::promote(
        &mut session,
        request.run_id,
        &request.rules,
        request.items,
        request.apply,
    )?;
    runtime.block_on(session.tx.commit())?;
    Ok(done)
}
