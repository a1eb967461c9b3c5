#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use cove_common::proto::{Attachment, FileId, FileKey, FileName, UploadId};
use cove_common::{ErrorCode, MessageText, Request, ServerMessage, Target};

use super::*;
use crate::state::tests::{general, room, u};
use crate::state::{ChatState, Delivery, Entry, RequestId};

const MB: u64 = 1 << 20;

fn state() -> ChatState {
    let mut s = ChatState::new(u("meg"), vec![room("general", 0)]);
    s.files.max_file_bytes = 25 * MB;
    s
}

fn infos(s: &ChatState, t: &Target) -> Vec<String> {
    s.conversations.get(t).map_or_else(Vec::new, |c| {
        c.entries
            .iter()
            .filter_map(|e| match e {
                Entry::Info { text, .. } => Some(text.clone()),
                _ => None,
            })
            .collect()
    })
}

/// The only upload queued (a picture's preview beside it aside).
fn upload_job(s: &mut ChatState) -> (TransferId, PathBuf, u64) {
    let jobs: Vec<Job> = s
        .take_jobs()
        .into_iter()
        .filter(|j| !matches!(j, Job::Preview { .. }))
        .collect();
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    match jobs.into_iter().next().unwrap() {
        Job::Upload { id, path, size, .. } => (id, path, size),
        other => panic!("{other:?}"),
    }
}

fn upload_id(n: u8) -> UploadId {
    UploadId::from_bytes([n; 16])
}

fn stage(s: &ChatState) -> Stage {
    s.pending[0].file.as_ref().unwrap().stage.clone()
}

/// The only `send` queued, with its request id.
fn the_send(s: &mut ChatState) -> (RequestId, Request) {
    let sends: Vec<_> = s
        .take_outbox()
        .into_iter()
        .filter(|(_, r)| matches!(r, Request::Send { .. }))
        .collect();
    assert_eq!(sends.len(), 1, "{sends:?}");
    sends.into_iter().next().unwrap()
}

fn attachment(name: &str, size: u64) -> Attachment {
    Attachment {
        id: FileId::from_bytes([7; 16]),
        name: FileName::new(name).unwrap(),
        size,
        key: FileKey::from_bytes(&[9; 32]),
    }
}

#[test]
fn files_the_server_would_refuse_are_refused_with_a_note_and_not_uploaded() {
    let mut s = state();
    let none = s.attach(general(), "/tmp/lecture.mp4".into(), 26 * MB, None);
    assert_eq!(none, None);
    assert_eq!(
        infos(&s, &general()),
        ["lecture.mp4 is too large to send (26 MB): this server takes files of at most 25 MB."]
    );
    assert_eq!(s.attach(general(), "/tmp/empty.txt".into(), 0, None), None);
    s.files.max_file_bytes = 0;
    assert_eq!(s.attach(general(), "/tmp/a.png".into(), 10, None), None);
    assert_eq!(
        infos(&s, &general())[1..],
        [
            "empty.txt is empty: there is nothing to send.",
            "This server does not take files."
        ]
    );
    assert!(s.pending.is_empty());
    assert!(s.take_jobs().is_empty());
    assert!(s.take_outbox().is_empty());
}

#[test]
fn an_upload_shows_its_progress_then_its_message_is_sent_with_the_file() {
    let mut s = state();
    let caption = MessageText::new("page 2").unwrap();
    let cid = s
        .attach(
            general(),
            "/home/t/worksheet.png".into(),
            100_000,
            Some(caption),
        )
        .unwrap();
    let jobs = s.take_jobs();
    let preview = jobs.iter().find_map(|j| match j {
        Job::Preview { id, path } => Some((*id, path.clone())),
        _ => None,
    });
    let (preview, shown) = preview.expect("the local file is decoded to be shown");
    assert_eq!(shown, PathBuf::from("/home/t/worksheet.png"));
    let (id, path, size) = match jobs.iter().find(|j| matches!(j, Job::Upload { .. })) {
        Some(Job::Upload { id, path, size, .. }) => (*id, path.clone(), *size),
        _ => panic!("{jobs:?}"),
    };
    assert_eq!(
        (path, size),
        (PathBuf::from("/home/t/worksheet.png"), 100_000)
    );
    assert_eq!(
        s.picture_done(preview, Ok(())),
        Some(PictureOf::Own(cid.clone()))
    );
    assert!(s.take_outbox().is_empty(), "nothing sent before the upload");
    assert_eq!(stage(&s), Stage::Uploading { done: 0 });
    s.transfer_progress(id, 65_536);
    assert_eq!(stage(&s), Stage::Uploading { done: 65_536 });
    assert_eq!(s.pending[0].delivery, Delivery::Sending);

    s.uploaded(id, upload_id(1));
    assert_eq!(stage(&s), Stage::Uploaded(upload_id(1)));
    let (req, send) = the_send(&mut s);
    match send {
        Request::Send {
            client_id,
            text,
            file,
            ..
        } => {
            assert_eq!(client_id, cid);
            assert_eq!(text.unwrap().as_str(), "page 2");
            assert_eq!(file, Some(upload_id(1)));
        }
        _ => unreachable!(),
    }
    s.on_reply(
        req,
        ServerMessage::Ack {
            id: 1,
            client_id: cid.clone(),
            message_id: 41,
            ts: 5,
        },
    );
    assert!(s.pending.is_empty());
    // Delivered at once, its file shown from what the app knows.
    assert_eq!(
        s.conversations[&general()].message_ids(),
        [41],
        "the message is in the conversation"
    );
    assert_eq!(
        s.files.sent.get(&41),
        Some(&Sent {
            client_id: cid.clone(),
            name: FileName::new("worksheet.png").unwrap(),
            size: 100_000,
        })
    );
    // The ack has no file id or key: the message is read back.
    let again = s.take_outbox();
    assert!(
        again.iter().any(|(_, r)| matches!(
            r,
            Request::History { with, before: Some(42), .. } if *with == general()
        )),
        "{again:?}"
    );
}

