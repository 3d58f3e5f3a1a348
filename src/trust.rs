//! Signature checks (RELIABILITY.md "Trust model"): the jigdo RPM's OpenPGP signature, as
//! `rpmsign --addsign` makes it, and the OSTree commit's detached signatures the jigdo carries
//! (`ostree.gpgsigs`, `ostree.sign.ed25519`).
//!
//! The chain a verified jigdo gives: a trusted key signed the main header (and, in the
//! `--rpmv3` form, the payload too); the main header records the payload's SHA-256, which is
//! checked here before anything else reads the payload; the payload holds the tables, which
//! bind the commit bytes, every part and every package by digest.
//!
//! Every error names the file and the key at fault. Nothing here writes anything.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use base64::Engine;
use ed25519_dalek::{Signature as EdSignature, VerifyingKey};
use pgp::composed::{Deserializable, DetachedSignature, SignedPublicKey};
use pgp::crypto::hash::HashAlgorithm;
use pgp::packet::Signature;
use pgp::types::{KeyDetails, PublicKeyTrait};
use rejig_format::object::variant_dict::VariantDict;
use rejig_format::ObjectId;
use rejig_importer::rpm::header::{Header, HeaderKind};
use rejig_importer::rpm::lead::{parse_lead, LEAD_LEN};
use rejig_importer::rpm::signature::{openpgp_signatures, RpmSignature, SignedRange};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// Detached-metadata key of OSTree's OpenPGP signatures (`aay`, each a binary signature).
pub const OSTREE_GPGSIGS: &str = "ostree.gpgsigs";
/// Detached-metadata key of OSTree's ed25519 signatures (`aay`, each 64 bytes).
pub const OSTREE_ED25519: &str = "ostree.sign.ed25519";

/// Main-header tags of the payload digest (rpm-format.md).
const PAYLOADDIGEST: u32 = 5092;
const PAYLOADDIGESTALGO: u32 = 5093;
/// PGPHASHALGO_SHA256.
const HASH_SHA256: u64 = 8;

/// Key files larger than this are not public keys.
const MAX_KEY_FILE: u64 = 1 << 20;

