//! `cove-bench`: load generator for the Cove server. One command runs a
//! whole benchmark and stops by itself; see `cove-bench --help`.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Parser;
use cove_bench::{report, run, server};

/// Measures a Cove server: registrations, logins, and fan-out of messages to
/// rooms (throughput, end-to-end latency, losses, server memory).
#[derive(Debug, Parser)]
#[command(name = "cove-bench", version, about, long_about)]
struct Args {
    /// Start a `cove-server` (from the same target directory) on
    /// 127.0.0.1:0 with a fresh temporary data directory.
    #[arg(long, conflicts_with = "addr")]
    spawn_server: bool,
    /// Target a running server instead.
    #[arg(long, value_name = "HOST:PORT")]
    addr: Option<String>,
    /// The running server's process id, to report its peak memory.
    #[arg(long, value_name = "PID", requires = "addr")]
    server_pid: Option<u32>,
    /// Simulated users, each with its own connection.
    #[arg(long, default_value_t = 100)]
    clients: usize,
    /// Rooms the clients are spread over (client i joins room i mod rooms).
    #[arg(long, default_value_t = 1)]
    rooms: usize,
    /// Messages each client sends; 0 for idle mode (connect and log in
    /// every client, hold the connections for `--drain` seconds, report the
    /// server's memory).
    #[arg(long, default_value_t = 20)]
    messages: usize,
    /// Bytes of text per message.
    #[arg(long, default_value_t = 100)]
    size: usize,
    /// Aggregate messages per second across all clients; without it, every
    /// client sends as fast as its messages are acknowledged.
    #[arg(long)]
    rate: Option<f64>,
    /// Registrations or logins in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Unacknowledged messages allowed per client.
    #[arg(long, default_value_t = 16)]
    window: usize,
    /// Seconds to wait for deliveries after the last message was sent.
    #[arg(long, default_value_t = 10)]
    drain: u64,
    /// Extra accounts that all log in while the messages flow (a login
    /// storm), at `--concurrency` at a time.
    #[arg(long, default_value_t = 0)]
    storm: usize,
    /// Extra members of the rooms (spread over them like the clients) who
    /// register, join and disconnect before the messages: registered but
    /// never online, so every message is also stored for them.
    #[arg(long, default_value_t = 0)]
    offline: usize,
    /// Hard limit for the whole run, in seconds.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
    /// A mixed workload: of every 20 requests, 17 messages, 2 reactions
    /// and 1 edit, and `typing` before messages at most every 3 s.
    #[arg(long)]
    mix: bool,
    /// Bytes of a file one more member of the first room uploads and sends
    /// there while the messages flow (e.g. 5242880); 0 for none.
    #[arg(long, default_value_t = 0)]
    file_bytes: usize,
    /// Members of the first room who then download that file, each from a
    /// second session, all at once.
    #[arg(long, default_value_t = 10)]
    file_downloads: usize,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

fn main() -> Result<()> {
    let args = Args::parse();
    if args.messages > 0 && (args.clients < 2 || args.rooms == 0 || args.rooms > args.clients / 2) {
        bail!(
            "need at least 2 clients per room (got {} clients, {} rooms)",
            args.clients,
            args.rooms
        );
    }
    let size = args.size.clamp(32, cove_common::limits::MESSAGE_MAX_CHARS);
    let plan = run::Plan {
        clients: args.clients,
        rooms: args.rooms,
        messages: args.messages,
        size,
        rate: args.rate,
        concurrency: args.concurrency,
        window: args.window,
        drain: Duration::from_secs(args.drain),
        storm: args.storm,
        offline: args.offline,
        server_pid: None,
        mix: args.mix,
        file_bytes: args.file_bytes,
        file_downloads: args.file_downloads,
    };
    let mut spawned = None;
    let (addr, pid) = if args.spawn_server {
        let s = server::Spawned::start().context("starting cove-server")?;
        let a = (s.addr.clone(), Some(s.pid()));
        spawned = Some(s);
        a
    } else {
        match args.addr.clone() {
            Some(a) => (a, args.server_pid),
            None => bail!("pass --spawn-server or --addr HOST:PORT"),
        }
    };
    let plan = run::Plan {
        server_pid: pid,
        ..plan
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let tag = run::run_tag();
    let outcome = rt.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(args.timeout),
            run::run(&addr, &plan, &tag),
        )
        .await
    });
    let rss = pid.and_then(server::peak_rss_mib);
    if let Some(s) = spawned.take() {
        s.stop();
    }
    let outcome = match outcome {
        Ok(r) => r?,
        Err(_) => bail!("the benchmark did not finish within {} s", args.timeout),
    };
    let report = report::Report::new(&plan, &outcome, rss, report::own_cpu_seconds());
    if args.json {
        println!("{}", report.json());
    } else {
        print!("{}", report.table());
    }
    if report.lost > 0 || report.duplicates > 0 {
        bail!(
            "{} deliveries lost, {} duplicated",
            report.lost,
            report.duplicates
        );
    }
    Ok(())
}
