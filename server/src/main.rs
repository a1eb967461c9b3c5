//! `cove-server`: the thin binary around the [`cove_server`] library.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use cove_common::{Password, Username};
use cove_server::admin::Admin;
use cove_server::config::passphrase_from_env;
use cove_server::{Config, DEFAULT_LISTEN, KdfParams, Server, default_data_dir};
use zeroize::Zeroizing;

/// The Cove chat server: accounts, rooms, live delivery and encrypted
/// storage.
///
/// If the environment variable COVE_PASSPHRASE is set, the storage key is
/// protected by that passphrase (Argon2id), so a copy of the data directory
/// alone opens nothing; it must then be set on every start. Alternatively
/// COVE_PASSPHRASE_FILE names a file holding it (read once at start; one
/// trailing newline is ignored, an empty file means no passphrase), such as
/// a systemd credential. The passphrase is never taken as an argument.
#[derive(Debug, Parser)]
#[command(name = "cove-server", version, about, long_about)]
struct Args {
    /// Address and port to listen on. Use 0.0.0.0:7878 to accept connections
    /// from other machines.
    #[arg(long, default_value = DEFAULT_LISTEN, value_name = "HOST:PORT")]
    listen: String,

    /// Directory for the server's keys, accounts (users.json) and chat
    /// histories. Created with mode 0700 if missing. Defaults to the platform
    /// data directory (e.g. ~/.local/share/cove-server).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,

    /// Log verbosity: error, warn, info, debug or trace (or a tracing filter
    /// such as "cove_server=debug"). Logs never contain passwords, keys or
    /// message text.
    #[arg(long, default_value = "info", value_name = "LEVEL")]
    log_level: String,

    /// Accounts one client address may create per hour (a burst of that many,
    /// then one every 3600/N seconds). 0 removes the limit, for example for
    /// load tests that register thousands of accounts from one machine.
    #[arg(long, default_value_t = 60, value_name = "N")]
    registrations_per_hour: u32,

    /// Connections from one client address (an IPv6 /64 counts as one) that
    /// may be open without having logged in yet; more are closed at once.
    /// Every connection must log in within 30 seconds of connecting.
    #[arg(long, default_value_t = 128, value_name = "N")]
    max_unauthenticated_per_address: usize,

    /// Messages one user may send per second, sustained (bursts of three
    /// seconds' worth); faster senders get a `rate_limited` error. 0 removes
    /// the limit, for example for load tests.
    #[arg(long, default_value_t = 10, value_name = "N")]
    messages_per_second_per_user: u32,

    /// The largest file a user may send, in bytes (25 MiB by default); 0
    /// turns files off.
    #[arg(long, default_value_t = 25 << 20, value_name = "BYTES")]
    max_file_bytes: u64,

    /// Bytes of files one user may have stored (sent and not deleted,
    /// plus uploads in progress); 1 GiB by default.
    #[arg(long, default_value_t = 1 << 30, value_name = "BYTES")]
    file_quota_bytes: u64,

    /// Instead of serving: an operator command on the data directory of a
    /// stopped server.
    #[command(subcommand)]
    command: Option<Command>,
}

/// Operator commands. They refuse to run while a server uses the data
/// directory.
#[derive(Debug, Subcommand)]
enum Command {
    /// The accounts of a stopped server.
    ///
    /// reset-password and delete ask for the account's name to confirm
    /// (unless --yes), on standard input; reset-password then asks for the
    /// new password twice, on the terminal without echo. When standard
    /// input is not a terminal (a script or a pipe), every answer is read
    /// from it instead, one line each: the name, the password, the same
    /// again.
    Accounts {
        #[command(subcommand)]
        action: AccountsCmd,
    },
}

#[derive(Debug, Subcommand)]
enum AccountsCmd {
    /// List every account.
    List,
    /// Give an account a new password; it starts a new, empty history.
    ///
    /// The password is read from the terminal, or, when standard input is
    /// not a terminal, as its next two lines (the password, then the same
    /// again). The old history is sealed to a key only the old password
    /// opens: the account starts a new, empty history, and the old one is
    /// kept aside, renamed.
    ResetPassword {
        /// The account.
        name: Username,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Delete an account, its memberships and its history. The name stays
    /// taken; messages it sent stay with their recipients.
    Delete {
        /// The account.
        name: Username,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Ban an account: it cannot log in (its logins are refused with the
    /// error `banned`) until it is unbanned. Its rooms, history and name
    /// stay.
    Ban {
        /// The account.
        name: Username,
    },
    /// Lift an account's ban.
    Unban {
        /// The account.
        name: Username,
    },
    /// Make an account a moderator of #general, which nobody owns.
    ModerateGeneral {
        /// The account.
        name: Username,
        /// Make them a plain member again.
        #[arg(long)]
        off: bool,
    },
}

fn main() -> Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&args.log_level)
                .with_context(|| format!("invalid --log-level {:?}", args.log_level))?,
        )
        .with_writer(std::io::stderr)
        .init();

