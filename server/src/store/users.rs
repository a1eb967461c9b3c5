//! `users.json`: the account database, one JSON document holding every
//! account and every room with its members, stored encrypted as a whole.
//!
//! File layout: the 8 magic bytes `COVEDB1\n`, then one sealed box
//! (`IV || AES-256-CFB ciphertext || HMAC-SHA256 tag`, see
//! [`cove_common::crypto`]) of the JSON, under keys derived from the storage
//! key with HKDF label `"cove v1 users.json"`; the magic is authenticated as
//! the box's header. A file whose tag does not verify is reported and never
//! overwritten (the server refuses to start).
//!
//! It also holds what unread counts derive from: each conversation's
//! sequence number (messages so far) and newest id, and each user's read
//! markers. The hub keeps them in memory and saves them here in batches
//! ([`UserDb::apply_reads`]), not on every message.

use std::path::{Path, PathBuf};

use cove_common::crypto::{EtmKey, Secret};
use cove_common::{RoomName, Username};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::rooms::RoomRules;
use super::{StoreError, atomic_write};
use crate::credentials::Credentials;

pub use super::user_id::UserId;

/// The file's name inside the data directory.
pub const USERS_FILE: &str = "users.json";
const MAGIC: &[u8; 8] = b"COVEDB1\n";
const KEY_LABEL: &str = "cove v1 users.json";

/// One account.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserRecord {
    /// Its opaque id.
    pub id: UserId,
    /// The name as registered.
    pub username: Username,
    /// Creation time, ms since the epoch.
    pub created: u64,
    /// Password verifier and history keys.
    pub credentials: Credentials,
    /// Users this one has exchanged direct messages with.
    #[serde(default)]
    pub contacts: Vec<UserId>,
    /// Read markers, one per conversation read at least once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub read: Vec<ReadMark>,
    /// When the server's operator banned the account (ms since the
    /// epoch); it cannot log in until unbanned. Absent in files written
    /// before bans existed: not banned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub banned: Option<u64>,
}

/// A conversation a read marker belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarkedConv {
    /// A room, by its name as first created.
    Room(RoomName),
    /// The direct conversation with this user.
    User(UserId),
}

/// One user's read marker in one conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadMark {
    /// The conversation.
    pub with: MarkedConv,
    /// The newest message id read.
    pub id: u64,
    /// The conversation's sequence number at that message.
    pub seq: u64,
    /// The messages after it that mention the user, oldest first (at most
    /// [`MENTIONS_COUNTED_MAX`](cove_common::limits::MENTIONS_COUNTED_MAX)).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<u64>,
}

/// A conversation's count of messages so far and its newest message id.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConvCount {
    /// Messages so far (the sequence number of the newest).
    #[serde(default)]
    pub seq: u64,
    /// The newest message's id (0 before any).
    #[serde(default)]
    pub last_id: u64,
}

/// One direct conversation's count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectRecord {
    /// Its two users (one, twice, for notes to oneself), the smaller id
    /// first.
    pub users: [UserId; 2],
    /// Its count.
    #[serde(flatten)]
    pub count: ConvCount,
}

/// What changed in counts and markers since the last save: applied
/// together, so the file never holds a marker past its conversation's
/// count.
#[derive(Debug, Default)]
pub struct ReadSave {
    /// Rooms' counts.
    pub rooms: Vec<(RoomName, ConvCount)>,
    /// Direct conversations' counts.
    pub directs: Vec<([UserId; 2], ConvCount)>,
    /// Users' markers.
    pub marks: Vec<(UserId, ReadMark)>,
}

/// One room.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RoomRecord {
    /// The name as first created.
    pub name: RoomName,
    /// Creation time, ms since the epoch.
    pub created: u64,
    /// Member ids.
    pub members: Vec<UserId>,
    /// Its count of messages.
    #[serde(flatten)]
    pub count: ConvCount,
    /// Who may do what (since protocol v5; absent in older files: a
    /// public room with no owner).
    #[serde(flatten)]
    pub rules: RoomRules,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Document {
    version: u32,
    users: Vec<UserRecord>,
    rooms: Vec<RoomRecord>,
    /// Direct conversations' counts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    directs: Vec<DirectRecord>,
    /// Deleted accounts, whose names stay taken.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    retired: Vec<RetiredAccount>,
}

