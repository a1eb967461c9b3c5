//! Record-layer throughput against the raw primitives it is built from, and
//! handshakes per second. `cargo bench -p cove-common --bench crypto`.
#![allow(clippy::unwrap_used, missing_docs)]

use aes::Aes256;
use aes::cipher::{InnerIvInit, KeyInit};
use bytes::BytesMut;
use cove_common::crypto::EtmKey;
use cove_common::frame::decode_frame;
use cove_common::handshake::{ClientHandshake, ServerHandshake, ServerIdentity};
use cove_common::record::{Direction, Opener, Sealer};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::hint::black_box;

const SIZES: [usize; 3] = [100, 1024, 16 * 1024];

fn record_layer(c: &mut Criterion) {
    let key = EtmKey::derive(b"bench", b"salt", "bench");
    let mut g = c.benchmark_group("record");
    for size in SIZES {
        let pt = vec![0x5au8; size];
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_with_input(BenchmarkId::new("seal", size), &pt, |b, pt| {
            let mut s = Sealer::new(key.clone(), Direction::ClientToServer);
            let mut out = BytesMut::with_capacity(size + 64);
            b.iter(|| {
                out.clear();
                s.seal_frame(black_box(pt), &mut out).unwrap();
            });
        });
        g.bench_with_input(BenchmarkId::new("seal+open", size), &pt, |b, pt| {
            let mut s = Sealer::new(key.clone(), Direction::ClientToServer);
            let mut o = Opener::new(key.clone(), Direction::ClientToServer);
            let mut wire = BytesMut::with_capacity(size + 64);
            b.iter(|| {
                s.seal_frame(black_box(pt), &mut wire).unwrap();
                let mut f = decode_frame(&mut wire).unwrap().unwrap();
                black_box(o.open(&mut f).unwrap());
            });
        });
    }
    g.finish();
}

fn raw_primitives(c: &mut Criterion) {
    let cipher = Aes256::new(&[7u8; 32].into());
    let mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&[9u8; 32]).unwrap();
    let iv = [3u8; 16];
    let mut g = c.benchmark_group("raw");
    for size in SIZES {
        let mut buf = vec![0x5au8; size];
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_function(BenchmarkId::new("aes256-cfb-encrypt", size), |b| {
            b.iter(|| {
                cfb_mode::Encryptor::<Aes256>::inner_iv_init(cipher.clone(), (&iv).into())
                    .encrypt(black_box(&mut buf));
            });
        });
        g.bench_function(BenchmarkId::new("hmac-sha256", size), |b| {
            b.iter(|| {
                let mut m = mac.clone();
                m.update(black_box(&buf));
                black_box(m.finalize());
            });
        });
        g.bench_function(BenchmarkId::new("encrypt+mac+decrypt+mac", size), |b| {
            b.iter(|| {
                cfb_mode::Encryptor::<Aes256>::inner_iv_init(cipher.clone(), (&iv).into())
                    .encrypt(black_box(&mut buf));
                let mut m = mac.clone();
                m.update(&buf);
                black_box(m.finalize());
                let mut m = mac.clone();
                m.update(&buf);
                black_box(m.finalize());
                cfb_mode::Decryptor::<Aes256>::inner_iv_init(cipher.clone(), (&iv).into())
                    .decrypt(black_box(&mut buf));
            });
        });
    }
    g.finish();
}

/// What a server pays to send 16 queued 200-byte messages to one
/// connection: 16 records, or one record holding all 16.
fn queued_messages(c: &mut Criterion) {
    let key = EtmKey::derive(b"bench", b"salt", "bench");
    let msgs = vec![vec![0x5au8; 200]; 16];
    let mut g = c.benchmark_group("sixteen-messages");
    g.throughput(Throughput::Elements(16));
    g.bench_function("one-record-each", |b| {
        let mut s = Sealer::new(key.clone(), Direction::ServerToClient);
        let mut out = BytesMut::with_capacity(16 * 300);
        b.iter(|| {
            out.clear();
            for m in &msgs {
                s.seal_frame(black_box(m), &mut out).unwrap();
            }
        });
    });
    g.bench_function("one-record-joined", |b| {
        let mut s = Sealer::new(key.clone(), Direction::ServerToClient);
        let mut out = BytesMut::with_capacity(16 * 300);
        b.iter(|| {
            out.clear();
            s.seal_frame_joined(black_box(&msgs), b'\n', &mut out)
                .unwrap();
        });
    });
    g.finish();
}

fn handshakes(c: &mut Criterion) {
    let id = ServerIdentity::generate();
    c.bench_function("handshake/full", |b| {
        b.iter(|| {
            let (client, hello) = ClientHandshake::start();
            let server = ServerHandshake::respond(&id, &hello).unwrap();
            black_box(client.finish(&server.reply).unwrap());
        });
    });
}

criterion_group!(
    benches,
    record_layer,
    queued_messages,
    raw_primitives,
    handshakes
);
criterion_main!(benches);