fn read_key_file(path: &Path) -> Result<Vec<u8>> {
    let file =
        rejig_importer::source::open_regular_file(path).with_context(|| format!("key file {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(MAX_KEY_FILE + 1).read_to_end(&mut bytes).with_context(|| format!("key file {}", path.display()))?;
    if bytes.len() as u64 > MAX_KEY_FILE {
        bail!("key file {}: larger than {MAX_KEY_FILE} bytes, not a public key", path.display());
    }
    Ok(bytes)
}

/// One trusted OpenPGP key (a primary key with its subkeys) and the file it came from.
struct TrustedKey {
    file: PathBuf,
    key: SignedPublicKey,
}

/// The OpenPGP keys a remote trusts: ASCII-armored public key files, as dnf's `gpgkey=`.
#[derive(Default)]
pub struct OpenPgpKeys {
    keys: Vec<TrustedKey>,
}

/// A signature that checked out, and by what.
#[derive(Clone, Debug, Serialize)]
pub struct Signer {
    /// The fingerprint of the (sub)key that made it, lowercase hex.
    pub fingerprint: String,
    /// The key file it is in.
    pub key_file: PathBuf,
}

impl OpenPgpKeys {
    /// Reads every key of every file. A file that does not parse, holds no public key, or
    /// holds a key whose self-signatures do not verify is an error naming it.
    pub fn load(files: &[PathBuf]) -> Result<Self> {
        let mut keys = Vec::new();
        for file in files {
            let bytes = read_key_file(file)?;
            let bad = |e: &dyn std::fmt::Display| {
                anyhow!("key file {}: not an ASCII-armored OpenPGP public key: {e}", file.display())
            };
            let (parsed, _) = SignedPublicKey::from_armor_many(bytes.as_slice()).map_err(|e| bad(&e))?;
            let before = keys.len();
            for key in parsed {
                let key = key.map_err(|e| bad(&e))?;
                key.verify().map_err(|e| {
                    anyhow!(
                        "key file {}: key {:x}: its self-signatures do not verify: {e}",
                        file.display(),
                        key.fingerprint()
                    )
                })?;
                keys.push(TrustedKey { file: file.clone(), key });
            }
            if keys.len() == before {
                bail!("key file {}: holds no OpenPGP public key", file.display());
            }
        }
        Ok(Self { keys })
    }

    /// True when no key is trusted.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Checks one OpenPGP signature packet over what `data()` reads. `Ok(None)` when no
    /// trusted key made it (its issuer is returned for the message); an error when a trusted
    /// key made it and it does not verify.
    fn check(
        &self,
        signature: &Signature,
        mut data: impl FnMut() -> Result<Box<dyn Read>>,
    ) -> Result<std::result::Result<Signer, String>> {
        let issuers: Vec<String> = signature
            .issuer_fingerprint()
            .iter()
            .map(|f| format!("{f:x}"))
            .chain(signature.issuer().iter().map(|k| k.to_string()))
            .collect();
        for trusted in &self.keys {
            let mut outcome = try_key(signature, &trusted.key.primary_key, &mut data);
            for subkey in &trusted.key.public_subkeys {
                if outcome.is_none() {
                    outcome = try_key(signature, &subkey.key, &mut data);
                }
            }
            match outcome {
                None => continue,
                Some(Ok(fingerprint)) => return Ok(Ok(Signer { fingerprint, key_file: trusted.file.clone() })),
                Some(Err(e)) => {
                    return Err(anyhow!("{e:#} (the key is trusted in {})", trusted.file.display()));
                }
            }
        }
        Ok(Err(issuers.first().cloned().unwrap_or_else(|| "an unnamed key".into())))
    }

    fn describe(&self) -> String {
        let mut files: Vec<String> = self.keys.iter().map(|k| k.file.display().to_string()).collect();
        files.dedup();
        files.join(", ")
    }
}

/// Checks `signature` with `key` when the signature names it as its issuer: None when it
/// does not, the key's fingerprint when it verifies.
fn try_key<K: PublicKeyTrait>(
    signature: &Signature,
    key: &K,
    data: &mut impl FnMut() -> Result<Box<dyn Read>>,
) -> Option<Result<String>> {
    let named = signature.issuer_fingerprint().iter().any(|f| **f == key.fingerprint())
        || signature.issuer().iter().any(|k| **k == key.key_id());
    if !named {
        return None;
    }
    let fingerprint = format!("{:x}", key.fingerprint());
    // rpgp checks classic signatures over any hash; MD5, SHA-1 and RIPEMD-160 are refused here,
    // as rpm's and ostree's current policies refuse them.
    let strong = matches!(
        signature.hash_alg(),
        Some(
            HashAlgorithm::Sha224
                | HashAlgorithm::Sha256
                | HashAlgorithm::Sha384
                | HashAlgorithm::Sha512
                | HashAlgorithm::Sha3_256
                | HashAlgorithm::Sha3_512
        )
    );
    if !strong {
        let hash = signature.hash_alg().map(|h| h.to_string()).unwrap_or_else(|| "an unknown hash".into());
        return Some(Err(anyhow!("the signature by key {fingerprint} uses {hash}, which is too weak to trust")));
    }
    Some(data().and_then(|reader| {
        signature
            .verify(key, reader)
            .map_err(|e| anyhow!("the signature by key {fingerprint} does not verify: {e}"))
            .map(|()| fingerprint)
    }))
}

fn parse_signature(packet: &[u8]) -> Result<Signature> {
    let detached = DetachedSignature::from_bytes(packet).map_err(|e| anyhow!("not an OpenPGP signature: {e}"))?;
    Ok(detached.signature)
}

/// What the check of a signed RPM found.
#[derive(Clone, Debug, Serialize)]
pub struct RpmVerification {
    /// Who signed it.
    pub signer: Signer,
    /// The signature tags that verified (`RSAHEADER`, `PGP`, …).
    pub tags: Vec<&'static str>,
    /// Whether a signature covers the payload itself (`header-and-payload`) or only the
    /// header, which binds the payload by its SHA-256 (`header`).
    pub range: SignedRange,
}

/// Checks the OpenPGP signature of the RPM at `path` against `keys`, and that the signed
/// header binds the payload: its SHA-256 (PAYLOADDIGEST) matches, or a signature covers the
/// payload. Refused: no signature; a signature whose key is not trusted; a signature that
/// does not verify (header or payload changed after signing); a payload that does not hash
/// to what the signed header records.
pub fn verify_rpm(path: &Path, keys: &OpenPgpKeys) -> Result<RpmVerification> {
    verify_rpm_inner(path, keys).with_context(|| format!("checking the signature of {}", path.display()))
}

fn verify_rpm_inner(path: &Path, keys: &OpenPgpKeys) -> Result<RpmVerification> {
    if keys.is_empty() {
        bail!("no trusted key to check it with");
    }
    // The headers are read without their digests checked: the signature comes first, so a
    // change after signing is reported as such.
    let mut reader = BufReader::new(rejig_importer::source::open_regular_file(path)?);
    let mut lead = [0u8; LEAD_LEN];
    reader.read_exact(&mut lead).context("reading the lead")?;
    parse_lead(&lead)?;
    let signature_header = Header::read(&mut reader, HeaderKind::Signature)?;
    let pad = (8 - signature_header.raw().len() % 8) % 8;
    std::io::copy(&mut (&mut reader).take(pad as u64), &mut std::io::sink())?;
    let main = Header::read(&mut reader, HeaderKind::Main)?;
    let header_start = (LEAD_LEN + signature_header.raw().len() + pad) as u64;
    let signatures: Vec<RpmSignature> = openpgp_signatures(&signature_header)?;
    if signatures.is_empty() {
        bail!("it is not signed (no OpenPGP signature in its signature header); trusted keys: {}", keys.describe());
    }
    let header = main.raw();
    let mut signer = None;
    let mut tags = Vec::new();
    let mut untrusted = Vec::new();
    let mut range = SignedRange::Header;
    for rpm_signature in &signatures {
        let what = format!("{} (signature tag {})", rpm_signature.name, rpm_signature.tag);
        let signature = parse_signature(&rpm_signature.packet).with_context(|| what.clone())?;
        let data = || -> Result<Box<dyn Read>> {
            match rpm_signature.range {
                SignedRange::Header => Ok(Box::new(std::io::Cursor::new(header.to_vec()))),
                SignedRange::HeaderAndPayload => {
                    let mut file = File::open(path)?;
                    file.seek(SeekFrom::Start(header_start))?;
                    Ok(Box::new(BufReader::new(file)))
                }
            }
        };
        match keys.check(&signature, data).with_context(|| {
            format!("{what}: the package changed after it was signed, in its {}", describe_range(rpm_signature.range))
        })? {
            Ok(by) => {
                tags.push(rpm_signature.name);
                if rpm_signature.range == SignedRange::HeaderAndPayload {
                    range = SignedRange::HeaderAndPayload;
                }
                signer.get_or_insert(by);
            }
            Err(issuer) => untrusted.push(format!("{what} by key {issuer}")),
        }
    }
    let Some(signer) = signer else {
        bail!(
            "it is signed by a key that is not trusted: {} (trusted keys: {})",
            untrusted.join(", "),
            keys.describe()
        );
    };
    // The payload: bound by the digest the signed header records. Checked even when a
    // signature covers it, so a payload is never read on faith.
    let digest = main.string_array(PAYLOADDIGEST)?.and_then(|v| v.first().map(|d| d.to_vec()));
    let algo = main.integer(PAYLOADDIGESTALGO)?;
    match (digest, algo) {
        (Some(expected), Some(HASH_SHA256)) => {
            let mut hasher = Sha256::new();
            std::io::copy(&mut reader, &mut hasher).context("reading the payload")?;
            let actual = hex::encode(hasher.finalize());
            if !expected.eq_ignore_ascii_case(actual.as_bytes()) {
                bail!(
                    "the payload changed after signing: the signed header records SHA-256 {}, the payload hashes to {actual}",
                    String::from_utf8_lossy(&expected)
                );
            }
        }
        (Some(_), other) if range == SignedRange::Header => {
            bail!("the signed header's payload digest uses algorithm {other:?}, not SHA-256 (8); it does not bind the payload")
        }
        (None, _) if range == SignedRange::Header => {
            bail!("the signed header records no payload digest and no signature covers the payload")
        }
        _ => {}
    }
    Ok(RpmVerification { signer, tags, range })
}

fn describe_range(range: SignedRange) -> &'static str {
    match range {
        SignedRange::Header => "header",
        SignedRange::HeaderAndPayload => "header or payload",
    }
}

/// ed25519 public keys in ostree's key-file format: base64, one key per line.
#[derive(Default)]
pub struct Ed25519Keys {
    keys: Vec<(PathBuf, VerifyingKey)>,
}

impl Ed25519Keys {
    /// Reads every key of every file. A line that is not the base64 of 32 bytes naming a
    /// curve point is an error naming the file and the line; so is a file without a key.
    pub fn load(files: &[PathBuf]) -> Result<Self> {
        let mut keys = Vec::new();
        for file in files {
            let bytes = read_key_file(file)?;
            let text = std::str::from_utf8(&bytes)
                .map_err(|_| anyhow!("key file {}: not text (base64 ed25519 keys, one per line)", file.display()))?;
            let before = keys.len();
            for (number, line) in text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())) {
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let bad = |why: String| anyhow!("key file {} line {number}: {why}", file.display());
                let raw = base64::engine::general_purpose::STANDARD
                    .decode(line)
                    .map_err(|e| bad(format!("not base64: {e}")))?;
                let raw: [u8; 32] =
                    raw.try_into().map_err(|r: Vec<u8>| bad(format!("{} bytes, an ed25519 key is 32", r.len())))?;
                let key = VerifyingKey::from_bytes(&raw).map_err(|e| bad(format!("not an ed25519 key: {e}")))?;
                if key.is_weak() {
                    return Err(bad("a weak (small-order) ed25519 key".into()));
                }
                keys.push((file.clone(), key));
            }
            if keys.len() == before {
                bail!("key file {}: holds no ed25519 key", file.display());
            }
        }
        Ok(Self { keys })
    }

    /// True when no key is trusted.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// What the check of a commit's detached signatures found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CommitVerification {
    /// The OpenPGP signature that verified, when the commit has any.
    pub gpg: Option<Signer>,
    /// The key file of the ed25519 key whose signature verified, when ed25519 keys are
    /// configured.
    pub ed25519_key_file: Option<PathBuf>,
}