/// The whole database at one moment (see [`UserDb::snapshot`]).
#[derive(Debug)]
pub struct Snapshot(Document);

/// An account its owner deleted. Its name stays taken, so nobody can
/// register it and pass for them in the conversations others still have
/// with them (Matrix never reuses a deactivated user id either); its id
/// keeps naming those conversations.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RetiredAccount {
    /// The deleted account's id.
    pub id: UserId,
    /// Its name as registered.
    pub username: Username,
    /// When it was deleted, ms since the epoch.
    pub deleted: u64,
}

/// The account database in memory, with the path and key to save it.
pub struct UserDb {
    path: PathBuf,
    key: EtmKey,
    doc: Document,
}

impl std::fmt::Debug for UserDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserDb")
            .field("path", &self.path)
            .field("users", &self.doc.users.len())
            .field("rooms", &self.doc.rooms.len())
            .finish()
    }
}

impl UserDb {
    /// Opens `users.json` in `data_dir` (an empty database if missing).
    pub fn open(data_dir: &Path, storage_key: &Secret) -> Result<UserDb, StoreError> {
        let path = data_dir.join(USERS_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => Self::from_bytes(&path, storage_key, &bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(UserDb {
                key: EtmKey::derive(storage_key.as_ref(), b"", KEY_LABEL),
                path,
                doc: Document {
                    version: 1,
                    ..Document::default()
                },
            }),
            Err(e) => Err(StoreError::Io { path, source: e }),
        }
    }

    /// Decodes the bytes of a `users.json` file (named `path` in errors).
    pub fn from_bytes(
        path: &Path,
        storage_key: &Secret,
        bytes: &[u8],
    ) -> Result<UserDb, StoreError> {
        let key = EtmKey::derive(storage_key.as_ref(), b"", KEY_LABEL);
        let doc = decode(path, &key, bytes)?;
        Ok(UserDb {
            path: path.to_path_buf(),
            key,
            doc,
        })
    }

    /// Seals a document's JSON as `users.json` bytes under `storage_key`
    /// (for tools and fuzzing; [`UserDb::save`] is the normal way).
    pub fn seal_json(storage_key: &Secret, json: &[u8]) -> Vec<u8> {
        let key = EtmKey::derive(storage_key.as_ref(), b"", KEY_LABEL);
        let mut out = MAGIC.to_vec();
        key.seal_append(MAGIC, json, &mut out);
        out
    }

    /// Writes the whole database atomically.
    pub fn save(&self) -> Result<(), StoreError> {
        let json = Zeroizing::new(
            serde_json::to_vec(&self.doc)
                .map_err(|e| StoreError::corrupt(&self.path, e.to_string()))?,
        );
        let mut out = Vec::with_capacity(MAGIC.len() + json.len() + 48);
        out.extend_from_slice(MAGIC);
        self.key.seal_append(MAGIC, &json, &mut out);
        atomic_write(&self.path, &out)
    }

    /// Every account.
    pub fn users(&self) -> &[UserRecord] {
        &self.doc.users
    }

    /// Every room.
    pub fn rooms(&self) -> &[RoomRecord] {
        &self.doc.rooms
    }

    /// Every direct conversation's count.
    pub fn directs(&self) -> &[DirectRecord] {
        &self.doc.directs
    }

    /// Applies a batch of counts and markers (in memory; [`UserDb::save`]
    /// writes them). Each is found through an index built once per batch,
    /// so a batch costs its size plus one pass over the accounts and rooms.
    pub fn apply_reads(&mut self, save: ReadSave) {
        let rooms: std::collections::HashMap<String, usize> = self
            .doc
            .rooms
            .iter()
            .enumerate()
            .map(|(i, r)| (r.name.key(), i))
            .collect();
        for (name, count) in save.rooms {
            if let Some(&i) = rooms.get(&name.key()) {
                self.doc.rooms[i].count = count;
            }
        }
        let directs: std::collections::HashMap<[UserId; 2], usize> = self
            .doc
            .directs
            .iter()
            .enumerate()
            .map(|(i, d)| (d.users.clone(), i))
            .collect();
        for (users, count) in save.directs {
            match directs.get(&users) {
                Some(&i) => self.doc.directs[i].count = count,
                None => self.doc.directs.push(DirectRecord { users, count }),
            }
        }
        let users: std::collections::HashMap<UserId, usize> = self
            .doc
            .users
            .iter()
            .enumerate()
            .map(|(i, u)| (u.id.clone(), i))
            .collect();
        for (user, mark) in save.marks {
            let Some(&i) = users.get(&user) else { continue };
            let marks = &mut self.doc.users[i].read;
            match marks.iter_mut().find(|m| m.with == mark.with) {
                Some(m) => *m = mark,
                None => marks.push(mark),
            }
        }
    }

    /// The account with this name, in any letter case.
    pub fn find_by_name(&self, name: &Username) -> Option<&UserRecord> {
        self.doc.users.iter().find(|u| u.username == *name)
    }

    /// The room named `room`, to change it (the caller saves).
    pub fn room_mut(&mut self, room: &RoomName) -> Option<&mut RoomRecord> {
        self.doc.rooms.iter_mut().find(|r| r.name == *room)
    }

    /// Deleted accounts.
    pub fn retired(&self) -> &[RetiredAccount] {
        &self.doc.retired
    }

    /// Whether `name` belongs to an account, or to a deleted one.
    pub fn name_taken(&self, name: &Username) -> bool {
        self.find_by_name(name).is_some() || self.doc.retired.iter().any(|r| r.username == *name)
    }

    /// Deletes an account: its record and memberships go, its name is
    /// retired. Others' contacts and read markers naming it stay (they
    /// name their own conversations). `false` for an unknown id.
    pub fn retire_user(&mut self, id: &UserId, now: u64) -> bool {
        let Some(at) = self.doc.users.iter().position(|u| u.id == *id) else {
            return false;
        };
        let u = self.doc.users.remove(at);
        for r in &mut self.doc.rooms {
            r.members.retain(|m| m != id);
        }
        self.doc.retired.push(RetiredAccount {
            id: u.id,
            username: u.username,
            deleted: now,
        });
        true
    }

    /// The document as it stands, to put back with [`UserDb::restore`]
    /// when a save of a bigger change fails.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot(self.doc.clone())
    }

