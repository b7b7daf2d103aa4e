//! A connection's byte stream as the AMQP library gets it: the protocol header read ahead (to
//! choose between SASL and none before the library sees it) is given back first, and the
//! connection can be dropped on purpose (a fault), which ends every read and write.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

/// `AMQP` 3 1 0 0: SASL comes first (`AMQP` 0 1 0 0 is AMQP itself, with no SASL layer).
pub(crate) const SASL_HEADER: [u8; 8] = *b"AMQP\x03\x01\x00\x00";

/// Drops a connection from elsewhere (a link's task): its stream fails from then on.
#[derive(Debug, Default, Clone)]
pub(crate) struct Dropper(Arc<DropState>);

#[derive(Debug, Default)]
struct DropState {
    dropped: AtomicBool,
    reader: Mutex<Option<Waker>>,
}

impl Dropper {
    /// Ends the connection: the pending read wakes up to an error, as do all later ones.
    pub(crate) fn drop_connection(&self) {
        self.0.dropped.store(true, Ordering::SeqCst);
        if let Some(waker) = self.0.reader.lock().expect("waker").take() {
            waker.wake();
        }
    }

    fn check(&self) -> io::Result<()> {
        match self.0.dropped.load(Ordering::SeqCst) {
            true => Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "connection dropped on purpose (fault injection)",
            )),
            false => Ok(()),
        }
    }
}

/// A stream whose first bytes were read ahead and are read again, and that a [`Dropper`] ends.
pub(crate) struct Replayed<S> {
    ahead: Vec<u8>,
    inner: S,
    dropper: Dropper,
}

impl<S> std::fmt::Debug for Replayed<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Replayed")
    }
}

impl<S: AsyncRead + Unpin> Replayed<S> {
    /// Reads the 8-byte protocol header (within 30 s), and gives it and the stream back.
    pub(crate) async fn read_header(mut inner: S) -> io::Result<([u8; 8], Replayed<S>)> {
        let mut header = [0u8; 8];
        tokio::time::timeout(Duration::from_secs(30), inner.read_exact(&mut header))
            .await
            .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
        let stream = Replayed {
            ahead: header.to_vec(),
            inner,
            dropper: Dropper::default(),
        };
        Ok((header, stream))
    }

    pub(crate) fn dropper(&self) -> Dropper {
        self.dropper.clone()
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Replayed<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.dropper.check()?;
        if !self.ahead.is_empty() {
            let n = self.ahead.len().min(buf.remaining());
            let rest = self.ahead.split_off(n);
            buf.put_slice(&self.ahead);
            self.ahead = rest;
            return Poll::Ready(Ok(()));
        }
        *self.dropper.0.reader.lock().expect("waker") = Some(cx.waker().clone());
        // A drop between the check above and the waker being stored would be missed.
        self.dropper.check()?;
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Replayed<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.dropper.check()?;
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.dropper.check()?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_header_read_ahead_is_read_again() {
        let (mut client, server) = tokio::io::duplex(64);
        tokio::io::AsyncWriteExt::write_all(&mut client, b"AMQP\x00\x01\x00\x00rest")
            .await
            .unwrap();
        let (header, mut stream) = Replayed::read_header(server).await.unwrap();
        assert_eq!(&header, b"AMQP\x00\x01\x00\x00", "AMQP itself, no SASL");
        let mut all = [0u8; 12];
        stream.read_exact(&mut all).await.unwrap();
        assert_eq!(&all, b"AMQP\x00\x01\x00\x00rest");
    }

    #[tokio::test]
    async fn a_dropped_connection_wakes_its_reader_to_an_error() {
        let (mut client, server) = tokio::io::duplex(64);
        tokio::io::AsyncWriteExt::write_all(&mut client, &SASL_HEADER)
            .await
            .unwrap();
        let (_, mut stream) = Replayed::read_header(server).await.unwrap();
        let dropper = stream.dropper();
        let reading = tokio::spawn(async move {
            let mut all = [0u8; 9];
            stream.read_exact(&mut all).await
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        dropper.drop_connection();
        let error = reading.await.unwrap().unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::ConnectionAborted);
    }
}
