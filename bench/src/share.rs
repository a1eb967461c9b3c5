//! A file shared while the chat goes on (`--file-bytes`): one more member
//! of the first room uploads a file of that size (four chunks in flight),
//! sends it to the room, and then `--file-downloads` members fetch it
//! whole at once, each from a second session of theirs, four chunks in
//! flight each. The chat's latency is measured as usual meanwhile, so a
//! run with and a run without the file show what a transfer costs the
//! chat.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use cove_common::client::Auth;
use cove_common::limits::FILE_CHUNK_BYTES;
use cove_common::proto::{Attachment, ChunkData, FileName, UploadId};
use cove_common::{ClientMsgId, Password, Request, RoomName, ServerMessage, Target, Username};
use tokio::task::JoinSet;

use crate::raw::Raw;

/// Chunks a transfer keeps in flight, as the app does.
const IN_FLIGHT: usize = 4;

/// What sharing the file took.
#[derive(Debug, Clone, Default)]
pub struct Shared {
    /// Bytes of the file.
    pub bytes: u64,
    /// Seconds from `upload` to the `ack` of the message carrying it.
    pub upload_s: f64,
    /// Members who downloaded it.
    pub downloads: usize,
    /// Seconds from the first download's first chunk to the last one's
    /// last (their logins excluded).
    pub download_s: f64,
}

/// The sharer, logged in and in the room, ready to upload.
pub struct Sharer {
    raw: Raw,
    room: RoomName,
}

impl Sharer {
    /// Registers the sharing member `name` and has them join `room`.
    pub async fn join(
        addr: &str,
        name: Username,
        password: Password,
        room: RoomName,
    ) -> Result<Self> {
        let mut raw = Raw::authenticate(
            addr,
            Auth::Register {
                username: name,
                password,
            },
        )
        .await
        .context("registering the member who shares the file")?;
        let id = raw.send(Request::Join { room: room.clone() }).await?;
        match raw.reply_to(id).await? {
            Some(ServerMessage::Joined { .. }) => Ok(Self { raw, room }),
            other => bail!("the sharer could not join: {other:?}"),
        }
    }

    /// Uploads `bytes` of a file, sends it to the room, then has each of
    /// `downloaders` (members of the room) fetch it from a new session.
    pub async fn share(
        mut self,
        addr: &str,
        bytes: usize,
        downloaders: Vec<Auth>,
    ) -> Result<Shared> {
        let content: Vec<u8> = (0..bytes).map(|i| (i % 251) as u8).collect();
        let t = Instant::now();
        let upload = upload(&mut self.raw, &content).await?;
        let id = self
            .raw
            .send(Request::Send {
                client_id: ClientMsgId::new("file")?,
                to: Target::Room(self.room.clone()),
                text: None,
                reply_to: None,
                file: Some(upload),
            })
            .await?;
        let message_id = match self.raw.reply_to(id).await? {
            Some(ServerMessage::Ack { message_id, .. }) => message_id,
            other => bail!("the file was not sent: {other:?}"),
        };
        let upload_s = t.elapsed().as_secs_f64();
        // The room's members get the message; the bench's downloaders take
        // the file from the sharer's own history, as a member would from
        // the message.
        let file = file_of(&mut self.raw, &self.room, message_id).await?;
        let downloads = downloaders.len();
        let mut sessions = Vec::with_capacity(downloads);
        for auth in downloaders {
            sessions.push(Raw::authenticate(addr, auth).await?);
        }
        let t = Instant::now();
        let mut set = JoinSet::new();
        for mut raw in sessions {
            let (file, want) = (file.clone(), content.len());
            set.spawn(async move {
                let got = download(&mut raw, &file).await?;
                if got.len() != want {
                    bail!("downloaded {} of {want} bytes", got.len());
                }
                Ok::<_, anyhow::Error>(got)
            });
        }
        while let Some(done) = set.join_next().await {
            if done?? != content {
                bail!("a download differs from the file");
            }
        }
        Ok(Shared {
            bytes: bytes as u64,
            upload_s,
            downloads,
            download_s: if downloads > 0 {
                t.elapsed().as_secs_f64()
            } else {
                0.0
            },
        })
    }
}

/// Starts an upload and sends its chunks, [`IN_FLIGHT`] at a time.
async fn upload(raw: &mut Raw, content: &[u8]) -> Result<UploadId> {
    let id = raw
        .send(Request::Upload {
            name: FileName::new("bench.bin")?,
            size: content.len() as u64,
        })
        .await?;
    let upload = match raw.reply_to(id).await? {
        Some(ServerMessage::UploadReady { upload, .. }) => upload,
        other => bail!("upload refused: {other:?}"),
    };
    let mut waiting = VecDeque::new();
    for (i, chunk) in content.chunks(FILE_CHUNK_BYTES).enumerate() {
        let request = Request::Chunk {
            upload: upload.clone(),
            offset: (i * FILE_CHUNK_BYTES) as u64,
            data: ChunkData::new(chunk.to_vec())?,
        };
        waiting.push_back(raw.send(request).await?);
        if waiting.len() == IN_FLIGHT {
            chunk_ok(raw, waiting.pop_front()).await?;
        }
    }
    while let Some(id) = waiting.pop_front() {
        chunk_ok(raw, Some(id)).await?;
    }
    Ok(upload)
}

async fn chunk_ok(raw: &mut Raw, id: Option<u64>) -> Result<()> {
    let Some(id) = id else { return Ok(()) };
    match raw.reply_to(id).await? {
        Some(ServerMessage::ChunkOk { .. }) => Ok(()),
        other => bail!("chunk refused: {other:?}"),
    }
}

/// The file of message `message_id` in `room` (the chat goes on, so it
/// is asked for by id, not as the newest).
async fn file_of(raw: &mut Raw, room: &RoomName, message_id: u64) -> Result<Attachment> {
    let id = raw
        .send(Request::History {
            with: Target::Room(room.clone()),
            before: Some(message_id + 1),
            limit: 1,
            cursor: None,
        })
        .await?;
    match raw.reply_to(id).await? {
        Some(ServerMessage::History { messages, .. }) => messages
            .into_iter()
            .find_map(|m| m.file)
            .map(|f| *f)
            .context("the file message is not in the sharer's history"),
        other => bail!("no history: {other:?}"),
    }
}

/// Downloads a whole file, [`IN_FLIGHT`] chunks at a time.
async fn download(raw: &mut Raw, file: &Attachment) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(file.size as usize);
    let mut waiting = VecDeque::new();
    let mut offsets = (0..file.size).step_by(FILE_CHUNK_BYTES);
    loop {
        while waiting.len() < IN_FLIGHT {
            let Some(offset) = offsets.next() else { break };
            let request = Request::Download {
                file: file.id.clone(),
                key: file.key.clone(),
                offset,
            };
            waiting.push_back(raw.send(request).await?);
        }
        let Some(id) = waiting.pop_front() else {
            return Ok(out);
        };
        match tokio::time::timeout(Duration::from_secs(60), raw.reply_to(id)).await? {
            Ok(Some(ServerMessage::FileData { data, .. })) => {
                out.extend_from_slice(data.as_bytes())
            }
            other => bail!("download refused: {other:?}"),
        }
    }
}
