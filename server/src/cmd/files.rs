//! `upload`, `resume_upload`, `chunk` and `download` (since v6) and
//! `cancel_upload` (since v7): one chunk
//! per request, each answered on its own, so a transfer interleaves with
//! everything else the connection does. Sending the finished upload is
//! `send` with `file` (see [`super::send`]).

use cove_common::proto::ChunkData;
use cove_common::{Request, ServerMessage};
use tracing::warn;

use crate::accounts::UserCtx;
use crate::state::ServerState;
use crate::transfers::TransferError;

/// Answers one file request (the caller routes only those here).
pub(super) async fn handle(
    state: &ServerState,
    user: &UserCtx,
    id: u64,
    request: Request,
) -> ServerMessage {
    let t = &state.transfers;
    let reply = match request {
        Request::Upload { name, size } => {
            t.begin(&user.id, name, size)
                .await
                .map(|upload| ServerMessage::UploadReady {
                    id,
                    upload,
                    size,
                    received: 0,
                })
        }
        Request::ResumeUpload { upload } => {
            t.status(&user.id, &upload)
                .map(|(size, received)| ServerMessage::UploadReady {
                    id,
                    upload,
                    size,
                    received,
                })
        }
        Request::CancelUpload { upload } => t
            .cancel(&user.id, &upload)
            .await
            .map(|()| ServerMessage::Done { id }),
        Request::Chunk {
            upload,
            offset,
            data,
        } => t
            .chunk(&user.id, &upload, offset, data.into_bytes())
            .await
            .map(|received| ServerMessage::ChunkOk {
                id,
                upload,
                received,
            }),
        Request::Download { file, key, offset } => {
            let name = file.clone();
            t.download(file, key, offset)
                .await
                .and_then(|(bytes, size)| {
                    let data = ChunkData::new(bytes).map_err(|_| TransferError::Internal)?;
                    Ok(ServerMessage::FileData {
                        id,
                        file: name,
                        offset,
                        size,
                        data,
                    })
                })
        }
        _ => Err(TransferError::Internal),
    };
    reply.unwrap_or_else(|e| refusal(user, id, &e))
}

/// The error reply to a refused file request.
pub(super) fn refusal(user: &UserCtx, id: u64, e: &TransferError) -> ServerMessage {
    if let TransferError::Storage(s) = e {
        warn!(user = %user.name, error = %s, "file storage error");
    }
    ServerMessage::error(Some(id), e.code(), e.to_string())
}
