//! The function binary is linked as a fixed-address executable (not PIE), as
//! Go links its Lambda binaries: the loader then has no ~35,000 relocations
//! to apply and no pages to copy for them at each cold start, and the binary
//! is ~0.8 MB smaller (docs/benchmarks.md). Shared libraries, heap and stack
//! are still placed at random; only the executable's own image is not.
fn main() {
    println!("cargo:rustc-link-arg-bins=-no-pie");
}
