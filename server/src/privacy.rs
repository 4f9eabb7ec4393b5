//! Personal data rules: what is validated, masked or hashed before it is stored.

use sha2::{Digest, Sha256};

/// Why a resident ID number was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdNumberError {
    #[error(
        "an ID number has 18 characters: 17 digits then a digit or X / 身份证号应为 18 位：17 位数字加 1 位数字或 X"
    )]
    Format,
    #[error("the check character is wrong; check the number for a typo / 校验位不符，请核对号码")]
    Check,
}

/// Validate an 18-character resident ID number (GB 11643) including its check character.
/// Returns it normalised (upper-case X).
pub fn validate_id_number(s: &str) -> Result<String, IdNumberError> {
    let t: String = s.trim().to_ascii_uppercase();
    let b = t.as_bytes();
    if b.len() != 18
        || !b[..17].iter().all(u8::is_ascii_digit)
        || !(b[17].is_ascii_digit() || b[17] == b'X')
    {
        return Err(IdNumberError::Format);
    }
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = b[..17]
        .iter()
        .zip(W)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    let check = b"10X98765432"[(sum % 11) as usize];
    if b[17] != check {
        return Err(IdNumberError::Check);
    }
    Ok(t)
}

/// A keyed hash of an ID number: lets the server find "the same person" without keeping the
/// number itself.
pub fn hash_id_number(secret: &[u8; 32], id: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"passgate/id-number/v1\0");
    h.update(secret);
    h.update(id.as_bytes());
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_numbers() {
        // A structurally valid example number (check digit computed by GB 11643).
        assert_eq!(
            validate_id_number("11010519491231002x").unwrap(),
            "11010519491231002X"
        );
        assert_eq!(
            validate_id_number("110105194912310021"),
            Err(IdNumberError::Check)
        );
        assert_eq!(
            validate_id_number("1101051949123100"),
            Err(IdNumberError::Format)
        );
        assert_eq!(
            validate_id_number("11010519491231002Y"),
            Err(IdNumberError::Format)
        );
        let a = hash_id_number(&[1; 32], "11010519491231002X");
        assert_ne!(a, hash_id_number(&[2; 32], "11010519491231002X"));
        assert!(!a.contains("110105"));
    }
}
