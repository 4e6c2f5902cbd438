//! The HTTP edge shared by the routes: query/form parameters, the gate in front of non-navigation routes (method,
//! `Origin`, CSRF), the BFF's cookies (one `Cookie`-header parser), and building responses.

pub mod cookies;
pub mod gate;
pub mod params;
pub mod respond;
