//! The library every askdocs function links.
//!
//! Layers, one way: the handlers (in each function's crate, with [`http`])
//! call the domain services — [`auth`], [`documents`], [`processing`],
//! [`query`], one per function — which speak only to the [`ports`]; the
//! adapters behind the ports ([`aws`], [`embedded`]) import only ports,
//! [`model`] and [`error`]; [`backends`] wires adapters to ports from
//! [`config`], which depends on nothing else.

#[cfg(not(any(feature = "aws", feature = "embedded")))]
compile_error!("askdocs-shared needs a backend: the `aws` or the `embedded` feature");

pub mod auth;
#[cfg(feature = "aws")]
pub mod aws;
pub mod backends;
pub mod config;
pub mod documents;
pub mod embedded;
pub mod error;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod model;
pub mod pagination;
pub mod ports;
pub mod processing;
pub mod query;
#[cfg(feature = "testing")]
pub mod testing;

pub use error::{Error, Result};