fn byte_arrays<'a>(dict: &'a VariantDict, key: &str) -> Result<Option<Vec<&'a [u8]>>> {
    let Some(entry) = dict.get(key) else { return Ok(None) };
    if entry.type_string() != "aay" {
        bail!("{key} has type {}, not aay", entry.type_string());
    }
    let items = rejig_format::gvariant::decode::variable_array(entry.value(), 1, "aay")
        .with_context(|| format!("{key} does not decode"))?;
    Ok(Some(items))
}

/// Checks a commit's detached signatures, as `ostree pull` does for a remote with these keys:
/// - OpenPGP (`ostree.gpgsigs`), when the commit carries any: at least one must verify with
///   a key of `gpg`, and one that a trusted key made must verify;
/// - ed25519 (`ostree.sign.ed25519`), when `ed25519` has keys: the commit must carry one
///   that verifies (strictly) with one of them.
///
/// The commit's bytes must hash to its checksum first.
pub fn verify_commit(
    commit: ObjectId,
    commit_bytes: &[u8],
    commitmeta: Option<&[u8]>,
    gpg: &OpenPgpKeys,
    ed25519: &Ed25519Keys,
) -> Result<CommitVerification> {
    verify_commit_inner(commit, commit_bytes, commitmeta, gpg, ed25519)
        .with_context(|| format!("checking the detached signatures of commit {commit}"))
}

