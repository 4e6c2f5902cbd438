//! The API proxy, in the order a request passes through it: [`path`] (which paths and methods may pass),
//! [`headers`] (allowlists both ways), [`upstream`] (the hyper client; forwarding with the bearer token and the one
//! retry after a 401), [`body`] (links rewritten, bounded by Lambda's response limit).

pub mod body;
pub mod headers;
pub mod path;
pub mod upstream;
