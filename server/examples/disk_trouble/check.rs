//! What must be on the server afterwards, and checking it: every account
//! logs in and finds each acknowledged message in its history exactly once.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, bail};
use cove_common::proto::Target;
use cove_common::{Request, ServerMessage, Username};
use serde::{Deserialize, Serialize};

use crate::client::{Client, LiveDeliveries, Reply, general};

/// Who must find what in their history: user name -> (conversation key ->
/// texts).
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Expected {
    pub(crate) accounts: Vec<String>,
    /// user -> texts in their history (rooms and direct conversations).
    pub(crate) histories: BTreeMap<String, Vec<String>>,
}

/// Every text in a user's #general history and direct conversations.
async fn all_history(c: &mut Client, peers: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut convs = vec![general()];
    for p in peers {
        if p != c.name.as_str() {
            convs.push(Target::User(Username::new(p.as_str())?));
        }
    }
    for with in convs {
        // Since protocol v4 a page may be short or even empty while `more`
        // holds (the server reads a bounded stretch per page): follow the
        // cursor until `more` is false.
        let mut cursor = None;
        loop {
            let reply = c
                .call(Request::History {
                    with: with.clone(),
                    before: None,
                    limit: cove_common::limits::HISTORY_PAGE_MAX,
                    cursor: cursor.take(),
                })
                .await;
            let Reply::Answer(ServerMessage::History {
                messages,
                more,
                cursor: next,
                ..
            }) = reply
            else {
                bail!("history of {} failed: {reply:?}", c.name);
            };
            out.extend(messages.into_iter().map(|m| m.text_str().to_owned()));
            cursor = next;
            if !more || cursor.is_none() {
                break;
            }
        }
    }
    Ok(out)
}

/// Compares histories with what is expected: (accounts logged in, missing,
/// duplicates, unexpected).
pub(crate) async fn check(
    addr: &str,
    expected: &Expected,
    timeout: Duration,
) -> Result<(usize, u64, u64, u64)> {
    let live = Arc::new(LiveDeliveries::default());
    let mut logged_in = 0;
    let (mut missing, mut dups, mut unexpected) = (0, 0, 0);
    let peers: Vec<String> = expected.accounts.clone();
    for name in &expected.accounts {
        let mut c = match Client::connect(addr, name, false, live.clone(), timeout).await {
            Ok(c) => c,
            Err(e) => {
                println!("   login of {name} FAILED: {e}");
                continue;
            }
        };
        logged_in += 1;
        let got = all_history(&mut c, &peers).await?;
        let mut counts: HashMap<&str, u64> = HashMap::new();
        for t in &got {
            *counts.entry(t.as_str()).or_default() += 1;
        }
        let want = expected.histories.get(name).cloned().unwrap_or_default();
        for t in &want {
            match counts.get(t.as_str()) {
                None => {
                    missing += 1;
                    println!("   {name}: MISSING {t}");
                }
                Some(1) => {}
                Some(n) => dups += n - 1,
            }
        }
        let wanted: std::collections::HashSet<&str> = want.iter().map(String::as_str).collect();
        unexpected += got.iter().filter(|t| !wanted.contains(t.as_str())).count() as u64;
    }
    Ok((logged_in, missing, dups, unexpected))
}
