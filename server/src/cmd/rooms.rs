//! `join`, `leave`, `list_rooms` and `members`.

use cove_common::{RoomName, ServerMessage};
use tracing::info;

use crate::accounts::UserCtx;
use crate::hub::{Hub, HubError};

/// Joins (creating if needed) a room.
pub(super) async fn join(
    hub: &Hub,
    user: &UserCtx,
    id: u64,
    room: RoomName,
) -> Result<ServerMessage, HubError> {
    let info = hub.join(user, room).await?;
    info!(user = %user.name, room = %info.name, "joined room");
    Ok(ServerMessage::Joined { id, room: info })
}

/// Leaves a room (never `general`).
pub(super) async fn leave(
    hub: &Hub,
    user: &UserCtx,
    id: u64,
    room: RoomName,
) -> Result<ServerMessage, HubError> {
    let room = hub.leave(user, room).await?;
    info!(user = %user.name, %room, "left room");
    Ok(ServerMessage::Left { id, room })
}

/// Every room, with counts.
pub(super) fn list(hub: &Hub, user: &UserCtx, id: u64) -> ServerMessage {
    let (rooms, total) = hub.list_rooms(user);
    ServerMessage::Rooms { id, rooms, total }
}

/// The members of a room the user is in, with presence.
pub(super) fn members(
    hub: &Hub,
    user: &UserCtx,
    id: u64,
    room: RoomName,
) -> Result<ServerMessage, HubError> {
    let list = hub.members(user, &room)?;
    Ok(ServerMessage::Members {
        id,
        room,
        members: list.members,
        total: list.total,
        banned: list.banned,
    })
}
