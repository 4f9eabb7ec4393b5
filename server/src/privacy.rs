//! Personal data rules: what is validated, masked, hashed or sealed before it is stored.

use passgate_shared::PassNumber;
use sha2::{Digest, Sha256};

use crate::keyring::{KeyError, open_sealed, seal};

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

/// Why a phone number was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error(
        "a mobile number has 11 digits, 1 then 3 to 9, e.g. 13812345678 / 手机号应为 11 位数字，以 13 至 19 开头，例如 13812345678"
    )]
    Format,
}

/// A mainland China mobile number: 11 digits, `1` then `3`–`9`. Spaces and hyphens are
/// ignored, and a `+86` / `0086` / `86` country prefix is dropped. Its `Debug` shows only
/// the masked form, so it cannot leak into a log by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    pub fn parse(s: &str) -> Result<Phone, PhoneError> {
        let t: String = s
            .trim()
            .chars()
            .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '(' | ')'))
            .collect();
        let t = t
            .strip_prefix("+86")
            .or_else(|| t.strip_prefix("0086"))
            .or_else(|| t.strip_prefix("86").filter(|rest| rest.len() == 11))
            .unwrap_or(&t);
        let b = t.as_bytes();
        if b.len() != 11 || !b.iter().all(u8::is_ascii_digit) || b[0] != b'1' || b[1] < b'3' {
            return Err(PhoneError::Format);
        }
        Ok(Phone(t.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form lists and pages show: the first three and last four digits
    /// (`138****5678`).
    pub fn masked(&self) -> String {
        format!("{}****{}", &self.0[..3], &self.0[7..])
    }
}

impl std::fmt::Debug for Phone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Phone({})", self.masked())
    }
}

/// What a sealed phone is bound to: the pass it belongs to, so a sealed value copied onto
/// another pass does not open.
fn phone_label(number: PassNumber) -> Vec<u8> {
    format!("passgate/phone/v1\0{number}").into_bytes()
}

/// The phone of pass `number`, encrypted under the personal-data secret for the database.
pub fn seal_phone(
    secret: &[u8; 32],
    number: PassNumber,
    phone: &Phone,
) -> Result<String, KeyError> {
    seal(secret, &phone_label(number), phone.as_str().as_bytes())
}

/// The phone [`seal_phone`] sealed for pass `number`; `None` if it does not open (another
/// secret, another pass, or an altered value).
pub fn open_phone(secret: &[u8; 32], number: PassNumber, sealed: &str) -> Option<Phone> {
    let bytes = open_sealed(secret, &phone_label(number), sealed)?;
    Phone::parse(std::str::from_utf8(&bytes).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_checked_masked_and_sealed_to_their_pass() {
        for ok in [
            "13812345678",
            " 138-1234-5678 ",
            "+86 138 1234 5678",
            "008613812345678",
            "8613812345678",
        ] {
            assert_eq!(Phone::parse(ok).unwrap().as_str(), "13812345678", "{ok}");
        }
        for bad in [
            "",
            "1381234567",
            "138123456789",
            "12812345678",
            "23812345678",
            "1381234567x",
            "+1 3812345678",
        ] {
            assert_eq!(Phone::parse(bad), Err(PhoneError::Format), "{bad}");
        }
        let msg = PhoneError::Format.to_string();
        assert!(msg.contains("11 digits") && msg.contains("手机号"), "{msg}");
        let p = Phone::parse("13812345678").unwrap();
        assert_eq!(p.masked(), "138****5678");
        assert_eq!(format!("{p:?}"), "Phone(138****5678)");

        let secret = [3u8; 32];
        let a = PassNumber::parse("419001000001").unwrap();
        let b = PassNumber::parse("419001000002").unwrap();
        let sealed = seal_phone(&secret, a, &p).unwrap();
        assert!(!sealed.contains("13812345678"), "{sealed}");
        assert_ne!(
            sealed,
            seal_phone(&secret, a, &p).unwrap(),
            "a fresh nonce each time"
        );
        assert_eq!(open_phone(&secret, a, &sealed), Some(p));
        assert_eq!(open_phone(&secret, b, &sealed), None, "bound to its pass");
        assert_eq!(open_phone(&[4u8; 32], a, &sealed), None, "needs the secret");
        let mut altered = sealed.clone().into_bytes();
        let last = altered.len() - 1;
        altered[last] = if altered[last] == b'0' { b'1' } else { b'0' };
        assert_eq!(
            open_phone(&secret, a, &String::from_utf8(altered).unwrap()),
            None
        );
    }

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
