//! The vehicle pass and its parts. Every part is built by a parse constructor; once a value
//! has its type it is valid, so the codec and the verifier never re-check it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

use crate::keys::KeyId;
use crate::time::Validity;

// ---------------------------------------------------------------------------------------
// Division codes and pass numbers

/// A 6-digit administrative division code (province, prefecture or county), e.g. `419001`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DivisionCode(u32);

/// Why a division code was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DivisionCodeError {
    #[error("a division code has exactly 6 digits, got {0:?}")]
    Format(String),
    #[error("division code {0} does not start with a province code (11–82)")]
    Province(String),
}

impl DivisionCode {
    pub fn parse(s: &str) -> Result<DivisionCode, DivisionCodeError> {
        let t = s.trim();
        if t.len() != 6 || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DivisionCodeError::Format(s.to_owned()));
        }
        let n: u32 = t
            .parse()
            .map_err(|_| DivisionCodeError::Format(s.to_owned()))?;
        DivisionCode::from_u32(n).ok_or_else(|| DivisionCodeError::Province(t.to_owned()))
    }

    /// A code from its number; `None` unless it is 6 digits with a plausible province.
    pub fn from_u32(n: u32) -> Option<DivisionCode> {
        (110_000..830_000).contains(&n).then_some(DivisionCode(n))
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for DivisionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:06}", self.0)
    }
}

/// A pass number: 12 digits, the issuing area's 6-digit division code then a 6-digit serial.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PassNumber(u64);

/// Why a pass number was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PassNumberError {
    #[error("a pass number has exactly 12 digits, got {0:?}")]
    Format(String),
    #[error("pass number {0}: the first 6 digits are not a division code")]
    Division(String),
    #[error("serial {0} does not fit in 6 digits")]
    Serial(u32),
}

impl PassNumber {
    pub const MAX_SERIAL: u32 = 999_999;

    pub fn new(area: DivisionCode, serial: u32) -> Result<PassNumber, PassNumberError> {
        if serial > Self::MAX_SERIAL {
            return Err(PassNumberError::Serial(serial));
        }
        Ok(PassNumber(
            u64::from(area.0) * 1_000_000 + u64::from(serial),
        ))
    }

    pub fn parse(s: &str) -> Result<PassNumber, PassNumberError> {
        let t = s.trim();
        if t.len() != 12 || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PassNumberError::Format(s.to_owned()));
        }
        let n: u64 = t
            .parse()
            .map_err(|_| PassNumberError::Format(s.to_owned()))?;
        PassNumber::from_u64(n).ok_or_else(|| PassNumberError::Division(t.to_owned()))
    }

    /// A number from its integer value; `None` unless its area part is a division code.
    pub fn from_u64(n: u64) -> Option<PassNumber> {
        let area = u32::try_from(n / 1_000_000).ok()?;
        DivisionCode::from_u32(area).map(|_| PassNumber(n))
    }

    pub fn get(self) -> u64 {
        self.0
    }

    pub fn area(self) -> DivisionCode {
        // Every constructor checked the area part.
        DivisionCode((self.0 / 1_000_000) as u32)
    }

    pub fn serial(self) -> u32 {
        (self.0 % 1_000_000) as u32
    }
}

impl fmt::Display for PassNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:012}", self.0)
    }
}

impl FromStr for PassNumber {
    type Err = PassNumberError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PassNumber::parse(s)
    }
}

macro_rules! string_serde {
    ($t:ty, $parse:path) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}
string_serde!(PassNumber, PassNumber::parse);
string_serde!(DivisionCode, DivisionCode::parse);
string_serde!(Plate, Plate::parse);
string_serde!(MaskedName, MaskedName::parse);

// ---------------------------------------------------------------------------------------
// Class and cargo

/// The three pass classes.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PassClass {
    /// 长途闭环: bound to one route; valid only at the checkpoints on it.
    LongHaul,
    /// 短途闭环: moves inside the zone; valid only at checkpoints inside the zone.
    ShortHaul,
    /// 即装即卸即走: from outside the zone; enter, load or unload, leave within a dwell limit.
    LoadUnloadLeave,
}

