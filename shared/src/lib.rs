//! The ERP.net BFF's flow logic. Every Lambda function is a thin `main` that builds an [`App`] once per cold
//! start and hands each request to one of the [`handlers`]. See ARCHITECTURE.md for the map.

pub mod app;
pub mod config;
pub mod cookies;
pub mod crypto;
pub mod error;
pub mod handlers;
pub mod metrics;
pub mod oidc;
pub mod pkce;
pub mod proxy;
pub mod return_url;
pub mod session;
pub mod store;
pub mod telemetry;
pub mod time;
pub mod tokens;
pub mod web;

pub use app::{App, serve};
pub use config::Config;
pub use error::BffError;
