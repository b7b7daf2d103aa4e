//! The little of the DNS wire format (RFC 1035) that the sandbox's name server and the clients'
//! resolver need: one question for an A record, and an answer that is either addresses or
//! "no such name". Kept in one place so that server and client cannot drift apart.

use std::net::Ipv4Addr;

const TYPE_A: u16 = 1;
const CLASS_IN: u16 = 1;
const HEADER_LEN: usize = 12;

/// What a name server said about a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Addresses(Vec<Ipv4Addr>),
    NoSuchName,
}

/// A question as the server reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub id: u16,
    pub name: String,
    pub record_type: u16,
    /// The question section as received, echoed in the answer.
    raw: Vec<u8>,
}

impl Question {
    pub fn asks_for_ipv4(&self) -> bool {
        self.record_type == TYPE_A
    }
}

/// A query for the A records of `name`.
pub fn query(id: u16, name: &str) -> Vec<u8> {
    let mut packet = Vec::with_capacity(HEADER_LEN + name.len() + 6);
    packet.extend_from_slice(&id.to_be_bytes());
    packet.extend_from_slice(&0x0100u16.to_be_bytes()); // recursion desired
    packet.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]); // one question
    for label in name.trim_end_matches('.').split('.') {
        packet.push(label.len().min(63) as u8);
        packet.extend_from_slice(&label.as_bytes()[..label.len().min(63)]);
    }
    packet.push(0);
    packet.extend_from_slice(&TYPE_A.to_be_bytes());
    packet.extend_from_slice(&CLASS_IN.to_be_bytes());
    packet
}

/// Reads the first question of a query.
pub fn parse_question(packet: &[u8]) -> Option<Question> {
    let id = u16::from_be_bytes([*packet.first()?, *packet.get(1)?]);
    let (name, end) = read_name(packet, HEADER_LEN)?;
    let record_type = u16::from_be_bytes([*packet.get(end)?, *packet.get(end + 1)?]);
    let raw = packet.get(HEADER_LEN..end + 4)?.to_vec();
    Some(Question {
        id,
        name,
        record_type,
        raw,
    })
}

/// The server's reply to `question`.
pub fn reply(question: &Question, answer: &Answer) -> Vec<u8> {
    let (rcode, addresses): (u16, &[Ipv4Addr]) = match answer {
        Answer::Addresses(list) if question.asks_for_ipv4() => (0, list),
        Answer::Addresses(_) => (0, &[]),
        Answer::NoSuchName => (3, &[]),
    };
    let mut packet = Vec::new();
    packet.extend_from_slice(&question.id.to_be_bytes());
    packet.extend_from_slice(&(0x8180u16 | rcode).to_be_bytes()); // response, recursion available
    packet.extend_from_slice(&[0, 1]);
    packet.extend_from_slice(&(addresses.len() as u16).to_be_bytes());
    packet.extend_from_slice(&[0, 0, 0, 0]);
    packet.extend_from_slice(&question.raw);
    for address in addresses {
        packet.extend_from_slice(&[0xC0, HEADER_LEN as u8]); // the name, by pointer to the question
        packet.extend_from_slice(&TYPE_A.to_be_bytes());
        packet.extend_from_slice(&CLASS_IN.to_be_bytes());
        packet.extend_from_slice(&5u32.to_be_bytes()); // TTL: the sandbox's hubs come and go
        packet.extend_from_slice(&4u16.to_be_bytes());
        packet.extend_from_slice(&address.octets());
    }
    packet
}

/// Reads a reply to the query with `id`; `None` if it is not one.
pub fn parse_reply(packet: &[u8], id: u16) -> Option<Answer> {
    if packet.len() < HEADER_LEN
        || u16::from_be_bytes([packet[0], packet[1]]) != id
        || packet[2] & 0x80 == 0
    {
        return None;
    }
    if packet[3] & 0x0F == 3 {
        return Some(Answer::NoSuchName);
    }
    let questions = u16::from_be_bytes([packet[4], packet[5]]);
    let answers = u16::from_be_bytes([packet[6], packet[7]]);
    let mut at = HEADER_LEN;
    for _ in 0..questions {
        at = read_name(packet, at)?.1 + 4;
    }
    let mut addresses = Vec::new();
    for _ in 0..answers {
        at = read_name(packet, at)?.1;
        let record_type = u16::from_be_bytes([*packet.get(at)?, *packet.get(at + 1)?]);
        let length = usize::from(u16::from_be_bytes([
            *packet.get(at + 8)?,
            *packet.get(at + 9)?,
        ]));
        let data = packet.get(at + 10..at + 10 + length)?;
        if record_type == TYPE_A && length == 4 {
            addresses.push(Ipv4Addr::new(data[0], data[1], data[2], data[3]));
        }
        at += 10 + length;
    }
    Some(Answer::Addresses(addresses))
}

/// Reads a possibly compressed name at `at`; returns it and the offset just after it.
fn read_name(packet: &[u8], mut at: usize) -> Option<(String, usize)> {
    let mut labels = Vec::new();
    let mut end = None;
    for _ in 0..64 {
        let length = *packet.get(at)?;
        if length & 0xC0 == 0xC0 {
            end.get_or_insert(at + 2);
            at = usize::from(u16::from_be_bytes([length & 0x3F, *packet.get(at + 1)?]));
            continue;
        }
        if length == 0 {
            return Some((labels.join("."), end.unwrap_or(at + 1)));
        }
        let label = packet.get(at + 1..at + 1 + usize::from(length))?;
        labels.push(String::from_utf8_lossy(label).into_owned());
        at += 1 + usize::from(length);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_and_its_answers_round_trip() {
        let packet = query(0x1234, "hub1.azure-devices.sandbox.test");
        let question = parse_question(&packet).unwrap();
        assert_eq!(
            (
                question.id,
                question.name.as_str(),
                question.asks_for_ipv4()
            ),
            (0x1234, "hub1.azure-devices.sandbox.test", true)
        );
        let found = reply(&question, &Answer::Addresses(vec![Ipv4Addr::LOCALHOST]));
        assert_eq!(
            parse_reply(&found, 0x1234),
            Some(Answer::Addresses(vec![Ipv4Addr::LOCALHOST]))
        );
        let missing = reply(&question, &Answer::NoSuchName);
        assert_eq!(parse_reply(&missing, 0x1234), Some(Answer::NoSuchName));
        assert_eq!(
            parse_reply(&found, 0x9999),
            None,
            "another query's answer is ignored"
        );
        assert_eq!(
            parse_reply(&packet, 0x1234),
            None,
            "a query is not an answer"
        );
    }

    #[test]
    fn garbage_is_not_a_question() {
        assert_eq!(parse_question(&[1, 2, 3]), None);
        assert_eq!(parse_question(&[0u8; 12]), None);
        let mut looping = vec![0u8; 12];
        looping.extend_from_slice(&[0xC0, 12]);
        assert_eq!(parse_question(&looping), None);
    }
}
