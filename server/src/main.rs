//! `cove-server`: the thin binary around the [`cove_server`] library.

fn main() {
    println!("cove-server: not yet implemented");
}
