//! The load generator's parts, as a library so tests can run the phases
//! in-process: [`run`] drives clients against an address, [`payload`] encodes
//! what each message carries, [`report`] prints results, and [`server`]
//! starts and measures a `cove-server` process.

pub mod payload;
pub mod report;
pub mod run;
pub mod server;
