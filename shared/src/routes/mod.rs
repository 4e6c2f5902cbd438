//! One short file per route: each is `handle(&App, Request)` and reads top to bottom; the concepts it uses live in
//! `http`, `login`, `session`, `idp` and `proxy`. `shared::serve` turns their errors into problem+json.

pub mod backchannel;
pub mod callback;
pub mod dbsc;
pub mod login;
pub mod logout;
pub mod proxy;
pub mod refresh;
pub mod session;
pub mod sessions;

type Answer = Result<lambda_http::Response<lambda_http::Body>, crate::error::BffError>;
