//! The pinned servers in the settings: read from the pin file
//! ([`crate::trust`]) when the settings open, and forgotten on request.

use super::CoveApp;
use crate::net::NetCommand;
use crate::trust::KnownServers;
use crate::ui::servers::Servers;

impl CoveApp {
    /// Reads the pins for the settings window when it opens; forgets them
    /// when it closes, so that the next opening shows the file as it is
    /// then (a server trusted meanwhile, or edited by hand).
    pub(super) fn servers_for_settings(&mut self) {
        if !self.view.settings_open() {
            self.view.servers = None;
        } else if self.view.servers.is_none() {
            self.view.servers = Some(self.read_servers(None));
        }
    }

    fn read_servers(&self, problem: Option<String>) -> Servers {
        let current = Some(self.settings.server.clone());
        match KnownServers::load(&self.opts.config_dir) {
            Ok(known) => Servers {
                current,
                pinned: known.list(),
                problem,
            },
            Err(e) => Servers {
                current,
                pinned: Vec::new(),
                problem: Some(e.to_string()),
            },
        }
    }

    /// Forgets the pin of `addr`; forgetting the server in use also logs
    /// out (the settings asked first), so no session runs on a key the
    /// app no longer trusts.
    pub(super) fn forget_server(&mut self, addr: &str) {
        let done = KnownServers::load(&self.opts.config_dir)
            .map_err(|e| e.to_string())
            .and_then(|mut k| k.forget(addr).map_err(|e| e.to_string()));
        let problem = match done {
            Ok(_) => None,
            Err(e) => Some(format!("Could not forget {addr}: {e}")),
        };
        if problem.is_none() && addr == self.settings.server {
            self.logging_out = true;
            self.net(NetCommand::Logout);
        }
        self.view.servers = Some(self.read_servers(problem));
    }
}