impl PassClass {
    pub const ALL: [PassClass; 3] = [
        PassClass::LongHaul,
        PassClass::ShortHaul,
        PassClass::LoadUnloadLeave,
    ];

    /// The byte that stands for this class in the binary layout.
    pub fn code(self) -> u8 {
        match self {
            PassClass::LongHaul => 1,
            PassClass::ShortHaul => 2,
            PassClass::LoadUnloadLeave => 3,
        }
    }

    pub fn from_code(b: u8) -> Option<PassClass> {
        PassClass::ALL.into_iter().find(|c| c.code() == b)
    }

    /// The stable API name (`long_haul`, `short_haul`, `load_unload_leave`).
    pub fn as_str(self) -> &'static str {
        match self {
            PassClass::LongHaul => "long_haul",
            PassClass::ShortHaul => "short_haul",
            PassClass::LoadUnloadLeave => "load_unload_leave",
        }
    }

    pub fn parse(s: &str) -> Option<PassClass> {
        PassClass::ALL.into_iter().find(|c| c.as_str() == s)
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            PassClass::LongHaul => "长途闭环",
            PassClass::ShortHaul => "短途闭环",
            PassClass::LoadUnloadLeave => "即装即卸即走",
        }
    }

    pub fn name_en(self) -> &'static str {
        match self {
            PassClass::LongHaul => "long-haul closed-loop",
            PassClass::ShortHaul => "local short-haul closed-loop",
            PassClass::LoadUnloadLeave => "out-of-region load-unload-leave",
        }
    }
}

/// Cargo category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cargo {
    /// 防疫物资
    EpidemicSupplies,
    /// 重点生产物资
    ProductionMaterials,
    /// 生活必需品
    DailyNecessities,
}

impl Cargo {
    pub const ALL: [Cargo; 3] = [
        Cargo::EpidemicSupplies,
        Cargo::ProductionMaterials,
        Cargo::DailyNecessities,
    ];

    pub fn code(self) -> u8 {
        match self {
            Cargo::EpidemicSupplies => 1,
            Cargo::ProductionMaterials => 2,
            Cargo::DailyNecessities => 3,
        }
    }

    pub fn from_code(b: u8) -> Option<Cargo> {
        Cargo::ALL.into_iter().find(|c| c.code() == b)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Cargo::EpidemicSupplies => "epidemic_supplies",
            Cargo::ProductionMaterials => "production_materials",
            Cargo::DailyNecessities => "daily_necessities",
        }
    }

    pub fn parse(s: &str) -> Option<Cargo> {
        Cargo::ALL.into_iter().find(|c| c.as_str() == s)
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            Cargo::EpidemicSupplies => "防疫物资",
            Cargo::ProductionMaterials => "重点生产物资",
            Cargo::DailyNecessities => "生活必需品",
        }
    }

    pub fn name_en(self) -> &'static str {
        match self {
            Cargo::EpidemicSupplies => "epidemic-prevention supplies",
            Cargo::ProductionMaterials => "key production materials",
            Cargo::DailyNecessities => "daily necessities",
        }
    }
}

// ---------------------------------------------------------------------------------------
// Plates

/// Province abbreviations in plate order; a plate stores the index into this table.
pub const PROVINCES: [char; 31] = [
    '京', '津', '冀', '晋', '蒙', '辽', '吉', '黑', '沪', '苏', '浙', '皖', '闽', '赣', '鲁', '豫',
    '鄂', '湘', '粤', '桂', '琼', '渝', '川', '贵', '云', '藏', '陕', '甘', '青', '宁', '新',
];

/// A Chinese vehicle plate: a province character, an issuing-authority letter, then 5
/// characters (ordinary) or 6 (new-energy), letters and digits without I and O.
/// Stored normalised: upper case, no separators (`豫U12345`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Plate(String);

