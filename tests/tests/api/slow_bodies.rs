//! A client that trickles its body is cut at the body deadline, and other requests are
//! served meanwhile: actix-web's own request timeout covers only the head.

use std::time::{Duration, Instant};

use chat_api::ApiSettings;
use chat_tests::TestApp;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn a_trickled_body_is_cut_at_the_body_deadline_while_others_are_served() {
    let deadline = Duration::from_secs(2);
    let app = TestApp::spawn_configured(ApiSettings { body_timeout: deadline, ..ApiSettings::default() }).await;
    let (_, alice) = app.user("alice");
    let (_, bob) = app.user("bob");
    let addr = app.base.trim_start_matches("http://").to_owned();

    let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /api/user/chat/support/messages HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {alice}\r\n\
         Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();

    // One byte a second (JSON whitespace), as a slow-body attack would; between bytes,
    // another user is served. The loop ends when the server answers or closes.
    let bound = deadline + Duration::from_secs(8);
    let mut answer = Vec::new();
    loop {
        let elapsed = started.elapsed();
        assert!(elapsed < bound, "the trickled request is still open after {elapsed:?}");
        if tcp.write_all(b" ").await.is_err() {
            break;
        }
        let other = Instant::now();
        assert_eq!(app.get("/api/user/chat/personas", &bob).await.status, 200, "others are served");
        assert!(other.elapsed() < Duration::from_secs(2), "others are served promptly: {:?}", other.elapsed());
        match tokio::time::timeout(Duration::from_secs(1), tcp.read_buf(&mut answer)).await {
            Ok(Ok(0) | Err(_)) => break,
            Ok(Ok(_)) if answer.windows(4).any(|w| w == b"\r\n\r\n") => break,
            Ok(Ok(_)) | Err(_) => {}
        }
    }
    let elapsed = started.elapsed();
    assert!(elapsed >= deadline, "cut at the deadline, not before: {elapsed:?}");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 408"), "408 or closed, got: {answer}");
    if !answer.is_empty() {
        assert!(answer.to_ascii_lowercase().contains("connection: close"), "{answer}");
        // And the server does close it: reading reaches the end.
        let mut rest = Vec::new();
        let end = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut rest)).await;
        assert!(end.is_ok(), "the connection is closed after the 408");
    }
    assert_eq!(app.db.count("SELECT count(*) AS n FROM dm_messages"), 0, "nothing was stored");
}
