//! The compiled artifact: a versioned, self-checking file holding a [`Plan`].
//!
//! Layout (little-endian):
//!
//! | bytes | field |
//! |---|---|
//! | 8 | magic `ALLOTPLN` |
//! | 4 | format version |
//! | 8 | ruleset hash (FNV-1a 64 of the source files' paths and texts) |
//! | 8 | payload length |
//! | 4 | CRC-32 of the payload |
//! | n | payload: the plan, encoded with postcard |

use crate::Plan;
use std::fmt;

pub const MAGIC: &[u8; 8] = b"ALLOTPLN";
/// Bumped whenever the plan's encoding changes.
pub const FORMAT_VERSION: u32 = 3;
const HEADER_LEN: usize = 8 + 4 + 8 + 8 + 4;

#[derive(Debug, PartialEq, Eq)]
pub enum ArtifactError {
    NotAnArtifact,
    OtherVersion { found: u32 },
    Truncated { expected: u64, found: u64 },
    Corrupted(String),
}

impl fmt::Display for ArtifactError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArtifactError::NotAnArtifact => {
                write!(f, "not a compiled Allot plan (no ALLOTPLN header)")
            }
            ArtifactError::OtherVersion { found } => write!(
                f,
                "compiled with plan format version {found}; this allot reads version {FORMAT_VERSION}: recompile it with `allot compile`"
            ),
            ArtifactError::Truncated { expected, found } => {
                write!(f, "the plan is truncated: {found} of {expected} bytes")
            }
            ArtifactError::Corrupted(why) => write!(f, "the plan is corrupted: {why}"),
        }
    }
}

impl std::error::Error for ArtifactError {}

/// A plan with the hash of the sources it was compiled from.
#[derive(Clone, Debug, PartialEq)]
pub struct Artifact {
    pub ruleset_hash: u64,
    pub plan: Plan,
}

/// FNV-1a 64 over the files (path, then text, each followed by a zero byte).
pub fn ruleset_hash<'a>(files: impl IntoIterator<Item = (&'a str, &'a str)>) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (path, text) in files {
        for byte in path.bytes().chain([0]).chain(text.bytes()).chain([0]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}

impl Artifact {
    pub fn encode(&self) -> Vec<u8> {
        let payload = postcard::to_stdvec(&self.plan).expect("a plan always encodes");
        let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&self.ruleset_hash.to_le_bytes());
        out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        out.extend_from_slice(&payload);
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Artifact, ArtifactError> {
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return Err(ArtifactError::NotAnArtifact);
        }
        if bytes.len() < HEADER_LEN {
            return Err(ArtifactError::Truncated {
                expected: HEADER_LEN as u64,
                found: bytes.len() as u64,
            });
        }
        let word = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
        let long = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        let version = word(8);
        if version != FORMAT_VERSION {
            return Err(ArtifactError::OtherVersion { found: version });
        }
        let ruleset_hash = long(12);
        let length = long(20);
        let checksum = word(28);
        let payload = &bytes[HEADER_LEN..];
        if (payload.len() as u64) < length {
            return Err(ArtifactError::Truncated {
                expected: (HEADER_LEN as u64).saturating_add(length),
                found: bytes.len() as u64,
            });
        }
        if payload.len() as u64 > length {
            return Err(ArtifactError::Corrupted(format!(
                "{} bytes after the end of the plan",
                payload.len() as u64 - length
            )));
        }
        if crc32fast::hash(payload) != checksum {
            return Err(ArtifactError::Corrupted("checksum mismatch".into()));
        }
        let plan: Plan =
            postcard::from_bytes(payload).map_err(|e| ArtifactError::Corrupted(e.to_string()))?;
        plan.validate()
            .map_err(|e| ArtifactError::Corrupted(format!("invalid plan: {e}")))?;
        Ok(Artifact { ruleset_hash, plan })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn artifact() -> Artifact {
        Artifact {
            ruleset_hash: ruleset_hash([("a.allot", "const x = 1")]),
            plan: Plan {
                currency: Some("USD".into()),
                enums: crate::validate::BUILTIN_ENUMS
                    .iter()
                    .map(|(name, n)| crate::EnumInfo {
                        name: name.to_string(),
                        variants: (0..*n).map(|v| format!("v{v}")).collect(),
                    })
                    .collect(),
                attributes: Vec::new(),
                tables: Vec::new(),
                policies: Vec::new(),
                files: vec!["a.allot".into()],
            },
        }
    }

    /// Found by the `artifact` fuzz target: a length near `u64::MAX` overflowed.
    #[test]
    fn a_header_claiming_more_than_any_file_is_truncated() {
        let mut bytes = artifact().encode();
        bytes[20..28].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(
            Artifact::decode(&bytes),
            Err(ArtifactError::Truncated {
                expected: u64::MAX,
                found: bytes.len() as u64
            })
        );
    }

    #[test]
    fn round_trips() {
        let a = artifact();
        assert_eq!(Artifact::decode(&a.encode()), Ok(a));
    }

    #[test]
    fn refuses_other_versions_truncation_and_corruption() {
        let bytes = artifact().encode();
        assert_eq!(
            Artifact::decode(b"{\"json\": true}"),
            Err(ArtifactError::NotAnArtifact)
        );
        let mut other = bytes.clone();
        other[8] = 99;
        assert_eq!(
            Artifact::decode(&other),
            Err(ArtifactError::OtherVersion { found: 99 })
        );
        for cut in [10, HEADER_LEN, bytes.len() - 1] {
            assert!(
                matches!(
                    Artifact::decode(&bytes[..cut]),
                    Err(ArtifactError::Truncated { .. })
                ),
                "cut at {cut}"
            );
        }
        for at in HEADER_LEN..bytes.len() {
            let mut flipped = bytes.clone();
            flipped[at] ^= 0x40;
            assert!(
                matches!(Artifact::decode(&flipped), Err(ArtifactError::Corrupted(_))),
                "flip at {at}"
            );
        }
        let mut unchecked = artifact();
        unchecked.plan.enums.clear();
        assert!(matches!(
            Artifact::decode(&unchecked.encode()),
            Err(ArtifactError::Corrupted(why)) if why.contains("built-in enum NodeKind")
        ));
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(matches!(
            Artifact::decode(&longer),
            Err(ArtifactError::Corrupted(_))
        ));
    }
}