/// Why a plate was refused. Each message says what to fix.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PlateError {
    #[error("the plate is empty / 车牌号为空")]
    Empty,
    #[error(
        "the plate must start with a province character such as 豫 or 京, not {0:?} / 车牌首字须为省份简称（如 豫、京），而不是“{0}”"
    )]
    Province(char),
    #[error(
        "the second character must be a letter A–Z other than I or O, not {0:?} / 车牌第二位须为字母（不含 I、O），而不是“{0}”"
    )]
    Authority(char),
    #[error(
        "a plate has 5 characters after the letter (6 for new-energy vehicles), this one has {0} / 车牌字母后应为 5 位（新能源 6 位），实为 {0} 位"
    )]
    Length(usize),
    #[error(
        "character {0:?} at position {1} is not allowed: use digits and letters except I and O / 第 {1} 位“{0}”无效：只能用数字和字母（不含 I、O）"
    )]
    Character(char, usize),
    #[error(
        "a new-energy plate has D or F as its first or last serial character / 新能源车牌序号首位或末位须为 D 或 F"
    )]
    NewEnergy,
    #[error(
        "this is a trailer plate (挂); record the tractor's plate instead / 这是挂车号牌，请填写牵引车号牌"
    )]
    Trailer,
}

fn plate_serial_char(c: char) -> bool {
    c.is_ascii_digit() || (c.is_ascii_uppercase() && c != 'I' && c != 'O')
}

impl Plate {
    /// Parse a plate. Spaces, `·` and `-` separators are dropped and letters upper-cased,
    /// since guards and clerks type plates in every style.
    pub fn parse(s: &str) -> Result<Plate, PlateError> {
        let chars: Vec<char> = s
            .chars()
            .filter(|c| !c.is_whitespace() && !matches!(c, '·' | '•' | '-' | '.'))
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let Some(&first) = chars.first() else {
            return Err(PlateError::Empty);
        };
        if chars.last() == Some(&'挂') {
            return Err(PlateError::Trailer);
        }
        if !PROVINCES.contains(&first) {
            return Err(PlateError::Province(first));
        }
        let Some(&letter) = chars.get(1) else {
            return Err(PlateError::Length(0));
        };
        if !letter.is_ascii_uppercase() || letter == 'I' || letter == 'O' {
            return Err(PlateError::Authority(letter));
        }
        let serial = &chars[2..];
        if let Some((i, &c)) = serial
            .iter()
            .enumerate()
            .find(|(_, c)| !plate_serial_char(**c))
        {
            return Err(PlateError::Character(c, i + 3));
        }
        match serial.len() {
            5 => {}
            6 => {
                let ne = |c: Option<&char>| matches!(c, Some('D' | 'F'));
                if !ne(serial.first()) && !ne(serial.last()) {
                    return Err(PlateError::NewEnergy);
                }
            }
            n => return Err(PlateError::Length(n)),
        }
        Ok(Plate(chars.into_iter().collect()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Index of the province character in [`PROVINCES`].
    pub fn province_index(&self) -> u8 {
        let first = self.0.chars().next().unwrap_or('京');
        PROVINCES.iter().position(|&p| p == first).unwrap_or(0) as u8
    }

    /// The ASCII part after the province character (letter + serial).
    pub fn tail(&self) -> &str {
        let cut = self
            .0
            .char_indices()
            .nth(1)
            .map_or(self.0.len(), |(i, _)| i);
        &self.0[cut..]
    }

    pub fn is_new_energy(&self) -> bool {
        self.tail().len() == 7
    }
}

impl fmt::Display for Plate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// ---------------------------------------------------------------------------------------
// Crew

/// A masked display name such as `张*明`: what the pass shows of a crew member. The full
/// name, ID number and phone stay on the server.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MaskedName(String);

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NameError {
    #[error("the name is empty / 姓名为空")]
    Empty,
    #[error("a name has 2 to 20 characters, this one has {0} / 姓名应为 2 到 20 个字，实为 {0} 个")]
    Length(usize),
    #[error("a name may not contain digits or control characters / 姓名不能含数字或控制字符")]
    Character,
    #[error(
        "a masked name keeps only its first and last characters, e.g. 张*明 / 脱敏姓名只保留首尾字，如 张*明"
    )]
    NotMasked,
}

impl MaskedName {
    /// Mask a full name: `张三` → `张*`, `张三明` → `张*明`, `欧阳明华` → `欧**华`.
    pub fn mask(full: &str) -> Result<MaskedName, NameError> {
        let chars: Vec<char> = full.trim().chars().collect();
        if chars.is_empty() {
            return Err(NameError::Empty);
        }
        if chars
            .iter()
            .any(|c| c.is_ascii_digit() || c.is_control() || *c == '*')
        {
            return Err(NameError::Character);
        }
        if !(2..=20).contains(&chars.len()) {
            return Err(NameError::Length(chars.len()));
        }
        let mut out = String::new();
        out.push(chars[0]);
        if chars.len() == 2 {
            out.push('*');
        } else {
            out.extend(std::iter::repeat_n('*', chars.len() - 2));
            out.push(chars[chars.len() - 1]);
        }
        Ok(MaskedName(out))
    }