fn verify_commit_inner(
    commit: ObjectId,
    commit_bytes: &[u8],
    commitmeta: Option<&[u8]>,
    gpg: &OpenPgpKeys,
    ed25519: &Ed25519Keys,
) -> Result<CommitVerification> {
    let actual = hex::encode(Sha256::digest(commit_bytes));
    if actual != commit.to_hex() {
        bail!("the commit's bytes hash to {actual}");
    }
    let dict = match commitmeta {
        Some(bytes) => VariantDict::decode(bytes).context("its detached metadata does not decode")?,
        None => VariantDict::new(),
    };
    let mut out = CommitVerification::default();
    if let Some(signatures) = byte_arrays(&dict, OSTREE_GPGSIGS)? {
        if gpg.is_empty() {
            bail!("it carries {OSTREE_GPGSIGS} and no OpenPGP key is trusted to check them");
        }
        let mut untrusted = Vec::new();
        for (index, packet) in signatures.iter().enumerate() {
            let what = format!("{OSTREE_GPGSIGS}[{index}]");
            let signature = parse_signature(packet).with_context(|| what.clone())?;
            let data = || -> Result<Box<dyn Read>> { Ok(Box::new(std::io::Cursor::new(commit_bytes.to_vec()))) };
            match gpg.check(&signature, data).with_context(|| what.clone())? {
                Ok(signer) => {
                    out.gpg.get_or_insert(signer);
                }
                Err(issuer) => untrusted.push(format!("{what} by key {issuer}")),
            }
        }
        if out.gpg.is_none() {
            bail!(
                "no {OSTREE_GPGSIGS} signature is by a trusted key: {} (trusted keys: {})",
                if untrusted.is_empty() { "there are none".to_owned() } else { untrusted.join(", ") },
                gpg.describe()
            );
        }
    }
    if !ed25519.is_empty() {
        let signatures = byte_arrays(&dict, OSTREE_ED25519)?.unwrap_or_default();
        if signatures.is_empty() {
            bail!("it carries no {OSTREE_ED25519} signature and ed25519 keys are configured");
        }
        'found: for packet in &signatures {
            let Ok(raw) = <[u8; 64]>::try_from(*packet) else { continue };
            let signature = EdSignature::from_bytes(&raw);
            for (file, key) in &ed25519.keys {
                if key.verify_strict(commit_bytes, &signature).is_ok() {
                    out.ed25519_key_file = Some(file.clone());
                    break 'found;
                }
            }
        }
        if out.ed25519_key_file.is_none() {
            let files: Vec<String> = ed25519.keys.iter().map(|(f, _)| f.display().to_string()).collect();
            bail!(
                "none of its {} {OSTREE_ED25519} signatures verifies with a trusted key (key files: {})",
                signatures.len(),
                files.join(", ")
            );
        }
    }
    Ok(out)
}