    /// Puts back a [`UserDb::snapshot`].
    pub fn restore(&mut self, s: Snapshot) {
        self.doc = s.0;
    }

    /// The account with this id.
    pub fn find_by_id(&self, id: &UserId) -> Option<&UserRecord> {
        self.doc.users.iter().find(|u| u.id == *id)
    }

    /// Adds an account (the caller checked the name is free) and returns its
    /// new id.
    pub fn insert_user(
        &mut self,
        username: Username,
        credentials: Credentials,
        now: u64,
    ) -> UserId {
        let id = UserId::generate();
        self.doc.users.push(UserRecord {
            id: id.clone(),
            username,
            created: now,
            credentials,
            contacts: Vec::new(),
            read: Vec::new(),
            banned: None,
        });
        id
    }

    /// Bans an account (`Some(when)`) or lifts its ban (`None`); returns
    /// whether it was banned before (`None` for an unknown id).
    pub fn set_banned(&mut self, id: &UserId, banned: Option<u64>) -> Option<bool> {
        let u = self.doc.users.iter_mut().find(|u| u.id == *id)?;
        let was = u.banned.is_some();
        u.banned = banned;
        Some(was)
    }

    /// Replaces an account's credentials; returns the old ones (`None` for
    /// an unknown id).
    pub fn set_credentials(&mut self, id: &UserId, creds: Credentials) -> Option<Credentials> {
        let u = self.doc.users.iter_mut().find(|u| u.id == *id)?;
        Some(std::mem::replace(&mut u.credentials, creds))
    }

    /// Removes an account that was just inserted, when saving it failed.
    pub fn remove_user(&mut self, id: &UserId) {
        self.doc.users.retain(|u| u.id != *id);
    }

    /// Records that `a` and `b` have a direct conversation.
    pub fn add_contact(&mut self, a: &UserId, b: &UserId) {
        for (x, y) in [(a, b), (b, a)] {
            if let Some(u) = self.doc.users.iter_mut().find(|u| u.id == *x)
                && !u.contacts.contains(y)
            {
                u.contacts.push(y.clone());
            }
        }
    }

