//! Signing in (its per-attempt secrets are the protocol's: `idp::pkce`): where the browser goes afterwards ([`return_url`]), the pending
//! login that ties the callback to the browser that started it ([`pending`]), and reading the identity server's
//! answer at the callback ([`callback`]).

pub mod callback;
pub mod pending;
pub mod return_url;
pub mod store;
