//! The client side of `scripts/disk-trouble.sh`: real clients against a
//! running `cove-server` whose data directory is a small tmpfs.
//!
//! `run` registers users, then goes through the phases: normal, disk full,
//! space back, read-only, writable again. Between phases it runs the hook
//! command given with `--hook` (`<hook> fill`, `unfill`, `ro`, `rw`), which
//! changes the disk. Every request gets a reply within `--timeout` or counts
//! as a hang. At the end it checks, through the same server, that every
//! acknowledged message is in every recipient's history exactly once, and
//! writes what it expects to `--state`.
//!
//! `verify` (after the script restarted the server) logs every account in
//! and checks the histories against `--state` again.
//!
//! The parts: `client` (a session with replies and live messages),
//! `attempt` (a message tried and the figures of a phase), `driver` (the
//! phases) and `check` (what must be in the histories afterwards).
#![allow(missing_docs)]

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;

mod attempt;
mod check;
mod client;
mod driver;

use check::{Expected, check};
use client::{Client, LiveDeliveries};
use driver::TroubleDriver;

#[derive(Debug, Parser)]
struct Args {
    /// `run` or `verify`.
    mode: String,
    /// The server's address.
    #[arg(long)]
    addr: String,
    /// Command run between phases with one argument: fill, unfill, ro, rw.
    #[arg(long, default_value = "true")]
    hook: String,
    /// Where the expected histories are written (run) or read (verify).
    #[arg(long)]
    state: std::path::PathBuf,
    /// Users taking part.
    #[arg(long, default_value_t = 6)]
    users: usize,
    /// Messages each user sends to #general in each phase (plus one direct
    /// message).
    #[arg(long, default_value_t = 10)]
    per_user: usize,
    /// Messages each user sends, all users at once, while the disk fills.
    #[arg(long, default_value_t = 100)]
    filling: usize,
    /// A request not answered within this many seconds is a hang.
    #[arg(long, default_value_t = 15)]
    timeout: u64,
}

async fn run(args: &Args) -> Result<bool> {
    let timeout = Duration::from_secs(args.timeout);
    let live = Arc::new(LiveDeliveries::default());
    let names: Vec<String> = (0..args.users).map(|i| format!("disk{i}")).collect();
    let mut clients = Vec::new();
    for name in &names {
        clients.push(
            Client::connect(&args.addr, name, true, live.clone(), timeout)
                .await
                .with_context(|| format!("registering {name}"))?,
        );
    }
    let mut d = TroubleDriver {
        addr: args.addr.clone(),
        hook: args.hook.clone(),
        clients,
        names: names.clone(),
        acked: Vec::new(),
        failed: Vec::new(),
        live,
        timeout,
        per_user: args.per_user,
        accounts: names,
    };
    let mut ok = true;

    let t = d.chatter("before").await;
    println!("phase normal:        {}", t.line());
    let acked_before = t.acked;
    ok &= t.acked > 0 && t.hangs == 0 && t.storage_errors == 0;

    let (full, ok_full) = d
        .in_trouble("fill", "disk full", "full", "latefull")
        .await?;
    let (acked_after_full, ok_back) = d
        .recover("unfill", "space back", "after", "latefull")
        .await?;
    let (ro, ok_ro) = d
        .in_trouble("ro", "read-only", "readonly", "lateronly")
        .await?;
    let (acked_after_ro, ok_rw) = d.recover("rw", "writable again", "rw", "lateronly").await?;
    ok &= ok_full && ok_back && ok_ro && ok_rw;

    // The disk fills up while everyone is sending.
    let t = d.fill_during_traffic(args.filling).await?;
    println!("phase filling during traffic: {}", t.line());
    if let Some(e) = &t.example_error {
        println!("   error seen by a sender: {e}");
    }
    let filling = t;
    let shown_filling = d.shown_although_failed().await;
    println!(
        "   live deliveries of refused messages: {shown_filling} (to {} other users)",
        d.clients.len() - 1
    );
    d.hook("unfill")?;
    let resent = d.resend_failed().await;
    println!("phase space back, re-sent failed: {}", resent.line());
    ok &= filling.hangs == 0
        && filling.other_errors == 0
        && filling.closed == 0
        && filling.storage_errors > 0
        && resent.storage_errors == 0
        && resent.other_errors == 0
        && resent.hangs == 0;

    let expected = d.expected();
    std::fs::write(&args.state, serde_json::to_vec_pretty(&expected)?)?;
    let (logged_in, missing, dups, unexpected) = check(&args.addr, &expected, timeout).await?;
    println!("== figures (same server, no restart)");
    println!("messages acked before the disk filled: {acked_before}");
    println!(
        "while full: storage errors {}, acked anyway (fitted in already allocated space) {}, hangs {}",
        full.storage_errors, full.acked, full.hangs
    );
    println!("acked after space came back (re-sent + new): {acked_after_full}");
    println!(
        "while read-only: storage errors {}, acked {}, hangs {}",
        ro.storage_errors, ro.acked, ro.hangs
    );
    println!("acked after it became writable (re-sent + new): {acked_after_ro}");
    println!(
        "filling during traffic ({} senders at once): acked {}, storage errors {}, hangs {}; re-sent after: acked {}",
        d.clients.len(),
        filling.acked,
        filling.storage_errors,
        filling.hangs,
        resent.acked
    );
    println!(
        "acked in total: {}; live messages received by the clients: {}",
        d.acked.len(),
        d.live.count.load(Ordering::Relaxed)
    );
    println!(
        "accounts logging in: {logged_in}/{}; missing = {missing}; duplicates = {dups}; unexpected = {unexpected}",
        expected.accounts.len()
    );
    ok &= logged_in == expected.accounts.len() && missing == 0 && dups == 0 && unexpected == 0;
    Ok(ok)
}

async fn verify(args: &Args) -> Result<bool> {
    let expected: Expected = serde_json::from_slice(&std::fs::read(&args.state)?)?;
    let (logged_in, missing, dups, unexpected) =
        check(&args.addr, &expected, Duration::from_secs(args.timeout)).await?;
    println!(
        "after restart: accounts logging in: {logged_in}/{}; missing = {missing}; duplicates = {dups}; unexpected = {unexpected}",
        expected.accounts.len()
    );
    Ok(logged_in == expected.accounts.len() && missing == 0 && dups == 0 && unexpected == 0)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let result = match args.mode.as_str() {
        "run" => run(&args).await,
        "verify" => verify(&args).await,
        other => Err(anyhow::anyhow!("unknown mode {other}; use run or verify")),
    };
    match result {
        Ok(true) => {
            println!("RESULT: PASS");
            ExitCode::SUCCESS
        }
        Ok(false) => {
            println!("RESULT: FAIL");
            ExitCode::FAILURE
        }
        Err(e) => {
            println!("RESULT: ERROR {e:#}");
            ExitCode::FAILURE
        }
    }
}
