//! Device-bound sessions' settings (`session::bound`).

use std::time::Duration;

/// Device-bound sessions (W3C DBSC).
#[derive(Clone, Debug)]
pub struct DbscConfig {
    /// `DBSC` (true): offer registration to browsers that support it. Off, no new session is bound; sessions
    /// already bound keep needing (and renewing) their bound cookie: a bound session never falls back.
    pub enabled: bool,
    /// `DBSC_COOKIE_SECONDS` (600): the bound cookie's lifetime, how long a copied cookie jar keeps working.
    pub cookie_lifetime: Duration,
}

impl DbscConfig {
    /// How long a challenge may be answered: one bound-cookie lifetime and two minutes, so the challenge sent with
    /// a new bound cookie is still good when the browser renews it (one request per renewal).
    pub fn challenge_ttl(&self) -> Duration {
        self.cookie_lifetime + Duration::from_secs(120)
    }
}
