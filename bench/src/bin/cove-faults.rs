//! `cove-faults`: the fault and overload tests of Cove, each one command
//! against a real `cove-server` process (built next to this executable).
//! See `cove-faults --help` and docs/reliability.md.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use cove_bench::hostile::{self, Attack, Scale};
use cove_bench::{crash, report, run, server, soak};

/// Fault and overload tests against a real cove-server.
#[derive(Debug, Parser)]
#[command(name = "cove-faults", version, about, long_about)]
struct Args {
    #[command(subcommand)]
    test: Test,
}

#[derive(Debug, Subcommand)]
enum Test {
    /// Chat traffic while the server is killed with SIGKILL at random
    /// moments and restarted; then check every acknowledged message is in
    /// every member's history and every account logs in. Exits non-zero if
    /// anything is missing.
    Crash {
        /// Kills.
        #[arg(long, default_value_t = 20)]
        rounds: usize,
        /// Room members sending messages.
        #[arg(long, default_value_t = 10)]
        clients: usize,
        /// Messages per second per member.
        #[arg(long, default_value_t = 100.0)]
        rate: f64,
        /// Earliest kill after a start, in milliseconds.
        #[arg(long, default_value_t = 300)]
        min_ms: u64,
        /// Latest kill after a start, in milliseconds.
        #[arg(long, default_value_t = 3000)]
        max_ms: u64,
        /// Accounts registered in each round.
        #[arg(long, default_value_t = 2)]
        registrations: usize,
    },
    /// Well-behaved clients chat at a fixed rate while one kind of hostile
    /// client attacks; reports their latency and losses and what the server
    /// did to the attacker. `all` runs the baseline and every attack, each on
    /// a fresh server.
    Hostile {
        /// The attack, or `all`.
        #[arg(long, default_value = "all")]
        attack: String,
        /// Well-behaved clients (one room).
        #[arg(long, default_value_t = 100)]
        clients: usize,
        /// Messages each sends.
        #[arg(long, default_value_t = 100)]
        messages: usize,
        /// Aggregate messages per second.
        #[arg(long, default_value_t = 500.0)]
        rate: f64,
        /// Bytes of text per message.
        #[arg(long, default_value_t = 100)]
        size: usize,
        /// Half-open connections.
        #[arg(long, default_value_t = 5_000)]
        half_open: usize,
        /// Wrong-password logins.
        #[arg(long, default_value_t = 10_000)]
        wrong_passwords: u64,
    },
    /// Steady mixed traffic (chat, direct messages, joins, leaves, log-outs,
    /// dropped connections, reconnects) for a long time, sampling the
    /// server's memory and open files.
    Soak {
        /// Minutes to run.
        #[arg(long, default_value_t = 60.0)]
        minutes: f64,
        /// Simulated users.
        #[arg(long, default_value_t = 60)]
        clients: usize,
        /// Rooms.
        #[arg(long, default_value_t = 4)]
        rooms: usize,
        /// Messages per second per online user.
        #[arg(long, default_value_t = 2.0)]
        rate: f64,
        /// Seconds between samples.
        #[arg(long, default_value_t = 60)]
        sample: u64,
    },
}