#[test]
fn a_failed_upload_says_why_and_retry_uploads_again() {
    let mut s = state();
    let cid = s
        .attach(general(), "/tmp/notes.pdf".into(), 5_000, None)
        .unwrap();
    let (first, _, _) = upload_job(&mut s);
    s.transfer_failed(first, "your storage on the server is full".into());
    assert_eq!(
        s.pending[0].delivery,
        Delivery::Unsent {
            reason: "notes.pdf could not be uploaded: your storage on the server is full".into()
        }
    );
    assert_eq!(s.failed_in(&general()), 1);
    assert!(s.retry(&cid));
    let (second, _, _) = upload_job(&mut s);
    assert_ne!(second, first);
    assert!(s.take_outbox().is_empty());
    // Late news of the first transfer changes nothing.
    s.transfer_progress(first, 4_000);
    s.uploaded(first, upload_id(1));
    assert_eq!(stage(&s), Stage::Uploading { done: 0 });
    assert!(s.take_outbox().is_empty());
    s.uploaded(second, upload_id(2));
    let (_, send) = the_send(&mut s);
    assert!(matches!(send, Request::Send { file: Some(f), text: None, .. } if f == upload_id(2)));
}

/// After a reconnect an uploaded file's message is sent again under the
/// same client id with the same upload; if the server no longer has the
/// upload (it restarted), the file is uploaded again instead of failing.
#[test]
fn after_a_reconnect_the_message_is_resent_and_a_lost_upload_starts_over() {
    let mut s = state();
    let cid = s
        .attach(general(), "/tmp/photo.jpg".into(), 70_000, None)
        .unwrap();
    let (id, _, _) = upload_job(&mut s);
    s.uploaded(id, upload_id(3));
    let (req, _) = the_send(&mut s);
    s.on_unanswered(&[req]);
    assert_eq!(s.pending[0].delivery, Delivery::Interrupted);
    let resent = s.take_resends();
    assert_eq!(resent.len(), 1);
    s.send_pending(&resent[0]);
    let (req, send) = the_send(&mut s);
    assert!(
        matches!(send, Request::Send { client_id, file: Some(f), .. }
        if client_id == cid && f == upload_id(3))
    );
    assert!(s.take_jobs().is_empty(), "not uploaded twice");

    s.on_reply(
        req,
        ServerMessage::error(Some(9), ErrorCode::NoSuchUpload, "no such upload"),
    );
    assert_eq!(s.pending[0].delivery, Delivery::Sending, "not failed");
    assert_eq!(stage(&s), Stage::Uploading { done: 0 });
    let (again, path, _) = upload_job(&mut s);
    assert_eq!(path, PathBuf::from("/tmp/photo.jpg"));
    s.uploaded(again, upload_id(4));
    let (_, send) = the_send(&mut s);
    assert!(
        matches!(send, Request::Send { client_id, file: Some(f), .. }
        if client_id == cid && f == upload_id(4))
    );
}

#[test]
fn pictures_are_fetched_once_and_each_outcome_is_shown() {
    let mut s = state();
    let f = attachment("worksheet.png", 80_000);
    s.want_picture(&f);
    s.want_picture(&f);
    let jobs = s.take_jobs();
    assert_eq!(jobs.len(), 1, "asked once while it loads");
    let Job::Download { id, to, .. } = &jobs[0] else {
        panic!("{jobs:?}")
    };
    assert_eq!(*to, Sink::Picture);
    s.transfer_progress(*id, 32_768);
    assert_eq!(
        s.files.pictures[&f.id],
        Fetch::Loading {
            done: 32_768,
            total: 80_000
        }
    );
    assert_eq!(
        s.picture_done(*id, Ok(())),
        Some(PictureOf::File(f.id.clone()))
    );
    assert_eq!(s.files.pictures[&f.id], Fetch::Shown);
    // The screen dropped its texture: fetched again.
    s.want_picture(&f);
    let Job::Download { id, .. } = s.take_jobs().pop().unwrap() else {
        panic!()
    };
    s.picture_done(id, Err(Some("picture too large to show".into())));
    assert_eq!(
        s.files.pictures[&f.id],
        Fetch::Refused("picture too large to show".into())
    );
    s.want_picture(&f);
    assert!(
        s.take_jobs().is_empty(),
        "a refused picture is not fetched again"
    );

    let big = Attachment {
        id: FileId::from_bytes([8; 16]),
        ..attachment("film.gif", PICTURE_AUTO_MAX + 1)
    };
    s.want_picture(&big);
    assert!(s.take_jobs().is_empty(), "larger ones wait for Save…");

    let other = Attachment {
        id: FileId::from_bytes([9; 16]),
        ..attachment("a.png", 10)
    };
    s.want_picture(&other);
    let Job::Download { id, .. } = s.take_jobs().pop().unwrap() else {
        panic!()
    };
    s.transfer_failed(id, "the file is no longer on the server".into());
    assert_eq!(
        s.files.pictures[&other.id],
        Fetch::Failed("the file is no longer on the server".into())
    );
}

