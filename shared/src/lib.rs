//! The library every askdocs function links: configuration, the error type,
//! the domain model, the ports and their adapters, and the domain logic.

pub mod auth;
pub mod aws;
pub mod backends;
pub mod chunk;
pub mod config;
pub mod documents;
pub mod embedded;
pub mod error;
pub mod extract;
pub mod http;
pub mod ingest;
pub mod logging;
pub mod model;
pub mod ports;
pub mod prompt;
pub mod retrieve;
pub mod testing;
pub mod text;

pub use error::{Error, Result};