    /// Adds a member to a room, creating the room if needed. The result
    /// lets [`UserDb::undo_add_member`] take it back if saving fails.
    pub fn add_member(&mut self, room: &RoomName, user: &UserId, now: u64) -> Added {
        match self.doc.rooms.iter_mut().find(|r| r.name == *room) {
            Some(r) => {
                if r.members.contains(user) {
                    Added::Nothing
                } else {
                    r.members.push(user.clone());
                    Added::Member
                }
            }
            None => {
                self.doc.rooms.push(RoomRecord {
                    name: room.clone(),
                    created: now,
                    members: vec![user.clone()],
                    count: ConvCount::default(),
                    rules: RoomRules::default(),
                });
                Added::RoomAndMember
            }
        }
    }

    /// Takes back an [`UserDb::add_member`] whose save failed.
    pub fn undo_add_member(&mut self, room: &RoomName, user: &UserId, added: Added) {
        match added {
            Added::Nothing => {}
            Added::Member => {
                if let Some(r) = self.doc.rooms.iter_mut().find(|r| r.name == *room)
                    && r.members.last() == Some(user)
                {
                    r.members.pop();
                }
            }
            Added::RoomAndMember => self.doc.rooms.retain(|r| r.name != *room),
        }
    }

    /// Removes a member from a room (rooms are kept when empty). Returns the
    /// member's place in the list, for [`UserDb::undo_remove_member`].
    pub fn remove_member(&mut self, room: &RoomName, user: &UserId) -> Option<usize> {
        let r = self.doc.rooms.iter_mut().find(|r| r.name == *room)?;
        let at = r.members.iter().position(|m| m == user)?;
        r.members.remove(at);
        Some(at)
    }

    /// Takes back a [`UserDb::remove_member`] whose save failed.
    pub fn undo_remove_member(&mut self, room: &RoomName, user: &UserId, at: Option<usize>) {
        if let Some(at) = at
            && let Some(r) = self.doc.rooms.iter_mut().find(|r| r.name == *room)
        {
            r.members.insert(at.min(r.members.len()), user.clone());
        }
    }
}

/// What [`UserDb::add_member`] changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Added {
    /// The user was already a member.
    Nothing,
    /// The user was added to an existing room.
    Member,
    /// The room was created with the user in it.
    RoomAndMember,
}

