//! The API proxy, in the order a request passes through it: [`path`] (which paths and methods may pass),
//! [`batch`] (the same checks for every request inside a `$batch` body), [`headers`] (allowlists both ways),
//! [`upstream`] (the hyper client; forwarding with the bearer token and the one retry after a 401), [`body`] (links
//! rewritten, bounded by Lambda's response limit).

pub mod batch;
pub mod body;
pub mod headers;
pub mod path;
pub mod upstream;
