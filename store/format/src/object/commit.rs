//! Commits, `(a{sv}aya(say)sstayay)` (ostree-format.md §1.4): metadata, parent, related,
//! subject, body, timestamp (big-endian), root dirtree and root dirmeta.

use crate::error::{Error, Result};
use crate::gvariant::{decode, encode};
use crate::id::ObjectId;
use crate::object::variant_dict::VariantDict;

/// A commit object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Commit {
    /// Commit metadata, e.g. `version`, `ostree.ref-binding`.
    pub metadata: VariantDict,
    /// The parent commit, if any.
    pub parent: Option<ObjectId>,
    /// `related` entries; always empty in practice, carried exactly.
    pub related: Vec<(String, ObjectId)>,
    /// One-line subject.
    pub subject: String,
    /// Longer body.
    pub body: String,
    /// Seconds since the epoch.
    pub timestamp: u64,
    /// The root directory listing.
    pub root_tree: ObjectId,
    /// The root directory's metadata.
    pub root_meta: ObjectId,
}

impl Commit {
    /// The serialised object.
    pub fn encode(&self) -> Vec<u8> {
        let related = encode::variable_array(
            self.related.iter().map(|(name, id)| {
                encode::TupleWriter::new().variable(1, &encode::string(name)).last(1, id.as_bytes()).finish()
            }),
            1,
        );
        let parent: &[u8] = self.parent.as_ref().map(|p| p.as_bytes().as_slice()).unwrap_or_default();
        encode::TupleWriter::new()
            .variable(8, &self.metadata.encode())
            .variable(1, parent)
            .variable(1, &related)
            .variable(1, &encode::string(&self.subject))
            .variable(1, &encode::string(&self.body))
            .fixed(8, &self.timestamp.to_be_bytes())
            .variable(1, self.root_tree.as_bytes())
            .last(1, self.root_meta.as_bytes())
            .finish()
    }

    /// Decodes a commit; it must be in normal form.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let mut tuple = decode::TupleReader::new(bytes, "commit");
        let metadata = VariantDict::decode(tuple.variable(8)?)?;
        let parent = match tuple.variable(1)? {
            [] => None,
            raw => Some(ObjectId::from_slice(raw)?),
        };
        let mut related = Vec::new();
        for element in decode::variable_array(tuple.variable(1)?, 1, "commit related")? {
            let mut entry = decode::TupleReader::new(element, "commit related entry");
            let name = decode::string(entry.variable(1)?, "related name")?.to_owned();
            let id = ObjectId::from_slice(entry.last(1)?)?;
            entry.finish()?;
            related.push((name, id));
        }
        let subject = decode::string(tuple.variable(1)?, "commit subject")?.to_owned();
        let body = decode::string(tuple.variable(1)?, "commit body")?.to_owned();
        let timestamp = tuple.u64_be()?;
        let root_tree = ObjectId::from_slice(tuple.variable(1)?)?;
        let root_meta = ObjectId::from_slice(tuple.last(1)?)?;
        tuple.finish()?;
        let commit = Self { metadata, parent, related, subject, body, timestamp, root_tree, root_meta };
        if commit.encode() != bytes {
            return Err(Error::malformed("commit", "not in normal form"));
        }
        Ok(commit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::metadata_checksum;

    fn fixture_commit() -> Commit {
        Commit {
            metadata: VariantDict::new(),
            parent: None,
            related: vec![],
            subject: "fixture".into(),
            body: String::new(),
            timestamp: 1_704_067_200,
            root_tree: "382b48e30d13877547eefbb909811e6cc19bb60b21478f818f57b2378414d256".parse().unwrap(),
            root_meta: "446a0ef11b7cc167f3b603e585c7eeeeb675faa412d5ec73f62988eb0b6c5488".parse().unwrap(),
        }
    }

    #[test]
    fn golden_fixture_commit() {
        let bytes = fixture_commit().encode();
        assert_eq!(bytes.len(), 94);
        assert_eq!(hex::encode(&bytes[88..]), "380908000000");
        assert_eq!(
            metadata_checksum(&bytes).to_hex(),
            "36dadcd6c20fc06952a019d06370033421453e492a199444ec8b90cdc8621191"
        );
        assert_eq!(Commit::decode(&bytes).unwrap(), fixture_commit());
    }

    #[test]
    fn truncated_commits_are_errors() {
        let bytes = fixture_commit().encode();
        for len in 0..bytes.len() {
            assert!(Commit::decode(&bytes[..len]).is_err());
        }
    }
}
