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

impl Spawned {
    /// Starts `cove-server` from the directory of this executable, with a
    /// fresh temporary data directory.
    pub fn start() -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let mut s = Self::start_in(&dir.path().join("data"), "127.0.0.1:0")?;
        s._dir = Some(dir);
        Ok(s)
    }

    /// Starts `cove-server` on `listen` with its data in `data_dir`.
    pub fn start_in(data_dir: &Path, listen: &str) -> Result<Self> {
        let bin = server_binary()?;
        let mut child = Command::new(&bin)
            // Every simulated user registers from this one machine, and
            // the load generator measures capacity, not the per-user limit.
            .args(["--registrations-per-hour", "0"])
            .args(["--messages-per-second-per-user", "0"])
            .args(["--listen", listen, "--log-level", "warn", "--data-dir"])
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
