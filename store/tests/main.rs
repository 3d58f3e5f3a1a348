//! The store's integration tests: packs and the index end to end, and the golden vectors and
//! worked example that the documents in `docs/` state.
#![allow(clippy::unwrap_used)]

mod golden_vectors;
mod pack_and_index;