fn decode(path: &Path, key: &EtmKey, bytes: &[u8]) -> Result<Document, StoreError> {
    let Some(body) = bytes.strip_prefix(MAGIC.as_slice()) else {
        return Err(StoreError::Tampered {
            path: path.to_path_buf(),
        });
    };
    let json = Zeroizing::new(key.open(MAGIC, body).map_err(|_| StoreError::Tampered {
        path: path.to_path_buf(),
    })?);
    serde_json::from_slice(&json).map_err(|e| StoreError::corrupt(path, e.to_string()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::credentials::create;
    use cove_common::KdfParams;
    use cove_common::Password;

    fn creds() -> Credentials {
        create(
            &Password::new("password123").unwrap(),
            &KdfParams::insecure_for_tests(),
        )
        .unwrap()
        .0
    }

    #[test]
    fn round_trip_and_no_plaintext() {
        let dir = tempfile::tempdir().unwrap();
        let key = Zeroizing::new([9u8; 32]);
        let mut db = UserDb::open(dir.path(), &key).unwrap();
        let id = db.insert_user(Username::new("Walrus").unwrap(), creds(), 1);
        let _ = db.add_member(&RoomName::new("oysters").unwrap(), &id, 2);
        db.save().unwrap();

        let raw = std::fs::read(dir.path().join(USERS_FILE)).unwrap();
        let text = String::from_utf8_lossy(&raw).to_lowercase();
        assert!(!text.contains("walrus") && !text.contains("oysters"));

        let db = UserDb::open(dir.path(), &key).unwrap();
        let u = db.find_by_name(&Username::new("walrus").unwrap()).unwrap();
        assert_eq!(u.username.as_str(), "Walrus");
        assert_eq!(db.rooms()[0].members, vec![u.id.clone()]);
    }

    #[test]
    fn every_flipped_byte_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let key = Zeroizing::new([9u8; 32]);
        let mut db = UserDb::open(dir.path(), &key).unwrap();
        db.insert_user(Username::new("alice").unwrap(), creds(), 1);
        db.save().unwrap();
        let path = dir.path().join(USERS_FILE);
        let good = std::fs::read(&path).unwrap();
        for i in (0..good.len()).step_by(7) {
            let mut bad = good.clone();
            bad[i] ^= 0x40;
            std::fs::write(&path, &bad).unwrap();
            let err = UserDb::open(dir.path(), &key).unwrap_err();
            assert!(
                matches!(err, StoreError::Tampered { .. }),
                "byte {i}: {err}"
            );
        }
        // Another server's storage key cannot open it either.
        std::fs::write(&path, &good).unwrap();
        let other = Zeroizing::new([8u8; 32]);
        assert!(matches!(
            UserDb::open(dir.path(), &other).unwrap_err(),
            StoreError::Tampered { .. }
        ));
    }

    #[test]
    fn membership_changes_can_be_undone_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let key = Zeroizing::new([9u8; 32]);
        let mut db = UserDb::open(dir.path(), &key).unwrap();
        let (a, b) = (
            db.insert_user(Username::new("anna").unwrap(), creds(), 1),
            db.insert_user(Username::new("bert").unwrap(), creds(), 1),
        );
        let room = RoomName::new("room").unwrap();
        assert_eq!(db.add_member(&room, &a, 1), Added::RoomAndMember);
        assert_eq!(db.add_member(&room, &b, 1), Added::Member);
        assert_eq!(db.add_member(&room, &b, 1), Added::Nothing);
        let before = serde_json::to_string(&db.doc).unwrap();
        // Undo of an addition.
        let other = RoomName::new("other").unwrap();
        let added = db.add_member(&other, &a, 2);
        db.undo_add_member(&other, &a, added);
        db.undo_add_member(&room, &b, Added::Nothing);
        assert_eq!(serde_json::to_string(&db.doc).unwrap(), before);
        // Undo of a removal puts the member back in its place.
        let at = db.remove_member(&room, &a);
        assert_eq!(at, Some(0));
        db.undo_remove_member(&room, &a, at);
        assert_eq!(serde_json::to_string(&db.doc).unwrap(), before);
        // Undo of a registration.
        let c = db.insert_user(Username::new("cleo").unwrap(), creds(), 3);
        db.remove_user(&c);
        assert_eq!(serde_json::to_string(&db.doc).unwrap(), before);
    }

    #[test]
    fn a_ban_is_stored_and_files_from_before_bans_still_load() {
        let dir = tempfile::tempdir().unwrap();
        let key = Zeroizing::new([9u8; 32]);
        let mut db = UserDb::open(dir.path(), &key).unwrap();
        let id = db.insert_user(Username::new("mallory").unwrap(), creds(), 1);
        db.save().unwrap();
        // Written unbanned, the account has no `banned` at all: the file
        // is as one from before bans existed, and it loads.
        let raw = std::fs::read(dir.path().join(USERS_FILE)).unwrap();
        let json = db.key.open(MAGIC, &raw[MAGIC.len()..]).unwrap();
        assert!(!String::from_utf8_lossy(&json).contains("banned"));
        let old = UserDb::open(dir.path(), &key).unwrap();
        assert_eq!(old.find_by_id(&id).unwrap().banned, None);

        assert_eq!(db.set_banned(&id, Some(42)), Some(false));
        db.save().unwrap();
        let db = UserDb::open(dir.path(), &key).unwrap();
        assert_eq!(db.find_by_id(&id).unwrap().banned, Some(42));
        let mut db = db;
        assert_eq!(db.set_banned(&id, None), Some(true));
        assert_eq!(db.set_banned(&UserId::generate(), None), None);
    }

    #[test]
    fn user_ids_are_checked_when_parsed() {
        assert!(UserId::try_from("../../etc/passwd".to_owned()).is_err());
        assert!(UserId::try_from("A".repeat(32)).is_err());
        let id = UserId::generate();
        assert_eq!(UserId::try_from(id.as_str().to_owned()).unwrap(), id);
    }
}
