//! `cove-bench`: load generator for the Cove server.

fn main() {
    println!("cove-bench: not yet implemented");
}
