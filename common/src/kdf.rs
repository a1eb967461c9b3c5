//! Argon2id cost parameters and their presets, named once for the server
//! (which hashes with them) and the desktop app (which hosts a server and
//! picks the preset).

/// Argon2id cost parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_cost_kib: u32,
    /// Iterations.
    pub t_cost: u32,
    /// Parallelism.
    pub p_cost: u32,
}

impl KdfParams {
    /// OWASP's recommended minimum for Argon2id (19 MiB, 2 iterations, 1
    /// lane). Always used by the `cove-server` binary.
    pub fn production() -> Self {
        Self {
            m_cost_kib: 19 * 1024,
            t_cost: 2,
            p_cost: 1,
        }
    }

    /// The cheapest parameters Argon2 accepts, so test suites stay fast.
    /// Never use these for real accounts.
    pub fn insecure_for_tests() -> Self {
        Self {
            m_cost_kib: 8,
            t_cost: 1,
            p_cost: 1,
        }
    }
}
