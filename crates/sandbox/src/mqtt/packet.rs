//! MQTT 3.1.1's packets as the sandbox reads and writes them: the fixed header's remaining
//! length, length-prefixed fields, and the PUBLISH the hub sends (twin responses, method calls).

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};

/// IoT Hub's largest message is 256 KB; a packet a little larger than that (topic and
/// properties included) is refused.
pub(crate) const MAX_PACKET: usize = 256 * 1024 + 16 * 1024;
/// A PUBLISH at QoS 0 from the hub: a twin response or a method call.
pub(crate) fn publish_packet(topic: &str, payload: &[u8]) -> Vec<u8> {
    let mut packet = vec![0x30];
    push_length(&mut packet, 2 + topic.len() + payload.len());
    packet.extend((topic.len() as u16).to_be_bytes());
    packet.extend(topic.as_bytes());
    packet.extend(payload);
    packet
}

/// A length-prefixed UTF-8 string at `at`, moving past it.
pub(crate) fn string(body: &[u8], at: &mut usize) -> Option<String> {
    bytes(body, at).and_then(|b| String::from_utf8(b.to_vec()).ok())
}

pub(crate) fn bytes<'b>(body: &'b [u8], at: &mut usize) -> Option<&'b [u8]> {
    let length = u16::from_be_bytes([*body.get(*at)?, *body.get(*at + 1)?]) as usize;
    let value = body.get(*at + 2..*at + 2 + length)?;
    *at += 2 + length;
    Some(value)
}

pub(crate) fn push_length(out: &mut Vec<u8>, mut length: usize) {
    loop {
        let mut byte = (length % 128) as u8;
        length /= 128;
        if length > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if length == 0 {
            break;
        }
    }
}

/// The next packet's first byte and body; None at the end of the stream, an error when the
/// packet is malformed, too large, or nothing came within `idle`.
pub(crate) async fn read_packet<S: AsyncRead + Unpin>(
    stream: &mut S,
    idle: Duration,
) -> std::io::Result<Option<(u8, Vec<u8>)>> {
    let mut header = [0u8; 1];
    match tokio::time::timeout(idle, stream.read(&mut header)).await {
        Err(_) => return Err(std::io::ErrorKind::TimedOut.into()),
        Ok(Ok(0)) => return Ok(None),
        Ok(read) => read?,
    };
    let mut length = 0usize;
    for shift in 0..4 {
        let byte = stream.read_u8().await?;
        length |= usize::from(byte & 0x7f) << (7 * shift);
        if byte & 0x80 == 0 {
            if length > MAX_PACKET {
                return Err(std::io::ErrorKind::InvalidData.into());
            }
            let mut body = vec![0; length];
            stream.read_exact(&mut body).await?;
            return Ok(Some((header[0], body)));
        }
    }
    Err(std::io::ErrorKind::InvalidData.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remaining_lengths_use_seven_bits_a_byte() {
        for (length, encoded) in [
            (0, vec![0]),
            (127, vec![127]),
            (128, vec![0x80, 1]),
            (16_384, vec![0x80, 0x80, 1]),
        ] {
            let mut out = Vec::new();
            push_length(&mut out, length);
            assert_eq!(out, encoded);
        }
    }

    #[tokio::test]
    async fn packets_larger_than_iot_hubs_limit_are_refused() {
        let mut big = vec![0x30];
        push_length(&mut big, MAX_PACKET + 1);
        let mut reader = &big[..];
        let error = read_packet(&mut reader, Duration::from_secs(1))
            .await
            .unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
        let mut ping = &[0xc0u8, 0][..];
        assert_eq!(
            read_packet(&mut ping, Duration::from_secs(1))
                .await
                .unwrap(),
            Some((0xc0, Vec::new()))
        );
    }
}