    /// Parse an already-masked name: 2–20 characters, the first not masked, every middle
    /// character `*`, and the last either `*` (two-character names) or a visible character.
    pub fn parse(s: &str) -> Result<MaskedName, NameError> {
        let chars: Vec<char> = s.chars().collect();
        if chars.is_empty() {
            return Err(NameError::Empty);
        }
        if !(2..=20).contains(&chars.len()) {
            return Err(NameError::Length(chars.len()));
        }
        if chars
            .iter()
            .any(|c| c.is_ascii_digit() || c.is_control() || c.is_whitespace())
        {
            return Err(NameError::Character);
        }
        let n = chars.len();
        let ok = chars[0] != '*'
            && chars[1..n - 1].iter().all(|&c| c == '*')
            && (if n == 2 {
                chars[1] == '*'
            } else {
                chars[n - 1] != '*'
            });
        if !ok {
            return Err(NameError::NotMasked);
        }
        Ok(MaskedName(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MaskedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The crew (司乘人员): a driver and an optional co-driver, masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Crew {
    pub driver: MaskedName,
    pub co_driver: Option<MaskedName>,
}

// ---------------------------------------------------------------------------------------
// Route, ids, the pass

/// A checkpoint's id, as the server numbers them.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CheckpointId(pub u32);

/// An enterprise's id, as the server numbers them.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EnterpriseId(pub u32);

impl fmt::Display for CheckpointId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for EnterpriseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Origin and destination county codes, and for long-haul passes the checkpoints on the
/// route in travel order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    pub origin: DivisionCode,
    pub destination: DivisionCode,
    pub checkpoints: Vec<CheckpointId>,
}

/// Most checkpoints a long-haul route may list.
pub const MAX_ROUTE_CHECKPOINTS: usize = 16;

/// Why a set of fields does not make a pass.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PassError {
    #[error(
        "a long-haul pass lists the checkpoints on its route (1 to {MAX_ROUTE_CHECKPOINTS}) / 长途闭环通行证须列出线路上的查验点（1 至 {MAX_ROUTE_CHECKPOINTS} 个）"
    )]
    RouteCheckpoints,
    #[error("checkpoint {0} appears twice on the route / 查验点 {0} 在线路中重复")]
    DuplicateCheckpoint(CheckpointId),
    #[error("only long-haul passes list route checkpoints / 只有长途闭环通行证列出线路查验点")]
    UnexpectedCheckpoints,
    #[error(
        "a load-unload-leave pass needs a max dwell of 1 to 1440 minutes / 即装即卸即走通行证须设最长停留时间（1 至 1440 分钟）"
    )]
    Dwell,
    #[error(
        "only load-unload-leave passes carry a max dwell / 只有即装即卸即走通行证设最长停留时间"
    )]
    UnexpectedDwell,
}

/// Largest max dwell, in minutes (one day).
pub const MAX_DWELL_MINUTES: u16 = 1440;

/// A vehicle pass: exactly what the QR carries, besides the signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pass {
    pub number: PassNumber,
    pub class: PassClass,
    pub key_id: KeyId,
    pub validity: Validity,
    pub plate: Plate,
    pub crew: Crew,
    pub route: Route,
    pub enterprise: EnterpriseId,
    pub cargo: Cargo,
    /// Max dwell inside the plant, for load-unload-leave passes only.
    pub max_dwell_minutes: Option<u16>,
}

