//! The client side of the endpoint: one `GET` over HTTP/1.0, for tools that read a running
//! process's `/health` and `/metrics` (the relayer's ops commands, `testnet`, the benches).

use std::{net::SocketAddr, time::Duration};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The whole answer (status line, headers, body) to `GET path` on `addr`, or `None` when
/// nothing answers within `timeout`.
pub async fn http_get(addr: SocketAddr, path: &str, timeout: Duration) -> Option<String> {
    let ask = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
        let request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.ok()?;
        Some(String::from_utf8_lossy(&answer).into_owned())
    };
    tokio::time::timeout(timeout, ask).await.ok().flatten()
}

/// The body of a 200 answer to `GET path` on `addr` within `timeout`; `None` otherwise.
pub async fn http_body(addr: SocketAddr, path: &str, timeout: Duration) -> Option<String> {
    let answer = http_get(addr, path, timeout).await?;
    if !answer.lines().next()?.contains(" 200 ") {
        return None;
    }
    let at = answer.find("\r\n\r\n")?;
    Some(answer.get(at + 4..)?.to_string())
}

/// Whether `GET path` on `addr` answers 200 within `timeout`.
pub async fn http_ok(addr: SocketAddr, path: &str, timeout: Duration) -> bool {
    http_get(addr, path, timeout)
        .await
        .and_then(|answer| answer.lines().next().map(|l| l.contains(" 200 ")))
        .unwrap_or(false)
}
