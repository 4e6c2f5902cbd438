//! The ERP.net BFF's flow logic. Every Lambda function is a thin `main` that builds an [`App`] once per cold
//! start and hands each request to one of the [`routes`]. See ARCHITECTURE.md for the map.

pub mod app;
pub mod config;
pub mod crypto;
pub mod error;
pub mod http;
pub mod idp;
pub mod instance;
pub mod login;
pub mod metrics;
pub mod proxy;
pub mod routes;
pub mod session;
pub mod store;
pub mod telemetry;
pub mod time;
pub mod tls;

pub use app::{App, Tenant, launch, serve, serve_buffered, serve_streaming};
pub use config::Config;
pub use error::BffError;
