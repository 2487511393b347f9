//! The ABCI socket server: CometBFT's four connections (consensus, mempool, query, snapshot)
//! over a Unix socket or TCP, each message a protobuf `Request` or `Response` prefixed with its
//! length as an unsigned varint.
//!
//! CometBFT pipelines requests: on the mempool connection it sends CheckTx after CheckTx
//! without waiting, and follows them with Flush requests, which its v0.38 socket client sends
//! after almost every request (its flush throttle is 20 ns). A Flush only asks that every
//! earlier response be sent before the Flush answer. So the server keeps reading while answers
//! are pending, answers a Flush in its place in the response order instead of stopping to wait
//! for the earlier answers, and writes all the answers that are ready with one write. Requests
//! keep arriving while a CheckTx batch forms, which is what lets the batch grow (see
//! [`crate::abci::Mempool`]).

use std::{io, path::Path};

use bytes::{Buf, BytesMut};
use futures::{
    future::{self, BoxFuture},
    stream::FuturesOrdered,
    FutureExt, SinkExt, StreamExt, TryFutureExt,
};
use prost::Message;
use tendermint::{
    abci::MethodKind,
    v0_38::abci::{Request, Response},
};
use tendermint_proto::v0_38::abci as pb;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::codec::{Decoder, Encoder, FramedRead, FramedWrite};
use tower::{Service, ServiceExt};

use crate::abci::{Consensus, Info, Mempool, Snapshot};

/// The error type of the ABCI services and the connection loop.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The largest message accepted: a FinalizeBlock carries a whole block, and CometBFT caps
/// blocks at 100 MiB.
const MAX_MESSAGE_BYTES: usize = 128 << 20;

/// The services behind every connection. Each connection gets its own clones; a new
/// connection means a new CometBFT process, so accepting one empties the node's mempool view
/// ([`Mempool::connection_opened`]).
#[derive(Clone)]
pub struct Services {
    pub consensus: Consensus,
    pub mempool: Mempool,
    pub info: Info,
    pub snapshot: Snapshot,
}

/// Serves connections accepted on a Unix socket at `path` until the process ends.
pub async fn serve_unix(path: &Path, services: Services) -> io::Result<()> {
    let listener = tokio::net::UnixListener::bind(path)?;
    loop {
        let (socket, _) = listener.accept().await?;
        let (read, write) = socket.into_split();
        services.mempool.connection_opened();
        spawn_connection(services.clone(), read, write);
    }
}

/// Serves connections accepted on a TCP address until the process ends.
pub async fn serve_tcp(addr: std::net::SocketAddr, services: Services) -> io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    loop {
        let (socket, peer) = listener.accept().await?;
        if let Err(e) = socket.set_nodelay(true) {
            tracing::warn!(%peer, error = %e, "cannot disable Nagle's algorithm on the ABCI socket");
        }
        let (read, write) = socket.into_split();
        services.mempool.connection_opened();
        spawn_connection(services.clone(), read, write);
    }
}

fn spawn_connection<R, W>(services: Services, read: R, write: W)
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        tracing::debug!("CometBFT connected");
        match serve_connection(services, read, write).await {
            Ok(()) => tracing::debug!("CometBFT closed an ABCI connection"),
            Err(e) => tracing::warn!(error = %e, "ABCI connection closed after an error"),
        }
    });
}

/// Serves one connection: reads requests and writes answers in request order until the peer
/// disconnects (`Ok`) or sends something that is not an ABCI request (`Err`).
pub async fn serve_connection<R, W>(services: Services, read: R, write: W) -> Result<(), BoxError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    services.run(read, write).await
}

type Answer = BoxFuture<'static, Result<Response, BoxError>>;

impl Services {
    /// Reads requests and writes answers in request order until CometBFT disconnects.
    async fn run<R, W>(mut self, read: R, write: W) -> Result<(), BoxError>
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        let mut requests = FramedRead::new(read, Codec);
        let mut responses = FramedWrite::new(write, Codec);
        let mut pending: FuturesOrdered<Answer> = FuturesOrdered::new();
        loop {
            tokio::select! {
                request = requests.next() => {
                    let Some(request) = request.transpose()? else {
                        return Ok(());
                    };
                    let answer = self.dispatch(request).await?;
                    pending.push_back(answer);
                }
                Some(answer) = pending.next(), if !pending.is_empty() => {
                    responses.feed(pb::Response::from(answer?)).await?;
                    // Everything else already answered goes out in the same write.
                    while let Some(Some(answer)) = pending.next().now_or_never() {
                        responses.feed(pb::Response::from(answer?)).await?;
                    }
                    responses.flush().await?;
                }
            }
        }
    }

    /// Hands a request to its service; the answer is a future that `run` awaits in order.
    async fn dispatch(&mut self, request: pb::Request) -> Result<Answer, BoxError> {
        let request = Request::try_from(request)?;
        match request.kind() {
            MethodKind::Flush => Ok(future::ready(Ok(Response::Flush)).boxed()),
            MethodKind::Consensus => call(&mut self.consensus, request).await,
            MethodKind::Mempool => call(&mut self.mempool, request).await,
            MethodKind::Info => call(&mut self.info, request).await,
            MethodKind::Snapshot => call(&mut self.snapshot, request).await,
        }
    }
}