impl Pass {
    /// Check the rules that tie fields to the class. Every constructor of a pass that will
    /// be signed, and the decoder, run this.
    pub fn check(&self) -> Result<(), PassError> {
        let cps = &self.route.checkpoints;
        match (self.class, cps.len()) {
            (PassClass::LongHaul, 1..=MAX_ROUTE_CHECKPOINTS) => {}
            (PassClass::LongHaul, _) => return Err(PassError::RouteCheckpoints),
            (_, 0) => {}
            (_, _) => return Err(PassError::UnexpectedCheckpoints),
        }
        for (i, c) in cps.iter().enumerate() {
            if cps[..i].contains(c) {
                return Err(PassError::DuplicateCheckpoint(*c));
            }
        }
        match (self.class, self.max_dwell_minutes) {
            (PassClass::LoadUnloadLeave, Some(m)) if (1..=MAX_DWELL_MINUTES).contains(&m) => {}
            (PassClass::LoadUnloadLeave, _) => return Err(PassError::Dwell),
            (_, Some(_)) => return Err(PassError::UnexpectedDwell),
            (_, None) => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pass_numbers() {
        let n = PassNumber::parse("419001000042").unwrap();
        assert_eq!(n.area().get(), 419001);
        assert_eq!(n.serial(), 42);
        assert_eq!(n.to_string(), "419001000042");
        let rows = [
            "41900100004",
            "4190010000421",
            "41900100004a",
            "009001000042",
            " ",
        ];
        for bad in rows {
            assert!(PassNumber::parse(bad).is_err(), "{bad}");
        }
        let area = DivisionCode::parse("419001").unwrap();
        assert_eq!(
            PassNumber::new(area, 1_000_000),
            Err(PassNumberError::Serial(1_000_000))
        );
    }

    #[test]
    fn plates_table() {
        let ok = [
            ("豫U12345", "豫U12345"),
            ("豫UD12345", "豫UD12345"),
            ("豫U12345D", "豫U12345D"),
            ("豫u·12345", "豫U12345"),
            (" 京 A 1B2C3 ", "京A1B2C3"),
        ];
        for (input, want) in ok {
            assert_eq!(Plate::parse(input).unwrap().as_str(), want, "{input}");
        }
        let bad = [
            ("", PlateError::Empty),
            ("XU12345", PlateError::Province('X')),
            ("豫112345", PlateError::Authority('1')),
            ("豫I12345", PlateError::Authority('I')),
            ("豫U1234", PlateError::Length(4)),
            ("豫U1234567", PlateError::Length(7)),
            ("豫U12O45", PlateError::Character('O', 5)),
            ("豫U123456", PlateError::NewEnergy),
            ("豫U1234挂", PlateError::Trailer),
            ("豫", PlateError::Length(0)),
        ];
        for (input, want) in bad {
            assert_eq!(Plate::parse(input), Err(want), "{input}");
        }
    }

    #[test]
    fn plate_parts() {
        let p = Plate::parse("豫UD12345").unwrap();
        assert_eq!(PROVINCES[usize::from(p.province_index())], '豫');
        assert_eq!(p.tail(), "UD12345");
        assert!(p.is_new_energy());
    }

    #[test]
    fn masking() {
        let rows = [("张三", "张*"), ("张三明", "张*明"), ("欧阳明华", "欧**华")];
        for (full, masked) in rows {
            assert_eq!(MaskedName::mask(full).unwrap().as_str(), masked);
            assert_eq!(MaskedName::parse(masked).unwrap().as_str(), masked);
        }
        assert_eq!(MaskedName::mask("张"), Err(NameError::Length(1)));
        assert_eq!(MaskedName::mask("张3"), Err(NameError::Character));
        assert_eq!(MaskedName::parse("张三明"), Err(NameError::NotMasked));
        assert_eq!(MaskedName::parse("*三明"), Err(NameError::NotMasked));
        assert_eq!(MaskedName::parse("张**"), Err(NameError::NotMasked));
        assert_eq!(
            MaskedName::parse("410101199001011234"),
            Err(NameError::Character)
        );
    }

    #[test]
    fn class_round_trip() {
        for c in PassClass::ALL {
            assert_eq!(PassClass::from_code(c.code()), Some(c));
            assert_eq!(PassClass::parse(c.as_str()), Some(c));
        }
        assert_eq!(PassClass::from_code(0), None);
        assert_eq!(PassClass::from_code(4), None);
    }
}
