//! Linked as the functions are (see functions/auth/build.rs), so the
//! cold-start ratio compares like with like.
fn main() {
    println!("cargo:rustc-link-arg-bins=-no-pie");
}