/// Narrows `request` to the kind `service` takes and calls it once it is ready.
async fn call<S, Q>(service: &mut S, request: Request) -> Result<Answer, BoxError>
where
    Q: TryFrom<Request>,
    Q::Error: Into<BoxError>,
    S: Service<Q, Error = BoxError>,
    S::Response: 'static,
    S::Future: Send + 'static,
    Response: From<S::Response>,
{
    let request = Q::try_from(request).map_err(Into::into)?;
    let service = service.ready().await?;
    Ok(service.call(request).map_ok(Response::from).boxed())
}

/// Length-prefixed protobuf framing: decodes requests, encodes responses.
struct Codec;

/// Bytes of a varint length prefix, at most.
const MAX_VARINT_BYTES: usize = 10;

impl Decoder for Codec {
    type Item = pb::Request;
    type Error = BoxError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<pb::Request>, BoxError> {
        let mut rest = &src[..];
        let len = match prost::encoding::decode_varint(&mut rest) {
            Ok(len) => len,
            // Too few bytes yet for the prefix.
            Err(_) if src.len() < MAX_VARINT_BYTES && src.iter().all(|b| b & 0x80 != 0) => {
                return Ok(None)
            }
            Err(e) => return Err(format!("malformed ABCI length prefix: {e}").into()),
        };
        let header = src.len() - rest.len();
        let len = usize::try_from(len)
            .ok()
            .filter(|l| *l <= MAX_MESSAGE_BYTES)
            .ok_or_else(|| {
                format!("ABCI message of {len} bytes is over the {MAX_MESSAGE_BYTES}-byte limit")
            })?;
        if rest.len() < len {
            src.reserve(header + len - src.len());
            return Ok(None);
        }
        src.advance(header);
        let body = src.split_to(len).freeze();
        Ok(Some(pb::Request::decode(body)?))
    }
}

impl Encoder<pb::Response> for Codec {
    type Error = BoxError;

    fn encode(&mut self, item: pb::Response, dst: &mut BytesMut) -> Result<(), BoxError> {
        let len = item.encoded_len();
        dst.reserve(len + MAX_VARINT_BYTES);
        prost::encoding::encode_varint(len as u64, dst);
        item.encode(dst)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(req: &pb::Request) -> Vec<u8> {
        let mut out = Vec::new();
        prost::encoding::encode_varint(req.encoded_len() as u64, &mut out);
        req.encode(&mut out).unwrap();
        out
    }

    fn check_tx(tx: &[u8]) -> pb::Request {
        pb::Request {
            value: Some(pb::request::Value::CheckTx(pb::RequestCheckTx {
                tx: tx.to_vec().into(),
                r#type: 0,
            })),
        }
    }

    #[test]
    fn decodes_requests_split_anywhere() {
        let a = check_tx(&[7; 300]);
        let b = check_tx(b"second");
        let mut wire = framed(&a);
        wire.extend(framed(&b));
        for cut in 0..wire.len() {
            let mut buf = BytesMut::from(&wire[..cut]);
            let mut got = Vec::new();
            while let Some(r) = Codec.decode(&mut buf).unwrap() {
                got.push(r);
            }
            buf.extend_from_slice(&wire[cut..]);
            while let Some(r) = Codec.decode(&mut buf).unwrap() {
                got.push(r);
            }
            assert_eq!(got, vec![a.clone(), b.clone()], "cut at {cut}");
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn refuses_oversized_and_malformed_prefixes() {
        let mut huge = BytesMut::new();
        prost::encoding::encode_varint((MAX_MESSAGE_BYTES + 1) as u64, &mut huge);
        let err = Codec.decode(&mut huge).unwrap_err().to_string();
        assert!(err.contains("over the"), "{err}");

        let mut bad = BytesMut::from(&[0xff_u8; 11][..]);
        let err = Codec.decode(&mut bad).unwrap_err().to_string();
        assert!(err.contains("malformed ABCI length prefix"), "{err}");

        // A well-framed body that is not a protobuf Request.
        let mut garbage = BytesMut::from(&[3_u8, 0xff, 0xff, 0xff][..]);
        assert!(Codec.decode(&mut garbage).is_err());

        // A prefix that is still arriving is not an error.
        let mut partial = BytesMut::from(&[0x80_u8, 0x80][..]);
        assert!(Codec.decode(&mut partial).unwrap().is_none());
    }

    #[test]
    fn encodes_with_a_length_prefix() {
        let rsp = pb::Response {
            value: Some(pb::response::Value::Flush(pb::ResponseFlush {})),
        };
        let mut dst = BytesMut::new();
        Codec.encode(rsp.clone(), &mut dst).unwrap();
        let mut rest = &dst[..];
        let len = prost::encoding::decode_varint(&mut rest).unwrap();
        assert_eq!(len as usize, rest.len());
        assert_eq!(pb::Response::decode(rest).unwrap(), rsp);
    }
}
