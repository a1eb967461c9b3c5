//! The users.json loader: arbitrary file bytes, and arbitrary JSON sealed
//! under the right key (to reach the parser behind the MAC).
#![no_main]

use std::path::Path;

use cove_server::store::users::UserDb;
use libfuzzer_sys::fuzz_target;
use zeroize::Zeroizing;

fuzz_target!(|data: &[u8]| {
    let key = Zeroizing::new([7u8; 32]);
    let path = Path::new("users.json");
    // Raw bytes never pass the tag.
    assert!(UserDb::from_bytes(path, &key, data).is_err());
    // Sealed under the real key, the JSON is parsed and validated.
    let sealed = UserDb::seal_json(&key, data);
    if let Ok(db) = UserDb::from_bytes(path, &key, &sealed) {
        for u in db.users() {
            assert_eq!(u.id.as_str().len(), 32);
        }
    }
});
