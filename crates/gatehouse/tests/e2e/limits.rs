//! Connection limits over real sockets (issue 6, point 5): a client that dribbles its headers
//! or its body slower than the timeouts is cut off, oversized headers get 431, and the cap on
//! concurrent connections holds (further connections wait to be accepted until one closes), on
//! plain HTTP and on HTTPS alike.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::server::TestServer;

/// A raw TCP connection to a test server's `host:port`.
async fn connect(s: &TestServer) -> TcpStream {
    let addr = s
        .base
        .trim_start_matches("http://")
        .trim_start_matches("https://");
    TcpStream::connect(addr).await.unwrap()
}

/// A server whose `timeout` option (`--header-timeout`, `--request-timeout`) is 1 s.
fn one_second(timeout: &str) -> TestServer {
    TestServer::builder().args(&[timeout, "1"]).spawn()
}

/// Reads until the server closes the connection (or `within` passes: `None`); returns what it
/// sent.
async fn read_to_close(conn: &mut TcpStream, within: Duration) -> Option<String> {
    let mut got = Vec::new();
    let read = tokio::time::timeout(within, async {
        let mut buf = [0u8; 4096];
        loop {
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    read.ok()
        .map(|()| String::from_utf8_lossy(&got).into_owned())
}

/// Reads until the server closes `conn` (waiting at most 10 s, else panics with `never`), asserts
/// that the close came within 5 s, and returns what the server sent.
async fn closed_soon(conn: &mut TcpStream, never: &str) -> String {
    let start = Instant::now();
    let sent = read_to_close(conn, Duration::from_secs(10)).await;
    let sent = sent.unwrap_or_else(|| panic!("{never}"));
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    sent
}

/// Writes `bytes` one at a time, `gap` apart, until the server closes the connection; returns
/// how long that took, or `None` if every byte went out.
async fn dribble(conn: &mut TcpStream, bytes: &[u8], gap: Duration) -> Option<Duration> {
    let start = Instant::now();
    for b in bytes {
        tokio::time::sleep(gap).await;
        if conn.write_all(&[*b]).await.is_err() {
            return Some(start.elapsed());
        }
        // A closed connection shows on read before the write fails.
        let mut probe = [0u8; 1024];
        if let Ok(Ok(0)) =
            tokio::time::timeout(Duration::from_millis(1), conn.peek(&mut probe)).await
        {
            return Some(start.elapsed());
        }
    }
    None
}

/// A slow-loris client sending its request headers a byte every 200 ms is disconnected once
/// `--header-timeout` (1 s) passes, long before it would have finished; a prompt client on the
/// same server is served.
#[tokio::test]
async fn a_client_dribbling_its_headers_is_cut_off() {
    let s = one_second("--header-timeout");
    let mut conn = connect(&s).await;
    conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let header = "X-Slow: ".to_owned() + &"a".repeat(60) + "\r\n\r\n";
    // 70 bytes at 200 ms would take 14 s.
    let cut = dribble(&mut conn, header.as_bytes(), Duration::from_millis(200)).await;
    let cut = cut.expect("the server kept reading a dribbled header for 14 s");
    assert!(cut < Duration::from_secs(5), "cut off only after {cut:?}");

    let resp = reqwest::get(s.url("/healthz")).await.unwrap();
    assert_eq!(resp.status(), 200);
}

/// A connection that sends nothing at all, and an HTTP/1.1 keep-alive connection idle after its
/// response, are closed after `--header-timeout`, so idle connections do not hold the server's
/// connection slots.
#[tokio::test]
async fn an_idle_connection_is_closed_after_the_header_timeout() {
    let s = one_second("--header-timeout");
    let mut conn = connect(&s).await;
    closed_soon(&mut conn, "an idle connection stayed open for 10 s").await;

    // A keep-alive connection idle after its first response is closed the same way.
    let mut conn = connect(&s).await;
    conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let never = "an idle keep-alive connection stayed open for 10 s";
    let sent = closed_soon(&mut conn, never).await;
    assert!(sent.starts_with("HTTP/1.1 200"), "{sent:?}");
}

/// A client that sends its headers promptly but dribbles the body slower than
/// `--request-timeout` gets `408` with an RFC 6749 error body and `Connection: close`, and the
/// connection is closed.
#[tokio::test]
async fn a_client_dribbling_its_body_gets_408_and_is_disconnected() {
    let s = one_second("--request-timeout");
    s.add_client("app", &["--secret", "app-secret"]);
    let conn = connect(&s).await;
    let body = "grant_type=password&username=alice&password=".to_owned() + &"p".repeat(40);
    let head = format!(
        "POST /oauth/token HTTP/1.1\r\nHost: x\r\nAuthorization: Basic YXBwOmFwcC1zZWNyZXQ=\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let (mut rd, mut wr) = conn.into_split();
    wr.write_all(head.as_bytes()).await.unwrap();
    let start = Instant::now();
    // 84 body bytes at 200 ms would take 17 s.
    let writer = async move {
        for b in body.as_bytes() {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if wr.write_all(&[*b]).await.is_err() {
                // Closed: the reader reports how.
                std::future::pending::<()>().await;
            }
        }
    };
    let reader = async move {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        let _ = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                match rd.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
        })
        .await;
        (String::from_utf8_lossy(&got).into_owned(), start.elapsed())
    };
    let (response, closed_after) = tokio::select! {
        read = reader => read,
        () = writer => panic!("the server read the whole dribbled body"),
    };
    assert!(
        response.starts_with("HTTP/1.1 408"),
        "expected 408, got {response:?}"
    );
    let lower = response.to_ascii_lowercase();
    assert!(lower.contains("connection: close"), "{response}");
    assert!(
        lower.contains("content-type: application/json"),
        "{response}"
    );
    assert!(
        response.contains(r#""error":"invalid_request""#),
        "{response}"
    );
    // Answered at the deadline and closed right after, not after 17 s of dribbling.
    assert!(closed_after < Duration::from_secs(6), "{closed_after:?}");
}

/// The first response on a new connection that asks for `/healthz`, or `None` when nothing
/// came back within `within`.
async fn health_on(conn: &mut TcpStream, within: Duration) -> Option<String> {
    conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    match tokio::time::timeout(within, conn.read(&mut buf)).await {
        Ok(Ok(n)) if n > 0 => Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
        Ok(_) => Some(String::new()),
        Err(_) => None,
    }
}

/// With `--max-connections 2`, two idle connections take both slots: a third connection is not
/// served (it waits in the listen backlog, not refused) until one of the two closes, and is then
/// served at once.
#[tokio::test]
async fn the_connection_cap_makes_further_connections_wait_for_a_free_slot() {
    let s = TestServer::builder()
        .args(&["--max-connections", "2", "--header-timeout", "30"])
        .spawn();
    let idle1 = connect(&s).await;
    let _idle2 = connect(&s).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut third = connect(&s).await;
    let waited = health_on(&mut third, Duration::from_millis(1500)).await;
    assert_eq!(
        waited, None,
        "a third connection was served beyond the cap of 2"
    );

    drop(idle1);
    let never = "the waiting connection was not served after a slot freed";
    let served = closed_soon(&mut third, never).await;
    assert!(served.starts_with("HTTP/1.1 200"), "{served:?}");
}

/// The limits hold on HTTPS too: with `--max-connections 1`, a TCP connection that never starts
/// its TLS handshake holds the one slot, so an HTTPS request waits; the handshake timeout
/// (`--header-timeout 2`) closes the silent connection, and the request is then served.
#[tokio::test]
async fn over_tls_the_handshake_timeout_frees_the_slot_held_by_a_silent_client() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = crate::tls::self_signed();
    let (cert_file, key_file) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_file, &cert).unwrap();
    std::fs::write(&key_file, &key).unwrap();
    let s = TestServer::builder()
        .tls(&cert_file, &key_file)
        .args(&["--max-connections", "1", "--header-timeout", "2"])
        .spawn();
    let mut silent = connect(&s).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let start = Instant::now();
    let client = crate::tls::trusting(&cert);
    let request = tokio::spawn(async move {
        let resp = client.get(s.url("/healthz")).send().await.unwrap();
        (resp.status().as_u16(), Instant::now(), s)
    });
    let closed = read_to_close(&mut silent, Duration::from_secs(10)).await;
    let silent_closed = Instant::now();
    assert!(
        closed.is_some(),
        "a client silent before its handshake kept its slot"
    );
    assert!(
        silent_closed - start < Duration::from_secs(5),
        "{:?}",
        silent_closed - start
    );
    let (status, served_at, _s) = request.await.unwrap();
    assert_eq!(status, 200);
    // The request waited for the slot: it was served only after the silent client was closed.
    assert!(
        served_at >= silent_closed - Duration::from_millis(50),
        "served {:?} before the slot freed",
        silent_closed - served_at
    );
    assert!(
        served_at - start >= Duration::from_millis(1500),
        "{:?}",
        served_at - start
    );
}

/// Request headers beyond 64 KiB get `431 Request Header Fields Too Large`, and the server goes
/// on serving.
#[tokio::test]
async fn oversized_request_headers_get_431() {
    let s = TestServer::spawn();
    let mut conn = connect(&s).await;
    let big = "a".repeat(100 * 1024);
    let req = format!("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n");
    // The server may close before reading everything: a failed write is fine.
    let _ = conn.write_all(req.as_bytes()).await;
    let answer = read_to_close(&mut conn, Duration::from_secs(10))
        .await
        .unwrap_or_default();
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer:?}");
    let resp = reqwest::get(s.url("/healthz")).await.unwrap();
    assert_eq!(resp.status(), 200);
}
