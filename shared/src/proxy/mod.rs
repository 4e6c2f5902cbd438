//! The API proxy, in the order a request passes through it: [`path`] (which paths and methods may pass),
//! [`batch`] (the same checks for every request inside a `$batch` body), [`headers`] (allowlists both ways),
//! [`upstream`] (the hyper client; forwarding with the bearer token and the one retry after a 401), [`links`] (the OData link
//! annotations, and only they, rewritten to `/api/…`), [`body`] (the answer to the browser), [`stream`] (its body,
//! streamed as it arrives).

pub mod batch;
pub mod body;
pub mod headers;
pub mod links;
pub mod path;
pub mod stream;
pub mod upstream;
