//! ERP.net instances: one deployment serves many, each on a host of its own (`<key>.<app host>`), each with its own
//! identity server, Domain API and client registration. [`key`] names one, [`registry`] stores them.

pub mod key;
pub mod registry;

pub use key::InstanceKey;
