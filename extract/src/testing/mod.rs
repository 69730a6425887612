//! Test kit for readers of untrusted files: hostile files made on demand and
//! a small mutation fuzzer that runs on stable Rust.

pub mod fuzz;
pub mod hostile;
