//! The per-address connection cap (issue 15, finding 1): many connections from one address
//! are closed beyond `--max-connections-per-address` while other addresses are served, places
//! are given back when connections close, and trusted proxies are exempt. Client sockets are
//! bound to 127.0.0.1 or 127.0.0.2 to play two hosts.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::http2::connect_from;
use crate::server::TestServer;

/// Whether the server closes `conn` without an answer within 2 s (`true`), or keeps it open.
async fn closed_unanswered(mut conn: TcpStream) -> (bool, TcpStream) {
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(2), conn.read(&mut buf)).await;
    let closed = match read {
        Ok(Ok(0)) | Ok(Err(_)) => true,
        Ok(Ok(_)) => panic!("a silent connection got data"),
        Err(_) => false,
    };
    (closed, conn)
}

/// `GET /healthz` on a new connection from `from`: the status line, or `None` if closed.
async fn health_from(s: &TestServer, from: &str) -> Option<String> {
    let mut conn = connect_from(s, from).await;
    let request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    conn.write_all(request).await.ok()?;
    let mut got = String::new();
    tokio::time::timeout(Duration::from_secs(5), conn.read_to_string(&mut got))
        .await
        .expect("no answer and no close")
        .ok()?;
    got.lines().next().map(str::to_owned)
}

/// Opens `n` silent connections from `from` and sorts them into kept open and closed at once.
async fn hold(s: &TestServer, from: &str, n: usize) -> (Vec<TcpStream>, usize) {
    let mut conns = Vec::new();
    for _ in 0..n {
        conns.push(connect_from(s, from).await);
    }
    let judged = futures::future::join_all(conns.into_iter().map(closed_unanswered)).await;
    let closed = judged.iter().filter(|(closed, _)| *closed).count();
    let open = judged
        .into_iter()
        .filter(|(closed, _)| !closed)
        .map(|(_, c)| c)
        .collect();
    (open, closed)
}

/// With `--max-connections-per-address 4`, 65 connections from 127.0.0.1: four are kept, the
/// other 61 are closed at once, while 127.0.0.2 is still served. Closing the four gives their
/// places back: 127.0.0.1 is served again.
#[tokio::test]
async fn one_address_gets_at_most_its_cap_of_connections() {
    let s = TestServer::builder()
        .args(&[
            "--max-connections-per-address",
            "4",
            "--header-timeout",
            "30",
        ])
        .spawn();
    let (open, closed) = hold(&s, "127.0.0.1", 65).await;
    assert_eq!((open.len(), closed), (4, 61));
    assert_eq!(
        health_from(&s, "127.0.0.1").await,
        None,
        "a fifth connection"
    );
    let other = health_from(&s, "127.0.0.2").await;
    assert_eq!(other.as_deref(), Some("HTTP/1.1 200 OK"));
    drop(open);
    // The server sees the four close a moment later.
    let mut served = None;
    for _ in 0..50 {
        served = health_from(&s, "127.0.0.1").await;
        if served.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(served.as_deref(), Some("HTTP/1.1 200 OK"));
    // One place back is enough for that answer; the server sees the other closes (and that
    // request's own) a moment later, each on its connection's task. All four come back.
    let mut seen = (0, 0);
    for _ in 0..20 {
        let (open, closed) = hold(&s, "127.0.0.1", 5).await;
        seen = (open.len(), closed);
        if seen == (4, 1) {
            break;
        }
        drop(open);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(seen, (4, 1), "places were not given back");
}

/// The default cap is 64 connections per address, and a trusted proxy (which carries everyone's
/// connections) is exempt.
#[tokio::test]
async fn the_default_cap_is_64_and_trusted_proxies_are_exempt() {
    let s = TestServer::builder()
        .args(&[
            "--trusted-proxies",
            "127.0.0.2/32",
            "--header-timeout",
            "30",
        ])
        .spawn();
    let (open, closed) = hold(&s, "127.0.0.1", 65).await;
    assert_eq!((open.len(), closed), (64, 1));
    let (proxied, closed) = hold(&s, "127.0.0.2", 80).await;
    assert_eq!((proxied.len(), closed), (80, 0));
}
