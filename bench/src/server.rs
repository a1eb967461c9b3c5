//! Running `cove-server` as a child process for a benchmark, and reading a
//! process's peak memory.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result, bail};

/// A server started for this run, with its own temporary data directory
/// unless given one.
pub struct Spawned {
    child: Child,
    /// Where it listens.
    pub addr: String,
    _dir: Option<tempfile::TempDir>,
}

/// The `cove-server` executable next to this one.
pub fn server_binary() -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let bin = exe
        .parent()
        .map(|d| d.join("cove-server"))
        .context("locating cove-server")?;
    if !bin.exists() {
        bail!(
            "{} not found: build it first with `cargo build --release -p cove-server`",
            bin.display()
        );
    }
    Ok(bin)
}

/// What every spawned server is started with, as `(flag, value)`: every
/// simulated user registers from this one machine, and the load generator
/// measures capacity, not the per-user limit. Extra arguments given to
/// [`Spawned::start_with`] replace these flag by flag (the server refuses
/// a flag given twice).
const DEFAULT_ARGS: [(&str, &str); 3] = [
    ("--registrations-per-hour", "0"),
    ("--messages-per-second-per-user", "0"),
    ("--log-level", "warn"),
];

impl Spawned {
    /// Starts `cove-server` from the directory of this executable, with a
    /// fresh temporary data directory.
    pub fn start() -> Result<Self> {
        Self::start_with(&[])
    }

    /// Like [`Spawned::start`], with extra server arguments, for example
    /// `&["--messages-per-second-per-user", "10"]` to turn a limit the
    /// benchmarks leave off back on. A flag among [`DEFAULT_ARGS`]
    /// replaces its default.
    pub fn start_with(extra: &[&str]) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let mut s = Self::launch(&dir.path().join("data"), "127.0.0.1:0", extra)?;
        s._dir = Some(dir);
        Ok(s)
    }

    /// Starts `cove-server` on `listen` with its data in `data_dir`.
    pub fn start_in(data_dir: &Path, listen: &str) -> Result<Self> {
        Self::launch(data_dir, listen, &[])
    }

    fn launch(data_dir: &Path, listen: &str, extra: &[&str]) -> Result<Self> {
        let bin = server_binary()?;
        let mut child = Command::new(&bin)
            .args(arguments(extra))
            .args(["--listen", listen, "--data-dir"])
            .arg(data_dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("running {}", bin.display()))?;
        let stdout = child.stdout.take().context("server stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let mut addr = None;
        for line in lines.by_ref() {
            let line = line?;
            if let Some(a) = line.strip_prefix("Cove server listening on ") {
                addr = Some(a.trim().to_owned());
                break;
            }
        }
        // Keep reading what the server prints, so it never writes into a
        // closed pipe.
        std::thread::spawn(move || lines.for_each(drop));
        let Some(addr) = addr else {
            let _ = child.kill();
            bail!("cove-server exited before listening");
        };
        Ok(Self {
            child,
            addr,
            _dir: None,
        })
    }

    /// Kills the server with SIGKILL, as a crash or power cut would.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the server gracefully (SIGTERM), killing it if it hangs.
    pub fn stop(mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// [`DEFAULT_ARGS`] less the flags `extra` sets, then `extra`.
fn arguments<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    DEFAULT_ARGS
        .iter()
        .filter(|(flag, _)| !extra.contains(flag))
        .flat_map(|&(flag, value)| [flag, value])
        .chain(extra.iter().copied())
        .collect()
}

/// Peak resident memory (VmHWM) of a process, in MiB.
pub fn peak_rss_mib(pid: u32) -> Option<f64> {
    rss_mib(pid, "VmHWM:")
}

/// A memory line of `/proc/PID/status` (`VmRSS:`, `VmHWM:`), in MiB.
pub fn rss_mib(pid: u32, field: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_arguments_replace_their_defaults() {
        let all = arguments(&["--messages-per-second-per-user", "10"]);
        assert_eq!(
            all,
            [
                "--registrations-per-hour",
                "0",
                "--log-level",
                "warn",
                "--messages-per-second-per-user",
                "10"
            ]
        );
        assert_eq!(arguments(&[]).len(), 2 * DEFAULT_ARGS.len());
    }
}
