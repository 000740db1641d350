//! Connections as an attacker holds them (issue 15, finding 1): idle HTTP/2 connections that
//! answer pings, stream floods and rapid resets on one HTTP/2 connection (CVE-2023-44487). The HTTP/2 client here writes raw frames (RFC 9113 §4),
//! so it can do what a well-behaved client library refuses to: exceed the server's stream limit,
//! reset streams as fast as it opens them, or never acknowledge a GOAWAY's PING. The
//! per-address connection cap is tested in `per_address.rs`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{mpsc, Mutex};

use crate::server::TestServer;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;
const END_STREAM: u8 = 0x1;
const ACK: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const CANCEL: u32 = 0x8;
const REFUSED_STREAM: u32 = 0x7;
const NO_ERROR: u32 = 0x0;
const ENHANCE_YOUR_CALM: u32 = 0xb;
const SETTINGS_MAX_CONCURRENT_STREAMS: u16 = 0x3;

/// One frame the server sent.
#[derive(Debug, Clone)]
struct Frame {
    kind: u8,
    flags: u8,
    stream: u32,
    payload: Vec<u8>,
}

impl Frame {
    /// The error code of a RST_STREAM or GOAWAY frame.
    fn error_code(&self) -> u32 {
        let at = if self.kind == GOAWAY { 4 } else { 0 };
        u32::from_be_bytes(self.payload[at..at + 4].try_into().unwrap())
    }
}

/// An HTTP/2 (prior knowledge, h2c) connection over raw frames. A task reads every frame the
/// server sends into a channel, acknowledging SETTINGS and answering PINGs as a live client
/// does, unless `mute` is set.
struct H2 {
    writer: Arc<Mutex<OwnedWriteHalf>>,
    frames: mpsc::UnboundedReceiver<Frame>,
    mute: Arc<AtomicBool>,
}

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut out = len.to_be_bytes()[1..].to_vec();
    out.extend([kind, flags]);
    out.extend(stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// A request's HEADERS frame, HPACK-encoded without the dynamic table: `:method` and `:scheme`
/// from the static table, `:path` and `:authority` as literals with an indexed name.
fn headers(stream: u32, method: &str, path: &str, end_stream: bool) -> Vec<u8> {
    let mut block = vec![if method == "POST" { 0x83 } else { 0x82 }, 0x86];
    block.extend([0x04, path.len() as u8]);
    block.extend_from_slice(path.as_bytes());
    block.extend([0x01, 9]);
    block.extend_from_slice(b"localhost");
    let flags = END_HEADERS | if end_stream { END_STREAM } else { 0 };
    frame(HEADERS, flags, stream, &block)
}

fn rst(stream: u32, code: u32) -> Vec<u8> {
    frame(RST_STREAM, 0, stream, &code.to_be_bytes())
}

/// The server's `host:port`.
fn addr(s: &TestServer) -> SocketAddr {
    s.base.trim_start_matches("http://").parse().unwrap()
}

/// A TCP connection to the server from `from` (a loopback address).
pub async fn connect_from(s: &TestServer, from: &str) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    socket.connect(addr(s)).await.unwrap()
}

impl H2 {
    /// Connects, sends the preface and empty SETTINGS; the server's SETTINGS arrive as frames.
    async fn open(s: &TestServer) -> H2 {
        let (mut rd, wr) = connect_from(s, "127.0.0.1").await.into_split();
        let writer = Arc::new(Mutex::new(wr));
        let mute = Arc::new(AtomicBool::new(false));
        let (tx, frames) = mpsc::unbounded_channel();
        let (w, m) = (writer.clone(), mute.clone());
        tokio::spawn(async move {
            loop {
                let mut head = [0u8; 9];
                if rd.read_exact(&mut head).await.is_err() {
                    return;
                }
                let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
                let mut payload = vec![0u8; len];
                if rd.read_exact(&mut payload).await.is_err() {
                    return;
                }
                let stream = u32::from_be_bytes(head[5..9].try_into().unwrap()) & 0x7fff_ffff;
                let f = Frame {
                    kind: head[3],
                    flags: head[4],
                    stream,
                    payload,
                };
                let answer = match (f.kind, f.flags & ACK) {
                    (SETTINGS, 0) => Some(frame(SETTINGS, ACK, 0, &[])),
                    (PING, 0) => Some(frame(PING, ACK, 0, &f.payload)),
                    _ => None,
                };
                if let Some(answer) = answer.filter(|_| !m.load(Ordering::Relaxed)) {
                    let _ = w.lock().await.write_all(&answer).await;
                }
                if tx.send(f).is_err() {
                    return;
                }
            }
        });
        let h2 = H2 {
            writer,
            frames,
            mute,
        };
        let mut hello = PREFACE.to_vec();
        hello.extend(frame(SETTINGS, 0, 0, &[]));
        h2.send(&hello).await;
        h2
    }

