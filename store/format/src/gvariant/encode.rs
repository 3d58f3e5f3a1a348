//! Writers for GVariant containers. Callers supply members in order with their alignment.

/// Pads `buf` with zeros to a multiple of `align`.
fn pad(buf: &mut Vec<u8>, align: usize) {
    while !buf.len().is_multiple_of(align) {
        buf.push(0);
    }
}

/// Appends little-endian framing offsets of the minimal width for the finished container.
fn push_offsets(buf: &mut Vec<u8>, offsets: impl ExactSizeIterator<Item = usize> + Clone) {
    let body = buf.len();
    let count = offsets.len();
    let width = [1usize, 2, 4, 8].into_iter().find(|&w| w == 8 || body + count * w < (1usize << (8 * w))).unwrap_or(8);
    for offset in offsets {
        buf.extend_from_slice(&offset.to_le_bytes()[..width]);
    }
}

/// A GVariant string: the UTF-8 bytes and a terminating NUL.
pub fn string(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() + 1);
    out.extend_from_slice(s.as_bytes());
    out.push(0);
    out
}

/// Builds a tuple (or dict entry) member by member.
#[derive(Default)]
pub struct TupleWriter {
    buf: Vec<u8>,
    ends: Vec<usize>,
}

impl TupleWriter {
    /// An empty tuple.
    pub fn new() -> Self {
        Self::default()
    }

    /// A fixed-size member such as `u` or `t`.
    pub fn fixed(&mut self, align: usize, bytes: &[u8]) -> &mut Self {
        pad(&mut self.buf, align);
        self.buf.extend_from_slice(bytes);
        self
    }

    /// A variable-size member that is not the last one: its end is framed.
    pub fn variable(&mut self, align: usize, bytes: &[u8]) -> &mut Self {
        pad(&mut self.buf, align);
        self.buf.extend_from_slice(bytes);
        self.ends.push(self.buf.len());
        self
    }

    /// The last member, when it is variable-size: its end is implied by the container size.
    pub fn last(&mut self, align: usize, bytes: &[u8]) -> &mut Self {
        pad(&mut self.buf, align);
        self.buf.extend_from_slice(bytes);
        self
    }

    /// The serialised tuple; offsets go in reverse member order.
    pub fn finish(&mut self) -> Vec<u8> {
        let mut buf = std::mem::take(&mut self.buf);
        let ends = std::mem::take(&mut self.ends);
        push_offsets(&mut buf, ends.into_iter().rev());
        buf
    }
}

/// An array of variable-size elements, each already serialised, aligned to `align`.
pub fn variable_array<I>(elements: I, align: usize) -> Vec<u8>
where
    I: IntoIterator,
    I::Item: AsRef<[u8]>,
{
    let mut buf = Vec::new();
    let mut ends = Vec::new();
    for element in elements {
        pad(&mut buf, align);
        buf.extend_from_slice(element.as_ref());
        ends.push(buf.len());
    }
    if ends.is_empty() {
        return buf;
    }
    push_offsets(&mut buf, ends.into_iter());
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_grow_past_255_bytes() {
        // 254 body bytes plus one offset fits in 255: width 1.
        let element = vec![1u8; 254];
        let small = variable_array([&element], 1);
        assert_eq!(small.len(), 255);
        // 255 body bytes plus one offset needs width 2.
        let element = vec![1u8; 255];
        let big = variable_array([&element], 1);
        assert_eq!(big.len(), 257);
        assert_eq!(&big[255..], &255u16.to_le_bytes());
    }

    #[test]
    fn empty_array_is_empty() {
        assert!(variable_array(Vec::<Vec<u8>>::new(), 8).is_empty());
    }
}
