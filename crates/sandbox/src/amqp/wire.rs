//! Writes AMQP performatives with every field, as Azure's service does.
//!
//! AMQP lets a peer leave out trailing null fields of a performative, and the AMQP library
//! the sandbox uses does. Azure's own service never does, and Azure's pure-Python client
//! (`azure-eventhub`'s pyamqp) reads fields by position: a Transfer without its 11 fields puts
//! the payload where `more` belongs. So every frame the sandbox writes passes through
//! [`FullFields`], which pads each performative's list with explicit nulls (meaning exactly
//! what the missing fields meant) and writes descriptors as small ulongs.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The number of fields of each performative, by descriptor code (AMQP 1.0 §2.7, §5.3.3).
fn field_count(frame_type: u8, code: u8) -> Option<usize> {
    match (frame_type, code) {
        (0, 0x10) => Some(10), // open
        (0, 0x11) => Some(8),  // begin
        (0, 0x12) => Some(14), // attach
        (0, 0x13) => Some(11), // flow
        (0, 0x14) => Some(11), // transfer
        (0, 0x15) => Some(6),  // disposition
        (0, 0x16) => Some(3),  // detach
        (0, 0x17) => Some(1),  // end
        (0, 0x18) => Some(1),  // close
        (1, 0x40) => Some(1),  // sasl-mechanisms
        (1, 0x42) => Some(1),  // sasl-challenge
        (1, 0x44) => Some(2),  // sasl-outcome
        _ => None,
    }
}

/// Rewrites one frame's performative with all its fields; other bytes are kept as they are.
pub(crate) fn with_all_fields(frame: &[u8]) -> Vec<u8> {
    let padded = (|| {
        let (header, body) = (frame.get(..8)?, frame.get(8..)?);
        if header[4] != 2 || body.first() != Some(&0x00) {
            return None;
        }
        let (code, descriptor_len) = match body.get(1)? {
            0x53 => (*body.get(2)?, 3),
            0x80 => {
                let value = u64::from_be_bytes(body.get(2..10)?.try_into().ok()?);
                (u8::try_from(value).ok()?, 10)
            }
            _ => return None,
        };
        let full = field_count(header[5], code)?;
        let list = &body[descriptor_len..];
        let (count, fields, list_len) = match list.first()? {
            0x45 => (0, &list[..0], 1),
            0xc0 => {
                let size = *list.get(1)? as usize;
                (*list.get(2)? as usize, list.get(3..1 + size + 1)?, 2 + size)
            }
            0xd0 => {
                let size = u32::from_be_bytes(list.get(1..5)?.try_into().ok()?) as usize;
                let count = u32::from_be_bytes(list.get(5..9)?.try_into().ok()?) as usize;
                (count, list.get(9..5 + size)?, 5 + size)
            }
            _ => return None,
        };
        if count >= full && body[1] == 0x53 && list[0] != 0x45 {
            return None;
        }
        let payload = &list[list_len..];
        let nulls = full.saturating_sub(count);
        let mut elements = fields.to_vec();
        elements.extend(std::iter::repeat_n(0x40u8, nulls));
        let count = count.max(full);
        let mut out = header.to_vec();
        out.extend_from_slice(&[0x00, 0x53, code]);
        if elements.len() < 255 && count <= 255 {
            out.extend_from_slice(&[0xc0, (elements.len() + 1) as u8, count as u8]);
        } else {
            out.push(0xd0);
            out.extend_from_slice(&((elements.len() + 4) as u32).to_be_bytes());
            out.extend_from_slice(&(count as u32).to_be_bytes());
        }
        out.extend_from_slice(&elements);
        out.extend_from_slice(payload);
        let size = out.len() as u32;
        out[..4].copy_from_slice(&size.to_be_bytes());
        Some(out)
    })();
    padded.unwrap_or_else(|| frame.to_vec())
}

/// A stream whose written frames get all their fields (see the module's docs); reads pass
/// through.
#[derive(Debug)]
pub(crate) struct FullFields<S> {
    inner: S,
    /// Bytes written but not yet a whole frame.
    pending: Vec<u8>,
    /// Rewritten bytes not yet taken by `inner`.
    out: Vec<u8>,
}