    async fn send(&self, bytes: &[u8]) {
        let _ = self.writer.lock().await.write_all(bytes).await;
    }

    /// The next frame, `None` once the server closed the connection; panics after `within`.
    async fn next(&mut self, within: Duration) -> Option<Frame> {
        tokio::time::timeout(within, self.frames.recv())
            .await
            .expect("no frame and no close in time")
    }

    /// Frames until one matches `wanted` (returned), panicking if the connection closes first.
    async fn until(&mut self, within: Duration, wanted: impl Fn(&Frame) -> bool) -> Frame {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left).await {
                Some(f) if wanted(&f) => return f,
                Some(_) => continue,
                None => panic!("the connection closed first"),
            }
        }
    }

    /// `GET path` on `stream`; waits for the response's HEADERS.
    async fn get(&mut self, stream: u32, path: &str) {
        self.send(&headers(stream, "GET", path, true)).await;
        self.until(Duration::from_secs(5), |f| {
            f.kind == HEADERS && f.stream == stream
        })
        .await;
    }

    /// Every frame until the server closes the connection; `None` if it is still open after
    /// `within`.
    async fn rest_until_closed(&mut self, within: Duration) -> Option<Vec<Frame>> {
        let mut seen = Vec::new();
        let closed = tokio::time::timeout(within, async {
            while let Some(f) = self.frames.recv().await {
                seen.push(f);
            }
        })
        .await;
        closed.ok().map(|()| seen)
    }
}

fn goaway(frames: &[Frame]) -> Option<&Frame> {
    frames.iter().find(|f| f.kind == GOAWAY)
}

/// The attack of issue 15: eight HTTP/2 connections that each sent one request and then only
/// answer pings took every slot of `--max-connections 8` for as long as they stayed, so the
/// server answered nobody. With `--idle-timeout 2` each is sent GOAWAY and closed, and a ninth
/// client is served.
#[tokio::test]
async fn eight_idle_h2_connections_no_longer_lock_others_out() {
    let s = TestServer::builder()
        .args(&[
            "--max-connections",
            "8",
            "--header-timeout",
            "2",
            "--idle-timeout",
            "2",
        ])
        .spawn();
    let mut idle = Vec::new();
    for _ in 0..8 {
        let mut h2 = H2::open(&s).await;
        h2.get(1, "/healthz").await;
        idle.push(h2);
    }
    let ninth = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap();
    let resp = ninth.get(s.url("/healthz")).send().await;
    let resp = resp.expect("the ninth client got no answer: the idle h2 connections held on");
    assert_eq!(resp.status(), 200);
    for mut h2 in idle {
        let rest = h2.rest_until_closed(Duration::from_secs(10)).await;
        let rest = rest.expect("an idle h2 connection stayed open");
        let goaway = goaway(&rest).expect("closed without GOAWAY");
        assert_eq!(goaway.error_code(), NO_ERROR);
    }
}

/// Requests keep a connection open; pings do not. A connection that sends a request every
/// 300 ms outlives `--idle-timeout 2`; once it only sends PINGs (and answers the server's) it is
/// sent GOAWAY (NO_ERROR) and closed.
#[tokio::test]
async fn an_idle_h2_connection_is_sent_goaway_and_closed_though_it_pings() {
    let s = TestServer::builder()
        .args(&["--idle-timeout", "2", "--header-timeout", "30"])
        .spawn();
    let mut h2 = H2::open(&s).await;
    let start = Instant::now();
    let mut stream = 1;
    while start.elapsed() < Duration::from_secs(4) {
        h2.get(stream, "/healthz").await;
        stream += 2;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Served the last request on the connection after 4 s (twice the idle timeout) of requests.
    let pinger = {
        let writer = h2.writer.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let ping = frame(PING, 0, 0, b"12345678");
                if writer.lock().await.write_all(&ping).await.is_err() {
                    return;
                }
            }
        })
    };
    let rest = h2.rest_until_closed(Duration::from_secs(10)).await;
    pinger.abort();
    let rest = rest.expect("a connection that only pings stayed open");
    let goaway = goaway(&rest).expect("closed without GOAWAY");
    assert_eq!(goaway.error_code(), NO_ERROR);
    assert!(
        rest.iter().any(|f| f.kind == PING && f.flags & ACK != 0),
        "the server stopped answering pings"
    );
}

