//! A uudecoder: libarchive keeps its test packages uuencoded.

/// Decodes the first `begin … end` block of uuencoded text.
pub fn decode(text: &[u8]) -> Result<Vec<u8>, String> {
    let mut lines = text.split(|&b| b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    lines.by_ref().find(|l| l.starts_with(b"begin ")).ok_or("no `begin` line")?;
    let sextet = |c: u8| c.wrapping_sub(b' ') & 0x3f;
    let mut out = Vec::new();
    for line in lines {
        if line == b"end" {
            return Ok(out);
        }
        let Some((&count, body)) = line.split_first() else { continue };
        let len = usize::from(sextet(count));
        if len == 0 {
            continue;
        }
        let mut bytes = Vec::with_capacity(len + 2);
        for group in body.chunks(4) {
            let mut quad = [0u8; 4];
            for (slot, &c) in quad.iter_mut().zip(group) {
                *slot = sextet(c);
            }
            bytes.push(quad[0] << 2 | quad[1] >> 4);
            bytes.push(quad[1] << 4 | quad[2] >> 2);
            bytes.push(quad[2] << 6 | quad[3]);
        }
        if bytes.len() < len {
            return Err(format!("a line declares {len} bytes but holds {}", bytes.len()));
        }
        out.extend_from_slice(&bytes[..len]);
    }
    Err("no `end` line".to_owned())
}

#[cfg(test)]
mod tests {
    #[test]
    fn decodes_what_uuencode_writes() {
        // `printf 'Cat' | uuencode x` and `printf 'hello world\n' | uuencode x`.
        assert_eq!(super::decode(b"begin 644 x\n#0V%T\n`\nend\n").unwrap(), b"Cat");
        assert_eq!(super::decode(b"begin 644 x\n,:&5L;&\\@=V]R;&0*\n`\nend\n").unwrap(), b"hello world\n");
        assert!(super::decode(b"begin 644 x\n#0V%T\n").is_err());
    }
}