impl<S> FullFields<S> {
    pub(crate) fn new(inner: S) -> FullFields<S> {
        FullFields {
            inner,
            pending: Vec::new(),
            out: Vec::new(),
        }
    }

    /// Moves every whole frame (or protocol header) from `pending` to `out`, rewritten.
    fn rewrite(&mut self) {
        let mut start = 0;
        while let Some(head) = self.pending.get(start..start + 8) {
            let length = if head.starts_with(b"AMQP") {
                8
            } else {
                u32::from_be_bytes(head[..4].try_into().expect("4 bytes")) as usize
            };
            let Some(frame) = self.pending.get(start..start + length.max(8)) else {
                break;
            };
            if head.starts_with(b"AMQP") || length <= 8 {
                self.out.extend_from_slice(frame);
            } else {
                self.out.extend(with_all_fields(frame));
            }
            start += length.max(8);
        }
        self.pending.drain(..start);
    }
}

impl<S: AsyncWrite + Unpin> FullFields<S> {
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.out.is_empty() {
            let written = std::task::ready!(Pin::new(&mut self.inner).poll_write(cx, &self.out))?;
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.out.drain(..written);
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for FullFields<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for FullFields<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        // Backpressure: take nothing new while earlier bytes wait for the socket.
        if self.out.len() > 256 * 1024 {
            std::task::ready!(self.poll_drain(cx))?;
        }
        self.pending.extend_from_slice(buf);
        self.rewrite();
        if let Poll::Ready(Err(e)) = self.poll_drain(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(body: &[u8]) -> Vec<u8> {
        let mut frame = ((8 + body.len()) as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(&[2, 0, 0, 1]);
        frame.extend_from_slice(body);
        frame
    }

    #[test]
    fn a_short_transfer_gets_its_eleven_fields_and_keeps_its_payload() {
        // transfer(handle 0, delivery-id 5), then a payload.
        let short = frame(&[
            0x00, 0x53, 0x14, 0xc0, 0x04, 0x02, 0x43, 0x52, 0x05, 0xAA, 0xBB,
        ]);
        let full = with_all_fields(&short);
        let mut expected_body = vec![0x00, 0x53, 0x14, 0xc0, 0x0d, 0x0b, 0x43, 0x52, 0x05];
        expected_body.extend([0x40; 9]);
        expected_body.extend([0xAA, 0xBB]);
        assert_eq!(full, frame(&expected_body));
    }

    #[test]
    fn an_empty_list_and_a_ulong_descriptor_are_written_as_azure_writes_them() {
        let close = frame(&[0x00, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x18, 0x45]);
        assert_eq!(
            with_all_fields(&close),
            frame(&[0x00, 0x53, 0x18, 0xc0, 0x02, 0x01, 0x40])
        );
    }

    #[test]
    fn full_frames_and_other_bytes_are_left_alone() {
        let end = frame(&[0x00, 0x53, 0x17, 0xc0, 0x02, 0x01, 0x40]);
        assert_eq!(with_all_fields(&end), end);
        let unknown = frame(&[0x00, 0x53, 0x77, 0x45]);
        assert_eq!(with_all_fields(&unknown), unknown);
    }

    #[tokio::test]
    async fn frames_split_across_writes_are_rewritten_whole() {
        use tokio::io::AsyncWriteExt;
        let (client, mut server) = tokio::io::duplex(4096);
        let mut writer = FullFields::new(client);
        let short = frame(&[0x00, 0x53, 0x17, 0x45]);
        writer.write_all(b"AMQP\x00\x01\x00\x00").await.unwrap();
        writer.write_all(&short[..5]).await.unwrap();
        writer.write_all(&short[5..]).await.unwrap();
        writer.flush().await.unwrap();
        drop(writer);
        let mut written = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut server, &mut written)
            .await
            .unwrap();
        let mut expected = b"AMQP\x00\x01\x00\x00".to_vec();
        expected.extend(frame(&[0x00, 0x53, 0x17, 0xc0, 0x02, 0x01, 0x40]));
        assert_eq!(written, expected);
    }
}
