//! [`Keeper`]: the [`TokenKeeper`] bound to one instance's identity server, where that instance's refreshes go.

use super::TokenKeeper;
use crate::idp::IdentityServer;

impl TokenKeeper {
    /// The keeper for sessions of the instance whose identity server is `idp`.
    pub fn with<'a>(&'a self, idp: &'a IdentityServer) -> Keeper<'a> {
        Keeper { keeper: self, idp }
    }
}

/// [`TokenKeeper`] for the sessions of one instance: refreshes go to its identity server.
pub struct Keeper<'a> {
    pub(super) keeper: &'a TokenKeeper,
    pub(super) idp: &'a IdentityServer,
}
