//! Bad input on fresh connections: garbage, an oversized length prefix, a
//! record with a wrong tag, a replayed record. The server must close every
//! such connection without answering.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use cove_common::Request;
use tokio::io::AsyncWriteExt;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::{AttackReport, Counters, STRANGER, Scale, bump, get, is_stopped, stopped};
use crate::raw::{self, Raw};

#[derive(Clone, Copy, Debug)]
enum Bad {
    Garbage,
    Oversized,
    WrongTag,
    Replay,
}

/// Sends each kind of bad input on fresh connections, in a loop, and
/// checks that the server closes every one.
pub(super) async fn bad_records(
    addr: &str,
    scale: &Scale,
    stop: watch::Receiver<bool>,
    ready: watch::Sender<bool>,
    report: &mut AttackReport,
) {
    const KINDS: [Bad; 4] = [Bad::Garbage, Bad::Oversized, Bad::WrongTag, Bad::Replay];
    // Per kind: a = sent, b = closed by the server, c = left open, d = answered after the bad record.
    let counters: Arc<Vec<Counters>> =
        Arc::new(KINDS.iter().map(|_| Counters::default()).collect());
    let mut set = JoinSet::new();
    for k in 0..scale.parallel {
        let (addr, counters, stop) = (addr.to_owned(), counters.clone(), stop.clone());
        set.spawn(async move {
            let mut n = k;
            while !is_stopped(&stop) {
                let kind = KINDS[n % KINDS.len()];
                n += 1;
                let c = &counters[n.wrapping_sub(1) % KINDS.len()];
                match one_bad(&addr, kind).await {
                    Ok((closed, answered)) => {
                        bump(&c.a);
                        bump(if closed { &c.b } else { &c.c });
                        if answered {
                            bump(&c.d);
                        }
                    }
                    Err(_) => bump(&c.e),
                }
            }
        });
    }
    let _ = ready.send(true);
    stopped(stop).await;
    set.abort_all();
    for (kind, c) in KINDS.iter().zip(counters.iter()) {
        if get(&c.a) == 0 {
            report.fail(format!("no {kind:?} input was sent"));
        }
        if get(&c.c) > 0 || get(&c.d) > 0 {
            report.fail(format!("{kind:?}: a connection was left open or answered"));
        }
        report.add(
            &format!("{kind:?}"),
            format!(
                "{} sent, {} closed by the server, {} left open, {} answered after it, {} errors",
                get(&c.a),
                get(&c.b),
                get(&c.c),
                get(&c.d),
                get(&c.e)
            ),
        );
    }
}

/// Returns (closed by the server, answered after the bad input).
async fn one_bad(addr: &str, kind: Bad) -> Result<(bool, bool)> {
    let limit = Duration::from_secs(5);
    let source = Some(IpAddr::from(STRANGER));
    match kind {
        Bad::Garbage => {
            let mut s = raw::tcp(addr, source).await?;
            let junk: [u8; 64] = rand::random();
            s.write_all(&[0, 0, 0, 64]).await?;
            s.write_all(&junk).await?;
            Ok((raw::closed_within(&mut s, limit).await, false))
        }
        Bad::Oversized => {
            let mut r = Raw::connect(addr, source).await?;
            r.stream
                .write_all(&[0xff, 0xff, 0xff, 0xf0, 1, 2, 3])
                .await?;
            Ok((raw::closed_within(&mut r.stream, limit).await, false))
        }
        Bad::WrongTag => {
            let mut r = Raw::connect(addr, source).await?;
            let (_, mut frame) = r.seal(Request::Ping)?;
            let last = frame.len() - 1;
            frame[last] ^= 0x01;
            r.stream.write_all(&frame).await?;
            after_bad(r, limit).await
        }
        Bad::Replay => {
            let mut r = Raw::connect(addr, source).await?;
            let (id, frame) = r.seal(Request::Ping)?;
            r.stream.write_all(&frame).await?;
            let _ = r.reply_to(id).await?;
            r.stream.write_all(&frame).await?;
            after_bad(r, limit).await
        }
    }
}

/// Whether the server closes within `limit`, and whether it answered
/// anything before closing.
async fn after_bad(mut r: Raw, limit: Duration) -> Result<(bool, bool)> {
    let got = tokio::time::timeout(limit, r.recv()).await;
    Ok(match got {
        Ok(Ok(None)) | Ok(Err(_)) => (true, false),
        Ok(Ok(Some(_))) => (raw::closed_within(&mut r.stream, limit).await, true),
        Err(_) => (false, false),
    })
}
