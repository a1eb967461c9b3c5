//! The load generator's parts, as a library so tests can run the phases
//! in-process: [`run`] drives clients against an address, [`mix`] adds
//! reactions, edits and typing to its messages, [`payload`] encodes
//! what each message carries, [`report`] prints results, and [`server`]
//! starts and measures a `cove-server` process. The fault tests of
//! `cove-faults` live beside them: [`crash`] (SIGKILL and restart),
//! [`hostile`] (attacks during a chat), [`soak`] (the long run), built on the
//! bare client in [`raw`].

pub mod crash;
pub mod hostile;
pub mod mix;
pub mod payload;
pub mod raw;
pub mod report;
pub mod run;
pub mod server;
pub mod share;
pub mod soak;
