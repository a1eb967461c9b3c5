//! `cove`: the desktop chat app.

fn main() {
    println!("cove: not yet implemented");
}
