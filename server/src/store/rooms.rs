//! [`RoomRules`]: who owns and moderates a room, whether it is private,
//! its topic, who is banned from it and who is invited, as stored with the
//! room in `users.json`, and who may do what there.

use cove_common::Topic;
use cove_common::proto::Role;
use serde::{Deserialize, Serialize};

use super::user_id::UserId;

/// A room's rules. The default (what files from before protocol v5 hold)
/// is a public room with no owner, as every room was then.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomRules {
    /// Invite-only, and listed only to members.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub private: bool,
    /// Who created it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<UserId>,
    /// Whom the owner made moderators.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub moderators: Vec<UserId>,
    /// Its topic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<Topic>,
    /// Who may not join.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub banned: Vec<UserId>,
    /// Who may join a private room, and who invited them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub invited: Vec<Invite>,
}

/// One invitation not answered yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invite {
    /// Who is invited.
    pub user: UserId,
    /// Who invited them.
    pub by: UserId,
}

impl RoomRules {
    /// The rules of a room `owner` creates.
    pub fn created_by(owner: UserId, private: bool, topic: Option<Topic>) -> Self {
        Self {
            private,
            owner: Some(owner),
            topic,
            ..Self::default()
        }
    }

    /// `user`'s role (members and others alike).
    pub fn role_of(&self, user: &UserId) -> Role {
        if self.owner.as_ref() == Some(user) {
            Role::Owner
        } else if self.moderators.contains(user) {
            Role::Moderator
        } else {
            Role::Member
        }
    }

    /// The role to show: `None` for plain members.
    pub fn shown_role(&self, user: &UserId) -> Option<Role> {
        Some(self.role_of(user)).filter(|r| *r != Role::Member)
    }

    /// Whether `user` may invite, remove, ban and set the topic.
    pub fn moderates(&self, user: &UserId) -> bool {
        self.role_of(user) != Role::Member
    }

    /// Whether `actor` may remove or ban `target`: the owner anyone but
    /// themselves, a moderator plain members only.
    pub fn may_remove(&self, actor: &UserId, target: &UserId) -> bool {
        match self.role_of(actor) {
            Role::Owner => actor != target,
            Role::Moderator => self.role_of(target) == Role::Member,
            Role::Member => false,
        }
    }

    /// Whether `user` is invited.
    pub fn is_invited(&self, user: &UserId) -> bool {
        self.invited.iter().any(|i| i.user == *user)
    }

    /// Who invited `user`, if anyone did.
    pub fn invited_by(&self, user: &UserId) -> Option<&UserId> {
        self.invited.iter().find(|i| i.user == *user).map(|i| &i.by)
    }

    /// Forgets `user`'s invitation (used up, declined, or removed).
    pub fn uninvite(&mut self, user: &UserId) {
        self.invited.retain(|i| i.user != *user);
    }

    /// Whether `user` may join: not banned, and invited to a private room.
    pub fn may_join(&self, user: &UserId) -> Result<(), Refusal> {
        if self.banned.contains(user) {
            return Err(Refusal::Banned);
        }
        if self.private && !self.is_invited(user) && self.owner.as_ref() != Some(user) {
            return Err(Refusal::NotInvited);
        }
        Ok(())
    }
}

/// Why [`RoomRules::may_join`] said no.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Banned.
    Banned,
    /// A private room, and no invitation.
    NotInvited,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_remove_anyone_moderators_only_members() {
        let (o, m, a, b) = (
            UserId::generate(),
            UserId::generate(),
            UserId::generate(),
            UserId::generate(),
        );
        let mut r = RoomRules::created_by(o.clone(), true, None);
        r.moderators.push(m.clone());
        assert!(r.may_remove(&o, &m) && r.may_remove(&o, &a) && !r.may_remove(&o, &o));
        assert!(r.may_remove(&m, &a) && !r.may_remove(&m, &o));
        let mut r2 = r.clone();
        r2.moderators.push(b.clone());
        assert!(!r2.may_remove(&m, &b), "not another moderator");
        assert!(!r.may_remove(&a, &b), "members remove nobody");
        assert_eq!(r.may_join(&a), Err(Refusal::NotInvited));
        r.invited.push(Invite {
            user: a.clone(),
            by: o.clone(),
        });
        assert_eq!(r.may_join(&a), Ok(()));
        assert_eq!(r.invited_by(&a), Some(&o));
        r.banned.push(a.clone());
        assert_eq!(r.may_join(&a), Err(Refusal::Banned));
        assert_eq!(r.may_join(&o), Ok(()), "the owner always may");
    }

    #[test]
    fn rooms_from_before_v5_read_as_public_and_ownerless() {
        let r: RoomRules = serde_json::from_str("{}").unwrap_or_default();
        assert_eq!(r, RoomRules::default());
        assert!(!r.private && r.owner.is_none());
    }
}
