//! Base45 (RFC 9285): two bytes become three characters of the QR alphanumeric set,
//! which a QR code stores at 5.5 bits per character — denser than base64 in byte mode.

use thiserror::Error;

const ALPHABET: &[u8; 45] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

/// Why a text is not valid base45.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Base45Error {
    #[error("character {0:?} at position {1} is not in the base45 alphabet")]
    BadCharacter(char, usize),
    #[error("base45 text has a length of {0}, which leaves a dangling character")]
    BadLength(usize),
    #[error("base45 group at position {0} encodes a value that is too large")]
    Overflow(usize),
}

fn value_of(c: u8) -> Option<u16> {
    let v = match c {
        b'0'..=b'9' => c - b'0',
        b'A'..=b'Z' => c - b'A' + 10,
        b' ' => 36,
        b'$' => 37,
        b'%' => 38,
        b'*' => 39,
        b'+' => 40,
        b'-' => 41,
        b'.' => 42,
        b'/' => 43,
        b':' => 44,
        _ => return None,
    };
    Some(u16::from(v))
}

/// Length in characters of the base45 text of `n` bytes.
pub fn encoded_len(n: usize) -> usize {
    n / 2 * 3 + (n % 2) * 2
}

/// Encode bytes as base45.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(encoded_len(bytes.len()));
    let mut push = |v: usize| out.push(char::from(ALPHABET[v]));
    for chunk in bytes.chunks(2) {
        match *chunk {
            [a, b] => {
                let n = usize::from(a) * 256 + usize::from(b);
                push(n % 45);
                push(n / 45 % 45);
                push(n / 2025);
            }
            [a] => {
                let n = usize::from(a);
                push(n % 45);
                push(n / 45);
            }
            _ => {}
        }
    }
    out
}

/// Decode base45 text. Only the canonical form is accepted: every group must decode to a
/// value that fits its byte count, so each byte string has exactly one text.
pub fn decode(text: &str) -> Result<Vec<u8>, Base45Error> {
    let raw = text.as_bytes();
    if raw.len() % 3 == 1 {
        return Err(Base45Error::BadLength(raw.len()));
    }
    let mut out = Vec::with_capacity(raw.len() / 3 * 2 + 1);
    let digit = |i: usize| -> Result<u32, Base45Error> {
        value_of(raw[i]).map(u32::from).ok_or_else(|| {
            let c = text
                .get(i..)
                .and_then(|s| s.chars().next())
                .unwrap_or('\u{fffd}');
            Base45Error::BadCharacter(c, i)
        })
    };
    let mut i = 0;
    while i < raw.len() {
        if raw.len() - i >= 3 {
            let n = digit(i)? + digit(i + 1)? * 45 + digit(i + 2)? * 2025;
            let n = u16::try_from(n).map_err(|_| Base45Error::Overflow(i))?;
            out.extend_from_slice(&n.to_be_bytes());
            i += 3;
        } else {
            let n = digit(i)? + digit(i + 1)? * 45;
            let n = u8::try_from(n).map_err(|_| Base45Error::Overflow(i))?;
            out.push(n);
            i += 2;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc9285_examples() {
        assert_eq!(encode(b"AB"), "BB8");
        assert_eq!(encode(b"Hello!!"), "%69 VD92EX0");
        assert_eq!(encode(b"base-45"), "UJCLQE7W581");
        assert_eq!(decode("QED8WEX0").unwrap(), b"ietf!");
    }

    #[test]
    fn rejects_bad_text() {
        assert_eq!(decode("GGW"), Err(Base45Error::Overflow(0)));
        assert_eq!(decode("A"), Err(Base45Error::BadLength(1)));
        assert!(matches!(
            decode("ab"),
            Err(Base45Error::BadCharacter('a', 0))
        ));
        assert!(matches!(
            decode("通行"),
            Err(Base45Error::BadCharacter(..) | Base45Error::BadLength(_))
        ));
        assert_eq!(decode("").unwrap(), Vec::<u8>::new());
    }

    proptest! {
        #[test]
        fn round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let text = encode(&bytes);
            prop_assert_eq!(text.len(), encoded_len(bytes.len()));
            prop_assert_eq!(decode(&text).unwrap(), bytes);
        }

        #[test]
        fn never_panics(text in ".{0,64}") {
            let _ = decode(&text);
        }
    }
}