fn main() -> Result<()> {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match args.test {
        Test::Crash {
            rounds,
            clients,
            rate,
            min_ms,
            max_ms,
            registrations,
        } => {
            let dir = tempfile::tempdir()?;
            let plan = crash::CrashPlan {
                rounds,
                clients,
                rate_per_client: rate,
                kill_after_ms: (min_ms, max_ms),
                registrations_per_round: registrations,
            };
            let o = rt.block_on(crash::run(&plan, &dir.path().join("data")))?;
            println!("SIGKILLs                         {}", o.kills);
            println!("server starts on the data        {}", o.starts);
            println!("acknowledged messages            {}", o.acked);
            println!("history checks (acked x members) {}", o.checks);
            println!("missing from a history           {}", o.missing);
            println!("history records read back        {}", o.history_records);
            println!("acknowledged accounts            {}", o.accounts);
            println!("accounts that failed to log in   {}", o.logins_failed);
            if o.missing > 0 || o.logins_failed > 0 || o.acked == 0 {
                bail!("crash safety failed");
            }
        }
        Test::Hostile {
            attack,
            clients,
            messages,
            rate,
            size,
            half_open,
            wrong_passwords,
        } => {
            let attacks: Vec<Attack> = if attack == "all" {
                use clap::ValueEnum;
                Attack::value_variants().to_vec()
            } else {
                vec![
                    <Attack as clap::ValueEnum>::from_str(&attack, true)
                        .map_err(anyhow::Error::msg)?,
                ]
            };
            let scale = Scale {
                half_open,
                wrong_passwords,
                ..Scale::default()
            };
            let plan = run::Plan {
                clients,
                rooms: 1,
                messages,
                size: size.clamp(32, cove_common::limits::MESSAGE_MAX_CHARS),
                rate: Some(rate),
                // All from 127.0.0.1: logins past the throttle's free
                // attempts in flight queue behind the others (never refused
                // when their passwords are right).
                concurrency: 32,
                window: 16,
                drain: Duration::from_secs(10),
                storm: 0,
                offline: 0,
                server_pid: None,
                mix: false,
                file_bytes: 0,
                file_downloads: 0,
            };
            let mut failed = false;
            for attack in attacks {
                let args = attack.server_args(&scale);
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let s = server::Spawned::start_with(&args).context("starting cove-server")?;
                let pid = s.pid();
                let plan = match attack.message_size() {
                    Some(size) => run::Plan {
                        size,
                        ..plan.clone()
                    },
                    None => plan.clone(),
                };
                // The chatters' run and the attackers that join their room
                // share one tag, so they meet in the same room.
                let tag = run::run_tag();
                let result = rt.block_on(async {
                    let room = run::room_of(&tag, 0, plan.rooms);
                    let prepared = hostile::prepare(&s.addr, attack, room).await?;
                    let (tx, rx) = tokio::sync::oneshot::channel();
                    let scale = scale.clone();
                    let outcome = run::run_with(&s.addr, &plan, &tag, async move {
                        let _ = tx.send(prepared.start(scale).await);
                    })
                    .await?;
                    let attack_report = match rx.await {
                        Ok(running) => running.finish().await,
                        Err(_) => Default::default(),
                    };
                    Ok::<_, anyhow::Error>((outcome, attack_report))
                });
                let rss = server::peak_rss_mib(pid);
                let fds = soak::open_fds(pid);
                s.stop();
                let (outcome, attack_report) = result?;
                let r = report::Report::new(&plan, &outcome, rss, report::own_cpu_seconds());
                println!("== attack: {attack:?}");
                for (k, v) in &attack_report.facts {
                    println!("   {k}: {v}");
                }
                println!(
                    "   chatters: {} deliveries of {} ({} lost, {} duplicated), p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; server peak RSS {:.0} MiB, open fds at the end {}",
                    r.deliveries_received(),
                    r.deliveries_expected(),
                    r.lost,
                    r.duplicates,
                    r.p50_ms(),
                    r.p99_ms(),
                    r.max_ms(),
                    rss.unwrap_or(0.0),
                    fds.map_or("?".into(), |f| f.to_string()),
                );
                for f in &attack_report.failures {
                    println!("   FAILED: {f}");
                }
                failed |= r.lost > 0 || r.duplicates > 0 || !attack_report.failures.is_empty();
            }
            if failed {
                bail!("an attack did harm (see FAILED above) or deliveries were lost");
            }
        }
        Test::Soak {
            minutes,
            clients,
            rooms,
            rate,
            sample,
        } => {
            let s = server::Spawned::start().context("starting cove-server")?;
            let plan = soak::SoakPlan {
                duration: Duration::from_secs_f64(minutes * 60.0),
                clients,
                rooms,
                rate_per_client: rate,
                sample_every: Duration::from_secs(sample),
            };
            let o = rt.block_on(soak::run(&s.addr, s.pid(), &plan));
            s.stop();
            let o = o?;
            let first = o.samples.get(1).or(o.samples.first());
            let last = o.samples.last();
            println!(
                "messages sent {}, acknowledged {}, never acknowledged {}",
                o.sent, o.acked, o.unacked
            );
            println!(
                "sessions {}, joins and leaves {}, errors {}",
                o.sessions, o.joins_leaves, o.errors
            );
            if let (Some(a), Some(b)) = (first, last) {
                println!(
                    "server RSS {:.1} MiB at {:.0} s -> {:.1} MiB at {:.0} s; open fds {} -> {}",
                    a.rss_mib, a.at_s, b.rss_mib, b.at_s, a.fds, b.fds
                );
            }
            if o.unacked > 0 {
                bail!("{} messages were never acknowledged", o.unacked);
            }
        }
    }
    Ok(())
}