    let data_dir = match args.data_dir {
        Some(d) => d,
        None => default_data_dir()
            .context("no platform data directory could be found; pass --data-dir to choose one")?,
    };
    let passphrase = passphrase_from_env()?;
    if let Some(command) = args.command {
        return operate(command, &data_dir, passphrase.as_ref());
    }
    let mut config = Config::new(args.listen, data_dir.clone());
    config.passphrase = passphrase;
    config.registrations_per_address_per_hour = args.registrations_per_hour;
    config.max_unauthenticated_per_address = args.max_unauthenticated_per_address;
    config.messages_per_second_per_user = args.messages_per_second_per_user;
    config.max_file_bytes = args.max_file_bytes;
    config.file_quota_bytes = args.file_quota_bytes;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let server = Server::bind(config).await?;
        // A closed stdout (a parent that stopped reading) must not stop the
        // server, so write errors are ignored rather than panicking.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "Cove server listening on {}", server.local_addr());
        let _ = writeln!(out, "Data directory: {}", data_dir.display());
        let _ = writeln!(
            out,
            "Server fingerprint (clients will be asked to trust it): {}",
            server.public_key().fingerprint()
        );
        let _ = out.flush();
        drop(out);
        server.run(shutdown_signal()).await;
        Ok::<(), anyhow::Error>(())
    })?;
    Ok(())
}

/// Runs an operator command.
fn operate(
    command: Command,
    data_dir: &std::path::Path,
    passphrase: Option<&Zeroizing<String>>,
) -> Result<()> {
    let Command::Accounts { action } = command;
    let mut admin = Admin::open(data_dir, passphrase)?;
    match action {
        AccountsCmd::List => {
            for a in admin.accounts() {
                let role = if a.moderates_general {
                    "  (moderates #general)"
                } else {
                    ""
                };
                let banned = if a.banned { "  (banned)" } else { "" };
                println!("{}\t{} rooms{role}{banned}", a.name, a.rooms);
            }
        }
        AccountsCmd::ResetPassword { name, yes } => {
            confirm(
                yes,
                &name,
                &format!(
                    "Resetting {name}'s password starts them a new, empty history: the old one \
                     is sealed to a key only the old password opens, and is kept aside, renamed."
                ),
            )?;
            let first = Zeroizing::new(ask_password(&format!("New password for {name}: "))?);
            let again = Zeroizing::new(ask_password("The same again: ")?);
            anyhow::ensure!(
                first == again,
                "the two passwords differ; nothing was changed"
            );
            let password = Password::new(first.as_str())?;
            let kept = admin.reset_password(&name, &password, &KdfParams::production())?;
            println!("{name} can now log in with the new password.");
            for k in kept {
                println!("Old history kept aside: {}", k.display());
            }
        }
        AccountsCmd::Delete { name, yes } => {
            confirm(
                yes,
                &name,
                &format!("Deleting {name} removes the account and its history for good."),
            )?;
            admin.delete_account(&name)?;
            println!("{name} is deleted; the name stays taken.");
        }
        AccountsCmd::Ban { name } => {
            let was = admin.ban(&name, true)?;
            if was {
                println!("{name} was already banned.");
            } else {
                println!(
                    "{name} is banned: their logins are refused until `accounts unban {name}`."
                );
            }
        }
        AccountsCmd::Unban { name } => {
            let was = admin.ban(&name, false)?;
            if was {
                println!("{name} is no longer banned and can log in again.");
            } else {
                println!("{name} was not banned.");
            }
        }
        AccountsCmd::ModerateGeneral { name, off } => {
            admin.moderate_general(&name, !off)?;
            let now = if off { "a member" } else { "a moderator" };
            println!("{name} is now {now} of #general.");
        }
    }
    Ok(())
}

/// Says what is about to happen and asks for the account's name, unless
/// `yes`.
fn confirm(yes: bool, name: &Username, what: &str) -> Result<()> {
    if yes {
        return Ok(());
    }
    println!("{what}");
    print!("Type the account's name to go on: ");
    std::io::stdout().flush()?;
    let mut typed = String::new();
    std::io::stdin().read_line(&mut typed)?;
    anyhow::ensure!(
        typed.trim().eq_ignore_ascii_case(name.as_str()),
        "not confirmed; nothing was changed"
    );
    Ok(())
}

/// Reads a password: from the terminal without echo, or, when standard
/// input is not a terminal, as its next line (without the line ending).
fn ask_password(prompt: &str) -> Result<String> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        return Ok(rpassword::prompt_password(prompt)?);
    }
    let mut line = String::new();
    let read = std::io::stdin().read_line(&mut line)?;
    anyhow::ensure!(
        read > 0,
        "no password on standard input; nothing was changed"
    );
    let end = line.trim_end_matches(['\r', '\n']).len();
    line.truncate(end);
    Ok(line)
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