#[test]
fn saves_end_saved_or_failed_and_a_session_ending_fails_what_is_on_its_way() {
    let mut s = state();
    let f = attachment("worksheet.png", 80_000);
    s.save_file(&f, "/tmp/out/worksheet.png".into());
    let Job::Download { id, to, .. } = s.take_jobs().pop().unwrap() else {
        panic!()
    };
    assert_eq!(to, Sink::File("/tmp/out/worksheet.png".into()));
    s.transfer_progress(id, 40_000);
    s.saved(id);
    assert_eq!(
        s.files.saves[&f.id],
        Saving::Saved("/tmp/out/worksheet.png".into())
    );

    s.save_file(&f, "/tmp/out/again.png".into());
    s.want_picture(&f);
    s.attach(general(), "/tmp/a.txt".into(), 10, None).unwrap();
    // (The upload's preview among them: the network tells a picture.)
    assert_eq!(s.take_jobs().len(), 4);
    s.ended("the server's key changed".into());
    assert_eq!(
        s.files.saves[&f.id],
        Saving::Failed("the server's key changed".into())
    );
    assert_eq!(
        s.files.pictures[&f.id],
        Fetch::Failed("the server's key changed".into())
    );
    assert!(s.pending[0].failed(), "the upload's message fails too");
    // Retried with no session to come: it fails again at once.
    let cid = s.pending[0].client_id.clone();
    assert!(s.retry(&cid));
    assert!(s.take_jobs().is_empty());
    assert!(s.pending[0].failed());
}

#[test]
fn names_from_others_cannot_leave_the_folder_or_hide() {
    let dir = Path::new("/home/t/Downloads");
    for (name, safe) in [
        ("worksheet.png", "worksheet.png"),
        ("../../etc/passwd", "_.._etc_passwd"),
        ("..\\..\\x.exe", "_.._x.exe"),
        (".bashrc", "bashrc"),
        ("a:b*c?.txt", "a_b_c_.txt"),
        ("CON.txt", "file CON.txt"),
        ("...", "file"),
        ("x\u{202e}gnp.exe", "x_gnp.exe"),
    ] {
        assert_eq!(safe_file_name(name), safe, "{name:?}");
        let path = save_path(dir, name);
        assert_eq!(path.parent(), Some(dir), "{name:?}");
    }
    assert!(safe_file_name(&"é".repeat(200)).len() <= 200);
}

#[test]
fn sizes_read_as_people_read_them() {
    assert_eq!(human_size(850), "850 bytes");
    assert_eq!(human_size(5_632), "5.5 KB");
    assert_eq!(human_size(20_480), "20 KB");
    assert_eq!(human_size(26 * MB), "26 MB");
    assert_eq!(human_size(3 * MB + MB / 5), "3.2 MB");
}

/// Cancel while it uploads: the message is gone, the network is told to
/// stop, and an upload that completed meanwhile sends nothing. Once
/// uploaded (its `send` on its way) there is nothing to cancel.
#[test]
fn a_cancelled_upload_sends_nothing() {
    let mut s = state();
    let cid = s
        .attach(general(), "/tmp/lecture.pdf".into(), 20 * MB, None)
        .unwrap();
    let (id, _, _) = upload_job(&mut s);
    s.transfer_progress(id, 65_536);
    assert!(s.cancel_upload(&cid));
    assert!(s.pending.is_empty());
    assert_eq!(s.take_jobs(), [Job::Cancel { id }]);
    s.uploaded(id, upload_id(3));
    s.transfer_progress(id, 20 * MB);
    assert!(s.take_outbox().is_empty(), "nothing sent");
    assert!(s.pending.is_empty());
    assert!(!s.cancel_upload(&cid), "once");

    let cid = s
        .attach(general(), "/tmp/notes.txt".into(), 100, None)
        .unwrap();
    let (id, _, _) = upload_job(&mut s);
    s.uploaded(id, upload_id(4));
    assert!(!s.cancel_upload(&cid), "already being sent");
    assert_eq!(s.pending.len(), 1);
    assert!(s.take_jobs().is_empty());
}