/// A stream flood: 150 requests opened at once on one connection, each holding its stream open
/// (a POST whose body never comes). The server announces SETTINGS_MAX_CONCURRENT_STREAMS 100
/// and refuses the 50 streams beyond it (RST_STREAM REFUSED_STREAM) instead of starting 150
/// handlers (hyper's default allowed 200); another client is still served meanwhile.
#[tokio::test]
async fn a_stream_flood_is_refused_beyond_100_streams() {
    let s = TestServer::spawn();
    let mut h2 = H2::open(&s).await;
    let settings = h2
        .until(Duration::from_secs(5), |f| {
            f.kind == SETTINGS && f.flags & ACK == 0
        })
        .await;
    let max_streams = settings.payload.chunks(6).find_map(|p| {
        (u16::from_be_bytes([p[0], p[1]]) == SETTINGS_MAX_CONCURRENT_STREAMS)
            .then(|| u32::from_be_bytes(p[2..6].try_into().unwrap()))
    });
    assert_eq!(max_streams, Some(100));
    let flood: Vec<u8> = (0..150u32)
        .flat_map(|i| headers(2 * i + 1, "POST", "/oauth/token", false))
        .collect();
    h2.send(&flood).await;
    let mut refused = 0;
    let deadline = Instant::now() + Duration::from_secs(5);
    while refused < 50 && Instant::now() < deadline {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, h2.frames.recv()).await {
            Ok(Some(f)) if f.kind == RST_STREAM && f.error_code() == REFUSED_STREAM => refused += 1,
            Ok(Some(_)) => {}
            Ok(None) => panic!("the server closed the connection"),
            Err(_) => break,
        }
    }
    assert_eq!(refused, 50, "streams refused of 150 opened at once");
    let resp = s.http.get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    // The 100 accepted streams are still open, waiting for their bodies: end them.
    let ends: Vec<u8> = (0..100u32)
        .flat_map(|i| frame(DATA, END_STREAM, 2 * i + 1, &[]))
        .collect();
    h2.send(&ends).await;
}

/// Rapid reset (CVE-2023-44487): a client opens streams and resets each at once, so the server
/// starts work the client never waits for. 1,000 open-and-reset pairs sent at once get the
/// connection closed with GOAWAY ENHANCE_YOUR_CALM, and other clients are served throughout.
#[tokio::test]
async fn rapid_reset_closes_the_attacking_connection_and_others_are_served() {
    let s = TestServer::spawn();
    let mut h2 = H2::open(&s).await;
    h2.get(1, "/healthz").await;
    let attack: Vec<u8> = (1..=1000u32)
        .flat_map(|i| {
            let stream = 2 * i + 1;
            let mut pair = headers(stream, "GET", "/healthz", true);
            pair.extend(rst(stream, CANCEL));
            pair
        })
        .collect();
    let writer = h2.writer.clone();
    let sending = tokio::spawn(async move {
        let _ = writer.lock().await.write_all(&attack).await;
    });
    let others = futures::future::join_all((0..20).map(|_| async {
        s.http
            .get(s.url("/healthz"))
            .send()
            .await
            .map(|r| r.status().as_u16())
    }))
    .await;
    for status in others {
        assert_eq!(status.unwrap(), 200);
    }
    let rest = h2.rest_until_closed(Duration::from_secs(10)).await;
    let rest = rest.expect("the connection resetting 1,000 streams stayed open");
    let goaway = goaway(&rest).expect("closed without GOAWAY");
    assert_eq!(goaway.error_code(), ENHANCE_YOUR_CALM);
    sending.abort();
    let resp = s.http.get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
}

/// On shutdown, an idle HTTP/2 client that never acknowledges the GOAWAY (nor answers pings)
/// cannot hold the server up beyond the request timeout (`--request-timeout 2`, while the
/// keep-alive pings would take `--header-timeout 30` to give up on it).
#[tokio::test]
async fn an_unresponsive_idle_h2_client_does_not_hold_up_shutdown() {
    let mut s = TestServer::builder()
        .args(&["--request-timeout", "2", "--header-timeout", "30"])
        .spawn();
    let mut h2 = H2::open(&s).await;
    h2.get(1, "/healthz").await;
    h2.mute.store(true, Ordering::Relaxed);
    let start = Instant::now();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let pid = s.pid();
    std::thread::spawn(move || {
        // A watchdog: a server still running after 20 s is killed so the test ends.
        if done_rx.recv_timeout(Duration::from_secs(20)).is_err() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    });
    let status = s.terminate();
    let _ = done_tx.send(());
    assert!(status.success(), "{status:?}");
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "shutdown took {:?}",
        start.elapsed()
    );
}
